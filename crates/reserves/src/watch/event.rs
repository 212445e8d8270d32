//! What the watcher reports: one [`Event`] per thing seen, printed as one JSON object per line
//! (`--json`, field `event` first) or as one human line; amounts and balances are exact decimal
//! strings in the asset's main unit.

use serde_json::{json, Value};

/// The direction of a movement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Out of a reserve address.
    Outflow,
    /// Into a reserve address.
    Inflow,
}

/// One asset's total over the followed addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Total {
    /// The asset.
    pub asset: String,
    /// At the anchor: the snapshot's stated total (else the node's).
    pub at_anchor: String,
    /// Now.
    pub now: String,
    /// Now minus at the anchor.
    pub change: String,
}

/// Something the watcher saw.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Watching starts on a chain: the anchor checked, the totals at the anchor.
    Start {
        /// The chain.
        chain: String,
        /// The anchor's height.
        height: u64,
        /// The anchor's hash.
        hash: String,
        /// The node (no credentials).
        endpoint: String,
        /// Addresses followed.
        addresses: usize,
        /// Bitcoin: coins followed.
        coins: usize,
        /// The check at the anchor (as `verify --node`): verdict and counts.
        check: Value,
        /// Totals.
        totals: Vec<Total>,
    },
    /// A block applied.
    Block {
        /// The chain.
        chain: String,
        /// Its height.
        height: u64,
        /// Its hash.
        hash: String,
        /// Movements in it.
        movements: usize,
        /// Totals after it.
        totals: Vec<Total>,
    },
    /// Funds left or reached a reserve address.
    Movement {
        /// Which way.
        flow: Flow,
        /// The chain.
        chain: String,
        /// The block's height.
        height: u64,
        /// The block's hash.
        hash: String,
        /// The reserve address.
        address: String,
        /// The asset.
        asset: String,
        /// The amount moved (positive).
        amount: String,
        /// The balance before.
        balance_before: String,
        /// The balance after.
        balance: String,
        /// The transaction, when known (tokens, Bitcoin).
        tx: Option<String>,
        /// The address's wallet label.
        wallet: Option<String>,
    },
    /// Blocks held were replaced: their movements are undone.
    Reorg {
        /// The chain.
        chain: String,
        /// The common ancestor's height.
        height: u64,
        /// The common ancestor's hash.
        hash: String,
        /// Blocks dropped.
        depth: u64,
        /// The dropped blocks' hashes, lowest first.
        old: Vec<String>,
        /// The node's blocks now at those heights, lowest first.
        new: Vec<String>,
        /// Movements undone.
        undone: usize,
        /// Totals after the undo.
        totals: Vec<Total>,
    },
    /// Something a risk team must look at.
    Alert {
        /// The chain.
        chain: String,
        /// The block's height.
        height: u64,
        /// The block's hash.
        hash: String,
        /// `drop`, `cold-outflow`, `safe-changed`, `reorg-too-deep`, `node-down`,
        /// `node-stalled`.
        kind: &'static str,
        /// What happened.
        message: String,
        /// The address concerned.
        address: Option<String>,
        /// The asset concerned.
        asset: Option<String>,
    },
    /// The node failed to answer (retried with back-off).
    NodeError {
        /// The chain.
        chain: String,
        /// The last block held: height.
        height: u64,
        /// The last block held: hash.
        hash: String,
        /// The node (no credentials).
        endpoint: String,
        /// What failed.
        error: String,
        /// Failures in a row.
        attempt: u32,
        /// Seconds until the next try.
        retry_in: f64,
    },
}

fn totals_json(t: &[Total]) -> Value {
    Value::Array(
        t.iter()
            .map(|t| json!({"asset": t.asset, "at_anchor": t.at_anchor, "now": t.now, "change": t.change}))
            .collect(),
    )
}

impl Event {
    /// The event's name (the JSON `event` field).
    pub fn name(&self) -> &'static str {
        match self {
            Event::Start { .. } => "start",
            Event::Block { .. } => "block",
            Event::Movement {
                flow: Flow::Outflow,
                ..
            } => "outflow",
            Event::Movement {
                flow: Flow::Inflow, ..
            } => "inflow",
            Event::Reorg { .. } => "reorg",
            Event::Alert { .. } => "alert",
            Event::NodeError { .. } => "node_error",
        }
    }

    /// The chain.
    pub fn chain(&self) -> &str {
        match self {
            Event::Start { chain, .. }
            | Event::Block { chain, .. }
            | Event::Movement { chain, .. }
            | Event::Reorg { chain, .. }
            | Event::Alert { chain, .. }
            | Event::NodeError { chain, .. } => chain,
        }
    }

    /// The totals it carries (start, block, reorg).
    pub fn totals(&self) -> Option<&[Total]> {
        match self {
            Event::Start { totals, .. }
            | Event::Block { totals, .. }
            | Event::Reorg { totals, .. } => Some(totals),
            _ => None,
        }
    }

    /// One JSON object.
    pub fn to_json(&self) -> Value {
        let name = self.name();
        match self {
            Event::Start {
                chain,
                height,
                hash,
                endpoint,
                addresses,
                coins,
                check,
                totals,
            } => json!({
                "event": name, "chain": chain, "height": height, "hash": hash,
                "endpoint": endpoint, "addresses": addresses, "coins": coins, "check": check,
                "totals": totals_json(totals)
            }),
            Event::Block {
                chain,
                height,
                hash,
                movements,
                totals,
            } => json!({
                "event": name, "chain": chain, "height": height, "hash": hash,
                "movements": movements, "totals": totals_json(totals)
            }),
            Event::Movement {
                chain,
                height,
                hash,
                address,
                asset,
                amount,
                balance_before,
                balance,
                tx,
                wallet,
                ..
            } => {
                let mut v = json!({
                    "event": name, "chain": chain, "height": height, "hash": hash,
                    "address": address, "asset": asset, "amount": amount,
                    "balance_before": balance_before, "balance": balance
                });
                if let Some(t) = tx {
                    v["tx"] = json!(t);
                }
                if let Some(w) = wallet {
                    v["wallet"] = json!(w);
                }
                v
            }
            Event::Reorg {
                chain,
                height,
                hash,
                depth,
                old,
                new,
                undone,
                totals,
            } => json!({
                "event": name, "chain": chain, "height": height, "hash": hash, "depth": depth,
                "old": old, "new": new, "undone": undone, "totals": totals_json(totals)
            }),
            Event::Alert {
                chain,
                height,
                hash,
                kind,
                message,
                address,
                asset,
            } => {
                let mut v = json!({
                    "event": name, "chain": chain, "height": height, "hash": hash,
                    "kind": kind, "message": message
                });
                if let Some(a) = address {
                    v["address"] = json!(a);
                }
                if let Some(a) = asset {
                    v["asset"] = json!(a);
                }
                v
            }
            Event::NodeError {
                chain,
                height,
                hash,
                endpoint,
                error,
                attempt,
                retry_in,
            } => json!({
                "event": name, "chain": chain, "height": height, "hash": hash,
                "endpoint": endpoint, "error": error, "attempt": attempt, "retry_in": retry_in
            }),
        }
    }

    /// One human line.
    pub fn to_human(&self) -> String {
        match self {
            Event::Start { chain, height, hash, endpoint, addresses, coins, check, .. } => {
                let coins = if *coins > 0 { format!(", {coins} coins") } else { String::new() };
                format!(
                    "{chain} start at anchor {height} {hash} on {endpoint}: {addresses} addresses{coins}; \
                     check at the anchor: {}",
                    check_line(check)
                )
            }
            Event::Block { chain, height, hash, movements, .. } => {
                format!("{chain} block {height} {hash}: {movements} movements")
            }
            Event::Movement { flow, chain, height, address, asset, amount, balance_before, balance, tx, wallet, .. } => {
                let arrow = match flow {
                    Flow::Outflow => "OUT",
                    Flow::Inflow => "IN ",
                };
                let tx = tx.as_deref().map_or(String::new(), |t| format!(" tx {t}"));
                let w = wallet.as_deref().map_or(String::new(), |w| format!(" ({w})"));
                format!(
                    "{chain} {height} {arrow} {amount} {asset} {address}{w}: {balance_before} -> {balance}{tx}"
                )
            }
            Event::Reorg { chain, height, depth, old, new, undone, .. } => format!(
                "{chain} REORG of {depth} blocks above {height}: dropped {}, now {}; {undone} movements undone",
                old.join(","),
                if new.is_empty() { "-".to_string() } else { new.join(",") }
            ),
            Event::Alert { chain, height, kind, message, .. } => {
                format!("{chain} {height} ALERT {kind}: {message}")
            }
            Event::NodeError { chain, endpoint, error, attempt, retry_in, .. } => format!(
                "{chain} node error ({endpoint}, failure {attempt}, next try in {retry_in:.1} s): {error}"
            ),
        }
    }
}

fn check_line(check: &Value) -> String {
    format!(
        "{} ({} verified, {} failed, {} not checked on chain)",
        check["result"].as_str().unwrap_or("?").to_ascii_uppercase(),
        check["verified"],
        check["failed"],
        check["not_checked"]
    )
}

/// The compact table of one chain's totals: asset, at the anchor, now, change.
pub fn table(chain: &str, totals: &[Total]) -> String {
    let rows: Vec<[String; 4]> = totals
        .iter()
        .map(|t| {
            [
                format!("{chain} {}", t.asset),
                t.at_anchor.clone(),
                t.now.clone(),
                t.change.clone(),
            ]
        })
        .collect();
    let head = [
        "asset".to_string(),
        "at anchor".into(),
        "now".into(),
        "change".into(),
    ];
    let mut w = [0usize; 4];
    for r in std::iter::once(&head).chain(&rows) {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.len());
        }
    }
    let line = |r: &[String; 4]| {
        format!(
            "  {:<a$}  {:>b$}  {:>c$}  {:>d$}\n",
            r[0],
            r[1],
            r[2],
            r[3],
            a = w[0],
            b = w[1],
            c = w[2],
            d = w[3]
        )
    };
    let mut s = line(&head);
    for r in &rows {
        s.push_str(&line(r));
    }
    s
}
