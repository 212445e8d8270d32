//! A verified report's claims checked against nodes: each chain's anchor block, then every
//! address's balance at the anchor (and a Safe's owners and threshold), in JSON-RPC batches
//! with bounded concurrency, the results applied to the report.
//!
//! What a node contradicts fails; what it cannot answer is "not checked on chain" with the
//! node's reason; a node that cannot be used at all stops everything ([`NodeError`], exit 2)
//! before anything is applied, so nothing is half-reported as verified.

use crate::bitcoin;
use crate::endpoints::{Endpoint, NodeKind, Nodes};
use crate::evm;
use crate::rpc::{Client, NodeError, Policy, RpcError};
use bigdecimal::BigDecimal;
use por_attest_verify::claim::{Claim, OnchainOutcome};
use por_attest_verify::report::{AnchorCheck, FailureCode, FileFailure, Report};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// How to talk to the nodes.
#[derive(Debug, Clone, Copy)]
pub struct NodeOptions {
    /// HTTP requests in flight at once, over all nodes.
    pub concurrency: usize,
    /// JSON-RPC calls per HTTP request (1: no batching).
    pub batch: usize,
    /// Draw a progress bar on stderr.
    pub progress: bool,
    /// Timeouts and retries.
    pub policy: Policy,
}

impl Default for NodeOptions {
    fn default() -> Self {
        NodeOptions {
            concurrency: 8,
            batch: 100,
            progress: false,
            policy: Policy::default(),
        }
    }
}

impl NodeOptions {
    /// How the Bitcoin claims are asked.
    fn bitcoin(&self) -> bitcoin::Asking {
        bitcoin::Asking {
            batch: self.batch,
            concurrency: self.concurrency,
            progress: self.progress,
        }
    }
}

/// What one request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Balance,
    Decimals,
    Owners,
    Threshold,
}

/// A node's answer to one call: the result, or its own error.
type Answer = Result<Value, RpcError>;

struct Planned {
    claim: usize,
    want: Want,
    call: (String, Value),
}

/// Checks `report`'s claims (collected by the verification) against `nodes` and applies the
/// results: anchors, balances and totals, Safe ownership; then settles the verdict again.
pub fn check_on_chain(
    report: &mut Report,
    nodes: &Nodes,
    opts: &NodeOptions,
) -> Result<(), NodeError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| NodeError::Config(format!("cannot start the async runtime: {e}")))?;
    rt.block_on(check_async(report, nodes, opts))
}

pub(crate) fn chain_key(c: &str) -> String {
    c.trim().to_ascii_uppercase()
}

/// Whether a claim is put to a node: verified addresses, and contract wallets whose owners
/// signed (unsupported offline; an HTX wallet row, unsigned, followed by its signing owners).
/// Failed, and other unsigned and unsupported rows stay as they are.
pub(crate) fn asks(c: &Claim) -> bool {
    c.status == "verified"
        || (matches!(c.status, "unsupported" | "unsigned") && !c.owners.is_empty())
}

pub(crate) async fn check_async(
    report: &mut Report,
    nodes: &Nodes,
    opts: &NodeOptions,
) -> Result<(), NodeError> {
    let mut clients: BTreeMap<String, (Endpoint, Client)> = BTreeMap::new();
    for (chain, e) in &nodes.endpoints {
        let client = Client::new(&e.url, e.auth.clone(), opts.policy)?;
        clients.insert(chain.clone(), (e.clone(), client));
    }
    let mut updates: Vec<(usize, OnchainOutcome)> = Vec::new();
    let mut file_failures = Vec::new();
    let mut anchor_checks = Vec::new();
    // Anchors: the stated one per chain, or (exchange files, no hash stated) each height.
    let mut bad_anchor: BTreeSet<String> = BTreeSet::new();
    for (chain, (e, client)) in &clients {
        let stated = report
            .stated_anchors
            .iter()
            .find(|(c, _)| chain_key(c) == *chain)
            .map(|(_, a)| a.clone());
        let heights: BTreeSet<u64> = match &stated {
            Some(a) => [a.height].into(),
            None => report
                .claims
                .iter()
                .filter(|c| chain_key(&c.node_chain) == *chain && asks(c))
                .filter_map(|c| c.height)
                .take(10_000)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .take(16)
                .collect(),
        };
        for h in heights {
            let got = match e.kind {
                NodeKind::Evm => {
                    let (m, p) = evm::block_request(h);
                    match client.call(&m, p).await? {
                        Ok(v) => evm::block_hash_of(&v).map_err(|d| NodeError::Garbage {
                            endpoint: client.endpoint().into(),
                            detail: d,
                        })?,
                        Err(RpcError(m)) => {
                            file_failures.push(
                                FileFailure::new(
                                    FailureCode::AnchorUnavailable,
                                    format!(
                                        "anchor {chain} at height {h}: the node {} cannot give the block: {m}",
                                        client.endpoint()
                                    ),
                                )
                                .of_chain(chain),
                            );
                            bad_anchor.insert(chain.clone());
                            continue;
                        }
                    }
                }
                NodeKind::BitcoinCore | NodeKind::Esplora => {
                    bitcoin::block_hash(e.kind, client, h).await?
                }
            };
            let Some(node_hash) = got else {
                file_failures.push(
                    FileFailure::new(
                        FailureCode::AnchorUnavailable,
                        format!(
                            "anchor {chain} at height {h}: the node {} has no block at that height",
                            client.endpoint()
                        ),
                    )
                    .of_chain(chain),
                );
                bad_anchor.insert(chain.clone());
                continue;
            };
            let status = match &stated {
                None => "not stated",
                Some(a) if same_hash(&a.block_hash, &node_hash) => "ok",
                Some(a) => {
                    file_failures.push(
                        FileFailure::new(
                            FailureCode::AnchorMismatch,
                            format!(
                                "anchor {chain} at height {h}: the file states block {}, the node {} has {node_hash}",
                                a.block_hash,
                                client.endpoint()
                            ),
                        )
                        .of_chain(chain),
                    );
                    bad_anchor.insert(chain.clone());
                    "mismatch"
                }
            };
            anchor_checks.push(AnchorCheck {
                chain: chain.clone(),
                height: h,
                stated: stated.as_ref().map(|a| a.block_hash.clone()),
                node: node_hash,
                endpoint: client.endpoint().into(),
                status,
            });
        }
    }

    // What to ask, per chain.
    let mut plans: BTreeMap<String, Vec<Planned>> = BTreeMap::new();
    let mut bitcoin_claims: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, c) in report.claims.iter().enumerate() {
        if !asks(c) {
            continue;
        }
        let chain = chain_key(&c.node_chain);
        let Some((e, _)) = clients.get(&chain) else {
            updates.push((
                i,
                OnchainOutcome::NotChecked(format!("no node given for chain {chain}")),
            ));
            continue;
        };
        if bad_anchor.contains(&chain) {
            updates.push((
                i,
                OnchainOutcome::NotChecked(format!(
                    "the node's {chain} chain does not have the file's anchor block"
                )),
            ));
            continue;
        }
        let Some(h) = c.height else {
            updates.push((
                i,
                OnchainOutcome::NotChecked("the file states no height for this balance".into()),
            ));
            continue;
        };
        if e.kind != NodeKind::Evm {
            bitcoin_claims.entry(chain).or_default().push(i);
            continue;
        }
        let p = plans.entry(chain.clone()).or_default();
        let balance = if evm::is_native(&chain, &c.asset) {
            evm::balance_request(&c.address, h)
        } else {
            let Some((contract, _)) = token_of(c, nodes, &chain) else {
                updates.push((
                    i,
                    OnchainOutcome::NotChecked(format!(
                        "no token contract known for {} on {chain} (add a [[token]] to the --nodes file)",
                        c.asset
                    )),
                ));
                continue;
            };
            match evm::token_balance_request(&contract, &c.address, h) {
                Ok(r) => {
                    p.push(Planned {
                        claim: i,
                        want: Want::Decimals,
                        call: evm::call_request(&contract, evm::DECIMALS, h),
                    });
                    r
                }
                Err(why) => {
                    updates.push((
                        i,
                        OnchainOutcome::Failed(por_attest_verify::report::Failure::new(
                            por_attest_verify::report::FailureCode::InvalidAddress,
                            why,
                        )),
                    ));
                    continue;
                }
            }
        };
        p.push(Planned {
            claim: i,
            want: Want::Balance,
            call: balance,
        });
        if !c.owners.is_empty() {
            for (want, sel) in [
                (Want::Owners, evm::GET_OWNERS),
                (Want::Threshold, evm::GET_THRESHOLD),
            ] {
                p.push(Planned {
                    claim: i,
                    want,
                    call: evm::call_request(&c.address, sel, h),
                });
            }
        }
    }

    let total: usize = plans.values().map(Vec::len).sum();
    let bar = progress(opts.progress, total as u64);
    let answers = run_plans(&plans, &clients, opts, &bar).await?;
    bar.finish_and_clear();

    // Evaluate, claim by claim.
    let mut per_claim: BTreeMap<usize, Vec<(Want, Answer)>> = BTreeMap::new();
    for (chain, plan) in &plans {
        for (p, a) in plan.iter().zip(&answers[chain]) {
            per_claim
                .entry(p.claim)
                .or_default()
                .push((p.want, a.clone()));
        }
    }
    let mut onchain: Vec<(String, String, BigDecimal, bool)> = Vec::new();
    for (i, got) in per_claim {
        let c = &report.claims[i];
        let chain = chain_key(&c.node_chain);
        let client = &clients[&chain].1;
        let h = c.height.unwrap_or_default();
        let garbage = |d: String| NodeError::Garbage {
            endpoint: client.endpoint().into(),
            detail: format!("{} of {}: {d}", c.chain, c.address),
        };
        let find = |w: Want| got.iter().find(|(x, _)| *x == w).map(|(_, r)| r.clone());
        // A Safe: its owners and threshold at the block.
        let mut outcome = OnchainOutcome::Verified;
        if !c.owners.is_empty() {
            outcome = match (find(Want::Owners), find(Want::Threshold)) {
                (Some(Ok(o)), Some(Ok(t))) => {
                    match (evm::decode_address_array(&o), evm::decode_uint(&t)) {
                        (Ok(owners), Ok(threshold)) => safe_outcome(c, &owners, &threshold, h),
                        (Err(d), _) | (_, Err(d)) => OnchainOutcome::NotChecked(format!(
                            "{} does not answer getOwners()/getThreshold() as a Safe at height {h}: {d}",
                            c.address
                        )),
                    }
                }
                (Some(Err(e)), _) | (_, Some(Err(e))) => OnchainOutcome::NotChecked(format!(
                    "{} does not answer getOwners()/getThreshold() as a Safe at height {h}: {e}",
                    c.address
                )),
                _ => OnchainOutcome::NotChecked("no answer about the Safe".into()),
            };
        }
        let balance = match find(Want::Balance) {
            // An empty answer to balanceOf: no contract at that address at that block.
            Some(Ok(v)) if v.as_str() == Some("0x") => {
                if !matches!(outcome, OnchainOutcome::Failed(_)) {
                    outcome = OnchainOutcome::NotChecked(format!(
                        "no contract answers balanceOf at the {} token address {} at height {h}",
                        c.asset,
                        token_of(c, nodes, &chain).map_or("?".into(), |t| t.0)
                    ));
                }
                None
            }
            Some(Ok(v)) => {
                let native = evm::is_native(&chain, &c.asset);
                let units = if native {
                    evm::quantity(&v)
                } else {
                    evm::decode_uint(&v)
                }
                .map_err(garbage)?;
                let decimals = if native {
                    Ok(18)
                } else {
                    token_decimals(c, nodes, &chain, find(Want::Decimals), h)
                };
                match decimals {
                    Ok(d) => Some(evm::to_main_unit(&units, d)),
                    Err(o) => {
                        if !matches!(outcome, OnchainOutcome::Failed(_)) {
                            outcome = o;
                        }
                        None
                    }
                }
            }
            Some(Err(e)) => {
                if !matches!(outcome, OnchainOutcome::Failed(_)) {
                    outcome = OnchainOutcome::NotChecked(format!(
                        "the node {} cannot give the balance at height {h}: {e}",
                        client.endpoint()
                    ));
                }
                None
            }
            None => None,
        };
        if let Some(b) = balance {
            let matches = c.balance.as_ref().is_none_or(|s| same_balance(s, &b, c));
            if !matches && !matches!(outcome, OnchainOutcome::Failed(_)) {
                outcome = OnchainOutcome::Failed(por_attest_verify::report::Failure::new(
                    por_attest_verify::report::FailureCode::BalanceMismatch,
                    format!(
                        "balance: the file states {} {}, the node {} has {} at height {h}",
                        por_attest_verify::balance::plain(c.balance.as_ref().expect("stated")),
                        c.asset,
                        client.endpoint(),
                        por_attest_verify::balance::plain(&b)
                    ),
                ));
            }
            onchain.push((c.node_chain.clone(), c.asset.clone(), b, matches));
        }
        updates.push((i, outcome));
    }
    for (chain, claims) in &bitcoin_claims {
        let (e, client) = &clients[chain];
        for (i, outcome, value) in
            bitcoin::check_claims(e.kind, client, report, claims, opts.bitcoin()).await?
        {
            if let Some((b, matches)) = value {
                let c = &report.claims[i];
                onchain.push((c.node_chain.clone(), c.asset.clone(), b, matches));
            }
            updates.push((i, outcome));
        }
    }
    // Nothing failed to be asked: apply everything.
    for (chain, asset, b, matches) in onchain {
        report
            .balance_total(&chain, &asset)
            .add_onchain(&b, matches);
    }
    report.file_failures.extend(file_failures);
    report.anchors.extend(anchor_checks);
    report.apply_onchain(updates);
    let allow = report.allow_incomplete;
    report.finish(allow);
    Ok(())
}

/// The token contract holding a claim's asset, and the decimals the file or the token table
/// gives it: the file's own token first, else the table's.
pub(crate) fn token_of(c: &Claim, nodes: &Nodes, chain: &str) -> Option<(String, u32)> {
    match &c.token {
        Some(t) => Some((t.contract.clone(), t.decimals)),
        None => nodes
            .token(chain, &c.asset)
            .map(|t| (t.contract.clone(), t.decimals)),
    }
}

/// The decimals a token balance is read with: the contract's `decimals()` at the block, which
/// must agree with a token the file describes; a table token whose contract does not answer
/// keeps the table's. A file's token whose contract does not answer is not checked (its
/// stated decimals would scale the balance unchecked).
fn token_decimals(
    c: &Claim,
    nodes: &Nodes,
    chain: &str,
    answer: Option<Answer>,
    height: u64,
) -> Result<u32, OnchainOutcome> {
    let (contract, fallback) = token_of(c, nodes, chain).expect("planned with a contract");
    let answered = match answer {
        Some(Ok(v)) => evm::decode_uint(&v)
            .ok()
            .and_then(|d| u32::try_from(d).ok()),
        _ => None,
    };
    match (answered, &c.token) {
        (Some(d), Some(stated)) if d != stated.decimals => Err(OnchainOutcome::Failed(
            por_attest_verify::report::Failure::new(
                por_attest_verify::report::FailureCode::TokenMismatch,
                format!(
                    "token {} at {contract}: the file states {} decimals, the contract's \
                     decimals() is {d} at height {height}",
                    c.asset, stated.decimals
                ),
            ),
        )),
        (Some(d), _) => Ok(d),
        (None, None) => Ok(fallback),
        (None, Some(_)) => Err(OnchainOutcome::NotChecked(format!(
            "the token contract {contract} does not answer decimals() at height {height}, so \
             the file's {} decimals for {} cannot be confirmed",
            fallback, c.asset
        ))),
    }
}

/// Whether the node's balance is the stated one: exactly, or within the rounding of a balance
/// printed rounded.
fn same_balance(stated: &BigDecimal, node: &BigDecimal, c: &Claim) -> bool {
    match &c.rounding {
        None => stated == node,
        Some(r) => (stated - node).abs() <= *r,
    }
}

fn same_hash(a: &str, b: &str) -> bool {
    let norm = |s: &str| s.trim().trim_start_matches("0x").to_ascii_lowercase();
    norm(a) == norm(b)
}

/// A contract wallet's outcome from its Safe owners and threshold at the block.
fn safe_outcome(
    c: &Claim,
    owners: &[String],
    threshold: &bigdecimal::num_bigint::BigInt,
    height: u64,
) -> OnchainOutcome {
    let owners_lc: BTreeSet<String> = owners.iter().map(|o| o.to_ascii_lowercase()).collect();
    let signed: BTreeSet<String> = c.owners.iter().map(|o| o.to_ascii_lowercase()).collect();
    if let Some(outsider) = signed.iter().find(|s| !owners_lc.contains(*s)) {
        return OnchainOutcome::Failed(por_attest_verify::report::Failure::new(por_attest_verify::report::FailureCode::NotOwner, format!(
            "{outsider} signed for the Safe {}, but is not one of its owners at height {height} ({})",
            c.address,
            owners.join(", ")
        )));
    }
    let n = signed.len();
    if bigdecimal::num_bigint::BigInt::from(n) >= *threshold && *threshold > 0.into() {
        OnchainOutcome::Verified
    } else {
        OnchainOutcome::Failed(por_attest_verify::report::Failure::new(
            por_attest_verify::report::FailureCode::BelowThreshold,
            format!(
            "{n} of the Safe's owners signed, but its threshold at height {height} is {threshold} \
             (of {} owners)",
            owners.len()
        ),
        ))
    }
}

fn progress(show: bool, total: u64) -> indicatif::ProgressBar {
    por_attest_verify::verify::styled_bar(
        show && total > 0,
        total,
        "asking nodes {bar:40} {pos}/{len} calls {per_sec} ETA {eta}",
    )
}

/// Sends every chain's planned calls in batches, `opts.concurrency` HTTP requests at a time:
/// per chain, one answer per planned call, in order.
async fn run_plans(
    plans: &BTreeMap<String, Vec<Planned>>,
    clients: &BTreeMap<String, (Endpoint, Client)>,
    opts: &NodeOptions,
    bar: &indicatif::ProgressBar,
) -> Result<BTreeMap<String, Vec<Answer>>, NodeError> {
    let sem = Arc::new(tokio::sync::Semaphore::new(opts.concurrency.max(1)));
    let mut set = tokio::task::JoinSet::new();
    for (chain, plan) in plans {
        let client = clients[chain].1.clone();
        for (n, chunk) in plan.chunks(opts.batch.max(1)).enumerate() {
            let calls: Vec<(String, Value)> = chunk.iter().map(|p| p.call.clone()).collect();
            let client = client.clone();
            let sem = sem.clone();
            let chain = chain.clone();
            let bar = bar.clone();
            set.spawn(async move {
                let _permit = sem.acquire_owned().await.expect("semaphore open");
                let r = client.batch(&calls).await;
                bar.inc(calls.len() as u64);
                (chain, n, r)
            });
        }
    }
    let mut parts: BTreeMap<String, BTreeMap<usize, Vec<Answer>>> = BTreeMap::new();
    while let Some(joined) = set.join_next().await {
        let (chain, n, r) =
            joined.map_err(|e| NodeError::Config(format!("a node request task failed: {e}")))?;
        match r {
            Ok(a) => {
                parts.entry(chain).or_default().insert(n, a);
            }
            Err(e) => {
                set.abort_all();
                return Err(e);
            }
        }
    }
    Ok(plans
        .keys()
        .map(|c| {
            let v = parts
                .remove(c)
                .unwrap_or_default()
                .into_values()
                .flatten()
                .collect();
            (c.clone(), v)
        })
        .collect())
}
