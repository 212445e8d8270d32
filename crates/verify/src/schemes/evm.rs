//! EIP-191 `personal_sign` for Ethereum and EVM chains.
//!
//! Hash: `keccak256("\x19Ethereum Signed Message:\n" ‖ decimal len(msg) ‖ msg)`. Signature:
//! 65 bytes r‖s‖v, 0x-hex, v ∈ {27, 28} (0/1 also accepted). High-s signatures are rejected
//! (EIP-2). Recovery runs on libsecp256k1; the address is the last 20 bytes of keccak256 of
//! the uncompressed key without its 0x04 prefix.
//!
//! OKX's published files sign keccak256 of the text rather than the text itself
//! ([`verify_eip191_hashed`]); HTX's older rows sign keccak256 of the text with no prefix at
//! all ([`verify_evm_keccak`]).

use super::bip137::recover_key;
use super::{is_high_s, SchemeError};
use bitcoin::secp256k1::PublicKey;
use sha3::{Digest, Keccak256};

const PREFIX: &[u8] = b"\x19Ethereum Signed Message:\n";

/// keccak256 of `data`.
pub fn keccak256(data: &[u8]) -> [u8; 32] {
    Keccak256::digest(data).into()
}

/// `keccak256(prefix ‖ decimal len(msg) ‖ msg)`, the shape shared by EIP-191 and TRON v2.
pub(crate) fn prefixed_hash(prefix: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut h = Keccak256::new();
    h.update(prefix);
    let mut buf = [0u8; 20];
    h.update(decimal(msg.len(), &mut buf));
    h.update(msg);
    h.finalize().into()
}

/// Decimal ASCII digits of `n`, written into `buf` without allocating.
fn decimal(mut n: usize, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

/// The EIP-191 version 0x45 (`personal_sign`) hash of `msg`.
pub fn eip191_hash(msg: &[u8]) -> [u8; 32] {
    prefixed_hash(PREFIX, msg)
}

/// Decode a 65-byte r‖s‖v signature from hex (with or without `0x`).
pub(crate) fn decode_sig_hex(sig_hex: &str) -> Result<[u8; 65], SchemeError> {
    let h = sig_hex
        .strip_prefix("0x")
        .or_else(|| sig_hex.strip_prefix("0X"))
        .unwrap_or(sig_hex);
    let mut out = [0u8; 65];
    if h.len() == 130 {
        hex::decode_to_slice(h, &mut out).map_err(|_| SchemeError::NotHex)?;
        return Ok(out);
    }
    let bytes = hex::decode(h).map_err(|_| SchemeError::NotHex)?;
    Err(SchemeError::BadLength {
        what: "signature",
        expected: 65,
        got: bytes.len(),
    })
}

/// The 20-byte address of a public key (keccak256 of the uncompressed key, last 20 bytes).
pub fn evm_address_of(key: &PublicKey) -> [u8; 20] {
    let unc = key.serialize_uncompressed();
    let h = keccak256(&unc[1..]);
    let mut a = [0u8; 20];
    a.copy_from_slice(&h[12..]);
    a
}

/// Recover the signer's address from a digest and r‖s‖v (v 27/28 or 0/1; low-s required).
pub fn recover_evm_prehash(digest: &[u8; 32], sig: &[u8; 65]) -> Result<[u8; 20], SchemeError> {
    let recid = match sig[64] {
        27 | 28 => sig[64] - 27,
        0 | 1 => sig[64],
        v => return Err(SchemeError::BadRecoveryByte(v)),
    };
    if is_high_s(&sig[32..64]) {
        return Err(SchemeError::HighS);
    }
    let key = recover_key(*digest, &sig[..64], recid)?;
    Ok(evm_address_of(&key))
}

/// Recover the address that `personal_sign`ed `msg`; `sig` is 0x-hex r‖s‖v.
pub fn recover_eip191(msg: &[u8], sig_hex: &str) -> Result<[u8; 20], SchemeError> {
    let sig = decode_sig_hex(sig_hex)?;
    recover_evm_prehash(&eip191_hash(msg), &sig)
}

/// Parse a `0x…` address. All-lowercase and all-uppercase are accepted as they are; a
/// mixed-case address must carry a correct EIP-55 checksum.
pub fn parse_evm_address(address: &str) -> Result<[u8; 20], SchemeError> {
    let bad = |reason: &str| SchemeError::BadAddress {
        kind: "EVM",
        address: address.to_string(),
        reason: reason.to_string(),
    };
    let h = address
        .strip_prefix("0x")
        .ok_or_else(|| bad("must start with 0x"))?;
    if h.len() != 40 {
        return Err(bad("must have 40 hex digits after 0x"));
    }
    let mut a = [0u8; 20];
    hex::decode_to_slice(h, &mut a).map_err(|_| bad("not hex"))?;
    let has_lower = h.bytes().any(|c| c.is_ascii_lowercase());
    let has_upper = h.bytes().any(|c| c.is_ascii_uppercase());
    if has_lower && has_upper && !eip55_matches(&a, h.as_bytes()) {
        return Err(bad("mixed case with a wrong EIP-55 checksum"));
    }
    Ok(a)
}

/// True when the 40 hex digits `h` are the EIP-55 checksum form of `address` (no allocation).
fn eip55_matches(address: &[u8; 20], h: &[u8]) -> bool {
    let mut lower = [0u8; 40];
    hex::encode_to_slice(address, &mut lower).expect("40 bytes");
    let hash = keccak256(&lower);
    lower.iter().zip(h).enumerate().all(|(i, (&c, &got))| {
        let nibble = (hash[i / 2] >> (if i % 2 == 0 { 4 } else { 0 })) & 0x0f;
        let want = if c.is_ascii_alphabetic() && nibble >= 8 {
            c.to_ascii_uppercase()
        } else {
            c
        };
        want == got
    })
}

/// The EIP-55 mixed-case checksum form of an address, `0x`-prefixed.
pub fn to_checksum_address(address: &[u8; 20]) -> String {
    let lower = hex::encode(address);
    let hash = keccak256(lower.as_bytes());
    let mut out = String::with_capacity(42);
    out.push_str("0x");
    for (i, c) in lower.chars().enumerate() {
        let nibble = (hash[i / 2] >> (if i % 2 == 0 { 4 } else { 0 })) & 0x0f;
        if c.is_ascii_alphabetic() && nibble >= 8 {
            out.push(c.to_ascii_uppercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn verify_digest(address: &str, digest: &[u8; 32], sig_hex: &str) -> Result<(), SchemeError> {
    verify_account_digest(
        address,
        digest,
        sig_hex,
        parse_evm_address,
        to_checksum_address,
    )
}

/// Recovers the 20-byte account that signed `digest` and requires it to be `address`, parsed
/// and (for the error) formatted by the chain's own rules: shared by EVM and TRON.
pub(crate) fn verify_account_digest(
    address: &str,
    digest: &[u8; 32],
    sig_hex: &str,
    parse: fn(&str) -> Result<[u8; 20], SchemeError>,
    format: fn(&[u8; 20]) -> String,
) -> Result<(), SchemeError> {
    let expected = parse(address)?;
    let sig = decode_sig_hex(sig_hex)?;
    let got = recover_evm_prehash(digest, &sig)?;
    if got == expected {
        Ok(())
    } else {
        Err(SchemeError::AddressMismatch {
            derived: format(&got),
            stated: address.to_string(),
        })
    }
}

/// Verify an EIP-191 `personal_sign` signature over the message bytes for `address`.
pub fn verify_eip191(address: &str, msg: &[u8], sig_hex: &str) -> Result<(), SchemeError> {
    verify_digest(address, &eip191_hash(msg), sig_hex)
}

/// Verify OKX's variant: `personal_sign` over the 32 bytes keccak256(msg).
pub fn verify_eip191_hashed(address: &str, msg: &[u8], sig_hex: &str) -> Result<(), SchemeError> {
    verify_digest(address, &eip191_hash(&keccak256(msg)), sig_hex)
}

/// Verify HTX's older form: ECDSA directly over keccak256(msg), with no EIP-191 prefix (what
/// `ecrecover(keccak256(text))` accepts).
pub fn verify_evm_keccak(address: &str, msg: &[u8], sig_hex: &str) -> Result<(), SchemeError> {
    verify_digest(address, &keccak256(msg), sig_hex)
}

/// OKX's "ECDSA" form for OKC-family chains: keccak256 of the compact-size-prefixed header
/// `"OKX Signed Message:\n"` then the compact-size-prefixed message (no EIP-191 prefix).
pub fn okx_ecdsa_hash(msg: &[u8]) -> [u8; 32] {
    keccak256(&super::ed25519::okx_ed25519_message(msg))
}

/// Verify OKX's OKC-family form ([`okx_ecdsa_hash`]) for a 0x address (r‖s‖v, low-s).
pub fn verify_okx_ecdsa(address: &str, msg: &[u8], sig_hex: &str) -> Result<(), SchemeError> {
    verify_digest(address, &okx_ecdsa_hash(msg), sig_hex)
}

/// A recoverable signature as EVM and TRON write it: 0x-hex r‖s‖v with v = 27/28.
pub fn encode_rsv(sig: &bitcoin::secp256k1::ecdsa::RecoverableSignature) -> String {
    let (recid, rs) = sig.serialize_compact();
    let mut out = [0u8; 65];
    out[..64].copy_from_slice(&rs);
    out[64] = 27 + recid.to_i32() as u8;
    format!("0x{}", hex::encode(out))
}

#[cfg(any(test, feature = "signing"))]
/// Sign a digest with a test key: r‖s‖v with v = 27/28, low-s (libsecp256k1 always
/// produces low-s), as 0x-hex.
pub fn sign_digest(secret: &bitcoin::secp256k1::SecretKey, digest: [u8; 32]) -> String {
    use bitcoin::secp256k1::Message;
    encode_rsv(&super::secp().sign_ecdsa_recoverable(&Message::from_digest(digest), secret))
}

#[cfg(any(test, feature = "signing"))]
/// `personal_sign` `msg` with a test key (simulator and test use).
pub fn sign_eip191(secret: &bitcoin::secp256k1::SecretKey, msg: &[u8]) -> String {
    sign_digest(secret, eip191_hash(msg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schemes::secp;
    use bitcoin::secp256k1::SecretKey;

    fn sk(hexkey: &str) -> SecretKey {
        SecretKey::from_slice(&hex::decode(hexkey).unwrap()).unwrap()
    }

    #[test]
    fn known_hash_and_address() {
        // web3.js accounts.hashMessage("Some data")
        assert_eq!(
            hex::encode(eip191_hash(b"Some data")),
            "1da44b586eb0729ff70a73c326926f6ed5a25f5b056e7f47fbc6e58d86871655"
        );
        let key = sk("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318");
        assert_eq!(
            to_checksum_address(&evm_address_of(&key.public_key(secp()))),
            "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23"
        );
    }

    #[test]
    fn eip55_examples() {
        // from the EIP-55 text
        for a in [
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
            "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
            "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
        ] {
            let parsed = parse_evm_address(a).unwrap();
            assert_eq!(to_checksum_address(&parsed), a);
            assert!(parse_evm_address(&a.to_lowercase()).is_ok());
        }
        // one letter's case flipped breaks the checksum
        assert!(parse_evm_address("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD").is_err());
        assert!(parse_evm_address("5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed").is_err());
        assert!(parse_evm_address("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeA").is_err());
        assert!(parse_evm_address("0xZZAeb6053F3E94C9b9A09f33669435E7Ef1BeAed").is_err());
    }

    #[test]
    fn round_trip_and_changes() {
        let key = sk("0101010101010101010101010101010101010101010101010101010101010101");
        let addr = to_checksum_address(&evm_address_of(&key.public_key(secp())));
        let msg = b"ACME proof of reserves";
        let sig = sign_eip191(&key, msg);
        verify_eip191(&addr, msg, &sig).unwrap();
        verify_eip191(&addr.to_lowercase(), msg, &sig).unwrap();
        assert!(verify_eip191(&addr, b"ACME proof of reserveS", &sig).is_err());
        // v as 0/1
        let mut raw = decode_sig_hex(&sig).unwrap();
        raw[64] -= 27;
        verify_eip191(&addr, msg, &hex::encode(raw)).unwrap();
        raw[64] = 29;
        assert_eq!(
            verify_eip191(&addr, msg, &hex::encode(raw)),
            Err(SchemeError::BadRecoveryByte(29))
        );
        // hashed (OKX) variant is a different digest
        let okx = sign_digest(&key, eip191_hash(&keccak256(msg)));
        verify_eip191_hashed(&addr, msg, &okx).unwrap();
        assert!(verify_eip191(&addr, msg, &okx).is_err());
        assert!(verify_eip191_hashed(&addr, msg, &sig).is_err());
    }

    #[test]
    fn high_s_is_rejected() {
        let key = sk("0202020202020202020202020202020202020202020202020202020202020202");
        let addr = to_checksum_address(&evm_address_of(&key.public_key(secp())));
        let sig = decode_sig_hex(&sign_eip191(&key, b"m")).unwrap();
        // malleate: s' = n - s, flip the recovery id
        let n = hex::decode("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141")
            .unwrap();
        let mut s2 = [0u8; 32];
        let mut borrow = 0i16;
        for i in (0..32).rev() {
            let d = i16::from(n[i]) - i16::from(sig[32 + i]) - borrow;
            s2[i] = d.rem_euclid(256) as u8;
            borrow = i16::from(d < 0);
        }
        let mut m = sig;
        m[32..64].copy_from_slice(&s2);
        m[64] = if sig[64] == 27 { 28 } else { 27 };
        assert_eq!(
            verify_eip191(&addr, b"m", &hex::encode(m)),
            Err(SchemeError::HighS)
        );
    }

    /// Rough single-thread throughput (`cargo test --lib throughput -- --ignored --nocapture`).
    #[test]
    #[ignore]
    fn throughput() {
        use crate::schemes::bip137::{sign_bip137, verify_bip137, Bip137Kind};
        let key = sk("0303030303030303030303030303030303030303030303030303030303030303");
        let addr = to_checksum_address(&evm_address_of(&key.public_key(secp())));
        let btc = bitcoin::Address::p2wpkh(
            &bitcoin::CompressedPublicKey(key.public_key(secp())),
            bitcoin::Network::Bitcoin,
        );
        let msg = b"ACME proof of reserves S1: I control ETH address X at 19000000:0xabc";
        let (e, b) = (
            sign_eip191(&key, msg),
            sign_bip137(&key, msg, Bip137Kind::P2pkhCompressed),
        );
        let n = 20_000;
        let t = std::time::Instant::now();
        for _ in 0..n {
            verify_eip191(&addr, msg, &e).unwrap();
        }
        println!("eip191: {:.0}/s", n as f64 / t.elapsed().as_secs_f64());
        let t = std::time::Instant::now();
        for _ in 0..n {
            verify_bip137(&btc, msg, &b).unwrap();
        }
        println!("bip137: {:.0}/s", n as f64 / t.elapsed().as_secs_f64());
    }

    #[test]
    fn garbage() {
        let a = "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23";
        assert_eq!(
            verify_eip191(a, b"", ""),
            Err(SchemeError::BadLength {
                what: "signature",
                expected: 65,
                got: 0
            })
        );
        assert_eq!(verify_eip191(a, b"", "0xzz"), Err(SchemeError::NotHex));
        assert_eq!(
            verify_eip191(a, b"", &"00".repeat(65)),
            Err(SchemeError::Unrecoverable)
        );
        let mut buf = [0u8; 20];
        assert_eq!(decimal(0, &mut buf), b"0");
        assert_eq!(decimal(1234567890, &mut buf), b"1234567890");
        assert_eq!(
            decimal(usize::MAX, &mut buf),
            usize::MAX.to_string().as_bytes()
        );
    }
}
