//! BIP-322 proofs assembled from the ECDSA signatures hardware signers return for a `to_sign`
//! PSBT (BIP-174's finalizer role), and the checks each such partial signature passes before
//! a ceremony journals it. Pure: no I/O, no private keys.
//!
//! * single key, P2WPKH: witness `[signature, key]`, encoded simple (`smp`);
//! * single key, P2SH-P2WPKH: the same witness and a scriptSig pushing the P2WPKH program,
//!   encoded full (`ful`): BIP-322 2.0.0 allows simple only for native segwit;
//! * m-of-n `CHECKMULTISIG`, P2WSH: witness `[empty, signatures in script order, script]`,
//!   simple; P2SH-P2WSH: the same witness and a scriptSig pushing the P2WSH program, full;
//!   P2SH (legacy): scriptSig `OP_0 <signatures in script order> <script>`, full.
//!
//! Every signature must be strict DER, low-S and SIGHASH_ALL, by a key of the script, and
//! verify against `to_sign`'s sighash for this address and message.

use super::bip322::{encode_bip322_signature, to_sign, to_spend, Bip322Format};
use super::multisig::parse_multisig;
use super::secp;
use crate::chains::ScriptType;
use bitcoin::hashes::Hash;
use bitcoin::script::{Builder, PushBytesBuf};
use bitcoin::secp256k1::{ecdsa, Message};
use bitcoin::sighash::{EcdsaSighashType, SighashCache};
use bitcoin::{Amount, PublicKey, Script, ScriptBuf, Transaction, Witness};
use thiserror::Error;

/// How `to_sign`'s input spends the address: what partial signatures are checked against and
/// how the finalized witness and scriptSig are built.
#[derive(Debug, Clone, Copy)]
pub enum Bip322Spend<'a> {
    /// P2WPKH or P2SH-P2WPKH of a compressed key.
    SingleKey {
        /// [`ScriptType::P2wpkh`] or [`ScriptType::P2shP2wpkh`].
        script_type: ScriptType,
        /// The address's key.
        pubkey: &'a PublicKey,
    },
    /// An m-of-n `CHECKMULTISIG` under P2SH, P2WSH or P2SH-P2WSH.
    Multisig {
        /// [`ScriptType::P2sh`], [`ScriptType::P2wsh`] or [`ScriptType::P2shP2wsh`].
        script_type: ScriptType,
        /// The redeem script (P2SH) or witness script.
        script: &'a [u8],
    },
}

/// Why a partial signature, or a set of them, cannot make a BIP-322 proof.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum PartialSigError {
    /// The script type is not signed with ECDSA through a BIP-322 PSBT here.
    #[error("a {0} address has no ECDSA BIP-322 partial signatures")]
    UnsupportedScript(ScriptType),
    /// The multisig script does not parse, or the single key is not compressed.
    #[error("the script: {0}")]
    Script(String),
    /// The signing key is not one of the script's (or not the address's) keys.
    #[error("the key {0} is not a key of this address's script")]
    KeyNotInScript(String),
    /// The signature bytes are empty.
    #[error("is empty")]
    Empty,
    /// The sighash byte is not SIGHASH_ALL.
    #[error("uses sighash type 0x{0:02x}; BIP-322 requires SIGHASH_ALL")]
    Sighash(u8),
    /// Not strict DER.
    #[error("is not a strict DER ECDSA signature")]
    NotDer,
    /// s above half the curve order.
    #[error("has a high s value (LOW_S)")]
    HighS,
    /// The signature does not verify against `to_sign`'s sighash with the key.
    #[error("does not verify for this message and address with the key {0}")]
    DoesNotVerify(String),
    /// One signature of the set is bad.
    #[error("the signature by {key} {reason}")]
    Bad {
        /// The key it claims.
        key: String,
        /// What is wrong with it.
        reason: Box<PartialSigError>,
    },
    /// Fewer distinct valid signatures than the threshold.
    #[error("{have} of {need} signatures")]
    BelowThreshold {
        /// Distinct keys that signed.
        have: usize,
        /// Signatures the script needs.
        need: usize,
    },
}

/// Parses `<strict DER> <sighash byte>`: SIGHASH_ALL only, low-S.
pub fn parse_bip322_ecdsa(bytes: &[u8]) -> Result<ecdsa::Signature, PartialSigError> {
    let (&hash_type, der) = bytes.split_last().ok_or(PartialSigError::Empty)?;
    if hash_type != EcdsaSighashType::All as u8 {
        return Err(PartialSigError::Sighash(hash_type));
    }
    let sig = ecdsa::Signature::from_der(der).map_err(|_| PartialSigError::NotDer)?;
    let mut low = sig;
    low.normalize_s();
    if low != sig {
        return Err(PartialSigError::HighS);
    }
    Ok(sig)
}

/// A script of pushes (a scriptSig), each pushed minimally.
pub(crate) fn push_script(items: &[&[u8]]) -> ScriptBuf {
    let mut b = Builder::new();
    for item in items {
        let p = PushBytesBuf::try_from(item.to_vec()).expect("pushes are below 4 GiB");
        b = b.push_slice(p);
    }
    b.into_script()
}

impl Bip322Spend<'_> {
    /// The scriptPubKey of the address.
    pub fn script_pubkey(&self) -> Result<ScriptBuf, PartialSigError> {
        let (st, inner) = self.inner_script()?;
        Ok(match st {
            ScriptType::P2wpkh | ScriptType::P2wsh => inner,
            ScriptType::P2shP2wpkh | ScriptType::P2shP2wsh | ScriptType::P2sh => {
                ScriptBuf::new_p2sh(&inner.script_hash())
            }
            other => return Err(PartialSigError::UnsupportedScript(other)),
        })
    }

    /// The signature form the BIP allows: simple for native segwit, full otherwise.
    pub fn format(&self) -> Bip322Format {
        match self.script_type() {
            ScriptType::P2wpkh | ScriptType::P2wsh => Bip322Format::Simple,
            _ => Bip322Format::FULL,
        }
    }

    fn script_type(&self) -> ScriptType {
        match self {
            Bip322Spend::SingleKey { script_type, .. }
            | Bip322Spend::Multisig { script_type, .. } => *script_type,
        }
    }

    /// The script under a P2SH wrapper (or the native segwit program itself): the P2WPKH /
    /// P2WSH program, or the multisig script for legacy P2SH.
    fn inner_script(&self) -> Result<(ScriptType, ScriptBuf), PartialSigError> {
        let st = self.script_type();
        Ok(match (self, st) {
            (
                Bip322Spend::SingleKey { pubkey, .. },
                ScriptType::P2wpkh | ScriptType::P2shP2wpkh,
            ) => {
                let hash = pubkey
                    .wpubkey_hash()
                    .map_err(|_| PartialSigError::Script("the key is not compressed".into()))?;
                (st, ScriptBuf::new_p2wpkh(&hash))
            }
            (Bip322Spend::Multisig { script, .. }, ScriptType::P2wsh | ScriptType::P2shP2wsh) => (
                st,
                ScriptBuf::new_p2wsh(&Script::from_bytes(script).wscript_hash()),
            ),
            (Bip322Spend::Multisig { script, .. }, ScriptType::P2sh) => {
                (st, ScriptBuf::from_bytes(script.to_vec()))
            }
            _ => return Err(PartialSigError::UnsupportedScript(st)),
        })
    }

    /// The keys that may sign, in script order, and how many signatures are needed.
    pub fn keys(&self) -> Result<(Vec<PublicKey>, usize), PartialSigError> {
        match self {
            Bip322Spend::SingleKey { pubkey, .. } => Ok((vec![**pubkey], 1)),
            Bip322Spend::Multisig { script, .. } => {
                let ms =
                    parse_multisig(script).map_err(|e| PartialSigError::Script(e.to_string()))?;
                Ok((ms.keys, ms.threshold))
            }
        }
    }

    /// The unsigned `to_sign` of `msg` for this address.
    pub fn to_sign(&self, msg: &[u8]) -> Result<Transaction, PartialSigError> {
        Ok(to_sign(&to_spend(&self.script_pubkey()?, msg)))
    }

    /// The SIGHASH_ALL digest every signature of `to_sign`'s input commits to.
    pub fn sighash(&self, to_sign: &Transaction) -> Result<[u8; 32], PartialSigError> {
        let mut cache = SighashCache::new(to_sign);
        let all = EcdsaSighashType::All;
        let err = |e: &dyn std::fmt::Display| PartialSigError::Script(e.to_string());
        Ok(match self {
            Bip322Spend::SingleKey { .. } => {
                let (_, program) = self.inner_script()?;
                cache
                    .p2wpkh_signature_hash(0, &program, Amount::ZERO, all)
                    .map_err(|e| err(&e))?
                    .to_byte_array()
            }
            Bip322Spend::Multisig {
                script_type: ScriptType::P2sh,
                script,
            } => cache
                .legacy_signature_hash(0, Script::from_bytes(script), all as u32)
                .map_err(|e| err(&e))?
                .to_byte_array(),
            Bip322Spend::Multisig { script, .. } => cache
                .p2wsh_signature_hash(0, Script::from_bytes(script), Amount::ZERO, all)
                .map_err(|e| err(&e))?
                .to_byte_array(),
        })
    }
}

/// Checks one partial signature (`<DER> <sighash byte>`) by `pubkey` of `to_sign` for `msg`:
/// the key is one of the address's, the encoding strict, s low, the type SIGHASH_ALL, and it
/// verifies. What a ceremony checks before journaling a cosigner's signature.
pub fn check_partial_signature(
    spend: &Bip322Spend<'_>,
    msg: &[u8],
    pubkey: &PublicKey,
    sig: &[u8],
) -> Result<(), PartialSigError> {
    let digest = spend.sighash(&spend.to_sign(msg)?)?;
    check_against(spend, digest, pubkey, sig)
}

fn check_against(
    spend: &Bip322Spend<'_>,
    digest: [u8; 32],
    pubkey: &PublicKey,
    sig: &[u8],
) -> Result<(), PartialSigError> {
    let (keys, _) = spend.keys()?;
    if !keys.contains(pubkey) {
        return Err(PartialSigError::KeyNotInScript(pubkey.to_string()));
    }
    let s = parse_bip322_ecdsa(sig)?;
    secp()
        .verify_ecdsa(&Message::from_digest(digest), &s, &pubkey.inner)
        .map_err(|_| PartialSigError::DoesNotVerify(pubkey.to_string()))
}

/// Finalizes `to_sign` from partial signatures (`(key, <DER> <sighash byte>)`, any order,
/// duplicates by key ignored): every one is checked (one bad signature refuses the set, with
/// its reason), the first `m` in script order go into the witness / scriptSig, and the result
/// is encoded as the BIP allows for the address (`smp…` or `ful…`).
pub fn finalize_bip322(
    spend: &Bip322Spend<'_>,
    msg: &[u8],
    partials: &[(PublicKey, Vec<u8>)],
) -> Result<String, PartialSigError> {
    let mut tx = spend.to_sign(msg)?;
    let digest = spend.sighash(&tx)?;
    for (key, sig) in partials {
        check_against(spend, digest, key, sig).map_err(|reason| PartialSigError::Bad {
            key: key.to_string(),
            reason: Box::new(reason),
        })?;
    }
    let (keys, m) = spend.keys()?;
    let chosen: Vec<&[u8]> = keys
        .iter()
        .filter_map(|k| partials.iter().find(|(pk, _)| pk == k))
        .map(|(_, s)| s.as_slice())
        .take(m)
        .collect();
    if chosen.len() < m {
        return Err(PartialSigError::BelowThreshold {
            have: chosen.len(),
            need: m,
        });
    }
    let (st, inner) = spend.inner_script()?;
    let (script_sig, witness) = match spend {
        Bip322Spend::SingleKey { pubkey, .. } => {
            let w = Witness::from_slice(&[chosen[0].to_vec(), pubkey.to_bytes()]);
            let ss = match st {
                ScriptType::P2shP2wpkh => push_script(&[inner.as_bytes()]),
                _ => ScriptBuf::new(),
            };
            (ss, w)
        }
        Bip322Spend::Multisig { script, .. } if st == ScriptType::P2sh => {
            let mut items: Vec<&[u8]> = vec![&[]];
            items.extend(&chosen);
            items.push(script);
            (push_script(&items), Witness::new())
        }
        Bip322Spend::Multisig { script, .. } => {
            let mut items: Vec<Vec<u8>> = vec![vec![]];
            items.extend(chosen.iter().map(|s| s.to_vec()));
            items.push(script.to_vec());
            let ss = match st {
                ScriptType::P2shP2wsh => push_script(&[inner.as_bytes()]),
                _ => ScriptBuf::new(),
            };
            (ss, Witness::from_slice(&items))
        }
    };
    tx.input[0].script_sig = script_sig;
    tx.input[0].witness = witness;
    Ok(encode_bip322_signature(&tx, spend.format()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schemes::bip322::{verify_bip322, Bip322Kind};
    use crate::schemes::multisig::multisig_script;
    use bitcoin::secp256k1::SecretKey;
    use bitcoin::{Address, Network};

    const MSG: &[u8] = b"ACME proof of reserves";

    fn sk(b: u8) -> SecretKey {
        SecretKey::from_slice(&[b; 32]).unwrap()
    }

    fn pk(k: &SecretKey) -> PublicKey {
        PublicKey::new(k.public_key(secp()))
    }

    fn sign(spend: &Bip322Spend<'_>, k: &SecretKey) -> Vec<u8> {
        let digest = spend.sighash(&spend.to_sign(MSG).unwrap()).unwrap();
        let mut s = secp()
            .sign_ecdsa(&Message::from_digest(digest), k)
            .serialize_der()
            .to_vec();
        s.push(1);
        s
    }

    fn address(spend: &Bip322Spend<'_>) -> Address {
        Address::from_script(&spend.script_pubkey().unwrap(), Network::Bitcoin).unwrap()
    }

    #[test]
    fn single_key_proofs_verify_in_the_form_the_bip_allows() {
        let k = sk(1);
        let key = pk(&k);
        for (st, simple) in [(ScriptType::P2wpkh, true), (ScriptType::P2shP2wpkh, false)] {
            let spend = Bip322Spend::SingleKey {
                script_type: st,
                pubkey: &key,
            };
            let sig = sign(&spend, &k);
            check_partial_signature(&spend, MSG, &key, &sig).unwrap();
            let proof = finalize_bip322(&spend, MSG, &[(key, sig)]).unwrap();
            assert_eq!(proof.starts_with("smp"), simple, "{st}");
            let kind = verify_bip322(&address(&spend), MSG, &proof).unwrap();
            assert_eq!(kind == Bip322Kind::Simple, simple, "{st}");
        }
    }

    #[test]
    fn multisig_threshold_by_every_pair_of_cosigners() {
        let keys = [sk(3), sk(4), sk(5)];
        let pubs: Vec<_> = keys.iter().map(pk).collect();
        let script = multisig_script(2, &pubs).unwrap();
        for st in [ScriptType::P2wsh, ScriptType::P2shP2wsh, ScriptType::P2sh] {
            let spend = Bip322Spend::Multisig {
                script_type: st,
                script: &script,
            };
            for (a, b) in [(0, 1), (0, 2), (1, 2), (2, 0)] {
                let partials = [
                    (pubs[a], sign(&spend, &keys[a])),
                    (pubs[b], sign(&spend, &keys[b])),
                ];
                let proof = finalize_bip322(&spend, MSG, &partials).unwrap();
                assert_eq!(proof.starts_with("smp"), st == ScriptType::P2wsh);
                verify_bip322(&address(&spend), MSG, &proof)
                    .unwrap_or_else(|e| panic!("{st} {a}{b}: {e}"));
            }
            // all three: the first two in script order are used
            let all: Vec<_> = (0..3).map(|i| (pubs[i], sign(&spend, &keys[i]))).collect();
            verify_bip322(
                &address(&spend),
                MSG,
                &finalize_bip322(&spend, MSG, &all).unwrap(),
            )
            .unwrap();
        }
    }

    #[test]
    fn bad_partial_signatures_are_refused_with_their_reason() {
        let keys = [sk(3), sk(4), sk(5)];
        let pubs: Vec<_> = keys.iter().map(pk).collect();
        let script = multisig_script(2, &pubs).unwrap();
        let spend = Bip322Spend::Multisig {
            script_type: ScriptType::P2wsh,
            script: &script,
        };
        let good = sign(&spend, &keys[0]);
        // a key outside the script
        let outsider = sk(9);
        let err = check_partial_signature(&spend, MSG, &pk(&outsider), &sign(&spend, &outsider))
            .unwrap_err();
        assert!(matches!(err, PartialSigError::KeyNotInScript(_)), "{err}");
        // high S: the same signature with s negated
        let der = &good[..good.len() - 1];
        let mut s = ecdsa::Signature::from_der(der).unwrap().serialize_compact();
        let n = bitcoin::secp256k1::constants::CURVE_ORDER;
        let mut borrow = 0i16;
        for i in (0..32).rev() {
            let v = n[i] as i16 - s[32 + i] as i16 - borrow;
            borrow = (v < 0) as i16;
            s[32 + i] = (v + 256 * borrow) as u8;
        }
        let mut high = ecdsa::Signature::from_compact(&s)
            .unwrap()
            .serialize_der()
            .to_vec();
        high.push(1);
        assert_eq!(
            check_partial_signature(&spend, MSG, &pubs[0], &high),
            Err(PartialSigError::HighS)
        );
        // not DER
        let mut garbage = good.clone();
        garbage[0] = 0x31;
        assert_eq!(
            check_partial_signature(&spend, MSG, &pubs[0], &garbage),
            Err(PartialSigError::NotDer)
        );
        // SIGHASH_NONE
        let mut none = good.clone();
        *none.last_mut().unwrap() = 2;
        assert_eq!(
            check_partial_signature(&spend, MSG, &pubs[0], &none),
            Err(PartialSigError::Sighash(2))
        );
        // another cosigner's key on this signature
        assert!(matches!(
            check_partial_signature(&spend, MSG, &pubs[1], &good),
            Err(PartialSigError::DoesNotVerify(_))
        ));
        // another message
        assert!(matches!(
            check_partial_signature(&spend, b"other", &pubs[0], &good),
            Err(PartialSigError::DoesNotVerify(_))
        ));
        // a missing cosigner: one signature of two
        assert_eq!(
            finalize_bip322(&spend, MSG, &[(pubs[0], good.clone())]),
            Err(PartialSigError::BelowThreshold { have: 1, need: 2 })
        );
        // the same cosigner twice is one signature
        assert_eq!(
            finalize_bip322(
                &spend,
                MSG,
                &[(pubs[0], good.clone()), (pubs[0], good.clone())]
            ),
            Err(PartialSigError::BelowThreshold { have: 1, need: 2 })
        );
        // one bad signature in the set refuses it, naming the key
        let err = finalize_bip322(
            &spend,
            MSG,
            &[
                (pubs[0], good),
                (pubs[1], none),
                (pubs[2], sign(&spend, &keys[2])),
            ],
        )
        .unwrap_err();
        assert!(err.to_string().contains("SIGHASH_ALL"), "{err}");
        assert!(err.to_string().contains(&pubs[1].to_string()), "{err}");
    }
}
