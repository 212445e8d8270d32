//! The Bitcoin block walk shared by `watch` and `verify --node`: the node's tip, the hash of
//! the main-chain block at a height, and a whole block's transactions (their inputs and the
//! addresses their outputs pay), from Bitcoin Core (`getblockcount`, `getblockhash`,
//! `getblock HASH 2`) or Esplora (`/blocks/tip/height`, `/block-height/H`, `/block/HASH`,
//! `/block/HASH/txs/START`, 25 transactions a page).
//!
//! Parsing is pure ([`core_block`], [`esplora_block_head`], [`esplora_txs`]); the fetching
//! functions only send the requests.

use crate::bitcoin::{parse_block_hash, sat_of_btc, BlockFacts};
use crate::endpoints::NodeKind;
use crate::rpc::{Client, NodeError};
use crate::watch::ledger::BtcTx;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// A block: its height, hash, parent and transactions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BtcBlock {
    /// Its height.
    pub height: u64,
    /// Its hash.
    pub hash: String,
    /// Its parent's hash (empty for the genesis block).
    pub parent: String,
    /// Its transactions, in order.
    pub txs: Vec<BtcTx>,
}

fn garbage(client: &Client, detail: impl Into<String>) -> NodeError {
    NodeError::Garbage {
        endpoint: client.endpoint().into(),
        detail: detail.into(),
    }
}

/// A txid as both backends write it (lower case).
fn txid(v: &Value) -> Result<String, String> {
    parse_block_hash(v).map_err(|_| format!("`{v}` is not a txid (64 hex digits)"))
}

fn inputs(tx: &Value, coinbase: impl Fn(&Value) -> bool) -> Result<Vec<(String, u32)>, String> {
    let mut out = Vec::new();
    for i in tx["vin"]
        .as_array()
        .ok_or_else(|| format!("a transaction without `vin`: {tx}"))?
    {
        if coinbase(i) {
            continue;
        }
        let vout = i["vout"]
            .as_u64()
            .and_then(|v| u32::try_from(v).ok())
            .ok_or_else(|| format!("an input without `vout`: {i}"))?;
        out.push((txid(&i["txid"])?, vout));
    }
    Ok(out)
}

/// A Bitcoin Core `getblock HASH 2` answer.
pub fn core_block(b: &Value) -> Result<BtcBlock, String> {
    let mut txs = Vec::new();
    for tx in b["tx"]
        .as_array()
        .ok_or_else(|| format!("a block without `tx` (asked with verbosity 2?): {b}"))?
    {
        let mut outputs = Vec::new();
        for (n, o) in tx["vout"]
            .as_array()
            .ok_or_else(|| format!("a transaction without `vout`: {tx}"))?
            .iter()
            .enumerate()
        {
            if o["n"].as_u64() != Some(n as u64) {
                return Err(format!(
                    "output {n} of {} is numbered {}",
                    tx["txid"], o["n"]
                ));
            }
            let address = o["scriptPubKey"]["address"].as_str().map(str::to_string);
            outputs.push((address, sat_of_btc(&o["value"])?));
        }
        txs.push(BtcTx {
            txid: txid(&tx["txid"])?,
            inputs: inputs(tx, |i| i.get("coinbase").is_some())?,
            outputs,
        });
    }
    Ok(BtcBlock {
        height: b["height"]
            .as_u64()
            .ok_or_else(|| format!("a block without `height`: {b}"))?,
        hash: parse_block_hash(&b["hash"])?,
        parent: match b.get("previousblockhash") {
            Some(p) => parse_block_hash(p)?,
            None => String::new(),
        },
        txs,
    })
}

/// An Esplora `GET /block/HASH` answer: (height, hash, parent, number of transactions).
pub fn esplora_block_head(b: &Value) -> Result<(u64, String, String, u64), String> {
    Ok((
        b["height"]
            .as_u64()
            .ok_or_else(|| format!("a block without `height`: {b}"))?,
        parse_block_hash(&b["id"])?,
        match b.get("previousblockhash") {
            Some(Value::Null) | None => String::new(),
            Some(p) => parse_block_hash(p)?,
        },
        b["tx_count"]
            .as_u64()
            .ok_or_else(|| format!("a block without `tx_count`: {b}"))?,
    ))
}

/// An Esplora `GET /block/HASH/txs/START` page.
pub fn esplora_txs(page: &Value) -> Result<Vec<BtcTx>, String> {
    page.as_array()
        .ok_or_else(|| format!("a page of transactions that is not a list: {page}"))?
        .iter()
        .map(|tx| {
            let outputs = tx["vout"]
                .as_array()
                .ok_or_else(|| format!("a transaction without `vout`: {tx}"))?
                .iter()
                .map(|o| {
                    let sat = o["value"]
                        .as_u64()
                        .ok_or_else(|| format!("an output without an integer `value`: {o}"))?;
                    Ok((o["scriptpubkey_address"].as_str().map(str::to_string), sat))
                })
                .collect::<Result<Vec<_>, String>>()?;
            Ok(BtcTx {
                txid: txid(&tx["txid"])?,
                inputs: inputs(tx, |i| i["is_coinbase"].as_bool() == Some(true))?,
                outputs,
            })
        })
        .collect()
}

/// The node's tip height.
pub async fn tip_height(kind: NodeKind, client: &Client) -> Result<u64, NodeError> {
    match kind {
        NodeKind::Esplora => {
            let t = client
                .get("blocks/tip/height")
                .await?
                .ok_or_else(|| garbage(client, "GET blocks/tip/height: not found"))?;
            t.trim().parse().map_err(|_| {
                garbage(
                    client,
                    format!("GET blocks/tip/height: `{t}` is not a height"),
                )
            })
        }
        _ => match client.call("getblockcount", json!([])).await? {
            Ok(v) => v
                .as_u64()
                .ok_or_else(|| garbage(client, format!("getblockcount: {v}"))),
            Err(e) => Err(garbage(client, format!("getblockcount: {e}"))),
        },
    }
}

/// The block `hash` with its transactions; `None` when the node does not know it.
pub async fn block(
    kind: NodeKind,
    client: &Client,
    hash: &str,
) -> Result<Option<BtcBlock>, NodeError> {
    let g = |d: String| garbage(client, format!("block {hash}: {d}"));
    match kind {
        NodeKind::Esplora => {
            let Some(head) = client.get(&format!("block/{hash}")).await? else {
                return Ok(None);
            };
            let head: Value =
                serde_json::from_str(&head).map_err(|e| g(format!("not JSON: {e}")))?;
            let (height, id, parent, count) = esplora_block_head(&head).map_err(g)?;
            let mut txs = Vec::new();
            let mut start = 0;
            while start < count {
                let page = client
                    .get(&format!("block/{hash}/txs/{start}"))
                    .await?
                    .ok_or_else(|| g(format!("transactions from {start}: not found")))?;
                let page: Value =
                    serde_json::from_str(&page).map_err(|e| g(format!("not JSON: {e}")))?;
                let got = esplora_txs(&page).map_err(g)?;
                if got.is_empty() {
                    return Err(g(format!(
                        "an empty page at {start} of {count} transactions"
                    )));
                }
                start += got.len() as u64;
                txs.extend(got);
            }
            Ok(Some(BtcBlock {
                height,
                hash: id,
                parent,
                txs,
            }))
        }
        _ => match client.call("getblock", json!([hash, 2])).await? {
            Ok(v) => core_block(&v).map(Some).map_err(g),
            Err(e) if e.0.contains("not found") => Ok(None),
            Err(e) => Err(g(e.0)),
        },
    }
}

/// What an input spent, as the node tells it with the block (Bitcoin Core's `getblock HASH 3`
/// `prevout`, Esplora's `vin[].prevout`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prevout {
    /// The output script, hex.
    pub script: String,
    /// Satoshis.
    pub sat: u64,
    /// The height of the block that created it (Bitcoin Core says; Esplora does not).
    pub height: Option<u64>,
}

/// A transaction with its inputs' prevouts and its outputs' scripts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UndoTx {
    /// Its id.
    pub txid: String,
    /// The outputs it spends, with what they were (none for a coinbase).
    pub inputs: Vec<((String, u32), Prevout)>,
    /// Its outputs: script (hex) and satoshis, by index.
    pub outputs: Vec<(String, u64)>,
}

/// A block with what undoing it needs: height, hash, parent and [`UndoTx`]s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UndoBlock {
    /// Its height.
    pub height: u64,
    /// Its hash.
    pub hash: String,
    /// Its parent's hash.
    pub parent: String,
    /// Its transactions.
    pub txs: Vec<UndoTx>,
}

fn script_hex(v: &Value) -> Result<String, String> {
    let s = v
        .as_str()
        .ok_or_else(|| format!("a script that is not hex text: {v}"))?;
    hex::decode(s).map_err(|e| format!("script `{s}` is not hex: {e}"))?;
    Ok(s.to_ascii_lowercase())
}

/// One transaction of a Bitcoin Core `getblock HASH 3` answer, or of an Esplora page (`core`
/// false).
pub fn undo_tx(tx: &Value, core: bool) -> Result<UndoTx, String> {
    let mut inputs = Vec::new();
    for i in tx["vin"]
        .as_array()
        .ok_or_else(|| format!("a transaction without `vin`: {tx}"))?
    {
        if i.get("coinbase").is_some() || i["is_coinbase"].as_bool() == Some(true) {
            continue;
        }
        let vout = i["vout"]
            .as_u64()
            .and_then(|v| u32::try_from(v).ok())
            .ok_or_else(|| format!("an input without `vout`: {i}"))?;
        let p = &i["prevout"];
        let prevout = if core {
            Prevout {
                script: script_hex(&p["scriptPubKey"]["hex"])?,
                sat: sat_of_btc(&p["value"])?,
                height: Some(p["height"].as_u64().ok_or_else(|| format!("a prevout without `height` (getblock verbosity 3 needs Bitcoin Core 23 or later): {i}"))?),
            }
        } else {
            Prevout {
                script: script_hex(&p["scriptpubkey"])?,
                sat: p["value"]
                    .as_u64()
                    .ok_or_else(|| format!("a prevout without an integer `value`: {i}"))?,
                height: None,
            }
        };
        inputs.push(((txid(&i["txid"])?, vout), prevout));
    }
    let outputs = tx["vout"]
        .as_array()
        .ok_or_else(|| format!("a transaction without `vout`: {tx}"))?
        .iter()
        .map(|o| {
            Ok(if core {
                (
                    script_hex(&o["scriptPubKey"]["hex"])?,
                    sat_of_btc(&o["value"])?,
                )
            } else {
                let sat = o["value"]
                    .as_u64()
                    .ok_or_else(|| format!("an output without an integer `value`: {o}"))?;
                (script_hex(&o["scriptpubkey"])?, sat)
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(UndoTx {
        txid: txid(&tx["txid"])?,
        inputs,
        outputs,
    })
}

/// The block `hash` with its inputs' prevouts (Bitcoin Core `getblock HASH 3`, Esplora's
/// block pages); `None` when the node does not know it.
pub async fn undo_block(
    kind: NodeKind,
    client: &Client,
    hash: &str,
) -> Result<Option<UndoBlock>, NodeError> {
    let g = |d: String| garbage(client, format!("block {hash}: {d}"));
    match kind {
        NodeKind::Esplora => {
            let Some(head) = client.get(&format!("block/{hash}")).await? else {
                return Ok(None);
            };
            let head: Value =
                serde_json::from_str(&head).map_err(|e| g(format!("not JSON: {e}")))?;
            let (height, id, parent, count) = esplora_block_head(&head).map_err(g)?;
            let mut txs = Vec::new();
            while (txs.len() as u64) < count {
                let start = txs.len();
                let page = client
                    .get(&format!("block/{hash}/txs/{start}"))
                    .await?
                    .ok_or_else(|| g(format!("transactions from {start}: not found")))?;
                let page: Value =
                    serde_json::from_str(&page).map_err(|e| g(format!("not JSON: {e}")))?;
                let list = page
                    .as_array()
                    .ok_or_else(|| g("a page that is not a list".into()))?;
                if list.is_empty() {
                    return Err(g(format!(
                        "an empty page at {start} of {count} transactions"
                    )));
                }
                for tx in list {
                    txs.push(undo_tx(tx, false).map_err(g)?);
                }
            }
            Ok(Some(UndoBlock {
                height,
                hash: id,
                parent,
                txs,
            }))
        }
        _ => match client.call("getblock", json!([hash, 3])).await? {
            Ok(b) => {
                let txs = b["tx"]
                    .as_array()
                    .ok_or_else(|| g(format!("a block without `tx`: {b}")))?
                    .iter()
                    .map(|t| undo_tx(t, true))
                    .collect::<Result<Vec<_>, String>>()
                    .map_err(g)?;
                let height = b["height"]
                    .as_u64()
                    .ok_or_else(|| g(format!("a block without `height`: {b}")))?;
                let parent = match b.get("previousblockhash") {
                    Some(p) => parse_block_hash(p).map_err(g)?,
                    None => String::new(),
                };
                Ok(Some(UndoBlock {
                    height,
                    hash: parse_block_hash(&b["hash"]).map_err(g)?,
                    parent,
                    txs,
                }))
            }
            Err(e) if e.0.contains("not found") => Ok(None),
            Err(e) => Err(g(e.0)),
        },
    }
}

/// Walks the main-chain blocks from `from` up to the node's tip for the transactions that
/// spend `outpoints` (txids lower case): each one found, with the spending transaction and its
/// block. Stops early once every one is found.
pub async fn find_spends(
    kind: NodeKind,
    client: &Client,
    outpoints: &BTreeSet<(String, u32)>,
    from: u64,
) -> Result<BTreeMap<(String, u32), (String, BlockFacts)>, NodeError> {
    let mut found = BTreeMap::new();
    let tip = tip_height(kind, client).await?;
    for h in from..=tip {
        if found.len() == outpoints.len() {
            break;
        }
        let Some(b) = block_at(kind, client, h).await? else {
            break;
        };
        for tx in &b.txs {
            for i in &tx.inputs {
                if outpoints.contains(i) {
                    let at = BlockFacts {
                        hash: b.hash.clone(),
                        height: b.height,
                        main_chain: true,
                    };
                    found.insert(i.clone(), (tx.txid.clone(), at));
                }
            }
        }
    }
    Ok(found)
}

/// The main-chain block at `height` with its transactions; `None` beyond the tip.
pub async fn block_at(
    kind: NodeKind,
    client: &Client,
    height: u64,
) -> Result<Option<BtcBlock>, NodeError> {
    let Some(hash) = crate::bitcoin::block_hash(kind, client, height).await? else {
        return Ok(None);
    };
    block(kind, client, &hash).await
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "00000000000000000001c5f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6e5f";
    const P: &str = "1111111111111111111111111111111111111111111111111111111111111111";
    const TX: &str = "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b";

    #[test]
    fn a_core_block_with_a_coinbase_and_a_spend() {
        let b = json!({"hash": H, "height": 901, "previousblockhash": P, "confirmations": 1,
        "tx": [
            {"txid": TX, "vin": [{"coinbase": "03aa", "sequence": 1}],
             "vout": [{"value": 3.125, "n": 0, "scriptPubKey": {"address": "bc1qminer"}}]},
            {"txid": P, "vin": [{"txid": TX, "vout": 0}],
             "vout": [{"value": 0.5, "n": 0, "scriptPubKey": {"address": "bc1qa"}},
                      {"value": 0.0, "n": 1, "scriptPubKey": {"type": "nulldata"}}]}
        ]});
        let got = core_block(&b).unwrap();
        assert_eq!(
            (got.height, got.hash.as_str(), got.parent.as_str()),
            (901, H, P)
        );
        assert!(got.txs[0].inputs.is_empty());
        assert_eq!(got.txs[1].inputs, [(TX.to_string(), 0)]);
        assert_eq!(
            got.txs[1].outputs,
            [(Some("bc1qa".into()), 50_000_000), (None, 0)]
        );
        assert!(core_block(&json!({"hash": H, "height": 1, "tx": [TX]})).is_err());
    }

    #[test]
    fn esplora_pages() {
        let head = json!({"id": H, "height": 5, "previousblockhash": P, "tx_count": 30});
        assert_eq!(
            esplora_block_head(&head).unwrap(),
            (5, H.into(), P.into(), 30)
        );
        let page = json!([{"txid": TX, "vin": [{"txid": P, "vout": 2, "is_coinbase": false}],
            "vout": [{"scriptpubkey_address": "bc1qa", "value": 7}, {"value": 0}]}]);
        let t = esplora_txs(&page).unwrap();
        assert_eq!(t[0].inputs, [(P.to_string(), 2)]);
        assert_eq!(t[0].outputs, [(Some("bc1qa".into()), 7), (None, 0)]);
        assert!(esplora_txs(&json!({})).is_err());
    }
}
