//! EOS / Vaulta rows of OKX files: a K1 (secp256k1) signature checked against the row's
//! public key.
//!
//! * Signed digest: SHA-256 of `compactsize ‖ "OKX Signed Message:\n" ‖ compactsize ‖ text`
//!   (OKX's `HashEosMsg`).
//! * Signature: `SIG_K1_` + base58 of `i ‖ r ‖ s ‖ checksum`, `i` = 27 + 4 + recovery id
//!   (compressed key), checksum = the first 4 bytes of RIPEMD-160(`i ‖ r ‖ s ‖ "K1"`).
//! * Public key: `EOS` + base58 of `key ‖ RIPEMD-160(key)[..4]` (legacy), or `PUB_K1_` +
//!   base58 of `key ‖ RIPEMD-160(key ‖ "K1")[..4]`, the key compressed (33 bytes).
//!
//! An EOS account name (`okbwallet1tr`) is bound to its keys only by the account's on-chain
//! permissions, so even a valid signature leaves the row unsupported ("address not bound"),
//! as for contract wallets.

use crate::report::{FailureCode as C, Outcome};
use crate::schemes::bip137::recover_key;
use crate::schemes::ed25519::okx_ed25519_message;
use bitcoin::hashes::{ripemd160, sha256, Hash};
use bitcoin::secp256k1::PublicKey;

fn checksum(data: &[u8], suffix: &[u8]) -> [u8; 4] {
    let mut e = ripemd160::Hash::engine();
    bitcoin::hashes::HashEngine::input(&mut e, data);
    bitcoin::hashes::HashEngine::input(&mut e, suffix);
    let h = ripemd160::Hash::from_engine(e);
    h.to_byte_array()[..4].try_into().expect("4 bytes")
}

fn decode_checked(b58: &str, suffix: &[u8], len: usize, what: &str) -> Result<Vec<u8>, String> {
    let raw = bitcoin::base58::decode(b58).map_err(|_| format!("{what} is not base58"))?;
    if raw.len() != len + 4 {
        return Err(format!(
            "{what} decodes to {} bytes, not {}",
            raw.len(),
            len + 4
        ));
    }
    let (data, sum) = raw.split_at(len);
    if checksum(data, suffix) != sum {
        return Err(format!("{what} checksum does not match"));
    }
    Ok(data.to_vec())
}

/// Parses an `EOS…` or `PUB_K1_…` public key.
pub(crate) fn parse_eos_public_key(key: &str) -> Result<PublicKey, String> {
    let bytes = if let Some(rest) = key.strip_prefix("PUB_K1_") {
        decode_checked(rest, b"K1", 33, "public key")?
    } else if let Some(rest) = key.strip_prefix("EOS") {
        decode_checked(rest, b"", 33, "public key")?
    } else {
        return Err("public key must start with EOS or PUB_K1_".into());
    };
    PublicKey::from_slice(&bytes).map_err(|_| "public key is not a curve point".into())
}

/// Recovers the key of a `SIG_K1_…` signature over `msg` in OKX's EOS form.
pub(crate) fn recover_eos(msg: &[u8], sig: &str) -> Result<PublicKey, String> {
    let rest = sig
        .strip_prefix("SIG_K1_")
        .ok_or("signature must start with SIG_K1_")?;
    let raw = decode_checked(rest, b"K1", 65, "signature")?;
    let recid = match raw[0] {
        h @ 27..=34 => (h - 27) & 3,
        h => return Err(format!("signature header {h} is not 27–34")),
    };
    let digest = sha256::Hash::hash(&okx_ed25519_message(msg)).to_byte_array();
    recover_key(digest, &raw[1..], recid).map_err(|e| e.to_string())
}

/// Checks an EOS row: the signature must come from the row's public key; the account is then
/// still not bound (on-chain permissions).
pub(crate) fn check_eos(account: &str, public_key: &str, msg: &[u8], sig: &str) -> Outcome {
    if public_key.is_empty() || public_key == "null" {
        return Outcome::failed(
            C::InvalidPublicKey,
            "no public key in the public-key column",
        );
    }
    let stated = match parse_eos_public_key(public_key) {
        Ok(k) => k,
        Err(e) => {
            return Outcome::failed(
                C::InvalidPublicKey,
                format!("public key `{public_key}`: {e}"),
            )
        }
    };
    match recover_eos(msg, sig) {
        Ok(k) if k == stated => Outcome::Unsupported(format!(
            "EOS / Vaulta: signature valid for key {public_key}, but that it controls the \
             account {account} is on-chain state (the account's permissions), not checked \
             offline (address not bound)"
        )),
        Ok(k) => Outcome::failed(
            C::WrongKey,
            format!(
                "signature1 comes from the key {}, not the stated public key {public_key}",
                hex::encode(k.serialize())
            ),
        ),
        Err(e) => Outcome::failed(C::MalformedSignature, format!("signature1: {e}")),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::schemes::secp;
    use bitcoin::secp256k1::{Message, SecretKey};

    /// Signs `msg` the way the row format expects (tests only).
    pub(crate) fn sign_eos(sk: &SecretKey, msg: &[u8]) -> (String, String) {
        let digest = sha256::Hash::hash(&okx_ed25519_message(msg)).to_byte_array();
        let sig = secp().sign_ecdsa_recoverable(&Message::from_digest(digest), sk);
        let (id, rs) = sig.serialize_compact();
        let mut data = vec![27 + 4 + id.to_i32() as u8];
        data.extend_from_slice(&rs);
        let mut with_sum = data.clone();
        with_sum.extend_from_slice(&checksum(&data, b"K1"));
        let key = sk.public_key(secp()).serialize();
        let mut key_sum = key.to_vec();
        key_sum.extend_from_slice(&checksum(&key, b""));
        (
            format!("EOS{}", bitcoin::base58::encode(&key_sum)),
            format!("SIG_K1_{}", bitcoin::base58::encode(&with_sum)),
        )
    }

    #[test]
    fn okx_published_eos_row_verifies_against_its_key() {
        // okx_test_HEAD_9col_2962a89.csv line 10.
        let out = check_eos(
            "okbwallet1tr",
            "EOS7nGMZSQxyvJkH5WDnuGsSQMp7yCRYA5AX4GMAXh6WtmqnMT79X",
            b"OKC_DTT_AUP2025",
            "SIG_K1_K1fyBKSBw62ioqwFAFUhuFeCF5SbjbDv387RMAoQVy2VqmM1MhEXZSQ4A38PX7g128NBAanXMkwqYErAD1LNZR2ZWQigJz",
        );
        assert!(
            matches!(&out, Outcome::Unsupported(m) if m.contains("not bound")),
            "{out:?}"
        );
    }

    #[test]
    fn own_signatures_and_their_failures() {
        let sk = SecretKey::from_slice(&[0x21; 32]).unwrap();
        let (key, sig) = sign_eos(&sk, b"text");
        assert!(matches!(
            check_eos("acct", &key, b"text", &sig),
            Outcome::Unsupported(_)
        ));
        assert!(matches!(
            check_eos("acct", &key, b"texT", &sig),
            Outcome::Failed(f) if f.reason.contains("not the stated public key") && f.code == C::WrongKey
        ));
        let (other_key, _) = sign_eos(&SecretKey::from_slice(&[0x22; 32]).unwrap(), b"x");
        assert!(matches!(
            check_eos("acct", &other_key, b"text", &sig),
            Outcome::Failed(_)
        ));
        // The PUB_K1_ spelling of the same key.
        let k = sk.public_key(secp()).serialize();
        let mut ks = k.to_vec();
        ks.extend_from_slice(&checksum(&k, b"K1"));
        let pub_k1 = format!("PUB_K1_{}", bitcoin::base58::encode(&ks));
        assert_eq!(parse_eos_public_key(&pub_k1), parse_eos_public_key(&key));
        for (k, s, why) in [
            ("", sig.as_str(), "no public key"),
            ("EOS111", sig.as_str(), "bytes"),
            ("XYZ", sig.as_str(), "must start"),
            (key.as_str(), "SIG_R1_abc", "SIG_K1_"),
            (key.as_str(), &sig[..sig.len() - 1], "signature"),
        ] {
            let out = check_eos("acct", k, b"text", s);
            assert!(
                matches!(&out, Outcome::Failed(f) if f.reason.contains(why)),
                "{k} {s}: {out:?}"
            );
        }
    }
}
