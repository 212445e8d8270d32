//! `por-attest watch`: the reserves followed after publication. The balances at the anchor are
//! checked first (as `verify --node` does), then every new block on each node is applied to a
//! [`ledger::Ledger`]: what left or reached each reserve address per asset, each asset's total
//! now against the snapshot, reorgs undone, and alerts (a drop beyond `--alert-drop`, any
//! outflow from a `cold` wallet, a Safe's owners or threshold changed, a node down or stalled).
//!
//! Nodes are polled over HTTP (a WebSocket `eth_subscribe` would need a WebSocket client in
//! the tree; polling every `--poll` seconds serves the same blocks). A node that fails is
//! retried with back-off and reported (`node_error`); the watcher never stops on a node fault.

pub mod bitcoin;
pub mod event;
pub mod evm;
pub mod ledger;

pub use event::{table, Event, Flow, Total};

use crate::check::{asks, chain_key, check_async, token_of, NodeOptions};
use crate::endpoints::{NodeKind, Nodes};
use crate::rpc::{Client, NodeError, Policy};
use bigdecimal::num_bigint::BigInt;
use bigdecimal::BigDecimal;
use ledger::{same_hash, Ledger};
use por_attest_verify::report::Report;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedSender;

/// How to watch.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// Seconds between polls of a node with nothing new.
    pub poll: Duration,
    /// `--alert-drop`: alert when an asset's total falls below the snapshot's by more than this
    /// percentage.
    pub alert_drop: Option<BigDecimal>,
    /// A node that fails or does not advance for this long raises an alert.
    pub stall: Duration,
    /// Blocks kept for undoing a reorg.
    pub keep: usize,
    /// JSON-RPC calls per HTTP request.
    pub batch: usize,
    /// HTTP requests in flight per node.
    pub concurrency: usize,
    /// Per request timeout.
    pub timeout: Duration,
    /// Stop after this many blocks applied on every chain (benchmarks).
    pub stop_after: Option<u64>,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            poll: Duration::from_secs(10),
            alert_drop: None,
            stall: Duration::from_secs(1800),
            keep: 128,
            batch: 500,
            concurrency: 4,
            timeout: Duration::from_secs(30),
            stop_after: None,
        }
    }
}

/// A percentage from 0 to 100 (`--alert-drop`), exactly.
pub fn percent(s: &str) -> Result<BigDecimal, String> {
    match s.trim().parse::<BigDecimal>() {
        Ok(p) if (BigDecimal::from(0)..=BigDecimal::from(100)).contains(&p) => Ok(p),
        _ => Err(format!("`{s}` is not a percentage from 0 to 100")),
    }
}

/// Why watching stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// SIGTERM or Ctrl-C.
    Signal,
    /// The sink asked to stop (`--exit-on-alert`).
    Sink,
    /// Every chain reached `stop_after`.
    Done,
}

/// Wallet labels (`cold`, `hot`) by chain (upper case) and address (as the file writes it).
pub type Wallets = BTreeMap<(String, String), String>;

/// One chain's node.
#[derive(Debug, Clone)]
enum Follower {
    Evm(evm::EvmFollower),
    Btc(bitcoin::BtcFollower),
}

impl Follower {
    fn client(&self) -> &Client {
        match self {
            Follower::Evm(f) => &f.client,
            Follower::Btc(f) => &f.client,
        }
    }

    async fn tip(&self) -> Result<u64, NodeError> {
        match self {
            Follower::Evm(f) => f.tip().await,
            Follower::Btc(f) => f.tip().await,
        }
    }

    async fn hash_at(&self, height: u64) -> Result<Option<String>, NodeError> {
        match self {
            Follower::Evm(f) => f.hash_at(height).await,
            Follower::Btc(f) => f.hash_at(height).await,
        }
    }

    async fn block(
        &self,
        height: u64,
        ledger: &Ledger,
    ) -> Result<Option<ledger::BlockUpdate>, NodeError> {
        match self {
            Follower::Evm(f) => f.block(height, ledger).await,
            Follower::Btc(f) => f.block(height).await,
        }
    }
}

/// One chain to follow: its ledger (assets and Bitcoin coins set up, anchor hash not yet
/// known), its node, the anchor height, and what the check said of it.
struct ChainPlan {
    ledger: Ledger,
    follower: Follower,
    anchor: u64,
    stated_hash: Option<String>,
    wallets: BTreeMap<String, String>,
}

fn plans(
    report: &Report,
    wallets: &Wallets,
    nodes: &Nodes,
    opts: &WatchOptions,
) -> Result<Vec<ChainPlan>, NodeError> {
    let mut out = Vec::new();
    for (chain, e) in &nodes.endpoints {
        let claims: Vec<_> = report
            .claims
            .iter()
            .filter(|c| {
                chain_key(&c.node_chain) == *chain
                    && (asks(c) || c.status == "failed" || c.status == "not checked on chain")
            })
            .collect();
        if claims.is_empty() {
            continue;
        }
        let stated = report
            .stated_anchors
            .iter()
            .find(|(c, _)| chain_key(c) == *chain)
            .map(|(_, a)| a.clone());
        let Some(anchor) = stated
            .as_ref()
            .map(|a| a.height)
            .or_else(|| claims.iter().filter_map(|c| c.height).max())
        else {
            return Err(NodeError::Config(format!(
                "chain {chain}: the file states no anchor height to watch from"
            )));
        };
        if e.url.starts_with("ws://") || e.url.starts_with("wss://") {
            return Err(NodeError::Config(format!(
                "node {}: watch polls over HTTP (eth_subscribe over a WebSocket is not supported); give the node's http(s) URL",
                crate::rpc::shown_url(&e.url)
            )));
        }
        let client = Client::new(&e.url, e.auth.clone(), watch_policy(opts))?;
        let chain_wallets: BTreeMap<String, String> = wallets
            .iter()
            .filter(|((c, _), _)| chain_key(c) == *chain)
            .map(|((_, a), w)| {
                (
                    if e.kind == NodeKind::Evm {
                        a.to_ascii_lowercase()
                    } else {
                        a.clone()
                    },
                    w.clone(),
                )
            })
            .collect();
        let (ledger, follower) = match e.kind {
            NodeKind::Evm => {
                let native = crate::evm::native_symbol(chain).to_string();
                let mut l = Ledger::new(chain, &native, (anchor, String::new()), true, opts.keep);
                let mut f = evm::EvmFollower {
                    client,
                    natives: Vec::new(),
                    tokens: BTreeMap::new(),
                    holders: Vec::new(),
                    safes: Vec::new(),
                    batch: opts.batch,
                    concurrency: opts.concurrency,
                };
                for c in &claims {
                    let a = c.address.to_ascii_lowercase();
                    if crate::evm::is_native(chain, &c.asset) {
                        l.add_asset(&native, 18, c.balance.clone());
                        if !f.natives.contains(&a) {
                            f.natives.push(a.clone());
                        }
                    } else if let Some((contract, decimals)) = token_of(c, nodes, chain) {
                        let contract = contract.to_ascii_lowercase();
                        l.add_asset(&c.asset, decimals, c.balance.clone());
                        f.tokens.insert(contract.clone(), c.asset.clone());
                        f.holders.push((contract, a.clone(), c.asset.clone()));
                    }
                    if !c.owners.is_empty() && !f.safes.contains(&a) {
                        f.safes.push(a);
                    }
                }
                (l, Follower::Evm(f))
            }
            kind => {
                let mut l = Ledger::new(chain, "BTC", (anchor, String::new()), false, opts.keep);
                for c in &claims {
                    let sat: u64 = c.coins.iter().map(|k| k.amount_sat).sum();
                    // An address without its coins listed: only what reaches it can be seen.
                    let stated = if c.coins.is_empty() {
                        Some(BigDecimal::from(0))
                    } else {
                        c.balance.clone()
                    };
                    l.add_asset("BTC", 8, stated);
                    l.hold(
                        &c.address,
                        "BTC",
                        BigInt::from(sat),
                        chain_wallets.get(&c.address).map(String::as_str),
                    );
                    for k in &c.coins {
                        l.hold_coin((k.txid.clone(), k.vout), &c.address, k.amount_sat);
                    }
                }
                (l, Follower::Btc(bitcoin::BtcFollower { client, kind }))
            }
        };
        let mut ledger = ledger;
        ledger.alert_drop = opts.alert_drop.clone();
        out.push(ChainPlan {
            ledger,
            follower,
            anchor,
            stated_hash: stated.map(|a| a.block_hash),
            wallets: chain_wallets,
        });
    }
    if out.is_empty() {
        return Err(NodeError::Config(
            "nothing to watch: no address of the file is on a chain given with --node".into(),
        ));
    }
    Ok(out)
}

/// The check at the anchor, for one chain's `start` event.
fn check_summary(report: &Report, chain: &str) -> serde_json::Value {
    let anchor = report
        .anchors
        .iter()
        .find(|a| chain_key(&a.chain) == chain)
        .map(|a| a.status);
    let problems: Vec<_> = report
        .problems
        .iter()
        .filter(|p| chain_key(&p.chain).starts_with(chain) || p.chain.contains(chain))
        .take(20)
        .map(|p| json!({"address": p.address, "status": p.status, "reason": p.reason}))
        .collect();
    json!({
        "result": report.result, "verified": report.verified, "failed": report.failed,
        "not_checked": report.not_checked, "anchor": anchor, "file_failures": report.file_failures,
        "problems": problems
    })
}

/// The watcher's requests: two quick retries (a kept-alive connection the node closed while
/// idle between polls fails once), then the failure is the watcher's to report and back off.
fn watch_policy(opts: &WatchOptions) -> Policy {
    Policy {
        timeout: opts.timeout,
        retries: 2,
        backoff: Duration::from_millis(50),
    }
}

/// Back-off after `failures` failures in a row.
fn backoff(poll: Duration, failures: u32) -> Duration {
    let cap = (poll * 16).clamp(Duration::from_secs(1), Duration::from_secs(60));
    (poll.max(Duration::from_millis(100)) * 2u32.saturating_pow(failures.saturating_sub(1).min(16)))
        .min(cap)
}

/// Sends `e`; false when nobody listens any more.
fn send(tx: &UnboundedSender<Event>, e: Event) -> bool {
    tx.send(e).is_ok()
}

/// Checks `report`'s claims at the anchor against `nodes`, then follows every chain with a
/// node, giving each event to `sink` (which returns false to stop) until a signal, the sink, or
/// `stop_after`. Errors only for an unusable configuration.
pub fn watch(
    report: Report,
    wallets: &Wallets,
    nodes: &Nodes,
    opts: &WatchOptions,
    sink: &mut dyn FnMut(Event) -> bool,
) -> Result<Stopped, NodeError> {
    let plans = plans(&report, wallets, nodes, opts)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| NodeError::Config(format!("cannot start the async runtime: {e}")))?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let nodes = nodes.clone();
    let opts = opts.clone();
    let stopped = rt.block_on(async move {
        let (stop, mut signalled) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            signals().await;
            let _ = stop.send(());
        });
        let mut pump = Pump {
            rx: &mut rx,
            signalled: &mut signalled,
            sink,
        };
        let report = match pump.run(check(report, &plans, &nodes, &opts, &tx)).await {
            Ok(r) => r,
            Err(stopped) => return stopped,
        };
        for p in plans {
            let summary = check_summary(&report, &p.ledger.chain);
            tokio::spawn(follow(p, summary, opts.clone(), tx.clone()));
        }
        drop(tx);
        match pump.run(std::future::pending::<()>()).await {
            Ok(()) => Stopped::Done,
            Err(stopped) => stopped,
        }
    });
    rt.shutdown_timeout(Duration::from_millis(200));
    Ok(stopped)
}

/// SIGTERM or Ctrl-C.
async fn signals() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Gives the events to the sink while a future runs.
struct Pump<'a> {
    rx: &'a mut tokio::sync::mpsc::UnboundedReceiver<Event>,
    signalled: &'a mut tokio::sync::oneshot::Receiver<()>,
    sink: &'a mut dyn FnMut(Event) -> bool,
}

impl Pump<'_> {
    /// `fut`'s output; or why watching stops first (a signal, the sink, every sender gone).
    async fn run<T>(&mut self, fut: impl std::future::Future<Output = T>) -> Result<T, Stopped> {
        tokio::pin!(fut);
        loop {
            tokio::select! {
                biased;
                e = self.rx.recv() => match e {
                    Some(e) => if !(self.sink)(e) { return Err(Stopped::Sink) },
                    None => return Err(Stopped::Done),
                },
                _ = &mut *self.signalled => return Err(Stopped::Signal),
                out = &mut fut => return Ok(out),
            }
        }
    }
}

/// The check at the anchor, retried while a node fails (each failure reported).
async fn check(
    report: Report,
    plans: &[ChainPlan],
    nodes: &Nodes,
    opts: &WatchOptions,
    tx: &UnboundedSender<Event>,
) -> Report {
    let node_opts = NodeOptions {
        concurrency: opts.concurrency,
        batch: opts.batch,
        progress: false,
        policy: watch_policy(opts),
    };
    let mut failures = 0;
    let since = Instant::now();
    let mut alerted = false;
    loop {
        let mut r = report.clone();
        match check_async(&mut r, nodes, &node_opts).await {
            Ok(()) => return r,
            Err(e) => {
                failures += 1;
                let wait = backoff(opts.poll, failures);
                let text = e.to_string();
                let plan = plans
                    .iter()
                    .find(|p| text.contains(p.follower.client().endpoint()));
                let chain = plan.map_or("*".to_string(), |p| p.ledger.chain.clone());
                let height = plan.map_or(0, |p| p.anchor);
                let endpoint = plan.map_or(String::new(), |p| {
                    p.follower.client().endpoint().to_string()
                });
                send(
                    tx,
                    Event::NodeError {
                        chain: chain.clone(),
                        height,
                        hash: String::new(),
                        endpoint: endpoint.clone(),
                        error: text,
                        attempt: failures,
                        retry_in: wait.as_secs_f64(),
                    },
                );
                if !alerted && since.elapsed() >= opts.stall {
                    alerted = true;
                    let message = format!(
                        "the check at the anchor has failed for {} s ({failures} failures; node {endpoint})",
                        since.elapsed().as_secs()
                    );
                    send(
                        tx,
                        Event::Alert {
                            chain,
                            height,
                            hash: String::new(),
                            kind: "node-down",
                            message,
                            address: None,
                            asset: None,
                        },
                    );
                }
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// A node's health, for the node-down and node-stalled alerts.
struct Health {
    failures: u32,
    failing_since: Option<Instant>,
    last_advance: Instant,
    alerted: bool,
}

/// Follows one chain until nobody listens or `stop_after` blocks are applied.
async fn follow(
    mut p: ChainPlan,
    check: serde_json::Value,
    opts: WatchOptions,
    tx: UnboundedSender<Event>,
) {
    let chain = p.ledger.chain.clone();
    let endpoint = p.follower.client().endpoint().to_string();
    let mut health = Health {
        failures: 0,
        failing_since: None,
        last_advance: Instant::now(),
        alerted: false,
    };
    // The anchor block and what the addresses hold there.
    loop {
        match start(&mut p).await {
            Ok(()) => break,
            Err(e) => {
                if !node_failed(&mut health, &p.ledger, &endpoint, e, &opts, &tx).await {
                    return;
                }
            }
        }
    }
    let (height, hash) = p.ledger.tip();
    if let Some(stated) = &p.stated_hash {
        if !same_hash(stated, &hash) {
            let message = format!("the file's anchor is block {stated}, the node has {hash} at height {height}: following the node's chain");
            let alert = Event::Alert {
                chain: chain.clone(),
                height,
                hash: hash.clone(),
                kind: "anchor-mismatch",
                message,
                address: None,
                asset: None,
            };
            if !send(&tx, alert) {
                return;
            }
        }
    }
    let start = Event::Start {
        chain: chain.clone(),
        height,
        hash,
        endpoint: endpoint.clone(),
        addresses: p.ledger.addresses().count(),
        coins: p.ledger.coin_count(),
        check,
        totals: p.ledger.totals(),
    };
    if !send(&tx, start) {
        return;
    }
    let mut applied = 0u64;
    loop {
        if opts.stop_after.is_some_and(|n| applied >= n) {
            return;
        }
        match step(&mut p.ledger, &p.follower, &tx).await {
            Ok(Some(n)) => {
                applied += n;
                health = Health {
                    failures: 0,
                    failing_since: None,
                    last_advance: Instant::now(),
                    alerted: false,
                };
                if tx.is_closed() {
                    return;
                }
            }
            Ok(None) => {
                health.failures = 0;
                health.failing_since = None;
                if !health.alerted && health.last_advance.elapsed() >= opts.stall {
                    health.alerted = true;
                    let (height, hash) = p.ledger.tip();
                    let message = format!(
                        "the node {endpoint} has not advanced past block {height} for {} s",
                        health.last_advance.elapsed().as_secs()
                    );
                    if !send(
                        &tx,
                        Event::Alert {
                            chain: chain.clone(),
                            height,
                            hash,
                            kind: "node-stalled",
                            message,
                            address: None,
                            asset: None,
                        },
                    ) {
                        return;
                    }
                }
                tokio::time::sleep(opts.poll).await;
            }
            Err(e) => {
                if !node_failed(&mut health, &p.ledger, &endpoint, e, &opts, &tx).await {
                    return;
                }
            }
        }
    }
}

/// Reports a node failure, alerts once when it lasts beyond `stall`, waits the back-off;
/// false when nobody listens any more.
async fn node_failed(
    health: &mut Health,
    ledger: &Ledger,
    endpoint: &str,
    e: NodeError,
    opts: &WatchOptions,
    tx: &UnboundedSender<Event>,
) -> bool {
    health.failures += 1;
    let since = *health.failing_since.get_or_insert_with(Instant::now);
    let wait = backoff(opts.poll, health.failures);
    let (height, hash) = ledger.tip();
    let chain = ledger.chain.clone();
    let event = Event::NodeError {
        chain: chain.clone(),
        height,
        hash: hash.clone(),
        endpoint: endpoint.to_string(),
        error: e.to_string(),
        attempt: health.failures,
        retry_in: wait.as_secs_f64(),
    };
    if !send(tx, event) {
        return false;
    }
    if !health.alerted && since.elapsed() >= opts.stall {
        health.alerted = true;
        let message = format!(
            "the node {endpoint} has not answered for {} s ({} failures)",
            since.elapsed().as_secs(),
            health.failures
        );
        if !send(
            tx,
            Event::Alert {
                chain,
                height,
                hash,
                kind: "node-down",
                message,
                address: None,
                asset: None,
            },
        ) {
            return false;
        }
    }
    tokio::time::sleep(wait).await;
    true
}

/// The anchor block's hash on the node, and (EVM) what the addresses hold there.
async fn start(p: &mut ChainPlan) -> Result<(), NodeError> {
    let Some(hash) = p.follower.hash_at(p.anchor).await? else {
        return Err(NodeError::Garbage {
            endpoint: p.follower.client().endpoint().into(),
            detail: format!("the node has no block at the anchor height {}", p.anchor),
        });
    };
    p.ledger.rebase((p.anchor, hash));
    if let Follower::Evm(f) = &p.follower {
        f.load_anchor(&mut p.ledger, p.anchor, &p.wallets).await?;
    }
    Ok(())
}

/// One poll: the next block applied (or a reorg undone): `Some(blocks applied)`, or `None` when
/// the node has nothing new.
async fn step(
    ledger: &mut Ledger,
    follower: &Follower,
    tx: &UnboundedSender<Event>,
) -> Result<Option<u64>, NodeError> {
    let tip = follower.tip().await?;
    let (held, _) = ledger.tip();
    if tip > held {
        let Some(b) = follower.block(held + 1, ledger).await? else {
            return Ok(None);
        };
        match ledger.apply(&b) {
            Ok(events) => {
                let movements = events
                    .iter()
                    .filter(|e| matches!(e, Event::Movement { .. }))
                    .count();
                for e in events {
                    send(tx, e);
                }
                send(
                    tx,
                    Event::Block {
                        chain: ledger.chain.clone(),
                        height: b.height,
                        hash: b.hash.clone(),
                        movements,
                        totals: ledger.totals(),
                    },
                );
                Ok(Some(1))
            }
            Err(_) => {
                reorg(ledger, follower, held, tip, tx).await?;
                Ok(Some(0))
            }
        }
    } else {
        // The node is at or below the block held: is the block held at its tip still its?
        let node = follower.hash_at(tip).await?;
        let same = match (node.as_deref(), ledger.hash_at(tip)) {
            (Some(n), Some(ours)) => same_hash(n, ours),
            _ => false,
        };
        if same && tip == held {
            return Ok(None);
        }
        reorg(ledger, follower, tip, tip, tx).await?;
        Ok(Some(0))
    }
}

/// Walks back from `from` to the last block the node and the ledger share, undoes the blocks
/// above it and reports the reorg.
async fn reorg(
    ledger: &mut Ledger,
    follower: &Follower,
    from: u64,
    tip: u64,
    tx: &UnboundedSender<Event>,
) -> Result<(), NodeError> {
    let (held, held_hash) = ledger.tip();
    let mut k = from.min(held);
    let ancestor = loop {
        let Some(ours) = ledger.hash_at(k).map(str::to_string) else {
            break None;
        };
        if follower
            .hash_at(k)
            .await?
            .is_some_and(|n| same_hash(&n, &ours))
        {
            break Some((k, ours));
        }
        if k == 0 || k <= ledger.oldest() {
            break None;
        }
        k -= 1;
    };
    let Some((k, ancestor_hash)) = ancestor else {
        let node = follower.hash_at(tip).await?.unwrap_or_default();
        let message = format!(
            "the node's chain no longer holds block {held_hash} at {held}, and no common block with it among the {} blocks kept: following its tip {node} at {tip} without undoing (balances of tokens and coins may be off)",
            held.saturating_sub(ledger.oldest())
        );
        send(
            tx,
            Event::Alert {
                chain: ledger.chain.clone(),
                height: tip,
                hash: node.clone(),
                kind: "reorg-too-deep",
                message,
                address: None,
                asset: None,
            },
        );
        ledger.rebase((tip, node));
        return Ok(());
    };
    if k == held {
        return Ok(());
    }
    let old: Vec<String> = (k + 1..=held)
        .filter_map(|h| ledger.hash_at(h).map(str::to_string))
        .collect();
    let undone: usize = ledger.rollback(k).iter().map(|b| b.movements.len()).sum();
    let mut new = Vec::new();
    for h in k + 1..=held.min(tip) {
        if let Some(n) = follower.hash_at(h).await? {
            new.push(n);
        }
    }
    send(
        tx,
        Event::Reorg {
            chain: ledger.chain.clone(),
            height: k,
            hash: ancestor_hash,
            depth: held - k,
            old,
            new,
            undone,
            totals: ledger.totals(),
        },
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_and_back_off() {
        assert_eq!(percent(" 2.5 ").unwrap().to_string(), "2.5");
        assert!(percent("100").is_ok() && percent("0").is_ok());
        for bad in ["100.01", "-1", "five", ""] {
            assert!(percent(bad).is_err(), "{bad}");
        }
        let poll = Duration::from_millis(100);
        let waits: Vec<u128> = (1..=6).map(|n| backoff(poll, n).as_millis()).collect();
        assert_eq!(
            waits,
            [100, 200, 400, 800, 1600, 1600],
            "doubled, at most 16 polls"
        );
        assert_eq!(
            backoff(Duration::from_secs(10), 30),
            Duration::from_secs(60)
        );
    }
}
