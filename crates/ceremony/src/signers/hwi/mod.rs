//! A hardware wallet driven through HWI (Bitcoin Core's Hardware Wallet Interface, PyPI `hwi`):
//! Trezor, KeepKey, BitBox02, Blockstream Jade, Coldcard and Ledger, behind [`Signer`].
//!
//! The device is found once per run (by `device_type` + `device_path`, or by enumerating and
//! matching the manifest's fingerprint), its master fingerprint read before anything is signed;
//! `getxpub` gives account and cosigner keys (each hardened prefix once per run, the unhardened
//! rest derived on the host), `displayaddress` has the device show each address, and each
//! address is proven by the route [`devices::route`] gives its device type and script type: the
//! BIP-322 `to_sign` PSBT through `signtx`, or a legacy `signmessage`. The ceremony checks every
//! answer before it is journaled, exactly as a Ledger's.
//!
//! HWI runs as one Python process using hwilib for the whole run when the HWI program is a
//! pip-installed script (its `#!` line names the interpreter), else as one `hwi` process per
//! call ([`process`]); both kill a call that outlives the manifest's timeout.

pub mod devices;
pub mod process;
pub mod reply;

pub use devices::{Route, TaskShape};
pub use process::{Backend, Call, PerCall, Session, Target};
pub use reply::HwiError;

use super::DeviceError;
use crate::manifest::{AccountMultisig, AddressSpec, HwiConfig, Manifest, SigningTask};
use crate::signer::{AccountAddressRef, Signer, SigningKey};
use bitcoin::bip32::{ChildNumber, DerivationPath, Fingerprint, Xpub};
use bitcoin::Psbt;
use por_attest_verify::chains::{ChainFamily, Network, ScriptType};
use serde_json::Value;
use std::collections::HashMap;
use std::str::FromStr;

/// How HWI is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HwiMode {
    /// One hwilib process for the run when the program is a pip-installed Python script,
    /// otherwise one process per call.
    #[default]
    Auto,
    /// One HWI process per call, always.
    PerCall,
}

/// A device behind HWI (see the module documentation).
pub struct HwiSigner {
    backend: Box<dyn Backend>,
    /// HWI's device type (`ledger`, `trezor`, ...; a model's type before its `_`).
    kind: String,
    bip322_allowed: bool,
    /// The master fingerprint, once known (enumeration gives it).
    fingerprint: Option<Fingerprint>,
    /// Extended keys read this run, by path.
    xpubs: HashMap<DerivationPath, Xpub>,
    confirmations: u64,
    calls: u64,
}

/// HWI's `--chain` for a network.
fn chain_of(network: Network) -> process::Chain {
    match network {
        Network::Mainnet => "main",
        Network::Testnet => "test",
        Network::Signet => "signet",
        Network::Regtest => "regtest",
    }
}

/// HWI's spelling of a path: `m/84h/0h/0h/0/5`.
pub fn hwi_path(path: &DerivationPath) -> String {
    let mut s = String::from("m");
    for c in path {
        match c {
            ChildNumber::Hardened { index } => s.push_str(&format!("/{index}h")),
            ChildNumber::Normal { index } => s.push_str(&format!("/{index}")),
        }
    }
    s
}

/// HWI's `--addr-type` of a single-key script type.
fn addr_type(st: ScriptType) -> Option<&'static str> {
    Some(match st {
        ScriptType::P2pkh => "legacy",
        ScriptType::P2shP2wpkh => "sh_wit",
        ScriptType::P2wpkh => "wit",
        ScriptType::P2tr => "tap",
        _ => return None,
    })
}

/// A multisig descriptor over `keys` (origin fingerprint, origin path, xpub) at `relative`
/// below each, as HWI's `displayaddress --desc` takes it.
fn multisig_descriptor(
    st: ScriptType,
    threshold: u32,
    sorted: bool,
    keys: &[(Fingerprint, &DerivationPath, Xpub)],
    relative: &[u32],
) -> Option<String> {
    let tail: String = relative.iter().map(|s| format!("/{s}")).collect();
    let keys: Vec<String> = keys
        .iter()
        .map(|(fp, origin, xpub)| {
            let origin = hwi_path(origin);
            format!("[{fp}{}]{xpub}{tail}", &origin[1..])
        })
        .collect();
    let multi = if sorted { "sortedmulti" } else { "multi" };
    let inner = format!("{multi}({threshold},{})", keys.join(","));
    Some(match st {
        ScriptType::P2wsh => format!("wsh({inner})"),
        ScriptType::P2sh => format!("sh({inner})"),
        ScriptType::P2shP2wsh => format!("sh(wsh({inner}))"),
        _ => return None,
    })
}

/// The descriptor of a manifest multisig address, when every cosigner is an xpub with its
/// origin (the signer's fingerprint and the origin path) and the address sits at
/// `change/index` below them.
fn address_descriptor(manifest: &Manifest, spec: &AddressSpec) -> Option<String> {
    let ms = spec.multisig.as_ref()?;
    let relative: Vec<u32> = ms
        .child
        .as_ref()?
        .into_iter()
        .map(|c| u32::from(*c))
        .collect();
    if !matches!(relative.as_slice(), [0 | 1, i] if *i < 0x8000_0000) {
        return None;
    }
    let mut keys = Vec::with_capacity(ms.cosigners.len());
    for c in &ms.cosigners {
        let fp = manifest.signer(c.signer.as_deref()?)?.fingerprint?;
        keys.push((fp, c.origin_path.as_ref()?, c.xpub?));
    }
    multisig_descriptor(spec.script_type?, ms.threshold, ms.sorted, &keys, &relative)
}

/// The descriptor of an account's multisig address at `relative`.
fn account_descriptor(st: ScriptType, ms: &AccountMultisig, relative: &[u32]) -> Option<String> {
    let keys: Vec<_> = ms
        .cosigners
        .iter()
        .map(|c| (c.fingerprint, &c.origin_path, c.xpub))
        .collect();
    multisig_descriptor(st, ms.threshold, ms.sorted, &keys, relative)
}

impl From<HwiError> for DeviceError {
    fn from(e: HwiError) -> DeviceError {
        match &e {
            HwiError::Failed {
                command, message, ..
            } if e.is_rejection() => DeviceError::Rejected(format!("{command} ({message})")),
            _ => DeviceError::Hwi(Box::new(e)),
        }
    }
}

/// The network an `hwi` signer's tasks are on (HWI speaks one chain per run).
fn signer_network(manifest: &Manifest, id: &str) -> Result<Network, HwiError> {
    let mut networks: Vec<Network> = manifest
        .tasks_for(id)
        .map(|t| t.spec.network)
        .chain(manifest.account_tasks_for(id).map(|t| t.account.network))
        .collect();
    networks.sort_by_key(|n| chain_of(*n));
    networks.dedup();
    match networks.as_slice() {
        [] => Ok(Network::Mainnet),
        [one] => Ok(*one),
        several => Err(HwiError::Failed {
            command: format!("signer `{id}`"),
            code: 0,
            message: format!(
                "its addresses are on several networks ({}); HWI works on one chain per run: give each network its own signer",
                several.iter().map(|n| chain_of(*n)).collect::<Vec<_>>().join(", ")
            ),
        }),
    }
}

impl HwiSigner {
    /// Opens the manifest's `hwi` signer `id`: starts HWI as `mode` says and finds the device
    /// (by its type and path, or by enumerating and matching the manifest's fingerprint).
    pub fn open(manifest: &Manifest, id: &str, mode: HwiMode) -> Result<HwiSigner, HwiError> {
        let not_hwi = || HwiError::Failed {
            command: format!("signer `{id}`"),
            code: 0,
            message: "the manifest has no hwi signer of this id".into(),
        };
        let signer = manifest.signer(id).ok_or_else(not_hwi)?;
        let config = signer.hwi.as_ref().ok_or_else(not_hwi)?;
        let chain = chain_of(signer_network(manifest, id)?);
        let program = config.program();
        let python = match mode {
            HwiMode::Auto => process::python_of(&program),
            HwiMode::PerCall => None,
        };
        let session = python.and_then(|py| Session::start(&py, chain, config.timeout()).ok());
        let backend: Box<dyn Backend> = match session {
            Some(s) => Box::new(s),
            None => Box::new(PerCall::new(program, chain, config.timeout())),
        };
        HwiSigner::with_backend(backend, config, signer.fingerprint)
    }

    /// A signer over `backend`, finding the device `config` names (see [`HwiSigner::open`]).
    pub fn with_backend(
        mut backend: Box<dyn Backend>,
        config: &HwiConfig,
        expected: Option<Fingerprint>,
    ) -> Result<HwiSigner, HwiError> {
        let (target, fingerprint) = match (&config.device_type, &config.device_path) {
            (Some(t), Some(p)) => (
                Target {
                    device_type: t.clone(),
                    device_path: p.clone(),
                },
                None,
            ),
            _ => find_device(backend.as_mut(), config.device_type.as_deref(), expected)?,
        };
        backend.open(&target)?;
        let kind = target
            .device_type
            .split('_')
            .next()
            .unwrap_or_default()
            .to_string();
        let mut signer = HwiSigner {
            backend,
            kind,
            bip322_allowed: config.bip322 != Some(false),
            fingerprint,
            xpubs: HashMap::new(),
            confirmations: 0,
            calls: 0,
        };
        if signer.fingerprint.is_none() {
            // Read now: a program that does not run or a device that does not answer is an
            // error of opening, before the journal is touched.
            let call = Call::Fingerprint;
            let v = signer.backend.call(&call)?;
            let label = signer.backend.label(&call);
            let text = reply::string_field(&label, &v, "fingerprint")?;
            let f = Fingerprint::from_str(&text).map_err(|e| HwiError::Garbage {
                command: label,
                detail: e.to_string(),
                excerpt: reply::excerpt(&text),
            })?;
            signer.fingerprint = Some(f);
        }
        Ok(signer)
    }

    /// How HWI runs for this signer, for the operator.
    pub fn describe(&self) -> String {
        format!("{} device, {}", self.kind, self.backend.describe())
    }

    /// HWI calls made through this signer so far (opening it not counted).
    pub fn calls(&self) -> u64 {
        self.calls
    }

    fn call(&mut self, call: &Call) -> Result<Value, DeviceError> {
        self.calls += 1;
        let r = self.backend.call(call);
        if call.prompts() && (r.is_ok() || r.as_ref().is_err_and(HwiError::is_rejection)) {
            self.confirmations += 1;
        }
        Ok(r?)
    }

    fn string(&mut self, call: &Call, field: &str) -> Result<String, DeviceError> {
        let v = self.call(call)?;
        Ok(reply::string_field(&self.backend.label(call), &v, field)?)
    }

    /// The extended key at `path` as the device exports it (read once per run), checked to be
    /// the key of that path.
    fn xpub(&mut self, path: &DerivationPath) -> Result<Xpub, DeviceError> {
        if let Some(x) = self.xpubs.get(path) {
            return Ok(*x);
        }
        let call = Call::GetXpub(hwi_path(path));
        let text = self.string(&call, "xpub")?;
        let label = self.backend.label(&call);
        let xpub = Xpub::from_str(&text).map_err(|e| DeviceError::bad_reply(&label, e))?;
        let steps: &[ChildNumber] = path.as_ref();
        let last = steps
            .last()
            .copied()
            .unwrap_or(ChildNumber::Normal { index: 0 });
        if usize::from(xpub.depth) != steps.len() || xpub.child_number != last {
            return Err(DeviceError::bad_reply(
                &label,
                format!(
                    "the key is at depth {} child {}, not at {}",
                    xpub.depth,
                    xpub.child_number,
                    hwi_path(path)
                ),
            ));
        }
        self.xpubs.insert(path.clone(), xpub);
        Ok(xpub)
    }

    /// The extended key at `path`: the device's at the path's hardened prefix, the unhardened
    /// rest derived on the host (one export per account, not one per address).
    fn key_at(&mut self, path: &DerivationPath) -> Result<Xpub, DeviceError> {
        let steps: &[ChildNumber] = path.as_ref();
        let split = steps
            .iter()
            .rposition(ChildNumber::is_hardened)
            .map_or(0, |i| i + 1);
        let prefix = DerivationPath::from(steps[..split].to_vec());
        let base = self.xpub(&prefix)?;
        let secp = bitcoin::secp256k1::Secp256k1::verification_only();
        base.derive_pub(&secp, &steps[split..].to_vec())
            .map_err(|e| DeviceError::bad_reply("deriving a key from the device's xpub", e))
    }

    /// The task's route; `manifest` (the cosigners' fingerprints) decides whether a multisig
    /// wallet is complete, and without it the wallet is taken as complete (which changes only
    /// the PSBT-or-message choice, never whether the task can be signed at all).
    fn route(&self, manifest: Option<&Manifest>, task: &SigningTask<'_>) -> Route {
        let Some(st) = task.spec.script_type else {
            return Route::Unsupported("the entry has no script type".into());
        };
        let multisig = task.spec.multisig.is_some();
        let steps: Vec<u32> = task.path.into_iter().map(|c| u32::from(*c)).collect();
        let complete = match manifest {
            _ if !multisig => devices::is_standard_path(&steps, st),
            Some(m) => address_descriptor(m, task.spec).is_some(),
            None => true,
        };
        devices::route(
            &self.kind,
            st,
            TaskShape {
                multisig,
                complete,
                bip322_allowed: self.bip322_allowed,
            },
        )
    }
}

/// Finds the device of fingerprint `expected` (of `device_type`, when given) among the devices
/// HWI enumerates. When none has it but exactly one device answers, that one is taken with its
/// own fingerprint, for the ceremony to refuse as the wrong device.
fn find_device(
    backend: &mut dyn Backend,
    device_type: Option<&str>,
    expected: Option<Fingerprint>,
) -> Result<(Target, Option<Fingerprint>), HwiError> {
    let list = backend.call(&Call::Enumerate)?;
    let label = backend.label(&Call::Enumerate);
    let Some(devices) = list.as_array() else {
        return Err(HwiError::Garbage {
            command: label,
            detail: "not a list of devices".into(),
            excerpt: reply::excerpt(&list.to_string()),
        });
    };
    let field = |d: &Value, f: &str| d.get(f).and_then(Value::as_str).map(str::to_string);
    let mut seen = Vec::new();
    let mut usable = Vec::new();
    for d in devices {
        let (Some(t), Some(p)) = (field(d, "type"), field(d, "path")) else {
            continue;
        };
        let model = field(d, "model").unwrap_or_else(|| t.clone());
        if device_type.is_some_and(|want| want != t && want != model) {
            continue;
        }
        let fp = field(d, "fingerprint").and_then(|f| Fingerprint::from_str(&f).ok());
        let state = match (&fp, field(d, "error")) {
            (Some(f), _) => format!("fingerprint {f}"),
            (None, Some(e)) => format!("not ready: {e}"),
            (None, None) => "no fingerprint".into(),
        };
        seen.push(format!("{model} at {p} ({state})"));
        let target = Target {
            device_type: t,
            device_path: p,
        };
        if let Some(f) = fp {
            if Some(f) == expected {
                return Ok((target, Some(f)));
            }
            usable.push((target, f));
        }
    }
    if let ([(target, f)], 1) = (usable.as_slice(), seen.len()) {
        return Ok((target.clone(), Some(*f)));
    }
    let want = expected.map(|f| f.to_string()).unwrap_or("-".into());
    Err(HwiError::Failed {
        command: label,
        code: 0,
        message: if seen.is_empty() {
            format!(
                "no device{} found; expected fingerprint {want}: plug it in and unlock it",
                device_type
                    .map(|t| format!(" of type {t}"))
                    .unwrap_or_default()
            )
        } else {
            format!(
                "no device has fingerprint {want}; found: {}",
                seen.join("; ")
            )
        },
    })
}

impl Signer for HwiSigner {
    fn master_fingerprint(&mut self) -> Result<Option<Fingerprint>, DeviceError> {
        // Read when the signer was opened (enumeration, or the device itself).
        Ok(self.fingerprint)
    }

    fn cannot_sign(&mut self, task: &SigningTask<'_>) -> Result<Option<String>, DeviceError> {
        if task.spec.family != ChainFamily::Bitcoin {
            return Ok(Some("HWI signs Bitcoin only".into()));
        }
        Ok(match self.route(None, task) {
            Route::Unsupported(why) => Some(format!("{} through HWI: {why}", self.kind)),
            _ => None,
        })
    }

    fn extended_pubkey(
        &mut self,
        family: ChainFamily,
        path: &DerivationPath,
        _display: bool,
    ) -> Result<Xpub, DeviceError> {
        if family != ChainFamily::Bitcoin {
            return Err(DeviceError::Unsupported(format!(
                "{family:?} keys through HWI (Bitcoin only)"
            )));
        }
        self.key_at(path)
    }

    fn derive_address(
        &mut self,
        manifest: &Manifest,
        task: &SigningTask<'_>,
        _display: bool,
    ) -> Result<Option<String>, DeviceError> {
        let spec = task.spec;
        let st = spec.script_type.ok_or_else(|| {
            DeviceError::Unsupported(format!("entry {} without a script type", spec.index))
        })?;
        let call = match addr_type(st) {
            Some(a) => Call::DisplayPath {
                path: hwi_path(task.path),
                addr_type: a,
            },
            None => match address_descriptor(manifest, spec) {
                Some(d) => Call::DisplayDesc(d),
                None => return Ok(None),
            },
        };
        self.string(&call, "address").map(Some)
    }

    fn sign_message(
        &mut self,
        key: &SigningKey<'_>,
        message: &[u8],
    ) -> Result<String, DeviceError> {
        if key.family != ChainFamily::Bitcoin {
            return Err(DeviceError::Unsupported(format!(
                "{:?} messages through HWI (Bitcoin only)",
                key.family
            )));
        }
        let message = String::from_utf8(message.to_vec()).map_err(|_| {
            DeviceError::Unsupported("a message that is not UTF-8 through HWI".into())
        })?;
        let call = Call::SignMessage {
            message,
            path: hwi_path(key.path),
        };
        self.string(&call, "signature")
    }

    fn signs_bip322(
        &mut self,
        manifest: &Manifest,
        task: &SigningTask<'_>,
    ) -> Result<bool, DeviceError> {
        Ok(task.spec.family == ChainFamily::Bitcoin
            && self.route(Some(manifest), task) == Route::Psbt)
    }

    fn sign_psbt(
        &mut self,
        manifest: &Manifest,
        task: &SigningTask<'_>,
        psbt: &mut Psbt,
    ) -> Result<(), DeviceError> {
        let st = task
            .spec
            .script_type
            .ok_or_else(|| DeviceError::Unsupported("a PSBT without a script type".into()))?;
        if self.route(Some(manifest), task) != Route::Psbt {
            return Err(DeviceError::Unsupported(format!(
                "a BIP-322 transaction for a {} address on a {} through HWI",
                st.as_str(),
                self.kind
            )));
        }
        if task.spec.multisig.is_none() {
            let f = self.fingerprint.unwrap_or_default();
            let key = self.key_at(task.path)?.public_key;
            if !crate::bip322_psbt::add_single_key_origin(psbt, st, key, (f, task.path.clone())) {
                return Err(DeviceError::bad_reply(
                    "signtx",
                    "our own PSBT has no input",
                ));
            }
        }
        let call = Call::SignTx(psbt.to_string());
        let label = self.backend.label(&call);
        let answer = self.call(&call)?;
        let text = reply::signed_psbt(&label, &answer)?;
        let signed = Psbt::from_str(&text).map_err(|e| DeviceError::bad_reply(&label, e))?;
        if signed.unsigned_tx != psbt.unsigned_tx {
            return Err(DeviceError::bad_reply(
                &label,
                "the signed PSBT is another transaction than the one sent",
            ));
        }
        let (Some(ours), Some(theirs)) = (psbt.inputs.first_mut(), signed.inputs.first()) else {
            return Err(DeviceError::bad_reply(
                &label,
                "the signed PSBT has no input",
            ));
        };
        ours.partial_sigs
            .extend(theirs.partial_sigs.iter().map(|(k, s)| (*k, *s)));
        if theirs.tap_key_sig.is_some() {
            ours.tap_key_sig = theirs.tap_key_sig;
        }
        Ok(())
    }

    fn show_account_address(
        &mut self,
        a: &AccountAddressRef<'_>,
    ) -> Result<Option<String>, DeviceError> {
        let (ChainFamily::Bitcoin, Some(st)) = (a.family, a.script_type) else {
            return Ok(None);
        };
        let call = match (a.multisig, addr_type(st)) {
            (None, Some(t)) => {
                let relative: Vec<ChildNumber> =
                    a.relative.iter().map(|s| ChildNumber::from(*s)).collect();
                Call::DisplayPath {
                    path: hwi_path(&a.account_path.extend(&relative)),
                    addr_type: t,
                }
            }
            (Some(ms), None) if matches!(a.relative, [0 | 1, _]) => {
                match account_descriptor(st, ms, a.relative) {
                    Some(d) => Call::DisplayDesc(d),
                    None => return Ok(None),
                }
            }
            _ => return Ok(None),
        };
        self.string(&call, "address").map(Some)
    }

    fn confirmations(&self) -> u64 {
        self.confirmations
    }
}
