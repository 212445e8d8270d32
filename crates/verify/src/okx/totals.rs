//! OKX's summary block against its rows, and each row's amount.
//!
//! * A row's amount is in whole coins, except in the 7-column generation, whose amounts are in
//!   the coin's smallest unit (satoshi, wei, USDT's 10^-6): its rows add up to its summary
//!   block only so. A negative amount, or one with more decimals than the coin has
//!   ([`crate::chains::asset_decimals`]), fails its row.
//! * A coin line (`USDT-TRC20`) covers the rows of that coin; a group line (`ETH(ALL)`) the
//!   rows of every coin whose base is the group's (`ETH`, `ETH-ARBITRUM`, `ETH-OPTIMISM`).
//! * OKX prints totals cut to their digits (`6.9019` as `6`, `5.28344` as `5.2834`): a stated
//!   total matches when it is within one unit of its last printed digit of the rows' exact
//!   sum. A mismatch is a file failure naming the coin, the stated and the summed amount.
//!   Rows of a coin no line covers are listed as `not stated`.

use super::reader::Row;
use crate::balance::plain;
use crate::balance::{from_base_units, parse_balance, BalanceError};
use crate::chains::asset_decimals;
use crate::htx::SummaryLine;
use crate::report::TotalCheck;
use bigdecimal::BigDecimal;
use std::collections::BTreeMap;

/// A row's amount in whole coins: `Ok(None)` when the row states none, or the coin's decimals
/// are unknown in a base-unit layout (it cannot be converted).
pub fn row_amount(row: &Row) -> Result<Option<BigDecimal>, BalanceError> {
    let text = row.amount.trim();
    if text.is_empty() || text.eq_ignore_ascii_case("null") {
        return Ok(None);
    }
    let decimals = asset_decimals(&row.coin);
    if row.base_units {
        let units = parse_balance(
            text,
            &format!("{} (in its smallest unit)", row.coin),
            Some(0),
        )?;
        return Ok(decimals.map(|d| from_base_units(&units, d)));
    }
    parse_balance(text, &row.coin, decimals).map(Some)
}

/// The amounts of one coin's rows.
#[derive(Debug, Clone, Default)]
pub struct CoinSum {
    /// The coin as its first row spells it.
    pub name: String,
    /// Rows with an amount.
    pub rows: u64,
    /// Their exact sum.
    pub all: BigDecimal,
    /// Of it, the rows whose own signature verified.
    pub verified: BigDecimal,
    /// Of it, the rows published without a signature.
    pub unsigned: BigDecimal,
}

/// Per coin, keyed by the coin in lower case.
pub type CoinSums = BTreeMap<String, CoinSum>;

/// Adds a row's amount to its coin's sum.
pub fn add_row(sums: &mut CoinSums, coin: &str, amount: &BigDecimal, verified: bool) {
    let s = sums
        .entry(coin.trim().to_ascii_lowercase())
        .or_insert_with(|| CoinSum {
            name: coin.trim().to_string(),
            ..CoinSum::default()
        });
    s.rows += 1;
    s.all += amount;
    if verified {
        s.verified += amount;
    }
}

/// One unit of the last printed digit of `stated`.
fn unit_of(stated: &crate::exchange::amount::Amount) -> BigDecimal {
    stated.half_unit() * BigDecimal::from(2)
}

/// Every line of `summary` checked against `sums`, in file order, then the coins no line
/// covers.
pub fn check_totals(summary: &[SummaryLine], sums: &CoinSums) -> Vec<TotalCheck> {
    let mut claimed = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for l in summary {
        let keys: Vec<&String> = match l.group_base() {
            Some(base) => {
                let base = base.to_ascii_lowercase();
                sums.keys()
                    .filter(|k| **k == base || k.starts_with(&format!("{base}-")))
                    .collect()
            }
            None => sums
                .keys()
                .filter(|k| k.as_str() == l.coin.trim().to_ascii_lowercase())
                .collect(),
        };
        let mut all = BigDecimal::default();
        let mut verified = BigDecimal::default();
        let mut unsigned = BigDecimal::default();
        let mut rows = 0;
        let mut covers = Vec::new();
        for k in &keys {
            let s = &sums[*k];
            all += &s.all;
            verified += &s.verified;
            unsigned += &s.unsigned;
            rows += s.rows;
            covers.push(s.name.clone());
            claimed.insert((*k).clone());
        }
        let (status, tolerance) = match &l.balance {
            None => ("not stated", BigDecimal::default()),
            Some(stated) => {
                let tol = unit_of(stated);
                let ok = (stated.value() - &all).abs() < tol || stated.value() == &all;
                (if ok { "ok" } else { "mismatch" }, tol)
            }
        };
        out.push(TotalCheck {
            line: Some(l.line),
            coin: l.coin.clone(),
            height: l.height.trim().parse().ok(),
            against: "rows",
            covers,
            stated: l.balance.as_ref().map(|b| b.value().to_plain_string()),
            summed: plain(&all),
            tolerance: plain(&tolerance),
            rows,
            on_verified: plain(&verified),
            on_unsigned: plain(&unsigned),
            status,
        });
    }
    for (k, s) in sums {
        if !claimed.contains(k) {
            out.push(TotalCheck {
                line: None,
                coin: s.name.clone(),
                height: None,
                against: "rows",
                covers: vec![s.name.clone()],
                stated: None,
                summed: plain(&s.all),
                tolerance: "0".into(),
                rows: s.rows,
                on_verified: plain(&s.verified),
                on_unsigned: plain(&s.unsigned),
                status: "not stated",
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::amount::Amount;
    use std::str::FromStr;

    fn line(n: u64, coin: &str, amount: &str) -> SummaryLine {
        SummaryLine {
            line: n,
            coin: coin.into(),
            height: "-".into(),
            balance: Some(Amount::parse(amount).unwrap()),
        }
    }

    fn d(s: &str) -> BigDecimal {
        BigDecimal::from_str(s).unwrap()
    }

    #[test]
    fn cut_totals_groups_and_mismatches() {
        let mut sums = CoinSums::new();
        add_row(&mut sums, "ETH", &d("5.283448258302172760"), true);
        add_row(&mut sums, "ETH-ARBITRUM", &d("0.2214"), true);
        add_row(&mut sums, "ETH-OPTIMISM", &d("1.397127149911950208"), false);
        add_row(&mut sums, "BTC", &d("1.5"), true);
        add_row(&mut sums, "DOGE", &d("7"), true);
        let c = check_totals(
            &[
                line(2, "ETH(ALL)", "6"),
                line(3, "ETH", "5.2834"),
                line(4, "ETH-OPTIMISM", "1.3971"),
                line(5, "BTC", "1.4"),
                line(6, "USDT-ERC20", "0"),
                line(7, "ETH-ARBITRUM", "0.2215"),
            ],
            &sums,
        );
        let status: Vec<_> = c.iter().map(|t| (t.coin.as_str(), t.status)).collect();
        assert_eq!(
            status,
            [
                ("ETH(ALL)", "ok"),
                ("ETH", "ok"),
                ("ETH-OPTIMISM", "ok"),
                ("BTC", "mismatch"),
                ("USDT-ERC20", "ok"),
                ("ETH-ARBITRUM", "mismatch"),
                ("DOGE", "not stated"),
            ]
        );
        assert_eq!(c[0].covers, ["ETH", "ETH-ARBITRUM", "ETH-OPTIMISM"]);
        assert_eq!(c[0].summed, "6.901975408214122968");
        assert_eq!(c[0].on_verified, "5.50484825830217276");
        assert_eq!(
            (c[3].stated.as_deref(), c[3].summed.as_str()),
            (Some("1.4"), "1.5")
        );
        assert_eq!(
            crate::htx::mismatch_text(&c[3]),
            "summary line 5: BTC states a total of 1.4, but BTC adds up to 1.5 (1 row); the two \
             differ by 0.1, more than the 0.1 the printed figures' rounding allows"
        );
    }

    fn row(coin: &str, amount: &str, base_units: bool) -> Row {
        Row {
            coin: coin.into(),
            amount: amount.into(),
            base_units,
            ..Row::default()
        }
    }

    #[test]
    fn row_amounts_units_precision_and_sign() {
        let a = |c, t, b| row_amount(&row(c, t, b));
        assert_eq!(
            a("ETH", "58300000000000000", true).unwrap(),
            Some(d("0.0583"))
        );
        assert_eq!(a("BTC", "17263933", true).unwrap(), Some(d("0.17263933")));
        assert_eq!(a("USDT-TRC20", "111000000", true).unwrap(), Some(d("111")));
        assert_eq!(a("DOGE", "5", true).unwrap(), None, "unknown decimals");
        assert_eq!(a("ETH", "", false).unwrap(), None);
        assert_eq!(
            a("ETH", "0.058959708849230328", false).unwrap(),
            Some(d("0.058959708849230328"))
        );
        assert!(matches!(
            a("USDT-ERC20", "1.1234567", false),
            Err(BalanceError::TooPrecise { decimals: 6, .. })
        ));
        assert!(matches!(
            a("BTC", "-1", false),
            Err(BalanceError::Negative(_))
        ));
        assert!(matches!(
            a("BTC", "1.5", true),
            Err(BalanceError::TooPrecise { .. })
        ));
        assert!(matches!(
            a("BTC", "1e5", false),
            Err(BalanceError::NotDecimal(_))
        ));
    }
}
