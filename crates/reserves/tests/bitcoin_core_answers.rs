//! The Bitcoin Core client end to end against a loopback server that answers a small
//! consistent chain with Bitcoin Core's documented response shapes (`getblockhash`,
//! `getblockheader`, `getrawtransaction TXID true BLOCKHASH`, `gettxout`; one call or a batch
//! array): the anchor is checked, each listed coin proven, the balance is the sum of the proven
//! coins; a coin spent with no recorded spend fails; the calls go in JSON-RPC batches of
//! `--node-batch`. (No real Bitcoin node can run here; `tests/reserves_bitcoin.rs` of the root
//! package runs against one when named.)

#[path = "../../../tests/support/loopback.rs"]
mod loopback;

use loopback::{btc_claim, txid, FakeChain, FakeTx, Server};
use por_attest_reserves::{check_on_chain, NodeError, NodeOptions, Nodes};
use por_attest_verify::report::{Outcome, Report};
use por_attest_verify::snapshot::{Anchor, Coin, Spend};
use std::sync::Arc;

const ANCHOR: &str = "00000000000000000001c5f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6e5f";
const ANCHOR_HEIGHT: u64 = 925_000;
const CREATED: u64 = 924_990;
const ADDR: &str = "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu";
const OTHER: &str = "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh";
/// Coins of the batching test: one transaction each, all in block CREATED.
const MANY: u64 = 40;

/// The chain: TX 1 at CREATED pays ADDR 0.5 and 1.25 BTC, its output 1 spent by TX 2 after
/// the anchor; TX 3 pays ADDR 0.1 BTC and is spent by TX 4 before the anchor; TX 5 sits in a
/// block the node has pruned; TXs 100.. pay ADDR 0.01 BTC each.
fn chain() -> FakeChain {
    let tx = FakeTx::new;
    let mut txs = vec![
        tx(1, CREATED, &[(ADDR, 50_000_000), (ADDR, 125_000_000)], &[]),
        tx(2, ANCHOR_HEIGHT + 10, &[(OTHER, 124_000_000)], &[(1, 1)]),
        tx(3, 924_000, &[(ADDR, 10_000_000)], &[]),
        tx(4, 924_500, &[(OTHER, 9_000_000)], &[(3, 0)]),
        tx(5, 100, &[(ADDR, 1_000)], &[]),
    ];
    txs.extend((0..MANY).map(|k| tx(100 + k, CREATED, &[(ADDR, 1_000_000)], &[])));
    FakeChain {
        tip: ANCHOR_HEIGHT + 25,
        anchor: (ANCHOR_HEIGHT, ANCHOR.into()),
        txs,
        pruned_below: 1_000,
        ..FakeChain::default()
    }
}

fn coin(c: &FakeChain, n: u64, vout: u32, sat: u64) -> Coin {
    c.coin(n, vout, sat, c.tx(&txid(n)).unwrap().height)
}

fn spent_by(mut coin: Coin, c: &FakeChain, n: u64) -> Coin {
    coin.spent = Some(Spend {
        txid: txid(n),
        block_hash: c.block_hash(c.tx(&txid(n)).unwrap().height),
    });
    coin
}

/// A report of one claim per item (entry i, at ADDR, verified offline): its coins and
/// stated balance.
fn report(claims: Vec<(Vec<Coin>, &str)>) -> Report {
    let mut r = Report::new("f", "por-attest-snapshot");
    r.stated_anchors.insert(
        "BTC".into(),
        Anchor {
            height: ANCHOR_HEIGHT,
            block_hash: ANCHOR.into(),
        },
    );
    for (i, (coins, balance)) in claims.into_iter().enumerate() {
        r.record(i as u64, None, "BTC", ADDR, Outcome::Verified);
        r.claims
            .push(btc_claim(i as u64, ADDR, coins, balance, ANCHOR_HEIGHT));
    }
    r.finish(false);
    r
}

fn nodes(url: &str) -> Nodes {
    let mut nodes = Nodes::default();
    nodes.add_arg(&format!("BTC={url}")).unwrap();
    nodes
}

/// The one problem of a checked report of one claim.
fn reason(r: &Report) -> String {
    assert_eq!(r.problems.len(), 1, "{}", r.to_human());
    assert_eq!(r.problems[0].code, "balance_mismatch");
    r.problems[0].reason.clone()
}

#[test]
fn coins_are_proven_on_a_bitcoin_core_node() {
    let c = chain();
    let server = Server::bitcoin_core(Arc::new(c.clone()));
    let nodes = nodes(&server.url);
    let check = |claims| {
        let mut r = report(claims);
        check_on_chain(&mut r, &nodes, &NodeOptions::default()).unwrap();
        r
    };
    // The unspent coin alone: verified, the on-chain total is its amount.
    let r = check(vec![(vec![coin(&c, 1, 0, 50_000_000)], "0.5")]);
    assert_eq!(r.result, "verified", "{}", r.to_human());
    assert_eq!(r.anchors[0].status, "ok");
    assert_eq!(
        r.balances["BTC"].onchain.as_ref().map(|d| d.to_string()),
        Some("0.50000000".into())
    );
    // Output 1 is spent since: with its spend recorded (after the anchor) it counts...
    let held = spent_by(coin(&c, 1, 1, 125_000_000), &c, 2);
    let r = check(vec![(vec![coin(&c, 1, 0, 50_000_000), held], "1.75")]);
    assert_eq!(r.result, "verified", "{}", r.to_human());
    // ... and without it too: the blocks after the anchor are walked (getblock HASH 2) and
    // TX 2 spends it ten blocks after the anchor.
    let r = check(vec![(
        vec![coin(&c, 1, 0, 50_000_000), coin(&c, 1, 1, 125_000_000)],
        "1.75",
    )]);
    assert_eq!(r.result, "verified", "{}", r.to_human());
    // A coin spent before the anchor, its spend not recorded: no block after the anchor
    // spends it.
    let r = check(vec![(vec![coin(&c, 3, 0, 10_000_000)], "0.1")]);
    assert!(
        reason(&r)
            .contains("is spent, and no block after the anchor up to the node's tip spends it"),
        "{}",
        r.to_human()
    );
    // A coin spent before the anchor.
    let early = spent_by(coin(&c, 3, 0, 10_000_000), &c, 4);
    let r = check(vec![(vec![early], "0.1")]);
    assert!(
        reason(&r).contains("was spent at height 924500, at or before the anchor 925000"),
        "{}",
        r.to_human()
    );
    // A recorded spend that spends something else.
    let wrong = spent_by(coin(&c, 1, 1, 125_000_000), &c, 4);
    let r = check(vec![(vec![wrong], "1.25")]);
    assert!(reason(&r).contains("does not spend it"), "{}", r.to_human());
    // A stated amount the node contradicts.
    let r = check(vec![(vec![coin(&c, 1, 0, 50_000_001)], "0.50000001")]);
    assert!(
        reason(&r).contains("is 50000000 sat on chain, the file states 50000001"),
        "{}",
        r.to_human()
    );
    // A coin of another address.
    let r = check(vec![(vec![coin(&c, 2, 0, 124_000_000)], "1.24")]);
    assert!(
        reason(&r).contains(&format!("pays {OTHER}, not {ADDR}")),
        "{}",
        r.to_human()
    );
    // A transaction the stated block does not hold (an unknown txid).
    let mut unknown = coin(&c, 1, 0, 50_000_000);
    unknown.txid = txid(999);
    let r = check(vec![(vec![unknown], "0.5")]);
    assert!(
        reason(&r).contains("no such transaction output"),
        "{}",
        r.to_human()
    );
    // A block the node has pruned: not checked on chain, with the node's reason.
    let r = check(vec![(vec![coin(&c, 5, 0, 1_000)], "0.00001")]);
    assert_eq!(r.result, "incomplete", "{}", r.to_human());
    let why = &r.claims[0].status;
    assert_eq!(*why, "not checked on chain");
    assert!(
        r.to_human().contains("Block not available (pruned data)"),
        "{}",
        r.to_human()
    );
    // An anchor beyond the node's tip fails the file.
    let mut r = report(vec![(vec![coin(&c, 1, 0, 50_000_000)], "0.5")]);
    r.stated_anchors.get_mut("BTC").unwrap().height = 999_999;
    check_on_chain(&mut r, &nodes, &NodeOptions::default()).unwrap();
    assert!(
        r.file_failures[0]
            .reason
            .contains("has no block at that height"),
        "{:?}",
        r.file_failures
    );
    assert_eq!(
        (
            r.file_failures[0].code.as_str(),
            r.file_failures[0].chain.as_deref()
        ),
        ("anchor_unavailable", Some("BTC"))
    );
}

#[test]
fn many_claims_asked_concurrently_keep_each_its_own_outcome() {
    let c = chain();
    let server = Server::bitcoin_core(Arc::new(c.clone()));
    // Even entries hold the unspent output 0 (verified), odd ones TX 3's output, spent before
    // the anchor (failed): a result given to the wrong claim shows at once.
    let r = report(
        (0..24)
            .map(|i| match i % 2 {
                0 => (vec![coin(&c, 1, 0, 50_000_000)], "0.5"),
                _ => (vec![coin(&c, 3, 0, 10_000_000)], "0.1"),
            })
            .collect(),
    );
    for batch in [1, 5, 100] {
        let opts = NodeOptions {
            concurrency: 8,
            batch,
            ..NodeOptions::default()
        };
        let mut r = r.clone();
        check_on_chain(&mut r, &nodes(&server.url), &opts).unwrap();
        let failed: Vec<u64> = r.problems.iter().filter_map(|p| p.entry).collect();
        assert_eq!(
            failed,
            (0..24).filter(|i| i % 2 == 1).collect::<Vec<u64>>(),
            "batch {batch}: {}",
            r.to_human()
        );
        assert!(r.problems.iter().all(|p| p.code == "balance_mismatch"));
        assert_eq!((r.verified, r.failed), (12, 12), "{}", r.to_human());
    }
}

/// `MANY` coins, one claim each, in one block: per coin its transaction and `gettxout`, one
/// header for them all: 2·MANY + 1 calls, in ⌈(2·MANY + 1) / batch⌉ HTTP requests, plus one
/// for the anchor. `--node-batch 1` sends each call alone and gets the same results.
#[test]
fn calls_go_in_batches_of_node_batch() {
    let c = chain();
    let server = Server::bitcoin_core(Arc::new(c.clone()));
    let base = report(
        (0..MANY)
            .map(|k| (vec![coin(&c, 100 + k, 0, 1_000_000)], "0.01"))
            .collect(),
    );
    let calls = 2 * MANY as usize + 1;
    for (batch, concurrency) in [(10, 4), (1, 4), (calls, 1), (7, 1)] {
        server.reset_requests();
        let mut r = base.clone();
        let opts = NodeOptions {
            concurrency,
            batch,
            ..NodeOptions::default()
        };
        check_on_chain(&mut r, &nodes(&server.url), &opts).unwrap();
        assert_eq!(r.result, "verified", "batch {batch}: {}", r.to_human());
        assert_eq!(r.verified, MANY);
        assert_eq!(
            r.balances["BTC"].onchain.as_ref().map(|d| d.to_string()),
            Some("0.40000000".into())
        );
        assert_eq!(
            server.requests(),
            calls.div_ceil(batch) + 1,
            "batch {batch}, concurrency {concurrency}"
        );
    }
}

/// A garbage answer inside a batch stops the check with an error naming the endpoint and the
/// coin; nothing is applied to the report.
#[test]
fn a_garbage_answer_in_a_batch_names_the_endpoint() {
    let mut c = chain();
    c.garbage = Some(txid(105));
    let server = Server::bitcoin_core(Arc::new(c.clone()));
    let mut r = report(
        (0..10)
            .map(|k| (vec![coin(&c, 100 + k, 0, 1_000_000)], "0.01"))
            .collect(),
    );
    let before = r.clone();
    let e = check_on_chain(&mut r, &nodes(&server.url), &NodeOptions::default()).unwrap_err();
    assert!(matches!(e, NodeError::Garbage { .. }), "{e}");
    let e = e.to_string();
    assert!(
        e.starts_with(&format!(
            "node {} answered garbage: coin {}:0",
            server.url,
            txid(105)
        )),
        "{e}"
    );
    assert_eq!(r, before, "nothing applied");
}
