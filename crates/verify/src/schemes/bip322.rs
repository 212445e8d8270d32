//! BIP-322 generic signed messages (BIP text version 2.0.0), verified strictly.
//!
//! Two virtual transactions: `to_spend` pays 0 sats to the address's scriptPubKey from an
//! input whose scriptSig commits to the tagged message hash, and `to_sign` spends it to a
//! single `OP_RETURN` output. A signature is what makes `to_sign`'s input valid:
//!
//! * `smp` + base64(witness stack) — *simple*: native segwit only (P2WPKH, P2WSH, P2TR);
//!   version, lock time and sequence are 0.
//! * `ful` + base64(signed `to_sign`) — *full*: any script; version 0 or 2, any lock time and
//!   sequence (reported back as "valid at time T and age S").
//! * `pof` — proof of funds (a PSBT with extra inputs): needs the UTXO set; unsupported here.
//! * no tag: pre-2026 signatures. A 65-byte compact signature on a P2PKH address is the
//!   *legacy* format (BIP-137); otherwise a witness stack is read as simple and a transaction
//!   as full.
//!
//! The common scripts are checked by hand-written rules, fast, applying the BIP's required
//! rules (SIGHASH_ALL, or SIGHASH_DEFAULT on P2TR; strict DER; low-s; minimal pushes;
//! NULLDUMMY; clean stack): P2PKH, P2WPKH, P2SH-P2WPKH, P2TR key path, and
//! `OP_m … OP_n OP_CHECKMULTISIG` under P2SH, P2WSH and P2SH-P2WSH. Other P2WSH / P2SH-P2WSH
//! witness scripts and P2TR script paths go to Bitcoin Core's script interpreter
//! ([`super::bip322_interpreter`], feature `interpreter`); what neither covers is an
//! "unsupported" error — the BIP's *inconclusive* — never a pass.
//!
//! A bare-witness "simple" signature for a P2SH-P2WPKH address (accepted by bip322-js and the
//! `bip322` crate) is rejected: the BIP allows simple only for native segwit, and without a
//! scriptSig the P2SH input does not validate.

use super::bip137::verify_bip137;
use super::bip322_finalize::parse_bip322_ecdsa;
#[cfg(any(test, feature = "signing"))]
use super::bip322_finalize::push_script;
use super::multisig::{parse_multisig, MultisigScript};
use super::{decode_base64, encode_base64, secp, short_hex, SchemeError};
use bitcoin::absolute::LockTime;
use bitcoin::consensus::{deserialize, serialize};
use bitcoin::hashes::{hash160, sha256, Hash, HashEngine};
use bitcoin::key::XOnlyPublicKey;
use bitcoin::psbt::{raw, Psbt};
use bitcoin::script::Instruction;
use bitcoin::secp256k1::{ecdsa, schnorr, Message, PublicKey};
use bitcoin::sighash::{EcdsaSighashType, Prevouts, SighashCache, TapSighashType};
use bitcoin::taproot::{ControlBlock, TAPROOT_ANNEX_PREFIX};
use bitcoin::transaction::Version;
use bitcoin::{
    Address, Amount, OutPoint, Script, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Txid,
    Witness, WitnessVersion,
};
#[cfg(any(test, feature = "signing"))]
use {
    crate::chains::ScriptType,
    bitcoin::key::{Keypair, TapTweak},
    bitcoin::secp256k1::SecretKey,
};

const TAG: &[u8] = b"BIP0322-signed-message";
/// `PSBT_GLOBAL_GENERIC_SIGNED_MESSAGE`: the message, in a BIP-322 PSBT's global map.
pub const PSBT_GLOBAL_GENERIC_SIGNED_MESSAGE: u8 = 0x09;

/// How a BIP-322 signature was encoded, as found by [`verify_bip322`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bip322Kind {
    /// A BIP-137 compact signature on a P2PKH address (untagged).
    Legacy,
    /// A witness stack (`smp`, or untagged).
    Simple,
    /// A whole `to_sign` transaction (`ful`, or untagged); valid at time `lock_time`, age
    /// `sequence`.
    Full {
        /// `to_sign`'s version (0 or 2).
        version: i32,
        /// `to_sign`'s lock time.
        lock_time: u32,
        /// `to_sign`'s input sequence.
        sequence: u32,
    },
}

/// Which form [`sign_bip322`] produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bip322Format {
    /// `smp` + witness stack (native segwit only).
    Simple,
    /// `ful` + signed `to_sign`, with its version (0 or 2), lock time and input sequence.
    Full {
        /// `to_sign`'s version (0 or 2).
        version: i32,
        /// `to_sign`'s lock time.
        lock_time: u32,
        /// `to_sign`'s input sequence.
        sequence: u32,
    },
}

impl Bip322Format {
    /// A full signature with version, lock time and sequence all 0.
    pub const FULL: Bip322Format = Bip322Format::Full {
        version: 0,
        lock_time: 0,
        sequence: 0,
    };
}

#[cfg(any(test, feature = "signing"))]
/// Test keys that can sign a BIP-322 message for an address they control.
#[derive(Debug, Clone, Copy)]
pub enum Bip322Signer<'a> {
    /// P2PKH of the compressed key.
    P2pkh(&'a SecretKey),
    /// P2WPKH.
    P2wpkh(&'a SecretKey),
    /// P2SH-P2WPKH.
    P2shP2wpkh(&'a SecretKey),
    /// P2TR key path, BIP-86 tweak of the internal key (no script tree).
    P2tr(&'a Keypair),
    /// `OP_m … OP_n OP_CHECKMULTISIG` under P2SH, P2WSH or P2SH-P2WSH; `keys` holds at least
    /// `m` of the script's secret keys (any order, extras ignored).
    Multisig {
        /// P2SH, P2WSH or P2SH-P2WSH.
        script_type: ScriptType,
        /// The multisig script.
        script: &'a [u8],
        /// Secret keys of at least `m` of the script's keys.
        keys: &'a [SecretKey],
    },
}

fn invalid(reason: impl Into<String>) -> SchemeError {
    SchemeError::Bip322Invalid(reason.into())
}

fn unsupported(reason: impl std::fmt::Display) -> SchemeError {
    SchemeError::Unsupported(format!("script for BIP-322: {reason}"))
}

/// The BIP-340 tagged hash of the message with tag `BIP0322-signed-message`.
pub fn bip322_message_hash(msg: &[u8]) -> [u8; 32] {
    let tag = sha256::Hash::hash(TAG);
    let mut e = sha256::Hash::engine();
    e.input(tag.as_byte_array());
    e.input(tag.as_byte_array());
    e.input(msg);
    sha256::Hash::from_engine(e).to_byte_array()
}

/// The virtual `to_spend` transaction for `msg` and the address's scriptPubKey.
pub fn to_spend(script_pubkey: &Script, msg: &[u8]) -> Transaction {
    let mut script_sig = Vec::with_capacity(34);
    script_sig.extend_from_slice(&[0x00, 0x20]);
    script_sig.extend_from_slice(&bip322_message_hash(msg));
    Transaction {
        version: Version(0),
        lock_time: LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint {
                txid: Txid::all_zeros(),
                vout: 0xFFFF_FFFF,
            },
            script_sig: ScriptBuf::from_bytes(script_sig),
            sequence: Sequence(0),
            witness: Witness::new(),
        }],
        output: vec![TxOut {
            value: Amount::ZERO,
            script_pubkey: script_pubkey.to_owned(),
        }],
    }
}

/// The unsigned virtual `to_sign` transaction spending `to_spend` (version, lock time and
/// sequence 0; empty scriptSig and witness).
pub fn to_sign(to_spend: &Transaction) -> Transaction {
    Transaction {
        version: Version(0),
        lock_time: LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint {
                txid: to_spend.compute_txid(),
                vout: 0,
            },
            script_sig: ScriptBuf::new(),
            sequence: Sequence(0),
            witness: Witness::new(),
        }],
        output: vec![TxOut {
            value: Amount::ZERO,
            script_pubkey: ScriptBuf::from_bytes(vec![0x6a]),
        }],
    }
}

/// A BIP-322 PSBT for a device to sign: the unsigned `to_sign`, its input's UTXO given both
/// as `witness_utxo` and as `non_witness_utxo` (`to_spend`), and the message in
/// `PSBT_GLOBAL_GENERIC_SIGNED_MESSAGE`. Script / derivation fields are the caller's to add.
pub fn to_sign_psbt(script_pubkey: &Script, msg: &[u8]) -> Psbt {
    let spend = to_spend(script_pubkey, msg);
    let mut psbt = Psbt::from_unsigned_tx(to_sign(&spend))
        .expect("to_sign has an empty scriptSig and witness");
    psbt.inputs[0].witness_utxo = Some(spend.output[0].clone());
    psbt.inputs[0].non_witness_utxo = Some(spend);
    psbt.unknown.insert(
        raw::Key {
            type_value: PSBT_GLOBAL_GENERIC_SIGNED_MESSAGE,
            key: vec![],
        },
        msg.to_vec(),
    );
    psbt
}

// ---------------------------------------------------------------------------------------------
// Verification
// ---------------------------------------------------------------------------------------------

/// Verify a BIP-322 signature (tagged `smp` / `ful`, or untagged) for exactly `address`.
pub fn verify_bip322(address: &Address, msg: &[u8], sig: &str) -> Result<Bip322Kind, SchemeError> {
    if sig.is_empty() {
        return Err(SchemeError::Bip322Malformed(
            "signature too short: it is empty".into(),
        ));
    }
    let (tag, body) = match sig.get(..3) {
        Some(t @ ("smp" | "ful" | "pof")) => (Some(t), &sig[3..]),
        _ => (None, sig),
    };
    if tag == Some("pof") {
        return Err(SchemeError::Unsupported(
            "BIP-322 proof-of-funds ('pof') signature: its inputs can only be judged against \
             the UTXO set"
                .into(),
        ));
    }
    let bytes = decode_base64(body)
        .map_err(|_| SchemeError::Bip322Malformed("error decoding signature as base64".into()))?;
    if bytes.is_empty() {
        return Err(SchemeError::Bip322Malformed(
            "signature too short: no bytes after the tag".into(),
        ));
    }
    let spk = address.script_pubkey();
    match tag {
        Some("smp") => {
            let witness: Witness = deserialize(&bytes).map_err(|e| {
                SchemeError::Bip322Malformed(format!(
                    "error parsing signature as simple variant (a witness stack): {e}"
                ))
            })?;
            verify_simple(&spk, msg, witness)
        }
        Some(_) => {
            let tx: Transaction = deserialize(&bytes).map_err(|e| {
                SchemeError::Bip322Malformed(format!(
                    "error parsing signature as full variant (a transaction): {e}"
                ))
            })?;
            verify_full(&spk, msg, tx)
        }
        None => {
            if bytes.len() == 65 && (27..=42).contains(&bytes[0]) {
                if spk.is_p2pkh() {
                    return verify_bip137(address, msg, body)
                        .map(|_| Bip322Kind::Legacy)
                        .map_err(|e| invalid(format!("legacy signature: {e}")));
                }
                if deserialize::<Witness>(&bytes).is_err() {
                    return Err(invalid(
                        "a legacy (BIP-137) signature is a BIP-322 signature only for P2PKH \
                         addresses",
                    ));
                }
            }
            if let Ok(witness) = deserialize::<Witness>(&bytes) {
                return verify_simple(&spk, msg, witness);
            }
            if let Ok(tx) = deserialize::<Transaction>(&bytes) {
                return verify_full(&spk, msg, tx);
            }
            Err(SchemeError::Bip322Malformed(
                "error parsing signature: neither a witness stack (simple) nor a transaction \
                 (full)"
                    .into(),
            ))
        }
    }
}

fn verify_simple(spk: &Script, msg: &[u8], witness: Witness) -> Result<Bip322Kind, SchemeError> {
    let native = spk.is_p2wpkh() || spk.is_p2wsh() || spk.is_p2tr();
    if !native {
        if spk
            .witness_version()
            .is_some_and(|v| v > WitnessVersion::V1)
        {
            return Err(unsupported("segwit version above 1 (inconclusive)"));
        }
        let what = if spk.is_p2sh() {
            "a P2SH (e.g. P2SH-P2WPKH) address needs a full ('ful') signature with its scriptSig"
        } else {
            "this address type needs a full ('ful') signature"
        };
        return Err(invalid(format!(
            "simple signatures are only for native segwit addresses (P2WPKH, P2WSH, P2TR); {what}"
        )));
    }
    let mut tx = to_sign(&to_spend(spk, msg));
    tx.input[0].witness = witness;
    verify_input(&tx, spk)?;
    Ok(Bip322Kind::Simple)
}

fn verify_full(spk: &Script, msg: &[u8], tx: Transaction) -> Result<Bip322Kind, SchemeError> {
    if tx.input.len() != 1 {
        return Err(invalid(format!(
            "a full signature's to_sign has exactly one input, this one has {} (proof of funds \
             uses 'pof')",
            tx.input.len()
        )));
    }
    let spend_txid = to_spend(spk, msg).compute_txid();
    let prevout = tx.input[0].previous_output;
    if prevout.txid != spend_txid || prevout.vout != 0 {
        return Err(invalid(
            "to_sign does not spend the to_spend of this message and address",
        ));
    }
    let single_op_return = tx.output.len() == 1
        && tx.output[0].value == Amount::ZERO
        && tx.output[0].script_pubkey.as_bytes() == [0x6a];
    if !single_op_return {
        return Err(invalid(
            "to_sign must have exactly one output, 0 sats to OP_RETURN",
        ));
    }
    if tx.version.0 != 0 && tx.version.0 != 2 {
        return Err(SchemeError::Unsupported(format!(
            "BIP-322 to_sign version {} (only 0 and 2 are defined: inconclusive)",
            tx.version.0
        )));
    }
    verify_input(&tx, spk)?;
    Ok(Bip322Kind::Full {
        version: tx.version.0,
        lock_time: tx.lock_time.to_consensus_u32(),
        sequence: tx.input[0].sequence.0,
    })
}

/// The pushes of a push-only, minimally-encoded scriptSig.
fn pushes(script_sig: &Script) -> Result<Vec<&[u8]>, SchemeError> {
    script_sig
        .instructions_minimal()
        .map(|ins| match ins {
            Ok(Instruction::PushBytes(p)) => Ok(p.as_bytes()),
            Ok(Instruction::Op(op)) => Err(invalid(format!(
                "scriptSig must only push data, found {op}"
            ))),
            Err(e) => Err(invalid(format!("scriptSig: {e}"))),
        })
        .collect()
}

fn require_empty_script_sig(tx: &Transaction) -> Result<(), SchemeError> {
    if tx.input[0].script_sig.is_empty() {
        Ok(())
    } else {
        Err(invalid(
            "a native segwit input must have an empty scriptSig",
        ))
    }
}

fn require_empty_witness(tx: &Transaction) -> Result<(), SchemeError> {
    if tx.input[0].witness.is_empty() {
        Ok(())
    } else {
        Err(invalid("a non-segwit input must have an empty witness"))
    }
}

/// Check that `to_sign`'s input 0 validly spends `spk` (the address's scriptPubKey).
fn verify_input(tx: &Transaction, spk: &Script) -> Result<(), SchemeError> {
    let b = spk.as_bytes();
    if spk.is_p2wpkh() {
        require_empty_script_sig(tx)?;
        return verify_p2wpkh(tx, &b[2..22]);
    }
    if spk.is_p2wsh() {
        require_empty_script_sig(tx)?;
        return verify_p2wsh(tx, spk, &b[2..34]);
    }
    if spk.is_p2tr() {
        require_empty_script_sig(tx)?;
        return verify_p2tr(tx, spk);
    }
    if spk.is_p2pkh() {
        require_empty_witness(tx)?;
        return verify_p2pkh(tx, spk, &b[3..23]);
    }
    if spk.is_p2sh() {
        return verify_p2sh(tx, spk, &b[2..22]);
    }
    if spk
        .witness_version()
        .is_some_and(|v| v > WitnessVersion::V1)
    {
        return Err(unsupported("segwit version above 1 (inconclusive)"));
    }
    Err(unsupported(format!(
        "scriptPubKey {} is not P2PKH, P2SH, P2WPKH, P2WSH or P2TR",
        short_hex(b)
    )))
}

/// Parse `<strict DER> <sighash byte>`: SIGHASH_ALL only, low-s.
fn parse_ecdsa(bytes: &[u8], what: &str) -> Result<ecdsa::Signature, SchemeError> {
    parse_bip322_ecdsa(bytes).map_err(|e| invalid(format!("{what} {e}")))
}

fn parse_pubkey(bytes: &[u8], compressed_only: bool) -> Result<PublicKey, SchemeError> {
    let ok_form = match bytes.first() {
        Some(0x02 | 0x03) => bytes.len() == 33,
        Some(0x04) => bytes.len() == 65 && !compressed_only,
        _ => false,
    };
    if !ok_form {
        return Err(invalid(format!(
            "{} is not a {}public key",
            short_hex(bytes),
            if compressed_only { "compressed " } else { "" }
        )));
    }
    PublicKey::from_slice(bytes)
        .map_err(|_| invalid(format!("{} is not a valid public key", short_hex(bytes))))
}

fn ecdsa_check(digest: [u8; 32], sig: &ecdsa::Signature, key: &PublicKey) -> bool {
    secp()
        .verify_ecdsa(&Message::from_digest(digest), sig, key)
        .is_ok()
}

/// The single-key ECDSA check of P2WPKH and P2PKH: an error when it does not verify.
fn require_ecdsa(
    digest: [u8; 32],
    sig: &ecdsa::Signature,
    key: &PublicKey,
) -> Result<(), SchemeError> {
    if ecdsa_check(digest, sig, key) {
        Ok(())
    } else {
        Err(invalid(
            "the ECDSA signature does not verify for this message",
        ))
    }
}

fn p2wpkh_script_code(pubkey_hash: &[u8]) -> ScriptBuf {
    let mut s = vec![0x00, 0x14];
    s.extend_from_slice(pubkey_hash);
    ScriptBuf::from_bytes(s)
}

fn verify_p2wpkh(tx: &Transaction, program: &[u8]) -> Result<(), SchemeError> {
    let w = &tx.input[0].witness;
    if w.len() != 2 {
        return Err(invalid(format!(
            "a P2WPKH witness is [signature, public key], this one has {} items",
            w.len()
        )));
    }
    let key_bytes = &w[1];
    if hash160::Hash::hash(key_bytes).as_byte_array()[..] != *program {
        return Err(invalid(
            "BIP-322 witness does not match address: its public key does not hash to it",
        ));
    }
    let key = parse_pubkey(key_bytes, true)?;
    let sig = parse_ecdsa(&w[0], "the signature")?;
    let digest = SighashCache::new(tx)
        .p2wpkh_signature_hash(
            0,
            &p2wpkh_script_code(program),
            Amount::ZERO,
            EcdsaSighashType::All,
        )
        .map_err(|e| invalid(format!("sighash: {e}")))?;
    require_ecdsa(digest.to_byte_array(), &sig, &key)
}

fn verify_p2wsh(tx: &Transaction, spk: &Script, program: &[u8]) -> Result<(), SchemeError> {
    let w = &tx.input[0].witness;
    let Some(ws) = w.last() else {
        return Err(invalid("empty witness"));
    };
    if sha256::Hash::hash(ws).as_byte_array()[..] != *program {
        return Err(invalid(
            "BIP-322 witness does not match address: the witness script does not hash to it",
        ));
    }
    let ms = match parse_multisig(ws) {
        Ok(ms) => ms,
        #[cfg(feature = "interpreter")]
        Err(_) => {
            use super::bip322_interpreter::{verify_with_interpreter, ScriptPath};
            return verify_with_interpreter(tx, spk, ScriptPath::WitnessV0(Script::from_bytes(ws)));
        }
        #[cfg(not(feature = "interpreter"))]
        Err(e) => {
            let _ = spk;
            return Err(unsupported(format!(
                "the witness script is not a standard multisig (time locks and other scripts \
                 need the script interpreter, feature `interpreter`): {e}"
            )));
        }
    };
    let stack: Vec<&[u8]> = w.iter().take(w.len() - 1).collect();
    let digest = SighashCache::new(tx)
        .p2wsh_signature_hash(
            0,
            Script::from_bytes(ws),
            Amount::ZERO,
            EcdsaSighashType::All,
        )
        .map_err(|e| invalid(format!("sighash: {e}")))?
        .to_byte_array();
    check_multisig(&stack, &ms, digest)
}

/// CHECKMULTISIG with BIP-322's rules: the stack is exactly [empty dummy, sig₁ … sigₘ], and
/// the signatures match the script's keys in order.
fn check_multisig(
    stack: &[&[u8]],
    ms: &MultisigScript,
    digest: [u8; 32],
) -> Result<(), SchemeError> {
    let m = ms.threshold;
    if stack.len() != m + 1 {
        return Err(invalid(format!(
            "a {m}-of-{} multisig needs a dummy and {m} signatures ({} items), found {}",
            ms.keys.len(),
            m + 1,
            stack.len()
        )));
    }
    if !stack[0].is_empty() {
        return Err(invalid(
            "the CHECKMULTISIG dummy element must be empty (NULLDUMMY)",
        ));
    }
    let mut keys = ms.keys.iter();
    for (i, raw) in stack[1..].iter().enumerate() {
        let sig = parse_ecdsa(raw, &format!("multisig signature {}", i + 1))?;
        let remaining_sigs = m - i;
        loop {
            if keys.len() < remaining_sigs {
                return Err(invalid(format!(
                    "multisig signature {} does not verify against the script's keys in order",
                    i + 1
                )));
            }
            let key = keys.next().expect("checked non-empty");
            if ecdsa_check(digest, &sig, &key.inner) {
                break;
            }
        }
    }
    Ok(())
}

fn verify_p2tr(tx: &Transaction, spk: &Script) -> Result<(), SchemeError> {
    let w = &tx.input[0].witness;
    let output_key = XOnlyPublicKey::from_slice(&spk.as_bytes()[2..34])
        .map_err(|_| invalid("the P2TR output key is not a valid x-only key"))?;
    let mut items: Vec<&[u8]> = w.iter().collect();
    if items.len() >= 2
        && items
            .last()
            .is_some_and(|a| a.first() == Some(&TAPROOT_ANNEX_PREFIX))
    {
        return Err(unsupported("P2TR witness with an annex"));
    }
    match items.len() {
        0 => return Err(invalid("empty witness")),
        1 => {}
        _ => {
            // Script path: check at least that the script is committed to by the output key.
            let control = ControlBlock::decode(items.pop().expect("len ≥ 2"))
                .map_err(|e| invalid(format!("P2TR control block: {e}")))?;
            let script = Script::from_bytes(items.pop().expect("len ≥ 2"));
            if !control.verify_taproot_commitment(secp(), output_key, script) {
                return Err(invalid(
                    "BIP-322 witness does not match address: the P2TR script path is not \
                     committed to by its output key",
                ));
            }
            if control.leaf_version != bitcoin::taproot::LeafVersion::TapScript {
                return Err(unsupported("P2TR script path with an unknown leaf version"));
            }
            #[cfg(feature = "interpreter")]
            {
                use super::bip322_interpreter::{verify_with_interpreter, ScriptPath};
                return verify_with_interpreter(tx, spk, ScriptPath::Tapscript(script));
            }
            #[cfg(not(feature = "interpreter"))]
            return Err(unsupported(
                "P2TR script-path spend (needs the script interpreter, feature `interpreter`)",
            ));
        }
    }
    let raw = items[0];
    let (sig_bytes, ty) = match raw.len() {
        64 => (raw, TapSighashType::Default),
        65 if raw[64] == 0x01 => (&raw[..64], TapSighashType::All),
        65 => {
            return Err(invalid(format!(
                "P2TR signature uses sighash type 0x{:02x}; BIP-322 allows only \
                 SIGHASH_DEFAULT or SIGHASH_ALL",
                raw[64]
            )))
        }
        n => {
            return Err(invalid(format!(
                "a P2TR key-path signature is 64 or 65 bytes, got {n}"
            )))
        }
    };
    let sig = schnorr::Signature::from_slice(sig_bytes)
        .map_err(|_| invalid("malformed Schnorr signature"))?;
    let prevout = TxOut {
        value: Amount::ZERO,
        script_pubkey: spk.to_owned(),
    };
    let digest = SighashCache::new(tx)
        .taproot_key_spend_signature_hash(0, &Prevouts::All(&[prevout]), ty)
        .map_err(|e| invalid(format!("sighash: {e}")))?;
    secp()
        .verify_schnorr(
            &sig,
            &Message::from_digest(digest.to_byte_array()),
            &output_key,
        )
        .map_err(|_| invalid("the Schnorr signature does not verify for this message"))
}

fn verify_p2pkh(tx: &Transaction, spk: &Script, hash: &[u8]) -> Result<(), SchemeError> {
    let p = pushes(&tx.input[0].script_sig)?;
    let [sig_bytes, key_bytes] = p[..] else {
        return Err(invalid(format!(
            "a P2PKH scriptSig is <signature> <public key>, this one has {} pushes",
            p.len()
        )));
    };
    if hash160::Hash::hash(key_bytes).as_byte_array()[..] != *hash {
        return Err(invalid(
            "BIP-322 scriptSig does not match address: its public key does not hash to it",
        ));
    }
    let key = parse_pubkey(key_bytes, false)?;
    let sig = parse_ecdsa(sig_bytes, "the signature")?;
    let digest = SighashCache::new(tx)
        .legacy_signature_hash(0, spk, EcdsaSighashType::All as u32)
        .map_err(|e| invalid(format!("sighash: {e}")))?;
    require_ecdsa(digest.to_byte_array(), &sig, &key)
}

fn verify_p2sh(tx: &Transaction, spk: &Script, hash: &[u8]) -> Result<(), SchemeError> {
    let p = pushes(&tx.input[0].script_sig)?;
    let Some((redeem, rest)) = p.split_last() else {
        return Err(invalid(
            "a P2SH input needs a scriptSig ending with the redeem script (simple signatures \
             cannot carry one: use a full signature)",
        ));
    };
    if hash160::Hash::hash(redeem).as_byte_array()[..] != *hash {
        return Err(invalid(
            "BIP-322 scriptSig does not match address: the redeem script does not hash to it",
        ));
    }
    let rs = Script::from_bytes(redeem);
    if rs.is_p2wpkh() || rs.is_p2wsh() {
        if !rest.is_empty() {
            return Err(invalid(
                "a P2SH-wrapped segwit scriptSig must push only the redeem script",
            ));
        }
        return if rs.is_p2wpkh() {
            verify_p2wpkh(tx, &redeem[2..22])
        } else {
            verify_p2wsh(tx, spk, &redeem[2..34])
        };
    }
    let ms = parse_multisig(redeem).map_err(|e| {
        unsupported(format!(
            "the P2SH redeem script is not P2WPKH, P2WSH or a standard multisig: {e}"
        ))
    })?;
    require_empty_witness(tx)?;
    let digest = SighashCache::new(tx)
        .legacy_signature_hash(0, rs, EcdsaSighashType::All as u32)
        .map_err(|e| invalid(format!("sighash: {e}")))?
        .to_byte_array();
    check_multisig(rest, &ms, digest)
}

// ---------------------------------------------------------------------------------------------
// Signing with test keys
// ---------------------------------------------------------------------------------------------

#[cfg(any(test, feature = "signing"))]
impl Bip322Signer<'_> {
    /// The scriptPubKey of the address these keys control.
    pub fn script_pubkey(&self) -> Result<ScriptBuf, SchemeError> {
        let ck = |k: &SecretKey| bitcoin::CompressedPublicKey(k.public_key(secp()));
        Ok(match self {
            Bip322Signer::P2pkh(k) => ScriptBuf::new_p2pkh(&ck(k).pubkey_hash()),
            Bip322Signer::P2wpkh(k) => ScriptBuf::new_p2wpkh(&ck(k).wpubkey_hash()),
            Bip322Signer::P2shP2wpkh(k) => {
                ScriptBuf::new_p2sh(&ScriptBuf::new_p2wpkh(&ck(k).wpubkey_hash()).script_hash())
            }
            Bip322Signer::P2tr(kp) => ScriptBuf::new_p2tr(secp(), kp.x_only_public_key().0, None),
            Bip322Signer::Multisig {
                script_type,
                script,
                ..
            } => {
                parse_multisig(script)?;
                let s = Script::from_bytes(script);
                match script_type {
                    ScriptType::P2sh => ScriptBuf::new_p2sh(&s.script_hash()),
                    ScriptType::P2wsh => ScriptBuf::new_p2wsh(&s.wscript_hash()),
                    ScriptType::P2shP2wsh => {
                        ScriptBuf::new_p2sh(&ScriptBuf::new_p2wsh(&s.wscript_hash()).script_hash())
                    }
                    other => {
                        return Err(SchemeError::Unsupported(format!(
                            "script type {other} for a multisig signer"
                        )))
                    }
                }
            }
        })
    }

    fn is_native_segwit(&self) -> bool {
        match self {
            Bip322Signer::P2wpkh(_) | Bip322Signer::P2tr(_) => true,
            Bip322Signer::Multisig { script_type, .. } => *script_type == ScriptType::P2wsh,
            _ => false,
        }
    }
}

#[cfg(any(test, feature = "signing"))]
fn ecdsa_sig_bytes(digest: [u8; 32], key: &SecretKey) -> Vec<u8> {
    let sig = secp().sign_ecdsa(&Message::from_digest(digest), key);
    let mut v = sig.serialize_der().to_vec();
    v.push(EcdsaSighashType::All as u8);
    v
}

#[cfg(any(test, feature = "signing"))]
/// The signatures (in script order) of the first `m` script keys that `keys` can sign for.
fn multisig_sigs(
    ms: &MultisigScript,
    keys: &[SecretKey],
    digest: [u8; 32],
) -> Result<Vec<Vec<u8>>, SchemeError> {
    let mut sigs = Vec::new();
    for script_key in &ms.keys {
        if sigs.len() == ms.threshold {
            break;
        }
        if let Some(sk) = keys
            .iter()
            .find(|k| k.public_key(secp()) == script_key.inner)
        {
            sigs.push(ecdsa_sig_bytes(digest, sk));
        }
    }
    if sigs.len() < ms.threshold {
        return Err(SchemeError::BelowThreshold {
            distinct: sigs.len(),
            threshold: ms.threshold,
        });
    }
    Ok(sigs)
}

#[cfg(any(test, feature = "signing"))]
/// Sign `msg` for the signer's address (test / simulator keys), as `smp…` or `ful…`.
/// Simple is refused for non-native-segwit addresses, as the BIP requires.
pub fn sign_bip322(
    signer: &Bip322Signer,
    msg: &[u8],
    format: Bip322Format,
) -> Result<String, SchemeError> {
    if format == Bip322Format::Simple && !signer.is_native_segwit() {
        return Err(SchemeError::Unsupported(
            "simple BIP-322 signature for a non-native-segwit address (use full)".into(),
        ));
    }
    let spk = signer.script_pubkey()?;
    let mut tx = to_sign(&to_spend(&spk, msg));
    if let Bip322Format::Full {
        version,
        lock_time,
        sequence,
    } = format
    {
        tx.version = Version(version);
        tx.lock_time = LockTime::from_consensus(lock_time);
        tx.input[0].sequence = Sequence(sequence);
    }
    let (script_sig, witness) = match signer {
        Bip322Signer::P2pkh(k) => {
            let digest = SighashCache::new(&tx)
                .legacy_signature_hash(0, &spk, EcdsaSighashType::All as u32)
                .map_err(|e| invalid(format!("sighash: {e}")))?;
            let sig = ecdsa_sig_bytes(digest.to_byte_array(), k);
            let pk = k.public_key(secp()).serialize();
            (push_script(&[&sig, &pk]), Witness::new())
        }
        Bip322Signer::P2wpkh(k) | Bip322Signer::P2shP2wpkh(k) => {
            let ck = bitcoin::CompressedPublicKey(k.public_key(secp()));
            let program = ScriptBuf::new_p2wpkh(&ck.wpubkey_hash());
            let digest = SighashCache::new(&tx)
                .p2wpkh_signature_hash(0, &program, Amount::ZERO, EcdsaSighashType::All)
                .map_err(|e| invalid(format!("sighash: {e}")))?;
            let sig = ecdsa_sig_bytes(digest.to_byte_array(), k);
            let witness = Witness::from_slice(&[sig, ck.to_bytes().to_vec()]);
            let script_sig = if matches!(signer, Bip322Signer::P2shP2wpkh(_)) {
                push_script(&[program.as_bytes()])
            } else {
                ScriptBuf::new()
            };
            (script_sig, witness)
        }
        Bip322Signer::P2tr(kp) => {
            let prevout = TxOut {
                value: Amount::ZERO,
                script_pubkey: spk.clone(),
            };
            let digest = SighashCache::new(&tx)
                .taproot_key_spend_signature_hash(
                    0,
                    &Prevouts::All(&[prevout]),
                    TapSighashType::Default,
                )
                .map_err(|e| invalid(format!("sighash: {e}")))?;
            let tweaked = kp.tap_tweak(secp(), None).to_keypair();
            let sig = secp()
                .sign_schnorr_no_aux_rand(&Message::from_digest(digest.to_byte_array()), &tweaked);
            (
                ScriptBuf::new(),
                Witness::from_slice(&[sig.as_ref().to_vec()]),
            )
        }
        Bip322Signer::Multisig {
            script_type,
            script,
            keys,
        } => {
            let ms = parse_multisig(script)?;
            let s = Script::from_bytes(script);
            if *script_type == ScriptType::P2sh {
                let digest = SighashCache::new(&tx)
                    .legacy_signature_hash(0, s, EcdsaSighashType::All as u32)
                    .map_err(|e| invalid(format!("sighash: {e}")))?;
                let sigs = multisig_sigs(&ms, keys, digest.to_byte_array())?;
                let mut items: Vec<&[u8]> = vec![&[]];
                items.extend(sigs.iter().map(Vec::as_slice));
                items.push(script);
                (push_script(&items), Witness::new())
            } else {
                let digest = SighashCache::new(&tx)
                    .p2wsh_signature_hash(0, s, Amount::ZERO, EcdsaSighashType::All)
                    .map_err(|e| invalid(format!("sighash: {e}")))?;
                let sigs = multisig_sigs(&ms, keys, digest.to_byte_array())?;
                let mut items: Vec<Vec<u8>> = vec![vec![]];
                items.extend(sigs);
                items.push(script.to_vec());
                let script_sig = if *script_type == ScriptType::P2shP2wsh {
                    push_script(&[ScriptBuf::new_p2wsh(&s.wscript_hash()).as_bytes()])
                } else {
                    ScriptBuf::new()
                };
                (script_sig, Witness::from_slice(&items))
            }
        }
    };
    tx.input[0].script_sig = script_sig;
    tx.input[0].witness = witness;
    Ok(encode_bip322_signature(&tx, format))
}

/// Encode a signed `to_sign` (e.g. finalized from a device-signed PSBT) as a tagged BIP-322
/// signature: `smp` + its first input's witness, or `ful` + the whole transaction. Only
/// the variant tag of `format` matters; the transaction's own fields are kept.
pub fn encode_bip322_signature(signed_to_sign: &Transaction, format: Bip322Format) -> String {
    match format {
        Bip322Format::Simple => {
            let witness = signed_to_sign
                .input
                .first()
                .map(|i| serialize(&i.witness))
                .unwrap_or_else(|| vec![0]);
            format!("smp{}", encode_base64(&witness))
        }
        Bip322Format::Full { .. } => format!("ful{}", encode_base64(&serialize(signed_to_sign))),
    }
}

#[cfg(any(test, feature = "signing"))]
/// A simple (`smp`) signature for the P2WPKH address of `secret`.
pub fn sign_bip322_simple_p2wpkh(secret: &SecretKey, msg: &[u8]) -> String {
    sign_bip322(&Bip322Signer::P2wpkh(secret), msg, Bip322Format::Simple)
        .expect("P2WPKH simple signing cannot fail")
}

#[cfg(any(test, feature = "signing"))]
/// A simple (`smp`) key-path signature for the BIP-86 P2TR address of `keypair`.
pub fn sign_bip322_simple_p2tr(keypair: &Keypair, msg: &[u8]) -> String {
    sign_bip322(&Bip322Signer::P2tr(keypair), msg, Bip322Format::Simple)
        .expect("P2TR simple signing cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schemes::multisig::multisig_script;
    use bitcoin::Network;

    fn sk(b: u8) -> SecretKey {
        SecretKey::from_slice(&[b; 32]).unwrap()
    }

    fn address_of(signer: &Bip322Signer) -> Address {
        Address::from_script(&signer.script_pubkey().unwrap(), Network::Bitcoin).unwrap()
    }

    const MSG: &[u8] = b"ACME proof of reserves";

    #[test]
    fn message_hash_and_txids_of_the_bip() {
        assert_eq!(
            hex::encode(bip322_message_hash(b"")),
            "c90c269c4f8fcbe6880f72a721ddfbf1914268a794cbb21cfafee13770ae19f1"
        );
        let a: Address = "bc1q9vza2e8x573nczrlzms0wvx3gsqjx7vavgkx0l"
            .parse::<Address<_>>()
            .unwrap()
            .assume_checked();
        let spend = to_spend(&a.script_pubkey(), b"Hello World");
        assert_eq!(
            spend.compute_txid().to_string(),
            "b79d196740ad5217771c1098fc4a4b51e0535c32236c71f1ea4d61a2d603352b"
        );
        assert_eq!(
            to_sign(&spend).compute_txid().to_string(),
            "88737ae86f2077145f93cc4b153ae9a1cb8d56afa511988c149c5c8c9d93bddf"
        );
    }

    fn all_signers<'a>(
        k: &'a SecretKey,
        kp: &'a Keypair,
        script: &'a [u8],
        keys: &'a [SecretKey],
    ) -> Vec<Bip322Signer<'a>> {
        vec![
            Bip322Signer::P2pkh(k),
            Bip322Signer::P2wpkh(k),
            Bip322Signer::P2shP2wpkh(k),
            Bip322Signer::P2tr(kp),
            Bip322Signer::Multisig {
                script_type: ScriptType::P2sh,
                script,
                keys,
            },
            Bip322Signer::Multisig {
                script_type: ScriptType::P2wsh,
                script,
                keys,
            },
            Bip322Signer::Multisig {
                script_type: ScriptType::P2shP2wsh,
                script,
                keys,
            },
        ]
    }

    #[test]
    fn round_trips_for_every_supported_type() {
        let k = sk(1);
        let kp = Keypair::from_secret_key(secp(), &sk(2));
        let keys = [sk(3), sk(4), sk(5)];
        let pubs: Vec<_> = keys
            .iter()
            .map(|k| bitcoin::PublicKey::new(k.public_key(secp())))
            .collect();
        let script = multisig_script(2, &pubs).unwrap();
        // only keys 1 and 3 sign: signatures must follow script order
        let signing = [keys[2], keys[0]];
        for signer in all_signers(&k, &kp, &script, &signing) {
            let a = address_of(&signer);
            let full = sign_bip322(&signer, MSG, Bip322Format::FULL).unwrap();
            assert!(full.starts_with("ful"));
            assert_eq!(
                verify_bip322(&a, MSG, &full),
                Ok(Bip322Kind::Full {
                    version: 0,
                    lock_time: 0,
                    sequence: 0
                }),
                "{signer:?}"
            );
            assert!(verify_bip322(&a, b"other", &full).is_err());
            let timed = Bip322Format::Full {
                version: 2,
                lock_time: 800_000,
                sequence: 144,
            };
            let sig = sign_bip322(&signer, MSG, timed).unwrap();
            assert_eq!(
                verify_bip322(&a, MSG, &sig),
                Ok(Bip322Kind::Full {
                    version: 2,
                    lock_time: 800_000,
                    sequence: 144
                })
            );
            match sign_bip322(&signer, MSG, Bip322Format::Simple) {
                Ok(simple) => {
                    assert!(signer.is_native_segwit());
                    assert_eq!(verify_bip322(&a, MSG, &simple), Ok(Bip322Kind::Simple));
                    // untagged (pre-2026) form of the same witness
                    assert_eq!(verify_bip322(&a, MSG, &simple[3..]), Ok(Bip322Kind::Simple));
                    assert!(verify_bip322(&a, b"other", &simple).is_err());
                }
                Err(e) => {
                    assert!(!signer.is_native_segwit(), "{e}");
                }
            }
        }
    }

    #[test]
    fn too_few_multisig_keys_cannot_sign() {
        let keys = [sk(3), sk(4), sk(5)];
        let pubs: Vec<_> = keys
            .iter()
            .map(|k| bitcoin::PublicKey::new(k.public_key(secp())))
            .collect();
        let script = multisig_script(2, &pubs).unwrap();
        let signer = Bip322Signer::Multisig {
            script_type: ScriptType::P2wsh,
            script: &script,
            keys: &keys[..1],
        };
        assert!(matches!(
            sign_bip322(&signer, MSG, Bip322Format::Simple),
            Err(SchemeError::BelowThreshold {
                distinct: 1,
                threshold: 2
            })
        ));
    }

    #[test]
    fn bare_witness_on_p2sh_p2wpkh_is_rejected() {
        let k = sk(7);
        let wrapped = Bip322Signer::P2shP2wpkh(&k);
        let a = address_of(&wrapped);
        // take the witness of a valid full signature and present it as simple
        let full = sign_bip322(&wrapped, MSG, Bip322Format::FULL).unwrap();
        let tx: Transaction = deserialize(&decode_base64(&full[3..]).unwrap()).unwrap();
        let simple = encode_base64(&serialize(&tx.input[0].witness));
        for sig in [format!("smp{simple}"), simple] {
            let err = verify_bip322(&a, MSG, &sig).unwrap_err();
            assert!(err.to_string().contains("only for native segwit"), "{err}");
        }
    }

    #[test]
    fn legacy_only_on_p2pkh() {
        use crate::schemes::bip137::{sign_bip137, Bip137Kind};
        let k = sk(8);
        let p2pkh = address_of(&Bip322Signer::P2pkh(&k));
        let wpkh = address_of(&Bip322Signer::P2wpkh(&k));
        let legacy = sign_bip137(&k, MSG, Bip137Kind::P2pkhCompressed);
        assert_eq!(verify_bip322(&p2pkh, MSG, &legacy), Ok(Bip322Kind::Legacy));
        assert!(verify_bip322(&p2pkh, b"x", &legacy).is_err());
        let err = verify_bip322(&wpkh, MSG, &legacy).unwrap_err();
        assert!(err.to_string().contains("only for P2PKH"), "{err}");
    }

    #[test]
    fn structural_checks_of_full_signatures() {
        let k = sk(9);
        let signer = Bip322Signer::P2wpkh(&k);
        let a = address_of(&signer);
        let full = sign_bip322(&signer, MSG, Bip322Format::FULL).unwrap();
        let tx: Transaction = deserialize(&decode_base64(&full[3..]).unwrap()).unwrap();
        let enc = |t: &Transaction| format!("ful{}", encode_base64(&serialize(t)));
        let mut two_outputs = tx.clone();
        two_outputs.output.push(two_outputs.output[0].clone());
        assert!(verify_bip322(&a, MSG, &enc(&two_outputs))
            .unwrap_err()
            .to_string()
            .contains("one output"));
        let mut v1 = tx.clone();
        v1.version = Version(1);
        assert!(verify_bip322(&a, MSG, &enc(&v1))
            .unwrap_err()
            .is_unsupported());
        let mut extra_input = tx.clone();
        extra_input.input.push(extra_input.input[0].clone());
        assert!(verify_bip322(&a, MSG, &enc(&extra_input)).is_err());
        let mut with_sig_script = tx.clone();
        with_sig_script.input[0].script_sig = push_script(&[b"x"]);
        assert!(verify_bip322(&a, MSG, &enc(&with_sig_script)).is_err());
        // a witness signature with SIGHASH_NONE is refused even if otherwise well formed
        let mut none = tx.clone();
        let mut items: Vec<Vec<u8>> = none.input[0].witness.iter().map(<[u8]>::to_vec).collect();
        *items[0].last_mut().unwrap() = 0x02;
        none.input[0].witness = Witness::from_slice(&items);
        assert!(verify_bip322(&a, MSG, &enc(&none))
            .unwrap_err()
            .to_string()
            .contains("SIGHASH_ALL"));
    }

    #[test]
    fn tags_and_garbage() {
        let a = address_of(&Bip322Signer::P2wpkh(&sk(1)));
        assert!(verify_bip322(&a, MSG, "")
            .unwrap_err()
            .to_string()
            .contains("signature too short"));
        assert!(verify_bip322(&a, MSG, "smp")
            .unwrap_err()
            .to_string()
            .contains("too short"));
        assert!(verify_bip322(&a, MSG, "pofAAAA")
            .unwrap_err()
            .is_unsupported());
        assert!(verify_bip322(&a, MSG, "smp%%%")
            .unwrap_err()
            .to_string()
            .contains("base64"));
        assert!(verify_bip322(&a, MSG, "fulAAAA")
            .unwrap_err()
            .to_string()
            .contains("full variant"));
        assert!(verify_bip322(&a, MSG, "smpAAAA")
            .unwrap_err()
            .to_string()
            .contains("simple variant"));
        assert!(verify_bip322(&a, MSG, "smpAA==")
            .unwrap_err()
            .to_string()
            .contains("invalid signature"));
    }

    #[test]
    fn psbt_carries_message_and_utxo() {
        let a = address_of(&Bip322Signer::P2wpkh(&sk(1)));
        let psbt = to_sign_psbt(&a.script_pubkey(), MSG);
        let spend = to_spend(&a.script_pubkey(), MSG);
        assert_eq!(psbt.unsigned_tx, to_sign(&spend));
        assert_eq!(psbt.inputs[0].witness_utxo.as_ref(), Some(&spend.output[0]));
        let key = raw::Key {
            type_value: PSBT_GLOBAL_GENERIC_SIGNED_MESSAGE,
            key: vec![],
        };
        assert_eq!(psbt.unknown.get(&key).map(Vec::as_slice), Some(MSG));
        // it survives a serialization round trip
        let back = Psbt::deserialize(&psbt.serialize()).unwrap();
        assert_eq!(back, psbt);
    }
}
