//! Multisig addresses proven with one legacy signed message per cosigner key.
//!
//! The snapshot carries the redeem script (P2SH) or witness script (P2WSH, P2SH-P2WSH), which
//! must be a standard `OP_m <pubkey>… OP_n OP_CHECKMULTISIG` and must hash to the address for
//! the stated script type. Each signature is a legacy signed message (any BIP-137 header;
//! 27–30 means the uncompressed form of the key); its recovered key must be one of the
//! script's keys in the script's own serialization. Keys are counted once however many
//! signatures they made, and at least `m` distinct keys must have signed.

use super::bip137::recover_bip137;
use super::{short_hex, SchemeError};
use crate::chains::ScriptType;
use bitcoin::address::AddressData;
use bitcoin::hashes::{hash160, sha256, Hash};
use bitcoin::{Address, Network, NetworkKind, Script, WitnessVersion};

const OP_1: u8 = 0x51;
const OP_16: u8 = 0x60;
const OP_CHECKMULTISIG: u8 = 0xae;

/// A parsed standard multisig script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultisigScript {
    /// `m`: how many distinct keys must sign.
    pub threshold: usize,
    /// The `n` keys in script order, with the compressed-ness they have in the script.
    pub keys: Vec<bitcoin::PublicKey>,
}

/// What a successful multisig verification found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultisigOutcome {
    /// `m` from the script.
    pub threshold: usize,
    /// `n` from the script.
    pub total_keys: usize,
    /// Positions (0-based, script order, ascending) of the distinct keys that signed.
    pub signers: Vec<usize>,
}

fn malformed(reason: impl Into<String>) -> SchemeError {
    SchemeError::MalformedMultisig(reason.into())
}

/// Parse `OP_m <33- or 65-byte keys> OP_n OP_CHECKMULTISIG` (1 ≤ m ≤ n ≤ 16, valid distinct
/// keys, nothing before or after).
pub fn parse_multisig(script: &[u8]) -> Result<MultisigScript, SchemeError> {
    let small_int = |b: u8| {
        (OP_1..=OP_16)
            .contains(&b)
            .then(|| usize::from(b - OP_1 + 1))
    };
    let (&first, mut rest) = script
        .split_first()
        .ok_or_else(|| malformed("empty script"))?;
    let threshold = small_int(first)
        .ok_or_else(|| malformed(format!("must start with OP_1…OP_16, found 0x{first:02x}")))?;
    let mut keys: Vec<bitcoin::PublicKey> = Vec::new();
    while let Some((&push, tail)) = rest.split_first() {
        let len = match push {
            0x21 => 33,
            0x41 => 65,
            _ => break,
        };
        if tail.len() < len {
            return Err(malformed(format!("key {} is truncated", keys.len() + 1)));
        }
        let (bytes, after) = tail.split_at(len);
        let prefix_ok = matches!((len, bytes[0]), (33, 0x02 | 0x03) | (65, 0x04));
        let key = bitcoin::PublicKey::from_slice(bytes)
            .ok()
            .filter(|_| prefix_ok)
            .ok_or_else(|| {
                malformed(format!(
                    "key {} ({}) is not a valid public key",
                    keys.len() + 1,
                    short_hex(bytes)
                ))
            })?;
        if keys.contains(&key) {
            return Err(malformed(format!(
                "key {} ({}) appears twice",
                keys.len() + 1,
                short_hex(bytes)
            )));
        }
        keys.push(key);
        rest = after;
    }
    match rest {
        [n, OP_CHECKMULTISIG] => {
            let n = small_int(*n).ok_or_else(|| {
                malformed(format!("expected OP_n after the keys, found 0x{n:02x}"))
            })?;
            if n != keys.len() {
                return Err(malformed(format!("says {n} keys but has {}", keys.len())));
            }
        }
        _ => {
            return Err(malformed(
                "must end with OP_n OP_CHECKMULTISIG right after the keys",
            ))
        }
    }
    if threshold > keys.len() {
        return Err(malformed(format!(
            "threshold {threshold} is more than its {} keys",
            keys.len()
        )));
    }
    Ok(MultisigScript { threshold, keys })
}

/// The threshold `m` of a standard multisig script.
pub fn threshold_of(script: &[u8]) -> Result<usize, SchemeError> {
    parse_multisig(script).map(|s| s.threshold)
}

/// Build `OP_m <keys> OP_n OP_CHECKMULTISIG` (keys in the given order): the one multisig script
/// builder of the manifest, the simulator, fixtures and tests.
pub fn multisig_script(
    threshold: usize,
    keys: &[bitcoin::PublicKey],
) -> Result<Vec<u8>, SchemeError> {
    if keys.is_empty() || keys.len() > 16 || threshold == 0 || threshold > keys.len() {
        return Err(malformed(format!(
            "cannot build a {threshold}-of-{} multisig",
            keys.len()
        )));
    }
    let mut s = vec![OP_1 - 1 + threshold as u8];
    for k in keys {
        let b = k.to_bytes();
        s.push(b.len() as u8);
        s.extend_from_slice(&b);
    }
    s.push(OP_1 - 1 + keys.len() as u8);
    s.push(OP_CHECKMULTISIG);
    parse_multisig(&s)?;
    Ok(s)
}

/// The address of a multisig script for a script-hash type.
pub fn multisig_address(
    script_type: ScriptType,
    script: &[u8],
    network: Network,
) -> Result<Address, SchemeError> {
    let s = Script::from_bytes(script);
    match script_type {
        ScriptType::P2sh => Address::p2sh(s, NetworkKind::from(network))
            .map_err(|e| malformed(format!("cannot be a P2SH redeem script: {e}"))),
        ScriptType::P2wsh => Ok(Address::p2wsh(s, network)),
        ScriptType::P2shP2wsh => Ok(Address::p2shwsh(s, NetworkKind::from(network))),
        other => Err(SchemeError::Unsupported(format!(
            "script type {other} for a multisig address"
        ))),
    }
}

/// Check that `script` hashes to `address` for `script_type` (P2SH, P2WSH or P2SH-P2WSH).
pub fn check_script_hash(
    address: &Address,
    script_type: ScriptType,
    script: &[u8],
) -> Result<(), SchemeError> {
    let wrong_type = |expected: &'static str| SchemeError::AddressTypeMismatch {
        address: address.to_string(),
        expected,
    };
    let ok = match (script_type, address.to_address_data()) {
        (ScriptType::P2sh, AddressData::P2sh { script_hash }) => {
            if script.len() > 520 {
                return Err(malformed(format!(
                    "a P2SH redeem script is at most 520 bytes, this one is {}",
                    script.len()
                )));
            }
            hash160::Hash::hash(script).to_byte_array() == script_hash.to_byte_array()
        }
        (ScriptType::P2shP2wsh, AddressData::P2sh { script_hash }) => {
            let mut redeem = [0u8; 34];
            redeem[1] = 0x20;
            redeem[2..].copy_from_slice(sha256::Hash::hash(script).as_byte_array());
            hash160::Hash::hash(&redeem).to_byte_array() == script_hash.to_byte_array()
        }
        (ScriptType::P2wsh, AddressData::Segwit { witness_program })
            if witness_program.version() == WitnessVersion::V0
                && witness_program.program().len() == 32 =>
        {
            sha256::Hash::hash(script).as_byte_array()[..] == *witness_program.program().as_bytes()
        }
        (ScriptType::P2sh, _) => return Err(wrong_type("P2SH")),
        (ScriptType::P2shP2wsh, _) => return Err(wrong_type("P2SH-P2WSH")),
        (ScriptType::P2wsh, _) => return Err(wrong_type("P2WSH")),
        (other, _) => {
            return Err(SchemeError::Unsupported(format!(
                "script type {other} for a multisig address"
            )))
        }
    };
    if ok {
        Ok(())
    } else {
        Err(SchemeError::ScriptHashMismatch(address.to_string()))
    }
}

/// The shape of a standard multisig script, read without decompressing its keys: the
/// threshold and the key encodings, when the script passes every check of [`parse_multisig`]
/// but the validity of the keys as curve points.
fn multisig_shape(script: &[u8]) -> Option<(usize, Vec<&[u8]>)> {
    let small_int = |b: u8| {
        (OP_1..=OP_16)
            .contains(&b)
            .then(|| usize::from(b - OP_1 + 1))
    };
    let (&first, mut rest) = script.split_first()?;
    let threshold = small_int(first)?;
    let mut keys: Vec<&[u8]> = Vec::with_capacity(3);
    while let Some((&push, tail)) = rest.split_first() {
        let len = match push {
            0x21 => 33,
            0x41 => 65,
            _ => break,
        };
        if tail.len() < len {
            return None;
        }
        let (bytes, after) = tail.split_at(len);
        if !matches!((len, bytes[0]), (33, 0x02 | 0x03) | (65, 0x04)) || keys.contains(&bytes) {
            return None;
        }
        keys.push(bytes);
        rest = after;
    }
    match rest {
        [n, OP_CHECKMULTISIG] if small_int(*n) == Some(keys.len()) && threshold <= keys.len() => {
            Some((threshold, keys))
        }
        _ => None,
    }
}

/// Verify a multisig address: the script hashes to the address for `script_type`, every
/// signature (legacy signed message over `msg`) comes from a key of the script, and at least
/// the script's threshold of distinct keys signed.
pub fn verify_multisig(
    address: &Address,
    script_type: ScriptType,
    script: &[u8],
    msg: &[u8],
    sigs: &[&str],
) -> Result<MultisigOutcome, SchemeError> {
    // The keys that signed are compared by their encoding with the recovered keys (which are
    // valid points); only the others are decompressed to check them. On any failure the
    // script is parsed in full first, so that errors come out exactly as `parse_multisig`
    // and the checks in order would give them.
    let Some((threshold, keys)) = multisig_shape(script) else {
        return verify_multisig_in_full(address, script_type, script, msg, sigs);
    };
    let script_error = |e: SchemeError| parse_multisig(script).err().unwrap_or(e);
    check_script_hash(address, script_type, script).map_err(script_error)?;
    let mut signers: Vec<usize> = Vec::with_capacity(sigs.len());
    for (i, sig) in sigs.iter().enumerate() {
        let (inner, compressed) = recover_bip137(msg, sig).map_err(|e| {
            script_error(SchemeError::Cosigner {
                index: i + 1,
                source: Box::new(e),
            })
        })?;
        let pos = if compressed {
            let enc = inner.serialize();
            keys.iter().position(|k| *k == enc)
        } else {
            let enc = inner.serialize_uncompressed();
            keys.iter().position(|k| *k == enc)
        };
        let Some(pos) = pos else {
            let key = bitcoin::PublicKey { compressed, inner };
            return Err(script_error(SchemeError::NotAMember {
                index: i + 1,
                key: key.to_string(),
            }));
        };
        if !signers.contains(&pos) {
            signers.push(pos);
        }
    }
    for (pos, k) in keys.iter().enumerate() {
        if !signers.contains(&pos) && bitcoin::PublicKey::from_slice(k).is_err() {
            return verify_multisig_in_full(address, script_type, script, msg, sigs);
        }
    }
    signers.sort_unstable();
    if signers.len() < threshold {
        return Err(SchemeError::BelowThreshold {
            distinct: signers.len(),
            threshold,
        });
    }
    Ok(MultisigOutcome {
        threshold,
        total_keys: keys.len(),
        signers,
    })
}

/// The distinct members of the script that the recovered signer keys are (positions in the
/// script, sorted): the same key twice counts once. Errors name the first signature whose key
/// is not in the script, and a count of distinct signers below the threshold.
pub fn distinct_signers(
    parsed: &MultisigScript,
    recovered: impl IntoIterator<Item = Result<bitcoin::PublicKey, SchemeError>>,
) -> Result<Vec<usize>, SchemeError> {
    let mut signers: Vec<usize> = Vec::new();
    for (i, key) in recovered.into_iter().enumerate() {
        let key = key?;
        let pos =
            parsed
                .keys
                .iter()
                .position(|k| *k == key)
                .ok_or_else(|| SchemeError::NotAMember {
                    index: i + 1,
                    key: key.to_string(),
                })?;
        if !signers.contains(&pos) {
            signers.push(pos);
        }
    }
    signers.sort_unstable();
    if signers.len() < parsed.threshold {
        return Err(SchemeError::BelowThreshold {
            distinct: signers.len(),
            threshold: parsed.threshold,
        });
    }
    Ok(signers)
}

/// [`verify_multisig`] the plain way: parse the script (every key decompressed) first.
fn verify_multisig_in_full(
    address: &Address,
    script_type: ScriptType,
    script: &[u8],
    msg: &[u8],
    sigs: &[&str],
) -> Result<MultisigOutcome, SchemeError> {
    let parsed = parse_multisig(script)?;
    check_script_hash(address, script_type, script)?;
    let recovered = sigs.iter().enumerate().map(|(i, sig)| {
        recover_bip137(msg, sig)
            .map(|(inner, compressed)| bitcoin::PublicKey { compressed, inner })
            .map_err(|e| SchemeError::Cosigner {
                index: i + 1,
                source: Box::new(e),
            })
    });
    let signers = distinct_signers(&parsed, recovered)?;
    Ok(MultisigOutcome {
        threshold: parsed.threshold,
        total_keys: parsed.keys.len(),
        signers,
    })
}

/// The threshold of a script whose shape is a standard multisig, without checking that its
/// keys are valid points (`None` when [`threshold_of`] would fail on the shape already).
pub(crate) fn threshold_of_shape(script: &[u8]) -> Option<usize> {
    multisig_shape(script).map(|(m, _)| m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schemes::bip137::{sign_bip137, Bip137Kind};
    use crate::schemes::secp;
    use bitcoin::secp256k1::SecretKey;

    fn keys(n: u8) -> Vec<SecretKey> {
        (1..=n)
            .map(|i| SecretKey::from_slice(&[i; 32]).unwrap())
            .collect()
    }

    fn pubs(sks: &[SecretKey]) -> Vec<bitcoin::PublicKey> {
        sks.iter()
            .map(|k| bitcoin::PublicKey::new(k.public_key(secp())))
            .collect()
    }

    const MSG: &[u8] = b"ACME proof of reserves";

    #[test]
    fn parse_round_trip() {
        let sks = keys(3);
        let s = multisig_script(2, &pubs(&sks)).unwrap();
        let p = parse_multisig(&s).unwrap();
        assert_eq!(p.threshold, 2);
        assert_eq!(p.keys, pubs(&sks));
        assert_eq!(threshold_of(&s).unwrap(), 2);
        // uncompressed keys are fine too
        let unc: Vec<_> = pubs(&sks)
            .into_iter()
            .map(|mut k| {
                k.compressed = false;
                k
            })
            .collect();
        let s = multisig_script(1, &unc).unwrap();
        assert_eq!(parse_multisig(&s).unwrap().keys, unc);
    }

    #[test]
    fn malformed_scripts() {
        let sks = keys(3);
        let good = multisig_script(2, &pubs(&sks)).unwrap();
        let mut cases: Vec<(Vec<u8>, &str)> = vec![
            (vec![], "empty"),
            (good[..good.len() - 1].to_vec(), "end with"),
            ([&good[..], &[0x51]].concat(), "end with"),
            (good[..20].to_vec(), "truncated"),
        ];
        let mut wrong_n = good.clone();
        let l = wrong_n.len();
        wrong_n[l - 2] = 0x52;
        cases.push((wrong_n, "says 2 keys but has 3"));
        let mut m_too_big = good.clone();
        m_too_big[0] = 0x54;
        cases.push((m_too_big, "threshold 4"));
        let mut zero = good.clone();
        zero[0] = 0x00;
        cases.push((zero, "OP_1"));
        let mut bad_key = good.clone();
        bad_key[1 + 1] = 0x05; // prefix of key 1
        cases.push((bad_key, "not a valid public key"));
        let k = pubs(&sks);
        let mut dup = vec![0x52];
        for key in [&k[0], &k[0]] {
            dup.push(0x21);
            dup.extend_from_slice(&key.to_bytes());
        }
        dup.extend_from_slice(&[0x52, 0xae]);
        cases.push((dup, "twice"));
        for (s, needle) in cases {
            let err = parse_multisig(&s).unwrap_err().to_string();
            assert!(err.contains(needle), "{err} lacks {needle}");
        }
    }

    #[test]
    fn verify_all_three_types() {
        let sks = keys(3);
        let script = multisig_script(2, &pubs(&sks)).unwrap();
        let s1 = sign_bip137(&sks[0], MSG, Bip137Kind::P2pkhCompressed);
        let s3 = sign_bip137(&sks[2], MSG, Bip137Kind::P2pkhCompressed);
        for t in [ScriptType::P2sh, ScriptType::P2wsh, ScriptType::P2shP2wsh] {
            let a = multisig_address(t, &script, Network::Bitcoin).unwrap();
            let out = verify_multisig(&a, t, &script, MSG, &[&s3, &s1]).unwrap();
            assert_eq!(
                out,
                MultisigOutcome {
                    threshold: 2,
                    total_keys: 3,
                    signers: vec![0, 2]
                }
            );
            assert!(verify_multisig(&a, t, &script, b"other", &[&s1, &s3]).is_err());
        }
    }

    #[test]
    fn same_key_twice_counts_once() {
        let sks = keys(3);
        let script = multisig_script(2, &pubs(&sks)).unwrap();
        let a = multisig_address(ScriptType::P2wsh, &script, Network::Bitcoin).unwrap();
        let s1 = sign_bip137(&sks[0], MSG, Bip137Kind::P2pkhCompressed);
        let s1b = sign_bip137(&sks[0], MSG, Bip137Kind::P2wpkh); // other header, same key
        let err = verify_multisig(&a, ScriptType::P2wsh, &script, MSG, &[&s1, &s1]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "only 1 distinct valid signature, threshold 2"
        );
        let err = verify_multisig(&a, ScriptType::P2wsh, &script, MSG, &[&s1, &s1b]).unwrap_err();
        assert!(matches!(
            err,
            SchemeError::BelowThreshold {
                distinct: 1,
                threshold: 2
            }
        ));
        let err = verify_multisig(&a, ScriptType::P2wsh, &script, MSG, &[]).unwrap_err();
        assert!(matches!(
            err,
            SchemeError::BelowThreshold {
                distinct: 0,
                threshold: 2
            }
        ));
    }

    #[test]
    fn outsider_and_bad_signature_are_named() {
        let sks = keys(4);
        let script = multisig_script(2, &pubs(&sks[..3])).unwrap();
        let a = multisig_address(ScriptType::P2wsh, &script, Network::Bitcoin).unwrap();
        let s1 = sign_bip137(&sks[0], MSG, Bip137Kind::P2pkhCompressed);
        let s2 = sign_bip137(&sks[1], MSG, Bip137Kind::P2pkhCompressed);
        let outsider = sign_bip137(&sks[3], MSG, Bip137Kind::P2pkhCompressed);
        let err = verify_multisig(&a, ScriptType::P2wsh, &script, MSG, &[&s1, &s2, &outsider])
            .unwrap_err();
        assert!(
            matches!(err, SchemeError::NotAMember { index: 3, .. }),
            "{err}"
        );
        // uncompressed header: not the script's (compressed) form of the key
        let unc = sign_bip137(&sks[1], MSG, Bip137Kind::P2pkhUncompressed);
        let err = verify_multisig(&a, ScriptType::P2wsh, &script, MSG, &[&s1, &unc]).unwrap_err();
        assert!(
            matches!(err, SchemeError::NotAMember { index: 2, .. }),
            "{err}"
        );
        let err = verify_multisig(&a, ScriptType::P2wsh, &script, MSG, &[&s1, "%%"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "signature 2: signature is not valid base64"
        );
    }

    #[test]
    fn script_must_hash_to_address_of_its_type() {
        let sks = keys(3);
        let script = multisig_script(2, &pubs(&sks)).unwrap();
        let other = multisig_script(2, &pubs(&sks[..2])).unwrap();
        let s1 = sign_bip137(&sks[0], MSG, Bip137Kind::P2pkhCompressed);
        let s2 = sign_bip137(&sks[1], MSG, Bip137Kind::P2pkhCompressed);
        for t in [ScriptType::P2sh, ScriptType::P2wsh, ScriptType::P2shP2wsh] {
            let a = multisig_address(t, &script, Network::Bitcoin).unwrap();
            let err = verify_multisig(&a, t, &other, MSG, &[&s1, &s2]).unwrap_err();
            assert!(
                matches!(err, SchemeError::ScriptHashMismatch(_)),
                "{t}: {err}"
            );
        }
        // P2SH address checked as P2SH-P2WSH (and the reverse) does not hash
        let a = multisig_address(ScriptType::P2sh, &script, Network::Bitcoin).unwrap();
        assert!(verify_multisig(&a, ScriptType::P2shP2wsh, &script, MSG, &[&s1, &s2]).is_err());
        // P2WSH type on a P2SH address
        let err = verify_multisig(&a, ScriptType::P2wsh, &script, MSG, &[&s1, &s2]).unwrap_err();
        assert!(
            matches!(err, SchemeError::AddressTypeMismatch { .. }),
            "{err}"
        );
        let err = verify_multisig(&a, ScriptType::P2wpkh, &script, MSG, &[&s1, &s2]).unwrap_err();
        assert!(err.is_unsupported());
    }
}

#[cfg(test)]
mod lazy_key_tests {
    use super::*;
    use crate::schemes::bip137::{sign_bip137, Bip137Kind};
    use crate::schemes::secp;
    use bitcoin::secp256k1::SecretKey;

    /// The lazy path (keys compared by encoding, unsigned keys checked last) gives exactly the
    /// result of the plain path, for good scripts and for every single-byte corruption.
    #[test]
    fn lazy_verification_equals_the_plain_one() {
        let sks: Vec<SecretKey> = (1..=3u8)
            .map(|i| SecretKey::from_slice(&[i; 32]).unwrap())
            .collect();
        let mut pubs: Vec<bitcoin::PublicKey> = sks
            .iter()
            .map(|k| bitcoin::PublicKey::new(k.public_key(secp())))
            .collect();
        pubs[2].compressed = false;
        let msg = b"lazy keys";
        let script = multisig_script(2, &pubs).unwrap();
        let net = Network::Bitcoin;
        let s0 = sign_bip137(&sks[0], msg, Bip137Kind::P2pkhCompressed);
        let s1 = sign_bip137(&sks[1], msg, Bip137Kind::P2pkhCompressed);
        let s2u = sign_bip137(&sks[2], msg, Bip137Kind::P2pkhUncompressed);
        let s2c = sign_bip137(&sks[2], msg, Bip137Kind::P2pkhCompressed);
        let sig_sets: Vec<Vec<&str>> = vec![
            vec![&s0, &s1],
            vec![&s0, &s2u],
            vec![&s0, &s2c],
            vec![&s0, &s0],
            vec![&s1],
            vec!["garbage", &s0],
        ];
        for st in [ScriptType::P2sh, ScriptType::P2wsh, ScriptType::P2shP2wsh] {
            let address = multisig_address(st, &script, net).unwrap();
            let mut scripts = vec![script.clone()];
            for i in 0..script.len() {
                for x in [0x01u8, 0x80] {
                    let mut s = script.clone();
                    s[i] ^= x;
                    scripts.push(s);
                }
            }
            for s in &scripts {
                for sigs in &sig_sets {
                    assert_eq!(
                        verify_multisig(&address, st, s, msg, sigs),
                        verify_multisig_in_full(&address, st, s, msg, sigs),
                        "{st} {} {sigs:?}",
                        hex::encode(s)
                    );
                }
                assert_eq!(
                    threshold_of_shape(s).is_some_and(|m| Ok(m) == threshold_of(s)),
                    threshold_of(s).is_ok(),
                    "{}",
                    hex::encode(s)
                );
            }
        }
    }
}
