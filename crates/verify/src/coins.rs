//! A Bitcoin address's coins at the anchor (an entry's or an account address's `coins`),
//! checked offline: well-formed ids, created at or below the anchor, no coin twice, adding up
//! to the stated balance. A node proves them (`por-attest-reserves`).

use crate::balance::parse_balance;
use crate::chains::ChainFamily;
use crate::snapshot::Coin;

/// Checks `coins` of an address on `chain` stating `balance`, anchored at `anchor_height`;
/// the error names the field and the coin.
pub fn check_coins(
    coins: &[Coin],
    chain: &str,
    balance: Option<&str>,
    anchor_height: u64,
) -> Result<(), String> {
    if ChainFamily::of(chain) != Some(ChainFamily::Bitcoin) {
        return Err("field `coins`: only Bitcoin addresses list coins".into());
    }
    let hex64 = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
    let mut seen = std::collections::BTreeSet::new();
    let mut total: u128 = 0;
    for (i, c) in coins.iter().enumerate() {
        let bad = |what: &str| Err(format!("field `coins` [{i}]: {what}"));
        if !hex64(&c.txid) {
            return bad("`txid` is not 64 hex digits");
        }
        if !hex64(&c.block_hash) {
            return bad("`block_hash` is not 64 hex digits");
        }
        if c.height > anchor_height {
            return bad(&format!(
                "created at height {}, after the anchor {anchor_height}",
                c.height
            ));
        }
        if let Some(s) = &c.spent {
            if !hex64(&s.txid) || !hex64(&s.block_hash) {
                return bad("`spent` needs a 64-hex `txid` and `block_hash`");
            }
        }
        if !seen.insert((c.txid.to_ascii_lowercase(), c.vout)) {
            return bad(&format!("{}:{} is listed twice", c.txid, c.vout));
        }
        total += u128::from(c.amount_sat);
    }
    if let Some(b) = balance {
        let stated = parse_balance(b, chain, Some(8)).map_err(|x| x.to_string())?;
        let summed = crate::balance::from_base_units(&bigdecimal::BigDecimal::from(total), 8);
        if stated != summed {
            return Err(format!(
                "field `coins`: the coins add up to {} BTC, the balance states {b}",
                crate::balance::plain(&summed)
            ));
        }
    }
    Ok(())
}
