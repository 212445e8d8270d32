//! Following an EVM chain: per block, the native balance of every reserve address (in
//! JSON-RPC batches), the block's ERC-20 `Transfer` logs of the followed token contracts
//! filtered by the reserve addresses (one `eth_getLogs`, not a `balanceOf` per address), and
//! the owners and threshold of each Safe whose own logs show a transaction in the block.

use super::ledger::{BlockUpdate, Ledger, SafeState, Transfer};
use crate::evm;
use crate::rpc::{Client, NodeError, RpcError};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// `keccak256("Transfer(address,address,uint256)")`.
pub const TRANSFER_TOPIC: &str =
    "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef";

/// What is followed on one EVM chain, and how it is asked.
#[derive(Debug, Clone)]
pub struct EvmFollower {
    /// The node.
    pub client: Client,
    /// Addresses whose native balance is followed (lower case).
    pub natives: Vec<String>,
    /// Token contracts (lower case) and their asset labels.
    pub tokens: BTreeMap<String, String>,
    /// Token holdings: (contract, holder, asset), all lower case but the asset.
    pub holders: Vec<(String, String, String)>,
    /// Safes (lower case).
    pub safes: Vec<String>,
    /// JSON-RPC calls per HTTP request.
    pub batch: usize,
    /// HTTP requests in flight.
    pub concurrency: usize,
}

fn garbage(client: &Client, detail: impl Into<String>) -> NodeError {
    NodeError::Garbage {
        endpoint: client.endpoint().into(),
        detail: detail.into(),
    }
}

/// An answer the follower cannot do without: the node's own error stops this try.
fn needed(client: &Client, what: &str, a: Result<Value, RpcError>) -> Result<Value, NodeError> {
    a.map_err(|e| garbage(client, format!("{what}: {e}")))
}

/// The 20-byte address in a 32-byte log topic (lower case `0x` hex).
pub fn topic_address(t: &Value) -> Result<String, String> {
    let s = t
        .as_str()
        .ok_or_else(|| format!("a topic that is not text: {t}"))?;
    let h = s.strip_prefix("0x").unwrap_or(s);
    if h.len() != 64
        || !h.bytes().all(|b| b.is_ascii_hexdigit())
        || h[..24].bytes().any(|b| b != b'0')
    {
        return Err(format!("topic `{s}` is not an address"));
    }
    Ok(format!("0x{}", h[24..].to_ascii_lowercase()))
}

/// The token transfers touching `followed` addresses, and the followed Safes that emitted a
/// log, in an `eth_getLogs` answer. Removed logs (a node's reorg notice) are skipped.
pub fn read_logs(
    logs: &Value,
    tokens: &BTreeMap<String, String>,
    safes: &BTreeSet<String>,
    followed: &dyn Fn(&str) -> bool,
) -> Result<(Vec<Transfer>, BTreeSet<String>), String> {
    let mut transfers = Vec::new();
    let mut touched = BTreeSet::new();
    for log in logs
        .as_array()
        .ok_or_else(|| format!("eth_getLogs did not answer a list: {logs}"))?
    {
        if log["removed"].as_bool() == Some(true) {
            continue;
        }
        let emitter = log["address"]
            .as_str()
            .ok_or_else(|| format!("a log without `address`: {log}"))?
            .to_ascii_lowercase();
        if safes.contains(&emitter) {
            touched.insert(emitter.clone());
        }
        let Some(asset) = tokens.get(&emitter) else {
            continue;
        };
        let topics = log["topics"]
            .as_array()
            .ok_or_else(|| format!("a log without `topics`: {log}"))?;
        // ERC-20's Transfer has two indexed addresses (ERC-721's has a third topic).
        if topics.len() != 3
            || topics[0].as_str().map(str::to_ascii_lowercase).as_deref() != Some(TRANSFER_TOPIC)
        {
            continue;
        }
        let from = topic_address(&topics[1])?;
        let to = topic_address(&topics[2])?;
        if !followed(&from) && !followed(&to) {
            continue;
        }
        transfers.push(Transfer {
            asset: asset.clone(),
            from,
            to,
            units: evm::decode_uint(&log["data"])?,
            tx: log["transactionHash"]
                .as_str()
                .ok_or_else(|| format!("a log without `transactionHash`: {log}"))?
                .to_ascii_lowercase(),
        });
    }
    Ok((transfers, touched))
}

impl EvmFollower {
    /// The node's tip height (`eth_blockNumber`).
    pub async fn tip(&self) -> Result<u64, NodeError> {
        let v = needed(
            &self.client,
            "eth_blockNumber",
            self.client.call("eth_blockNumber", json!([])).await?,
        )?;
        let q = evm::quantity(&v)
            .map_err(|d| garbage(&self.client, format!("eth_blockNumber: {d}")))?;
        u64::try_from(q).map_err(|_| garbage(&self.client, "eth_blockNumber beyond 2^64"))
    }

    /// The block at `height`: (hash, parent hash); `None` when the node has none there.
    pub async fn header(&self, height: u64) -> Result<Option<(String, String)>, NodeError> {
        let (m, p) = evm::block_request(height);
        let v = needed(&self.client, &m, self.client.call(&m, p).await?)?;
        self.parse_header(&v)
    }

    fn parse_header(&self, v: &Value) -> Result<Option<(String, String)>, NodeError> {
        let g = |d: String| garbage(&self.client, d);
        let Some(hash) = evm::block_hash_of(v).map_err(g)? else {
            return Ok(None);
        };
        let parent = evm::block_hash_of(&json!({"hash": v["parentHash"]}))
            .map_err(g)?
            .unwrap_or_default();
        Ok(Some((hash, parent)))
    }

    /// The hash of the block at `height`.
    pub async fn hash_at(&self, height: u64) -> Result<Option<String>, NodeError> {
        Ok(self.header(height).await?.map(|(h, _)| h))
    }

    /// `calls` in batches of `self.batch`, `self.concurrency` requests in flight: one answer
    /// per call, in order. (Owned chunks: the future is spawned on the runtime.)
    async fn ask(
        &self,
        calls: &[(String, Value)],
    ) -> Result<Vec<Result<Value, RpcError>>, NodeError> {
        use futures_util::stream::{self, StreamExt, TryStreamExt};
        let chunks: Vec<Vec<(String, Value)>> =
            calls.chunks(self.batch.max(1)).map(<[_]>::to_vec).collect();
        let requests = chunks.into_iter().map(|c| {
            let client = self.client.clone();
            async move { client.batch(&c).await }
        });
        let parts: Vec<Vec<_>> = stream::iter(requests)
            .buffered(self.concurrency.max(1))
            .try_collect()
            .await?;
        Ok(parts.into_iter().flatten().collect())
    }

    fn safe_calls(&self, safes: &[String], height: u64) -> Vec<(String, Value)> {
        safes
            .iter()
            .flat_map(|s| {
                [evm::GET_OWNERS, evm::GET_THRESHOLD].map(|sel| evm::call_request(s, sel, height))
            })
            .collect()
    }

    fn safe_states(
        &self,
        safes: &[String],
        answers: &[Result<Value, RpcError>],
    ) -> Result<Vec<(String, SafeState)>, NodeError> {
        safes
            .iter()
            .zip(answers.chunks(2))
            .map(|(s, a)| {
                let what = format!("Safe {s} getOwners()/getThreshold()");
                let owners = needed(&self.client, &what, a[0].clone())?;
                let threshold = needed(&self.client, &what, a[1].clone())?;
                let g = |d: String| garbage(&self.client, format!("{what}: {d}"));
                Ok((
                    s.clone(),
                    SafeState::new(
                        &evm::decode_address_array(&owners).map_err(g)?,
                        evm::decode_uint(&threshold).map_err(g)?,
                    ),
                ))
            })
            .collect()
    }

    /// Fills `ledger` with what the followed addresses hold at the anchor: native balances,
    /// token balances (`balanceOf`), Safes' owners and threshold.
    pub async fn load_anchor(
        &self,
        ledger: &mut Ledger,
        height: u64,
        wallets: &BTreeMap<String, String>,
    ) -> Result<(), NodeError> {
        let mut calls: Vec<(String, Value)> = self
            .natives
            .iter()
            .map(|a| evm::balance_request(a, height))
            .collect();
        for (token, holder, _) in &self.holders {
            calls.push(
                evm::token_balance_request(token, holder, height).map_err(NodeError::Config)?,
            );
        }
        calls.extend(self.safe_calls(&self.safes, height));
        let answers = self.ask(&calls).await?;
        let (natives, rest) = answers.split_at(self.natives.len());
        let (tokens, safes) = rest.split_at(self.holders.len());
        let native = ledger.native.clone();
        for (a, v) in self.natives.iter().zip(natives) {
            let v = needed(
                &self.client,
                &format!("balance of {a} at {height}"),
                v.clone(),
            )?;
            let units = evm::quantity(&v).map_err(|d| garbage(&self.client, d))?;
            ledger.hold(a, &native, units, wallets.get(a).map(String::as_str));
        }
        for ((token, holder, asset), v) in self.holders.iter().zip(tokens) {
            let what = format!("balanceOf({holder}) on {token} at {height}");
            let v = needed(&self.client, &what, v.clone())?;
            let units =
                evm::decode_uint(&v).map_err(|d| garbage(&self.client, format!("{what}: {d}")))?;
            ledger.hold(
                holder,
                asset,
                units,
                wallets.get(holder).map(String::as_str),
            );
        }
        for (s, state) in self.safe_states(&self.safes, safes)? {
            ledger.hold_safe(&s, state);
        }
        Ok(())
    }

    /// What the node says of the block at `height`; `None` when it has none there, or when
    /// the block at that height changed while it was being read (asked again next poll).
    pub async fn block(
        &self,
        height: u64,
        ledger: &Ledger,
    ) -> Result<Option<BlockUpdate>, NodeError> {
        let mut calls = vec![evm::block_request(height)];
        let contracts: Vec<&String> = self.tokens.keys().chain(&self.safes).collect();
        if !contracts.is_empty() {
            let tag = evm::block_tag(height);
            calls.push((
                "eth_getLogs".into(),
                json!([{"fromBlock": tag, "toBlock": tag, "address": contracts}]),
            ));
        }
        let first = calls.len();
        calls.extend(self.natives.iter().map(|a| evm::balance_request(a, height)));
        let answers = self.ask(&calls).await?;
        let head = needed(&self.client, "eth_getBlockByNumber", answers[0].clone())?;
        let Some((hash, parent)) = self.parse_header(&head)? else {
            return Ok(None);
        };
        let safes: BTreeSet<String> = self.safes.iter().cloned().collect();
        let (transfers, touched) = if contracts.is_empty() {
            Default::default()
        } else {
            let logs = needed(&self.client, "eth_getLogs", answers[1].clone())?;
            read_logs(&logs, &self.tokens, &safes, &|a| ledger.follows(a))
                .map_err(|d| garbage(&self.client, format!("eth_getLogs of block {height}: {d}")))?
        };
        let mut native = Vec::with_capacity(self.natives.len());
        for (a, v) in self.natives.iter().zip(&answers[first..]) {
            let v = needed(
                &self.client,
                &format!("balance of {a} at {height}"),
                v.clone(),
            )?;
            native.push((
                a.clone(),
                evm::quantity(&v).map_err(|d| garbage(&self.client, d))?,
            ));
        }
        // The Safes the block touched, re-read at it; and the block's hash again: a block
        // replaced while it was read is asked again.
        let touched: Vec<String> = touched.into_iter().collect();
        let mut tail = self.safe_calls(&touched, height);
        tail.push(evm::block_request(height));
        let answers = self.ask(&tail).await?;
        let again = needed(
            &self.client,
            "eth_getBlockByNumber",
            answers[answers.len() - 1].clone(),
        )?;
        if self.parse_header(&again)?.map(|(h, _)| h) != Some(hash.clone()) {
            return Ok(None);
        }
        let safes = self.safe_states(&touched, &answers[..answers.len() - 1])?;
        Ok(Some(BlockUpdate {
            height,
            hash,
            parent,
            native,
            transfers,
            safes,
            txs: Vec::new(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bigdecimal::num_bigint::BigInt;

    const TOKEN: &str = "0x5fbdb2315678afecb367f032d93f642f64180aa3";
    const SAFE: &str = "0xe7f1725e7734ce288f8367e1bb143e90bb3f0512";
    const A: &str = "0x9858effd232b4033e47d90003d41ec34ecaeda94";
    const B: &str = "0x6fac4d18c912343bf86fa7049364dd4e424ab9c0";

    fn topic(a: &str) -> String {
        format!("0x{:0>64}", a.trim_start_matches("0x"))
    }

    fn log(emitter: &str, topics: Vec<String>, data: String) -> Value {
        json!({"address": emitter, "topics": topics, "data": data, "transactionHash": format!("0x{}", "ab".repeat(32)), "removed": false})
    }

    #[test]
    fn transfer_logs_are_filtered_by_the_reserve_addresses() {
        let tokens: BTreeMap<String, String> = [(TOKEN.to_string(), "USDT".to_string())].into();
        let safes: BTreeSet<String> = [SAFE.to_string()].into();
        let amount = format!("0x{:064x}", 1_500_000u64);
        let logs = json!([
            log(
                &TOKEN.to_uppercase().replace("0X", "0x"),
                vec![TRANSFER_TOPIC.into(), topic(A), topic(B)],
                amount.clone()
            ),
            // Between two outsiders: not ours.
            log(
                TOKEN,
                vec![TRANSFER_TOPIC.into(), topic(B), topic(B)],
                amount.clone()
            ),
            // ERC-721 (a third indexed topic) and Approval: not transfers.
            log(
                TOKEN,
                vec![TRANSFER_TOPIC.into(), topic(A), topic(B), topic(B)],
                "0x".into()
            ),
            log(
                TOKEN,
                vec![format!("0x{}", "8c".repeat(32)), topic(A), topic(B)],
                amount.clone()
            ),
            // The Safe's own event: it is re-read.
            log(SAFE, vec![format!("0x{}", "44".repeat(32))], "0x".into()),
        ]);
        let (t, touched) = read_logs(&logs, &tokens, &safes, &|a| a == A).unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(
            (t[0].from.as_str(), t[0].to.as_str(), t[0].asset.as_str()),
            (A, B, "USDT")
        );
        assert_eq!(t[0].units, BigInt::from(1_500_000));
        assert_eq!(touched.into_iter().collect::<Vec<_>>(), [SAFE]);
        let mut removed = logs.clone();
        removed[0]["removed"] = json!(true);
        assert!(read_logs(&removed, &tokens, &safes, &|a| a == A)
            .unwrap()
            .0
            .is_empty());
        assert!(read_logs(&json!({}), &tokens, &safes, &|_| true).is_err());
        assert!(topic_address(&json!(format!("0x{}", "ff".repeat(32)))).is_err());
    }
}
