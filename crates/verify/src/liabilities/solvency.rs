//! Solvency: verified reserves against liabilities, asset by asset.
//!
//! Reserves are the balances of the reserve reports' addresses that verified (the stated
//! balances; with a node, only those the node confirmed at the anchor). Liabilities are a
//! verified bundle's net liabilities (equity minus debt per asset: proven), or a plain
//! `asset,net_liabilities[,price]` CSV (stated, not proven). Both sides are joined through the
//! [`Mapping`] table, compared in the asset's own unit and valued at the bundle's published prices.
//!
//! Per asset: `covered` (reserves at least the net liabilities), `short`, `no reserves`
//! (liabilities and no reserves: short), `reserves only` (reserves and no liabilities), or
//! `nothing owed`. In all: `solvent` (every asset covered, liabilities proven), `insolvent`
//! (some asset short), `failed` (the liabilities bundle did not verify), or `unproven` (covered,
//! but the liabilities are only stated).

use super::mapping::Mapping;
use super::report::LiabilitiesReport;
use super::{fixed, snapshot_date};
use crate::balance::{parse_balance, plain, BalanceTotal};
use crate::error::InputError;
use crate::report::{verdict, Report, EXIT_FAILED, EXIT_INCOMPLETE};
use bigdecimal::BigDecimal;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

/// A liabilities line a totals file states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatedLiability {
    /// The file's line.
    pub line: u64,
    /// The asset as the file names it.
    pub asset: String,
    /// The net liability in the asset's unit.
    pub net: BigDecimal,
    /// The price in USD, when the file states one.
    pub price: Option<BigDecimal>,
}

/// Parses a totals file: a header `asset,net_liabilities` (optionally `,price`), then one line
/// per asset; amounts plain decimals, not negative, each asset once.
pub fn parse_totals(text: &str, file: &str) -> Result<Vec<StatedLiability>, InputError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map_err(|e| InputError::new(file, format!("line 1: not CSV: {e}")))?
        .clone();
    let names: Vec<String> = header.iter().map(|h| h.to_ascii_lowercase()).collect();
    if names.len() < 2 || names[0] != "asset" || names[1] != "net_liabilities" {
        return Err(InputError::new(
            file,
            format!(
                "line 1: header `{}` is not `asset,net_liabilities` (optionally `,price`)",
                names.join(",")
            ),
        ));
    }
    let with_price = names.get(2).is_some_and(|n| n == "price");
    let mut out: Vec<StatedLiability> = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| InputError::new(file, format!("not CSV: {e}")))?;
        let line = record.position().map_or(0, |p| p.line());
        let at = |field: &str, why: String| {
            InputError::new(file, format!("line {line}, {field}: {why}"))
        };
        let asset = record.get(0).unwrap_or("").to_string();
        if asset.is_empty() {
            return Err(at("asset", "empty".into()));
        }
        if let Some(first) = out.iter().find(|s| s.asset.eq_ignore_ascii_case(&asset)) {
            return Err(at(
                "asset",
                format!("`{asset}` is also on line {}", first.line),
            ));
        }
        let net = parse_balance(record.get(1).unwrap_or(""), &asset, None)
            .map_err(|e| at("net_liabilities", e.to_string()))?;
        let price = match record.get(2).filter(|p| with_price && !p.is_empty()) {
            Some(p) => {
                Some(parse_balance(p, &asset, None).map_err(|e| at("price", e.to_string()))?)
            }
            None => None,
        };
        out.push(StatedLiability {
            line,
            asset,
            net,
            price,
        });
    }
    if out.is_empty() {
        return Err(InputError::new(file, "no asset line after the header"));
    }
    Ok(out)
}

/// The liabilities side of the join.
#[derive(Debug, Clone)]
pub enum Liabilities<'a> {
    /// A verified (or failed) bundle.
    Proven(&'a LiabilitiesReport),
    /// A totals file: stated, not proven.
    Stated {
        /// The file.
        file: String,
        /// Its lines.
        lines: Vec<StatedLiability>,
    },
}

/// One reserves report.
#[derive(Debug, Clone)]
pub struct Reserves<'a> {
    /// The report.
    pub report: &'a Report,
    /// When the reserves were attested (a snapshot's `created_at`), if the file says.
    pub time: Option<String>,
    /// Balances were checked on nodes: only addresses the node confirmed count.
    pub node_checked: bool,
}

/// One reserves file in the solvency report.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ReservesSource {
    /// The file.
    pub file: String,
    /// Its format.
    pub format: String,
    /// Its own verdict.
    pub result: &'static str,
    /// What counts from it.
    pub basis: &'static str,
    /// When it was attested (the snapshot's `created_at`), if it says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// Days from the liabilities snapshot to this time (negative: before).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days_from_liabilities: Option<i64>,
}

/// One asset of the join.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AssetSolvency {
    /// The asset.
    pub asset: String,
    /// Verified reserves, in the asset's unit.
    pub reserves: String,
    /// Where they come from (`file: chain asset`).
    pub reserve_sources: Vec<String>,
    /// Net liabilities, in the asset's unit.
    pub net_liabilities: String,
    /// The liabilities' symbols that map to it.
    pub liability_symbols: Vec<String>,
    /// Reserves ÷ net liabilities (absent when nothing is owed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratio: Option<String>,
    /// The price both sides are valued at (USD), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<String>,
    /// Reserves at that price.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reserves_value: Option<String>,
    /// Net liabilities at that price.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub liabilities_value: Option<String>,
    /// `covered`, `short`, `no reserves`, `reserves only` or `nothing owed`.
    pub status: &'static str,
}

/// The join's verdicts.
pub mod status {
    /// Reserves at least the net liabilities.
    pub const COVERED: &str = "covered";
    /// Reserves below the net liabilities.
    pub const SHORT: &str = "short";
    /// Net liabilities and no reserves at all.
    pub const NO_RESERVES: &str = "no reserves";
    /// Reserves of an asset the liabilities do not list.
    pub const RESERVES_ONLY: &str = "reserves only";
    /// Listed with zero net liabilities and no reserves.
    pub const NOTHING_OWED: &str = "nothing owed";
    /// Every asset covered and the liabilities proven.
    pub const SOLVENT: &str = "solvent";
    /// Some asset short.
    pub const INSOLVENT: &str = "insolvent";
    /// Covered, but the liabilities are stated, not proven.
    pub const UNPROVEN: &str = "unproven";
}

/// The solvency report.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SolvencyReport {
    /// The liabilities' file.
    pub liabilities: String,
    /// `proven` (a verified bundle) or `stated, not proven` (a totals file).
    pub liabilities_kind: &'static str,
    /// The bundle's own verdict (`verified`, `failed`); absent for a totals file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub liabilities_result: Option<&'static str>,
    /// The liabilities' snapshot date, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub liabilities_date: Option<String>,
    /// The reserves' files.
    pub reserves: Vec<ReservesSource>,
    /// Per asset: the liabilities' assets first (by value, largest first), then reserves only.
    pub assets: Vec<AssetSolvency>,
    /// Assets covered / short (including `no reserves`).
    pub covered: u64,
    /// Assets short.
    pub short: u64,
    /// Reserves valued (USD) over the assets with a price.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reserves_value: Option<String>,
    /// Net liabilities valued (USD).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub liabilities_value: Option<String>,
    /// [`status::SOLVENT`], [`status::INSOLVENT`], [`status::UNPROVEN`] or `failed`.
    pub result: &'static str,
}

const RATIO_DECIMALS: i64 = 4;

#[derive(Default)]
struct Side {
    reserves: BigDecimal,
    reserve_sources: Vec<String>,
    net: BigDecimal,
    symbols: Vec<String>,
    /// Σ amount × price of the liabilities, and the prices seen.
    liabilities_value: Option<BigDecimal>,
    price: Option<BigDecimal>,
    listed: bool,
}

/// Days since 1970-01-01 of a date `YYYY-MM-DD` (the first 10 characters of `text`).
pub fn days_of(text: &str) -> Option<i64> {
    let d = text.get(..10)?;
    let mut parts = d.split('-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let day: i64 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146097 + doe - 719468)
}

/// The verified reserves of one report per (asset, source label).
fn reserves_of(r: &Reserves, mapping: &Mapping) -> Vec<(String, String, BigDecimal)> {
    let mut out: BTreeMap<(String, String), BigDecimal> = BTreeMap::new();
    if r.node_checked {
        for c in r.report.claims.iter().filter(|c| c.status == "verified") {
            let Some(b) = &c.balance else { continue };
            let key = BalanceTotal::key(&c.chain, &c.asset);
            let asset = mapping.reserve_asset(&key, &c.chain, &c.asset);
            *out.entry((asset, key)).or_default() += b;
        }
    } else {
        for (key, t) in &r.report.balances {
            let asset = mapping.reserve_asset(key, &t.chain, &t.asset);
            *out.entry((asset, key.clone())).or_default() += &t.on_verified;
        }
    }
    out.into_iter().map(|((a, k), v)| (a, k, v)).collect()
}

/// Joins `reserves` with `liabilities` through `mapping`.
pub fn join(reserves: &[Reserves], liabilities: &Liabilities, mapping: &Mapping) -> SolvencyReport {
    let mut sides: BTreeMap<String, Side> = BTreeMap::new();
    let (file, kind, result, date) = match liabilities {
        Liabilities::Proven(r) => {
            for a in &r.assets {
                let unit = mapping.liability_unit(&a.symbol);
                let s = sides.entry(unit.asset.clone()).or_default();
                s.listed = true;
                s.symbols.push(a.symbol.clone());
                let net = fixed(
                    u128::from(a.raw[0].saturating_sub(a.raw[1])),
                    unit.amount_decimals,
                );
                let price = fixed(u128::from(a.raw[2]), unit.price_decimals);
                *s.liabilities_value.get_or_insert_with(BigDecimal::default) += &net * &price;
                s.net += net;
                s.price.get_or_insert(price);
            }
            (
                r.file.clone(),
                "proven",
                Some(r.result),
                r.snapshot_date.clone(),
            )
        }
        Liabilities::Stated { file, lines } => {
            for l in lines {
                let asset = mapping.reserve_asset(&l.asset, &l.asset, &l.asset);
                let s = sides.entry(asset).or_default();
                s.listed = true;
                s.symbols.push(l.asset.clone());
                s.net += &l.net;
                if let Some(p) = &l.price {
                    *s.liabilities_value.get_or_insert_with(BigDecimal::default) += &l.net * p;
                    s.price.get_or_insert(p.clone());
                }
            }
            (
                file.clone(),
                "stated, not proven",
                None,
                snapshot_date(file),
            )
        }
    };
    let liab_days = date.as_deref().and_then(days_of);
    let mut sources = Vec::new();
    for r in reserves {
        for (asset, key, value) in reserves_of(r, mapping) {
            let s = sides.entry(asset).or_default();
            s.reserves += &value;
            s.reserve_sources
                .push(format!("{}: {key} {}", r.report.file, plain(&value)));
        }
        sources.push(ReservesSource {
            file: r.report.file.clone(),
            format: r.report.format.clone(),
            result: r.report.result,
            basis: if r.node_checked {
                "balances of verified addresses that the node confirmed at the anchor"
            } else {
                "stated balances of verified addresses"
            },
            time: r.time.clone(),
            days_from_liabilities: r
                .time
                .as_deref()
                .and_then(days_of)
                .zip(liab_days)
                .map(|(t, l)| t - l),
        });
    }
    let zero = BigDecimal::default();
    let mut assets: Vec<(Option<BigDecimal>, AssetSolvency)> = Vec::new();
    let (mut covered, mut short) = (0u64, 0u64);
    let (mut res_total, mut liab_total) = (None::<BigDecimal>, None::<BigDecimal>);
    for (asset, s) in sides {
        let has_reserves = !s.reserve_sources.is_empty();
        let st = if !s.listed {
            status::RESERVES_ONLY
        } else if s.net == zero && !has_reserves {
            status::NOTHING_OWED
        } else if !has_reserves || (s.reserves == zero && s.net > zero) {
            status::NO_RESERVES
        } else if s.reserves >= s.net {
            status::COVERED
        } else {
            status::SHORT
        };
        match st {
            status::COVERED => covered += 1,
            status::SHORT | status::NO_RESERVES => short += 1,
            _ => {}
        }
        let reserves_value = s.price.as_ref().map(|p| &s.reserves * p);
        if let Some(v) = &reserves_value {
            *res_total.get_or_insert_with(BigDecimal::default) += v;
        }
        if let Some(v) = &s.liabilities_value {
            *liab_total.get_or_insert_with(BigDecimal::default) += v;
        }
        let ratio = (s.net > zero).then(|| (&s.reserves / &s.net).round(RATIO_DECIMALS));
        let money = |v: &BigDecimal| plain(&v.round(2));
        assets.push((
            s.listed
                .then(|| s.liabilities_value.clone().unwrap_or_default()),
            AssetSolvency {
                asset,
                reserves: plain(&s.reserves),
                reserve_sources: s.reserve_sources,
                net_liabilities: plain(&s.net),
                liability_symbols: s.symbols,
                ratio: ratio.as_ref().map(plain),
                price: s.price.as_ref().map(plain),
                reserves_value: reserves_value.as_ref().map(money),
                liabilities_value: s.liabilities_value.as_ref().map(money),
                status: st,
            },
        ));
    }
    // Liabilities first, largest value first; then reserves only.
    assets.sort_by(|(a, x), (b, y)| match (a, b) {
        (Some(a), Some(b)) => b.cmp(a).then_with(|| x.asset.cmp(&y.asset)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => x.asset.cmp(&y.asset),
    });
    let result = match (kind, result) {
        (_, Some(r)) if r != verdict::VERIFIED => verdict::FAILED,
        _ if short > 0 => status::INSOLVENT,
        ("proven", _) => status::SOLVENT,
        _ => status::UNPROVEN,
    };
    SolvencyReport {
        liabilities: file,
        liabilities_kind: kind,
        liabilities_result: result_of(liabilities),
        liabilities_date: date,
        reserves: sources,
        assets: assets.into_iter().map(|(_, a)| a).collect(),
        covered,
        short,
        reserves_value: res_total.map(|v| plain(&v.round(2))),
        liabilities_value: liab_total.map(|v| plain(&v.round(2))),
        result,
    }
}

fn result_of(l: &Liabilities) -> Option<&'static str> {
    match l {
        Liabilities::Proven(r) => Some(r.result),
        Liabilities::Stated { .. } => None,
    }
}

impl SolvencyReport {
    /// 0 solvent; 1 insolvent or the bundle failed; 3 covered but unproven.
    pub fn exit_code(&self) -> i32 {
        match self.result {
            status::SOLVENT => 0,
            status::UNPROVEN => EXIT_INCOMPLETE,
            _ => EXIT_FAILED,
        }
    }

    /// As JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("the report serializes")
    }

    /// For a person to read.
    pub fn to_human(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "liabilities: {} ({}{}){}",
            self.liabilities,
            self.liabilities_kind,
            self.liabilities_result
                .map(|r| format!(", {}", r.to_ascii_uppercase()))
                .unwrap_or_default(),
            self.liabilities_date
                .as_deref()
                .map(|d| format!(", snapshot {d}"))
                .unwrap_or_default()
        );
        for r in &self.reserves {
            let gap = match r.days_from_liabilities {
                Some(d) if d >= 0 => format!(", {d} days after the liabilities snapshot"),
                Some(d) => format!(", {} days before the liabilities snapshot", -d),
                None => ", time to the liabilities snapshot unknown".to_string(),
            };
            let _ = writeln!(
                s,
                "reserves: {} ({}, {}; counted: {}{}{})",
                r.file,
                r.format,
                r.result.to_ascii_uppercase(),
                r.basis,
                r.time
                    .as_deref()
                    .map(|t| format!("; attested {t}"))
                    .unwrap_or_default(),
                gap
            );
        }
        let _ = writeln!(
            s,
            "{:<10} {:>24} {:>24} {:>10} {:>18} {:>18}  status",
            "asset", "reserves", "net liabilities", "ratio", "reserves USD", "liabilities USD"
        );
        for a in &self.assets {
            let _ = writeln!(
                s,
                "{:<10} {:>24} {:>24} {:>10} {:>18} {:>18}  {}",
                a.asset,
                a.reserves,
                a.net_liabilities,
                a.ratio.as_deref().unwrap_or("-"),
                a.reserves_value.as_deref().unwrap_or("-"),
                a.liabilities_value.as_deref().unwrap_or("-"),
                a.status
            );
        }
        let _ = writeln!(
            s,
            "{} covered, {} short; reserves {} USD against net liabilities {} USD (at the liabilities' prices, assets with a price)",
            self.covered,
            self.short,
            self.reserves_value.as_deref().unwrap_or("-"),
            self.liabilities_value.as_deref().unwrap_or("-")
        );
        if self.liabilities_kind != "proven" {
            let _ = writeln!(s, "note: the liabilities are stated, not proven");
        }
        let _ = writeln!(s, "result: {}", self.result.to_ascii_uppercase());
        s
    }
}

/// The `created_at` a snapshot states near its start (`head`: its first bytes), if any.
pub fn created_at_of(head: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(head);
    let at = text.find("\"created_at\"")? + "\"created_at\"".len();
    let rest = text[at..].trim_start().strip_prefix(':')?.trim_start();
    let value = rest.strip_prefix('"')?;
    let end = value.find('"')?;
    Some(value[..end].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_files() {
        let t = parse_totals(
            "asset,net_liabilities,price\nBTC,1.5,65000\nUSDT,100,\n",
            "t.csv",
        )
        .unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].price, Some("65000".parse().unwrap()));
        assert_eq!((t[1].line, t[1].price.clone()), (3, None));
        for (text, needle) in [
            (
                "coin,amount\nBTC,1\n",
                "line 1: header `coin,amount` is not `asset,net_liabilities`",
            ),
            (
                "asset,net_liabilities\nBTC,-1\n",
                "line 2, net_liabilities: balance `-1` is negative",
            ),
            (
                "asset,net_liabilities\nBTC,1\nbtc,2\n",
                "line 3, asset: `btc` is also on line 2",
            ),
            (
                "asset,net_liabilities\nBTC,1e3\n",
                "line 2, net_liabilities: balance `1e3` is not a decimal",
            ),
            ("asset,net_liabilities\n", "no asset line"),
        ] {
            let e = parse_totals(text, "t.csv").unwrap_err().to_string();
            assert!(e.starts_with("t.csv: "), "{e}");
            assert!(e.contains(needle), "{needle}: {e}");
        }
    }

    #[test]
    fn created_at_near_the_start() {
        let head =
            br#"{"format":"por-attest-snapshot","created_at" : "2026-11-28T00:00:00Z","x":1"#;
        assert_eq!(created_at_of(head).as_deref(), Some("2026-11-28T00:00:00Z"));
        assert_eq!(created_at_of(b"coin,address"), None);
        assert_eq!(created_at_of(br#"{"created_at": 5}"#), None);
    }

    #[test]
    fn days() {
        assert_eq!(days_of("1970-01-01"), Some(0));
        assert_eq!(days_of("2024-09-29"), Some(19995));
        assert_eq!(
            days_of("2026-11-28T00:00:00Z").unwrap() - days_of("2024-09-29").unwrap(),
            790
        );
        assert_eq!(days_of("2024-13-01"), None);
    }

    fn report_with(balances: &[(&str, &str, &str, &str)]) -> Report {
        let mut r = Report::new("reserves.json", "por-attest-snapshot");
        for (chain, asset, all, verified) in balances {
            let t = r.balance_total(chain, asset);
            t.addresses += 1;
            t.stated += all.parse::<BigDecimal>().unwrap();
            t.on_verified += verified.parse::<BigDecimal>().unwrap();
        }
        r.result = verdict::VERIFIED;
        r
    }

    #[test]
    fn the_join_per_asset() {
        let r = report_with(&[
            ("BTC", "BTC", "12", "10"),
            ("ETH", "USDT", "50", "50"),
            ("TRX", "USDT", "60", "60"),
            ("ETH", "ETH", "3", "3"),
            ("ARB", "ARB", "5", "5"),
        ]);
        let lines = parse_totals(
            "asset,net_liabilities,price\nbtc,10,60000\nUSDT,120,1\neth,4,3000\nsol,0,150\ndoge,7,0.1\n",
            "totals.csv",
        )
        .unwrap();
        let liab = Liabilities::Stated {
            file: "totals.csv".into(),
            lines,
        };
        let res = [Reserves {
            report: &r,
            time: Some("2026-11-28T00:00:00Z".into()),
            node_checked: false,
        }];
        let j = join(&res, &liab, &Mapping::built_in());
        let by = |a: &str| j.assets.iter().find(|x| x.asset == a).unwrap();
        assert_eq!(by("BTC").status, status::COVERED);
        assert_eq!(by("BTC").reserves, "10");
        assert_eq!(by("BTC").ratio.as_deref(), Some("1"));
        assert_eq!(by("USDT").status, status::SHORT);
        assert_eq!(by("USDT").reserves, "110");
        assert_eq!(by("USDT").ratio.as_deref(), Some("0.9167"));
        assert_eq!(by("USDT").reserve_sources.len(), 2);
        assert_eq!(by("ETH").status, status::SHORT);
        assert_eq!(by("SOL").status, status::NOTHING_OWED);
        assert_eq!(by("DOGE").status, status::NO_RESERVES);
        assert_eq!(by("ARB").status, status::RESERVES_ONLY);
        assert_eq!(j.assets.last().unwrap().asset, "ARB");
        assert_eq!(j.assets[0].asset, "BTC", "largest liability first");
        assert_eq!((j.covered, j.short), (1, 3));
        assert_eq!(j.result, status::INSOLVENT);
        assert_eq!(j.exit_code(), 1);
        assert_eq!(j.liabilities_kind, "stated, not proven");
        assert_eq!(j.reserves[0].days_from_liabilities, None);
        // Only BTC and covered: unproven (stated), exit 3.
        let lines = parse_totals("asset,net_liabilities\nBTC,9.5\n", "t_20261127.csv").unwrap();
        let liab = Liabilities::Stated {
            file: "t_20261127.csv".into(),
            lines,
        };
        let j = join(&res, &liab, &Mapping::built_in());
        assert_eq!(j.result, status::UNPROVEN);
        assert_eq!(j.exit_code(), 3);
        assert_eq!(j.reserves[0].days_from_liabilities, Some(1));
        assert!(j.to_human().contains("stated, not proven"));
    }
}
