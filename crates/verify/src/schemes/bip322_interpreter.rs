//! BIP-322 scripts the hand-written rules of [`super::bip322`] do not cover (time locks and
//! other P2WSH / P2SH-P2WSH witness scripts, P2TR script paths), checked by Bitcoin Core's
//! script interpreter: libbitcoinconsensus through the `bitcoinconsensus` crate (feature
//! `interpreter`, on by default).
//!
//! libbitcoinconsensus applies consensus flags only (P2SH, DERSIG, NULLDUMMY, CLTV, CSV,
//! WITNESS, TAPROOT); the BIP's other required rules are checked here, on the spend itself:
//!
//! * SIGHASH_ALL, LOW_S, STRICTENC, NULLFAIL: every witness item that is a DER signature must
//!   be strict DER, low-S, SIGHASH_ALL, and verify with a key of the script or witness (an
//!   item that is a signature and fails must be empty); a 65-byte tapscript item must end in
//!   SIGHASH_ALL (0x01); Schnorr NULLFAIL is consensus in tapscript;
//! * `CODESEPARATOR` forbidden; MINIMALDATA: the script's pushes minimal;
//! * MINIMALIF: a script with `IF` / `NOTIF` is checked only when every witness item is an
//!   empty push, `0x01`, a signature or a public key (so no branch argument can be another
//!   value); otherwise inconclusive;
//! * CLEANSTACK: consensus for segwit v0 and tapscript;
//! * upgradeable rules (inconclusive): NOP1 / NOP4–NOP10, tapscript `OP_SUCCESSx`.
//!
//! Legacy P2SH redeem scripts other than multisig stay inconclusive: CLEANSTACK is no
//! consensus rule there, and libbitcoinconsensus cannot enforce it.
//!
//! The hot path (single-key and multisig entries) never reaches this module.

use super::{secp, short_hex, SchemeError};
use bitcoin::hashes::Hash;
use bitcoin::opcodes::all::{OP_CODESEPARATOR, OP_IF, OP_NOTIF};
use bitcoin::opcodes::{Class, ClassifyContext};
use bitcoin::script::Instruction;
use bitcoin::secp256k1::{ecdsa, Message, PublicKey};
use bitcoin::sighash::{EcdsaSighashType, SighashCache};
use bitcoin::{Amount, Script, Transaction};

/// The script a witness runs, and under which rules.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ScriptPath<'a> {
    /// A segwit v0 witness script (P2WSH, P2SH-P2WSH).
    WitnessV0(&'a Script),
    /// A tapscript leaf (P2TR script path).
    Tapscript(&'a Script),
}

fn invalid(reason: impl Into<String>) -> SchemeError {
    SchemeError::Bip322Invalid(reason.into())
}

fn inconclusive(reason: impl std::fmt::Display) -> SchemeError {
    SchemeError::Unsupported(format!("script for BIP-322: {reason}"))
}

/// Checks `to_sign`'s input 0 (spending `spk`, whose witness runs `path`) with the script
/// interpreter and the BIP's required rules.
pub(crate) fn verify_with_interpreter(
    tx: &Transaction,
    spk: &Script,
    path: ScriptPath<'_>,
) -> Result<(), SchemeError> {
    let (script, ctx) = match path {
        ScriptPath::WitnessV0(s) => (s, ClassifyContext::Legacy),
        ScriptPath::Tapscript(s) => (s, ClassifyContext::TapScript),
    };
    let mut keys: Vec<&[u8]> = Vec::new();
    let mut has_if = false;
    for ins in script.instructions_minimal() {
        match ins.map_err(|e| invalid(format!("the script's pushes (MINIMALDATA): {e}")))? {
            Instruction::PushBytes(p) => keys.push(p.as_bytes()),
            Instruction::Op(op) => {
                if op == OP_CODESEPARATOR {
                    return Err(invalid("OP_CODESEPARATOR is forbidden in BIP-322"));
                }
                if op == OP_IF || op == OP_NOTIF {
                    has_if = true;
                }
                let byte = op.to_u8();
                let upgradable_nop = byte == 0xb0 || (0xb3..=0xb9).contains(&byte);
                if upgradable_nop || op.classify(ctx) == Class::SuccessOp {
                    return Err(inconclusive(format!(
                        "{op} is reserved for upgrades (inconclusive)"
                    )));
                }
            }
        }
    }
    let w = &tx.input[0].witness;
    let stack: Vec<&[u8]> = match path {
        ScriptPath::WitnessV0(_) => w.iter().take(w.len().saturating_sub(1)).collect(),
        ScriptPath::Tapscript(_) => w.iter().take(w.len().saturating_sub(2)).collect(),
    };
    keys.extend(stack.iter().copied());
    let keys: Vec<PublicKey> = keys
        .iter()
        .filter(|k| k.len() == 33)
        .filter_map(|k| PublicKey::from_slice(k).ok())
        .collect();
    let sighash = match path {
        ScriptPath::WitnessV0(s) => Some(
            SighashCache::new(tx)
                .p2wsh_signature_hash(0, s, Amount::ZERO, EcdsaSighashType::All)
                .map_err(|e| invalid(format!("sighash: {e}")))?
                .to_byte_array(),
        ),
        ScriptPath::Tapscript(_) => None,
    };
    for (i, item) in stack.iter().enumerate() {
        let signature_like = match path {
            ScriptPath::WitnessV0(_) => is_der_signature(item),
            ScriptPath::Tapscript(_) => item.len() == 64 || item.len() == 65,
        };
        if let (true, Some(digest)) = (signature_like, sighash) {
            let sig = super::bip322_finalize::parse_bip322_ecdsa(item)
                .map_err(|e| invalid(format!("witness item {i} (a signature) {e}")))?;
            let msg = Message::from_digest(digest);
            if !keys
                .iter()
                .any(|k| secp().verify_ecdsa(&msg, &sig, k).is_ok())
            {
                return Err(invalid(format!(
                    "witness item {i} is a signature that verifies with no key of the script \
                     (NULLFAIL: a failing signature must be empty)"
                )));
            }
        }
        if matches!(path, ScriptPath::Tapscript(_)) && item.len() == 65 && item[64] != 0x01 {
            return Err(invalid(format!(
                "witness item {i} is a Schnorr signature with sighash type 0x{:02x}; BIP-322 \
                 allows only SIGHASH_DEFAULT or SIGHASH_ALL",
                item[64]
            )));
        }
        let plain = item.is_empty() || *item == [0x01] || signature_like || item.len() == 33;
        let plain = plain || (matches!(path, ScriptPath::Tapscript(_)) && item.len() == 32);
        if has_if && !plain {
            return Err(inconclusive(format!(
                "the script branches (IF/NOTIF) and witness item {i} ({}) could be a branch \
                 argument, whose MINIMALIF rule the interpreter does not enforce (inconclusive)",
                short_hex(item)
            )));
        }
    }
    run_interpreter(tx, spk)
        .map_err(|e| invalid(format!("Bitcoin Core's script interpreter rejects it: {e}")))
}

/// libbitcoinconsensus on `tx`'s input 0 spending a 0-sat output of `spk`, with every
/// consensus flag (taproot included).
fn run_interpreter(tx: &Transaction, spk: &Script) -> Result<(), String> {
    let bytes = bitcoin::consensus::serialize(tx);
    let spent = [bitcoinconsensus::Utxo {
        script_pubkey: spk.as_bytes().as_ptr(),
        script_pubkey_len: spk.len() as u32,
        value: 0,
    }];
    let flags = bitcoinconsensus::VERIFY_ALL_PRE_TAPROOT | bitcoinconsensus::VERIFY_TAPROOT;
    bitcoinconsensus::verify_with_flags(spk.as_bytes(), 0, &bytes, Some(&spent), 0, flags)
        .map_err(|e| format!("{e:?}"))
}

/// A DER signature with a sighash byte (any type: the type is checked afterwards).
fn is_der_signature(item: &[u8]) -> bool {
    item.len() >= 9
        && item.len() <= 73
        && item[0] == 0x30
        && ecdsa::Signature::from_der(&item[..item.len() - 1]).is_ok()
}

/// Bitcoin Core's interpreter alone (consensus flags, none of the BIP's extra rules) on the
/// `to_sign` a BIP-322 signature decodes to, spending `address`'s `to_spend` for `msg`:
/// `None` when the signature is no witness stack or transaction (legacy, proof of funds,
/// garbage). For cross-checking the hand-written rules: whatever they accept, this accepts.
pub fn consensus_check(
    address: &bitcoin::Address,
    msg: &[u8],
    sig: &str,
) -> Option<Result<(), String>> {
    use super::bip322::{to_sign, to_spend};
    use bitcoin::consensus::deserialize;
    let (tag, body) = match sig.get(..3) {
        Some(t @ ("smp" | "ful" | "pof")) => (Some(t), &sig[3..]),
        _ => (None, sig),
    };
    let bytes = super::decode_base64(body).ok()?;
    let spk = address.script_pubkey();
    let tx: Transaction = match tag {
        Some("pof") => return None,
        Some("ful") => deserialize(&bytes).ok()?,
        _ => {
            if tag.is_none() && bytes.len() == 65 && spk.is_p2pkh() {
                return None;
            }
            match deserialize::<bitcoin::Witness>(&bytes) {
                Ok(w) if tag == Some("smp") || !w.is_empty() => {
                    let mut tx = to_sign(&to_spend(&spk, msg));
                    tx.input[0].witness = w;
                    tx
                }
                _ if tag.is_none() => deserialize(&bytes).ok()?,
                _ => return None,
            }
        }
    };
    if tx.input.is_empty() {
        return None;
    }
    Some(run_interpreter(&tx, &spk))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schemes::bip322::{
        encode_bip322_signature, to_sign, to_spend, verify_bip322, Bip322Format, Bip322Kind,
    };
    use bitcoin::absolute::LockTime;
    use bitcoin::opcodes::all::{OP_CHECKSIG, OP_CLTV, OP_DROP, OP_ELSE, OP_ENDIF};
    use bitcoin::script::Builder;
    use bitcoin::secp256k1::SecretKey;
    use bitcoin::transaction::Version;
    use bitcoin::{Address, Network, ScriptBuf, Sequence, Witness};

    const MSG: &[u8] = b"time-locked reserves";

    fn key() -> (SecretKey, bitcoin::PublicKey) {
        let sk = SecretKey::from_slice(&[7; 32]).unwrap();
        (sk, bitcoin::PublicKey::new(sk.public_key(secp())))
    }

    /// `<800000> CLTV DROP <key> CHECKSIG` under P2WSH, signed with `sighash` and high-S when
    /// asked; extra witness items go before the signature.
    fn cltv_proof(script: &ScriptBuf, sighash: u8, high_s: bool, extra: &[&[u8]]) -> String {
        let (sk, _) = key();
        let spk = ScriptBuf::new_p2wsh(&script.wscript_hash());
        let mut tx = to_sign(&to_spend(&spk, MSG));
        tx.version = Version::TWO;
        tx.lock_time = LockTime::from_consensus(800_000);
        tx.input[0].sequence = Sequence(0xffff_fffe);
        let digest = SighashCache::new(&tx)
            .p2wsh_signature_hash(0, script, Amount::ZERO, EcdsaSighashType::All)
            .unwrap();
        let mut sig = secp().sign_ecdsa(&Message::from_digest(digest.to_byte_array()), &sk);
        if high_s {
            let neg = SecretKey::from_slice(&sig.serialize_compact()[32..])
                .unwrap()
                .negate();
            let mut c = sig.serialize_compact();
            c[32..].copy_from_slice(&neg.secret_bytes());
            sig = ecdsa::Signature::from_compact(&c).unwrap();
        }
        let mut s = sig.serialize_der().to_vec();
        s.push(sighash);
        let mut items: Vec<Vec<u8>> = extra.iter().map(|e| e.to_vec()).collect();
        items.insert(0, s);
        items.push(script.to_bytes());
        tx.input[0].witness = Witness::from_slice(&items);
        encode_bip322_signature(&tx, Bip322Format::FULL)
    }

    fn cltv_script() -> ScriptBuf {
        Builder::new()
            .push_int(800_000)
            .push_opcode(OP_CLTV)
            .push_opcode(OP_DROP)
            .push_key(&key().1)
            .push_opcode(OP_CHECKSIG)
            .into_script()
    }

    fn address(script: &ScriptBuf) -> Address {
        Address::p2wsh(script, Network::Bitcoin)
    }

    #[test]
    fn a_time_locked_script_verifies_at_its_time_and_age() {
        let script = cltv_script();
        let proof = cltv_proof(&script, 1, false, &[]);
        assert_eq!(
            verify_bip322(&address(&script), MSG, &proof),
            Ok(Bip322Kind::Full {
                version: 2,
                lock_time: 800_000,
                sequence: 0xffff_fffe
            })
        );
        assert!(verify_bip322(&address(&script), b"other", &proof).is_err());
        assert_eq!(
            consensus_check(&address(&script), MSG, &proof),
            Some(Ok(()))
        );
    }

    #[test]
    fn the_bips_rules_beyond_consensus_are_enforced() {
        let script = cltv_script();
        let a = address(&script);
        // high S and SIGHASH_NONE pass consensus but not BIP-322
        for (proof, why) in [
            (cltv_proof(&script, 1, true, &[]), "LOW_S"),
            (cltv_proof(&script, 2, false, &[]), "SIGHASH_ALL"),
        ] {
            let err = verify_bip322(&a, MSG, &proof).unwrap_err();
            assert!(err.to_string().contains(why), "{err}");
        }
        // OP_CODESEPARATOR is forbidden
        let cs = Builder::new()
            .push_opcode(OP_CODESEPARATOR)
            .push_key(&key().1)
            .push_opcode(OP_CHECKSIG)
            .into_script();
        let err = verify_bip322(&address(&cs), MSG, &cltv_proof(&cs, 1, false, &[])).unwrap_err();
        assert!(err.to_string().contains("CODESEPARATOR"), "{err}");
        // a branch argument other than empty / 0x01 cannot be judged: inconclusive
        let branchy = Builder::new()
            .push_opcode(OP_IF)
            .push_key(&key().1)
            .push_opcode(OP_CHECKSIG)
            .push_opcode(OP_ELSE)
            .push_int(0)
            .push_opcode(OP_ENDIF)
            .into_script();
        let proof = cltv_proof(&branchy, 1, false, &[&[0x02, 0x00]]);
        assert!(verify_bip322(&address(&branchy), MSG, &proof)
            .unwrap_err()
            .is_unsupported());
        let proof = cltv_proof(&branchy, 1, false, &[&[0x01]]);
        verify_bip322(&address(&branchy), MSG, &proof).unwrap();
        // a script the interpreter rejects: the wrong key
        let other = SecretKey::from_slice(&[8; 32]).unwrap();
        let wrong = Builder::new()
            .push_key(&bitcoin::PublicKey::new(other.public_key(secp())))
            .push_opcode(OP_CHECKSIG)
            .into_script();
        let err =
            verify_bip322(&address(&wrong), MSG, &cltv_proof(&wrong, 1, false, &[])).unwrap_err();
        assert!(!err.is_unsupported(), "{err}");
    }
}
