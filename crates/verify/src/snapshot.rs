//! Snapshot format v1: the published file of reserve addresses and their ownership signatures.
//!
//! The file is JSON with the header fields first, then `digest`, then `entries` (see
//! `docs/snapshot-format.md`). The digest is the SHA-256 of the canonical serialization: the
//! compact JSON of the header fields and `entries`, in the documented field order, without the
//! `digest` field. The same content therefore always gives the same bytes and the same digest.
//! Reading streams the entries, so a file of millions of entries is checked in flat memory.

use crate::chains::{Network, SchemeName, ScriptType};
use crate::error::InputError;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;
use std::io::{Read, Write};
use std::path::Path;

/// The `format` tag of a snapshot file.
pub const FORMAT_TAG: &str = "por-attest-snapshot";
/// The format version this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// A chain's anchor: the block at which the snapshot was taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Anchor {
    /// Block height.
    pub height: u64,
    /// Block hash (hex, as the chain's explorers show it).
    pub block_hash: String,
}

/// One signature over an entry's message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignatureRecord {
    /// How it was made and how to check it (an unknown name fails the entry).
    pub scheme: SchemeName,
    /// The signature: base64 for Bitcoin schemes, 0x-hex for EVM and TRON.
    pub signature: String,
    /// For multisig: the signer id (from the manifest) that produced it; informative only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
}

/// One reserve address and its proof of control.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Chain ticker: `BTC`, `ETH`, `ARB`, `TRX`, ...
    pub chain: String,
    /// Network of the address.
    pub network: Network,
    /// The address as the chain writes it.
    pub address: String,
    /// Bitcoin script type; absent for account chains.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script_type: Option<ScriptType>,
    /// Wallet label such as `cold` or `hot`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wallet: Option<String>,
    /// Balance at the anchor, as a decimal string in the chain's main unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance: Option<String>,
    /// The rendered ownership message that was signed.
    pub message: String,
    /// The signatures (one for single-key, at least the threshold for multisig).
    pub signatures: Vec<SignatureRecord>,
    /// Multisig: the number of signatures the script requires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<u32>,
    /// Multisig: the redeem script (P2SH) or witness script (P2WSH, P2SH-P2WSH), hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<String>,
}

/// Everything in a snapshot but its entries and digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Header {
    /// Always [`FORMAT_TAG`].
    pub format: String,
    /// Always [`FORMAT_VERSION`].
    pub version: u32,
    /// The exchange or custodian.
    pub entity: String,
    /// The snapshot's id, e.g. `2026-11`.
    pub snapshot_id: String,
    /// Creation time, RFC 3339 UTC.
    pub created_at: String,
    /// Per chain ticker, the block the snapshot is anchored at.
    pub anchors: BTreeMap<String, Anchor>,
    /// The message template every entry's message is rendered from.
    pub message_template: String,
}

/// A whole snapshot in memory (for writing, packaging and export).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The header (everything but the entries).
    pub header: Header,
    /// The entries, in file order.
    pub entries: Vec<Entry>,
}

/// A hex SHA-256 digest written as `sha256:<hex>`.
pub fn format_digest(d: &[u8; 32]) -> String {
    format!("sha256:{}", hex::encode(d))
}

/// Feeds the canonical serialization to a hasher piece by piece.
pub struct CanonicalHasher {
    hasher: Sha256,
    entries: u64,
    buf: Vec<u8>,
}

impl CanonicalHasher {
    /// Starts with the header fields.
    pub fn new(header: &Header) -> CanonicalHasher {
        let mut head = serde_json::to_vec(header).expect("header serializes");
        head.pop(); // the closing brace: entries follow
        head.extend_from_slice(b",\"entries\":[");
        let mut hasher = Sha256::new();
        hasher.update(&head);
        CanonicalHasher {
            hasher,
            entries: 0,
            buf: Vec::with_capacity(1024),
        }
    }

    /// Adds the next entry.
    pub fn add(&mut self, entry: &Entry) {
        self.buf.clear();
        if self.entries > 0 {
            self.buf.push(b',');
        }
        serde_json::to_writer(&mut self.buf, entry).expect("entry serializes");
        self.hasher.update(&self.buf);
        self.entries += 1;
    }

    /// Adds the next entry given as its compact JSON (exactly what `serde_json::to_vec` of the
    /// [`Entry`] gives); lets the serialization happen elsewhere, e.g. on worker threads.
    pub fn add_serialized(&mut self, compact_json: &[u8]) {
        if self.entries > 0 {
            self.hasher.update(b",");
        }
        self.hasher.update(compact_json);
        self.entries += 1;
    }

    /// Adds `count` entries given as their compact JSON joined by commas (`e1,e2,…`), the way
    /// worker threads hand over a batch.
    pub fn add_serialized_joined(&mut self, joined: &[u8], count: u64) {
        if count == 0 {
            return;
        }
        if self.entries > 0 {
            self.hasher.update(b",");
        }
        self.hasher.update(joined);
        self.entries += count;
    }

    /// The digest of everything added.
    pub fn finish(mut self) -> [u8; 32] {
        self.hasher.update(b"]}");
        self.hasher.finalize().into()
    }
}

impl Snapshot {
    /// The SHA-256 of the canonical serialization.
    pub fn digest(&self) -> [u8; 32] {
        let mut h = CanonicalHasher::new(&self.header);
        for e in &self.entries {
            h.add(e);
        }
        h.finish()
    }

    /// The canonical serialization (what the digest covers).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec(&self.header).expect("header serializes");
        out.pop();
        out.extend_from_slice(b",\"entries\":");
        serde_json::to_writer(&mut out, &self.entries).expect("entries serialize");
        out.push(b'}');
        out
    }

    /// The file's bytes: header, digest, then one entry per line; deterministic.
    pub fn to_file_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + self.entries.len() * 512);
        self.write_file(&mut out)
            .expect("writing to a Vec cannot fail");
        out
    }

    /// Writes the file form to `w`.
    pub fn write_file(&self, w: &mut impl Write) -> std::io::Result<()> {
        write_file_head(w, &self.header, &self.digest())?;
        let mut line = Vec::with_capacity(1024);
        for (i, e) in self.entries.iter().enumerate() {
            line.clear();
            serde_json::to_writer(&mut line, e).expect("entry serializes");
            write_file_entry(w, i as u64, &line)?;
        }
        write_file_tail(w, self.entries.len() as u64)
    }

    /// Reads a whole snapshot into memory, checking its digest.
    pub fn read(path: &Path) -> Result<Snapshot, InputError> {
        let file = std::fs::File::open(path)
            .map_err(|e| InputError::new(path, format!("cannot open: {e}")))?;
        let mut header = None;
        let mut entries = Vec::new();
        let end = read_stream(
            path,
            std::io::BufReader::new(file),
            |h| {
                header = Some(h.clone());
                Ok(())
            },
            |_, e| {
                entries.push(e);
                Ok(())
            },
        )?;
        if !end.digest_matches() {
            return Err(InputError::new(
                path,
                format!(
                    "digest mismatch: file says {}, content hashes to {}",
                    end.stated_digest,
                    format_digest(&end.computed_digest)
                ),
            ));
        }
        Ok(Snapshot {
            header: header.expect("read_stream calls on_header before returning Ok"),
            entries,
        })
    }
}

/// Writes the file form up to the opening bracket of `entries`: the header fields one per
/// line, then the digest. With [`write_file_entry`] and [`write_file_tail`] this writes a file
/// entry by entry, byte-identical to [`Snapshot::write_file`], without holding the entries in
/// memory (the digest must be known first, e.g. from a [`CanonicalHasher`] pass).
pub fn write_file_head(w: &mut impl Write, h: &Header, digest: &[u8; 32]) -> std::io::Result<()> {
    writeln!(w, "{{")?;
    writeln!(w, "  \"format\": {},", js(&h.format))?;
    writeln!(w, "  \"version\": {},", h.version)?;
    writeln!(w, "  \"entity\": {},", js(&h.entity))?;
    writeln!(w, "  \"snapshot_id\": {},", js(&h.snapshot_id))?;
    writeln!(w, "  \"created_at\": {},", js(&h.created_at))?;
    writeln!(w, "  \"anchors\": {},", js(&h.anchors))?;
    writeln!(w, "  \"message_template\": {},", js(&h.message_template))?;
    writeln!(w, "  \"digest\": {},", js(&format_digest(digest)))?;
    write!(w, "  \"entries\": [")
}

/// Writes entry number `index` (0-based) given as its compact JSON (`serde_json::to_vec`).
pub fn write_file_entry(
    w: &mut impl Write,
    index: u64,
    compact_json: &[u8],
) -> std::io::Result<()> {
    w.write_all(if index == 0 { b"\n    " } else { b",\n    " })?;
    w.write_all(compact_json)
}

/// Closes a file written with [`write_file_head`] after `entries` entries.
pub fn write_file_tail(w: &mut impl Write, entries: u64) -> std::io::Result<()> {
    if entries == 0 {
        writeln!(w, "]")?;
    } else {
        writeln!(w, "\n  ]")?;
    }
    writeln!(w, "}}")
}

/// Compact JSON of a value.
fn js<T: Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v).expect("value serializes")
}

/// What a streaming read found at the end of the file.
#[derive(Debug, Clone)]
pub struct StreamEnd {
    /// The `digest` field as written.
    pub stated_digest: String,
    /// The digest of the content actually read.
    pub computed_digest: [u8; 32],
    /// Number of entries read.
    pub entries: u64,
}

impl StreamEnd {
    /// True when the stated digest is the content's digest.
    pub fn digest_matches(&self) -> bool {
        self.stated_digest == format_digest(&self.computed_digest)
    }
}

/// Reads a snapshot as a stream: `on_header` once the header fields are known (before the
/// first entry), then `on_entry(index, entry)` for each entry in order. Either callback may
/// stop the read by returning an error message. Structural errors name the line, column, entry
/// and field.
pub fn read_stream<R: Read>(
    path: &Path,
    reader: R,
    mut on_header: impl FnMut(&Header) -> Result<(), String>,
    mut on_entry: impl FnMut(u64, Entry) -> Result<(), String>,
) -> Result<StreamEnd, InputError> {
    let mut de = serde_json::Deserializer::from_reader(reader);
    let seed = FileSeed {
        on_header: &mut on_header,
        on_entry: &mut on_entry,
    };
    let end = seed
        .deserialize(&mut de)
        .map_err(|e| InputError::new(path, describe_json_error(&e)))?;
    de.end()
        .map_err(|e| InputError::new(path, describe_json_error(&e)))?;
    Ok(end)
}

fn describe_json_error(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let text = e.to_string();
    let what = match e.classify() {
        _ if text.contains("EOF while parsing") => {
            "truncated or empty: JSON ends early".to_string()
        }
        Category::Eof => "truncated or empty: JSON ends early".to_string(),
        Category::Syntax => "not valid JSON".to_string(),
        Category::Io => "read error".to_string(),
        Category::Data => "invalid snapshot content".to_string(),
    };
    // serde_json's message already carries "at line L column C".
    format!("{what}: {text}")
}

struct FileSeed<'a, H, E> {
    on_header: &'a mut H,
    on_entry: &'a mut E,
}

impl<'de, H, E> DeserializeSeed<'de> for FileSeed<'_, H, E>
where
    H: FnMut(&Header) -> Result<(), String>,
    E: FnMut(u64, Entry) -> Result<(), String>,
{
    type Value = StreamEnd;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<StreamEnd, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, H, E> Visitor<'de> for FileSeed<'_, H, E>
where
    H: FnMut(&Header) -> Result<(), String>,
    E: FnMut(u64, Entry) -> Result<(), String>,
{
    type Value = StreamEnd;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a por-attest snapshot object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StreamEnd, A::Error> {
        let mut format: Option<String> = None;
        let mut version: Option<u32> = None;
        let mut entity: Option<String> = None;
        let mut snapshot_id: Option<String> = None;
        let mut created_at: Option<String> = None;
        let mut anchors: Option<BTreeMap<String, Anchor>> = None;
        let mut template: Option<String> = None;
        let mut digest: Option<String> = None;
        let mut result: Option<([u8; 32], u64)> = None;
        fn dup<E: de::Error>(k: &str) -> E {
            E::custom(format_args!("field `{k}` appears twice"))
        }
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "format" => {
                    let v: String = map.next_value()?;
                    if v != FORMAT_TAG {
                        return Err(de::Error::custom(format_args!(
                            "field `format` is {v:?}, expected {FORMAT_TAG:?}"
                        )));
                    }
                    if format.replace(v).is_some() {
                        return Err(dup("format"));
                    }
                }
                "version" => {
                    let v: u32 = map.next_value()?;
                    if v != FORMAT_VERSION {
                        return Err(de::Error::custom(format_args!(
                            "field `version` is {v}; this build reads version {FORMAT_VERSION}"
                        )));
                    }
                    if version.replace(v).is_some() {
                        return Err(dup("version"));
                    }
                }
                "entity" => {
                    if entity.replace(map.next_value()?).is_some() {
                        return Err(dup("entity"));
                    }
                }
                "snapshot_id" => {
                    if snapshot_id.replace(map.next_value()?).is_some() {
                        return Err(dup("snapshot_id"));
                    }
                }
                "created_at" => {
                    if created_at.replace(map.next_value()?).is_some() {
                        return Err(dup("created_at"));
                    }
                }
                "anchors" => {
                    if anchors.replace(map.next_value()?).is_some() {
                        return Err(dup("anchors"));
                    }
                }
                "message_template" => {
                    if template.replace(map.next_value()?).is_some() {
                        return Err(dup("message_template"));
                    }
                }
                "digest" => {
                    if digest.replace(map.next_value()?).is_some() {
                        return Err(dup("digest"));
                    }
                }
                "entries" => {
                    if result.is_some() {
                        return Err(dup("entries"));
                    }
                    let missing = [
                        ("format", format.is_none()),
                        ("version", version.is_none()),
                        ("entity", entity.is_none()),
                        ("snapshot_id", snapshot_id.is_none()),
                        ("created_at", created_at.is_none()),
                        ("anchors", anchors.is_none()),
                        ("message_template", template.is_none()),
                    ];
                    if let Some((name, _)) = missing.iter().find(|(_, m)| *m) {
                        return Err(de::Error::custom(format_args!(
                            "field `{name}` is missing (header fields must come before `entries`)"
                        )));
                    }
                    let header = Header {
                        format: format.clone().unwrap_or_default(),
                        version: version.unwrap_or_default(),
                        entity: entity.clone().unwrap_or_default(),
                        snapshot_id: snapshot_id.clone().unwrap_or_default(),
                        created_at: created_at.clone().unwrap_or_default(),
                        anchors: anchors.clone().unwrap_or_default(),
                        message_template: template.clone().unwrap_or_default(),
                    };
                    (self.on_header)(&header).map_err(de::Error::custom)?;
                    let hasher = CanonicalHasher::new(&header);
                    let seq = EntriesSeed {
                        on_entry: &mut *self.on_entry,
                        hasher,
                    };
                    result = Some(map.next_value_seed(seq)?);
                }
                other => {
                    return Err(de::Error::custom(format_args!(
                        "unknown field `{other}` in the snapshot header"
                    )))
                }
            }
        }
        let Some((computed_digest, entries)) = result else {
            return Err(de::Error::custom("field `entries` is missing"));
        };
        let stated_digest = digest.ok_or_else(|| de::Error::custom("field `digest` is missing"))?;
        Ok(StreamEnd {
            stated_digest,
            computed_digest,
            entries,
        })
    }
}

struct EntriesSeed<'a, E> {
    on_entry: &'a mut E,
    hasher: CanonicalHasher,
}

impl<'de, E> DeserializeSeed<'de> for EntriesSeed<'_, E>
where
    E: FnMut(u64, Entry) -> Result<(), String>,
{
    type Value = ([u8; 32], u64);
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, E> Visitor<'de> for EntriesSeed<'_, E>
where
    E: FnMut(u64, Entry) -> Result<(), String>,
{
    type Value = ([u8; 32], u64);

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of entries")
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut index = 0u64;
        loop {
            let next = seq
                .next_element::<Entry>()
                .map_err(|e| de::Error::custom(format_args!("entry {index}: {e}")))?;
            let Some(entry) = next else { break };
            self.hasher.add(&entry);
            (self.on_entry)(index, entry).map_err(de::Error::custom)?;
            index += 1;
        }
        Ok((self.hasher.finish(), index))
    }
}

/// Why [`EntrySplitter`] gave up. It is not an error message for users: the splitter only
/// takes well-formed files and leaves everything else to [`read_stream`], whose errors name the
/// line, entry and field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitBail(pub String);

fn bail<T>(why: impl Into<String>) -> Result<T, SplitBail> {
    Err(SplitBail(why.into()))
}

/// The raw JSON text of consecutive entries, back to back.
#[derive(Debug, Clone, Default)]
pub struct RawBatch {
    /// Index (0-based) of the first entry in the file.
    pub first_index: u64,
    /// The entries' bytes, one after the other.
    pub data: Vec<u8>,
    /// The end offset in `data` of each entry.
    pub ends: Vec<usize>,
}

impl RawBatch {
    /// The number of entries.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The JSON text of entry `i` of the batch.
    pub fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.data[start..self.ends[i]]
    }
}

/// The header fields as they may appear before `entries` (and `digest`, also after).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHead {
    format: String,
    version: u32,
    entity: String,
    snapshot_id: String,
    created_at: String,
    anchors: BTreeMap<String, Anchor>,
    message_template: String,
    #[serde(default)]
    digest: Option<String>,
}

const SPLIT_READ: usize = 4 << 20;

enum Scan {
    Complete(usize),
    Incomplete,
    Invalid,
}

/// The length of the JSON string starting at `s[0] == b'"'`.
fn scan_string(s: &[u8]) -> Scan {
    let mut i = 1;
    while i < s.len() {
        match s[i] {
            b'"' => return Scan::Complete(i + 1),
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
    Scan::Incomplete
}

/// The length of the JSON value at the start of `s` (its extent only: the content is checked
/// by the parser it is handed to). `eof`: no bytes follow `s`.
fn scan_value(s: &[u8], eof: bool) -> Scan {
    let Some(&first) = s.first() else {
        return Scan::Incomplete;
    };
    match first {
        b'"' => scan_string(s),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = 0;
            while i < s.len() {
                match s[i] {
                    b'"' => match scan_string(&s[i..]) {
                        Scan::Complete(n) => {
                            i += n;
                            continue;
                        }
                        other => return other,
                    },
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Scan::Complete(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            Scan::Incomplete
        }
        b'-' | b'0'..=b'9' | b't' | b'f' | b'n' => {
            match s
                .iter()
                .position(|c| matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
            {
                Some(n) => Scan::Complete(n),
                None if eof => Scan::Complete(s.len()),
                None => Scan::Incomplete,
            }
        }
        _ => Scan::Invalid,
    }
}

/// Splits a snapshot file into its header and batches of raw entry texts, reading large
/// blocks and scanning only the structure, so that entries can be parsed (and re-serialized
/// for the digest) on worker threads. Takes well-formed snapshots in any JSON layout; gives
/// up ([`SplitBail`]) on anything else, for [`read_stream`] to report exactly.
pub struct EntrySplitter<R> {
    reader: R,
    /// Unconsumed input from `pos` on.
    buf: Vec<u8>,
    /// Where reads land (allocated once).
    chunk: Vec<u8>,
    pos: usize,
    eof: bool,
    header: Header,
    stated_digest: Option<String>,
    next_index: u64,
    entries_done: bool,
}

impl<R: Read> EntrySplitter<R> {
    /// Reads the header, up to the first entry.
    pub fn new(reader: R) -> Result<EntrySplitter<R>, SplitBail> {
        let mut s = EntrySplitter {
            reader,
            buf: Vec::with_capacity(SPLIT_READ),
            chunk: Vec::new(),
            pos: 0,
            eof: false,
            header: Header {
                format: String::new(),
                version: 0,
                entity: String::new(),
                snapshot_id: String::new(),
                created_at: String::new(),
                anchors: BTreeMap::new(),
                message_template: String::new(),
            },
            stated_digest: None,
            next_index: 0,
            entries_done: false,
        };
        if s.peek()? != Some(b'{') {
            return bail("not an object");
        }
        s.pos += 1;
        let mut head = b"{".to_vec();
        loop {
            let key = s.key()?;
            if key == b"\"entries\"" {
                break;
            }
            let value = s.value()?;
            if head.len() > 1 {
                head.push(b',');
            }
            head.extend_from_slice(&key);
            head.push(b':');
            head.extend_from_slice(&value);
            match s.peek()? {
                Some(b',') => s.pos += 1,
                _ => return bail("no `entries` array"),
            }
        }
        head.push(b'}');
        if s.peek()? != Some(b'[') {
            return bail("`entries` is not an array");
        }
        s.pos += 1;
        let raw: RawHead = serde_json::from_slice(&head).or_else(|e| bail(e.to_string()))?;
        if raw.format != FORMAT_TAG || raw.version != FORMAT_VERSION {
            return bail("format or version");
        }
        s.header = Header {
            format: raw.format,
            version: raw.version,
            entity: raw.entity,
            snapshot_id: raw.snapshot_id,
            created_at: raw.created_at,
            anchors: raw.anchors,
            message_template: raw.message_template,
        };
        s.stated_digest = raw.digest;
        if s.peek()? == Some(b']') {
            s.pos += 1;
            s.entries_done = true;
        }
        Ok(s)
    }

    /// The header fields.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The next batch of at most `max_entries` entries (or about `max_bytes` of them), or
    /// `None` after the last.
    pub fn next_batch(
        &mut self,
        max_entries: usize,
        max_bytes: usize,
    ) -> Result<Option<RawBatch>, SplitBail> {
        if self.entries_done {
            return Ok(None);
        }
        let mut batch = RawBatch {
            first_index: self.next_index,
            data: Vec::with_capacity(max_bytes.min(1 << 20) + 4096),
            ends: Vec::with_capacity(max_entries),
        };
        while batch.len() < max_entries && batch.data.len() < max_bytes {
            if self.peek()? != Some(b'{') {
                return bail("an entry is not an object");
            }
            let value = self.value_range()?;
            batch.data.extend_from_slice(&self.buf[value.clone()]);
            batch.ends.push(batch.data.len());
            self.next_index += 1;
            match self.peek()? {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    self.entries_done = true;
                    break;
                }
                _ => return bail("expected `,` or `]` after an entry"),
            }
        }
        Ok(Some(batch))
    }

    /// After the last batch: reads the rest of the file and returns the stated digest.
    pub fn finish(mut self) -> Result<String, SplitBail> {
        if !self.entries_done {
            return bail("entries not all read");
        }
        loop {
            match self.peek()? {
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                Some(b',') => {
                    self.pos += 1;
                    if self.key()? != b"\"digest\"" || self.stated_digest.is_some() {
                        return bail("a field after `entries` other than `digest`");
                    }
                    let v = self.value()?;
                    self.stated_digest =
                        Some(serde_json::from_slice(&v).or_else(|e| bail(e.to_string()))?);
                }
                _ => return bail("expected `,` or `}` after `entries`"),
            }
        }
        if self.peek()?.is_some() {
            return bail("trailing characters");
        }
        self.stated_digest
            .ok_or_else(|| SplitBail("no `digest`".into()))
    }

    /// Reads more input, keeping the bytes from `pos` on; false at the end of the input.
    fn fill(&mut self) -> Result<bool, SplitBail> {
        if self.eof {
            return Ok(false);
        }
        self.buf.drain(..self.pos);
        self.pos = 0;
        if self.chunk.is_empty() {
            self.chunk = vec![0; SPLIT_READ];
        }
        loop {
            match self.reader.read(&mut self.chunk) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.buf.extend_from_slice(&self.chunk[..n]);
                    return Ok(true);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return bail(format!("read error: {e}")),
            }
        }
    }

    /// The next byte after whitespace, not consumed.
    fn peek(&mut self) -> Result<Option<u8>, SplitBail> {
        loop {
            while let Some(&c) = self.buf.get(self.pos) {
                if matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                    self.pos += 1;
                } else {
                    return Ok(Some(c));
                }
            }
            if !self.fill()? {
                return Ok(None);
            }
        }
    }

    /// The extent in `buf` of the value at the next non-whitespace byte, consumed.
    fn value_range(&mut self) -> Result<std::ops::Range<usize>, SplitBail> {
        if self.peek()?.is_none() {
            return bail("end of input");
        }
        loop {
            match scan_value(&self.buf[self.pos..], self.eof) {
                Scan::Complete(n) => {
                    let r = self.pos..self.pos + n;
                    self.pos += n;
                    return Ok(r);
                }
                Scan::Invalid => return bail("not a JSON value"),
                Scan::Incomplete => {
                    if !self.fill()? {
                        return bail("end of input inside a value");
                    }
                }
            }
        }
    }

    fn value(&mut self) -> Result<Vec<u8>, SplitBail> {
        let r = self.value_range()?;
        Ok(self.buf[r].to_vec())
    }

    /// A key (raw, with its quotes; no escapes) and its colon.
    fn key(&mut self) -> Result<Vec<u8>, SplitBail> {
        if self.peek()? != Some(b'"') {
            return bail("expected a key");
        }
        let key = self.value()?;
        if key.contains(&b'\\') {
            return bail("escaped key");
        }
        if self.peek()? != Some(b':') {
            return bail("expected `:`");
        }
        self.pos += 1;
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Snapshot {
        let mut anchors = BTreeMap::new();
        anchors.insert(
            "BTC".to_string(),
            Anchor {
                height: 1,
                block_hash: "00ab".into(),
            },
        );
        Snapshot {
            header: Header {
                format: FORMAT_TAG.into(),
                version: FORMAT_VERSION,
                entity: "Acme".into(),
                snapshot_id: "s1".into(),
                created_at: "2026-11-28T00:00:00Z".into(),
                anchors,
                message_template: crate::message::DEFAULT_TEMPLATE.into(),
            },
            entries: vec![Entry {
                chain: "BTC".into(),
                network: Network::Mainnet,
                address: "1abc".into(),
                script_type: Some(ScriptType::P2pkh),
                wallet: Some("cold".into()),
                balance: None,
                message: "m".into(),
                signatures: vec![SignatureRecord {
                    scheme: crate::chains::Scheme::Bip137.into(),
                    signature: "sig".into(),
                    signer: None,
                }],
                threshold: None,
                script: None,
            }],
        }
    }

    #[test]
    fn digest_is_sha256_of_canonical_bytes_and_file_round_trips() {
        let s = sample();
        let d: [u8; 32] = Sha256::digest(s.canonical_bytes()).into();
        assert_eq!(s.digest(), d);
        let bytes = s.to_file_bytes();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.json");
        std::fs::write(&p, &bytes).unwrap();
        let back = Snapshot::read(&p).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.to_file_bytes(), bytes);
        // Any valid JSON re-layout of the same content has the same digest.
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
        assert_eq!(Snapshot::read(&p).unwrap(), s);
    }

    #[test]
    fn altered_content_fails_the_digest() {
        let s = sample();
        let text = String::from_utf8(s.to_file_bytes()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.json");
        std::fs::write(&p, text.replace("\"cold\"", "\"hot\"")).unwrap();
        let e = Snapshot::read(&p).unwrap_err();
        assert!(e.detail.contains("digest mismatch"), "{e}");
    }

    #[test]
    fn bad_input_names_line_entry_and_field() {
        let s = sample();
        let text = String::from_utf8(s.to_file_bytes()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.json");
        std::fs::write(&p, text.replace("\"p2pkh\"", "\"p2xx\"")).unwrap();
        let e = Snapshot::read(&p).unwrap_err().to_string();
        assert!(
            e.contains("entry 0") && e.contains("p2xx") && e.contains("line"),
            "{e}"
        );
        std::fs::write(&p, &text[..text.len() / 2]).unwrap();
        let e = Snapshot::read(&p).unwrap_err().to_string();
        assert!(e.contains("truncated"), "{e}");
        std::fs::write(&p, "").unwrap();
        assert!(Snapshot::read(&p)
            .unwrap_err()
            .to_string()
            .contains("empty"));
        std::fs::write(&p, "hello").unwrap();
        assert!(Snapshot::read(&p)
            .unwrap_err()
            .to_string()
            .contains("not valid JSON"));
        std::fs::write(&p, text.replace("\"message\"", "\"mesage\"")).unwrap();
        let e = Snapshot::read(&p).unwrap_err().to_string();
        assert!(e.contains("mesage") && e.contains("entry 0"), "{e}");
    }
}
