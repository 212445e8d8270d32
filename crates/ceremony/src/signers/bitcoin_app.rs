//! Host driver for the Ledger Bitcoin app (current protocol, CLA 0xE1, app 2.1+).

use super::{wire_path, DeviceError};
use crate::transport::Exchange;
use bitcoin::bip32::{ChildNumber, DerivationPath, Fingerprint, Xpub};
use bitcoin::Psbt;
use firmware_messages::bitcoin::commands::{
    parse_extended_pubkey, parse_master_fingerprint, parse_wallet_address, MessageSignature,
    RegisteredWallet,
};
use firmware_messages::bitcoin::host::{HostFlow, HostStep};
use firmware_messages::bitcoin::policy::{DefaultPolicy, KeyInfo, PolicyVersion, WalletPolicy};
use firmware_messages::bitcoin::psbt::{
    parse_yielded_signatures, BareSignatureKey, BareYieldedSignature, PartialSignature, PsbtV2Maps,
};
use por_attest_verify::chains::ScriptType;
use std::str::FromStr;

/// A default single-signature wallet and where an address sits in it.
#[derive(Debug, Clone)]
pub struct DefaultWallet {
    /// The policy (`tr(@0/**)`, ...) over the account key.
    pub policy: WalletPolicy,
    /// Change (1) or receive (0) branch.
    pub change: bool,
    /// Address index.
    pub index: u32,
    /// The account's extended public key, as the device gave it.
    pub account_xpub: Xpub,
}

/// The key of input `index` of `psbt` that a bare (app < 2.1.0) signature belongs to: the
/// output key of a taproot input's spent script, or the one BIP-32 key of a segwit v0 input.
fn bare_signature_key(psbt: &Psbt, index: u64) -> Result<BareSignatureKey, String> {
    let input = usize::try_from(index)
        .ok()
        .and_then(|i| psbt.inputs.get(i))
        .ok_or_else(|| format!("a signature for input {index}, which the PSBT does not have"))?;
    let script = input
        .witness_utxo
        .as_ref()
        .map(|u| u.script_pubkey.clone())
        .ok_or_else(|| format!("input {index} has no witness UTXO"))?;
    if script.is_p2tr() {
        let key: [u8; 32] = script.as_bytes()[2..34]
            .try_into()
            .expect("32-byte program");
        return Ok(BareSignatureKey::TaprootKeyPath(key));
    }
    let mut keys = input.bip32_derivation.keys();
    match (keys.next(), keys.next()) {
        (Some(k), None) => Ok(BareSignatureKey::Ecdsa(k.serialize())),
        _ => Err(format!(
            "input {index} has {} BIP-32 keys: which one signed is not said by apps before 2.1.0",
            input.bip32_derivation.len()
        )),
    }
}

/// The Bitcoin app on a device reached through `T`.
pub struct BitcoinApp<T: Exchange> {
    transport: T,
    policy_version: PolicyVersion,
}

impl<T: Exchange> BitcoinApp<T> {
    /// A driver over `transport` (the app must be open: see [`super::ensure_app`]).
    pub fn new(transport: T) -> Self {
        BitcoinApp {
            transport,
            policy_version: PolicyVersion::V2,
        }
    }

    /// A driver that spells wallet policies the way this app version knows them: version 1
    /// (`wpkh(@0)`, `/**` on the key) before 2.1.0, version 2 (`wpkh(@0/**)`) from 2.1.0 on.
    pub fn for_app_version(transport: T, version: &str) -> Self {
        let v1 = super::dashboard::parse_version(version).is_some_and(|v| v < (2, 1, 0));
        BitcoinApp {
            transport,
            policy_version: if v1 {
                PolicyVersion::V1
            } else {
                PolicyVersion::V2
            },
        }
    }

    /// The wallet-policy version this driver uses.
    pub fn policy_version(&self) -> PolicyVersion {
        self.policy_version
    }

    /// The transport back.
    pub fn into_inner(self) -> T {
        self.transport
    }

    /// The transport, to talk to the dashboard.
    pub fn transport(&mut self) -> &mut T {
        &mut self.transport
    }

    fn run(&mut self, mut flow: HostFlow, what: &str) -> Result<Vec<u8>, DeviceError> {
        self.run_flow(&mut flow, what)
    }

    fn run_flow(&mut self, flow: &mut HostFlow, what: &str) -> Result<Vec<u8>, DeviceError> {
        let mut next = flow.first_command().clone();
        loop {
            let resp = self.transport.send(&next)?;
            let status = resp.status;
            match flow.on_response(resp) {
                Ok(HostStep::Send(c)) => next = c,
                Ok(HostStep::Done(d)) => return Ok(d),
                Err(firmware_messages::bitcoin::host::HostFlowError::Device { .. }) => {
                    return Err(DeviceError::from_status(status, what, "Bitcoin"))
                }
                Err(e) => return Err(DeviceError::bad_reply(what, e)),
            }
        }
    }

    /// The BIP-32 master key fingerprint.
    pub fn master_fingerprint(&mut self) -> Result<Fingerprint, DeviceError> {
        let what = "reading the master fingerprint";
        let d = self.run(HostFlow::get_master_fingerprint(), what)?;
        let f = parse_master_fingerprint(&d).map_err(|e| DeviceError::bad_reply(what, e))?;
        Ok(Fingerprint::from(f))
    }

    /// The extended public key at `path` (shown on the device when `display`).
    pub fn extended_pubkey(
        &mut self,
        path: &DerivationPath,
        display: bool,
    ) -> Result<Xpub, DeviceError> {
        let what = format!("reading the extended public key at {path}");
        let d = self.run(
            HostFlow::get_extended_pubkey(&wire_path(path), display),
            &what,
        )?;
        let s = parse_extended_pubkey(&d).map_err(|e| DeviceError::bad_reply(&what, e))?;
        Xpub::from_str(&s).map_err(|e| DeviceError::bad_reply(&what, e))
    }

    /// Registers a wallet policy (the user approves it on the device); returns its HMAC.
    pub fn register_wallet(&mut self, policy: &WalletPolicy) -> Result<[u8; 32], DeviceError> {
        let what = format!("registering wallet policy {}", policy.descriptor_template);
        let d = self.run(HostFlow::register_wallet(policy), &what)?;
        let r = RegisteredWallet::decode(&d).map_err(|e| DeviceError::bad_reply(&what, e))?;
        if r.wallet_id != policy.id() {
            return Err(DeviceError::bad_reply(
                &what,
                "the device registered a different wallet id",
            ));
        }
        Ok(r.hmac)
    }

    /// The address of `policy` at (`change`, `index`), shown on the device when `display`.
    pub fn wallet_address(
        &mut self,
        policy: &WalletPolicy,
        hmac: Option<[u8; 32]>,
        change: bool,
        index: u32,
        display: bool,
    ) -> Result<String, DeviceError> {
        let what = format!(
            "deriving the address of {} at {}/{index}",
            policy.descriptor_template, change as u8
        );
        let d = self.run(
            HostFlow::get_wallet_address(policy, hmac, change, index, display),
            &what,
        )?;
        parse_wallet_address(&d).map_err(|e| DeviceError::bad_reply(&what, e))
    }

    /// The device's default wallet policy for a single-signature `script_type` address at a
    /// standard path `m/purpose'/coin'/account'/change/index` (the account xpub is read from
    /// the device), with the change flag, the index and the account xpub.
    pub fn default_wallet(
        &mut self,
        fingerprint: Fingerprint,
        script_type: ScriptType,
        path: &DerivationPath,
    ) -> Result<DefaultWallet, DeviceError> {
        let policy_kind = match script_type {
            ScriptType::P2pkh => DefaultPolicy::Pkh,
            ScriptType::P2shP2wpkh => DefaultPolicy::ShWpkh,
            ScriptType::P2wpkh => DefaultPolicy::Wpkh,
            ScriptType::P2tr => DefaultPolicy::Tr,
            other => {
                return Err(DeviceError::WrongApp(format!(
                    "{other} is not a single-signature script type"
                )))
            }
        };
        let steps: Vec<ChildNumber> = path.into_iter().copied().collect();
        let (account, change, index) = match steps.as_slice() {
            [a, b, c, ChildNumber::Normal { index: ch }, ChildNumber::Normal { index: i }]
                if *ch <= 1 =>
            {
                (DerivationPath::from(vec![*a, *b, *c]), *ch == 1, *i)
            }
            _ => {
                return Err(DeviceError::WrongApp(format!(
                    "path {path} is not m/purpose'/coin'/account'/change/index: the device's default wallets cannot show it"
                )))
            }
        };
        let xpub = self.extended_pubkey(&account, false)?;
        let key = KeyInfo {
            origin: Some((fingerprint.to_bytes(), wire_path(&account))),
            xpub: xpub.to_string(),
            suffix: String::new(),
        };
        Ok(DefaultWallet {
            policy: policy_kind.policy(self.policy_version, key),
            change,
            index,
            account_xpub: xpub,
        })
    }

    /// The single-signature address of `script_type` at a standard path
    /// `m/purpose'/coin'/account'/change/index`, derived (and shown) by the device through its
    /// default wallet policy.
    pub fn single_sig_address(
        &mut self,
        fingerprint: Fingerprint,
        script_type: ScriptType,
        path: &DerivationPath,
        display: bool,
    ) -> Result<String, DeviceError> {
        let w = self.default_wallet(fingerprint, script_type, path)?;
        self.wallet_address(&w.policy, None, w.change, w.index, display)
    }

    /// Has the device sign the inputs of `psbt` that belong to `policy` (`hmac` is `None`
    /// for a default wallet); returns the partial signatures by input index.
    pub fn sign_psbt(
        &mut self,
        psbt: &Psbt,
        policy: &WalletPolicy,
        hmac: Option<[u8; 32]>,
    ) -> Result<Vec<(u64, PartialSignature)>, DeviceError> {
        let what = format!("signing a PSBT with {}", policy.descriptor_template);
        let maps = PsbtV2Maps::from_psbt(&psbt.serialize())
            .map_err(|e| DeviceError::bad_reply(&what, format!("our own PSBT: {e}")))?;
        let mut flow = HostFlow::sign_psbt(&maps, policy, hmac);
        let done = self.run_flow(&mut flow, &what)?;
        if !done.is_empty() {
            return Err(DeviceError::bad_reply(
                &what,
                "SIGN_PSBT returned data besides the yielded signatures",
            ));
        }
        let yielded = flow.interpreter().yielded();
        if self.policy_version == PolicyVersion::V2 {
            return parse_yielded_signatures(yielded).map_err(|e| DeviceError::bad_reply(&what, e));
        }
        // Apps before 2.1.0 yield `<input> <signature>` without the key: it is the one the
        // PSBT gives for that input.
        yielded
            .iter()
            .map(|item| {
                let bare = BareYieldedSignature::decode(item)
                    .map_err(|e| DeviceError::bad_reply(&what, e))?;
                let key = bare_signature_key(psbt, bare.input_index)
                    .map_err(|e| DeviceError::bad_reply(&what, e))?;
                let sig = PartialSignature::from_bare(key, bare.signature)
                    .map_err(|e| DeviceError::bad_reply(&what, e))?;
                Ok((bare.input_index, sig))
            })
            .collect()
    }

    /// Signs `message` with the key at `path` (legacy "Bitcoin Signed Message"); returns the
    /// 65-byte compact signature as base64.
    pub fn sign_message(
        &mut self,
        path: &DerivationPath,
        message: &[u8],
    ) -> Result<String, DeviceError> {
        use base64::Engine;
        let what = format!("signing the message with the key at {path}");
        let d = self.run(HostFlow::sign_message(&wire_path(path), message), &what)?;
        let sig = MessageSignature::decode(&d).map_err(|e| DeviceError::bad_reply(&what, e))?;
        Ok(base64::engine::general_purpose::STANDARD.encode(sig.encode()))
    }
}
