//! `por-attest sign`: the custody team's ceremony on one device. For each address this device
//! holds: the device derives (and shows) the address, which must be the manifest's; the device
//! signs the rendered message; the signature is checked locally and appended to the journal
//! (fsync'ed) before the next prompt. Re-running resumes: what the journal holds is skipped.

use crate::journal::{Journal, JournalError, Record, RejectedRecord, SignedRecord};
use crate::manifest::{AddressSpec, Manifest, SignerKind, SigningTask};
use crate::signers::bitcoin_app::DefaultWallet;
use crate::signers::{ensure_app, AppKind, BitcoinApp, DeviceError, EthereumApp, TronApp};
use crate::transport::Exchange;
use bitcoin::address::NetworkUnchecked;
use bitcoin::bip32::ChildNumber;
use bitcoin::Address;
use firmware_messages::bitcoin::policy::{KeyInfo, PolicyVersion, WalletPolicy};
use firmware_messages::bitcoin::psbt::PartialSignature;
use por_attest_verify::chains::{ChainFamily, Scheme, ScriptType};
use por_attest_verify::schemes;
use sha2::Digest;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
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
}

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
        entry: usize,
        chain: String,
        address: String,
        derived: String,
        path: String,
    },
    /// The device's signature did not verify locally: not journaled.
    #[error("the device's signature for entry {entry} ({address}) does not verify: {reason}")]
    BadSignature {
        entry: usize,
        address: String,
        reason: String,
    },
    /// The device failed; `progress` tells what is safe, `resume` how to go on.
    #[error("{source}\n{progress}{resume}")]
    Device {
        source: DeviceError,
        progress: String,
        resume: String,
    },
    /// The user rejected a prompt and chose to stop.
    #[error("stopped: the prompt for entry {entry} ({address}) was rejected on the device (recorded in the journal).{resume}")]
    Rejected {
        entry: usize,
        address: String,
        resume: String,
    },
    /// Ctrl-C.
    #[error("interrupted: {signed} signature(s) of this run are safe in the journal.{resume}")]
    Interrupted { signed: usize, resume: String },
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
                | CeremonyError::Interrupted { .. }
        )
    }
}

/// Runs the ceremony for one device over `transport`, journaling to `journal_path`.
pub fn sign(
    manifest: &Manifest,
    journal_path: &Path,
    transport: &mut dyn Exchange,
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
    let has_btc_signers = manifest.signers.iter().any(|s| s.fingerprint.is_some());
    let mut fingerprint = None;
    let mut btc_version = String::new();
    if has_btc_signers {
        btc_version = ensure_app(transport, AppKind::Bitcoin).map_err(|e| device_err(e, 0))?;
        let f = BitcoinApp::new(&mut *transport)
            .master_fingerprint()
            .map_err(|e| device_err(e, 0))?;
        fingerprint = Some(f);
    }
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
        (None, None) => {
            return Err(CeremonyError::WrongDevice(
                "the manifest's signers have no fingerprints: name the signer with --signer".into(),
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
    let mut tasks: Vec<SigningTask<'_>> = manifest.tasks_for(&signer.id).collect();
    // Bitcoin, then EVM, then TRON: one switch per app.
    tasks.sort_by_key(|t| (app_for(t.spec.family) as u8, t.address_index));
    let mut summary = SignSummary {
        signer: signer.id.clone(),
        tasks: tasks.len(),
        warnings: journal.warnings().to_vec(),
        ..SignSummary::default()
    };
    let todo: Vec<&SigningTask<'_>> = tasks
        .iter()
        .filter(|t| {
            let done = journal.done(&t.key());
            if done {
                summary.already += 1;
            }
            !done
        })
        .collect();
    let bar = progress_bar(opts.progress, todo.len() as u64);
    let mut open_app: Option<AppKind> = None;
    let mut wallets = RegisteredWallets::default();
    for task in todo {
        if opts
            .interrupt
            .as_ref()
            .is_some_and(|f| f.load(Ordering::SeqCst))
        {
            bar.abandon();
            return Err(CeremonyError::Interrupted {
                signed: summary.signed_now,
                resume,
            });
        }
        let key = task.key();
        let spec = task.spec;
        let app = app_for(spec.family);
        if open_app != Some(app) {
            let version =
                ensure_app(transport, app).map_err(|e| device_err(e, summary.signed_now))?;
            if app == AppKind::Bitcoin {
                btc_version = version;
            }
            open_app = Some(app);
        }
        if app == AppKind::Bitcoin && spec.script_type == Some(ScriptType::P2tr) {
            if let Some(why) = p2tr_unsupported_by(&btc_version) {
                summary.unsupported.push(format!("{key}: {why}"));
                bar.inc(1);
                continue;
            }
        }
        let message = manifest.render_message(spec);
        bar.set_message(format!(
            "{} {}{}",
            spec.chain,
            spec.address,
            shown_hash(app, &message)
        ));
        let signed = match app {
            AppKind::Bitcoin => sign_bitcoin(
                manifest,
                task,
                fingerprint,
                &btc_version,
                &message,
                transport,
                &mut wallets,
            ),
            AppKind::Ethereum => sign_evm(task, &message, transport),
            AppKind::Tron => sign_tron(task, &message, transport),
        };
        let record = match signed {
            Ok(r) => r,
            Err(Step::Device(DeviceError::Rejected(what))) => {
                journal.append(&Record::Rejected(RejectedRecord::new(
                    &key,
                    format!("rejected on the device while {what}"),
                )))?;
                summary.rejected += 1;
                bar.inc(1);
                match opts.on_reject {
                    OnReject::Continue => continue,
                    OnReject::Stop => {
                        bar.abandon();
                        return Err(CeremonyError::Rejected {
                            entry: spec.index,
                            address: spec.address.clone(),
                            resume,
                        });
                    }
                }
            }
            Err(Step::Device(e)) => {
                bar.abandon();
                return Err(device_err(e, summary.signed_now));
            }
            Err(Step::Stop(e)) => {
                bar.abandon();
                return Err(e);
            }
        };
        journal.append(&Record::Signed(record))?;
        summary.signed_now += 1;
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(summary)
}

/// The app that signs for a chain family.
fn app_for(family: ChainFamily) -> AppKind {
    match family {
        ChainFamily::Bitcoin => AppKind::Bitcoin,
        ChainFamily::Evm => AppKind::Ethereum,
        ChainFamily::Tron => AppKind::Tron,
    }
}

/// What the operator compares with the device's screen when it shows a hash, not the text:
/// the TRON app shows the TIP-191 hash (first and last two bytes on a Nano).
fn shown_hash(app: AppKind, message: &str) -> String {
    match app {
        AppKind::Tron => {
            let hash = schemes::tron::tron_message_hash(
                message.as_bytes(),
                schemes::tron::TronVersion::V2,
            );
            format!(
                " (device shows message hash {})",
                firmware_messages::tron::hash_screen_text(&hash, true)
            )
        }
        AppKind::Bitcoin | AppKind::Ethereum => String::new(),
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
        address: task.spec.address.clone(),
        derived,
        path: crate::manifest::path_string(task.path),
    })
}

fn bad_signature(task: &SigningTask<'_>, reason: impl ToString) -> Step {
    Step::Stop(CeremonyError::BadSignature {
        entry: task.spec.index,
        address: task.spec.address.clone(),
        reason: reason.to_string(),
    })
}

/// Multisig wallet policies registered on the device during this run, by wallet id, with
/// their HMACs (registration asks the user once per wallet).
#[derive(Default)]
struct RegisteredWallets(HashMap<[u8; 32], [u8; 32]>);

/// The device's wallet policy for a multisig address, when every cosigner key is an xpub and
/// the address sits at `change/index` below them; `None` otherwise.
fn multisig_policy(
    manifest: &Manifest,
    spec: &AddressSpec,
    version: PolicyVersion,
) -> Option<(WalletPolicy, bool, u32)> {
    // Version 1 puts the `/**` derivation on the key, version 2 on the placeholder.
    let (key_suffix, placeholder_suffix) = match version {
        PolicyVersion::V1 => ("/**", ""),
        PolicyVersion::V2 => ("", "/**"),
    };
    let ms = spec.multisig.as_ref()?;
    let steps: Vec<ChildNumber> = ms.child.as_ref()?.into_iter().copied().collect();
    let (change, index) = match steps.as_slice() {
        [ChildNumber::Normal { index: c }, ChildNumber::Normal { index: i }] if *c <= 1 => {
            (*c == 1, *i)
        }
        _ => return None,
    };
    let mut keys = Vec::with_capacity(ms.cosigners.len());
    for c in &ms.cosigners {
        let xpub = c.xpub?;
        let origin = match (&c.signer, &c.origin_path) {
            (Some(id), Some(path)) => manifest
                .signer(id)
                .and_then(|s| s.fingerprint)
                .map(|f| (f.to_bytes(), crate::signers::wire_path(path))),
            _ => None,
        };
        keys.push(
            KeyInfo {
                origin,
                xpub: xpub.to_string(),
                suffix: key_suffix.to_string(),
            }
            .to_string(),
        );
    }
    let multi = if ms.sorted { "sortedmulti" } else { "multi" };
    let inner = format!(
        "{multi}({},{})",
        ms.threshold,
        (0..keys.len())
            .map(|i| format!("@{i}{placeholder_suffix}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    let template = match spec.script_type? {
        ScriptType::P2wsh => format!("wsh({inner})"),
        ScriptType::P2sh => format!("sh({inner})"),
        ScriptType::P2shP2wsh => format!("sh(wsh({inner}))"),
        _ => return None,
    };
    let digest = sha2::Sha256::digest(format!("{template}{keys:?}").as_bytes());
    let policy = WalletPolicy {
        version,
        name: format!(
            "PoR {}of{} {}",
            ms.threshold,
            keys.len(),
            &hex::encode(digest)[..8]
        ),
        descriptor_template: template,
        keys,
    };
    Some((policy, change, index))
}

fn sign_bitcoin(
    manifest: &Manifest,
    task: &SigningTask<'_>,
    fingerprint: Option<bitcoin::bip32::Fingerprint>,
    app_version: &str,
    message: &str,
    transport: &mut dyn Exchange,
    wallets: &mut RegisteredWallets,
) -> Result<SignedRecord, Step> {
    let spec = task.spec;
    let st = spec.script_type.ok_or_else(|| {
        Step::Stop(CeremonyError::Refused(format!(
            "entry {} has no script type",
            spec.index
        )))
    })?;
    let mut app = BitcoinApp::for_app_version(transport, app_version);
    let address: Address = spec
        .address
        .parse::<Address<NetworkUnchecked>>()
        .map_err(|e| bad_signature(task, e))?
        .assume_checked();
    let pubkey_hex;
    if let Some(expected) = task.expected_pubkey {
        // A multisig cosigner: the device must hold the manifest's key at this path (the
        // manifest check already proved the script of these keys hashes to the address).
        let xpub = app.extended_pubkey(task.path, false)?;
        let actual = bitcoin::PublicKey::new(xpub.public_key);
        if actual.inner != expected.inner {
            return Err(mismatch(task, format!("the key {actual}")));
        }
        // Have the device derive and show the multisig address itself, through a registered
        // wallet policy (the user approves the policy and its keys once per wallet).
        if let Some((policy, change, index)) = multisig_policy(manifest, spec, app.policy_version())
        {
            let id = policy.id();
            let hmac = match wallets.0.get(&id) {
                Some(h) => *h,
                None => {
                    let h = app.register_wallet(&policy)?;
                    wallets.0.insert(id, h);
                    h
                }
            };
            let derived = app.wallet_address(&policy, Some(hmac), change, index, true)?;
            if derived != spec.address {
                return Err(mismatch(task, derived));
            }
        }
        pubkey_hex = Some(expected.to_string());
    } else {
        let f = fingerprint.ok_or_else(|| {
            Step::Stop(CeremonyError::WrongDevice(
                "Bitcoin signer without a fingerprint".into(),
            ))
        })?;
        let wallet = app.default_wallet(f, st, task.path)?;
        let derived =
            app.wallet_address(&wallet.policy, None, wallet.change, wallet.index, true)?;
        if derived != spec.address {
            return Err(mismatch(task, derived));
        }
        if st == ScriptType::P2tr {
            // The app has no BIP-322 message signing: it signs the `to_sign` PSBT.
            return sign_bip322_p2tr(&mut app, task, f, &wallet, &address, message);
        }
        pubkey_hex = None;
    }
    let sig = app.sign_message(task.path, message.as_bytes())?;
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

/// A BIP-322 simple signature for a single-key P2TR (BIP-86) address: the device signs the
/// `to_sign` PSBT (TAP_BIP32_DERIVATION and TAP_INTERNAL_KEY of its key), the host puts the
/// Schnorr signature in the witness and checks the result with the BIP-322 verifier.
fn sign_bip322_p2tr<T: Exchange>(
    app: &mut BitcoinApp<T>,
    task: &SigningTask<'_>,
    fingerprint: bitcoin::bip32::Fingerprint,
    wallet: &DefaultWallet,
    address: &Address,
    message: &str,
) -> Result<SignedRecord, Step> {
    let secp = bitcoin::secp256k1::Secp256k1::verification_only();
    let child = [wallet.change as u32, wallet.index].map(ChildNumber::from);
    let key = wallet
        .account_xpub
        .derive_pub(&secp, &child)
        .map_err(|e| bad_signature(task, e))?
        .public_key;
    let (internal, _) = key.x_only_public_key();
    let mut psbt = schemes::to_sign_psbt(&address.script_pubkey(), message.as_bytes());
    psbt.inputs[0].tap_internal_key = Some(internal);
    psbt.inputs[0]
        .tap_key_origins
        .insert(internal, (vec![], (fingerprint, task.path.clone())));
    let sigs = app.sign_psbt(&psbt, &wallet.policy, None)?;
    let signature = sigs
        .into_iter()
        .find_map(|(i, s)| match s {
            PartialSignature::TaprootKeyPath { signature, .. } if i == 0 => Some(signature),
            _ => None,
        })
        .ok_or_else(|| {
            bad_signature(
                task,
                "the device yielded no taproot key-path signature for the to_sign input",
            )
        })?;
    let mut to_sign = psbt.unsigned_tx;
    to_sign.input[0].witness = bitcoin::Witness::from_slice(&[signature]);
    let sig = schemes::encode_bip322_signature(&to_sign, schemes::Bip322Format::Simple);
    match schemes::verify_bip322(address, message.as_bytes(), &sig) {
        Ok(schemes::Bip322Kind::Simple) => {}
        Ok(other) => return Err(bad_signature(task, format!("read back as {other:?}"))),
        Err(e) => return Err(bad_signature(task, e)),
    }
    Ok(SignedRecord::new(
        &task.key(),
        Scheme::Bip322Simple,
        sig,
        None,
        message,
    ))
}

/// Why the Bitcoin app at `version` cannot sign a P2TR entry's BIP-322 `to_sign`, if it
/// cannot: apps before 2.1.3 refuse its bare `OP_RETURN` output with 0x6A82 (seen on the
/// public 2.0.6 build under Speculos; `format_opscript_script` in app-bitcoin-new < 2.1.3).
fn p2tr_unsupported_by(version: &str) -> Option<String> {
    let v = crate::signers::dashboard::parse_version(version)?;
    (v < (2, 1, 3)).then(|| {
        format!(
            "P2TR addresses are proven by a BIP-322 transaction, which the Bitcoin app signs \
             from version 2.1.3; this device runs {version}: update the app and sign again"
        )
    })
}

fn sign_evm(
    task: &SigningTask<'_>,
    message: &str,
    transport: &mut dyn Exchange,
) -> Result<SignedRecord, Step> {
    let spec = task.spec;
    let mut app = EthereumApp::new(transport);
    let derived = app.address(task.path, true)?;
    if !derived.eq_ignore_ascii_case(&spec.address) {
        return Err(mismatch(task, derived));
    }
    let sig = app.sign_personal_message(task.path, message.as_bytes())?;
    schemes::evm::verify_eip191(&spec.address, message.as_bytes(), &sig)
        .map_err(|e| bad_signature(task, e))?;
    Ok(SignedRecord::new(
        &task.key(),
        Scheme::Eip191,
        sig,
        None,
        message,
    ))
}

fn sign_tron(
    task: &SigningTask<'_>,
    message: &str,
    transport: &mut dyn Exchange,
) -> Result<SignedRecord, Step> {
    let spec = task.spec;
    let mut app = TronApp::new(transport);
    let derived = app.address(task.path, true)?;
    if derived != spec.address {
        return Err(mismatch(task, derived));
    }
    let sig = app.sign_personal_message(task.path, message.as_bytes())?;
    schemes::tron::verify_tron(
        &spec.address,
        message.as_bytes(),
        &sig,
        schemes::tron::TronVersion::V2,
    )
    .map_err(|e| bad_signature(task, e))?;
    Ok(SignedRecord::new(
        &task.key(),
        Scheme::TronTip191,
        sig,
        None,
        message,
    ))
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
