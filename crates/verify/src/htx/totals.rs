//! HTX's summary block against its rows: every stated total, group rows such as `BTC(ALL)`
//! included, compared with exact decimal arithmetic (see [`crate::exchange::amount`] for how
//! much the printed figures' rounding allows).
//!
//! * A coin line (`USDT-TRC20`) covers the rows of that coin (case-insensitive; two summary
//!   spellings HTX uses for a row coin of another name are mapped, see [`SUMMARY_ALIASES`]).
//! * A group line (`USDT(ALL)`) covers the coin lines after it, up to the next group line,
//!   and is compared with the balances of their rows. A group line with no coin lines
//!   after it (HTX's first files: `TRX(ALL)`, `HT(ALL)`) covers the rows whose coin is its
//!   base or starts with it and `-` (`HT-ETH`) that no coin line covers.
//! * Rows of a coin that no line covers are listed as `not stated`, not failed: they add to
//!   no claim.

use crate::exchange::amount::{plain, Amount, Sum};
use crate::report::TotalCheck;
use bigdecimal::BigDecimal;
use std::collections::{BTreeMap, BTreeSet};

use super::reader::SummaryLine;

/// Summary-block spellings of coins whose rows HTX labels otherwise (summary, rows), as its
/// files since 2024 have them.
pub const SUMMARY_ALIASES: &[(&str, &str)] =
    &[("USDT-ERC20", "USDT-ETH"), ("SOL-USDC", "USDC-SOL")];

/// The balances of one coin's rows.
#[derive(Debug, Clone, Default)]
pub struct CoinTally {
    /// The coin as its first row spells it.
    pub name: String,
    /// Every row with a balance.
    pub all: Sum,
    /// Rows whose own signature verified.
    pub verified: Sum,
    /// Rows published without a signature.
    pub unsigned: Sum,
}

/// Per-coin tallies, keyed by the coin in lower case.
pub type Tallies = BTreeMap<String, CoinTally>;

/// What a comparison covers.
struct Covered {
    names: Vec<String>,
    all: Sum,
    verified: BigDecimal,
    unsigned: BigDecimal,
}

impl Covered {
    fn of(keys: &[String], tallies: &Tallies) -> Covered {
        let mut c = Covered {
            names: Vec::new(),
            all: Sum::default(),
            verified: BigDecimal::default(),
            unsigned: BigDecimal::default(),
        };
        for k in keys {
            if let Some(t) = tallies.get(k) {
                c.names.push(t.name.clone());
                c.all.merge(&t.all);
                c.verified += &t.verified.value;
                c.unsigned += &t.unsigned.value;
            }
        }
        c
    }
}

fn row_key(coin: &str, tallies: &Tallies) -> String {
    let k = coin.trim().to_ascii_lowercase();
    if tallies.contains_key(&k) {
        return k;
    }
    SUMMARY_ALIASES
        .iter()
        .find(|(s, _)| s.eq_ignore_ascii_case(&k))
        .map_or(k, |(_, rows)| rows.to_ascii_lowercase())
}

fn check(line: &SummaryLine, summed: &Covered, of_lines: bool) -> TotalCheck {
    let against = &summed.all;
    let (status, tolerance) = match &line.balance {
        None => ("not stated", BigDecimal::default()),
        Some(stated) if against.matches(stated) => ("ok", against.tolerance(stated)),
        Some(stated) => ("mismatch", against.tolerance(stated)),
    };
    TotalCheck {
        line: Some(line.line),
        coin: line.coin.clone(),
        height: line.height.trim().parse().ok(),
        against: if of_lines {
            "rows of its lines"
        } else {
            "rows"
        },
        covers: summed.names.clone(),
        stated: line.balance.as_ref().map(|b| plain(b.value())),
        summed: plain(&against.value),
        tolerance: plain(&tolerance),
        rows: summed.all.count,
        on_verified: plain(&summed.verified),
        on_unsigned: plain(&summed.unsigned),
        status,
    }
}

/// Every total of `summary` checked against `tallies`, in file order, then the coins no line
/// covers.
pub fn check_totals(summary: &[SummaryLine], tallies: &Tallies) -> Vec<TotalCheck> {
    // Which coin lines belong to which group line (by position).
    let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
    let mut loose: Vec<usize> = Vec::new();
    for (i, l) in summary.iter().enumerate() {
        if l.group_base().is_some() {
            groups.push((i, Vec::new()));
        } else if let Some((_, members)) = groups.last_mut() {
            members.push(i);
        } else {
            loose.push(i);
        }
    }
    let mut claimed: BTreeSet<String> = summary
        .iter()
        .filter(|l| l.group_base().is_none())
        .map(|l| row_key(&l.coin, tallies))
        .collect();
    let mut out: Vec<(usize, TotalCheck)> = Vec::new();
    let coin_line = |i: usize| {
        let l = &summary[i];
        check(
            l,
            &Covered::of(&[row_key(&l.coin, tallies)], tallies),
            false,
        )
    };
    for &i in &loose {
        out.push((i, coin_line(i)));
    }
    for (g, members) in &groups {
        let line = &summary[*g];
        if members.is_empty() {
            let base = line.group_base().unwrap_or_default().to_ascii_lowercase();
            let keys: Vec<String> = tallies
                .keys()
                .filter(|k| {
                    (**k == base || k.starts_with(&format!("{base}-"))) && !claimed.contains(*k)
                })
                .cloned()
                .collect();
            claimed.extend(keys.iter().cloned());
            out.push((*g, check(line, &Covered::of(&keys, tallies), false)));
            continue;
        }
        let mut covered = Covered::of(&[], tallies);
        for &m in members {
            let c = Covered::of(&[row_key(&summary[m].coin, tallies)], tallies);
            covered.all.merge(&c.all);
            covered.verified += c.verified;
            covered.unsigned += c.unsigned;
            out.push((m, coin_line(m)));
        }
        covered.names = members.iter().map(|&m| summary[m].coin.clone()).collect();
        out.push((*g, check(line, &covered, true)));
    }
    out.sort_by_key(|(i, _)| *i);
    let mut checks: Vec<TotalCheck> = out.into_iter().map(|(_, c)| c).collect();
    for (k, t) in tallies {
        if !claimed.contains(k) && t.all.count > 0 {
            checks.push(TotalCheck {
                line: None,
                coin: t.name.clone(),
                height: None,
                against: "rows",
                covers: vec![t.name.clone()],
                stated: None,
                summed: plain(&t.all.value),
                tolerance: "0".into(),
                rows: t.all.count,
                on_verified: plain(&t.verified.value),
                on_unsigned: plain(&t.unsigned.value),
                status: "not stated",
            });
        }
    }
    checks
}

/// The file failure a mismatched total makes: the line, the coin, stated and summed amounts.
pub fn mismatch_text(t: &TotalCheck) -> String {
    let line = t
        .line
        .map_or_else(String::new, |l| format!("summary line {l}: "));
    let stated = t.stated.as_deref().unwrap_or("-");
    if t.rows == 0 && t.covers.is_empty() {
        return format!(
            "{line}{} states a total of {stated}, but no address row of that coin has a balance (summed 0)",
            t.coin
        );
    }
    let diff = match (stated.parse::<BigDecimal>(), t.summed.parse::<BigDecimal>()) {
        (Ok(a), Ok(b)) => plain(&(a - b).abs()),
        _ => "?".into(),
    };
    let what = if t.against == "rows of its lines" {
        format!(
            "the rows of the lines after it ({}) add up to",
            t.covers.join(", ")
        )
    } else {
        format!(
            "{} add{} up to",
            t.covers.join(", "),
            if t.covers.len() == 1 { "s" } else { "" }
        )
    };
    format!(
        "{line}{} states a total of {stated}, but {what} {} ({} row{}); the two differ by \
         {diff}, more than the {} the printed figures' rounding allows",
        t.coin,
        t.summed,
        t.rows,
        if t.rows == 1 { "" } else { "s" },
        t.tolerance
    )
}

/// The tally of `coin` in `tallies`, created on first use.
pub fn tally_of<'a>(tallies: &'a mut Tallies, coin: &str) -> &'a mut CoinTally {
    tallies
        .entry(coin.trim().to_ascii_lowercase())
        .or_insert_with(|| CoinTally {
            name: coin.trim().to_string(),
            ..CoinTally::default()
        })
}

/// Adds a row's balance to its coin's tally.
pub fn add_row(
    tallies: &mut Tallies,
    coin: &str,
    balance: &Amount,
    verified: bool,
    unsigned: bool,
) {
    let t = tally_of(tallies, coin);
    t.all.add(balance);
    if verified {
        t.verified.add(balance);
    }
    if unsigned {
        t.unsigned.add(balance);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(n: u64, coin: &str, balance: &str) -> SummaryLine {
        SummaryLine {
            line: n,
            coin: coin.into(),
            height: "-".into(),
            balance: (balance != "-").then(|| Amount::parse(balance).unwrap()),
        }
    }

    fn tallies(rows: &[(&str, &str, bool)]) -> Tallies {
        let mut t = Tallies::new();
        for (coin, b, signed) in rows {
            add_row(&mut t, coin, &Amount::parse(b).unwrap(), *signed, !*signed);
        }
        t
    }

    #[test]
    fn groups_members_aliases_and_uncovered() {
        let summary = [
            line(2, "BTC(ALL)", "3.50"),
            line(3, "BTC", "1.25"),
            line(4, "BTC-TRC20", "2.25"),
            line(5, "USDT(ALL)", "10"),
            line(6, "USDT-ERC20", "10"),
            line(7, "TRX(ALL)", "5"),
        ];
        let t = tallies(&[
            ("BTC", "1.00", true),
            ("BTC", "0.25", false),
            ("btc-trc20", "2.25", true),
            ("USDT-ETH", "10", true),
            ("TRX", "4", true),
            ("TRX-sol", "1", false),
            ("ETH-Optimism", "7", true),
        ]);
        let c = check_totals(&summary, &t);
        let status: Vec<(&str, &str)> = c.iter().map(|x| (x.coin.as_str(), x.status)).collect();
        assert_eq!(
            status,
            [
                ("BTC(ALL)", "ok"),
                ("BTC", "ok"),
                ("BTC-TRC20", "ok"),
                ("USDT(ALL)", "ok"),
                ("USDT-ERC20", "ok"),
                ("TRX(ALL)", "ok"),
                ("ETH-Optimism", "not stated"),
            ]
        );
        assert_eq!(
            (c[1].on_verified.as_str(), c[1].on_unsigned.as_str()),
            ("1.00", "0.25")
        );
        assert_eq!(c[4].covers, ["USDT-ETH"]);
        assert_eq!(
            c[5].covers,
            ["TRX", "TRX-sol"],
            "a group without lines covers its rows"
        );
        assert_eq!((c[0].rows, c[0].summed.as_str()), (3, "3.50"));
    }

    #[test]
    fn mismatches_name_the_coin_and_both_amounts() {
        let summary = [
            line(2, "USDT(ALL)", "604969837.3"),
            line(3, "USDT-TRC20", "64050721.54"),
            line(4, "USDT-T-Bills", "90010000"),
            line(5, "USDT-ETH", "-"),
        ];
        let t = tallies(&[
            ("USDT-TRC20", "400000036.7", true),
            ("USDT-TRC20", "64050685.64", true),
        ]);
        let c = check_totals(&summary, &t);
        assert_eq!(
            c[0].status, "mismatch",
            "group against its lines' rows: {:?}",
            c[0]
        );
        assert_eq!(c[0].summed, "464050722.34");
        assert_eq!(c[1].status, "mismatch");
        assert_eq!(c[1].summed, "464050722.34");
        let text = mismatch_text(&c[1]);
        assert_eq!(
            text,
            "summary line 3: USDT-TRC20 states a total of 64050721.54, but USDT-TRC20 adds up to \
             464050722.34 (2 rows); the two differ by 400000000.80, more than the 0.060 the \
             printed figures' rounding allows"
        );
        assert_eq!(c[2].status, "mismatch");
        assert!(mismatch_text(&c[2])
            .contains("USDT-T-Bills states a total of 90010000, but no address row"));
        assert_eq!(c[3].status, "not stated");
    }
}
