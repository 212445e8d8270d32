//! The ceremony journal: an append-only JSON-lines file, the record of truth while signing.
//!
//! Line 1 is a header naming the manifest (entity, snapshot id, manifest digest). Every other
//! line is one record: a signature obtained (`signed`), a prompt the user rejected on the
//! device (`rejected`), or a marker acknowledging a torn line left by a crash (`torn`). Each
//! record is written with a single `write_all` of the whole line and `sync_data` before
//! [`Journal::append`] returns, so a signature is durable before the next device prompt. The
//! file is never truncated or rewritten. See `docs/journal.md` for the crash-safety rules.

use crate::manifest::{parse_path, path_string, ManifestIdentity, TaskKey};
use crate::pkcs11::KeyRef;
pub use crate::time::{now_rfc3339, rfc3339_of_unix};
use por_attest_verify::chains::Scheme;
use por_attest_verify::error::InputError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// The `format` tag of a journal header.
pub const JOURNAL_FORMAT: &str = "por-attest-journal";
/// The journal version this build reads and writes.
pub const JOURNAL_VERSION: u32 = 1;

/// Line 1 of a journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JournalHeader {
    /// Always [`JOURNAL_FORMAT`].
    pub format: String,
    /// Always [`JOURNAL_VERSION`].
    pub version: u32,
    /// The manifest's entity.
    pub entity: String,
    /// The manifest's snapshot id.
    pub snapshot_id: String,
    /// The manifest's identity digest (`sha256:<hex>`).
    pub manifest_digest: String,
    /// When the journal was created (RFC 3339 UTC).
    pub time: String,
}

/// A signature obtained from a device and checked locally.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedRecord {
    /// Chain ticker as in the manifest.
    pub chain: String,
    /// Address as in the manifest.
    pub address: String,
    /// Signer id.
    pub signer: String,
    /// Canonical derivation path of the key.
    pub path: String,
    /// Signature scheme.
    pub scheme: Scheme,
    /// The signature as it goes into the snapshot.
    pub signature: String,
    /// The signing public key (hex), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pubkey: Option<String>,
    /// Hex SHA-256 of the signed message, so a journal from another template is caught.
    pub message_sha256: String,
    /// When it was journaled (RFC 3339 UTC).
    pub time: String,
}

/// A prompt the user rejected on the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RejectedRecord {
    /// Chain ticker as in the manifest.
    pub chain: String,
    /// Address as in the manifest.
    pub address: String,
    /// Signer id.
    pub signer: String,
    /// Canonical derivation path of the key.
    pub path: String,
    /// What was rejected (e.g. "address check", "message signature").
    pub reason: String,
    /// When (RFC 3339 UTC).
    pub time: String,
}

/// Acknowledges that line `line` is a torn write left by a crash and holds no record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TornRecord {
    /// The 1-based line number of the torn line.
    pub line: u64,
    /// When the torn line was found (RFC 3339 UTC).
    pub time: String,
}

/// The end of a signing run: how many times the device waited for a person, and how many
/// signatures the run journaled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRecord {
    /// Signer id.
    pub signer: String,
    /// Confirmations the device asked for during the run.
    pub confirmations: u64,
    /// Signatures journaled during the run.
    pub signatures: u64,
    /// When the run ended (RFC 3339 UTC).
    pub time: String,
}

impl RunRecord {
    /// A record of a run by `signer`, stamped now.
    pub fn new(signer: &str, confirmations: u64, signatures: u64) -> RunRecord {
        RunRecord {
            signer: signer.to_string(),
            confirmations,
            signatures,
            time: now_rfc3339(),
        }
    }
}

/// One line of a journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    /// Line 1.
    Header(JournalHeader),
    /// A signature.
    Signed(SignedRecord),
    /// A rejected prompt.
    Rejected(RejectedRecord),
    /// A torn line acknowledged.
    Torn(TornRecord),
    /// The end of a run.
    Run(RunRecord),
}

fn key_of(chain: &str, address: &str, signer: &str, path: &str) -> TaskKey {
    TaskKey {
        chain: chain.to_string(),
        address: address.to_string(),
        signer: signer.to_string(),
        path: path.to_string(),
    }
}

impl SignedRecord {
    /// A record for `key`, signed over `message`, stamped now.
    pub fn new(
        key: &TaskKey,
        scheme: Scheme,
        signature: impl Into<String>,
        pubkey: Option<String>,
        message: &str,
    ) -> SignedRecord {
        SignedRecord {
            chain: key.chain.clone(),
            address: key.address.clone(),
            signer: key.signer.clone(),
            path: key.path.clone(),
            scheme,
            signature: signature.into(),
            pubkey,
            message_sha256: message_sha256(message),
            time: now_rfc3339(),
        }
    }

    /// The task this signature fulfils.
    pub fn key(&self) -> TaskKey {
        key_of(&self.chain, &self.address, &self.signer, &self.path)
    }

    /// True when this signature was made over `message`.
    pub fn is_over(&self, message: &str) -> bool {
        self.message_sha256 == message_sha256(message)
    }
}

impl RejectedRecord {
    /// A record for `key`, stamped now.
    pub fn new(key: &TaskKey, reason: impl Into<String>) -> RejectedRecord {
        RejectedRecord {
            chain: key.chain.clone(),
            address: key.address.clone(),
            signer: key.signer.clone(),
            path: key.path.clone(),
            reason: reason.into(),
            time: now_rfc3339(),
        }
    }

    /// The task whose prompt was rejected.
    pub fn key(&self) -> TaskKey {
        key_of(&self.chain, &self.address, &self.signer, &self.path)
    }
}

/// Hex SHA-256 of a message's bytes.
pub fn message_sha256(message: &str) -> String {
    hex::encode(Sha256::digest(message.as_bytes()))
}

/// Why a journal cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The journal's content is not acceptable (corrupt line, other manifest, ...).
    #[error("{0}")]
    Input(#[from] InputError),
    /// Reading or writing failed.
    #[error("{file}: cannot {op}: {source}")]
    Io {
        /// The journal.
        file: String,
        /// What was being done.
        op: &'static str,
        /// The error.
        source: io::Error,
    },
    /// Another process holds the journal's lock.
    #[error("{file}: the journal is in use by another por-attest process; wait for it to finish or stop it, then run again")]
    Locked {
        /// The journal.
        file: String,
    },
    /// A record kind that only the journal itself writes was passed to `append`.
    #[error("{file}: {kind} records are written by the journal itself, not appended")]
    NotAppendable {
        /// The journal.
        file: String,
        /// The record kind.
        kind: &'static str,
    },
    /// An earlier append failed part-way; the file must be reopened (which repairs the tail).
    #[error("{file}: an earlier write failed; reopen the journal to continue")]
    Poisoned {
        /// The journal.
        file: String,
    },
}

fn io_err(file: &Path, op: &'static str) -> impl FnOnce(io::Error) -> JournalError {
    let file = file.display().to_string();
    move |source| JournalError::Io { file, op, source }
}

/// A journal file as read: its records and anything to report.
#[derive(Debug)]
struct Parsed {
    header: JournalHeader,
    /// Body records (not the header), in file order, with their line numbers.
    records: Vec<(u64, Record)>,
    /// The last line lacks its newline.
    needs_newline: bool,
    /// Torn lines left by crashes and not yet acknowledged by a `torn` record.
    torn: Vec<u64>,
    warnings: Vec<String>,
}

/// Parses a journal. Rules (docs/journal.md): line 1 is the header; a line that does not parse
/// is accepted only as a torn write, that is when a `torn` record naming it follows (before any
/// other record), or when only other torn lines follow it to the end of the file (a crash,
/// possibly while acknowledging an earlier one); otherwise it is an error naming the line.
fn parse_journal(bytes: &[u8], file: &Path) -> Result<Parsed, InputError> {
    let err = |line: u64, msg: String| InputError::new(file, format!("line {line}: {msg}"));
    let mut lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
    // `split` yields a last, empty piece after a final newline; otherwise the last piece is an
    // unterminated line.
    let mut unterminated = lines.pop().filter(|l| !l.is_empty());
    let parse_line = |l: &[u8]| -> Result<Record, String> {
        let text = std::str::from_utf8(l).map_err(|e| format!("not UTF-8: {e}"))?;
        serde_json::from_str::<Record>(text).map_err(|e| e.to_string())
    };
    let mut needs_newline = false;
    let header = match (lines.first(), unterminated) {
        (Some(h), _) => parse_line(h).map_err(|e| (e, true)),
        (None, Some(h)) => {
            unterminated = None;
            needs_newline = true;
            parse_line(h).map_err(|e| (e, false))
        }
        (None, None) => {
            return Err(InputError::new(
                file,
                "empty file: not a por-attest journal (no header line)",
            ))
        }
    };
    let header = match header {
        Ok(Record::Header(h)) => h,
        Ok(_) => return Err(err(1, "the first line must be the journal header".into())),
        Err((e, false)) => {
            return Err(err(
                1,
                format!(
                    "the header line is incomplete ({e}); the journal was never completely created and holds no signatures: delete it and run again"
                ),
            ))
        }
        Err((e, true)) => return Err(err(1, format!("not a por-attest journal header: {e}"))),
    };
    if header.format != JOURNAL_FORMAT || header.version != JOURNAL_VERSION {
        return Err(err(
            1,
            format!(
                "format {} version {} is not {JOURNAL_FORMAT} version {JOURNAL_VERSION}",
                header.format, header.version
            ),
        ));
    }
    let mut records = Vec::new();
    let mut warnings = Vec::new();
    // Lines that do not parse, waiting for the `torn` records that acknowledge them.
    let mut pending: Vec<(u64, String)> = Vec::new();
    let corrupt = |pending: &[(u64, String)]| {
        let (bad, why) = &pending[0];
        err(*bad, format!("corrupt record: {why}"))
    };
    let tail_line = lines.len() as u64 + 1;
    let body = lines
        .iter()
        .enumerate()
        .skip(1)
        .map(|(i, l)| (i as u64 + 1, *l))
        .chain(unterminated.map(|t| (tail_line, t)));
    if unterminated.is_some() {
        needs_newline = true;
    }
    for (n, l) in body {
        if l.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let is_tail = n == tail_line;
        match parse_line(l) {
            Ok(Record::Torn(t)) => {
                let Some(k) = pending.iter().position(|(bad, _)| *bad == t.line) else {
                    return Err(err(
                        n,
                        format!(
                            "marks line {} as torn, but that line is not a torn line before it",
                            t.line
                        ),
                    ));
                };
                pending.remove(k);
                warnings.push(format!(
                    "{}: line {} is a torn write from an earlier crash (acknowledged on line {n}); it holds no record",
                    file.display(),
                    t.line
                ));
                records.push((n, Record::Torn(t)));
            }
            Ok(Record::Header(_)) => return Err(err(n, "a second journal header".into())),
            Ok(_) if !pending.is_empty() => return Err(corrupt(&pending)),
            Ok(r) => {
                if is_tail {
                    warnings.push(format!(
                        "{}: line {n} is complete but lacks its final newline (a crash after writing it); kept",
                        file.display()
                    ));
                }
                records.push((n, r));
            }
            Err(_) if is_tail => pending.push((n, "incomplete write".into())),
            Err(why) => pending.push((n, why)),
        }
    }
    for (n, _) in &pending {
        warnings.push(format!(
            "{}: line {n} is an incomplete write from a crash; ignored (whatever it held had not been journaled)",
            file.display()
        ));
    }
    Ok(Parsed {
        header,
        records,
        needs_newline,
        torn: pending.into_iter().map(|(n, _)| n).collect(),
        warnings,
    })
}

fn check_identity(h: &JournalHeader, id: &ManifestIdentity, file: &Path) -> Result<(), InputError> {
    if h.entity != id.entity || h.snapshot_id != id.snapshot_id {
        return Err(InputError::new(
            file,
            format!(
                "this journal belongs to snapshot `{}` of `{}`, not to snapshot `{}` of `{}`; use another journal file",
                h.snapshot_id, h.entity, id.snapshot_id, id.entity
            ),
        ));
    }
    if h.manifest_digest != id.manifest_digest {
        return Err(InputError::new(
            file,
            format!(
                "this journal belongs to another manifest of snapshot `{}` (manifest digest {}, this manifest {}); the manifest changed since the journal was started",
                h.snapshot_id, h.manifest_digest, id.manifest_digest
            ),
        ));
    }
    Ok(())
}

/// Canonicalizes the path of a read record so `h` and `'` spellings compare equal; an HSM
/// key's name (`id:HEX`, `label:TEXT`) or a key service's (a KMS alias, a command signer's key)
/// takes the place of the path for their signatures.
fn normalize(record: &mut Record, file: &Path, line: u64) -> Result<(), InputError> {
    let path = match record {
        Record::Signed(s) => &mut s.path,
        Record::Rejected(r) => &mut r.path,
        _ => return Ok(()),
    };
    let bad = |e: String| InputError::new(file, format!("line {line}: field `path`: {e}"));
    *path = if path.starts_with("id:") || path.starts_with("label:") {
        path.parse::<KeyRef>().map_err(bad)?.to_string()
    } else {
        match parse_path(path) {
            Ok(p) => path_string(&p),
            // A key service's name for the key (AWS KMS, a command signer), kept as written.
            Err(_) if crate::manifest::is_service_key_name(path) => path.clone(),
            Err(e) => return Err(bad(e.to_string())),
        }
    };
    Ok(())
}

/// An open journal, locked for this process, ready to append.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: File,
    header: JournalHeader,
    signed: HashMap<TaskKey, SignedRecord>,
    warnings: Vec<String>,
    poisoned: bool,
}

fn sync_dir(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

fn line_of(record: &Record) -> Vec<u8> {
    let mut line = serde_json::to_vec(record).expect("records serialize");
    line.push(b'\n');
    line
}

/// Creates `path` holding only `header`, atomically: the header is written and synced to a
/// temporary file which is then hard-linked to `path` (which fails if `path` exists, so an
/// existing journal is never replaced).
fn create_atomically(path: &Path, header: &JournalHeader) -> Result<(), JournalError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "journal".into());
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = File::create(&tmp).map_err(io_err(&tmp, "create a temporary file"))?;
        f.write_all(&line_of(&Record::Header(header.clone())))
            .map_err(io_err(&tmp, "write"))?;
        f.sync_all().map_err(io_err(&tmp, "sync"))?;
        match std::fs::hard_link(&tmp, path) {
            Ok(()) => sync_dir(path).map_err(io_err(path, "sync the directory")),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(io_err(path, "create the journal")(e)),
        }
    })();
    let _ = std::fs::remove_file(&tmp);
    result
}

impl Journal {
    /// Opens the journal at `path` for the manifest `identity`, creating it (with its header,
    /// synced, directory synced) if absent. Takes an exclusive lock held until the journal is
    /// dropped. Returns the journal and its records in file order (header excluded).
    ///
    /// A corrupt line is an error naming its line. A last line without its newline (a crash
    /// mid-write) is reported in [`Journal::warnings`]: if it is nonetheless a complete record
    /// it is kept and its newline written; otherwise it is ignored and a `torn` record naming it
    /// is appended, so later opens accept it. Nothing else is ever written over or removed.
    pub fn open(
        path: impl AsRef<Path>,
        identity: &ManifestIdentity,
    ) -> Result<(Journal, Vec<Record>), JournalError> {
        let path = path.as_ref();
        if !path.exists() {
            let header = JournalHeader {
                format: JOURNAL_FORMAT.into(),
                version: JOURNAL_VERSION,
                entity: identity.entity.clone(),
                snapshot_id: identity.snapshot_id.clone(),
                manifest_digest: identity.manifest_digest.clone(),
                time: now_rfc3339(),
            };
            create_atomically(path, &header)?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .open(path)
            .map_err(io_err(path, "open the journal"))?;
        let locked = fs4::fs_std::FileExt::try_lock_exclusive(&file)
            .map_err(io_err(path, "lock the journal"))?;
        if !locked {
            return Err(JournalError::Locked {
                file: path.display().to_string(),
            });
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(io_err(path, "read the journal"))?;
        let parsed = parse_journal(&bytes, path)?;
        check_identity(&parsed.header, identity, path)?;
        let mut journal = Journal {
            path: path.to_path_buf(),
            file,
            header: parsed.header,
            signed: HashMap::new(),
            warnings: parsed.warnings,
            poisoned: false,
        };
        let mut records = Vec::with_capacity(parsed.records.len());
        for (line, mut r) in parsed.records {
            normalize(&mut r, path, line)?;
            journal.index(&r);
            records.push(r);
        }
        let mut repair = Vec::new();
        if parsed.needs_newline {
            repair.push(b'\n');
        }
        for line in parsed.torn {
            let marker = Record::Torn(TornRecord {
                line,
                time: now_rfc3339(),
            });
            repair.extend(line_of(&marker));
            records.push(marker);
        }
        if !repair.is_empty() {
            journal.write_raw(&repair)?;
        }
        Ok((journal, records))
    }

    fn index(&mut self, r: &Record) {
        if let Record::Signed(s) = r {
            self.signed.entry(s.key()).or_insert_with(|| s.clone());
        }
    }

    fn write_raw(&mut self, bytes: &[u8]) -> Result<(), JournalError> {
        if self.poisoned {
            return Err(JournalError::Poisoned {
                file: self.path.display().to_string(),
            });
        }
        let result = self
            .file
            .write_all(bytes)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = result {
            self.poisoned = true;
            return Err(io_err(&self.path, "append to the journal")(e));
        }
        Ok(())
    }

    /// Appends a `signed` or `rejected` record: one write of the whole line, then `sync_data`;
    /// when this returns Ok the record is durable.
    pub fn append(&mut self, record: &Record) -> Result<(), JournalError> {
        self.append_all(std::slice::from_ref(record))
    }

    /// Appends several `signed` / `rejected` records with one write of all their lines and one
    /// `sync_data` (a group commit, for signers that sign faster than a disk syncs); when this
    /// returns Ok every one is durable. A crash in between leaves whole lines and at most one
    /// torn last line, as with [`Journal::append`].
    pub fn append_all(&mut self, records: &[Record]) -> Result<(), JournalError> {
        let mut bytes = Vec::new();
        for record in records {
            let kind = match record {
                Record::Header(_) => Some("header"),
                Record::Torn(_) => Some("torn"),
                _ => None,
            };
            if let Some(kind) = kind {
                return Err(JournalError::NotAppendable {
                    file: self.path.display().to_string(),
                    kind,
                });
            }
            bytes.extend_from_slice(&line_of(record));
        }
        if records.is_empty() {
            return Ok(());
        }
        self.write_raw(&bytes)?;
        for record in records {
            self.index(record);
        }
        Ok(())
    }

    /// True when the journal holds a signature for this task.
    pub fn done(&self, key: &TaskKey) -> bool {
        self.signed.contains_key(key)
    }

    /// The (first) signature journaled for this task.
    pub fn signed(&self, key: &TaskKey) -> Option<&SignedRecord> {
        self.signed.get(key)
    }

    /// The header.
    pub fn header(&self) -> &JournalHeader {
        &self.header
    }

    /// The journal's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Things found on open that the user should be told (torn last line, ...).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
}

/// The records of several journals merged.
#[derive(Debug, Clone, Default)]
pub struct MergedRecords {
    /// `signed` and `rejected` records, de-duplicated, in the order first seen (journals in the
    /// order given, lines in file order). `torn` markers are left out.
    pub records: Vec<Record>,
    /// Things to tell the user (torn lines, conflicting signatures).
    pub warnings: Vec<String>,
    signed: HashMap<TaskKey, usize>,
}

impl MergedRecords {
    /// True when some journal holds a signature for this task.
    pub fn done(&self, key: &TaskKey) -> bool {
        self.signed.contains_key(key)
    }

    /// The signature kept for this task.
    pub fn signed(&self, key: &TaskKey) -> Option<&SignedRecord> {
        match self.signed.get(key).map(|i| &self.records[*i]) {
            Some(Record::Signed(s)) => Some(s),
            _ => None,
        }
    }
}

/// Reads journals (one per device run) for the manifest `identity` without writing to them,
/// and merges them. The same task with the same signature counts once. The same task with a
/// different signature (which deterministic RFC 6979 signing should never produce) keeps the
/// first one seen and reports the other in `warnings`. Identical `rejected` records count
/// once. A torn last line is ignored with a warning, as in [`Journal::open`].
pub fn load_records(
    paths: &[impl AsRef<Path>],
    identity: &ManifestIdentity,
) -> Result<MergedRecords, JournalError> {
    let mut merged = MergedRecords::default();
    let mut where_signed: HashMap<TaskKey, String> = HashMap::new();
    for p in paths {
        let p = p.as_ref();
        let bytes = std::fs::read(p).map_err(io_err(p, "read the journal"))?;
        let parsed = parse_journal(&bytes, p)?;
        check_identity(&parsed.header, identity, p)?;
        merged.warnings.extend(parsed.warnings);
        for (line, mut r) in parsed.records {
            normalize(&mut r, p, line)?;
            match &r {
                Record::Signed(s) => {
                    let key = s.key();
                    if let Some(&i) = merged.signed.get(&key) {
                        let Record::Signed(first) = &merged.records[i] else {
                            unreachable!("the index points at signed records")
                        };
                        if first.signature != s.signature {
                            merged.warnings.push(format!(
                                "{}: line {line}: a second, different signature for {key}; kept the first ({})",
                                p.display(),
                                where_signed[&key]
                            ));
                        }
                        continue;
                    }
                    where_signed.insert(key.clone(), format!("{} line {line}", p.display()));
                    merged.signed.insert(key, merged.records.len());
                    merged.records.push(r);
                }
                Record::Rejected(_) => {
                    if !merged.records.contains(&r) {
                        merged.records.push(r);
                    }
                }
                Record::Torn(_) | Record::Header(_) | Record::Run(_) => {}
            }
        }
    }
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Opens `path` as `Journal::open` does, asking again for a moment while the lock is held:
    /// a child process that another test thread is starting inherits the open journal's lock
    /// between fork and exec.
    fn open_retrying(path: &Path) -> Result<(Journal, Vec<Record>), JournalError> {
        for _ in 0..200 {
            match Journal::open(path, &identity()) {
                Err(JournalError::Locked { .. }) => {
                    std::thread::sleep(std::time::Duration::from_millis(5))
                }
                other => return other,
            }
        }
        Journal::open(path, &identity())
    }

    fn identity() -> ManifestIdentity {
        ManifestIdentity {
            entity: "Acme".into(),
            snapshot_id: "2026-11".into(),
            manifest_digest: format!("sha256:{}", "ab".repeat(32)),
        }
    }

    fn key(i: u32) -> TaskKey {
        TaskKey {
            chain: "BTC".into(),
            address: format!("bc1qaddress{i}"),
            signer: "ledger-a".into(),
            path: format!("m/84'/0'/0'/0/{i}"),
        }
    }

    fn signed(i: u32, sig: &str) -> Record {
        Record::Signed(SignedRecord::new(
            &key(i),
            Scheme::Bip137,
            sig,
            Some("02".to_string() + &"11".repeat(32)),
            &format!("message {i}"),
        ))
    }

    fn body(records: &[Record]) -> Vec<Record> {
        records
            .iter()
            .filter(|r| !matches!(r, Record::Torn(_)))
            .cloned()
            .collect()
    }

    #[test]
    fn create_append_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let (mut j, recs) = Journal::open(&path, &identity()).unwrap();
        assert!(recs.is_empty());
        assert_eq!(j.header().snapshot_id, "2026-11");
        let a = signed(1, "sigA");
        let r = Record::Rejected(RejectedRecord::new(&key(2), "user rejected the message"));
        let b = signed(3, "sigB");
        for rec in [&a, &r, &b] {
            j.append(rec).unwrap();
        }
        assert!(j.done(&key(1)) && !j.done(&key(2)) && j.done(&key(3)));
        // Two processes may not append at once.
        match Journal::open(&path, &identity()) {
            Err(JournalError::Locked { .. }) => {}
            other => panic!("expected Locked, got {other:?}"),
        }
        drop(j);
        let (j, recs) = Journal::open(&path, &identity()).unwrap();
        assert_eq!(recs, vec![a.clone(), r, b]);
        assert!(j.warnings().is_empty());
        assert!(j.done(&key(1)));
        let Record::Signed(sa) = &a else {
            unreachable!()
        };
        assert_eq!(j.signed(&key(1)), Some(sa));
        assert!(sa.is_over("message 1") && !sa.is_over("message 2"));
        // One line per record, each ending in a newline; no temporary file left.
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 4);
        assert!(text.ends_with('\n'));
        assert!(text.starts_with("{\"kind\":\"header\",\"format\":\"por-attest-journal\""));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        // Only signed and rejected records may be appended.
        let mut j = j;
        let e = j
            .append(&Record::Torn(TornRecord {
                line: 2,
                time: now_rfc3339(),
            }))
            .unwrap_err();
        assert!(matches!(
            e,
            JournalError::NotAppendable { kind: "torn", .. }
        ));
    }

    #[test]
    fn header_must_match_the_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        drop(Journal::open(&path, &identity()).unwrap());
        let mut other = identity();
        other.snapshot_id = "2026-12".into();
        let e = Journal::open(&path, &other).unwrap_err().to_string();
        assert!(
            e.contains("j.jsonl") && e.contains("belongs to snapshot `2026-11`"),
            "{e}"
        );
        let mut other = identity();
        other.manifest_digest = format!("sha256:{}", "cd".repeat(32));
        let e = Journal::open(&path, &other).unwrap_err().to_string();
        assert!(e.contains("another manifest of snapshot `2026-11`"), "{e}");
        let e = load_records(&[&path], &other).unwrap_err().to_string();
        assert!(e.contains("another manifest"), "{e}");
        // Not a journal at all.
        std::fs::write(&path, "hello\n").unwrap();
        let e = Journal::open(&path, &identity()).unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("header"), "{e}");
        std::fs::write(&path, "").unwrap();
        let e = Journal::open(&path, &identity()).unwrap_err().to_string();
        assert!(e.contains("empty file"), "{e}");
    }

    #[test]
    fn corrupt_middle_line_is_an_error_naming_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let (mut j, _) = Journal::open(&path, &identity()).unwrap();
        for i in 0..3 {
            j.append(&signed(i, &format!("sig{i}"))).unwrap();
        }
        drop(j);
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines: Vec<String> = text.lines().map(String::from).collect();
        lines[2] = lines[2].replace("\"scheme\":\"bip137\"", "\"scheme\":\"bip999\"");
        let bad = lines.join("\n") + "\n";
        std::fs::write(&path, &bad).unwrap();
        let e = Journal::open(&path, &identity()).unwrap_err().to_string();
        assert!(
            e.contains("j.jsonl: line 3: corrupt record") && e.contains("bip999"),
            "{e}"
        );
        // Nothing was written to the file.
        assert_eq!(std::fs::read_to_string(&path).unwrap(), bad);
        lines[2] = "{\"kind\":\"signed\",\"chain\":\"BT".into();
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        let e = Journal::open(&path, &identity()).unwrap_err().to_string();
        assert!(e.contains("line 3: corrupt record"), "{e}");
        // A torn marker for a line that is fine is refused too.
        lines[2] = format!(
            "{{\"kind\":\"torn\",\"line\":2,\"time\":\"{}\"}}",
            now_rfc3339()
        );
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        let e = Journal::open(&path, &identity()).unwrap_err().to_string();
        assert!(e.contains("line 3: marks line 2 as torn"), "{e}");
    }

    #[test]
    fn torn_last_line_is_ignored_and_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let (mut j, _) = Journal::open(&path, &identity()).unwrap();
        j.append(&signed(1, "sig1")).unwrap();
        drop(j);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"kind\":\"signed\",\"chain\":\"BTC\",\"addr")
            .unwrap();
        drop(f);
        let (mut j, recs) = Journal::open(&path, &identity()).unwrap();
        assert_eq!(body(&recs).len(), 1);
        assert!(matches!(
            recs.last(),
            Some(Record::Torn(TornRecord { line: 3, .. }))
        ));
        assert_eq!(j.warnings().len(), 1);
        assert!(j.warnings()[0].contains("line 3"), "{:?}", j.warnings());
        j.append(&signed(2, "sig2")).unwrap();
        drop(j);
        let (j, recs) = Journal::open(&path, &identity()).unwrap();
        assert_eq!(body(&recs).len(), 2);
        assert!(j.done(&key(1)) && j.done(&key(2)));
        assert!(j.warnings()[0].contains("acknowledged on line 4"));
        // The torn bytes are still there: nothing is rewritten.
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"addr\n"));
    }

    #[test]
    fn complete_last_line_without_newline_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        drop(Journal::open(&path, &identity()).unwrap());
        let rec = signed(7, "sig7");
        let line = line_of(&rec);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&line[..line.len() - 1]).unwrap();
        drop(f);
        let (mut j, recs) = Journal::open(&path, &identity()).unwrap();
        assert_eq!(recs, vec![rec.clone()]);
        assert!(j.done(&key(7)));
        assert_eq!(j.warnings().len(), 1);
        j.append(&signed(8, "sig8")).unwrap();
        drop(j);
        let (j, recs) = Journal::open(&path, &identity()).unwrap();
        assert_eq!(recs.len(), 2);
        assert!(j.warnings().is_empty());
    }

    /// A kill at any byte of the last record's write: reopening never panics, never loses an
    /// earlier record, and the journal goes on accepting appends that survive later reopens.
    #[test]
    fn kill_at_every_byte_of_the_last_record() {
        let dir = tempfile::tempdir().unwrap();
        let full = dir.path().join("full.jsonl");
        let (mut j, _) = Journal::open(&full, &identity()).unwrap();
        let earlier = vec![
            signed(1, "sig1"),
            Record::Rejected(RejectedRecord::new(&key(2), "rejected")),
        ];
        for r in &earlier {
            j.append(r).unwrap();
        }
        let before = std::fs::metadata(&full).unwrap().len() as usize;
        let last = signed(3, "sig3");
        j.append(&last).unwrap();
        drop(j);
        let bytes = std::fs::read(&full).unwrap();
        let next = signed(4, "sig4");
        for cut in before..=bytes.len() {
            let path = dir.path().join(format!("cut{cut}.jsonl"));
            std::fs::write(&path, &bytes[..cut]).unwrap();
            let (mut j, recs) =
                open_retrying(&path).unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
            let kept = body(&recs);
            let last_kept = cut >= bytes.len() - 1;
            let mut want = earlier.clone();
            if last_kept {
                want.push(last.clone());
            }
            assert_eq!(kept, want, "cut at {cut}");
            assert_eq!(j.done(&key(3)), last_kept);
            j.append(&next).unwrap();
            drop(j);
            let (j, recs) =
                open_retrying(&path).unwrap_or_else(|e| panic!("reopen after cut at {cut}: {e}"));
            want.push(next.clone());
            assert_eq!(body(&recs), want, "reopen after cut at {cut}");
            assert!(j.done(&key(4)));
            // For two cut points, a crash at every byte of the repair and of the next append.
            let repaired = std::fs::read(&path).unwrap();
            let deep = [before + 1, (before + bytes.len()) / 2];
            let cut2s = if deep.contains(&cut) {
                cut..repaired.len()
            } else {
                0..0
            };
            for cut2 in cut2s {
                let p2 = dir.path().join("cut2.jsonl");
                std::fs::write(&p2, &repaired[..cut2]).unwrap();
                let (_, recs) =
                    open_retrying(&p2).unwrap_or_else(|e| panic!("cuts at {cut}/{cut2}: {e}"));
                assert!(body(&recs).starts_with(&earlier), "cuts at {cut}/{cut2}");
                let (_, recs2) = open_retrying(&p2)
                    .unwrap_or_else(|e| panic!("second reopen, cuts at {cut}/{cut2}: {e}"));
                assert_eq!(body(&recs2), body(&recs), "cuts at {cut}/{cut2}");
            }
            std::fs::remove_file(&path).unwrap();
        }
        // Cut inside the header: a clear error, never a panic.
        let header_len = bytes.iter().position(|b| *b == b'\n').unwrap();
        for cut in [1, header_len / 2, header_len - 1] {
            let path = dir.path().join("h.jsonl");
            std::fs::write(&path, &bytes[..cut]).unwrap();
            let e = open_retrying(&path).unwrap_err().to_string();
            assert!(e.contains("header line is incomplete"), "{e}");
        }
        let path = dir.path().join("h2.jsonl");
        std::fs::write(&path, &bytes[..header_len]).unwrap();
        let (_, recs) = open_retrying(&path).unwrap();
        assert!(recs.is_empty());
    }

    #[test]
    fn merging_journals() {
        let dir = tempfile::tempdir().unwrap();
        let p1 = dir.path().join("a.jsonl");
        let p2 = dir.path().join("b.jsonl");
        let (mut j1, _) = Journal::open(&p1, &identity()).unwrap();
        let (mut j2, _) = Journal::open(&p2, &identity()).unwrap();
        let s1 = signed(1, "sig1");
        let rej = Record::Rejected(RejectedRecord::new(&key(2), "rejected"));
        j1.append(&s1).unwrap();
        j1.append(&rej).unwrap();
        // The same signature again from another run, a different one for key 1 (should never
        // happen with deterministic signing), and a new one.
        j2.append(&s1).unwrap();
        j2.append(&rej).unwrap();
        j2.append(&signed(1, "sig1-other")).unwrap();
        j2.append(&signed(2, "sig2")).unwrap();
        drop((j1, j2));
        // A torn line in the second journal is ignored with a warning, not an error.
        let mut f = OpenOptions::new().append(true).open(&p2).unwrap();
        f.write_all(b"{\"kind\":\"sig").unwrap();
        drop(f);
        let m = load_records(&[&p1, &p2], &identity()).unwrap();
        assert_eq!(m.records.len(), 3, "{:?}", m.records);
        let Record::Signed(first) = &s1 else {
            unreachable!()
        };
        assert_eq!(m.signed(&key(1)), Some(first));
        assert!(m.done(&key(2)) && !m.done(&key(3)));
        assert_eq!(m.signed(&key(2)).unwrap().signature, "sig2");
        assert!(m.warnings.iter().any(|w| w
            .contains("b.jsonl: line 4: a second, different signature")
            && w.contains("a.jsonl line 2")));
        assert!(m
            .warnings
            .iter()
            .any(|w| w.contains("line 6") && w.contains("incomplete")));
        // Reading does not write.
        assert!(std::fs::read(&p2).unwrap().ends_with(b"{\"kind\":\"sig"));
        // The order of the journals decides which conflicting signature is kept.
        let m = load_records(&[&p2, &p1], &identity()).unwrap();
        assert_eq!(m.signed(&key(1)).unwrap().signature, "sig1");
        // `h` paths written by hand compare equal to canonical ones.
        let text = std::fs::read_to_string(&p1)
            .unwrap()
            .replace("m/84'/0'/0'/0/1", "m/84h/0h/0h/0/1");
        std::fs::write(&p1, text).unwrap();
        let m = load_records(&[&p1], &identity()).unwrap();
        assert!(m.done(&key(1)));
    }
}
