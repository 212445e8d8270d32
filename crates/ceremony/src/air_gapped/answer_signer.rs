//! One answer file seen as a [`Signer`]: the ceremony's own signing steps
//! (`crate::ceremony`'s checks of the address, the key, the PSBT and the signature) run on it
//! exactly as on a Ledger's replies. What the device "derives" is what the answer shows: the
//! address of the key that signed (or that a text answer names), the key whose signature it
//! holds; what it "signs" is the answer's signature, given only when the answer is for the
//! very request (the same unsigned transaction, the same message).

use super::answer::ArmoredMessage;
use crate::manifest::{Manifest, SigningTask};
use crate::pkcs11::address_of;
use crate::signer::{Signer, SigningKey};
use crate::signers::DeviceError;
use bitcoin::bip32::{ChainCode, ChildNumber, DerivationPath, Fingerprint, Xpub};
use bitcoin::blockdata::script::Instruction;
use bitcoin::psbt::Input;
use bitcoin::{Address, NetworkKind, Psbt, PublicKey, ScriptBuf};
use por_attest_verify::chains::{ChainFamily, ScriptType};
use por_attest_verify::schemes::{self, bip137::recover_bip137};

/// What a device wrote back.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// A signed PSBT (partial signatures or finalized input 0).
    Psbt(Box<Psbt>),
    /// A BIP-137 armored signed message.
    Text(ArmoredMessage),
}

/// An answer behind the [`Signer`] interface, for one task.
pub struct AnswerSigner {
    answer: Answer,
    /// The key the task expects (an account's or a cosigner's), when known.
    expected: Option<Xpub>,
}

impl AnswerSigner {
    /// The signer of `answer` for an address `task` (`None` for an account); `expected` is
    /// the extended key the manifest (or the device's key export) gives for an account or
    /// cosigner task. A finalized PSBT input is taken apart here into the signatures it holds
    /// (multisig ones matched to their script keys), `Err` when that cannot be done.
    pub fn new(
        mut answer: Answer,
        manifest: &Manifest,
        task: Option<&SigningTask<'_>>,
        expected: Option<Xpub>,
    ) -> Result<AnswerSigner, String> {
        if let (Answer::Psbt(p), Some(task)) = (&mut answer, task) {
            let Some(given) = p.inputs.first() else {
                return Err("the PSBT has no input".into());
            };
            let message = manifest.render_message(task.spec);
            let script_keys: Vec<PublicKey>;
            let spend;
            let multisig = match (&task.spec.multisig, task.spec.script_type) {
                (Some(ms), Some(st)) => {
                    script_keys = ms.script_keys();
                    spend = schemes::Bip322Spend::Multisig {
                        script_type: st,
                        script: ms.script.as_bytes(),
                    };
                    Some((&spend, message.as_bytes(), script_keys.as_slice()))
                }
                _ => None,
            };
            let mut input = Input::default();
            unfinalize(given, &mut input, multisig)?;
            p.inputs[0].partial_sigs = input.partial_sigs;
            p.inputs[0].tap_key_sig = input.tap_key_sig;
        }
        Ok(AnswerSigner { answer, expected })
    }

    fn bad(what: &str, detail: impl std::fmt::Display) -> DeviceError {
        DeviceError::BadReply {
            what: what.to_string(),
            detail: detail.to_string(),
        }
    }

    /// The keys with an ECDSA signature in input 0 of a PSBT answer.
    fn signing_keys(input: &Input) -> Vec<PublicKey> {
        input.partial_sigs.keys().copied().collect()
    }

    /// An extended key around a bare public key, for a key the manifest does not expect (the
    /// ceremony then reports it as a mismatch).
    pub fn bare(key: bitcoin::secp256k1::PublicKey) -> Xpub {
        Xpub {
            network: NetworkKind::Main,
            depth: 0,
            parent_fingerprint: Fingerprint::default(),
            child_number: ChildNumber::Normal { index: 0 },
            public_key: key,
            chain_code: ChainCode::from([0u8; 32]),
        }
    }
}

/// The pushes of a script (a finalized legacy scriptSig), `None` if it has anything else.
fn pushes(script: &ScriptBuf) -> Option<Vec<Vec<u8>>> {
    script
        .instructions()
        .map(|i| match i {
            Ok(Instruction::PushBytes(b)) => Some(b.as_bytes().to_vec()),
            Ok(Instruction::Op(op)) if op == bitcoin::opcodes::OP_0 => Some(vec![]),
            _ => None,
        })
        .collect()
}

/// Puts the signatures of a finalized input 0 back as partial signatures (ECDSA, keyed by
/// public key) or the taproot key-path signature, so the ceremony checks them as a device's.
fn unfinalize(
    answer: &Input,
    into: &mut Input,
    spend: Option<(&schemes::Bip322Spend<'_>, &[u8], &[PublicKey])>,
) -> Result<(), String> {
    into.partial_sigs = answer.partial_sigs.clone();
    into.tap_key_sig = answer.tap_key_sig;
    let mut stack: Vec<Vec<u8>> = answer
        .final_script_witness
        .as_ref()
        .map(|w| w.to_vec())
        .unwrap_or_default();
    if stack.is_empty() {
        // Legacy P2SH multisig: the scriptSig's pushes (OP_0, signatures, redeem script).
        if let Some(ss) = &answer.final_script_sig {
            stack = pushes(ss).ok_or("a finalized scriptSig that is not only pushes")?;
        }
    }
    if stack.is_empty() {
        return Ok(());
    }
    match spend {
        Some((spend, msg, keys)) => {
            // Multisig: [empty, signatures..., script]; each signature is matched to the
            // script key it verifies for.
            let sigs = stack
                .get(1..stack.len().saturating_sub(1))
                .unwrap_or_default();
            for sig in sigs.iter().filter(|s| !s.is_empty()) {
                let key = keys
                    .iter()
                    .find(|k| schemes::check_partial_signature(spend, msg, k, sig).is_ok())
                    .ok_or("a finalized signature that verifies for none of the script's keys")?;
                let s = bitcoin::ecdsa::Signature::from_slice(sig).map_err(|e| e.to_string())?;
                into.partial_sigs.insert(*key, s);
            }
        }
        None if stack.len() == 1 => {
            let s = bitcoin::taproot::Signature::from_slice(&stack[0])
                .map_err(|e| format!("the finalized taproot signature: {e}"))?;
            into.tap_key_sig = Some(s);
        }
        None if stack.len() == 2 => {
            let k = PublicKey::from_slice(&stack[1])
                .map_err(|e| format!("the finalized witness's key: {e}"))?;
            let s = bitcoin::ecdsa::Signature::from_slice(&stack[0])
                .map_err(|e| format!("the finalized witness's signature: {e}"))?;
            into.partial_sigs.insert(k, s);
        }
        None => {
            return Err(format!(
                "a finalized witness of {} items for a single-key address",
                stack.len()
            ))
        }
    }
    Ok(())
}

impl Signer for AnswerSigner {
    fn master_fingerprint(&mut self) -> Result<Option<Fingerprint>, DeviceError> {
        Ok(None)
    }

    fn cannot_sign(&mut self, _task: &SigningTask<'_>) -> Result<Option<String>, DeviceError> {
        Ok(None)
    }

    fn extended_pubkey(
        &mut self,
        _family: ChainFamily,
        _path: &DerivationPath,
        _display: bool,
    ) -> Result<Xpub, DeviceError> {
        let keys: Vec<bitcoin::secp256k1::PublicKey> = match &self.answer {
            Answer::Text(a) => {
                let (k, _) = recover_bip137(a.message.as_bytes(), &a.signature)
                    .map_err(|e| Self::bad("reading the signed message", e))?;
                vec![k]
            }
            Answer::Psbt(p) => Self::signing_keys(&p.inputs[0])
                .into_iter()
                .map(|k| k.inner)
                .collect(),
        };
        if let Some(e) = self.expected {
            if keys.contains(&e.public_key) {
                return Ok(e);
            }
        }
        keys.first().map(|k| Self::bare(*k)).ok_or_else(|| {
            Self::bad(
                "reading the signed PSBT",
                "input 0 holds no ECDSA signature",
            )
        })
    }

    fn derive_address(
        &mut self,
        _manifest: &Manifest,
        task: &SigningTask<'_>,
        _display: bool,
    ) -> Result<Option<String>, DeviceError> {
        let spec = task.spec;
        match &self.answer {
            Answer::Text(a) => Ok(Some(a.address.clone())),
            Answer::Psbt(_) if spec.multisig.is_some() => Ok(None),
            Answer::Psbt(p) => {
                let input = &p.inputs[0];
                if spec.script_type == Some(ScriptType::P2tr) {
                    // No key in a key-path signature: the address the answer spends from.
                    let spk = input
                        .witness_utxo
                        .as_ref()
                        .map(|o| o.script_pubkey.clone())
                        .or_else(|| {
                            input
                                .non_witness_utxo
                                .as_ref()
                                .and_then(|t| t.output.first())
                                .map(|o| o.script_pubkey.clone())
                        });
                    return Ok(spk.and_then(|s| {
                        Address::from_script(&s, spec.network.bitcoin())
                            .ok()
                            .map(|a| a.to_string())
                    }));
                }
                match Self::signing_keys(input).as_slice() {
                    [k] => Ok(address_of(
                        &k.inner,
                        ChainFamily::Bitcoin,
                        spec.script_type,
                        spec.network,
                    )),
                    [] => Err(Self::bad(
                        "reading the signed PSBT",
                        "input 0 holds no signature (the device did not sign it)",
                    )),
                    many => Err(Self::bad(
                        "reading the signed PSBT",
                        format!(
                            "input 0 holds {} signatures for a single-key address",
                            many.len()
                        ),
                    )),
                }
            }
        }
    }

    fn sign_message(
        &mut self,
        _key: &SigningKey<'_>,
        message: &[u8],
    ) -> Result<String, DeviceError> {
        match &self.answer {
            Answer::Text(a) if a.message.as_bytes() == message => Ok(a.signature.clone()),
            Answer::Text(a) => Err(Self::bad(
                "reading the signed message",
                format!(
                    "it signs another message than the request's: {:?}",
                    a.message.chars().take(120).collect::<String>()
                ),
            )),
            Answer::Psbt(_) => Err(Self::bad(
                "reading the answer",
                "a PSBT answers a text-file (message) request",
            )),
        }
    }

    fn signs_bip322(
        &mut self,
        _manifest: &Manifest,
        _task: &SigningTask<'_>,
    ) -> Result<bool, DeviceError> {
        Ok(matches!(self.answer, Answer::Psbt(_)))
    }

    fn sign_psbt(
        &mut self,
        manifest: &Manifest,
        task: &SigningTask<'_>,
        psbt: &mut Psbt,
    ) -> Result<(), DeviceError> {
        let Answer::Psbt(answer) = &self.answer else {
            return Err(Self::bad(
                "reading the answer",
                "a text answer to a PSBT request",
            ));
        };
        let what = "reading the signed PSBT";
        if answer.unsigned_tx != psbt.unsigned_tx {
            return Err(Self::bad(
                what,
                "its unsigned transaction is not the request's (an answer for another message, address or snapshot)",
            ));
        }
        let message = manifest.render_message(task.spec);
        let key = bitcoin::psbt::raw::Key {
            type_value: schemes::bip322::PSBT_GLOBAL_GENERIC_SIGNED_MESSAGE,
            key: vec![],
        };
        if let Some(m) = answer.unknown.get(&key) {
            if m.as_slice() != message.as_bytes() {
                return Err(Self::bad(
                    what,
                    "its message field is not the request's message",
                ));
            }
        }
        if answer.inputs.len() != 1 || answer.outputs.len() != 1 {
            return Err(Self::bad(
                what,
                "it does not have the request's one input and one output",
            ));
        }
        psbt.inputs[0].partial_sigs = answer.inputs[0].partial_sigs.clone();
        psbt.inputs[0].tap_key_sig = answer.inputs[0].tap_key_sig;
        Ok(())
    }

    fn confirmations(&self) -> u64 {
        0
    }
}
