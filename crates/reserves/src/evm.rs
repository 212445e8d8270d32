//! EVM JSON-RPC at a block: the block's hash (`eth_getBlockByNumber`), native balances
//! (`eth_getBalance`), ERC-20 balances (`balanceOf` through `eth_call`) and a Safe's owners and
//! threshold (`getOwners()`, `getThreshold()` through `eth_call`). The requests are built and
//! the answers decoded here; [`crate::rpc::Client`] sends them (batched by the caller).
//!
//! The ABI pieces are the fixed calls above (and `decimals()`): a 4-byte selector and at most one address
//! argument; answers are one `uint256` or one dynamic `address[]`, decoded strictly.

use bigdecimal::num_bigint::BigInt;
use bigdecimal::BigDecimal;
use serde_json::{json, Value};

/// `balanceOf(address)`.
pub const BALANCE_OF: &str = "70a08231";
/// ERC-20 `decimals()`.
pub const DECIMALS: &str = "313ce567";
/// Safe `getOwners()`.
pub const GET_OWNERS: &str = "a0e67e2b";
/// Safe `getThreshold()`.
pub const GET_THRESHOLD: &str = "e75235b8";

/// The block tag of a height (`0x` + hex).
pub fn block_tag(height: u64) -> String {
    format!("0x{height:x}")
}

/// `eth_getBlockByNumber` of `height`, without transactions.
pub fn block_request(height: u64) -> (String, Value) {
    (
        "eth_getBlockByNumber".into(),
        json!([block_tag(height), false]),
    )
}

/// The hash of a block answer; `Ok(None)` when the node has no block at that height.
pub fn block_hash_of(answer: &Value) -> Result<Option<String>, String> {
    if answer.is_null() {
        return Ok(None);
    }
    let h = answer
        .get("hash")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("a block without a hash: {answer}"))?;
    if h.len() != 66 || !h.starts_with("0x") || !h[2..].bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("block hash `{h}` is not 32 bytes of hex"));
    }
    Ok(Some(h.to_ascii_lowercase()))
}

/// `eth_getBalance` of `address` at `height`.
pub fn balance_request(address: &str, height: u64) -> (String, Value) {
    ("eth_getBalance".into(), json!([address, block_tag(height)]))
}

/// `eth_call` of `data` (hex without `0x`) on `to` at `height`.
pub fn call_request(to: &str, data: &str, height: u64) -> (String, Value) {
    (
        "eth_call".into(),
        json!([{"to": to, "data": format!("0x{data}")}, block_tag(height)]),
    )
}

/// `balanceOf(owner)` on `token` at `height`.
pub fn token_balance_request(
    token: &str,
    owner: &str,
    height: u64,
) -> Result<(String, Value), String> {
    let a = address_word(owner)?;
    Ok(call_request(token, &format!("{BALANCE_OF}{a}"), height))
}

/// The 32-byte ABI word of an address (hex, no `0x`).
fn address_word(address: &str) -> Result<String, String> {
    let h = address.strip_prefix("0x").unwrap_or(address);
    if h.len() != 40 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("`{address}` is not an EVM address"));
    }
    Ok(format!("{:0>64}", h.to_ascii_lowercase()))
}

/// A JSON-RPC quantity (`0x…`, no leading zeros required) as an integer.
pub fn quantity(v: &Value) -> Result<BigInt, String> {
    let s = v
        .as_str()
        .ok_or_else(|| format!("expected a hex quantity, got {v}"))?;
    let h = s
        .strip_prefix("0x")
        .ok_or_else(|| format!("quantity `{s}` has no 0x"))?;
    if h.is_empty() || h.len() > 64 {
        return Err(format!("quantity `{s}` is not 1 to 64 hex digits"));
    }
    BigInt::parse_bytes(h.as_bytes(), 16).ok_or_else(|| format!("quantity `{s}` is not hex"))
}

fn data_bytes(v: &Value) -> Result<Vec<u8>, String> {
    let s = v
        .as_str()
        .ok_or_else(|| format!("expected hex data, got {v}"))?;
    let h = s
        .strip_prefix("0x")
        .ok_or_else(|| format!("data `{s}` has no 0x"))?;
    hex::decode(h).map_err(|e| format!("data is not hex: {e}"))
}

/// The `uint256` an `eth_call` returned.
pub fn decode_uint(v: &Value) -> Result<BigInt, String> {
    let b = data_bytes(v)?;
    if b.len() != 32 {
        return Err(format!(
            "expected one 32-byte word, got {} bytes (not the contract asked for?)",
            b.len()
        ));
    }
    Ok(BigInt::from_bytes_be(
        bigdecimal::num_bigint::Sign::Plus,
        &b,
    ))
}

fn word_usize(w: &[u8]) -> Result<usize, String> {
    if w[..24].iter().any(|&b| b != 0) {
        return Err("an offset or length beyond 2^64".into());
    }
    usize::try_from(u64::from_be_bytes(w[24..32].try_into().expect("8 bytes")))
        .map_err(|_| "an offset or length beyond usize".to_string())
}

/// The `address[]` an `eth_call` returned (lower-case `0x` hex).
pub fn decode_address_array(v: &Value) -> Result<Vec<String>, String> {
    let b = data_bytes(v)?;
    if b.len() < 64 || b.len() % 32 != 0 {
        return Err(format!(
            "expected an ABI address[] (offset, length, words), got {} bytes",
            b.len()
        ));
    }
    let off = word_usize(&b[..32])?;
    if off % 32 != 0 || off + 32 > b.len() {
        return Err(format!("array offset {off} outside the {} bytes", b.len()));
    }
    let n = word_usize(&b[off..off + 32])?;
    let start = off + 32;
    if n > (b.len() - start) / 32 {
        return Err(format!("{n} addresses do not fit in {} bytes", b.len()));
    }
    (0..n)
        .map(|i| {
            let w = &b[start + 32 * i..start + 32 * (i + 1)];
            if w[..12].iter().any(|&x| x != 0) {
                return Err(format!("word {i} is not an address"));
            }
            Ok(format!("0x{}", hex::encode(&w[12..])))
        })
        .collect()
}

/// `units` × 10^-`decimals` as a decimal in the main unit.
pub fn to_main_unit(units: &BigInt, decimals: u32) -> BigDecimal {
    BigDecimal::new(units.clone(), i64::from(decimals))
}

/// The native asset's symbol of an EVM chain ticker (L2s of Ethereum hold ETH).
pub fn native_symbol(chain: &str) -> &'static str {
    match chain.to_ascii_uppercase().as_str() {
        "BSC" | "BNB" | "BEP20" => "BNB",
        "POLYGON" | "MATIC" | "POLY" => "MATIC",
        "AVAXC" | "AVAX" => "AVAX",
        "ETC" => "ETC",
        _ => "ETH",
    }
}

/// True when `asset` is the native asset of EVM chain `chain` (a snapshot entry's asset is
/// its chain's ticker).
pub fn is_native(chain: &str, asset: &str) -> bool {
    asset.eq_ignore_ascii_case(chain) || asset.eq_ignore_ascii_case(native_symbol(chain))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests() {
        assert_eq!(block_tag(255), "0xff");
        assert_eq!(balance_request("0xAb", 16).1, json!(["0xAb", "0x10"]));
        let (m, p) = token_balance_request(
            "0xdAC17F958D2ee523a2206206994597C13D831ec7",
            "0x9858EfFD232B4033E47d90003D41EC34EcaEda94",
            1,
        )
        .unwrap();
        assert_eq!(m, "eth_call");
        assert_eq!(
            p[0]["data"],
            "0x70a082310000000000000000000000009858effd232b4033e47d90003d41ec34ecaeda94"
        );
        assert!(token_balance_request("0xdead", "0x12", 1).is_err());
    }

    #[test]
    fn answers() {
        assert_eq!(quantity(&json!("0x0")).unwrap(), BigInt::from(0));
        assert_eq!(
            quantity(&json!("0xde0b6b3a7640000")).unwrap(),
            BigInt::from(1_000_000_000_000_000_000u64)
        );
        for bad in [json!("12"), json!("0x"), json!(5), json!("0xzz")] {
            assert!(quantity(&bad).is_err(), "{bad}");
        }
        assert_eq!(
            to_main_unit(&BigInt::from(1_500_000u64), 6).to_string(),
            "1.500000"
        );
        // getOwners() of a 2-owner Safe: offset 0x20, length 2, two addresses.
        let owners = format!(
            "0x{:064x}{:064x}{:0>64}{:0>64}",
            32,
            2,
            "9858effd232b4033e47d90003d41ec34ecaeda94",
            "6fac4d18c912343bf86fa7049364dd4e424ab9c0"
        );
        assert_eq!(
            decode_address_array(&json!(owners)).unwrap(),
            [
                "0x9858effd232b4033e47d90003d41ec34ecaeda94",
                "0x6fac4d18c912343bf86fa7049364dd4e424ab9c0"
            ]
        );
        // Truncated, a length that does not fit, no data (not a contract).
        assert!(decode_address_array(&json!(&owners[..owners.len() - 64])).is_err());
        let long = format!("0x{:064x}{:064x}", 32, 1000);
        assert!(decode_address_array(&json!(long)).is_err());
        assert!(decode_address_array(&json!("0x")).is_err());
        assert_eq!(
            decode_uint(&json!(format!("0x{:064x}", 2))).unwrap(),
            BigInt::from(2)
        );
        assert!(decode_uint(&json!("0x")).is_err());
        assert_eq!(
            block_hash_of(&json!({"hash": format!("0x{}", "AB".repeat(32))})).unwrap(),
            Some(format!("0x{}", "ab".repeat(32)))
        );
        assert_eq!(block_hash_of(&Value::Null).unwrap(), None);
        assert!(block_hash_of(&json!({"hash": "0x12"})).is_err());
        assert!(is_native("ARB", "ETH") && is_native("ARB", "ARB") && !is_native("ETH", "USDT"));
    }
}
