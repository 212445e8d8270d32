//! Snapshot format: the published file of reserve addresses and their ownership signatures.
//!
//! The file is JSON with the header fields first, then `digest`, then `entries` and (version
//! 2) `accounts` (see `docs/snapshot-format.md`). The digest is the SHA-256 of the canonical
//! serialization: the compact JSON of the header fields, `entries` and `accounts`, in the
//! documented field order, without the `digest` field. The same content therefore always gives
//! the same bytes and the same digest. Reading streams the entries and the accounts' addresses,
//! so a file of millions of addresses is checked in flat memory.
//!
//! Version 1 has per-address entries only; version 2 adds account entries
//! ([`crate::account::Account`]) and their message template. A snapshot without accounts is
//! written as version 1, so that every reader of version 1 still reads it.

use crate::account::Account;
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
/// The format version of a snapshot without account entries.
pub const FORMAT_VERSION: u32 = 1;
/// The format version of a snapshot with account entries (and `account_template`).
pub const ACCOUNTS_FORMAT_VERSION: u32 = 2;

/// The version a snapshot is written with: 2 with accounts, else 1.
pub fn version_for(has_accounts: bool) -> u32 {
    if has_accounts {
        ACCOUNTS_FORMAT_VERSION
    } else {
        FORMAT_VERSION
    }
}

/// True for a version this build reads.
pub fn version_is_known(v: u32) -> bool {
    (FORMAT_VERSION..=ACCOUNTS_FORMAT_VERSION).contains(&v)
}

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
    /// Version 2: the template every account's message is rendered from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_template: Option<String>,
}

/// A whole snapshot in memory (for writing, packaging and export).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub header: Header,
    pub entries: Vec<Entry>,
    /// Account entries (version 2).
    pub accounts: Vec<Account>,
}

/// A hex SHA-256 digest written as `sha256:<hex>`.
pub fn format_digest(d: &[u8; 32]) -> String {
    format!("sha256:{}", hex::encode(d))
}

/// Feeds the canonical serialization to a hasher piece by piece: the entries, then (version
/// 2) each account's head, its addresses and its end.
pub struct CanonicalHasher {
    hasher: Sha256,
    entries: u64,
    buf: Vec<u8>,
    /// Version 2: the canonical form has `accounts`.
    has_accounts: bool,
    /// Accounts begun.
    accounts: u64,
    /// Addresses added to the current account.
    account_addresses: u64,
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
            has_accounts: header.version >= ACCOUNTS_FORMAT_VERSION,
            accounts: 0,
            account_addresses: 0,
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

    /// Begins the next account, given as [`Account::canonical_head`] (after the last entry).
    pub fn add_account_head(&mut self, canonical_head: &[u8]) {
        debug_assert!(self.has_accounts, "accounts in a version 1 snapshot");
        self.hasher.update(if self.accounts == 0 {
            &b"],\"accounts\":["[..]
        } else {
            b","
        });
        self.hasher.update(canonical_head);
        self.accounts += 1;
        self.account_addresses = 0;
    }

    /// Adds `count` addresses of the current account given as their compact JSON joined by
    /// commas.
    pub fn add_account_addresses_joined(&mut self, joined: &[u8], count: u64) {
        if count == 0 {
            return;
        }
        if self.account_addresses > 0 {
            self.hasher.update(b",");
        }
        self.hasher.update(joined);
        self.account_addresses += count;
    }

    /// Ends the current account.
    pub fn end_account(&mut self) {
        self.hasher.update(b"]}");
    }

    /// Adds a whole account.
    pub fn add_account(&mut self, account: &Account) {
        self.add_account_head(&account.canonical_head());
        for a in &account.addresses {
            self.buf.clear();
            serde_json::to_writer(&mut self.buf, a).expect("address serializes");
            let buf = std::mem::take(&mut self.buf);
            self.add_account_addresses_joined(&buf, 1);
            self.buf = buf;
        }
        self.end_account();
    }

    /// The digest of everything added.
    pub fn finish(mut self) -> [u8; 32] {
        if self.has_accounts && self.accounts == 0 {
            self.hasher.update(b"],\"accounts\":[");
        }
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
        for a in &self.accounts {
            h.add_account(a);
        }
        h.finish()
    }

    /// The canonical serialization (what the digest covers).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec(&self.header).expect("header serializes");
        out.pop();
        out.extend_from_slice(b",\"entries\":");
        serde_json::to_writer(&mut out, &self.entries).expect("entries serialize");
        if self.header.version >= ACCOUNTS_FORMAT_VERSION {
            out.extend_from_slice(b",\"accounts\":");
            serde_json::to_writer(&mut out, &self.accounts).expect("accounts serialize");
        }
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
        if self.header.version < ACCOUNTS_FORMAT_VERSION {
            return write_file_tail(w, self.entries.len() as u64);
        }
        write_file_entries_end(w, self.entries.len() as u64)?;
        for (i, a) in self.accounts.iter().enumerate() {
            write_file_account(w, i as u64, a)?;
        }
        write_file_tail(w, self.accounts.len() as u64)
    }

    /// Reads a whole snapshot into memory, checking its digest.
    pub fn read(path: &Path) -> Result<Snapshot, InputError> {
        let file = std::fs::File::open(path)
            .map_err(|e| InputError::new(path, format!("cannot open: {e}")))?;
        let mut header = None;
        let mut entries = Vec::new();
        let mut accounts = Vec::new();
        let end = read_stream_accounts(
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
            |_, a| {
                accounts.push(a);
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
            accounts,
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
    if let Some(t) = &h.account_template {
        writeln!(w, "  \"account_template\": {},", js(t))?;
    }
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

/// Closes a file written with [`write_file_head`] after `entries` entries (version 1), or
/// after `entries` accounts (version 2, after [`write_file_entries_end`]).
pub fn write_file_tail(w: &mut impl Write, entries: u64) -> std::io::Result<()> {
    if entries == 0 {
        writeln!(w, "]")?;
    } else {
        writeln!(w, "\n  ]")?;
    }
    writeln!(w, "}}")
}

/// Closes `entries` after `entries` entries and opens `accounts` (version 2; then
/// [`write_file_account`] for each account and [`write_file_accounts_tail`]).
pub fn write_file_entries_end(w: &mut impl Write, entries: u64) -> std::io::Result<()> {
    if entries == 0 {
        write!(w, "],\n  \"accounts\": [")
    } else {
        write!(w, "\n  ],\n  \"accounts\": [")
    }
}

/// Writes account number `index` (0-based): its head on one line, then one address per line.
pub fn write_file_account(w: &mut impl Write, index: u64, a: &Account) -> std::io::Result<()> {
    w.write_all(if index == 0 { b"\n    " } else { b",\n    " })?;
    w.write_all(&a.canonical_head())?;
    let mut line = Vec::with_capacity(160);
    for (i, x) in a.addresses.iter().enumerate() {
        line.clear();
        serde_json::to_writer(&mut line, x).expect("address serializes");
        w.write_all(if i == 0 { b"\n      " } else { b",\n      " })?;
        w.write_all(&line)?;
    }
    if a.addresses.is_empty() {
        w.write_all(b"]}")
    } else {
        w.write_all(b"\n    ]}")
    }
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
    /// Number of accounts read.
    pub accounts: u64,
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
/// and field. A snapshot with account entries is refused: see [`read_stream_accounts`].
pub fn read_stream<R: Read>(
    path: &Path,
    reader: R,
    on_header: impl FnMut(&Header) -> Result<(), String>,
    on_entry: impl FnMut(u64, Entry) -> Result<(), String>,
) -> Result<StreamEnd, InputError> {
    read_stream_accounts(path, reader, on_header, on_entry, |_, _| {
        Err("this reader does not take account entries".to_string())
    })
}

/// [`read_stream`], and `on_account(index, account)` for each account entry (each whole, its
/// addresses in memory, one account at a time).
pub fn read_stream_accounts<R: Read>(
    path: &Path,
    reader: R,
    mut on_header: impl FnMut(&Header) -> Result<(), String>,
    mut on_entry: impl FnMut(u64, Entry) -> Result<(), String>,
    mut on_account: impl FnMut(u64, Account) -> Result<(), String>,
) -> Result<StreamEnd, InputError> {
    let mut de = serde_json::Deserializer::from_reader(reader);
    let seed = FileSeed {
        on_header: &mut on_header,
        on_entry: &mut on_entry,
        on_account: &mut on_account,
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

struct FileSeed<'a, H, E, A> {
    on_header: &'a mut H,
    on_entry: &'a mut E,
    on_account: &'a mut A,
}

impl<'de, H, E, A> DeserializeSeed<'de> for FileSeed<'_, H, E, A>
where
    H: FnMut(&Header) -> Result<(), String>,
    E: FnMut(u64, Entry) -> Result<(), String>,
    A: FnMut(u64, Account) -> Result<(), String>,
{
    type Value = StreamEnd;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<StreamEnd, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, H, E, A> Visitor<'de> for FileSeed<'_, H, E, A>
where
    H: FnMut(&Header) -> Result<(), String>,
    E: FnMut(u64, Entry) -> Result<(), String>,
    A: FnMut(u64, Account) -> Result<(), String>,
{
    type Value = StreamEnd;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a por-attest snapshot object")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<StreamEnd, M::Error> {
        let mut format: Option<String> = None;
        let mut version: Option<u32> = None;
        let mut entity: Option<String> = None;
        let mut snapshot_id: Option<String> = None;
        let mut created_at: Option<String> = None;
        let mut anchors: Option<BTreeMap<String, Anchor>> = None;
        let mut template: Option<String> = None;
        let mut account_template: Option<String> = None;
        let mut digest: Option<String> = None;
        // After `entries`: the hasher and the number of entries; after `accounts`, also theirs.
        let mut read: Option<(CanonicalHasher, u64)> = None;
        let mut accounts: Option<u64> = None;
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
                    if !version_is_known(v) {
                        return Err(de::Error::custom(format_args!(
                            "field `version` is {v}; this build reads versions {FORMAT_VERSION} and {ACCOUNTS_FORMAT_VERSION}"
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
                "account_template" => {
                    if account_template.replace(map.next_value()?).is_some() {
                        return Err(dup("account_template"));
                    }
                }
                "digest" => {
                    if digest.replace(map.next_value()?).is_some() {
                        return Err(dup("digest"));
                    }
                }
                "entries" => {
                    if read.is_some() {
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
                    let version = version.unwrap_or_default();
                    match (version >= ACCOUNTS_FORMAT_VERSION, account_template.is_some()) {
                        (true, false) => {
                            return Err(de::Error::custom(
                                "field `account_template` is missing (version 2 has it, before `entries`)",
                            ))
                        }
                        (false, true) => {
                            return Err(de::Error::custom(format_args!(
                                "field `account_template` needs format version {ACCOUNTS_FORMAT_VERSION}"
                            )))
                        }
                        _ => {}
                    }
                    let header = Header {
                        format: format.clone().unwrap_or_default(),
                        version,
                        entity: entity.clone().unwrap_or_default(),
                        snapshot_id: snapshot_id.clone().unwrap_or_default(),
                        created_at: created_at.clone().unwrap_or_default(),
                        anchors: anchors.clone().unwrap_or_default(),
                        message_template: template.clone().unwrap_or_default(),
                        account_template: account_template.clone(),
                    };
                    (self.on_header)(&header).map_err(de::Error::custom)?;
                    let seq = EntriesSeed {
                        on_entry: &mut *self.on_entry,
                        hasher: CanonicalHasher::new(&header),
                    };
                    read = Some(map.next_value_seed(seq)?);
                }
                "accounts" => {
                    if accounts.is_some() {
                        return Err(dup("accounts"));
                    }
                    let Some((hasher, entries)) = read.take() else {
                        return Err(de::Error::custom(
                            "field `accounts` must come after `entries`",
                        ));
                    };
                    if !hasher.has_accounts {
                        return Err(de::Error::custom(format_args!(
                            "field `accounts` needs format version {ACCOUNTS_FORMAT_VERSION}"
                        )));
                    }
                    let seq = AccountsSeed {
                        on_account: &mut *self.on_account,
                        hasher,
                    };
                    let (hasher, n) = map.next_value_seed(seq)?;
                    read = Some((hasher, entries));
                    accounts = Some(n);
                }
                other => {
                    return Err(de::Error::custom(format_args!(
                        "unknown field `{other}` in the snapshot header"
                    )))
                }
            }
        }
        let Some((hasher, entries)) = read else {
            return Err(de::Error::custom("field `entries` is missing"));
        };
        let stated_digest = digest.ok_or_else(|| de::Error::custom("field `digest` is missing"))?;
        Ok(StreamEnd {
            stated_digest,
            computed_digest: hasher.finish(),
            entries,
            accounts: accounts.unwrap_or(0),
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
    type Value = (CanonicalHasher, u64);
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, E> Visitor<'de> for EntriesSeed<'_, E>
where
    E: FnMut(u64, Entry) -> Result<(), String>,
{
    type Value = (CanonicalHasher, u64);

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of entries")
    }

    fn visit_seq<S: SeqAccess<'de>>(mut self, mut seq: S) -> Result<Self::Value, S::Error> {
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
        Ok((self.hasher, index))
    }
}

struct AccountsSeed<'a, A> {
    on_account: &'a mut A,
    hasher: CanonicalHasher,
}

impl<'de, A> DeserializeSeed<'de> for AccountsSeed<'_, A>
where
    A: FnMut(u64, Account) -> Result<(), String>,
{
    type Value = (CanonicalHasher, u64);
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, A> Visitor<'de> for AccountsSeed<'_, A>
where
    A: FnMut(u64, Account) -> Result<(), String>,
{
    type Value = (CanonicalHasher, u64);

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of accounts")
    }

    fn visit_seq<S: SeqAccess<'de>>(mut self, mut seq: S) -> Result<Self::Value, S::Error> {
        let mut index = 0u64;
        loop {
            let next = seq
                .next_element::<Account>()
                .map_err(|e| de::Error::custom(format_args!("account {index}: {e}")))?;
            let Some(account) = next else { break };
            self.hasher.add_account(&account);
            (self.on_account)(index, account).map_err(de::Error::custom)?;
            index += 1;
        }
        Ok((self.hasher, index))
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
    account_template: Option<String>,
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
    accounts: AccountsState,
}

/// Where the splitter is after the entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AccountsState {
    /// Between top-level fields after `entries` (no `accounts` yet, or after them).
    TopLevel { accounts_seen: bool },
    /// Inside `accounts`, before account `next`.
    List { next: u64 },
    /// Inside the addresses of account `account`, `done` of them given.
    Addresses { account: u64, done: u64 },
    /// After the closing brace of the file.
    Closed,
}

/// A piece of the `accounts` of a snapshot, as [`EntrySplitter::next_account_unit`] gives them.
#[derive(Debug, Clone)]
pub enum AccountUnit {
    /// The start of account `index`: the JSON object of its fields before `addresses`.
    Head {
        /// The account's position (0-based) in `accounts`.
        index: u64,
        /// `{…}`: the account's fields but `addresses`, as written.
        json: Vec<u8>,
    },
    /// Consecutive addresses of account `account`; `batch.first_index` is the position of the
    /// first in the account's list.
    Addresses {
        /// The account.
        account: u64,
        /// The addresses' raw JSON.
        batch: RawBatch,
    },
    /// The end of account `account`, which listed `addresses` addresses.
    End {
        /// The account.
        account: u64,
        /// How many addresses it listed.
        addresses: u64,
    },
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
                account_template: None,
            },
            stated_digest: None,
            next_index: 0,
            entries_done: false,
            accounts: AccountsState::TopLevel {
                accounts_seen: false,
            },
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
        let v2 = raw.version >= ACCOUNTS_FORMAT_VERSION;
        if raw.format != FORMAT_TAG
            || !version_is_known(raw.version)
            || v2 != raw.account_template.is_some()
        {
            return bail("format, version or account template");
        }
        s.header = Header {
            format: raw.format,
            version: raw.version,
            entity: raw.entity,
            snapshot_id: raw.snapshot_id,
            created_at: raw.created_at,
            anchors: raw.anchors,
            message_template: raw.message_template,
            account_template: raw.account_template,
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

    /// After the last batch of entries: the next piece of `accounts` (version 2), or `None`
    /// after the last (or when there are none).
    pub fn next_account_unit(
        &mut self,
        max_addresses: usize,
        max_bytes: usize,
    ) -> Result<Option<AccountUnit>, SplitBail> {
        if !self.entries_done {
            return bail("entries not all read");
        }
        loop {
            match self.accounts {
                AccountsState::Closed => return Ok(None),
                AccountsState::TopLevel { accounts_seen } => match self.peek()? {
                    Some(b'}') => {
                        self.pos += 1;
                        self.accounts = AccountsState::Closed;
                    }
                    Some(b',') => {
                        self.pos += 1;
                        let key = self.key()?;
                        if key == b"\"digest\"" && self.stated_digest.is_none() {
                            let v = self.value()?;
                            self.stated_digest =
                                Some(serde_json::from_slice(&v).or_else(|e| bail(e.to_string()))?);
                        } else if key == b"\"accounts\""
                            && !accounts_seen
                            && self.header.version >= ACCOUNTS_FORMAT_VERSION
                        {
                            if self.peek()? != Some(b'[') {
                                return bail("`accounts` is not an array");
                            }
                            self.pos += 1;
                            self.accounts = if self.peek()? == Some(b']') {
                                self.pos += 1;
                                AccountsState::TopLevel {
                                    accounts_seen: true,
                                }
                            } else {
                                AccountsState::List { next: 0 }
                            };
                        } else {
                            return bail("an unexpected field after `entries`");
                        }
                    }
                    _ => return bail("expected `,` or `}` after `entries`"),
                },
                AccountsState::List { next } => {
                    if self.peek()? != Some(b'{') {
                        return bail("an account is not an object");
                    }
                    self.pos += 1;
                    let mut json = b"{".to_vec();
                    loop {
                        let key = self.key()?;
                        if key == b"\"addresses\"" {
                            break;
                        }
                        let value = self.value()?;
                        if json.len() > 1 {
                            json.push(b',');
                        }
                        json.extend_from_slice(&key);
                        json.push(b':');
                        json.extend_from_slice(&value);
                        match self.peek()? {
                            Some(b',') => self.pos += 1,
                            _ => return bail("an account without `addresses` last"),
                        }
                    }
                    json.push(b'}');
                    if self.peek()? != Some(b'[') {
                        return bail("`addresses` is not an array");
                    }
                    self.pos += 1;
                    self.accounts = AccountsState::Addresses {
                        account: next,
                        done: 0,
                    };
                    return Ok(Some(AccountUnit::Head { index: next, json }));
                }
                AccountsState::Addresses { account, done } => {
                    if self.peek()? == Some(b']') {
                        self.pos += 1;
                        if self.peek()? != Some(b'}') {
                            return bail("a field after an account's `addresses`");
                        }
                        self.pos += 1;
                        self.accounts = match self.peek()? {
                            Some(b',') => {
                                self.pos += 1;
                                AccountsState::List { next: account + 1 }
                            }
                            Some(b']') => {
                                self.pos += 1;
                                AccountsState::TopLevel {
                                    accounts_seen: true,
                                }
                            }
                            _ => return bail("expected `,` or `]` after an account"),
                        };
                        return Ok(Some(AccountUnit::End {
                            account,
                            addresses: done,
                        }));
                    }
                    let mut batch = RawBatch {
                        first_index: done,
                        data: Vec::with_capacity(max_bytes.min(1 << 20) + 4096),
                        ends: Vec::with_capacity(max_addresses),
                    };
                    while batch.len() < max_addresses && batch.data.len() < max_bytes {
                        if self.peek()? != Some(b'{') {
                            return bail("an address is not an object");
                        }
                        let value = self.value_range()?;
                        batch.data.extend_from_slice(&self.buf[value.clone()]);
                        batch.ends.push(batch.data.len());
                        match self.peek()? {
                            Some(b',') => self.pos += 1,
                            Some(b']') => break,
                            _ => return bail("expected `,` or `]` after an address"),
                        }
                    }
                    self.accounts = AccountsState::Addresses {
                        account,
                        done: done + batch.len() as u64,
                    };
                    return Ok(Some(AccountUnit::Addresses { account, batch }));
                }
            }
        }
    }

    /// After the last batch (and the last account unit): reads the rest of the file and
    /// returns the stated digest.
    pub fn finish(mut self) -> Result<String, SplitBail> {
        while self.next_account_unit(1, 1)?.is_some() {
            // A caller that skipped the accounts: pass over them (only the digest is wanted).
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
                account_template: None,
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
            accounts: Vec::new(),
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
