//! The streaming reader: a snapshot file of any size read entry by entry (and account by
//! account) in flat memory, with errors that name the line, the entry or account and the field.

use super::{
    format_digest, version_is_known, Anchor, CanonicalHasher, Entry, Header,
    ACCOUNTS_FORMAT_VERSION, FORMAT_TAG, FORMAT_VERSION,
};
use crate::account::Account;
use crate::error::InputError;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::Deserializer;
use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::Path;

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
                    if !hasher.has_accounts() {
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
