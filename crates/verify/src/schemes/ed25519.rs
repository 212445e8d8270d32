//! Ed25519 ownership signatures (as OKX publishes them for TON, APTOS, SUI, SOL, DOT, ADA, …)
//! and the rules that tie an ed25519 public key to an address on those chains.
//!
//! OKX signs `compactsize(len(h)) ‖ h ‖ compactsize(len(m)) ‖ m` with
//! `h = "OKX Signed Message:\n"` and `m` the message text (no hashing before ed25519, which
//! hashes internally). Verification is RFC 8032 strict (`verify_strict`: canonical `s`, no
//! small-order keys or `R`).
//!
//! Address rules implemented here (all offline, from the key alone):
//!
//! | chain | address |
//! |---|---|
//! | SOL | base58 of the 32-byte key |
//! | APTOS | `0x` hex of sha3-256(key ‖ 0x00) (the authentication key; equal to the account address until the key is rotated) |
//! | SUI | `0x` hex of blake2b-256(0x00 ‖ key) |
//! | DOT and Substrate | SS58: base58(prefix ‖ key ‖ blake2b-512("SS58PRE" ‖ prefix ‖ key)[..2]) |
//! | ADA | Shelley address whose payment credential is blake2b-224(key) |
//! | ALGO | base32 of key ‖ SHA-512/256(key)[28..32] |

use super::SchemeError;
use blake2::digest::consts::{U28, U32};
use blake2::{Blake2b, Blake2b512, Digest};
use ed25519_dalek::{Signature, VerifyingKey};
use sha3::Sha3_256;

/// The header OKX puts before the message for ed25519 (and some other) chains.
pub const OKX_SIGNED_MESSAGE_HEADER: &str = "OKX Signed Message:\n";

/// The bytes OKX's ed25519 signatures sign: compact-size-prefixed header then message (the
/// same framing, hashed with keccak256, is OKX's ECDSA form for OKC-family chains).
pub fn okx_ed25519_message(msg: &[u8]) -> Vec<u8> {
    let h = OKX_SIGNED_MESSAGE_HEADER.as_bytes();
    let mut out = Vec::with_capacity(h.len() + msg.len() + 10);
    push_compact_size(&mut out, h.len() as u64);
    out.extend_from_slice(h);
    push_compact_size(&mut out, msg.len() as u64);
    out.extend_from_slice(msg);
    out
}

fn push_compact_size(out: &mut Vec<u8>, n: u64) {
    match n {
        0..=0xfc => out.push(n as u8),
        0xfd..=0xffff => {
            out.push(0xfd);
            out.extend_from_slice(&(n as u16).to_le_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(0xfe);
            out.extend_from_slice(&(n as u32).to_le_bytes());
        }
        _ => {
            out.push(0xff);
            out.extend_from_slice(&n.to_le_bytes());
        }
    }
}

/// Decode hex with or without `0x` into exactly `N` bytes.
pub fn decode_hex_exact<const N: usize>(
    s: &str,
    what: &'static str,
) -> Result<[u8; N], SchemeError> {
    let h = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    let bytes = hex::decode(h).map_err(|_| SchemeError::NotHex)?;
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| SchemeError::BadLength {
            what,
            expected: N,
            got: b.len(),
        })
}

/// Parse a 32-byte ed25519 public key given in hex (with or without `0x`).
pub fn parse_ed25519_key(key_hex: &str) -> Result<VerifyingKey, SchemeError> {
    let bytes = decode_hex_exact::<32>(key_hex, "ed25519 public key")?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| SchemeError::BadAddress {
        kind: "ed25519 key",
        address: key_hex.to_string(),
        reason: "not a point on the curve".into(),
    })
}

/// Verify a hex ed25519 signature (64 bytes) by `key` over exactly `signed` (strict RFC 8032).
pub fn verify_ed25519(key: &VerifyingKey, signed: &[u8], sig_hex: &str) -> Result<(), SchemeError> {
    verify_ed25519_bytes(
        key,
        signed,
        &decode_hex_exact::<64>(sig_hex, "ed25519 signature")?,
    )
}

/// Verify a base64 ed25519 signature (64 bytes) by `key` over exactly `signed` (strict
/// RFC 8032): the encoding HTX publishes for SOL and ALGO.
pub fn verify_ed25519_base64(
    key: &VerifyingKey,
    signed: &[u8],
    sig_b64: &str,
) -> Result<(), SchemeError> {
    let raw = super::decode_base64(sig_b64)?;
    let sig: [u8; 64] = raw
        .as_slice()
        .try_into()
        .map_err(|_| SchemeError::BadLength {
            what: "ed25519 signature",
            expected: 64,
            got: raw.len(),
        })?;
    verify_ed25519_bytes(key, signed, &sig)
}

fn verify_ed25519_bytes(
    key: &VerifyingKey,
    signed: &[u8],
    sig: &[u8; 64],
) -> Result<(), SchemeError> {
    key.verify_strict(signed, &Signature::from_bytes(sig))
        .map_err(|_| {
            SchemeError::SignatureInvalid("ed25519 signature does not verify for the key".into())
        })
}

fn key_of(
    bytes: &[u8; 32],
    kind: &'static str,
    address: &str,
) -> Result<VerifyingKey, SchemeError> {
    VerifyingKey::from_bytes(bytes).map_err(|_| SchemeError::BadAddress {
        kind,
        address: address.to_string(),
        reason: "its key is not a point on the curve".into(),
    })
}

/// The key a Solana address is (base58 of the 32-byte key).
pub fn parse_solana_address(address: &str) -> Result<VerifyingKey, SchemeError> {
    let bad = |reason: String| SchemeError::BadAddress {
        kind: "Solana",
        address: address.to_string(),
        reason,
    };
    let raw = bitcoin::base58::decode(address).map_err(|_| bad("not base58".into()))?;
    let key: [u8; 32] = raw
        .as_slice()
        .try_into()
        .map_err(|_| bad(format!("decodes to {} bytes, not a 32-byte key", raw.len())))?;
    key_of(&key, "Solana", address)
}

/// Algorand: base32 (RFC 4648, no padding) of the key and the last 4 bytes of its
/// SHA-512/256.
pub fn algorand_address(key: &VerifyingKey) -> String {
    let mut raw = key.as_bytes().to_vec();
    raw.extend_from_slice(&algorand_checksum(key.as_bytes()));
    data_encoding::BASE32_NOPAD.encode(&raw)
}

fn algorand_checksum(key: &[u8; 32]) -> [u8; 4] {
    let h = sha2::Sha512_256::digest(key);
    h[28..].try_into().expect("4 bytes")
}

/// The key an Algorand address is, its checksum checked.
pub fn parse_algorand_address(address: &str) -> Result<VerifyingKey, SchemeError> {
    let bad = |reason: String| SchemeError::BadAddress {
        kind: "Algorand",
        address: address.to_string(),
        reason,
    };
    let raw = data_encoding::BASE32_NOPAD
        .decode(address.as_bytes())
        .map_err(|_| bad("not base32 (A–Z, 2–7, no padding)".into()))?;
    if raw.len() != 36 {
        return Err(bad(format!(
            "decodes to {} bytes, not a 32-byte key and a 4-byte checksum",
            raw.len()
        )));
    }
    let key: [u8; 32] = raw[..32].try_into().expect("32 bytes");
    if algorand_checksum(&key) != raw[32..] {
        return Err(bad("checksum does not match the key".into()));
    }
    key_of(&key, "Algorand", address)
}

/// Verify an OKX ed25519 ownership signature over `msg` (see [`okx_ed25519_message`]).
pub fn verify_okx_ed25519(
    key: &VerifyingKey,
    msg: &[u8],
    sig_hex: &str,
) -> Result<(), SchemeError> {
    verify_ed25519(key, &okx_ed25519_message(msg), sig_hex)
}

/// Solana: the address is the base58 of the key.
pub fn solana_address(key: &VerifyingKey) -> String {
    bitcoin::base58::encode(key.as_bytes())
}

/// Aptos: the authentication key sha3-256(key ‖ 0x00) (single-key ed25519 scheme).
pub fn aptos_auth_key(key: &VerifyingKey) -> [u8; 32] {
    let mut h = Sha3_256::new();
    h.update(key.as_bytes());
    h.update([0u8]);
    h.finalize().into()
}

/// Sui: blake2b-256(0x00 ‖ key) (flag 0x00 = ed25519).
pub fn sui_address(key: &VerifyingKey) -> [u8; 32] {
    let mut h = Blake2b::<U32>::new();
    h.update([0u8]);
    h.update(key.as_bytes());
    h.finalize().into()
}

/// Parse a 32-byte account written `0x` + up to 64 hex digits (Aptos / Sui short forms keep
/// leading zeros out).
pub fn parse_hex_account(address: &str, kind: &'static str) -> Result<[u8; 32], SchemeError> {
    let bad = |reason: &str| SchemeError::BadAddress {
        kind,
        address: address.to_string(),
        reason: reason.to_string(),
    };
    let h = address
        .strip_prefix("0x")
        .ok_or_else(|| bad("must start with 0x"))?;
    if h.is_empty() || h.len() > 64 || !h.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(bad("must be 1 to 64 hex digits after 0x"));
    }
    let padded = format!("{h:0>64}");
    let mut out = [0u8; 32];
    hex::decode_to_slice(padded, &mut out).map_err(|_| bad("not hex"))?;
    Ok(out)
}

/// Parse an SS58 address into its network prefix and 32-byte account key, checking the
/// checksum.
pub fn parse_ss58(address: &str) -> Result<(u16, [u8; 32]), SchemeError> {
    let bad = |reason: &str| SchemeError::BadAddress {
        kind: "SS58",
        address: address.to_string(),
        reason: reason.to_string(),
    };
    let raw = bitcoin::base58::decode(address).map_err(|_| bad("not base58"))?;
    let (prefix, plen) = match raw.first() {
        Some(&b) if b < 64 => (u16::from(b), 1),
        Some(&b) if b < 128 && raw.len() > 1 => {
            let lower = (u16::from(b) << 2) | (u16::from(raw[1]) >> 6);
            let upper = u16::from(raw[1] & 0x3f);
            (lower | (upper << 8), 2)
        }
        _ => return Err(bad("bad prefix")),
    };
    if raw.len() != plen + 32 + 2 {
        return Err(bad("must hold a 32-byte account and a 2-byte checksum"));
    }
    let mut h = Blake2b512::new();
    h.update(b"SS58PRE");
    h.update(&raw[..plen + 32]);
    let sum = h.finalize();
    if sum[..2] != raw[plen + 32..] {
        return Err(bad("bad checksum"));
    }
    let mut key = [0u8; 32];
    key.copy_from_slice(&raw[plen..plen + 32]);
    Ok((prefix, key))
}

/// Cardano: blake2b-224 of the key (a payment or stake key hash).
pub fn cardano_key_hash(key: &VerifyingKey) -> [u8; 28] {
    Blake2b::<U28>::digest(key.as_bytes()).into()
}

/// The payment key hash of a Shelley Cardano address (bech32 `addr1…` / `addr_test1…`), or
/// an error when the address is malformed or its payment part is a script, not a key.
pub fn cardano_payment_key_hash(address: &str) -> Result<[u8; 28], SchemeError> {
    use bitcoin::bech32::primitives::decode::CheckedHrpstring;
    use bitcoin::bech32::Bech32;
    let bad = |reason: &str| SchemeError::BadAddress {
        kind: "Cardano",
        address: address.to_string(),
        reason: reason.to_string(),
    };
    let checked = CheckedHrpstring::new::<Bech32>(address).map_err(|_| bad("not bech32"))?;
    let hrp = checked.hrp();
    let mainnet = match hrp.as_str() {
        "addr" => true,
        "addr_test" => false,
        _ => return Err(bad("human-readable part must be addr or addr_test")),
    };
    let data: Vec<u8> = checked.byte_iter().collect();
    let Some((&header, rest)) = data.split_first() else {
        return Err(bad("empty"));
    };
    let kind = header >> 4;
    let net = header & 0x0f;
    if (net == 1) != mainnet {
        return Err(bad("network nibble does not match the prefix"));
    }
    let expected_len = match kind {
        0..=3 => 56,
        4 | 5 => return Err(bad("pointer addresses are not supported")),
        6 | 7 => 28,
        _ => return Err(bad("not a Shelley payment address")),
    };
    if rest.len() != expected_len {
        return Err(bad("wrong length for its type"));
    }
    if kind % 2 == 1 {
        return Err(SchemeError::Unsupported(format!(
            "Cardano address {address}: its payment part is a script, not a key"
        )));
    }
    let mut h = [0u8; 28];
    h.copy_from_slice(&rest[..28]);
    Ok(h)
}

#[cfg(any(test, feature = "signing"))]
/// Sign `msg` the OKX ed25519 way with a test key (tests only), as 0x-hex.
pub fn sign_okx_ed25519(secret: &[u8; 32], msg: &[u8]) -> (String, String) {
    use ed25519_dalek::{Signer, SigningKey};
    let sk = SigningKey::from_bytes(secret);
    let sig = sk.sign(&okx_ed25519_message(msg));
    (
        format!("0x{}", hex::encode(sk.verifying_key().as_bytes())),
        format!("0x{}", hex::encode(sig.to_bytes())),
    )
}

#[cfg(any(test, feature = "signing"))]
/// Sign exactly `msg` with a test key (tests and synthetic data): the public key and the
/// base64 signature, as HTX publishes them for SOL and ALGO.
pub fn sign_ed25519_base64(secret: &[u8; 32], msg: &[u8]) -> (VerifyingKey, String) {
    use ed25519_dalek::{Signer, SigningKey};
    let sk = SigningKey::from_bytes(secret);
    (
        sk.verifying_key(),
        super::encode_base64(&sk.sign(msg).to_bytes()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solana_and_algorand_addresses_are_the_key() {
        let (key, sig) = sign_ed25519_base64(&[8; 32], b"htx");
        let algo = algorand_address(&key);
        assert_eq!(algo.len(), 58);
        assert_eq!(parse_algorand_address(&algo).unwrap(), key);
        let mut bad = algo.clone().into_bytes();
        bad[57] = if bad[57] == b'A' { b'B' } else { b'A' };
        let e = parse_algorand_address(std::str::from_utf8(&bad).unwrap()).unwrap_err();
        assert!(
            e.to_string().contains("checksum") || e.to_string().contains("base32"),
            "{e}"
        );
        assert!(parse_algorand_address("abc").is_err());
        assert_eq!(parse_solana_address(&solana_address(&key)).unwrap(), key);
        assert!(parse_solana_address("111").is_err());
        verify_ed25519_base64(&key, b"htx", &sig).unwrap();
        assert!(verify_ed25519_base64(&key, b"htX", &sig).is_err());
        assert!(verify_ed25519_base64(&key, b"htx", "AAAA").is_err());
        // A published HTX USDT-ALGO address (2023-05 file) decodes with a valid checksum.
        parse_algorand_address("J4AEINCSSLDA7LNBNWM4ZXFCTLTOZT5LG3F5BLMFPJYGFWVCMU37EZI2AM")
            .unwrap();
    }

    #[test]
    fn message_layout() {
        let m = okx_ed25519_message(b"I am an OKX address");
        assert_eq!(m[0] as usize, OKX_SIGNED_MESSAGE_HEADER.len());
        assert_eq!(&m[1..21], OKX_SIGNED_MESSAGE_HEADER.as_bytes());
        assert_eq!(m[21], 19);
        assert_eq!(&m[22..], b"I am an OKX address");
    }

    #[test]
    fn sign_verify_and_tamper() {
        let (k, s) = sign_okx_ed25519(&[7u8; 32], b"hello");
        let key = parse_ed25519_key(&k).unwrap();
        verify_okx_ed25519(&key, b"hello", &s).unwrap();
        assert!(verify_okx_ed25519(&key, b"hellp", &s).is_err());
        let mut bad = s.clone();
        bad.replace_range(10..11, if &s[10..11] == "0" { "1" } else { "0" });
        assert!(verify_okx_ed25519(&key, b"hello", &bad).is_err());
        assert!(verify_okx_ed25519(&key, b"hello", "0x00").is_err());
    }

    #[test]
    fn hex_accounts() {
        let a = parse_hex_account("0x1", "Aptos").unwrap();
        assert_eq!(a[31], 1);
        assert!(parse_hex_account("1", "Aptos").is_err());
        assert!(parse_hex_account(&format!("0x{}", "0".repeat(65)), "Aptos").is_err());
    }

    #[test]
    fn ss58_round_trip() {
        // Alice's well-known dev key and its generic-substrate (42) SS58 address.
        let (prefix, key) = parse_ss58("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY").unwrap();
        assert_eq!(prefix, 42);
        assert_eq!(
            hex::encode(key),
            "d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d"
        );
        assert!(parse_ss58("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQZ").is_err());
    }
}
