//! The simulated Bitcoin app (protocol of app 2.1+): master fingerprint, extended pubkey,
//! wallet addresses for default and registered policies, wallet registration, message
//! signing, all through the client-command interrupt loop of `firmware-messages`.

use super::device::{Keys, Prompt, PromptKind, Ui};
use bitcoin::bip32::{ChildNumber, Xpub};
use bitcoin::hashes::{hmac, sha256, sha512, Hash, HashEngine};
use bitcoin::key::CompressedPublicKey;
use bitcoin::secp256k1::{Message, PublicKey};
use bitcoin::{Address, Network, ScriptBuf};
use firmware_messages::bitcoin::commands::{BitcoinCommand, MessageSignature, RegisteredWallet};
use firmware_messages::bitcoin::device::{DeviceFlow, DeviceSession, FlowError};
use firmware_messages::bitcoin::display::{message_screen, MessageScreen};
use firmware_messages::bitcoin::export::exports_silently;
use firmware_messages::bitcoin::merkle::Hash as H32;
use firmware_messages::bitcoin::policy::{
    parse_multipath, DescriptorTemplate, KeyInfo, MultisigWrapping, PolicyHeader, PolicyVersion,
    TemplateRef,
};
use firmware_messages::bitcoin::{signed_message_hash, CLA_BITCOIN, CLA_FRAMEWORK, INS_CONTINUE};
use firmware_messages::path::HARDENED;
use firmware_messages::{Bip32Path, Command, DecodeError, Response, StatusWord};
use std::str::FromStr;

/// Longest message the simulator signs.
const MAX_MESSAGE: u64 = 1 << 16;
/// Most keys in a wallet policy.
const MAX_KEYS: u64 = 16;

/// App state: the command waiting for client-command answers, if any.
#[derive(Debug, Default)]
pub(crate) struct BitcoinApp {
    pending: Option<DeviceSession>,
    /// The user's answers to the pending command's prompts, replayed with its answers.
    decisions: Vec<bool>,
}

pub(super) enum AppError {
    Flow(FlowError),
    Status(StatusWord),
}

impl From<FlowError> for AppError {
    fn from(e: FlowError) -> Self {
        AppError::Flow(e)
    }
}

impl From<DecodeError> for AppError {
    fn from(_: DecodeError) -> Self {
        AppError::Status(StatusWord::INCORRECT_DATA)
    }
}

pub(super) fn incorrect<T>() -> Result<T, AppError> {
    Err(AppError::Status(StatusWord::INCORRECT_DATA))
}

/// Behaviours of the real Bitcoin app that depend on its version.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AppFeatures {
    /// Version-2 wallet policies (`wpkh(@0/**)`) are known: 2.1.0 and later.
    pub policy_v2: bool,
    /// SIGN_PSBT accepts a bare `OP_RETURN` output (BIP-322's `to_sign`): 2.1.3 and later;
    /// earlier versions answer 0x6A82 (`format_opscript_script` needs a push after it).
    pub naked_op_return: bool,
    /// SIGN_PSBT yields `<input> <key> <signature>` (2.1.0 and later, protocol 1) rather than
    /// `<input> <signature>`, and a taproot input without a sighash type is signed with
    /// SIGHASH_DEFAULT rather than SIGHASH_ALL (2.0.x appends the 0x01 byte).
    pub psbt_protocol_1: bool,
    /// The version, for what the message review shows (the text from 2.2.2, else the hash).
    pub version: (u32, u32, u32),
}

impl AppFeatures {
    /// The features of an app reporting `version` (a version that does not parse is taken
    /// as current).
    pub(crate) fn of_version(version: &str) -> AppFeatures {
        AppFeatures {
            policy_v2: !super::device::version_before(version, (2, 1, 0)),
            naked_op_return: !super::device::version_before(version, (2, 1, 3)),
            psbt_protocol_1: !super::device::version_before(version, (2, 1, 0)),
            version: firmware_messages::dashboard::parse_version(version).unwrap_or((
                u32::MAX,
                0,
                0,
            )),
        }
    }
}

pub(super) struct Ctx<'a, 'b> {
    pub(super) keys: &'a Keys,
    pub(super) network: Network,
    /// What this version of the app does differently.
    pub(super) features: AppFeatures,
    ui: &'a mut Ui<'b>,
    /// Prompts already answered in an earlier replay of this command, and how many of them
    /// this replay has passed.
    decisions: &'a mut Vec<bool>,
    next_decision: usize,
}

impl BitcoinApp {
    pub fn reset(&mut self) {
        self.pending = None;
        self.decisions.clear();
    }

    pub fn handle(
        &mut self,
        keys: &Keys,
        network: Network,
        features: AppFeatures,
        ui: &mut Ui<'_>,
        c: &Command,
    ) -> Response {
        let session = match (c.cla, c.ins) {
            (CLA_FRAMEWORK, INS_CONTINUE) => match self.pending.take() {
                Some(mut s) => {
                    s.push_answer(c.data.clone());
                    s
                }
                None => return Response::error(StatusWord::BAD_STATE),
            },
            (CLA_BITCOIN, _) => {
                self.pending = None;
                self.decisions.clear();
                DeviceSession::new(c.clone())
            }
            _ => return Response::error(StatusWord::CLA_NOT_SUPPORTED),
        };
        let cmd = match BitcoinCommand::from_command(&session.command) {
            Ok(cmd) => cmd,
            Err(DecodeError::UnexpectedCommand { .. }) => {
                return Response::error(StatusWord::INS_NOT_SUPPORTED)
            }
            Err(DecodeError::Invalid { field: "P1/P2", .. }) => {
                return Response::error(StatusWord::WRONG_P1P2)
            }
            Err(DecodeError::Invalid { .. }) => return Response::error(StatusWord::INCORRECT_DATA),
            Err(_) => return Response::error(StatusWord::WRONG_DATA_LENGTH),
        };
        let mut ctx = Ctx {
            keys,
            network,
            features,
            ui,
            decisions: &mut self.decisions,
            next_decision: 0,
        };
        let result = ctx.run(&cmd, &mut session.flow());
        if !matches!(result, Err(AppError::Flow(FlowError::NeedAnswer(_)))) {
            self.decisions.clear();
        }
        match result {
            Ok(data) => Response::ok(data),
            Err(AppError::Flow(FlowError::NeedAnswer(req))) => {
                self.pending = Some(session);
                Response::new(req.encode(), StatusWord::INTERRUPTED_EXECUTION)
            }
            Err(AppError::Flow(e)) => Response::error(e.status()),
            Err(AppError::Status(sw)) => Response::error(sw),
        }
    }
}

/// The SLIP-21 key the app uses to authenticate registered wallets.
fn wallet_hmac(seed: &[u8; 64], wallet_id: &H32) -> H32 {
    let mut e = hmac::HmacEngine::<sha512::Hash>::new(b"Symmetric key seed");
    e.input(seed);
    let master = hmac::Hmac::<sha512::Hash>::from_engine(e).to_byte_array();
    let mut e = hmac::HmacEngine::<sha512::Hash>::new(&master[..32]);
    e.input(b"\0LEDGER-Wallet policy");
    let node = hmac::Hmac::<sha512::Hash>::from_engine(e).to_byte_array();
    let mut e = hmac::HmacEngine::<sha256::Hash>::new(&node[32..]);
    e.input(wallet_id);
    hmac::Hmac::<sha256::Hash>::from_engine(e).to_byte_array()
}

pub(super) struct LoadedPolicy {
    pub(super) header: PolicyHeader,
    pub(super) template: DescriptorTemplate,
    pub(super) template_text: String,
    pub(super) keys: Vec<KeyInfo>,
}

/// The message review's text: the message, or `SHA256: <HEX>` where the app at `version`
/// shows "Message hash" (see [`firmware_messages::bitcoin::display`]).
pub(super) fn show_message(version: (u32, u32, u32), msg: &[u8]) -> String {
    match message_screen(version, msg) {
        MessageScreen::Text(t) => t,
        MessageScreen::Hash(h) => format!("SHA256: {h}"),
    }
}

impl Ctx<'_, '_> {
    fn run(
        &mut self,
        cmd: &BitcoinCommand,
        flow: &mut DeviceFlow<'_>,
    ) -> Result<Vec<u8>, AppError> {
        match cmd {
            BitcoinCommand::GetMasterFingerprint => Ok(self.keys.fingerprint().to_vec()),
            BitcoinCommand::GetExtendedPubkey { display, path } => {
                // The app exports other keys only when it may show them.
                let coin = if self.network == Network::Bitcoin {
                    0
                } else {
                    1
                };
                if !display && !exports_silently(path.indices(), coin) {
                    return Err(AppError::Status(StatusWord::NOT_SUPPORTED));
                }
                let xpub = Xpub::from_priv(&self.keys.secp, &self.keys.derive(path)).to_string();
                if *display {
                    let mut p = Prompt::new(PromptKind::BitcoinExtendedPubkey);
                    p.path = Some(path.to_string());
                    p.address = Some(xpub.clone());
                    self.confirm(p)?;
                }
                Ok(xpub.into_bytes())
            }
            BitcoinCommand::SignMessage {
                path,
                message_length,
                merkle_root,
            } => {
                if *message_length > MAX_MESSAGE {
                    return incorrect();
                }
                let n_chunks = message_length.div_ceil(64);
                let mut message = Vec::with_capacity(*message_length as usize);
                for i in 0..n_chunks {
                    let chunk = flow.get_leaf_element(merkle_root, n_chunks, i)?;
                    let expected = if i + 1 < n_chunks {
                        64
                    } else {
                        message_length - 64 * i
                    };
                    if chunk.len() as u64 != expected {
                        return incorrect();
                    }
                    message.extend_from_slice(&chunk);
                }
                let mut p = Prompt::new(PromptKind::BitcoinSignMessage);
                p.path = Some(path.to_string());
                p.message = Some(show_message(self.features.version, &message));
                self.confirm(p)?;
                let digest = signed_message_hash(&message);
                let sk = self.keys.derive(path).private_key;
                let sig = self
                    .keys
                    .secp
                    .sign_ecdsa_recoverable(&Message::from_digest(digest), &sk);
                let (recid, rs) = sig.serialize_compact();
                Ok(MessageSignature {
                    header: 31 + recid.to_i32() as u8,
                    rs,
                }
                .encode()
                .to_vec())
            }
            BitcoinCommand::GetWalletAddress {
                display,
                wallet_id,
                wallet_hmac: hmac,
                change,
                address_index,
            } => {
                let serialized = flow.get_preimage(wallet_id)?;
                let policy = self.load_policy(&serialized, flow)?;
                let default = *hmac == [0u8; 32];
                if default {
                    self.check_default(&policy, *address_index)?;
                } else if wallet_hmac(&self.keys.seed, wallet_id) != *hmac {
                    return Err(AppError::Status(StatusWord::SIGNATURE_FAIL));
                }
                let address = self.address(&policy, *change, *address_index)?;
                if *display {
                    let mut p = Prompt::new(PromptKind::BitcoinAddress);
                    p.address = Some(address.clone());
                    if default {
                        if let Some((_, origin)) = &policy.keys[0].origin {
                            let mut steps = origin.indices().to_vec();
                            steps.extend([*change as u32, *address_index]);
                            p.path = Some(Bip32Path(steps).to_string());
                        }
                    } else {
                        p.details
                            .push(("Wallet name".into(), policy.header.name.clone()));
                    }
                    self.confirm(p)?;
                }
                Ok(address.into_bytes())
            }
            BitcoinCommand::RegisterWallet { policy } => {
                let wallet_id: H32 = sha256::Hash::hash(policy).to_byte_array();
                let loaded = self.load_policy(policy, flow)?;
                let name = &loaded.header.name;
                let name_ok = (1..=64).contains(&name.len())
                    && name.bytes().all(|b| (0x20..=0x7E).contains(&b))
                    && !name.starts_with(' ')
                    && !name.ends_with(' ');
                if !name_ok || loaded.template.as_default().is_some() && loaded.keys.len() == 1 {
                    return incorrect();
                }
                let internal = loaded.keys.iter().filter(|k| self.is_internal(k)).count();
                if internal == 0 {
                    return incorrect();
                }
                let mut p = Prompt::new(PromptKind::BitcoinRegisterWallet);
                p.details.push(("Wallet name".into(), name.clone()));
                p.details
                    .push(("Wallet policy".into(), loaded.template_text.clone()));
                for (i, k) in loaded.keys.iter().enumerate() {
                    p.details.push((format!("Key @{i}"), k.to_string()));
                }
                self.confirm(p)?;
                Ok(RegisteredWallet {
                    wallet_id,
                    hmac: wallet_hmac(&self.keys.seed, &wallet_id),
                }
                .encode())
            }
            BitcoinCommand::SignPsbt { .. } => super::sign_psbt::sign_psbt(self, cmd, flow),
        }
    }

    /// Shows a prompt once: a replay of the same command reuses the user's answer.
    pub(super) fn confirm(&mut self, p: Prompt) -> Result<(), AppError> {
        let approved = match self.decisions.get(self.next_decision) {
            Some(d) => *d,
            None => {
                let d = self.ui.confirm(p);
                self.decisions.push(d);
                d
            }
        };
        self.next_decision += 1;
        if approved {
            Ok(())
        } else {
            Err(AppError::Status(StatusWord::DENY))
        }
    }

    pub(super) fn load_policy(
        &self,
        serialized: &[u8],
        flow: &mut DeviceFlow<'_>,
    ) -> Result<LoadedPolicy, AppError> {
        let header = PolicyHeader::decode(serialized)?;
        if header.version == PolicyVersion::V2 && !self.features.policy_v2 {
            return incorrect();
        }
        let template_text = match &header.template {
            TemplateRef::Inline(t) => t.clone(),
            TemplateRef::Hash(h) => {
                String::from_utf8(flow.get_preimage(h)?).or_else(|_| incorrect())?
            }
        };
        if template_text.len() as u64 != header.template_len
            || header.n_keys == 0
            || header.n_keys > MAX_KEYS
        {
            return incorrect();
        }
        let mut keys = Vec::new();
        for i in 0..header.n_keys {
            let raw = flow.get_leaf_element(&header.keys_root, header.n_keys, i)?;
            let text = String::from_utf8(raw).or_else(|_| incorrect())?;
            let key: KeyInfo = text.parse()?;
            let suffix_ok = match header.version {
                PolicyVersion::V1 => parse_multipath(&key.suffix).is_some(),
                PolicyVersion::V2 => key.suffix.is_empty(),
            };
            if !suffix_ok || Xpub::from_str(&key.xpub).is_err() {
                return incorrect();
            }
            keys.push(key);
        }
        let template = DescriptorTemplate::parse(&template_text, header.version)?;
        if template
            .placeholders()
            .iter()
            .any(|k| k.index as u64 >= header.n_keys)
        {
            return incorrect();
        }
        Ok(LoadedPolicy {
            header,
            template,
            template_text,
            keys,
        })
    }

    fn coin_type(&self) -> u32 {
        if self.network == Network::Bitcoin {
            0
        } else {
            1
        }
    }

    /// Whether `hmac` is this device's registration HMAC of the wallet `wallet_id`.
    pub(super) fn registered_hmac_is(&self, wallet_id: &H32, hmac: &H32) -> bool {
        wallet_hmac(&self.keys.seed, wallet_id) == *hmac
    }

    /// A key is internal if its origin is our fingerprint and its xpub is ours at that path.
    pub(super) fn is_internal(&self, k: &KeyInfo) -> bool {
        let Some((fpr, path)) = &k.origin else {
            return false;
        };
        *fpr == self.keys.fingerprint()
            && Xpub::from_priv(&self.keys.secp, &self.keys.derive(path)).to_string() == k.xpub
    }

    pub(super) fn check_default(
        &self,
        p: &LoadedPolicy,
        address_index: u32,
    ) -> Result<(), AppError> {
        let Some(kind) = p.template.as_default() else {
            return incorrect();
        };
        let key = &p.keys[0];
        let standard = p.header.name.is_empty()
            && p.keys.len() == 1
            && address_index <= 50_000
            && self.is_internal(key)
            && key.origin.as_ref().is_some_and(|(_, path)| {
                let s = path.indices();
                s.len() == 3
                    && s[0] == kind.purpose() | HARDENED
                    && s[1] == self.coin_type() | HARDENED
                    && s[2] >= HARDENED
                    && s[2] - HARDENED <= 100
            });
        if standard {
            Ok(())
        } else {
            incorrect()
        }
    }

    fn derive_key(
        &self,
        p: &LoadedPolicy,
        index: usize,
        step: (u32, u32),
        change: bool,
        address_index: u32,
    ) -> Result<PublicKey, AppError> {
        let key = &p.keys[index];
        let step = match p.header.version {
            PolicyVersion::V1 => parse_multipath(&key.suffix).unwrap_or((0, 1)),
            PolicyVersion::V2 => step,
        };
        let xpub = Xpub::from_str(&key.xpub).or_else(|_| incorrect())?;
        let c = if change { step.1 } else { step.0 };
        let path = [
            ChildNumber::from_normal_idx(c).or_else(|_| incorrect())?,
            ChildNumber::from_normal_idx(address_index).or_else(|_| incorrect())?,
        ];
        Ok(xpub
            .derive_pub(&self.keys.secp, &path)
            .or_else(|_| incorrect())?
            .public_key)
    }

    /// The multisig script of a multisig wallet policy at (`change`, `index`).
    pub(super) fn multisig_script(
        &self,
        p: &LoadedPolicy,
        change: bool,
        index: u32,
    ) -> Result<ScriptBuf, AppError> {
        let DescriptorTemplate::Multisig {
            sorted,
            threshold,
            keys,
            ..
        } = &p.template
        else {
            return incorrect();
        };
        let mut pks = keys
            .iter()
            .map(|k| {
                self.derive_key(p, k.index, (k.receive, k.change), change, index)
                    .map(bitcoin::PublicKey::new)
            })
            .collect::<Result<Vec<_>, _>>()?;
        if *sorted {
            pks.sort_by_key(|k| k.to_bytes());
        }
        por_attest_verify::schemes::multisig_script(*threshold, &pks)
            .map(ScriptBuf::from_bytes)
            .or_else(|_| incorrect())
    }

    pub(super) fn address(
        &self,
        p: &LoadedPolicy,
        change: bool,
        index: u32,
    ) -> Result<String, AppError> {
        let net = self.network;
        let single = |k: &firmware_messages::bitcoin::policy::KeyPlaceholder| {
            self.derive_key(p, k.index, (k.receive, k.change), change, index)
                .map(CompressedPublicKey)
        };
        let addr = match &p.template {
            DescriptorTemplate::Pkh(k) => Address::p2pkh(single(k)?, net),
            DescriptorTemplate::Wpkh(k) => Address::p2wpkh(&single(k)?, net),
            DescriptorTemplate::ShWpkh(k) => Address::p2shwpkh(&single(k)?, net),
            DescriptorTemplate::Tr(k) => {
                let internal = single(k)?.0.x_only_public_key().0;
                Address::p2tr(&self.keys.secp, internal, None, net)
            }
            DescriptorTemplate::Multisig { wrapping, .. } => {
                let script = self.multisig_script(p, change, index)?;
                match wrapping {
                    MultisigWrapping::Wsh => Address::p2wsh(&script, net),
                    MultisigWrapping::ShWsh => Address::p2shwsh(&script, net),
                    MultisigWrapping::Sh => Address::p2sh(&script, net).or_else(|_| incorrect())?,
                }
            }
        };
        Ok(addr.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slip21_hmac_is_deterministic_and_seed_bound() {
        let a = wallet_hmac(&[1; 64], &[2; 32]);
        assert_eq!(a, wallet_hmac(&[1; 64], &[2; 32]));
        assert_ne!(a, wallet_hmac(&[3; 64], &[2; 32]));
    }
}
