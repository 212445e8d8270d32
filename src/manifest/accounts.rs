//! Address helpers for the account chains (EVM and TRON): parsing with checksum checks, and
//! deriving the address of a public key.
//!
//! TODO: `src/schemes/` (written in parallel) may grow the same helpers for verification; once it
//! has them, keep one copy and have the manifest use it.

use ethers_core::utils::keccak256;

/// The 20-byte account of an EVM address `0x` + 40 hex digits. All-lowercase and all-uppercase
/// addresses are accepted as written; a mixed-case address must carry a valid EIP-55 checksum.
pub fn parse_evm_address(s: &str) -> Result<[u8; 20], String> {
    let hex_part = s
        .strip_prefix("0x")
        .ok_or_else(|| format!("EVM address `{s}` must start with 0x"))?;
    if hex_part.len() != 40 || !hex_part.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "EVM address `{s}` must be 0x followed by 40 hex digits"
        ));
    }
    let mut out = [0u8; 20];
    hex::decode_to_slice(hex_part, &mut out).map_err(|e| format!("EVM address `{s}`: {e}"))?;
    let has_lower = hex_part.bytes().any(|b| b.is_ascii_lowercase());
    let has_upper = hex_part.bytes().any(|b| b.is_ascii_uppercase());
    if has_lower && has_upper {
        let expected = evm_checksum(&out);
        if expected != s {
            return Err(format!(
                "EVM address `{s}` has a wrong EIP-55 checksum (expected {expected})"
            ));
        }
    }
    Ok(out)
}

/// The EIP-55 (mixed-case checksum) spelling of a 20-byte account.
pub fn evm_checksum(account: &[u8; 20]) -> String {
    let lower = hex::encode(account);
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

/// The 20-byte account of a secp256k1 public key: the last 20 bytes of keccak256 of the
/// uncompressed key without its 0x04 prefix.
pub fn account_of_pubkey(pk: &bitcoin::secp256k1::PublicKey) -> [u8; 20] {
    let full = pk.serialize_uncompressed();
    let hash = keccak256(&full[1..]);
    let mut out = [0u8; 20];
    out.copy_from_slice(&hash[12..]);
    out
}

/// The EIP-55 EVM address of a public key.
pub fn evm_address_of_pubkey(pk: &bitcoin::secp256k1::PublicKey) -> String {
    evm_checksum(&account_of_pubkey(pk))
}

/// The version byte of TRON mainnet addresses.
pub const TRON_PREFIX: u8 = 0x41;

/// The 20-byte account of a TRON address: base58check of 0x41 followed by 20 bytes.
pub fn parse_tron_address(s: &str) -> Result<[u8; 20], String> {
    let data = bitcoin::base58::decode_check(s)
        .map_err(|e| format!("TRON address `{s}` is not valid base58check: {e}"))?;
    if data.len() != 21 {
        return Err(format!(
            "TRON address `{s}` decodes to {} bytes, expected 21",
            data.len()
        ));
    }
    if data[0] != TRON_PREFIX {
        return Err(format!(
            "TRON address `{s}` has version byte 0x{:02x}, expected 0x41",
            data[0]
        ));
    }
    let mut out = [0u8; 20];
    out.copy_from_slice(&data[1..]);
    Ok(out)
}

/// The TRON (`T…`) address of a 20-byte account.
pub fn tron_address(account: &[u8; 20]) -> String {
    let mut data = Vec::with_capacity(21);
    data.push(TRON_PREFIX);
    data.extend_from_slice(account);
    bitcoin::base58::encode_check(&data)
}

/// The TRON address of a public key.
pub fn tron_address_of_pubkey(pk: &bitcoin::secp256k1::PublicKey) -> String {
    tron_address(&account_of_pubkey(pk))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eip55_vectors() {
        // From the EIP-55 specification.
        for a in [
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
            "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
            "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
        ] {
            let acct = parse_evm_address(a).unwrap();
            assert_eq!(evm_checksum(&acct), a);
            assert!(parse_evm_address(&a.to_lowercase()).is_ok());
            assert!(parse_evm_address(&a.to_uppercase().replace("0X", "0x")).is_ok());
        }
        // One letter with its case flipped breaks the checksum.
        assert!(parse_evm_address("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD").is_err());
        assert!(parse_evm_address("5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed").is_err());
        assert!(parse_evm_address("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeA").is_err());
        assert!(parse_evm_address("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAzz").is_err());
    }

    #[test]
    fn tron_addresses() {
        // USDT's TRC-20 contract: a well-known TRON address.
        let a = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t";
        let acct = parse_tron_address(a).unwrap();
        assert_eq!(tron_address(&acct), a);
        assert!(parse_tron_address("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6u").is_err());
        // A Bitcoin P2PKH address is base58check but has the wrong version and length.
        assert!(parse_tron_address("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2").is_err());
    }

    #[test]
    fn pubkey_to_account_matches_known_key() {
        // Private key 1: its Ethereum address is well known.
        let secp = bitcoin::secp256k1::Secp256k1::new();
        let mut sk = [0u8; 32];
        sk[31] = 1;
        let sk = bitcoin::secp256k1::SecretKey::from_slice(&sk).unwrap();
        let pk = sk.public_key(&secp);
        assert_eq!(
            evm_address_of_pubkey(&pk),
            "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"
        );
        let tron = tron_address_of_pubkey(&pk);
        assert!(tron.starts_with('T'));
        assert_eq!(parse_tron_address(&tron).unwrap(), account_of_pubkey(&pk));
    }
}
