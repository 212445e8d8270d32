//! Stated balances: exact decimal amounts in an asset's main unit (BTC, ETH, USDT), checked
//! against the asset's precision, and their totals per chain and asset in the report.
//!
//! Arithmetic is exact (`bigdecimal`), never floating point. A balance is a plain decimal:
//! digits, optionally `.` and more digits, at most the asset's decimals after the point
//! ([`crate::chains::FamilyInfo::decimals`], [`crate::chains::ASSETS`]); a negative balance
//! or one with more decimals than the asset has fails its entry.

use bigdecimal::BigDecimal;
use serde::Serialize;
use std::str::FromStr;

/// Why a stated balance is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BalanceError {
    /// Below zero.
    #[error("balance `{0}` is negative")]
    Negative(String),
    /// Not a plain decimal number.
    #[error("balance `{0}` is not a decimal amount (digits, optionally `.` and more digits)")]
    NotDecimal(String),
    /// More digits after the point than the asset has.
    #[error("balance `{text}` has {found} decimals, but {asset} has {decimals}")]
    TooPrecise {
        /// The balance as written.
        text: String,
        /// Its digits after the point.
        found: usize,
        /// The asset.
        asset: String,
        /// The asset's decimals.
        decimals: u32,
    },
}

/// Parses a stated balance of `asset`, which has `decimals` digits after the point (`None`:
/// unknown, not checked).
pub fn parse_balance(
    text: &str,
    asset: &str,
    decimals: Option<u32>,
) -> Result<BigDecimal, BalanceError> {
    let t = text.trim();
    let (sign, unsigned) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t),
    };
    let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty()
        || !digits(int)
        || !digits(frac)
        || (unsigned.contains('.') && frac.is_empty())
    {
        return Err(BalanceError::NotDecimal(t.to_string()));
    }
    let value = BigDecimal::from_str(unsigned).map_err(|_| BalanceError::NotDecimal(t.into()))?;
    if sign && value != BigDecimal::default() {
        return Err(BalanceError::Negative(t.to_string()));
    }
    if let Some(d) = decimals {
        if frac.len() > d as usize {
            return Err(BalanceError::TooPrecise {
                text: t.to_string(),
                found: frac.len(),
                asset: asset.to_string(),
                decimals: d,
            });
        }
    }
    Ok(value)
}

/// `value` × 10^-`decimals`: an amount in the smallest unit (satoshi, wei) in the main unit.
pub fn from_base_units(value: &BigDecimal, decimals: u32) -> BigDecimal {
    let (digits, scale) = value.as_bigint_and_exponent();
    BigDecimal::new(digits, scale + i64::from(decimals))
}

/// `value` in the smallest unit, when it is a whole number of them.
pub fn to_base_units(value: &BigDecimal, decimals: u32) -> Option<bigdecimal::num_bigint::BigInt> {
    let (digits, scale) = value.as_bigint_and_exponent();
    let shifted = BigDecimal::new(digits, scale - i64::from(decimals));
    shifted
        .is_integer()
        .then(|| shifted.with_scale(0).as_bigint_and_exponent().0)
}

/// Plain decimal text (never scientific notation), normalized: no trailing zeros after the
/// point.
pub fn plain(d: &BigDecimal) -> String {
    let n = d.normalized();
    if n.fractional_digit_count() < 0 {
        n.with_scale(0).to_plain_string()
    } else {
        n.to_plain_string()
    }
}

fn ser_plain<S: serde::Serializer>(d: &BigDecimal, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&plain(d))
}

fn ser_plain_opt<S: serde::Serializer>(d: &Option<BigDecimal>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_str(&plain(d)),
        None => s.serialize_none(),
    }
}

/// The stated balances of one chain and asset, and what a node said of them.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct BalanceTotal {
    /// The chain (or exchange coin label).
    pub chain: String,
    /// The asset (the chain's native asset, or a token).
    pub asset: String,
    /// Addresses with a stated balance.
    pub addresses: u64,
    /// Their stated balances added up.
    #[serde(serialize_with = "ser_plain")]
    pub stated: BigDecimal,
    /// Of `stated`, the part on addresses that verified.
    #[serde(serialize_with = "ser_plain")]
    pub on_verified: BigDecimal,
    /// Addresses whose balance a node gave at the anchor.
    pub onchain_addresses: u64,
    /// What the node says those addresses held at the anchor, added up (absent without a
    /// node).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_plain_opt"
    )]
    pub onchain: Option<BigDecimal>,
    /// Of `onchain_addresses`, those whose stated balance differs from the node's.
    pub mismatches: u64,
}

impl BalanceTotal {
    /// The key of a chain and asset in the report's `balances`: the chain, or `chain asset`
    /// when the asset is not the chain's own name.
    pub fn key(chain: &str, asset: &str) -> String {
        if chain.eq_ignore_ascii_case(asset) {
            chain.to_string()
        } else {
            format!("{chain} {asset}")
        }
    }

    /// Adds an on-chain balance; `matches` says whether it equals the stated one.
    pub fn add_onchain(&mut self, value: &BigDecimal, matches: bool) {
        self.onchain_addresses += 1;
        *self.onchain.get_or_insert_with(BigDecimal::default) += value;
        if !matches {
            self.mismatches += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> BigDecimal {
        BigDecimal::from_str(s).unwrap()
    }

    #[test]
    fn precision_sign_and_form() {
        assert_eq!(parse_balance("1.5", "BTC", Some(8)).unwrap(), d("1.5"));
        assert_eq!(
            parse_balance("0.00000001", "BTC", Some(8)).unwrap(),
            d("0.00000001")
        );
        assert_eq!(
            parse_balance("0.000000001", "BTC", Some(8)).unwrap_err(),
            BalanceError::TooPrecise {
                text: "0.000000001".into(),
                found: 9,
                asset: "BTC".into(),
                decimals: 8
            }
        );
        assert_eq!(
            parse_balance("-0.1", "ETH", Some(18)).unwrap_err(),
            BalanceError::Negative("-0.1".into())
        );
        assert_eq!(parse_balance("-0", "ETH", Some(18)).unwrap(), d("0"));
        for bad in ["", "1e5", "1.", ".5", "1,5", "+1", "0x10", "--1"] {
            assert!(
                matches!(
                    parse_balance(bad, "ETH", Some(18)),
                    Err(BalanceError::NotDecimal(_))
                ),
                "{bad:?}"
            );
        }
        // Unknown precision: any number of decimals.
        assert!(parse_balance("0.1234567890123456789012", "XYZ", None).is_ok());
        assert_eq!(
            parse_balance("0.0000000001", "BTC", Some(8))
                .unwrap_err()
                .to_string(),
            "balance `0.0000000001` has 10 decimals, but BTC has 8"
        );
    }

    #[test]
    fn units() {
        assert_eq!(
            plain(&from_base_units(&d("58300000000000000"), 18)),
            "0.0583"
        );
        assert_eq!(plain(&from_base_units(&d("17263933"), 8)), "0.17263933");
        assert_eq!(
            to_base_units(&d("0.0583"), 18).unwrap().to_string(),
            "58300000000000000"
        );
        assert_eq!(to_base_units(&d("1"), 0).unwrap().to_string(), "1");
        assert!(to_base_units(&d("0.5"), 0).is_none());
        assert_eq!(plain(&d("100")), "100");
        assert_eq!(plain(&d("1.50")), "1.5");
        assert_eq!(plain(&d("0")), "0");
    }
}
