//! The symbol and unit table that joins reserves to liabilities: which asset a reserve balance
//! is (a chain's native coin, a token, an exchange file's coin label) and which asset a
//! liabilities symbol is, with the fixed-point scales of the liabilities bundle.
//!
//! Built-in rules, each overridable by a mapping file (CSV, `#` comments, header
//! `side,name,asset,amount_decimals,price_decimals`):
//! - `reserve` rows: a reserve label (a report's chain, asset or `CHAIN ASSET` key, an exchange
//!   coin label such as `USDT-ERC20`) → asset. Without a row, the balance's asset is taken,
//!   upper-cased, with a network suffix after `-` dropped (`USDT-TRC20` → `USDT`, `ETH-OPTIMISM`
//!   → `ETH`).
//! - `liability` rows: a bundle symbol → asset, the decimals of its fixed-point amounts (equity,
//!   debt) and of its price. Without a row, the symbol upper-cased, amounts with 8 decimals and
//!   prices with 8 decimals (USD), except Gate's "two-digit" assets: amounts with 2 decimals and
//!   prices with 14 ([`GATE_TWO_DIGIT`], Gate's list at the 350-slot version of its prover).
//!   Either way an amount times its price is USD with 16 decimals.

use crate::error::InputError;
use std::collections::BTreeMap;

/// Gate's assets whose amounts have 2 decimals and prices 14 (its prover's list for the
/// 350-slot bundles, such as 2024-09-29's).
pub const GATE_TWO_DIGIT: [&str; 50] = [
    "nft", "turbo", "cheems", "hippo", "spell", "sats", "qubic", "pepe", "lunc", "snek", "shib",
    "dog", "mog", "vinu", "lai", "btt", "1cat", "wen", "aidoge", "bidr", "elon", "wgrt", "say",
    "bonk", "pepper", "rats", "supra", "hot", "omi", "htx", "reef", "peipei", "wojak", "xec",
    "toshi", "win", "babydoge", "why", "bome", "doge", "zbcn", "bttc", "raca", "apepe", "ladys",
    "vra", "axl", "floki", "bgsc", "atlas",
];

/// Decimals of a liability's amounts and price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiabilityUnit {
    /// The asset it joins with.
    pub asset: String,
    /// Decimals of equity and debt.
    pub amount_decimals: u32,
    /// Decimals of the price (USD).
    pub price_decimals: u32,
    /// Where the rule comes from: `built-in` or the mapping file and line.
    pub source: String,
}

/// The mapping table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mapping {
    reserves: BTreeMap<String, (String, String)>,
    liabilities: BTreeMap<String, LiabilityUnit>,
}

/// The built-in reserve rows.
pub const BUILT_IN_RESERVES: [(&str, &str); 6] = [
    ("USDT-ERC20", "USDT"),
    ("USDT-TRC20", "USDT"),
    ("USDT-OPTIMISM", "USDT"),
    ("USDT-ARBITRUM", "USDT"),
    ("USDT-POLYGON", "USDT"),
    ("BTC(ALL)", "BTC"),
];

impl Mapping {
    /// The built-in table.
    pub fn built_in() -> Mapping {
        let mut m = Mapping::default();
        for (name, asset) in BUILT_IN_RESERVES {
            m.reserves.insert(
                name.to_ascii_uppercase(),
                (asset.to_string(), "built-in".into()),
            );
        }
        m
    }

    /// The built-in table with the rows of a mapping file's `text` added (a row replaces the
    /// built-in rule for its name).
    pub fn with_file(text: &str, file: &str) -> Result<Mapping, InputError> {
        let mut m = Mapping::built_in();
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .comment(Some(b'#'))
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        for record in reader.records() {
            let record = record.map_err(|e| InputError::new(file, format!("not CSV: {e}")))?;
            let line = record.position().map_or(0, |p| p.line());
            let get = |i: usize| record.get(i).unwrap_or("");
            if get(0) == "side" {
                continue;
            }
            let at = |field: &str, why: String| {
                InputError::new(file, format!("line {line}, {field}: {why}"))
            };
            let (name, asset) = (get(1), get(2));
            if name.is_empty() || asset.is_empty() {
                return Err(at("name/asset", "both are required".into()));
            }
            let source = format!("{file} line {line}");
            match get(0) {
                "reserve" => {
                    m.reserves
                        .insert(name.to_ascii_uppercase(), (asset.to_string(), source));
                }
                "liability" => {
                    let dec = |i: usize, field: &str| -> Result<u32, InputError> {
                        get(i)
                            .parse::<u32>()
                            .ok()
                            .filter(|d| *d <= 30)
                            .ok_or_else(|| {
                                at(
                                    field,
                                    format!("`{}` is not a number of decimals (0 to 30)", get(i)),
                                )
                            })
                    };
                    let unit = LiabilityUnit {
                        asset: asset.to_string(),
                        amount_decimals: dec(3, "amount_decimals")?,
                        price_decimals: dec(4, "price_decimals")?,
                        source,
                    };
                    m.liabilities.insert(name.to_ascii_lowercase(), unit);
                }
                other => {
                    return Err(at(
                        "side",
                        format!("`{other}` is neither `reserve` nor `liability`"),
                    ))
                }
            }
        }
        Ok(m)
    }

    /// The built-in table, with the rows of the mapping file at `path` when given.
    pub fn load(path: Option<&std::path::Path>) -> Result<Mapping, InputError> {
        let Some(path) = path else {
            return Ok(Mapping::built_in());
        };
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| InputError::new(&file, format!("cannot read: {e}")))?;
        Mapping::with_file(&text, &file)
    }

    /// The asset a reserve balance is: by its report key (`ETH USDT`), its chain label, or its
    /// asset, in that order; else the asset's own name (upper-cased, network suffix dropped).
    pub fn reserve_asset(&self, key: &str, chain: &str, asset: &str) -> String {
        for name in [key, chain, asset] {
            if let Some((a, _)) = self.reserves.get(&name.to_ascii_uppercase()) {
                return a.clone();
            }
        }
        default_asset(asset)
    }

    /// The asset and units of a liabilities symbol.
    pub fn liability_unit(&self, symbol: &str) -> LiabilityUnit {
        if let Some(u) = self.liabilities.get(&symbol.to_ascii_lowercase()) {
            return u.clone();
        }
        let two = GATE_TWO_DIGIT.contains(&symbol.to_ascii_lowercase().as_str());
        LiabilityUnit {
            asset: default_asset(symbol),
            amount_decimals: if two { 2 } else { 8 },
            price_decimals: if two { 14 } else { 8 },
            source: "built-in".into(),
        }
    }
}

/// An asset name upper-cased with a network suffix (`-TRC20`) dropped.
pub fn default_asset(name: &str) -> String {
    let base = name.trim().split('-').next().unwrap_or("");
    base.to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_rules() {
        let m = Mapping::built_in();
        assert_eq!(m.reserve_asset("BTC", "BTC", "BTC"), "BTC");
        assert_eq!(m.reserve_asset("ETH USDT", "ETH", "USDT"), "USDT");
        assert_eq!(m.reserve_asset("USDT-ERC20", "USDT-ERC20", "usdt"), "USDT");
        assert_eq!(
            m.reserve_asset("ETH-OPTIMISM", "ETH-OPTIMISM", "ETH-OPTIMISM"),
            "ETH"
        );
        let btc = m.liability_unit("btc");
        assert_eq!(
            (btc.asset.as_str(), btc.amount_decimals, btc.price_decimals),
            ("BTC", 8, 8)
        );
        let doge = m.liability_unit("doge");
        assert_eq!((doge.amount_decimals, doge.price_decimals), (2, 14));
    }

    #[test]
    fn a_file_overrides_and_its_errors() {
        let text = "side,name,asset,amount_decimals,price_decimals\n# comment\nreserve,WBTC,BTC\nliability,doge,DOGE,8,8\nliability,usdt,USD-T,6,8\n";
        let m = Mapping::with_file(text, "map.csv").unwrap();
        assert_eq!(m.reserve_asset("ETH WBTC", "ETH", "WBTC"), "BTC");
        let doge = m.liability_unit("DOGE");
        assert_eq!(
            (doge.amount_decimals, doge.source.as_str()),
            (8, "map.csv line 4")
        );
        assert_eq!(m.liability_unit("usdt").asset, "USD-T");
        let e = Mapping::with_file("liability,btc,BTC,x,8\n", "map.csv")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "map.csv: line 1, amount_decimals: `x` is not a number of decimals (0 to 30)"
        );
        let e = Mapping::with_file("both,btc,BTC\n", "m")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`both` is neither"), "{e}");
    }
}
