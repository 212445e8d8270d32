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
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Write;
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
    /// For a contract wallet: the owner address whose key made it (the signature is checked
    /// against this address; who the contract's owners are is on-chain state).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
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
    /// Bitcoin: the address's coins at the anchor (what proves its balance on a node without
    /// an address index); absent when not listed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub coins: Vec<Coin>,
    /// EVM: token balances the address holds at the anchor, beside its native balance.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tokens: Vec<TokenHolding>,
    /// EVM: the address is a contract wallet (a Safe); its signatures are its owners', each
    /// naming its `owner`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract_wallet: Option<ContractWallet>,
}

/// A token (ERC-20) balance an EVM address holds at the anchor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenHolding {
    /// The asset label the totals use (`USDT`, `USDC`).
    pub asset: String,
    /// The token contract (0x-hex address).
    pub contract: String,
    /// The token's decimals (what its `decimals()` answers).
    pub decimals: u32,
    /// The balance at the anchor, as a decimal string in the token's main unit.
    pub balance: String,
}

/// The kind of contract wallet an entry's address is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContractWallet {
    /// A Safe (Gnosis Safe) wallet: `getOwners()` and `getThreshold()` say who controls it.
    Safe,
}

/// One coin (transaction output) an address held at the anchor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Coin {
    /// The creating transaction's id (hex, as explorers show it).
    pub txid: String,
    /// The output's index in it.
    pub vout: u32,
    /// Its amount in satoshis.
    pub amount_sat: u64,
    /// The height of the block that created it (at or below the anchor).
    pub height: u64,
    /// That block's hash.
    pub block_hash: String,
    /// For a coin spent after the anchor: the spending transaction and its block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spent: Option<Spend>,
}

/// The transaction that spent a coin after the anchor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spend {
    /// Its id.
    pub txid: String,
    /// The hash of the main-chain block that holds it (after the anchor).
    pub block_hash: String,
}

/// Everything in a snapshot but its entries and digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Header {
    /// Always [`FORMAT_TAG`].
    pub format: String,
    /// [`FORMAT_VERSION`], or [`ACCOUNTS_FORMAT_VERSION`] with accounts.
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
    /// The header (everything but the entries).
    pub header: Header,
    /// The entries, in file order.
    pub entries: Vec<Entry>,
    /// Account entries (version 2), in file order.
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

    /// True when the canonical form has `accounts` (version 2).
    pub fn has_accounts(&self) -> bool {
        self.has_accounts
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
/// [`write_file_account`] for each account and [`write_file_tail`]).
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

mod reader;
mod splitter;

pub use reader::{read_stream, read_stream_accounts, StreamEnd};
pub use splitter::{AccountUnit, EntrySplitter, RawBatch, SplitBail};

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
                    owner: None,
                }],
                threshold: None,
                script: None,
                coins: Vec::new(),
                tokens: Vec::new(),
                contract_wallet: None,
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
