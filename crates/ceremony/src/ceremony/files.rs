//! `por-attest sign --files DIR`: the ceremony for an air-gapped signer (a Coldcard, any
//! BIP-174 PSBT signer), in two phases with the journal as the only state.
//!
//! Each run first imports every answer in DIR for a task the journal lacks: the answer is put
//! behind the [`Signer`](crate::signer::Signer) interface
//! ([`AnswerSigner`]) and goes through the very steps a Ledger's replies go through
//! ([`super::sign_task`]: the address or key it shows, the PSBT it signed, the signature
//! checked for this message and address), and is journaled (fsync'ed) before the next. An
//! answer that fails is refused with its file's name and the reason, nothing of it journaled,
//! and the other answers are still imported. Then it writes a request for every task still
//! missing (and Coldcard's multisig wallet files for the wallets they need). Nothing else is
//! kept: a kill -9 at any moment leaves the journal and files from which the same command
//! resumes, and a task once journaled is never imported again.

use super::{sign_task, CeremonyError, Done, Step, Work};
use crate::air_gapped::answer::{decode_psbt, parse_armored};
use crate::air_gapped::answer_signer::{Answer, AnswerSigner};
use crate::air_gapped::coldcard::{answer_file, multisig_wallet_file, AnswerFile, WalletKey};
use crate::air_gapped::keys::{read_key_file, KeySet};
use crate::air_gapped::request::{account_plan, account_xpub, address_plan, file_part, Plan};
use crate::air_gapped::FileKind;
use crate::journal::{Journal, Record, RunRecord};
use crate::manifest::{Manifest, Signer as ManifestSigner};
use bitcoin::bip32::Xpub;
use por_attest_verify::chains::ScriptType;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The name of Coldcard's "Generic JSON" export, read from DIR when present.
pub const COLDCARD_EXPORT: &str = "coldcard-export.json";

/// How to run a file-based signer.
#[derive(Debug, Clone, Default)]
pub struct FilesOptions {
    /// The manifest's signer (a `coldcard` or `psbt` signer).
    pub signer: String,
    /// The folder of requests and answers (the SD card, or a copy of it).
    pub dir: PathBuf,
    /// The device's public-key exports (`coldcard-export.json`, `[fp/path]xpub` lines), for
    /// the BIP-32 derivations of single-key requests; DIR's `coldcard-export.json` is read too.
    pub keys: Vec<PathBuf>,
}

/// An answer that was not journaled, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The answer's file name in DIR.
    pub file: String,
    /// Why it was refused.
    pub reason: String,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilesSummary {
    /// The signer.
    pub signer: String,
    /// Its kind.
    pub kind: FileKind,
    /// Signatures this signer owes in the manifest.
    pub tasks: usize,
    /// Already in the journal before this run.
    pub already: usize,
    /// Answers journaled by this run (file names).
    pub imported: Vec<String>,
    /// Answers refused by this run.
    pub refused: Vec<Refusal>,
    /// Requests written by this run (file names).
    pub written: Vec<String>,
    /// Requests already in DIR, unchanged, still without an answer.
    pub waiting: Vec<String>,
    /// Multisig wallet files in DIR for the device to register first.
    pub wallet_files: Vec<String>,
    /// Tasks this signer cannot sign through files, with the reason.
    pub unsupported: Vec<String>,
    /// Tasks whose request needs a key the key export lacks (`[fp/path]`).
    pub needs_keys: Vec<String>,
    /// Files that look like answers but belong to no task of this signer.
    pub stray: Vec<String>,
    /// Journal warnings (a torn last line, ...).
    pub warnings: Vec<String>,
}

impl FilesSummary {
    /// Tasks still without a signature that files can give.
    pub fn missing(&self) -> usize {
        self.written.len() + self.waiting.len() + self.needs_keys.len()
    }

    /// What the operator does next (for a run that left tasks missing).
    pub fn operator_steps(&self, dir: &Path, resume: &str) -> String {
        let mut s = String::new();
        let requests = self.written.len() + self.waiting.len();
        let dir = dir.display();
        if !self.needs_keys.is_empty() {
            s.push_str(&format!(
                "{} request(s) need the device's public keys ({}): export them from the device ({}) into {dir}/{COLDCARD_EXPORT} or pass --keys FILE, then run again.\n",
                self.needs_keys.len(),
                self.needs_keys.iter().take(3).cloned().collect::<Vec<_>>().join(", "),
                match self.kind {
                    FileKind::Coldcard => "Coldcard: Advanced/Tools > Export Wallet > Generic JSON",
                    FileKind::Psbt => "its xpub export, as [fingerprint/path]xpub lines",
                },
            ));
        }
        if requests == 0 {
            return s;
        }
        s.push_str(&format!(
            "{requests} request(s) in {dir} wait for signer `{}`. Copy them to the device's SD card",
            self.signer
        ));
        match self.kind {
            FileKind::Coldcard => {
                s.push_str(":\n");
                if !self.wallet_files.is_empty() {
                    s.push_str(&format!(
                        "  first register the multisig wallet(s) ({}): Settings > Multisig Wallets > Import from File, check the policy and every fingerprint, OK;\n",
                        self.wallet_files.join(", ")
                    ));
                }
                s.push_str(
                    "  each NAME.psbt: Ready To Sign, choose it; the screen says \"Proof of Reserves\" with the message hash and the 0-value OP_RETURN output; OK: it writes NAME-signed.psbt (NAME-part.psbt for a multisig share);\n  each NAME.txt: Advanced/Tools > File Management > Sign Text File, choose it; compare the message, address and path on the screen; OK: it writes NAME-signed.txt;\n",
                );
            }
            FileKind::Psbt => {
                s.push_str(":\n");
                if !self.wallet_files.is_empty() {
                    s.push_str(&format!(
                        "  first register the multisig wallet(s) ({}) on the device (Coldcard's wallet file format, which Passport, Keystone and SeedSigner import too);\n",
                        self.wallet_files.join(", ")
                    ));
                }
                s.push_str(
                    "  have the device sign each NAME.psbt (a BIP-322 proof: a 0-value transaction to OP_RETURN) and save its answer as NAME-signed.psbt or NAME-part.psbt (binary, base64 or hex);\n",
                );
            }
        }
        s.push_str(&format!(
            "then copy the answers back into {dir} and run again:\n  {resume}\n"
        ));
        s
    }
}

/// Writes `bytes` to `path` atomically (a synced temporary file renamed over it, then the
/// folder synced).
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp-por-attest");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(parent) = path.parent() {
        if let Ok(d) = std::fs::File::open(parent) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// The device's exported keys: `--keys` files and DIR's `coldcard-export.json`, each of this
/// signer's master fingerprint.
fn load_keys(signer: &ManifestSigner, opts: &FilesOptions) -> Result<KeySet, CeremonyError> {
    let mut files = opts.keys.clone();
    let in_dir = opts.dir.join(COLDCARD_EXPORT);
    if in_dir.exists() && !files.contains(&in_dir) {
        files.push(in_dir);
    }
    let mut keys = Vec::new();
    for f in &files {
        let read = read_key_file(f).map_err(CeremonyError::Refused)?;
        for k in read {
            if Some(k.fingerprint) != signer.fingerprint {
                return Err(CeremonyError::WrongDevice(format!(
                    "{}: the keys are of the device with master fingerprint {}, signer `{}` expects {}; nothing was written",
                    f.display(),
                    k.fingerprint,
                    signer.id,
                    signer.fingerprint.map(|f| f.to_string()).unwrap_or("none".into())
                )));
            }
            keys.push(k);
        }
    }
    Ok(KeySet::new(keys))
}

/// The answer files in `dir`, by the request base name they answer.
fn answers_in(dir: &Path) -> Result<BTreeMap<String, Vec<String>>, CeremonyError> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let entries = std::fs::read_dir(dir).map_err(|e| {
        CeremonyError::Refused(format!("{}: cannot read the folder: {e}", dir.display()))
    })?;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(AnswerFile::Psbt(base) | AnswerFile::Text(base)) = answer_file(&name) {
            out.entry(base.to_string()).or_default().push(name.clone());
        }
    }
    for v in out.values_mut() {
        v.sort();
    }
    Ok(out)
}

/// Reads one answer file.
fn read_answer(path: &Path) -> Result<Answer, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    match name.as_deref().and_then(answer_file) {
        Some(AnswerFile::Text(_)) => {
            let text = String::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_string())?;
            parse_armored(&text).map(Answer::Text)
        }
        _ => decode_psbt(&bytes).map(|(p, _)| Answer::Psbt(Box::new(p))),
    }
}

/// A multisig wallet as its file holds it: threshold, script type, cosigner keys (equal
/// wallets are one file).
type Wallet = (u32, ScriptType, Vec<WalletKey>);

/// The wallet of a multisig address or account task, `None` for a single-key task, `Err`
/// with why Coldcard's file cannot hold it.
fn wallet_of(manifest: &Manifest, work: &Work<'_>) -> Option<Result<Wallet, String>> {
    match work {
        Work::Address(t) => {
            let ms = t.spec.multisig.as_ref()?;
            let st = t.spec.script_type?;
            if !ms.sorted {
                return Some(Err(format!(
                    "entry {}: Coldcard's wallet file is for sorted multisig (BIP-67); register this wallet from its descriptor",
                    t.spec.index
                )));
            }
            let mut keys = Vec::new();
            for (i, c) in ms.cosigners.iter().enumerate() {
                let fp = c
                    .signer
                    .as_deref()
                    .and_then(|id| manifest.signer(id))
                    .and_then(|s| s.fingerprint);
                match (fp, c.xpub, &c.origin_path) {
                    (Some(fingerprint), Some(xpub), Some(path)) => keys.push(WalletKey {
                        fingerprint,
                        path: path.clone(),
                        xpub,
                    }),
                    _ => {
                        return Some(Err(format!(
                            "entry {}: cosigner {} has no xpub with its origin and fingerprint in the manifest; register the wallet on the device from its coordinator",
                            t.spec.index,
                            i + 1
                        )))
                    }
                }
            }
            Some(Ok((ms.threshold, st, keys)))
        }
        Work::Account(t) => {
            let ms = t.account.multisig.as_ref()?;
            let st = t.account.script_type?;
            if !ms.sorted {
                return Some(Err(format!(
                    "{}: Coldcard's wallet file is for sorted multisig (BIP-67); register this wallet from its descriptor",
                    t.account.label()
                )));
            }
            let keys = ms
                .cosigners
                .iter()
                .map(|c| WalletKey {
                    fingerprint: c.fingerprint,
                    path: c.origin_path.clone(),
                    xpub: c.xpub,
                })
                .collect();
            Some(Ok((ms.threshold, st, keys)))
        }
    }
}

/// The short name of a script type in a wallet name.
fn short(st: ScriptType) -> &'static str {
    match st {
        ScriptType::P2sh => "sh",
        ScriptType::P2wsh => "wsh",
        _ => "shwsh",
    }
}

/// Runs one phase pair of the file-based ceremony for `opts.signer` (see the module
/// documentation). `Err` only for what stops the run before anything is written or journaled
/// (an unknown or wrong signer, a key export of another device or contradicting the manifest,
/// a journal or folder that cannot be used).
pub fn sign_files(
    manifest: &Manifest,
    journal_path: &Path,
    opts: &FilesOptions,
) -> Result<FilesSummary, CeremonyError> {
    let signer = manifest.signer(&opts.signer).ok_or_else(|| {
        CeremonyError::WrongDevice(format!("the manifest has no signer `{}`", opts.signer))
    })?;
    let kind = FileKind::of(signer.kind).ok_or_else(|| {
        CeremonyError::Refused(format!(
            "signer `{}` is not a file-based signer (kind coldcard or psbt): --files is not for it; use --device",
            signer.id
        ))
    })?;
    if !opts.dir.is_dir() {
        return Err(CeremonyError::Refused(format!(
            "{}: not a folder (create it, or name the SD card's mount point)",
            opts.dir.display()
        )));
    }
    let keys = load_keys(signer, opts)?;
    let (mut journal, _) = Journal::open(journal_path, &manifest.identity())?;
    let mut works: Vec<Work<'_>> = manifest
        .tasks_for(&signer.id)
        .map(Work::Address)
        .chain(manifest.account_tasks_for(&signer.id).map(Work::Account))
        .collect();
    works.sort_by_key(Work::order);
    let mut summary = FilesSummary {
        signer: signer.id.clone(),
        kind,
        tasks: works.len(),
        already: 0,
        imported: Vec::new(),
        refused: Vec::new(),
        written: Vec::new(),
        waiting: Vec::new(),
        wallet_files: Vec::new(),
        unsupported: Vec::new(),
        needs_keys: Vec::new(),
        stray: Vec::new(),
        warnings: journal.warnings().to_vec(),
    };

    // Plan every task the journal lacks: limits and key checks before anything is written.
    let mut planned = Vec::new();
    let mut all_names = BTreeSet::new();
    for work in &works {
        let plan = match work {
            Work::Address(t) => address_plan(manifest, t, kind, &keys),
            Work::Account(t) => account_plan(manifest, t, kind, &keys),
        }
        .map_err(CeremonyError::Refused)?;
        if let Plan::Request(r) = &plan {
            all_names.insert(r.name.clone());
        }
        if journal.done(&work.key()) {
            summary.already += 1;
            continue;
        }
        match plan {
            Plan::Request(r) => planned.push((work, r)),
            Plan::Unsupported(why) => summary.unsupported.push(format!("{}: {why}", work.key())),
            Plan::NeedsKey(k) => summary.needs_keys.push(k),
        }
    }

    // Phase 1: import every answer there is for a missing task.
    let mut answers = answers_in(&opts.dir)?;
    let hidden = indicatif::ProgressBar::hidden();
    let mut missing = Vec::new();
    for (work, request) in planned {
        let files = answers.remove(&request.name).unwrap_or_default();
        let expected: Option<Xpub> = match work {
            Work::Address(t) => t.expected_pubkey.map(|k| AnswerSigner::bare(k.inner)),
            Work::Account(t) => account_xpub(t, &keys)
                .map_err(CeremonyError::Refused)?
                .map(|(_, x)| x),
        };
        let mut signed = false;
        for file in files {
            let task = match work {
                Work::Address(t) => Some(t),
                Work::Account(_) => None,
            };
            let outcome = read_answer(&opts.dir.join(&file))
                .and_then(|answer| AnswerSigner::new(answer, manifest, task, expected))
                .and_then(
                    |mut device| match sign_task(manifest, work, &mut device, &hidden, 0) {
                        Ok(Done::Signed(record)) => Ok(record),
                        Ok(Done::Unsupported(why)) => Err(why),
                        Err(Step::Device(e)) => Err(e.to_string()),
                        Err(Step::Stop(e)) => Err(e.to_string()),
                    },
                );
            match outcome {
                Ok(record) if !signed => {
                    journal.append(&Record::Signed(record))?;
                    summary.imported.push(file);
                    signed = true;
                }
                Ok(_) => {}
                Err(reason) => summary.refused.push(Refusal { file, reason }),
            }
        }
        if !signed {
            missing.push((work, request));
        }
    }
    let own_prefix = format!("{}-", file_part(&signer.id));
    for (base, files) in answers {
        if !all_names.contains(&base) && base.starts_with(&own_prefix) {
            summary.stray.extend(files);
        }
    }

    // Phase 2: a request for every task still missing, and Coldcard's wallet files.
    for (_, request) in &missing {
        let file = request.file_name();
        let path = opts.dir.join(&file);
        let bytes = request.bytes();
        if std::fs::read(&path).ok().as_deref() == Some(bytes.as_slice()) {
            summary.waiting.push(file);
            continue;
        }
        write_atomic(&path, &bytes).map_err(|e| {
            CeremonyError::Refused(format!("{}: cannot write: {e}", path.display()))
        })?;
        summary.written.push(file);
    }
    {
        // Multisig wallet files, in Coldcard's format (which other PSBT signers import too).
        let works: Vec<&Work<'_>> = missing.iter().map(|(w, _)| *w).collect();
        let (files, warnings) = wallet_files(manifest, &signer.id, &works)?;
        for (file, text) in files {
            let path = opts.dir.join(&file);
            if std::fs::read(&path).ok().as_deref() != Some(text.as_bytes()) {
                write_atomic(&path, text.as_bytes()).map_err(|e| {
                    CeremonyError::Refused(format!("{}: cannot write: {e}", path.display()))
                })?;
            }
            summary.wallet_files.push(file);
        }
        summary.warnings.extend(warnings);
    }
    journal.append(&Record::Run(RunRecord::new(
        &signer.id,
        summary.imported.len() as u64,
        summary.imported.len() as u64,
    )))?;
    Ok(summary)
}

/// Wallet files `(file name, text)` and the reasons some wallet has none.
pub type WalletFiles = (Vec<(String, String)>, Vec<String>);

/// Coldcard's multisig wallet files (file name, text) for the wallets of `works` (each
/// wallet once), and why some wallet has none (an unsorted one, a cosigner without xpub or
/// fingerprint).
fn wallet_files(
    manifest: &Manifest,
    signer: &str,
    works: &[&Work<'_>],
) -> Result<WalletFiles, CeremonyError> {
    let mut wallets: Vec<Wallet> = Vec::new();
    let mut warnings: Vec<String> = Vec::new();
    for work in works {
        match wallet_of(manifest, work) {
            Some(Ok(w)) if !wallets.contains(&w) => wallets.push(w),
            Some(Err(why)) if !warnings.contains(&why) => warnings.push(why),
            _ => {}
        }
    }
    let mut files = Vec::new();
    for (i, (threshold, st, keys)) in wallets.iter().enumerate() {
        let name = format!("por-{}-{threshold}of{}-{}", short(*st), keys.len(), i + 1);
        let text = multisig_wallet_file(
            &name,
            *threshold,
            *st,
            keys,
            &format!("por-attest, {} {}", manifest.entity, manifest.snapshot_id),
        )
        .map_err(|e| CeremonyError::Refused(format!("multisig wallet {name}: {e}")))?;
        files.push((format!("{}-wallet-{}.txt", file_part(signer), i + 1), text));
    }
    Ok((files, warnings))
}

/// Coldcard's multisig wallet files (file name, text) for every multisig address and
/// account `signer` cosigns in the manifest (`por-attest coldcard wallet`), and why some
/// wallet has none.
pub fn coldcard_wallet_files(
    manifest: &Manifest,
    signer: &str,
) -> Result<WalletFiles, CeremonyError> {
    let works: Vec<Work<'_>> = manifest
        .tasks_for(signer)
        .map(Work::Address)
        .chain(manifest.account_tasks_for(signer).map(Work::Account))
        .collect();
    let refs: Vec<&Work<'_>> = works.iter().collect();
    wallet_files(manifest, signer, &refs)
}
