//! Bitcoin at the anchor, on a plain Bitcoin Core node (no address index, no txindex) or an
//! Esplora REST endpoint.
//!
//! A node without an address index cannot say what an address holds, so the snapshot lists
//! each Bitcoin address's coins at the anchor (`docs/snapshot-format.md`, field `coins`), and
//! each coin is proven on its own:
//! * it exists: Bitcoin Core `getrawtransaction TXID true BLOCKHASH` (no txindex needed when the
//!   block is given), Esplora `GET /tx/TXID`: the output pays the address the stated amount;
//! * its block is in the main chain at the stated height, at or below the anchor
//!   (`getblockheader BLOCKHASH`: `height`, `confirmations` ≥ 1; Esplora's `status`);
//! * it was unspent at the anchor: still unspent (`gettxout TXID VOUT false` answers), or spent
//!   by the transaction the snapshot records, found in a main-chain block after the anchor
//!   (`getrawtransaction` of it in its block, one of its inputs is the coin; Esplora:
//!   `GET /tx/TXID/outspend/VOUT`).
//!
//! The address's balance at the anchor is then the sum of its proven coins. What the node
//! cannot answer (a pruned block) leaves the address "not checked on chain".

use crate::endpoints::NodeKind;
use crate::rpc::{Client, NodeError, RpcError};
use bigdecimal::BigDecimal;
use por_attest_verify::claim::{Claim, OnchainOutcome};
use por_attest_verify::report::Report;
use por_attest_verify::snapshot::Coin;
use serde_json::{json, Value};

fn garbage(client: &Client, detail: impl Into<String>) -> NodeError {
    NodeError::Garbage {
        endpoint: client.endpoint().into(),
        detail: detail.into(),
    }
}

/// A block hash as both backends write it: 64 hex digits.
pub fn parse_block_hash(v: &Value) -> Result<String, String> {
    let s = v
        .as_str()
        .ok_or_else(|| format!("expected a block hash, got {v}"))?
        .trim();
    if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("`{s}` is not a block hash (64 hex digits)"));
    }
    Ok(s.to_ascii_lowercase())
}

/// The hash of the main-chain block at `height`; `None` when the node has none there.
/// Bitcoin Core: `getblockhash HEIGHT` (error -8 "Block height out of range" beyond the tip).
/// Esplora: `GET /block-height/HEIGHT` (404 beyond the tip).
pub async fn block_hash(
    kind: NodeKind,
    client: &Client,
    height: u64,
) -> Result<Option<String>, NodeError> {
    match kind {
        NodeKind::Esplora => match client.get(&format!("block-height/{height}")).await? {
            None => Ok(None),
            Some(text) => parse_block_hash(&Value::String(text))
                .map(Some)
                .map_err(|d| garbage(client, d)),
        },
        _ => match client.call("getblockhash", json!([height])).await? {
            Ok(v) => parse_block_hash(&v)
                .map(Some)
                .map_err(|d| garbage(client, d)),
            Err(e) if e.0.contains("out of range") => Ok(None),
            Err(e) => Err(garbage(client, format!("getblockhash {height}: {e}"))),
        },
    }
}

/// The block a transaction is in, as a node says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockFacts {
    /// Its hash.
    pub hash: String,
    /// Its height.
    pub height: u64,
    /// In the node's main chain.
    pub main_chain: bool,
}

/// What a node says of one coin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoinFacts {
    /// The output: the address it pays (when standard) and its amount in satoshis; `None`
    /// when the transaction has no such output (or is not in the stated block).
    pub output: Option<(Option<String>, u64)>,
    /// The block that created it.
    pub created_in: Option<BlockFacts>,
    /// Unspent in the node's chain now.
    pub unspent_now: bool,
    /// How it was spent, when it was: does the spending transaction spend it, and its block.
    pub spend: Option<(bool, Option<BlockFacts>)>,
}

/// Satoshis of a Bitcoin Core `value` (BTC as a JSON number with at most 8 decimals).
pub fn sat_of_btc(v: &Value) -> Result<u64, String> {
    let f = v
        .as_f64()
        .ok_or_else(|| format!("expected an amount in BTC, got {v}"))?;
    let sat = (f * 1e8).round();
    if !(0.0..=21e14).contains(&sat) {
        return Err(format!("amount {v} is out of range"));
    }
    Ok(sat as u64)
}

/// Output `vout` of a Bitcoin Core verbose transaction: (address, satoshis).
pub fn core_output(tx: &Value, vout: u32) -> Result<Option<(Option<String>, u64)>, String> {
    let outs = tx["vout"]
        .as_array()
        .ok_or_else(|| format!("a transaction without `vout`: {tx}"))?;
    let Some(o) = outs
        .iter()
        .find(|o| o["n"].as_u64() == Some(u64::from(vout)))
    else {
        return Ok(None);
    };
    let address = o["scriptPubKey"]["address"].as_str().map(str::to_string);
    Ok(Some((address, sat_of_btc(&o["value"])?)))
}

/// A Bitcoin Core `getblockheader` answer.
pub fn core_header(h: &Value) -> Result<BlockFacts, String> {
    Ok(BlockFacts {
        hash: parse_block_hash(&h["hash"])?,
        height: h["height"]
            .as_u64()
            .ok_or_else(|| format!("a header without `height`: {h}"))?,
        // -1 for a block off the main chain.
        main_chain: h["confirmations"].as_i64().is_some_and(|c| c >= 1),
    })
}

/// True when a verbose transaction (either backend's JSON) has the input `txid:vout`.
pub fn spends(tx: &Value, txid: &str, vout: u32) -> bool {
    tx["vin"].as_array().is_some_and(|ins| {
        ins.iter().any(|i| {
            i["txid"]
                .as_str()
                .is_some_and(|t| t.eq_ignore_ascii_case(txid))
                && i["vout"].as_u64() == Some(u64::from(vout))
        })
    })
}

/// Output `vout` of an Esplora transaction: (address, satoshis).
pub fn esplora_output(tx: &Value, vout: u32) -> Result<Option<(Option<String>, u64)>, String> {
    let outs = tx["vout"]
        .as_array()
        .ok_or_else(|| format!("a transaction without `vout`: {tx}"))?;
    let Some(o) = outs.get(vout as usize) else {
        return Ok(None);
    };
    let sat = o["value"]
        .as_u64()
        .ok_or_else(|| format!("an output without an integer `value`: {o}"))?;
    Ok(Some((
        o["scriptpubkey_address"].as_str().map(str::to_string),
        sat,
    )))
}

/// An Esplora `status` object: the block, when confirmed (Esplora follows its main chain).
pub fn esplora_status(s: &Value) -> Result<Option<BlockFacts>, String> {
    if s["confirmed"].as_bool() != Some(true) {
        return Ok(None);
    }
    Ok(Some(BlockFacts {
        hash: parse_block_hash(&s["block_hash"])?,
        height: s["block_height"]
            .as_u64()
            .ok_or_else(|| format!("a status without `block_height`: {s}"))?,
        main_chain: true,
    }))
}

/// Judges one coin from what the node says: its amount in satoshis, or why it is not proven
/// held at the anchor.
pub fn judge_coin(coin: &Coin, address: &str, anchor: u64, f: &CoinFacts) -> Result<u64, String> {
    let id = format!("coin {}:{}", coin.txid, coin.vout);
    let Some((paid, amount)) = &f.output else {
        return Err(format!(
            "{id}: the node has no such transaction output (in block {})",
            coin.block_hash
        ));
    };
    if paid.as_deref() != Some(address) {
        return Err(format!(
            "{id} pays {}, not {address}",
            paid.as_deref().unwrap_or("a non-standard script")
        ));
    }
    if *amount != coin.amount_sat {
        return Err(format!(
            "{id} is {amount} sat on chain, the file states {}",
            coin.amount_sat
        ));
    }
    match &f.created_in {
        Some(b)
            if b.main_chain
                && b.height == coin.height
                && b.hash.eq_ignore_ascii_case(&coin.block_hash) => {}
        Some(b) if !b.main_chain => {
            return Err(format!(
                "{id}: its block {} is not in the main chain",
                b.hash
            ))
        }
        Some(b) if b.height > anchor => {
            return Err(format!(
                "{id} was created at height {}, after the anchor {anchor} (the file states \
                 height {})",
                b.height, coin.height
            ))
        }
        Some(b) => {
            return Err(format!(
                "{id} was created in block {} at height {}, the file states {} at {}",
                b.hash, b.height, coin.block_hash, coin.height
            ))
        }
        None => return Err(format!("{id}: its transaction is not confirmed")),
    }
    if coin.height > anchor {
        return Err(format!("{id} was created after the anchor"));
    }
    if f.unspent_now {
        return Ok(*amount);
    }
    match &f.spend {
        None => Err(format!(
            "{id} is spent, and no block after the anchor up to the node's tip spends it: it \
             was spent at or before the anchor"
        )),
        Some((false, _)) => Err(format!(
            "{id}: the recorded spending transaction does not spend it"
        )),
        Some((true, None)) => Err(format!("{id}: its spending transaction is not in a block")),
        Some((true, Some(b))) if !b.main_chain => Err(format!(
            "{id}: its spending transaction's block {} is not in the main chain",
            b.hash
        )),
        Some((true, Some(b))) if b.height <= anchor => Err(format!(
            "{id} was spent at height {}, at or before the anchor {anchor}",
            b.height
        )),
        Some((true, Some(_))) => Ok(*amount),
    }
}

/// Bitcoin Core: "no such transaction in that block", or no such block at all (a synced
/// node knows every block up to its tip, and the anchor check found the anchor there), is an
/// answer about the coin, not a failure to answer.
fn core_absent(e: &RpcError) -> bool {
    e.0.contains("No such transaction") || e.0.contains("Block hash not found")
}

/// A node's answer to one call: the result, or its own error.
type Answer = Result<Value, RpcError>;

/// What a node says of one coin, or its own reason for not saying (the coin's claim is then
/// "not checked on chain").
type Facts = Result<CoinFacts, RpcError>;

/// Why a coin's facts could not be read from the answers.
enum Unanswered {
    /// The node's own error for one of the calls.
    Node(RpcError),
    /// An answer that is not the protocol's.
    Garbage(String),
}

impl From<String> for Unanswered {
    fn from(d: String) -> Self {
        Unanswered::Garbage(d)
    }
}

/// A verbose transaction from `getrawtransaction TXID true BLOCKHASH`: `None` when the block
/// does not hold it.
fn core_tx(a: &Answer) -> Result<Option<&Value>, Unanswered> {
    match a {
        Ok(tx) => Ok(Some(tx)),
        Err(e) if core_absent(e) => Ok(None),
        Err(e) => Err(Unanswered::Node(e.clone())),
    }
}

/// A block from `getblockheader BLOCKHASH`: `None` when the node does not know it.
fn core_block(a: &Answer) -> Result<Option<BlockFacts>, Unanswered> {
    match a {
        Ok(h) => Ok(Some(core_header(h)?)),
        Err(e) if e.0.contains("not found") => Ok(None),
        Err(e) => Err(Unanswered::Node(e.clone())),
    }
}

/// One coin's facts from Bitcoin Core's answers: its transaction in its block, that block's
/// header, `gettxout`, and (when it is spent now and the file records the spend) the spending
/// transaction in its block and that block's header.
fn core_coin_facts(
    coin: &Coin,
    tx: &Answer,
    header: &Answer,
    txout: &Answer,
    spend: Option<(&Answer, &Answer)>,
) -> Result<CoinFacts, Unanswered> {
    let output = match core_tx(tx)? {
        Some(tx) => core_output(tx, coin.vout)?,
        None => None,
    };
    let created_in = core_block(header)?;
    let unspent_now = match txout {
        Ok(v) => !v.is_null(),
        Err(e) => return Err(Unanswered::Node(e.clone())),
    };
    let spend = match spend {
        Some((tx, header)) if !unspent_now => Some((
            core_tx(tx)?.is_some_and(|t| spends(t, &coin.txid, coin.vout)),
            core_block(header)?,
        )),
        _ => None,
    };
    Ok(CoinFacts {
        output,
        created_in,
        unspent_now,
        spend,
    })
}

/// Calls to one node; those with a key are asked once however often they are needed (the
/// coins of one block share its header, the outputs of one transaction its transaction).
#[derive(Default)]
struct Calls {
    calls: Vec<(String, Value)>,
    asked: std::collections::HashMap<String, usize>,
}

impl Calls {
    /// The position of the answer to `method(params)`; a call with a `key` asked before is
    /// not asked again.
    fn add(&mut self, method: &str, params: Value, key: Option<String>) -> usize {
        let next = self.calls.len();
        let at = match key {
            Some(k) => *self.asked.entry(k).or_insert(next),
            None => next,
        };
        if at == next {
            self.calls.push((method.to_string(), params));
        }
        at
    }

    /// `getrawtransaction TXID true BLOCKHASH`, once per transaction and block.
    fn tx(&mut self, txid: &str, block: &str) -> usize {
        let key = format!("tx {txid} {block}").to_ascii_lowercase();
        self.add("getrawtransaction", json!([txid, true, block]), Some(key))
    }

    /// `getblockheader BLOCKHASH`, once per block.
    fn header(&mut self, block: &str) -> usize {
        let key = format!("header {block}").to_ascii_lowercase();
        self.add("getblockheader", json!([block]), Some(key))
    }
}

/// Every coin's facts from Bitcoin Core, in JSON-RPC batches of `batch` calls, `concurrency`
/// requests at a time: first each coin's transaction, block header and `gettxout`, then the
/// recorded spends of the coins spent now.
async fn core_facts(
    client: &Client,
    coins: &[&Coin],
    asking: Asking,
) -> Result<Vec<Facts>, NodeError> {
    let (batch, concurrency) = (asking.batch, asking.concurrency);
    let mut first = Calls::default();
    let ids: Vec<[usize; 3]> = coins
        .iter()
        .map(|c| {
            [
                first.tx(&c.txid, &c.block_hash),
                first.header(&c.block_hash),
                first.add("gettxout", json!([c.txid, c.vout, false]), None),
            ]
        })
        .collect();
    let bar = progress(asking.progress, first.calls.len(), "calls");
    let a = client
        .batches(&first.calls, batch, concurrency, &bar)
        .await?;
    let mut second = Calls::default();
    let spend_ids: Vec<Option<[usize; 2]>> = coins
        .iter()
        .zip(&ids)
        .map(|(c, [_, _, txout])| match (&c.spent, &a[*txout]) {
            (Some(s), Ok(Value::Null)) => Some([
                second.tx(&s.txid, &s.block_hash),
                second.header(&s.block_hash),
            ]),
            _ => None,
        })
        .collect();
    bar.inc_length(second.calls.len() as u64);
    let b = client
        .batches(&second.calls, batch, concurrency, &bar)
        .await?;
    bar.finish_and_clear();
    coins
        .iter()
        .zip(ids.iter().zip(&spend_ids))
        .map(|(c, ([tx, header, txout], spend))| {
            let spend = spend.map(|[t, h]| (&b[t], &b[h]));
            match core_coin_facts(c, &a[*tx], &a[*header], &a[*txout], spend) {
                Ok(f) => Ok(Ok(f)),
                Err(Unanswered::Node(e)) => Ok(Err(e)),
                Err(Unanswered::Garbage(d)) => {
                    Err(garbage(client, format!("coin {}:{}: {d}", c.txid, c.vout)))
                }
            }
        })
        .collect()
}

async fn esplora_facts(client: &Client, coin: &Coin) -> Result<Facts, NodeError> {
    let g = |d: String| garbage(client, format!("coin {}:{}: {d}", coin.txid, coin.vout));
    let parse =
        |t: String| serde_json::from_str::<Value>(&t).map_err(|e| g(format!("not JSON: {e}")));
    let Some(tx) = client.get(&format!("tx/{}", coin.txid)).await? else {
        return Ok(Ok(CoinFacts {
            output: None,
            created_in: None,
            unspent_now: false,
            spend: None,
        }));
    };
    let tx = parse(tx)?;
    let output = esplora_output(&tx, coin.vout).map_err(g)?;
    let created_in = esplora_status(&tx["status"]).map_err(g)?;
    let out = match client
        .get(&format!("tx/{}/outspend/{}", coin.txid, coin.vout))
        .await?
    {
        Some(t) => parse(t)?,
        None => return Ok(Err(RpcError("no outspend answer".into()))),
    };
    if out["spent"].as_bool().is_none() {
        return Err(g(format!("an outspend without `spent`: {out}")));
    }
    let spent_in = esplora_status(&out["status"]).map_err(g)?;
    // Spent only in the mempool: still unspent in the chain.
    let unspent_now = out["spent"].as_bool() != Some(true) || spent_in.is_none();
    let spend = (!unspent_now).then(|| {
        // Esplora names the spending transaction itself: a recorded one must be it.
        let recorded_ok = coin.spent.as_ref().is_none_or(|s| {
            out["txid"]
                .as_str()
                .is_some_and(|t| t.eq_ignore_ascii_case(&s.txid))
        });
        (recorded_ok, spent_in)
    });
    Ok(Ok(CoinFacts {
        output,
        created_in,
        unspent_now,
        spend,
    }))
}

/// Bitcoin Core has no spending index: a coin spent now whose spend the file does not record
/// is looked for in the blocks after the anchor (the shared block walk); found there, it was
/// held at the anchor.
async fn spends_after(
    kind: NodeKind,
    client: &Client,
    coins: &[&Coin],
    facts: &mut [Facts],
    anchor: u64,
) -> Result<(), NodeError> {
    let key = |c: &Coin| (c.txid.to_ascii_lowercase(), c.vout);
    let wanted: std::collections::BTreeSet<(String, u32)> = coins
        .iter()
        .zip(facts.iter())
        .filter(|(c, f)| {
            c.spent.is_none() && matches!(f, Ok(f) if !f.unspent_now && f.spend.is_none())
        })
        .map(|(c, _)| key(c))
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let found = crate::blocks::find_spends(kind, client, &wanted, anchor + 1).await?;
    for (c, f) in coins.iter().zip(facts.iter_mut()) {
        if let (Ok(f), Some((_, block))) = (f, found.get(&key(c))) {
            if c.spent.is_none() && !f.unspent_now {
                f.spend = Some((true, Some(block.clone())));
            }
        }
    }
    Ok(())
}

/// Per claim: its index, the outcome, and the on-chain balance with whether it matches.
pub type ClaimResult = (usize, OnchainOutcome, Option<(BigDecimal, bool)>);

/// How to ask a node about the coins.
#[derive(Debug, Clone, Copy)]
pub struct Asking {
    /// JSON-RPC calls per HTTP request (Bitcoin Core; 1: no batching).
    pub batch: usize,
    /// HTTP requests in flight at once.
    pub concurrency: usize,
    /// Draw a progress bar on stderr.
    pub progress: bool,
}

/// A progress bar over `total` requests or calls (`unit`), shown when asked.
fn progress(show: bool, total: usize, unit: &str) -> indicatif::ProgressBar {
    por_attest_verify::verify::styled_bar(
        show && total > 0,
        total as u64,
        &format!(
            "asking the Bitcoin node {{bar:40}} {{pos}}/{{len}} {unit} {{per_sec}} ETA {{eta}}"
        ),
    )
}

/// What the node says of each Bitcoin claim (indices into `report.claims`): the outcome, and
/// the on-chain balance (the sum of the proven coins) with whether it matches the stated one.
/// Bitcoin Core is asked in JSON-RPC batches (`asking.batch` calls a request), Esplora one GET
/// at a time; `asking.concurrency` requests in flight. The results come back in the order of
/// `claims`.
pub async fn check_claims(
    kind: NodeKind,
    client: &Client,
    report: &Report,
    claims: &[usize],
    asking: Asking,
) -> Result<Vec<ClaimResult>, NodeError> {
    use futures_util::stream::{self, StreamExt, TryStreamExt};
    let coins: Vec<&Coin> = claims
        .iter()
        .flat_map(|&i| &report.claims[i].coins)
        .collect();
    let facts = match kind {
        NodeKind::Esplora => {
            let bar = progress(asking.progress, coins.len(), "coins");
            let asked = coins.iter().map(|c| async {
                let f = esplora_facts(client, c).await;
                bar.inc(1);
                f
            });
            let facts = stream::iter(asked)
                .buffered(asking.concurrency.max(1))
                .try_collect()
                .await?;
            bar.finish_and_clear();
            facts
        }
        _ => {
            let mut facts = core_facts(client, &coins, asking).await?;
            let anchor = claims.iter().filter_map(|&i| report.claims[i].height).min();
            if let Some(anchor) = anchor {
                spends_after(kind, client, &coins, &mut facts, anchor).await?;
            }
            facts
        }
    };
    let mut facts = facts.into_iter();
    Ok(claims
        .iter()
        .map(|&i| {
            let c = &report.claims[i];
            let mine: Vec<Facts> = facts.by_ref().take(c.coins.len()).collect();
            judge_claim(client, c, i, mine)
        })
        .collect())
}

/// One Bitcoin claim from its coins' facts: every coin proven held at the anchor, their sum
/// against the balance.
fn judge_claim(client: &Client, c: &Claim, i: usize, facts: Vec<Facts>) -> ClaimResult {
    use por_attest_verify::report::{Failure, FailureCode};
    if c.coins.is_empty() {
        return (
            i,
            OnchainOutcome::NotChecked(format!(
                "the file lists no coins of {} at the anchor: a node without an address \
                 index cannot give an address's balance",
                c.address
            )),
            None,
        );
    }
    let anchor = c.height.unwrap_or_default();
    let mut sat: u128 = 0;
    for (coin, f) in c.coins.iter().zip(facts) {
        let f = match f {
            Ok(f) => f,
            Err(e) => {
                let why = format!(
                    "the node {} cannot answer about coin {}:{}: {e}",
                    client.endpoint(),
                    coin.txid,
                    coin.vout
                );
                return (i, OnchainOutcome::NotChecked(why), None);
            }
        };
        match judge_coin(coin, &c.address, anchor, &f) {
            Ok(a) => sat += u128::from(a),
            Err(why) => {
                let failure = Failure::new(FailureCode::BalanceMismatch, why);
                return (i, OnchainOutcome::Failed(failure), None);
            }
        }
    }
    let onchain = por_attest_verify::balance::from_base_units(&BigDecimal::from(sat), 8);
    let matches = c.balance.as_ref().is_none_or(|b| *b == onchain);
    let outcome = match &c.balance {
        Some(stated) if !matches => OnchainOutcome::Failed(Failure::new(
            FailureCode::BalanceMismatch,
            format!(
                "balance: the file states {} BTC, its coins proven on the node {} add up to {} \
                 at height {anchor}",
                por_attest_verify::balance::plain(stated),
                client.endpoint(),
                por_attest_verify::balance::plain(&onchain)
            ),
        )),
        _ => OnchainOutcome::Verified,
    };
    (i, outcome, Some((onchain, matches)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use por_attest_verify::snapshot::Spend;

    const H: &str = "00000000000000000001c5f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6e5f";
    const TX: &str = "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b";
    const SPEND: &str = "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16";
    const ADDR: &str = "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu";

    /// `getrawtransaction TXID true BLOCKHASH` as Bitcoin Core documents it (abridged).
    fn core_tx() -> Value {
        json!({
            "in_active_chain": true,
            "txid": TX, "hash": TX, "version": 2, "size": 222, "vsize": 141, "weight": 561,
            "locktime": 0,
            "vin": [{"txid": SPEND, "vout": 3, "scriptSig": {"asm": "", "hex": ""}, "sequence": 4294967293u64}],
            "vout": [
                {"value": 0.01, "n": 0, "scriptPubKey": {"asm": "0 c0cebcd6c3d3ca8c75dc5ec62ebe55330ef910e2", "hex": "0014c0cebcd6c3d3ca8c75dc5ec62ebe55330ef910e2", "address": "bc1qxy", "type": "witness_v0_keyhash"}},
                {"value": 1.23456789, "n": 1, "scriptPubKey": {"asm": "", "hex": "", "address": ADDR, "type": "witness_v0_keyhash"}}
            ],
            "blockhash": H, "confirmations": 120, "time": 1764547200, "blocktime": 1764547200
        })
    }

    fn coin(spent: Option<Spend>) -> Coin {
        Coin {
            txid: TX.into(),
            vout: 1,
            amount_sat: 123_456_789,
            height: 900,
            block_hash: H.into(),
            spent,
        }
    }

    #[test]
    fn bitcoin_core_shapes() {
        assert_eq!(
            core_output(&core_tx(), 1).unwrap(),
            Some((Some(ADDR.to_string()), 123_456_789))
        );
        assert_eq!(core_output(&core_tx(), 7).unwrap(), None);
        assert!(core_output(&json!({"txid": TX}), 0).is_err());
        assert_eq!(sat_of_btc(&json!(0.00000001)).unwrap(), 1);
        assert_eq!(
            sat_of_btc(&json!(20999999.9769)).unwrap(),
            2_099_999_997_690_000
        );
        // getblockheader: a main-chain block, then a stale one (confirmations -1).
        let main = json!({"hash": H, "confirmations": 120, "height": 900, "version": 1, "merkleroot": TX, "time": 1, "nonce": 1, "bits": "17034219", "difficulty": 1.0, "nTx": 2});
        assert_eq!(
            core_header(&main).unwrap(),
            BlockFacts {
                hash: H.into(),
                height: 900,
                main_chain: true
            }
        );
        let stale = json!({"hash": H, "confirmations": -1, "height": 900});
        assert!(!core_header(&stale).unwrap().main_chain);
        assert!(spends(&core_tx(), SPEND, 3));
        assert!(!spends(&core_tx(), SPEND, 2));
        assert_eq!(parse_block_hash(&json!(H.to_uppercase())).unwrap(), H);
        assert!(parse_block_hash(&json!("00ff")).is_err());
    }

    #[test]
    fn esplora_shapes() {
        // GET /tx/:txid as Esplora documents it (abridged).
        let tx = json!({
            "txid": TX, "version": 2, "locktime": 0, "size": 222, "weight": 561, "fee": 141,
            "vin": [{"txid": SPEND, "vout": 3, "prevout": null, "scriptsig": "", "witness": [], "is_coinbase": false, "sequence": 4294967293u64}],
            "vout": [
                {"scriptpubkey": "0014…", "scriptpubkey_asm": "OP_0 …", "scriptpubkey_type": "v0_p2wpkh", "scriptpubkey_address": "bc1qxy", "value": 1000000},
                {"scriptpubkey": "0014…", "scriptpubkey_type": "v0_p2wpkh", "scriptpubkey_address": ADDR, "value": 123456789}
            ],
            "status": {"confirmed": true, "block_height": 900, "block_hash": H, "block_time": 1764547200}
        });
        assert_eq!(
            esplora_output(&tx, 1).unwrap(),
            Some((Some(ADDR.into()), 123_456_789))
        );
        assert_eq!(esplora_output(&tx, 2).unwrap(), None);
        assert_eq!(esplora_status(&tx["status"]).unwrap().unwrap().height, 900);
        assert_eq!(esplora_status(&json!({"confirmed": false})).unwrap(), None);
        assert!(esplora_status(&json!({"confirmed": true})).is_err());
    }

    #[test]
    fn a_transaction_and_a_header_are_asked_once() {
        let mut c = Calls::default();
        let tx = c.tx(TX, H);
        assert_eq!(c.tx(&TX.to_uppercase(), H), tx);
        assert_ne!(
            c.tx(TX, SPEND),
            tx,
            "the same id in another block is another call"
        );
        let h = c.header(H);
        assert_eq!(c.header(H), h);
        let out = c.add("gettxout", json!([TX, 0, false]), None);
        assert_ne!(c.add("gettxout", json!([TX, 0, false]), None), out);
        assert_eq!(c.calls.len(), 5);
        assert_eq!(c.calls[h], ("getblockheader".to_string(), json!([H])));
    }

    fn facts() -> CoinFacts {
        CoinFacts {
            output: Some((Some(ADDR.into()), 123_456_789)),
            created_in: Some(BlockFacts {
                hash: H.into(),
                height: 900,
                main_chain: true,
            }),
            unspent_now: true,
            spend: None,
        }
    }

    #[test]
    fn coins_are_judged_at_the_anchor() {
        let later = |height, main| {
            Some((
                true,
                Some(BlockFacts {
                    hash: H.into(),
                    height,
                    main_chain: main,
                }),
            ))
        };
        assert_eq!(
            judge_coin(&coin(None), ADDR, 1000, &facts()),
            Ok(123_456_789)
        );
        let spent = CoinFacts {
            unspent_now: false,
            ..facts()
        };
        assert!(judge_coin(&coin(None), ADDR, 1000, &spent)
            .unwrap_err()
            .contains("no block after the anchor up to the node's tip spends it"));
        let rec = Some(Spend {
            txid: SPEND.into(),
            block_hash: H.into(),
        });
        let after = CoinFacts {
            spend: later(1001, true),
            ..spent.clone()
        };
        assert_eq!(
            judge_coin(&coin(rec.clone()), ADDR, 1000, &after),
            Ok(123_456_789)
        );
        let before = CoinFacts {
            spend: later(1000, true),
            ..spent.clone()
        };
        assert!(judge_coin(&coin(rec.clone()), ADDR, 1000, &before)
            .unwrap_err()
            .contains("at or before the anchor 1000"));
        let stale = CoinFacts {
            spend: later(1001, false),
            ..spent.clone()
        };
        assert!(judge_coin(&coin(rec.clone()), ADDR, 1000, &stale)
            .unwrap_err()
            .contains("not in the main chain"));
        let other = CoinFacts {
            spend: Some((false, None)),
            ..spent
        };
        assert!(judge_coin(&coin(rec), ADDR, 1000, &other)
            .unwrap_err()
            .contains("does not spend it"));
        let wrong_amount = CoinFacts {
            output: Some((Some(ADDR.into()), 5)),
            ..facts()
        };
        assert!(judge_coin(&coin(None), ADDR, 1000, &wrong_amount)
            .unwrap_err()
            .contains("is 5 sat on chain, the file states 123456789"));
        assert!(judge_coin(&coin(None), "bc1qother", 1000, &facts())
            .unwrap_err()
            .contains("pays"));
        let moved = CoinFacts {
            created_in: Some(BlockFacts {
                hash: H.into(),
                height: 901,
                main_chain: true,
            }),
            ..facts()
        };
        assert!(judge_coin(&coin(None), ADDR, 1000, &moved)
            .unwrap_err()
            .contains("at height 901"));
        assert!(judge_coin(&coin(None), ADDR, 899, &facts())
            .unwrap_err()
            .contains("after the anchor"));
        let none = CoinFacts {
            output: None,
            ..facts()
        };
        assert!(judge_coin(&coin(None), ADDR, 1000, &none)
            .unwrap_err()
            .contains("no such transaction output"));
    }
}
