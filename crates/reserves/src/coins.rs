//! The custody team's side of Bitcoin balances: the coins (unspent outputs) each reserve
//! address holds at the anchor, read from the team's own node, for `package --coins`.
//!
//! A plain Bitcoin Core node answers "what does this address hold" with `scantxoutset`
//! (the UTXO set, no address index needed), and Esplora with `GET /address/:a/utxo`. Both
//! answer for the node's current tip, not for a past block: a scan at the anchor block itself
//! (same height, same hash) is taken as it is. When the tip is past the anchor, the blocks from the tip back to the anchor are undone
//! (the shared block walk, [`crate::blocks::undo_block`]: Bitcoin Core's `getblock HASH 3`,
//! Esplora's block pages, both with each input's prevout): a coin of the addresses created in
//! them is taken out, one they spent is put back with its spend recorded (`spent`), and the
//! block reached at the anchor's height must be the anchor block.

use crate::bitcoin::{parse_block_hash, sat_of_btc};
use crate::endpoints::{Endpoint, NodeKind};
use crate::rpc::{Client, NodeError, Policy, RpcError};
use por_attest_verify::snapshot::{Anchor, Coin};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The coins each address holds, by address (what `package --coins` reads).
pub type CoinsByAddress = BTreeMap<String, Vec<Coin>>;

/// Reads the coins of `addresses` from `endpoint` (Bitcoin Core or Esplora) at `anchor`,
/// which must be the node's tip. Every address gets an entry (empty when it holds nothing).
pub fn coins_at_anchor(
    endpoint: &Endpoint,
    addresses: &[String],
    anchor: &Anchor,
    policy: Policy,
) -> Result<CoinsByAddress, NodeError> {
    let client = Client::new(&endpoint.url, endpoint.auth.clone(), policy)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| NodeError::Config(format!("cannot start the async runtime: {e}")))?;
    rt.block_on(async {
        match endpoint.kind {
            NodeKind::BitcoinCore => core_coins(&client, addresses, anchor).await,
            NodeKind::Esplora => esplora_coins(&client, addresses, anchor).await,
            NodeKind::Evm => Err(NodeError::Config(format!(
                "node {}: coins are read from a Bitcoin Core or Esplora endpoint, not an EVM node",
                client.endpoint()
            ))),
        }
    })
}

fn not_at_anchor(client: &Client, detail: String) -> NodeError {
    NodeError::NotAtAnchor {
        endpoint: client.endpoint().to_string(),
        detail,
    }
}

fn garbage(client: &Client, detail: impl Into<String>) -> NodeError {
    NodeError::Garbage {
        endpoint: client.endpoint().to_string(),
        detail: detail.into(),
    }
}

/// A scan at or below the anchor's height must be of the anchor block itself: the tip's height
/// and hash (a tip past the anchor is walked back instead).
pub fn check_tip(height: u64, hash: &str, anchor: &Anchor) -> Result<(), String> {
    let stated = anchor.block_hash.trim().to_ascii_lowercase();
    if height != anchor.height || hash != stated {
        return Err(format!(
            "the node's tip is block {hash} at height {height}, not the anchor {stated} at \
             height {}: the coins are read at the anchor, or at a tip past it whose blocks are \
             undone back to it; let the node reach the anchor, or give the coins in a file",
            anchor.height
        ));
    }
    Ok(())
}

/// A txid as both backends write it.
fn txid_of(v: &Value) -> Result<String, String> {
    let s = v
        .as_str()
        .ok_or_else(|| format!("expected a txid, got {v}"))?;
    if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("`{s}` is not a txid (64 hex digits)"));
    }
    Ok(s.to_ascii_lowercase())
}

fn vout_of(v: &Value) -> Result<u32, String> {
    v.as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| format!("expected an output index, got {v}"))
}

/// The output script (hex) of each address, to tell which address a scanned coin pays.
pub fn scripts_of(addresses: &[String]) -> Result<BTreeMap<String, String>, String> {
    addresses
        .iter()
        .map(|a| {
            let parsed: bitcoin::Address<bitcoin::address::NetworkUnchecked> = a
                .parse()
                .map_err(|e| format!("address {a} does not parse: {e}"))?;
            let script = parsed.assume_checked_ref().script_pubkey();
            Ok((hex::encode(script.as_bytes()), a.clone()))
        })
        .collect()
}

/// One unspent of a Bitcoin Core `scantxoutset start` answer: its output script (hex), and
/// the coin; `block_hash` is empty for nodes before the field (Core 25), to be asked with
/// `getblockhash` (the flag says whether it was given).
pub fn core_unspent(u: &Value) -> Result<(String, Coin, bool), String> {
    let script = u["scriptPubKey"]
        .as_str()
        .ok_or_else(|| format!("an unspent without `scriptPubKey`: {u}"))?
        .to_ascii_lowercase();
    let height = u["height"]
        .as_u64()
        .ok_or_else(|| format!("an unspent without `height`: {u}"))?;
    let (block_hash, known) = match u.get("blockhash") {
        Some(h) => (parse_block_hash(h)?, true),
        None => (String::new(), false),
    };
    let coin = Coin {
        txid: txid_of(&u["txid"])?,
        vout: vout_of(&u["vout"])?,
        amount_sat: sat_of_btc(&u["amount"])?,
        height,
        block_hash,
        spent: None,
    };
    Ok((script, coin, known))
}

/// The tip a completed Bitcoin Core `scantxoutset start` answer was taken at: (height, hash).
pub fn scan_tip(answer: &Value) -> Result<(u64, String), String> {
    if answer["success"].as_bool() != Some(true) {
        return Err(format!("the scan did not complete: {answer}"));
    }
    let height = answer["height"]
        .as_u64()
        .ok_or_else(|| format!("a scan without `height`: {answer}"))?;
    Ok((height, parse_block_hash(&answer["bestblock"])?))
}

/// A Bitcoin Core `scantxoutset start` answer taken at the anchor ([`scan_tip`],
/// [`check_tip`]): the coins by address, each created at or below the anchor and paying one of
/// the addresses asked; and whether every coin came with its block hash.
pub fn core_scan(
    answer: &Value,
    addresses: &[String],
    anchor: &Anchor,
) -> Result<(CoinsByAddress, bool), String> {
    let scripts = scripts_of(addresses)?;
    let mut out: CoinsByAddress = addresses.iter().map(|a| (a.clone(), Vec::new())).collect();
    let mut all_hashes = true;
    for u in answer["unspents"]
        .as_array()
        .ok_or_else(|| format!("a scan without `unspents`: {answer}"))?
    {
        let (script, coin, known) = core_unspent(u)?;
        if coin.height > anchor.height {
            return Err(format!(
                "the scan lists {}:{} created at height {}, after its own height {}",
                coin.txid, coin.vout, coin.height, anchor.height
            ));
        }
        all_hashes &= known;
        let address = scripts.get(&script).ok_or_else(|| {
            format!("the scan found a coin paying script {script}, which no address asked has")
        })?;
        out.get_mut(address)
            .expect("every address has an entry")
            .push(coin);
    }
    Ok((out, all_hashes))
}

async fn core_coins(
    client: &Client,
    addresses: &[String],
    anchor: &Anchor,
) -> Result<CoinsByAddress, NodeError> {
    let descriptors: Vec<String> = addresses.iter().map(|a| format!("addr({a})")).collect();
    let answer = match client
        .call("scantxoutset", json!(["start", descriptors]))
        .await?
    {
        Ok(v) => v,
        Err(RpcError(m)) => return Err(garbage(client, format!("scantxoutset: {m}"))),
    };
    let (height, tip) = scan_tip(&answer).map_err(|d| garbage(client, d))?;
    let at_tip = Anchor {
        height,
        block_hash: tip.clone(),
    };
    if height <= anchor.height {
        check_tip(height, &tip, anchor).map_err(|d| not_at_anchor(client, d))?;
    }
    let (mut coins, all_hashes) =
        core_scan(&answer, addresses, &at_tip).map_err(|d| garbage(client, d))?;
    if height > anchor.height {
        rewind(
            NodeKind::BitcoinCore,
            client,
            &mut coins,
            addresses,
            &tip,
            anchor,
        )
        .await?;
    }
    if !all_hashes || coins.values().flatten().any(|c| c.block_hash.is_empty()) {
        // An older node, or coins put back by the rewind: each creating block's hash by its
        // height, in one batch.
        let heights: Vec<u64> = {
            let mut h: Vec<u64> = coins
                .values()
                .flatten()
                .filter(|c| c.block_hash.is_empty())
                .map(|c| c.height)
                .collect();
            h.sort_unstable();
            h.dedup();
            h
        };
        let calls: Vec<(String, Value)> = heights
            .iter()
            .map(|h| ("getblockhash".to_string(), json!([h])))
            .collect();
        let mut hashes = BTreeMap::new();
        for (h, a) in heights.iter().zip(client.batch(&calls).await?) {
            let a = a.map_err(|e| garbage(client, format!("getblockhash {h}: {}", e.0)))?;
            hashes.insert(*h, parse_block_hash(&a).map_err(|d| garbage(client, d))?);
        }
        for c in coins.values_mut().flatten() {
            if c.block_hash.is_empty() {
                c.block_hash = hashes[&c.height].clone();
            }
        }
    }
    sort(&mut coins);
    Ok(coins)
}

/// One coin of an Esplora `GET /address/:a/utxo` answer; unconfirmed ones are `None`.
pub fn esplora_utxo(u: &Value) -> Result<Option<Coin>, String> {
    let status = &u["status"];
    if status["confirmed"].as_bool() != Some(true) {
        return Ok(None);
    }
    Ok(Some(Coin {
        txid: txid_of(&u["txid"])?,
        vout: vout_of(&u["vout"])?,
        amount_sat: u["value"]
            .as_u64()
            .ok_or_else(|| format!("a coin without a `value` in satoshis: {u}"))?,
        height: status["block_height"]
            .as_u64()
            .ok_or_else(|| format!("a confirmed coin without `block_height`: {u}"))?,
        block_hash: parse_block_hash(&status["block_hash"])?,
        spent: None,
    }))
}

async fn esplora_coins(
    client: &Client,
    addresses: &[String],
    anchor: &Anchor,
) -> Result<CoinsByAddress, NodeError> {
    let text = |path: &'static str| async move {
        client
            .get(path)
            .await?
            .ok_or_else(|| garbage(client, format!("GET {path}: not found")))
    };
    let tip_height: u64 = text("blocks/tip/height")
        .await?
        .trim()
        .parse()
        .map_err(|_| garbage(client, "GET blocks/tip/height: not a height"))?;
    let tip = parse_block_hash(&Value::String(text("blocks/tip/hash").await?))
        .map_err(|d| garbage(client, d))?;
    if tip_height <= anchor.height {
        check_tip(tip_height, &tip, anchor).map_err(|d| not_at_anchor(client, d))?;
    }
    let mut out = CoinsByAddress::new();
    for a in addresses {
        let path = format!("address/{a}/utxo");
        let body = client
            .get(&path)
            .await?
            .ok_or_else(|| garbage(client, format!("GET {path}: not found")))?;
        let list: Value = serde_json::from_str(&body)
            .map_err(|e| garbage(client, format!("GET {path}: not JSON: {e}")))?;
        let mut coins = Vec::new();
        for u in list
            .as_array()
            .ok_or_else(|| garbage(client, format!("GET {path}: not a list")))?
        {
            if let Some(c) = esplora_utxo(u).map_err(|d| garbage(client, format!("{path}: {d}")))? {
                coins.push(c);
            }
        }
        out.insert(a.clone(), coins);
    }
    // The tip may have moved while the addresses were read.
    let after = parse_block_hash(&Value::String(text("blocks/tip/hash").await?))
        .map_err(|d| garbage(client, d))?;
    let scanned = Anchor {
        height: tip_height,
        block_hash: tip.clone(),
    };
    check_tip(tip_height, &after, &scanned).map_err(|d| {
        not_at_anchor(
            client,
            format!("while reading the coins, the tip moved: {d}"),
        )
    })?;
    if tip_height > anchor.height {
        rewind(NodeKind::Esplora, client, &mut out, addresses, &tip, anchor).await?;
        // Esplora's prevouts carry no height: the coins put back are asked for theirs.
        for c in out
            .values_mut()
            .flatten()
            .filter(|c| c.block_hash.is_empty())
        {
            let path = format!("tx/{}/status", c.txid);
            let body = client
                .get(&path)
                .await?
                .ok_or_else(|| garbage(client, format!("GET {path}: not found")))?;
            let status: Value = serde_json::from_str(&body)
                .map_err(|e| garbage(client, format!("GET {path}: not JSON: {e}")))?;
            let block = crate::bitcoin::esplora_status(&status)
                .map_err(|d| garbage(client, format!("{path}: {d}")))?
                .ok_or_else(|| {
                    garbage(
                        client,
                        format!("{path}: a spent coin's transaction is not confirmed"),
                    )
                })?;
            c.height = block.height;
            c.block_hash = block.hash;
        }
    }
    sort(&mut out);
    Ok(out)
}

/// Takes the coins read at the tip `tip` back to `anchor`: each block from the tip down to the
/// anchor's child is undone (its coins of `addresses` taken out, the ones it spent put back
/// with the spend recorded), and the block reached at the anchor's height must be the anchor.
/// Coins put back from Esplora have no height yet (block hash empty).
async fn rewind(
    kind: NodeKind,
    client: &Client,
    coins: &mut CoinsByAddress,
    addresses: &[String],
    tip: &str,
    anchor: &Anchor,
) -> Result<(), NodeError> {
    let scripts = scripts_of(addresses).map_err(NodeError::Config)?;
    let mut held: BTreeMap<(String, u32), (String, Coin)> = coins
        .iter()
        .flat_map(|(a, list)| {
            list.iter()
                .map(move |c| ((c.txid.clone(), c.vout), (a.clone(), c.clone())))
        })
        .collect();
    let mut hash = tip.to_string();
    loop {
        let b = crate::blocks::undo_block(kind, client, &hash)
            .await?
            .ok_or_else(|| {
                garbage(
                    client,
                    format!("block {hash} (walking back to the anchor): not found"),
                )
            })?;
        if b.height <= anchor.height {
            let stated = anchor
                .block_hash
                .trim()
                .trim_start_matches("0x")
                .to_ascii_lowercase();
            if b.height != anchor.height || b.hash != stated {
                return Err(not_at_anchor(
                    client,
                    format!(
                        "walking back from the tip, the node's block at height {} is {}, not the anchor {stated}: the node's chain does not hold the anchor block",
                        b.height, b.hash
                    ),
                ));
            }
            break;
        }
        for tx in b.txs.iter().rev() {
            for (n, (script, _)) in tx.outputs.iter().enumerate() {
                if scripts.contains_key(script) {
                    held.remove(&(tx.txid.clone(), n as u32));
                }
            }
            for ((txid, vout), p) in &tx.inputs {
                if let Some(address) = scripts.get(&p.script) {
                    let coin = Coin {
                        txid: txid.clone(),
                        vout: *vout,
                        amount_sat: p.sat,
                        height: p.height.unwrap_or_default(),
                        block_hash: String::new(),
                        spent: Some(por_attest_verify::snapshot::Spend {
                            txid: tx.txid.clone(),
                            block_hash: b.hash.clone(),
                        }),
                    };
                    held.insert((txid.clone(), *vout), (address.clone(), coin));
                }
            }
        }
        hash = b.parent;
    }
    for list in coins.values_mut() {
        list.clear();
    }
    for (_, (address, coin)) in held {
        coins.entry(address).or_default().push(coin);
    }
    Ok(())
}

/// Coins in a stable order (height, txid, output), so the same UTXO set gives the same file.
fn sort(coins: &mut CoinsByAddress) {
    for list in coins.values_mut() {
        list.sort_by(|a, b| (a.height, &a.txid, a.vout).cmp(&(b.height, &b.txid, b.vout)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anchor() -> Anchor {
        Anchor {
            height: 870_000,
            block_hash: "00".repeat(31) + "aa",
        }
    }

    /// Bitcoin Core 29's documented answer shape.
    fn scan(unspents: Value) -> Value {
        json!({"success": true, "txouts": 180_000_000u64, "height": 870_000,
               "bestblock": "00".repeat(31) + "aa", "unspents": unspents,
               "total_amount": 0.5})
    }

    const A: &str = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4";
    const B: &str = "1KKLP5MNa9mmWnEziT5skyu7PZ8A4eFisB";

    fn unspent(address: &str, amount: f64, height: u64, hash: bool) -> Value {
        let script = scripts_of(&[address.to_string()])
            .unwrap()
            .into_keys()
            .next()
            .unwrap();
        let mut u = json!({"txid": "ab".repeat(32), "vout": 1, "scriptPubKey": script,
            "desc": format!("addr({address})#4n8j6y0a"), "amount": amount, "coinbase": false,
            "height": height, "confirmations": 870_001 - height});
        if hash {
            u["blockhash"] = json!("cd".repeat(32));
        }
        u
    }

    #[test]
    fn a_core_scan_at_the_anchor_gives_each_address_its_coins() {
        let asked = vec![A.to_string(), B.to_string()];
        let (coins, all) = core_scan(
            &scan(json!([unspent(A, 0.12345678, 869_990, true)])),
            &asked,
            &anchor(),
        )
        .unwrap();
        assert!(all);
        assert_eq!(coins[A][0].amount_sat, 12_345_678);
        assert_eq!(coins[A][0].block_hash, "cd".repeat(32));
        assert!(coins[B].is_empty(), "every address asked has an entry");
        // Before Core 25: no block hash, to be asked by height.
        let (_, all) =
            core_scan(&scan(json!([unspent(B, 1.0, 5, false)])), &asked, &anchor()).unwrap();
        assert!(!all);
    }

    #[test]
    fn a_scan_not_at_the_anchor_or_malformed_is_refused() {
        let asked = vec![A.to_string()];
        let at = |answer: &Value| {
            let (h, tip) = scan_tip(answer)?;
            check_tip(h, &tip, &anchor())
        };
        assert_eq!(at(&scan(json!([]))), Ok(()));
        let mut later = scan(json!([]));
        later["height"] = json!(870_001);
        let e = at(&later).unwrap_err();
        assert!(e.starts_with("the node's tip is block"), "{e}");
        assert!(e.contains("let the node reach the anchor"), "{e}");
        let mut other = scan(json!([]));
        other["bestblock"] = json!("ee".repeat(32));
        assert!(at(&other).is_err());
        let mut aborted = scan(json!([]));
        aborted["success"] = json!(false);
        assert!(at(&aborted)
            .unwrap_err()
            .starts_with("the scan did not complete"));
        let e = core_scan(&scan(json!([unspent(B, 1.0, 5, true)])), &asked, &anchor()).unwrap_err();
        assert!(
            e.starts_with("the scan found a coin paying script 76a914"),
            "{e}"
        );
        let e = core_scan(
            &scan(json!([unspent(A, 1.0, 870_001, true)])),
            &asked,
            &anchor(),
        )
        .unwrap_err();
        assert!(e.contains("after its own height 870000"), "{e}");
        let mut bad = unspent(A, 1.0, 5, true);
        bad["txid"] = json!("xyz");
        assert!(core_unspent(&bad).unwrap_err().contains("not a txid"));
    }

    #[test]
    fn esplora_utxos_confirmed_only() {
        let u = json!({"txid": "ab".repeat(32), "vout": 0, "value": 5000,
            "status": {"confirmed": true, "block_height": 100, "block_hash": "cd".repeat(32),
                       "block_time": 1}});
        let c = esplora_utxo(&u).unwrap().unwrap();
        assert_eq!((c.amount_sat, c.height), (5000, 100));
        let pending = json!({"txid": "ab".repeat(32), "vout": 0, "value": 5000,
            "status": {"confirmed": false}});
        assert_eq!(esplora_utxo(&pending).unwrap(), None);
        let mut bad = u.clone();
        bad["value"] = json!(0.5);
        assert!(esplora_utxo(&bad).unwrap_err().contains("satoshis"));
    }
}
