//! A Ledger device with its Bitcoin, Ethereum and Tron apps, behind the [`Signer`] interface:
//! it opens the app each task needs, spells default wallets and multisig wallet policies the
//! way the open Bitcoin app version knows them, registers each multisig wallet once per run,
//! and has the apps derive, show and sign.

use super::bitcoin_app::DefaultWallet;
use super::{dashboard, ensure_app, wire_path, AppKind, BitcoinApp, DeviceError};
use super::{EthereumApp, TronApp};
use crate::manifest::{AccountMultisig, AddressSpec, Manifest, SigningTask};
use crate::signer::{AccountAddressRef, Signer, SigningKey};
use crate::transport::Exchange;
use bitcoin::bip32::{ChildNumber, DerivationPath, Fingerprint, Xpub};
use bitcoin::Psbt;
use firmware_messages::bitcoin::display::MessageScreen;
use firmware_messages::bitcoin::export::exports_silently;
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
    /// The version of each app this run has opened, as it reports it.
    versions: HashMap<AppKind, String>,
    /// The master fingerprint, once read.
    fingerprint: Option<Fingerprint>,
    /// Multisig wallet policies registered during this run, by wallet id, with their HMACs
    /// (registration asks the user once per wallet).
    registered: HashMap<[u8; 32], [u8; 32]>,
    /// The default wallet of the last single-key Bitcoin address derived, by its path (the
    /// PSBT that follows needs its account key).
    last_wallet: Option<(DerivationPath, DefaultWallet)>,
    /// Prompts the device has put before a person during this run.
    confirmations: u64,
}

impl<T: Exchange> LedgerSigner<T> {
    /// A Ledger over `transport`, whatever app is open on it now.
    pub fn new(transport: T) -> Self {
        LedgerSigner {
            transport,
            open: None,
            versions: HashMap::new(),
            fingerprint: None,
            registered: HashMap::new(),
            last_wallet: None,
            confirmations: 0,
        }
    }

    /// Counts a prompt that was answered (approved or rejected).
    fn prompted<R>(&mut self, r: Result<R, DeviceError>) -> Result<R, DeviceError> {
        if matches!(r, Ok(_) | Err(DeviceError::Rejected(_))) {
            self.confirmations += 1;
        }
        r
    }

    /// The HMAC of a registered wallet policy, registering it (a prompt) the first time.
    fn registered(&mut self, policy: &WalletPolicy) -> Result<[u8; 32], DeviceError> {
        let id = policy.id();
        if let Some(h) = self.registered.get(&id) {
            return Ok(*h);
        }
        let r = self.bitcoin()?.register_wallet(policy);
        let h = self.prompted(r)?;
        self.registered.insert(id, h);
        Ok(h)
    }

    /// The version of `app` this run opened, when it parses.
    fn version_of(&self, app: AppKind) -> Option<(u32, u32, u32)> {
        self.versions
            .get(&app)
            .and_then(|v| dashboard::parse_version(v))
    }

    /// The transport back.
    pub fn into_inner(self) -> T {
        self.transport
    }

    /// Opens `app` unless this run has it open already.
    fn open(&mut self, app: AppKind) -> Result<(), DeviceError> {
        if self.open != Some(app) {
            let version = ensure_app(&mut self.transport, app)?;
            self.versions.insert(app, version);
            self.open = Some(app);
        }
        Ok(())
    }

    fn bitcoin(&mut self) -> Result<BitcoinApp<&mut T>, DeviceError> {
        self.open(AppKind::Bitcoin)?;
        Ok(BitcoinApp::for_app_version(
            &mut self.transport,
            self.versions
                .get(&AppKind::Bitcoin)
                .map_or("", String::as_str),
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

impl<T: Exchange> LedgerSigner<T> {
    /// The Ethereum or Tron app's address at `path` (shown when `display`).
    fn account_app_address(
        &mut self,
        family: ChainFamily,
        path: &DerivationPath,
        display: bool,
    ) -> Result<String, DeviceError> {
        let app = app_for(family);
        self.open(app)?;
        if app == AppKind::Ethereum {
            EthereumApp::new(&mut self.transport).address(path, display)
        } else {
            TronApp::new(&mut self.transport).address(path, display)
        }
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

/// A cosigner key of a wallet policy: its origin (fingerprint and path), when known, and xpub.
type PolicyKey = (Option<(Fingerprint, DerivationPath)>, Xpub);

/// The device's wallet policy of a `threshold`-of-n CHECKMULTISIG over `keys` (each with its
/// receive and change branches below it), spelled for the app's policy `version`.
fn wallet_policy(
    version: PolicyVersion,
    script_type: ScriptType,
    threshold: u32,
    sorted: bool,
    keys: &[PolicyKey],
) -> Option<WalletPolicy> {
    // Version 1 puts the `/**` derivation on the key, version 2 on the placeholder.
    let (key_suffix, placeholder_suffix) = match version {
        PolicyVersion::V1 => ("/**", ""),
        PolicyVersion::V2 => ("", "/**"),
    };
    let keys: Vec<String> = keys
        .iter()
        .map(|(origin, xpub)| {
            KeyInfo {
                origin: origin.as_ref().map(|(f, p)| (f.to_bytes(), wire_path(p))),
                xpub: xpub.to_string(),
                suffix: key_suffix.to_string(),
            }
            .to_string()
        })
        .collect();
    let multi = if sorted { "sortedmulti" } else { "multi" };
    let inner = format!(
        "{multi}({threshold},{})",
        (0..keys.len())
            .map(|i| format!("@{i}{placeholder_suffix}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    let template = match script_type {
        ScriptType::P2wsh => format!("wsh({inner})"),
        ScriptType::P2sh => format!("sh({inner})"),
        ScriptType::P2shP2wsh => format!("sh(wsh({inner}))"),
        _ => return None,
    };
    let digest = sha2::Sha256::digest(format!("{template}{keys:?}").as_bytes());
    Some(WalletPolicy {
        version,
        name: format!(
            "PoR {threshold}of{} {}",
            keys.len(),
            &hex::encode(digest)[..8]
        ),
        descriptor_template: template,
        keys,
    })
}

/// `[change, index]` with change 0 or 1: the relative paths a wallet policy's `/**` reaches.
fn change_and_index(steps: &[ChildNumber]) -> Option<(bool, u32)> {
    match steps {
        [ChildNumber::Normal { index: c }, ChildNumber::Normal { index: i }] if *c <= 1 => {
            Some((*c == 1, *i))
        }
        _ => None,
    }
}

/// The device's wallet policy for a multisig address, when every cosigner key is an xpub and
/// the address sits at `change/index` below them; `None` otherwise.
fn multisig_policy(
    manifest: &Manifest,
    spec: &AddressSpec,
    version: PolicyVersion,
) -> Option<(WalletPolicy, bool, u32)> {
    let ms = spec.multisig.as_ref()?;
    let steps: Vec<ChildNumber> = ms.child.as_ref()?.into_iter().copied().collect();
    let (change, index) = change_and_index(&steps)?;
    let mut keys = Vec::with_capacity(ms.cosigners.len());
    for c in &ms.cosigners {
        let origin = match (&c.signer, &c.origin_path) {
            (Some(id), Some(path)) => manifest
                .signer(id)
                .and_then(|s| s.fingerprint)
                .map(|f| (f, path.clone())),
            _ => None,
        };
        keys.push((origin, c.xpub?));
    }
    let policy = wallet_policy(version, spec.script_type?, ms.threshold, ms.sorted, &keys)?;
    Some((policy, change, index))
}

/// The device's wallet policy of a multisig account (every cosigner with its origin).
fn account_policy(
    version: PolicyVersion,
    script_type: ScriptType,
    ms: &AccountMultisig,
) -> Option<WalletPolicy> {
    let keys: Vec<PolicyKey> = ms
        .cosigners
        .iter()
        .map(|c| (Some((c.fingerprint, c.origin_path.clone())), c.xpub))
        .collect();
    wallet_policy(version, script_type, ms.threshold, ms.sorted, &keys)
}

/// An extended public key from its parts, as BIP-32 serializes it: the parent key gives the
/// parent fingerprint, the path the depth and child number (the network is mainnet's `xpub`).
fn assemble_xpub(
    path: &DerivationPath,
    key: bitcoin::secp256k1::PublicKey,
    chain_code: [u8; 32],
    parent: bitcoin::secp256k1::PublicKey,
) -> Xpub {
    use bitcoin::hashes::{hash160, Hash};
    let steps: &[ChildNumber] = path.as_ref();
    let id = hash160::Hash::hash(&parent.serialize());
    Xpub {
        network: bitcoin::NetworkKind::Main,
        depth: steps.len() as u8,
        parent_fingerprint: Fingerprint::from(
            <[u8; 4]>::try_from(&id.as_byte_array()[..4]).expect("4 bytes"),
        ),
        child_number: *steps.last().unwrap_or(&ChildNumber::Normal { index: 0 }),
        public_key: key,
        chain_code: chain_code.into(),
    }
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
            return Ok(self
                .versions
                .get(&AppKind::Bitcoin)
                .and_then(|v| p2tr_unsupported_by(v)));
        }
        Ok(None)
    }

    fn extended_pubkey(
        &mut self,
        family: ChainFamily,
        path: &DerivationPath,
        display: bool,
    ) -> Result<Xpub, DeviceError> {
        let steps: Vec<u32> = path.into_iter().map(|c| u32::from(*c)).collect();
        match app_for(family) {
            AppKind::Bitcoin => {
                // The app exports other keys only with a key export review.
                let silent = [0, 1].iter().any(|coin| exports_silently(&steps, *coin));
                let r = self.bitcoin()?.extended_pubkey(path, display || !silent);
                if display || !silent {
                    self.prompted(r)
                } else {
                    r
                }
            }
            app => {
                // The Ethereum and Tron apps give the key and its chain code (nothing shown);
                // the parent key gives the parent fingerprint of the serialization.
                let Some(parent) = path
                    .as_ref()
                    .split_last()
                    .map(|(_, p)| DerivationPath::from(p.to_vec()))
                else {
                    return Err(DeviceError::Unsupported(
                        "exporting the master key from the Ethereum or Tron app".into(),
                    ));
                };
                self.open(app)?;
                let ((key, cc), (parent_key, _)) = if app == AppKind::Ethereum {
                    let mut eth = EthereumApp::new(&mut self.transport);
                    (eth.public_key(path, true)?, eth.public_key(&parent, false)?)
                } else {
                    let mut tron = TronApp::new(&mut self.transport);
                    (
                        tron.public_key(path, true)?,
                        tron.public_key(&parent, false)?,
                    )
                };
                let cc = cc.ok_or_else(|| {
                    DeviceError::bad_reply("reading the account key", "no chain code")
                })?;
                Ok(assemble_xpub(path, key, cc, parent_key))
            }
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
            AppKind::Ethereum | AppKind::Tron => {
                let r = self.account_app_address(spec.family, task.path, display);
                if display {
                    self.prompted(r).map(Some)
                } else {
                    r.map(Some)
                }
            }
            AppKind::Bitcoin => {
                let st = spec.script_type.ok_or_else(|| {
                    DeviceError::WrongApp(format!("entry {} has no script type", spec.index))
                })?;
                if !st.is_multisig() {
                    let w = self.default_wallet(st, task.path)?;
                    let r = self
                        .bitcoin()?
                        .wallet_address(&w.policy, None, w.change, w.index, display);
                    return if display { self.prompted(r) } else { r }.map(Some);
                }
                // A multisig address, shown through a registered wallet policy (the user
                // approves the policy and its keys once per wallet).
                let version = self.bitcoin()?.policy_version();
                let Some((policy, change, index)) = multisig_policy(manifest, spec, version) else {
                    return Ok(None);
                };
                let hmac = self.registered(&policy)?;
                let r = self
                    .bitcoin()?
                    .wallet_address(&policy, Some(hmac), change, index, display);
                if display { self.prompted(r) } else { r }.map(Some)
            }
        }
    }

    fn sign_message(
        &mut self,
        key: &SigningKey<'_>,
        message: &[u8],
    ) -> Result<String, DeviceError> {
        let r = match app_for(key.family) {
            AppKind::Bitcoin => self.bitcoin()?.sign_message(key.path, message),
            AppKind::Ethereum => {
                self.open(AppKind::Ethereum)?;
                EthereumApp::new(&mut self.transport).sign_personal_message(key.path, message)
            }
            AppKind::Tron => {
                self.open(AppKind::Tron)?;
                TronApp::new(&mut self.transport).sign_personal_message(key.path, message)
            }
        };
        self.prompted(r)
    }

    fn signs_bip322(
        &mut self,
        manifest: &Manifest,
        task: &SigningTask<'_>,
    ) -> Result<bool, DeviceError> {
        if app_for(task.spec.family) != AppKind::Bitcoin {
            return Ok(false);
        }
        self.open(AppKind::Bitcoin)?;
        // The same version as P2TR: older apps refuse the bare OP_RETURN output.
        let version = self.versions.get(&AppKind::Bitcoin);
        if version.is_some_and(|v| p2tr_unsupported_by(v).is_some()) {
            return Ok(false);
        }
        Ok(match task.spec.script_type {
            Some(ScriptType::P2wpkh | ScriptType::P2shP2wpkh | ScriptType::P2tr) => true,
            Some(st) if st.is_multisig() => {
                let version = self.bitcoin()?.policy_version();
                multisig_policy(manifest, task.spec, version).is_some()
            }
            _ => false,
        })
    }

    fn sign_psbt(
        &mut self,
        manifest: &Manifest,
        task: &SigningTask<'_>,
        psbt: &mut Psbt,
    ) -> Result<(), DeviceError> {
        let what = "signing the BIP-322 transaction";
        let st = task.spec.script_type;
        let unsupported = || {
            DeviceError::Unsupported(format!(
                "a BIP-322 transaction for a {} {} address on a Ledger",
                task.spec.chain,
                st.map(|s| s.as_str()).unwrap_or("-")
            ))
        };
        if app_for(task.spec.family) != AppKind::Bitcoin {
            return Err(unsupported());
        }
        let (policy, hmac) = match st {
            Some(ScriptType::P2tr | ScriptType::P2wpkh | ScriptType::P2shP2wpkh) => {
                let st = st.expect("matched");
                let f = self.fingerprint()?;
                let wallet = self.default_wallet(st, task.path)?;
                // The app finds its key by the input's BIP-32 (taproot: TAP_BIP32) derivation.
                let secp = bitcoin::secp256k1::Secp256k1::verification_only();
                let child = [wallet.change as u32, wallet.index].map(ChildNumber::from);
                let key = wallet
                    .account_xpub
                    .derive_pub(&secp, &child)
                    .map_err(|e| DeviceError::bad_reply(what, e))?
                    .public_key;
                let origin = (f, task.path.clone());
                if !crate::bip322_psbt::add_single_key_origin(psbt, st, key, origin) {
                    return Err(DeviceError::bad_reply(what, "our own PSBT has no input"));
                }
                (wallet.policy, None)
            }
            Some(m) if m.is_multisig() => {
                let version = self.bitcoin()?.policy_version();
                let Some((policy, _, _)) = multisig_policy(manifest, task.spec, version) else {
                    return Err(unsupported());
                };
                let hmac = self.registered(&policy)?;
                (policy, Some(hmac))
            }
            _ => return Err(unsupported()),
        };
        let r = self.bitcoin()?.sign_psbt(psbt, &policy, hmac);
        let sigs = self.prompted(r)?;
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

    fn show_account_address(
        &mut self,
        a: &AccountAddressRef<'_>,
    ) -> Result<Option<String>, DeviceError> {
        let relative: Vec<ChildNumber> = a
            .relative
            .iter()
            .map(|s| ChildNumber::from_normal_idx(*s))
            .collect::<Result<_, _>>()
            .map_err(|e| DeviceError::Unsupported(format!("relative path: {e}")))?;
        let full = a.account_path.extend(&relative);
        if app_for(a.family) != AppKind::Bitcoin {
            let r = self.account_app_address(a.family, &full, true);
            return self.prompted(r).map(Some);
        }
        let Some(st) = a.script_type else {
            return Ok(None);
        };
        let Some((change, index)) = change_and_index(&relative) else {
            return Ok(None); // the app shows addresses at change/index only
        };
        match a.multisig {
            None => {
                if a.account_path.len() != 3 {
                    return Ok(None);
                }
                let w = self.default_wallet(st, &full)?;
                let r = self
                    .bitcoin()?
                    .wallet_address(&w.policy, None, w.change, w.index, true);
                self.prompted(r).map(Some)
            }
            Some(ms) => {
                let version = self.bitcoin()?.policy_version();
                let Some(policy) = account_policy(version, st, ms) else {
                    return Ok(None);
                };
                let hmac = self.registered(&policy)?;
                let r = self
                    .bitcoin()?
                    .wallet_address(&policy, Some(hmac), change, index, true);
                self.prompted(r).map(Some)
            }
        }
    }

    fn confirmations(&self) -> u64 {
        self.confirmations
    }

    fn cannot_sign_message(
        &mut self,
        family: ChainFamily,
        path: &DerivationPath,
        message: &[u8],
    ) -> Result<Option<String>, DeviceError> {
        if app_for(family) != AppKind::Tron {
            return Ok(None);
        }
        self.open(AppKind::Tron)?;
        Ok(self.version_of(AppKind::Tron).and_then(|v| {
            firmware_messages::tron::multi_chunk_problem(v, &wire_path(path), message.len())
        }))
    }

    fn message_display_hint(&self, family: ChainFamily, message: &[u8]) -> Option<String> {
        let app = app_for(family);
        let shown = match app {
            // The Tron app shows the TIP-191 hash (first and last two bytes on a Nano).
            AppKind::Tron => {
                let hash =
                    schemes::tron::tron_message_hash(message, schemes::tron::TronVersion::V2);
                Some(firmware_messages::tron::hash_screen_text(&hash, true))
            }
            AppKind::Bitcoin => match firmware_messages::bitcoin::display::message_screen(
                self.version_of(app)?,
                message,
            ) {
                MessageScreen::Hash(h) => Some(h),
                MessageScreen::Text(_) => None,
            },
            AppKind::Ethereum => {
                firmware_messages::ethereum::message_hash_screen(self.version_of(app)?, message)
            }
        };
        shown.map(|h| format!("device shows message hash {h}"))
    }
}
