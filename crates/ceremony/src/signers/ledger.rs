//! A Ledger device with its Bitcoin, Ethereum and Tron apps, behind the [`Signer`] interface:
//! it opens the app each task needs, spells default wallets and multisig wallet policies the
//! way the open Bitcoin app version knows them, registers each multisig wallet once per run,
//! and has the apps derive, show and sign.

use super::bitcoin_app::DefaultWallet;
use super::{dashboard, ensure_app, wire_path, AppKind, BitcoinApp, DeviceError};
use super::{EthereumApp, TronApp};
use crate::manifest::{AddressSpec, Manifest, SigningTask};
use crate::signer::{Signer, SigningKey};
use crate::transport::Exchange;
use bitcoin::bip32::{ChildNumber, DerivationPath, Fingerprint, Xpub};
use bitcoin::Psbt;
use firmware_messages::bitcoin::policy::{KeyInfo, PolicyVersion, WalletPolicy};
use firmware_messages::bitcoin::psbt::PartialSignature;
use por_attest_verify::chains::{ChainFamily, ScriptType};
use por_attest_verify::schemes;
use sha2::Digest;
use std::collections::HashMap;

/// A Ledger reached through `T` (USB HID, Speculos or the simulator over TCP, in-process).
pub struct LedgerSigner<T: Exchange> {
    transport: T,
    /// The app this run last opened (apps are switched only when the family changes).
    open: Option<AppKind>,
    /// The Bitcoin app's version, once it has been opened.
    bitcoin_version: String,
    /// The master fingerprint, once read.
    fingerprint: Option<Fingerprint>,
    /// Multisig wallet policies registered during this run, by wallet id, with their HMACs
    /// (registration asks the user once per wallet).
    registered: HashMap<[u8; 32], [u8; 32]>,
    /// The default wallet of the last single-key Bitcoin address derived, by its path (the
    /// PSBT that follows needs its account key).
    last_wallet: Option<(DerivationPath, DefaultWallet)>,
}

impl<T: Exchange> LedgerSigner<T> {
    /// A Ledger over `transport`, whatever app is open on it now.
    pub fn new(transport: T) -> Self {
        LedgerSigner {
            transport,
            open: None,
            bitcoin_version: String::new(),
            fingerprint: None,
            registered: HashMap::new(),
            last_wallet: None,
        }
    }

    /// The transport back.
    pub fn into_inner(self) -> T {
        self.transport
    }

    /// Opens `app` unless this run has it open already.
    fn open(&mut self, app: AppKind) -> Result<(), DeviceError> {
        if self.open != Some(app) {
            let version = ensure_app(&mut self.transport, app)?;
            if app == AppKind::Bitcoin {
                self.bitcoin_version = version;
            }
            self.open = Some(app);
        }
        Ok(())
    }

    fn bitcoin(&mut self) -> Result<BitcoinApp<&mut T>, DeviceError> {
        self.open(AppKind::Bitcoin)?;
        Ok(BitcoinApp::for_app_version(
            &mut self.transport,
            &self.bitcoin_version,
        ))
    }

    /// The master fingerprint (read once per run).
    fn fingerprint(&mut self) -> Result<Fingerprint, DeviceError> {
        if let Some(f) = self.fingerprint {
            return Ok(f);
        }
        let f = self.bitcoin()?.master_fingerprint()?;
        self.fingerprint = Some(f);
        Ok(f)
    }

    fn default_wallet(
        &mut self,
        script_type: ScriptType,
        path: &DerivationPath,
    ) -> Result<DefaultWallet, DeviceError> {
        if let Some((p, w)) = &self.last_wallet {
            if p == path
                && w.policy
                    .descriptor_template
                    .starts_with(policy_head(script_type))
            {
                return Ok(w.clone());
            }
        }
        let f = self.fingerprint()?;
        let wallet = self.bitcoin()?.default_wallet(f, script_type, path)?;
        self.last_wallet = Some((path.clone(), wallet.clone()));
        Ok(wallet)
    }
}

/// How a default wallet policy of `script_type` begins (`tr(`, `wpkh(`, `sh(wpkh(`, `pkh(`).
fn policy_head(script_type: ScriptType) -> &'static str {
    match script_type {
        ScriptType::P2tr => "tr(",
        ScriptType::P2wpkh => "wpkh(",
        ScriptType::P2shP2wpkh => "sh(wpkh(",
        ScriptType::P2pkh => "pkh(",
        _ => "",
    }
}

/// The app that signs for a chain family (the family table's `ledger_app`).
fn app_for(family: ChainFamily) -> AppKind {
    AppKind::of_name(family.info().ledger_app)
        .expect("the family table names Bitcoin, Ethereum or Tron")
}

/// Why the Bitcoin app at `version` cannot sign a P2TR entry's BIP-322 `to_sign`, if it
/// cannot: apps before 2.1.3 refuse its bare `OP_RETURN` output with 0x6A82 (seen on the
/// public 2.0.6 build under Speculos; `format_opscript_script` in app-bitcoin-new < 2.1.3).
fn p2tr_unsupported_by(version: &str) -> Option<String> {
    let v = dashboard::parse_version(version)?;
    (v < (2, 1, 3)).then(|| {
        format!(
            "P2TR addresses are proven by a BIP-322 transaction, which the Bitcoin app signs \
             from version 2.1.3; this device runs {version}: update the app and sign again"
        )
    })
}

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
                .map(|f| (f.to_bytes(), wire_path(path))),
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

impl<T: Exchange> Signer for LedgerSigner<T> {
    fn master_fingerprint(&mut self) -> Result<Option<Fingerprint>, DeviceError> {
        self.fingerprint().map(Some)
    }

    fn cannot_sign(&mut self, task: &SigningTask<'_>) -> Result<Option<String>, DeviceError> {
        self.open(app_for(task.spec.family))?;
        if app_for(task.spec.family) == AppKind::Bitcoin
            && task.spec.script_type == Some(ScriptType::P2tr)
        {
            return Ok(p2tr_unsupported_by(&self.bitcoin_version));
        }
        Ok(None)
    }

    fn extended_pubkey(
        &mut self,
        family: ChainFamily,
        path: &DerivationPath,
        display: bool,
    ) -> Result<Xpub, DeviceError> {
        match app_for(family) {
            AppKind::Bitcoin => self.bitcoin()?.extended_pubkey(path, display),
            _ => Err(DeviceError::Unsupported(format!(
                "exporting an extended key from the {} app",
                app_for(family).name()
            ))),
        }
    }

    fn derive_address(
        &mut self,
        manifest: &Manifest,
        task: &SigningTask<'_>,
        display: bool,
    ) -> Result<Option<String>, DeviceError> {
        let spec = task.spec;
        match app_for(spec.family) {
            AppKind::Ethereum => {
                self.open(AppKind::Ethereum)?;
                EthereumApp::new(&mut self.transport)
                    .address(task.path, display)
                    .map(Some)
            }
            AppKind::Tron => {
                self.open(AppKind::Tron)?;
                TronApp::new(&mut self.transport)
                    .address(task.path, display)
                    .map(Some)
            }
            AppKind::Bitcoin => {
                let st = spec.script_type.ok_or_else(|| {
                    DeviceError::WrongApp(format!("entry {} has no script type", spec.index))
                })?;
                if !st.is_multisig() {
                    let w = self.default_wallet(st, task.path)?;
                    return self
                        .bitcoin()?
                        .wallet_address(&w.policy, None, w.change, w.index, display)
                        .map(Some);
                }
                // A multisig address, shown through a registered wallet policy (the user
                // approves the policy and its keys once per wallet).
                let version = self.bitcoin()?.policy_version();
                let Some((policy, change, index)) = multisig_policy(manifest, spec, version) else {
                    return Ok(None);
                };
                let id = policy.id();
                let hmac = match self.registered.get(&id) {
                    Some(h) => *h,
                    None => {
                        let h = self.bitcoin()?.register_wallet(&policy)?;
                        self.registered.insert(id, h);
                        h
                    }
                };
                self.bitcoin()?
                    .wallet_address(&policy, Some(hmac), change, index, display)
                    .map(Some)
            }
        }
    }

    fn sign_message(
        &mut self,
        key: &SigningKey<'_>,
        message: &[u8],
    ) -> Result<String, DeviceError> {
        match app_for(key.family) {
            AppKind::Bitcoin => self.bitcoin()?.sign_message(key.path, message),
            AppKind::Ethereum => {
                self.open(AppKind::Ethereum)?;
                EthereumApp::new(&mut self.transport).sign_personal_message(key.path, message)
            }
            AppKind::Tron => {
                self.open(AppKind::Tron)?;
                TronApp::new(&mut self.transport).sign_personal_message(key.path, message)
            }
        }
    }

    fn sign_psbt(
        &mut self,
        _manifest: &Manifest,
        task: &SigningTask<'_>,
        psbt: &mut Psbt,
    ) -> Result<(), DeviceError> {
        let what = "signing the BIP-322 transaction";
        let st = task.spec.script_type;
        if app_for(task.spec.family) != AppKind::Bitcoin || st != Some(ScriptType::P2tr) {
            return Err(DeviceError::Unsupported(format!(
                "a BIP-322 transaction for a {} {} address on a Ledger",
                task.spec.chain,
                st.map(|s| s.as_str()).unwrap_or("-")
            )));
        }
        let f = self.fingerprint()?;
        let wallet = self.default_wallet(ScriptType::P2tr, task.path)?;
        // The app finds its key by the input's taproot internal key and its origin.
        let secp = bitcoin::secp256k1::Secp256k1::verification_only();
        let child = [wallet.change as u32, wallet.index].map(ChildNumber::from);
        let key = wallet
            .account_xpub
            .derive_pub(&secp, &child)
            .map_err(|e| DeviceError::bad_reply(what, e))?
            .public_key;
        let (internal, _) = key.x_only_public_key();
        let input = psbt
            .inputs
            .first_mut()
            .ok_or_else(|| DeviceError::bad_reply(what, "our own PSBT has no input"))?;
        input.tap_internal_key = Some(internal);
        input
            .tap_key_origins
            .insert(internal, (vec![], (f, task.path.clone())));
        let sigs = self.bitcoin()?.sign_psbt(psbt, &wallet.policy, None)?;
        for (i, sig) in sigs {
            let Some(input) = usize::try_from(i).ok().and_then(|i| psbt.inputs.get_mut(i)) else {
                return Err(DeviceError::bad_reply(
                    what,
                    format!("a signature for input {i}, which the PSBT does not have"),
                ));
            };
            match sig {
                PartialSignature::TaprootKeyPath { signature, .. } => {
                    let s = bitcoin::taproot::Signature::from_slice(&signature)
                        .map_err(|e| DeviceError::bad_reply(what, e))?;
                    input.tap_key_sig = Some(s);
                }
                PartialSignature::Ecdsa { pubkey, signature } => {
                    let k = bitcoin::PublicKey::from_slice(&pubkey)
                        .map_err(|e| DeviceError::bad_reply(what, e))?;
                    let s = bitcoin::ecdsa::Signature::from_slice(&signature)
                        .map_err(|e| DeviceError::bad_reply(what, e))?;
                    input.partial_sigs.insert(k, s);
                }
                PartialSignature::TaprootScriptPath { .. } => {
                    return Err(DeviceError::bad_reply(
                        what,
                        "a taproot script-path signature for a key-path address",
                    ))
                }
            }
        }
        Ok(())
    }

    fn message_display_hint(&self, family: ChainFamily, message: &[u8]) -> Option<String> {
        // The Tron app shows the TIP-191 hash (first and last two bytes on a Nano).
        (app_for(family) == AppKind::Tron).then(|| {
            let hash = schemes::tron::tron_message_hash(message, schemes::tron::TronVersion::V2);
            format!(
                "device shows message hash {}",
                firmware_messages::tron::hash_screen_text(&hash, true)
            )
        })
    }
}
