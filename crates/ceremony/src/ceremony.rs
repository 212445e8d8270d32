//! `por-attest sign`: the custody team's ceremony on one device. For each address this device
//! holds: the device derives (and shows) the address, which must be the manifest's; the device
//! signs the rendered message; the signature is checked locally and appended to the journal
//! (fsync'ed) before the next prompt. Re-running resumes: what the journal holds is skipped.
//!
//! Accounts (an HD account or a multisig wallet attested by its extended key) cost one
//! signature per device however many addresses they claim: see [`accounts`].
//!
//! This is the generic loop only: the device is a [`Signer`] (a Ledger through
//! [`LedgerSigner`], ...), which knows its apps, wallets and commands.

pub mod accounts;
pub mod files;

use crate::bip322_psbt::bip322_psbt;
use crate::journal::{Journal, JournalError, Record, RejectedRecord, RunRecord, SignedRecord};
use crate::manifest::{AccountTask, Manifest, SignerKind, SigningTask, TaskKey};
use crate::signer::{Signer, SigningKey};
use crate::signers::{DeviceError, LedgerSigner};
use crate::transport::Exchange;
use bitcoin::address::NetworkUnchecked;
use bitcoin::Address;
use por_attest_verify::chains::{ChainFamily, Scheme, ScriptType};
use por_attest_verify::schemes;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use thiserror::Error;

/// What to do when the user rejects a prompt on the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnReject {
    /// Record the rejection and stop the run (the default).
    #[default]
    Stop,
    /// Record the rejection and go on with the next address.
    Continue,
}

/// How to run a signing session.
#[derive(Debug, Clone, Default)]
pub struct SignOptions {
    /// The manifest's signer this device is; found from the master fingerprint when absent.
    pub signer: Option<String>,
    /// What a rejected prompt does.
    pub on_reject: OnReject,
    /// Show a progress bar on stderr (drawn only on a terminal).
    pub progress: bool,
    /// Set (e.g. by Ctrl-C) to stop cleanly before the next prompt.
    pub interrupt: Option<Arc<AtomicBool>>,
    /// The device is the built-in simulator (refused unless the manifest is a test).
    pub device_is_simulator: bool,
    /// The command that resumes this run, for messages.
    pub resume_command: Option<String>,
    /// Sessions signing at once (`--parallel N`, for signers that open several, such as a
    /// pkcs11 HSM); 0 or 1 signs one task after another.
    pub parallel: usize,
    /// How many addresses of each account the device shows (first, last, random ones);
    /// `None`: [`DEFAULT_SHOW_ADDRESSES`].
    pub show_addresses: Option<usize>,
}

/// How many addresses of each account the device shows by default.
pub const DEFAULT_SHOW_ADDRESSES: usize = 3;

/// How a signing session ended.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SignSummary {
    /// The signer id this device was.
    pub signer: String,
    /// Signatures this device owes in the manifest.
    pub tasks: usize,
    /// Signed during this run.
    pub signed_now: usize,
    /// Already in the journal before this run.
    pub already: usize,
    /// Rejected on the device during this run (recorded in the journal).
    pub rejected: usize,
    /// Tasks this device cannot do, by key, with the reason.
    pub unsupported: Vec<String>,
    /// Journal warnings (torn last line, ...).
    pub warnings: Vec<String>,
    /// Account signatures among `tasks`.
    pub accounts: usize,
    /// Times the device waited for a person during this run (address and message reviews,
    /// wallet registrations, key export reviews).
    pub confirmations: u64,
}

/// Why a signing session stopped before finishing.
#[derive(Debug, Error)]
pub enum CeremonyError {
    /// The journal could not be opened or written.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The device is not the one the manifest expects (checked before anything is signed).
    #[error("wrong device: {0}")]
    WrongDevice(String),
    /// The device derived another address (or key) than the manifest states: nothing signed.
    #[error("address mismatch for entry {entry} ({chain} {address}): the device derives {derived} at {path}; refusing to sign. Check the manifest's path and signer.")]
    AddressMismatch {
        /// The entry's index in the manifest.
        entry: usize,
        /// The entry's chain.
        chain: String,
        /// The manifest's address.
        address: String,
        /// What the device derived instead.
        derived: String,
        /// The derivation path asked for.
        path: String,
    },
    /// The device's signature did not verify locally: not journaled.
    #[error("the device's signature for entry {entry} ({address}) does not verify: {reason}")]
    BadSignature {
        /// The entry's index in the manifest.
        entry: usize,
        /// The entry's address.
        address: String,
        /// Why the signature does not verify.
        reason: String,
    },
    /// The device failed; `progress` tells what is safe, `resume` how to go on.
    #[error("{source}\n{progress}{resume}")]
    Device {
        /// What the device reported.
        source: DeviceError,
        /// What is safe in the journal.
        progress: String,
        /// How to resume (empty when unknown).
        resume: String,
    },
    /// The user rejected a prompt and chose to stop.
    #[error("stopped: the prompt for entry {entry} ({address}) was rejected on the device (recorded in the journal).{resume}")]
    Rejected {
        /// The entry's index in the manifest.
        entry: usize,
        /// The entry's address.
        address: String,
        /// How to resume (empty when unknown).
        resume: String,
    },
    /// Ctrl-C.
    #[error("interrupted: {signed} signature(s) of this run are safe in the journal.{resume}")]
    Interrupted {
        /// Signatures of this run, safe in the journal.
        signed: usize,
        /// How to resume (empty when unknown).
        resume: String,
    },
    /// The device's account key is not the manifest's: nothing signed.
    #[error("key mismatch for {account}: the device's key at {path} is {device}, the manifest's is {expected}; refusing to sign. Check the signer and the path.")]
    AccountKeyMismatch {
        /// The account.
        account: String,
        /// The key's path.
        path: String,
        /// The manifest's key.
        expected: String,
        /// The device's key.
        device: String,
    },
    /// A claimed address is not the one the account key gives at its path: nothing signed.
    #[error("address mismatch for {account} at {path}: the manifest lists {listed}, the account key gives {derived}; refusing to sign. Check the manifest's addresses, paths and signer.")]
    AccountAddressMismatch {
        /// The account.
        account: String,
        /// The relative path.
        path: String,
        /// The manifest's address.
        listed: String,
        /// What the key gives (or the device shows).
        derived: String,
    },
    /// The device's account signature did not verify locally: not journaled.
    #[error("the device's signature for {account} does not verify: {reason}")]
    AccountBadSignature {
        /// The account.
        account: String,
        /// Why.
        reason: String,
    },
    /// The user rejected a prompt of an account and chose to stop.
    #[error("stopped: a prompt for {account} was rejected on the device (recorded in the journal).{resume}")]
    AccountRejected {
        /// The account.
        account: String,
        /// How to resume (empty when unknown).
        resume: String,
    },
    /// The manifest forbids this.
    #[error("{0}")]
    Refused(String),
}

impl CeremonyError {
    /// True when re-running the same command continues the ceremony.
    pub fn is_resumable(&self) -> bool {
        matches!(
            self,
            CeremonyError::Device { .. }
                | CeremonyError::Rejected { .. }
                | CeremonyError::AccountRejected { .. }
                | CeremonyError::Interrupted { .. }
        )
    }
}

/// Runs the ceremony for one Ledger over `transport`, journaling to `journal_path`.
pub fn sign(
    manifest: &Manifest,
    journal_path: &Path,
    transport: &mut dyn Exchange,
    opts: &SignOptions,
) -> Result<SignSummary, CeremonyError> {
    sign_with(
        manifest,
        journal_path,
        &mut LedgerSigner::new(transport),
        opts,
    )
}

/// Runs the ceremony for one signer (any device behind [`Signer`]), journaling to
/// `journal_path`.
pub fn sign_with(
    manifest: &Manifest,
    journal_path: &Path,
    device: &mut dyn Signer,
    opts: &SignOptions,
) -> Result<SignSummary, CeremonyError> {
    let resume = opts
        .resume_command
        .as_ref()
        .map(|c| format!("\nResume with: {c}"))
        .unwrap_or_default();
    let device_err = |e: DeviceError, signed: usize| CeremonyError::Device {
        progress: format!(
            "{signed} signature(s) of this run are safe in the journal {}.",
            journal_path.display()
        ),
        resume: resume.clone(),
        source: e,
    };
    if opts.device_is_simulator && !manifest.test {
        return Err(CeremonyError::Refused(format!(
            "{}: the built-in simulator may only sign for a manifest with `test = true`",
            manifest.file.display()
        )));
    }

    // Who is this device? Checked before anything is signed.
    let any_fingerprint = manifest.signers.iter().any(|s| s.fingerprint.is_some());
    let wants_fingerprint = match &opts.signer {
        Some(id) => manifest.signer(id).is_some_and(|s| s.fingerprint.is_some()),
        None => any_fingerprint,
    };
    let fingerprint = if wants_fingerprint {
        device.master_fingerprint().map_err(|e| device_err(e, 0))?
    } else {
        None
    };
    let signer = match (&opts.signer, fingerprint) {
        (Some(id), f) => {
            let s = manifest.signer(id).ok_or_else(|| {
                CeremonyError::WrongDevice(format!("the manifest has no signer `{id}`"))
            })?;
            if let (Some(expected), Some(actual)) = (s.fingerprint, f) {
                if expected != actual {
                    return Err(CeremonyError::WrongDevice(format!(
                        "signer `{id}` expects master fingerprint {expected}, the device has {actual} (wrong device, seed or passphrase); nothing was signed"
                    )));
                }
            }
            s
        }
        (None, Some(actual)) => {
            let matching: Vec<_> = manifest
                .signers
                .iter()
                .filter(|s| s.fingerprint == Some(actual))
                .collect();
            match matching.as_slice() {
                [one] => *one,
                [] => {
                    return Err(CeremonyError::WrongDevice(format!(
                        "the device's master fingerprint {actual} matches no signer of the manifest ({}); nothing was signed",
                        manifest
                            .signers
                            .iter()
                            .map(|s| format!(
                                "{}={}",
                                s.id,
                                s.fingerprint.map(|f| f.to_string()).unwrap_or("-".into())
                            ))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )))
                }
                _ => {
                    return Err(CeremonyError::WrongDevice(format!(
                        "fingerprint {actual} matches several signers; name one with --signer"
                    )))
                }
            }
        }
        (None, None) if !any_fingerprint => {
            return Err(CeremonyError::WrongDevice(
                "the manifest's signers have no fingerprints: name the signer with --signer".into(),
            ))
        }
        (None, None) => {
            return Err(CeremonyError::WrongDevice(
                "the device has no master fingerprint to find its signer by: name the signer with --signer".into(),
            ))
        }
    };
    if signer.kind == SignerKind::Simulator && !opts.device_is_simulator && !manifest.test {
        return Err(CeremonyError::Refused(format!(
            "signer `{}` is a simulator but the manifest is not a test",
            signer.id
        )));
    }

    let (mut journal, _) = Journal::open(journal_path, &manifest.identity())?;
    let mut tasks: Vec<Work<'_>> = manifest
        .tasks_for(&signer.id)
        .map(Work::Address)
        .chain(manifest.account_tasks_for(&signer.id).map(Work::Account))
        .collect();
    // Bitcoin, then EVM, then TRON: one app switch per family on a Ledger.
    tasks.sort_by_key(Work::order);
    let mut summary = SignSummary {
        signer: signer.id.clone(),
        tasks: tasks.len(),
        accounts: tasks
            .iter()
            .filter(|w| matches!(w, Work::Account(_)))
            .count(),
        warnings: journal.warnings().to_vec(),
        ..SignSummary::default()
    };
    let todo: Vec<&Work<'_>> = tasks
        .iter()
        .filter(|t| {
            let done = journal.done(&t.key());
            if done {
                summary.already += 1;
            }
            !done
        })
        .collect();
    let asked_before = device.confirmations();
    let bar = progress_bar(opts.progress, todo.len() as u64);
    let mut run = Run {
        journal: &mut journal,
        summary: &mut summary,
        opts,
        bar: &bar,
        device_err: &device_err,
        resume: &resume,
        pending: Vec::new(),
        pending_signed: 0,
    };
    // A device with sessions of its own (an HSM) signs on worker threads, even with one
    // session: its signing then overlaps the journal's syncs.
    let parallel = opts.parallel.clamp(1, todo.len().max(1));
    let result = match device
        .parallel_sessions(parallel)
        .map_err(|e| device_err(e, 0))?
    {
        Some(workers) => run.parallel(manifest, &todo, workers),
        None if parallel > 1 => Err(CeremonyError::Refused(format!(
            "--parallel {parallel}: signer `{}` signs one task at a time (only pkcs11, aws-kms and command signers open several sessions)",
            signer.id
        ))),
        None => run.sequential(manifest, &todo, device),
    };
    summary.confirmations = device.confirmations() - asked_before;
    // The run's count of confirmations goes into the journal, however the run ended.
    let ran = journal.append(&Record::Run(RunRecord::new(
        &signer.id,
        summary.confirmations,
        summary.signed_now as u64,
    )));
    match result {
        Ok(()) => bar.finish_and_clear(),
        Err(_) => bar.abandon(),
    }
    result?;
    ran?;
    Ok(summary)
}

/// One signature to obtain: for an address, or for an account.
#[derive(Clone, Copy)]
enum Work<'a> {
    Address(SigningTask<'a>),
    Account(AccountTask<'a>),
}

impl Work<'_> {
    fn key(&self) -> TaskKey {
        match self {
            Work::Address(t) => t.key(),
            Work::Account(t) => t.key(),
        }
    }

    /// Family first (one app switch per family), then addresses before accounts, in manifest
    /// order.
    fn order(&self) -> (usize, u8, usize) {
        match self {
            Work::Address(t) => (t.spec.family.signing_order(), 0, t.address_index),
            Work::Account(t) => (t.account.family.signing_order(), 1, t.account.index),
        }
    }
}

/// What one task came to on the device.
enum Done {
    /// Signed and checked locally: to journal.
    Signed(SignedRecord),
    /// The device cannot sign it at all (reported, not journaled).
    Unsupported(String),
}

/// Asks the device for one task: can it sign it, the address it derives (an account: its key
/// and `show` of its addresses), the signature, checked locally. Nothing here touches the
/// journal.
fn sign_task(
    manifest: &Manifest,
    work: &Work<'_>,
    device: &mut dyn Signer,
    bar: &indicatif::ProgressBar,
    show: usize,
) -> Result<Done, Step> {
    let task = match work {
        Work::Address(t) => t,
        Work::Account(a) => {
            bar.set_message(format!(
                "{} ({} addresses)",
                a.account.label(),
                a.account.addresses.len()
            ));
            return accounts::sign_account(manifest, a, device, show, bar).map(Done::Signed);
        }
    };
    if let Some(why) = device.cannot_sign(task)? {
        return Ok(Done::Unsupported(why));
    }
    let spec = task.spec;
    let message = manifest.render_message(spec);
    if let Some(why) = device.cannot_sign_message(spec.family, task.path, message.as_bytes())? {
        return Ok(Done::Unsupported(why));
    }
    let hint = device
        .message_display_hint(spec.family, message.as_bytes())
        .map(|h| format!(" ({h})"))
        .unwrap_or_default();
    bar.set_message(format!("{} {}{hint}", spec.chain, spec.address));
    match spec.family.info().verify_message {
        None => sign_bitcoin(manifest, task, &message, device),
        Some(_) => sign_account(manifest, task, &message, device),
    }
    .map(Done::Signed)
}

/// The journal side of a run: records what each task came to, in the order results arrive.
struct Run<'r, F: Fn(DeviceError, usize) -> CeremonyError> {
    journal: &'r mut Journal,
    summary: &'r mut SignSummary,
    opts: &'r SignOptions,
    bar: &'r indicatif::ProgressBar,
    device_err: &'r F,
    resume: &'r str,
    /// Records settled but not yet written ([`Run::flush`] writes them with one sync).
    pending: Vec<Record>,
    /// How many of `pending` are signatures.
    pending_signed: usize,
}

impl<F: Fn(DeviceError, usize) -> CeremonyError> Run<'_, F> {
    /// How many addresses of each account the device shows.
    fn show(&self) -> usize {
        self.opts.show_addresses.unwrap_or(DEFAULT_SHOW_ADDRESSES)
    }

    fn interrupted(&self) -> bool {
        self.opts
            .interrupt
            .as_ref()
            .is_some_and(|f| f.load(Ordering::SeqCst))
    }

    fn interruption(&self) -> CeremonyError {
        CeremonyError::Interrupted {
            signed: self.summary.signed_now,
            resume: self.resume.to_string(),
        }
    }

    /// Writes the settled records to the journal with one sync: when this returns Ok they are
    /// durable.
    fn flush(&mut self) -> Result<(), CeremonyError> {
        self.journal.append_all(&self.pending)?;
        self.pending.clear();
        self.summary.signed_now += std::mem::take(&mut self.pending_signed);
        Ok(())
    }

    /// Settles a task's outcome (its record waits for [`Run::flush`]); `Err` stops the run.
    fn settle(
        &mut self,
        task: &Work<'_>,
        outcome: Result<Done, Step>,
    ) -> Result<(), CeremonyError> {
        self.bar.inc(1);
        let key = task.key();
        match outcome {
            Ok(Done::Signed(record)) => {
                self.pending.push(Record::Signed(record));
                self.pending_signed += 1;
                Ok(())
            }
            Ok(Done::Unsupported(why)) => {
                self.summary.unsupported.push(format!("{key}: {why}"));
                Ok(())
            }
            Err(Step::Device(DeviceError::Rejected(what))) => {
                self.pending.push(Record::Rejected(RejectedRecord::new(
                    &key,
                    format!("rejected on the device while {what}"),
                )));
                self.summary.rejected += 1;
                let resume = self.resume.to_string();
                match (self.opts.on_reject, task) {
                    (OnReject::Continue, _) => Ok(()),
                    (OnReject::Stop, Work::Address(t)) => Err(CeremonyError::Rejected {
                        entry: t.spec.index,
                        address: t.spec.address.clone(),
                        resume,
                    }),
                    (OnReject::Stop, Work::Account(t)) => Err(CeremonyError::AccountRejected {
                        account: t.account.label(),
                        resume,
                    }),
                }
            }
            Err(Step::Device(e)) => Err((self.device_err)(
                e,
                // The pending signatures are written before the run stops.
                self.summary.signed_now + self.pending_signed,
            )),
            Err(Step::Stop(e)) => Err(e),
        }
    }

    /// One task after another on the device, each record durable before the next prompt.
    fn sequential(
        &mut self,
        manifest: &Manifest,
        todo: &[&Work<'_>],
        device: &mut dyn Signer,
    ) -> Result<(), CeremonyError> {
        for task in todo {
            if self.interrupted() {
                return Err(self.interruption());
            }
            let outcome = sign_task(manifest, task, device, self.bar, self.show());
            let settled = self.settle(task, outcome);
            self.flush()?;
            settled?;
        }
        Ok(())
    }

    /// The tasks shared among `workers` (one thread each, each its own session on the device);
    /// this thread alone writes the journal, one sync for all the results that arrived while
    /// the last sync ran (no person waits on a prompt). After the first error no new task
    /// starts, and every signature already made is still journaled: nothing is lost.
    fn parallel(
        &mut self,
        manifest: &Manifest,
        todo: &[&Work<'_>],
        workers: Vec<Box<dyn Signer + Send>>,
    ) -> Result<(), CeremonyError> {
        let show = self.show();
        let next = Mutex::new(todo.iter());
        let stop = AtomicBool::new(false);
        let mut first_error = None;
        let mut settled = 0;
        std::thread::scope(|scope| {
            let (tx, rx) = mpsc::channel();
            for mut worker in workers {
                let (tx, next, stop, bar) = (tx.clone(), &next, &stop, self.bar);
                let interrupt = self.opts.interrupt.clone();
                scope.spawn(move || loop {
                    if stop.load(Ordering::SeqCst)
                        || interrupt.as_ref().is_some_and(|f| f.load(Ordering::SeqCst))
                    {
                        break;
                    }
                    let Some(task) = next.lock().unwrap_or_else(|e| e.into_inner()).next() else {
                        break;
                    };
                    let outcome = sign_task(manifest, task, worker.as_mut(), bar, show);
                    if tx.send((*task, outcome)).is_err() {
                        break;
                    }
                });
            }
            drop(tx);
            while let Ok(first) = rx.recv() {
                for (task, outcome) in std::iter::once(first).chain(rx.try_iter()) {
                    settled += 1;
                    if first_error.is_none() {
                        if let Err(e) = self.settle(task, outcome) {
                            stop.store(true, Ordering::SeqCst);
                            first_error = Some(e);
                        }
                    } else if let Ok(Done::Signed(record)) = outcome {
                        // Signed by another session before it saw the stop: keep it.
                        self.pending.push(Record::Signed(record));
                        self.pending_signed += 1;
                    }
                }
                if let Err(e) = self.flush() {
                    stop.store(true, Ordering::SeqCst);
                    first_error = Some(e);
                    break;
                }
            }
        });
        match first_error {
            Some(e) => Err(e),
            None if settled < todo.len() => Err(self.interruption()),
            None => Ok(()),
        }
    }
}

enum Step {
    Device(DeviceError),
    Stop(CeremonyError),
}

impl From<DeviceError> for Step {
    fn from(e: DeviceError) -> Step {
        Step::Device(e)
    }
}

fn mismatch(task: &SigningTask<'_>, derived: String) -> Step {
    Step::Stop(CeremonyError::AddressMismatch {
        entry: task.spec.index,
        chain: task.spec.chain.clone(),
        address: task.key_address().to_string(),
        derived,
        path: task.key().path,
    })
}

fn bad_signature(task: &SigningTask<'_>, reason: impl ToString) -> Step {
    Step::Stop(CeremonyError::BadSignature {
        entry: task.spec.index,
        address: task.spec.address.clone(),
        reason: reason.to_string(),
    })
}

fn sign_bitcoin(
    manifest: &Manifest,
    task: &SigningTask<'_>,
    message: &str,
    device: &mut dyn Signer,
) -> Result<SignedRecord, Step> {
    let spec = task.spec;
    let st = spec.script_type.ok_or_else(|| {
        Step::Stop(CeremonyError::Refused(format!(
            "entry {} has no script type",
            spec.index
        )))
    })?;
    let address: Address = spec
        .address
        .parse::<Address<NetworkUnchecked>>()
        .map_err(|e| bad_signature(task, e))?
        .assume_checked();
    let pubkey_hex;
    if let Some(expected) = task.expected_pubkey {
        // A multisig cosigner: the device must hold the manifest's key at this path (the
        // manifest check already proved the script of these keys hashes to the address).
        let xpub = device.extended_pubkey(ChainFamily::Bitcoin, task.path, false)?;
        let actual = bitcoin::PublicKey::new(xpub.public_key);
        if actual.inner != expected.inner {
            return Err(mismatch(task, format!("the key {actual}")));
        }
        // Have the device derive and show the multisig address itself, where it can.
        if let Some(derived) = device.derive_address(manifest, task, true)? {
            if derived != spec.address {
                return Err(mismatch(task, derived));
            }
        }
        if device.signs_bip322(manifest, task)? {
            return sign_bip322_share(manifest, task, &address, message, device, &expected);
        }
        pubkey_hex = Some(expected.to_string());
    } else {
        match device.derive_address(manifest, task, true)? {
            Some(derived) if derived == spec.address => {}
            Some(derived) => return Err(mismatch(task, derived)),
            None => {
                return Err(Step::Stop(CeremonyError::Refused(format!(
                    "entry {}: the device cannot derive {} itself; refusing to sign",
                    spec.index, spec.address
                ))))
            }
        }
        if st == ScriptType::P2tr {
            // No BIP-322 message signing on the devices: they sign the `to_sign` PSBT.
            return sign_bip322_p2tr(manifest, task, &address, message, device);
        }
        if matches!(st, ScriptType::P2wpkh | ScriptType::P2shP2wpkh)
            && device.signs_bip322(manifest, task)?
        {
            return sign_bip322_single(manifest, task, &address, message, device);
        }
        pubkey_hex = None;
    }
    let sig = device.sign_message(&SigningKey::of_task(task), message.as_bytes())?;
    if let Some(expected) = task.expected_pubkey {
        let (key, _) = schemes::bip137::recover_bip137(message.as_bytes(), &sig)
            .map_err(|e| bad_signature(task, e))?;
        if key != expected.inner {
            return Err(bad_signature(
                task,
                "it recovers to another key than the cosigner's",
            ));
        }
    } else {
        schemes::bip137::verify_bip137(&address, message.as_bytes(), &sig)
            .map_err(|e| bad_signature(task, e))?;
    }
    Ok(SignedRecord::new(
        &task.key(),
        Scheme::Bip137,
        sig,
        pubkey_hex,
        message,
    ))
}

/// The task's BIP-322 `to_sign` PSBT, signed by the device.
fn device_signed_psbt(
    manifest: &Manifest,
    task: &SigningTask<'_>,
    address: &Address,
    message: &str,
    device: &mut dyn Signer,
) -> Result<bitcoin::Psbt, Step> {
    let spk = address.script_pubkey();
    let mut psbt = bip322_psbt(manifest, task.spec, &spk, message.as_bytes());
    device.sign_psbt(manifest, task, &mut psbt)?;
    Ok(psbt)
}

/// Checks a finished BIP-322 signature with the verifier: it must verify for the address and
/// message, in the form (`full` or simple) it was made in.
fn read_back(
    task: &SigningTask<'_>,
    address: &Address,
    message: &str,
    sig: &str,
    full: bool,
) -> Result<(), Step> {
    match schemes::verify_bip322(address, message.as_bytes(), sig) {
        Ok(schemes::Bip322Kind::Full { .. }) if full => Ok(()),
        Ok(schemes::Bip322Kind::Simple) if !full => Ok(()),
        Ok(other) => Err(bad_signature(task, format!("read back as {other:?}"))),
        Err(e) => Err(bad_signature(task, e)),
    }
}

/// A BIP-322 simple signature for a single-key P2TR (BIP-86) address: the device signs the
/// `to_sign` PSBT, the host puts the Schnorr signature in the witness and checks the result
/// with the BIP-322 verifier.
fn sign_bip322_p2tr(
    manifest: &Manifest,
    task: &SigningTask<'_>,
    address: &Address,
    message: &str,
    device: &mut dyn Signer,
) -> Result<SignedRecord, Step> {
    let psbt = device_signed_psbt(manifest, task, address, message, device)?;
    let signature = psbt.inputs[0].tap_key_sig.ok_or_else(|| {
        bad_signature(
            task,
            "the device yielded no taproot key-path signature for the to_sign input",
        )
    })?;
    let mut to_sign = psbt.unsigned_tx;
    to_sign.input[0].witness = bitcoin::Witness::from_slice(&[signature.to_vec()]);
    let sig = schemes::encode_bip322_signature(&to_sign, schemes::Bip322Format::Simple);
    read_back(task, address, message, &sig, false)?;
    Ok(SignedRecord::new(
        &task.key(),
        Scheme::Bip322Simple,
        sig,
        None,
        message,
    ))
}

/// The one ECDSA signature a device put in input 0 of a signed `to_sign` PSBT.
fn only_partial_signature(
    task: &SigningTask<'_>,
    psbt: &bitcoin::Psbt,
) -> Result<(bitcoin::PublicKey, Vec<u8>), Step> {
    let sigs = &psbt.inputs[0].partial_sigs;
    match (sigs.iter().next(), sigs.len()) {
        (Some((k, s)), 1) => Ok((*k, s.to_vec())),
        (_, n) => Err(bad_signature(
            task,
            format!("the device yielded {n} ECDSA signatures for the to_sign input, not one"),
        )),
    }
}

/// A BIP-322 signature for a single-key P2WPKH (simple) or P2SH-P2WPKH (full) address: the
/// device signs the `to_sign` PSBT, the host finalizes the witness (and scriptSig) and checks
/// the result with the BIP-322 verifier.
fn sign_bip322_single(
    manifest: &Manifest,
    task: &SigningTask<'_>,
    address: &Address,
    message: &str,
    device: &mut dyn Signer,
) -> Result<SignedRecord, Step> {
    let psbt = device_signed_psbt(manifest, task, address, message, device)?;
    let (key, sig) = only_partial_signature(task, &psbt)?;
    let st = task.spec.script_type.unwrap_or(ScriptType::P2wpkh);
    let spend = schemes::Bip322Spend::SingleKey {
        script_type: st,
        pubkey: &key,
    };
    let proof = schemes::finalize_bip322(&spend, message.as_bytes(), &[(key, sig)])
        .map_err(|e| bad_signature(task, e))?;
    let (scheme, want_full) = match spend.format() {
        schemes::Bip322Format::Simple => (Scheme::Bip322Simple, false),
        schemes::Bip322Format::Full { .. } => (Scheme::Bip322Full, true),
    };
    read_back(task, address, message, &proof, want_full)?;
    Ok(SignedRecord::new(&task.key(), scheme, proof, None, message))
}

/// A multisig cosigner's share of a BIP-322 signature: the device signs the `to_sign` PSBT
/// through the registered wallet policy, and its partial signature is checked (the
/// cosigner's key, strict DER, low-S, SIGHASH_ALL, valid for this message and address)
/// before it is journaled; `package` finalizes the witness once the threshold is reached.
fn sign_bip322_share(
    manifest: &Manifest,
    task: &SigningTask<'_>,
    address: &Address,
    message: &str,
    device: &mut dyn Signer,
    expected: &bitcoin::PublicKey,
) -> Result<SignedRecord, Step> {
    let (Some(ms), Some(st)) = (&task.spec.multisig, task.spec.script_type) else {
        return Err(bad_signature(task, "not a multisig address"));
    };
    let psbt = device_signed_psbt(manifest, task, address, message, device)?;
    let sigs = &psbt.inputs[0].partial_sigs;
    let sig = sigs.get(expected).ok_or_else(|| {
        let keys: Vec<String> = sigs.keys().map(ToString::to_string).collect();
        bad_signature(
            task,
            format!(
                "the device yielded no signature by the cosigner's key {expected} (keys: {})",
                if keys.is_empty() {
                    "none".into()
                } else {
                    keys.join(", ")
                }
            ),
        )
    })?;
    let spend = schemes::Bip322Spend::Multisig {
        script_type: st,
        script: ms.script.as_bytes(),
    };
    let bytes = sig.to_vec();
    schemes::check_partial_signature(&spend, message.as_bytes(), expected, &bytes)
        .map_err(|e| bad_signature(task, format!("its BIP-322 partial signature {e}")))?;
    Ok(SignedRecord::new(
        &task.key(),
        Scheme::Bip322Partial,
        hex::encode(bytes),
        Some(expected.to_string()),
        message,
    ))
}

/// An address of an account-model family (EVM, TRON): the device derives (and shows) it,
/// signs the message in the family's scheme, and the signature must recover to the address.
fn sign_account(
    manifest: &Manifest,
    task: &SigningTask<'_>,
    message: &str,
    device: &mut dyn Signer,
) -> Result<SignedRecord, Step> {
    let spec = task.spec;
    let info = spec.family.info();
    let address = task.key_address();
    let same = |derived: &str| match info.case_insensitive_addresses {
        true => derived.eq_ignore_ascii_case(address),
        false => derived == address,
    };
    match device.derive_address(manifest, task, true)? {
        Some(derived) if same(&derived) => {}
        Some(derived) => return Err(mismatch(task, derived)),
        None => {
            return Err(Step::Stop(CeremonyError::Refused(format!(
                "entry {}: the device cannot derive {address} itself; refusing to sign",
                spec.index
            ))))
        }
    }
    let sig = device.sign_message(&SigningKey::of_task(task), message.as_bytes())?;
    if let Some(verify_message) = info.verify_message {
        verify_message(address, message.as_bytes(), &sig).map_err(|e| bad_signature(task, e))?;
    }
    let scheme = info.message_scheme;
    Ok(SignedRecord::new(&task.key(), scheme, sig, None, message))
}

fn progress_bar(show: bool, total: u64) -> indicatif::ProgressBar {
    if !show || total == 0 {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(total),
        indicatif::ProgressDrawTarget::stderr(),
    );
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "signing {bar:40} {pos}/{len} ETA {eta} {wide_msg}",
        )
        .expect("valid template"),
    );
    bar
}

/// The journal path used when none is given: next to the manifest, named after the signer.
pub fn default_journal(manifest: &Manifest, signer: &str) -> PathBuf {
    let dir = manifest
        .file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    dir.join(format!("journal-{signer}.jsonl"))
}
