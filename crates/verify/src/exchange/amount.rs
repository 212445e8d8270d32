//! Exact decimal amounts as exchange files print them, and sums of them that know how much
//! rounding the printed figures carry.
//!
//! A printed figure stands for any value within half a unit of its last significant digit.
//! Digits past the 15th significant one are not significant: exchanges' files come out of
//! spreadsheets, which keep 15 significant digits (Excel pads `280710322341756.12` to
//! `280710322341756.00`). A stated total matches its rows when the two differ by no more than
//! the half-units of all the figures involved added up: no set of true values consistent
//! with the printed digits could otherwise add up. Arithmetic is exact (`bigdecimal`), never
//! floating point.

use bigdecimal::BigDecimal;
use std::str::FromStr;

/// Significant digits a printed figure is taken to carry at most.
const SIGNIFICANT: i64 = 15;

/// A non-negative decimal amount and the rounding its printed form carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Amount {
    value: BigDecimal,
    half_unit: BigDecimal,
}

impl Amount {
    /// Parses `text` (digits, optionally `.` and more digits; surrounding spaces allowed), or
    /// says why it is not an amount.
    pub fn parse(text: &str) -> Result<Amount, String> {
        let t = text.trim();
        let (int, frac) = t.split_once('.').unwrap_or((t, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if int.is_empty() || !digits(int) || !digits(frac) || (t.contains('.') && frac.is_empty()) {
            return Err(format!(
                "`{t}` is not a decimal amount (digits, optionally `.` and more digits)"
            ));
        }
        let value = BigDecimal::from_str(t).map_err(|e| format!("`{t}`: {e}"))?;
        let scale = frac.len() as i64;
        let int_digits = int.trim_start_matches('0').len() as i64;
        // Exponent of the leading significant digit (None for zero).
        let lead = if int_digits > 0 {
            Some(int_digits - 1)
        } else {
            frac.bytes()
                .position(|b| b != b'0')
                .map(|zeros| -(zeros as i64) - 1)
        };
        let unit_exp = match lead {
            Some(e) => (-scale).max(e - (SIGNIFICANT - 1)),
            None => -scale,
        };
        // Half of 10^unit_exp is 5 × 10^(unit_exp − 1).
        let half_unit = BigDecimal::new(5.into(), 1 - unit_exp);
        Ok(Amount { value, half_unit })
    }

    /// The exact value.
    pub fn value(&self) -> &BigDecimal {
        &self.value
    }

    /// Half a unit of the last significant printed digit.
    pub fn half_unit(&self) -> &BigDecimal {
        &self.half_unit
    }
}

/// Plain decimal text of `d` (never scientific notation), trailing zeros as computed.
pub fn plain(d: &BigDecimal) -> String {
    d.to_plain_string()
}

/// A sum of printed amounts and the rounding they carry together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sum {
    /// The exact sum of the printed values.
    pub value: BigDecimal,
    /// The sum of their half-units.
    pub slack: BigDecimal,
    /// How many amounts were added.
    pub count: u64,
}

impl Sum {
    /// Adds one amount.
    pub fn add(&mut self, a: &Amount) {
        self.value += a.value();
        self.slack += a.half_unit();
        self.count += 1;
    }

    /// Adds another sum.
    pub fn merge(&mut self, other: &Sum) {
        self.value += &other.value;
        self.slack += &other.slack;
        self.count += other.count;
    }

    /// How far `stated` may be from this sum from rounding alone.
    pub fn tolerance(&self, stated: &Amount) -> BigDecimal {
        &self.slack + stated.half_unit()
    }

    /// True when `stated` could be the total of the values these printed amounts round.
    pub fn matches(&self, stated: &Amount) -> bool {
        (stated.value() - &self.value).abs() <= self.tolerance(stated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Amount {
        Amount::parse(s).unwrap()
    }

    #[test]
    fn half_units_follow_the_printed_digits() {
        assert_eq!(plain(a("12.34").half_unit()), "0.005");
        assert_eq!(plain(a("7").half_unit()), "0.5");
        assert_eq!(plain(a("0.000123").half_unit()), "0.0000005");
        assert_eq!(plain(a("0").half_unit()), "0.5");
        // Past 15 significant digits nothing is significant: the unit is the 15th digit.
        assert_eq!(plain(a("280710322341756.00").half_unit()), "0.5");
        assert_eq!(plain(a("2807103223417561").half_unit()), "5");
        assert_eq!(plain(a("9668619974").half_unit()), "0.5");
        assert_eq!(
            a(" 32240579.74 ").value(),
            &BigDecimal::from_str("32240579.74").unwrap()
        );
    }

    #[test]
    fn not_amounts() {
        for bad in [
            "", "-", "-1", "+1", "1,5", "1.", ".5", "1e5", "1.2.3", "abc", "0x10",
        ] {
            assert!(Amount::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn sums_are_exact_and_allow_only_printed_rounding() {
        let mut s = Sum::default();
        for x in ["0.1", "0.2"] {
            s.add(&a(x));
        }
        // Exact: 0.1 + 0.2 is 0.3, not 0.30000000000000004.
        assert_eq!(plain(&s.value), "0.3");
        assert!(s.matches(&a("0.3")));
        // Each figure is ±0.05, and so is a one-decimal total: 0.15 apart at most.
        assert!(s.matches(&a("0.4")));
        assert!(!s.matches(&a("0.5")));
        // A two-decimal total is ±0.005: 0.105 apart at most.
        assert!(s.matches(&a("0.40")));
        assert!(!s.matches(&a("0.41")));
        // A total printed to one more digit than the rows gets no more slack than they have.
        let mut rows = Sum::default();
        rows.add(&a("11701.15"));
        assert!(rows.matches(&a("11701.16")));
        assert!(!rows.matches(&a("11701.17")));
        // Large figures: exact, any size.
        let mut big = Sum::default();
        big.add(&a("123456789012345678901234567890.000000000000000001"));
        big.add(&a("1"));
        assert_eq!(
            plain(&big.value),
            "123456789012345678901234567891.000000000000000001"
        );
        assert_eq!(big.count, 2);
    }
}
