//! TRON signed messages (TIP-191) and `T…` addresses.
//!
//! * v2 (`signMessageV2`, TronLink, Ledger app-tron):
//!   `keccak256("\x19TRON Signed Message:\n" ‖ decimal len(msg) ‖ msg)`.
//! * v1 (TronWeb's deprecated `signString`): `keccak256("\x19TRON Signed Message:\n32" ‖ msg)`
//!   whatever the length of `msg`; identical to v2 for 32-byte messages.
//!
//! Signatures are r‖s‖v hex as in EVM (v 27/28 or 0/1, low-s). The address is
//! base58check(0x41 ‖ the 20-byte EVM address of the key).

use super::evm::{evm_address_of, keccak256, prefixed_hash};
use super::SchemeError;
use bitcoin::secp256k1::PublicKey;
use sha3::{Digest, Keccak256};

const PREFIX: &[u8] = b"\x19TRON Signed Message:\n";

/// Which TRON message hash a signature uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TronVersion {
    /// TronWeb `signString` / `Trx.sign(hex)`: fixed `…:\n32` header over the raw bytes.
    V1,
    /// `signMessageV2` (TIP-191): length-correct header.
    V2,
}

/// The TRON signed-message hash of `msg` for `version`.
pub fn tron_message_hash(msg: &[u8], version: TronVersion) -> [u8; 32] {
    match version {
        TronVersion::V2 => prefixed_hash(PREFIX, msg),
        TronVersion::V1 => {
            let mut h = Keccak256::new();
            h.update(PREFIX);
            h.update(b"32");
            h.update(msg);
            h.finalize().into()
        }
    }
}

/// Format a 20-byte account as a base58check `T…` address.
pub fn format_tron_address(account: &[u8; 20]) -> String {
    let mut payload = [0u8; 21];
    payload[0] = 0x41;
    payload[1..].copy_from_slice(account);
    bitcoin::base58::encode_check(&payload)
}

/// The `T…` address of a public key.
pub fn tron_address_of(key: &PublicKey) -> String {
    format_tron_address(&evm_address_of(key))
}

/// Parse a base58check `T…` address into its 20-byte account.
pub fn parse_tron_address(address: &str) -> Result<[u8; 20], SchemeError> {
    let bad = |reason: &str| SchemeError::BadAddress {
        kind: "TRON",
        address: address.to_string(),
        reason: reason.to_string(),
    };
    let payload = bitcoin::base58::decode_check(address).map_err(|_| bad("bad base58check"))?;
    if payload.len() != 21 {
        return Err(bad("payload must be 21 bytes"));
    }
    if payload[0] != 0x41 {
        return Err(bad("version byte must be 0x41"));
    }
    let mut a = [0u8; 20];
    a.copy_from_slice(&payload[1..]);
    Ok(a)
}

fn verify_digest(address: &str, digest: &[u8; 32], sig_hex: &str) -> Result<(), SchemeError> {
    super::evm::verify_account_digest(
        address,
        digest,
        sig_hex,
        parse_tron_address,
        format_tron_address,
    )
}

/// Verify a TRON signed message over `msg` for the `T…` address.
pub fn verify_tron(
    address: &str,
    msg: &[u8],
    sig_hex: &str,
    version: TronVersion,
) -> Result<(), SchemeError> {
    verify_digest(address, &tron_message_hash(msg, version), sig_hex)
}

/// Verify OKX's older TRON form: the signed message is keccak256(msg) (32 bytes, so v1 = v2).
pub fn verify_tron_hashed(address: &str, msg: &[u8], sig_hex: &str) -> Result<(), SchemeError> {
    verify_digest(
        address,
        &tron_message_hash(&keccak256(msg), TronVersion::V2),
        sig_hex,
    )
}

#[cfg(any(test, feature = "signing"))]
/// Sign `msg` as a TRON v2 signed message with a test key (0x-hex r‖s‖v, v 27/28).
pub fn sign_tron_v2(secret: &bitcoin::secp256k1::SecretKey, msg: &[u8]) -> String {
    super::evm::sign_digest(secret, tron_message_hash(msg, TronVersion::V2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schemes::secp;
    use bitcoin::secp256k1::SecretKey;

    fn one() -> SecretKey {
        let mut k = [0u8; 32];
        k[31] = 1;
        SecretKey::from_slice(&k).unwrap()
    }

    #[test]
    fn address_of_key_one() {
        let a = tron_address_of(&one().public_key(secp()));
        assert_eq!(a, "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC");
        assert_eq!(format_tron_address(&parse_tron_address(&a).unwrap()), a);
    }

    #[test]
    fn bad_addresses() {
        for a in [
            "",
            "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HD",
            "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf",
            // a valid base58check Bitcoin address: wrong version byte
            "1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMH",
        ] {
            assert!(parse_tron_address(a).is_err(), "{a}");
        }
    }

    #[test]
    fn versions_agree_only_on_32_bytes() {
        let m32 = [7u8; 32];
        assert_eq!(
            tron_message_hash(&m32, TronVersion::V1),
            tron_message_hash(&m32, TronVersion::V2)
        );
        assert_ne!(
            tron_message_hash(b"hello", TronVersion::V1),
            tron_message_hash(b"hello", TronVersion::V2)
        );
    }

    #[test]
    fn v2_is_what_the_ledger_tron_app_hashes() {
        // app-tron `sign_personal_message.c`: keccak(magic ‖ "%d" of the length ‖ message).
        for len in [0usize, 5, 32, 99, 100, 225, 1000] {
            let msg = vec![b'q'; len];
            assert_eq!(
                tron_message_hash(&msg, TronVersion::V2),
                keccak256(&firmware_messages::tron::signed_preimage(&msg)),
                "length {len}"
            );
        }
    }

    #[test]
    fn round_trip() {
        let k = one();
        let a = tron_address_of(&k.public_key(secp()));
        let sig = sign_tron_v2(&k, b"proof");
        verify_tron(&a, b"proof", &sig, TronVersion::V2).unwrap();
        assert!(verify_tron(&a, b"proof", &sig, TronVersion::V1).is_err());
        assert!(verify_tron(&a, b"proog", &sig, TronVersion::V2).is_err());
        let hashed = sign_tron_v2(&k, &keccak256(b"I am an OKX address"));
        verify_tron_hashed(&a, b"I am an OKX address", &hashed).unwrap();
        assert!(matches!(
            verify_tron(
                "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HD",
                b"proof",
                &sig,
                TronVersion::V2
            ),
            Err(SchemeError::BadAddress { .. })
        ));
    }
}
