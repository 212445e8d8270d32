//! `cargo bench --bench reserves_node`: the balances of 100,000 addresses checked against a
//! local ganache at one block, with JSON-RPC batching and without.
//!
//! Starts ganache (as the tests do: `tools/node_modules`, a free loopback port, the simulator's
//! seed, stopped by PID), makes an anchor block, and builds a report whose claims are
//! `POR_ATTEST_NODE_ADDRESSES` (default 100000) distinct addresses (one in a hundred a funded
//! account, the others never used) each stating a zero balance, or its balance at the anchor.
//! Then times `check_on_chain` with `--node-batch` 100 and 1, both with `--node-concurrency`
//! `POR_ATTEST_NODE_CONCURRENCY` (default 8), checking that every address verified. Prints
//! wall time and calls per second for each. No timed asserts. Without ganache it says why and
//! stops.
//!
//! First, Bitcoin: `POR_ATTEST_BTC_COINS` (default 20000) coins, one address each, proven
//! through the Bitcoin Core client with `--node-batch` 100 and 1 against a **loopback server
//! answering canned data** (`tests/support/loopback.rs`), not a node: the figures measure the
//! client and its batching (HTTP requests saved), not a node's lookups.

mod common;
#[path = "../tests/support/ganache.rs"]
mod ganache;
#[path = "../tests/support/loopback.rs"]
mod loopback;
use common::{env_num, label};

use por_attest::report::{Outcome, Report};
use por_attest::reserves::{check_on_chain, NodeOptions, Nodes};
use std::time::Instant;

fn main() {
    bitcoin_core_loopback();
    let g = match ganache::Ganache::start() {
        Ok(g) => g,
        Err(why) => {
            eprintln!("reserves_node: skipped: {why}");
            return;
        }
    };
    let n = env_num("POR_ATTEST_NODE_ADDRESSES").unwrap_or(100_000);
    let concurrency = env_num("POR_ATTEST_NODE_CONCURRENCY").unwrap_or(8) as usize;
    let accounts = g.accounts();
    g.send(serde_json::json!({"from": accounts[0], "to": accounts[1], "value": "0x1"}));
    let anchor = g.height();
    let funded: Vec<String> = accounts
        .iter()
        .map(|a| {
            por_attest::balance::plain(&por_attest::balance::from_base_units(
                &g.balance_at(a, anchor).parse().unwrap(),
                18,
            ))
        })
        .collect();
    let base = {
        let mut r = Report::new("bench", "por-attest-snapshot");
        for i in 0..n {
            let (address, balance) = if i % 100 == 0 {
                let k = (i / 100) as usize % accounts.len();
                (accounts[k].clone(), funded[k].clone())
            } else {
                let h = por_attest::schemes::evm::keccak256(&i.to_le_bytes());
                (format!("0x{}", hex::encode(&h[..20])), "0".to_string())
            };
            r.record(i, None, "ETH", &address, Outcome::Verified);
            r.claims
                .push(common::eth_claim(i, address, &balance, anchor));
        }
        r.finish(false);
        r
    };
    let mut nodes = Nodes::default();
    nodes.add_arg(&format!("ETH={}", g.url)).unwrap();
    println!(
        "reserves_node: {n} addresses against ganache 7.9.2 ({}), concurrency {concurrency}",
        g.url
    );
    for batch in [100usize, 1] {
        let mut r = base.clone();
        let t0 = Instant::now();
        check_on_chain(
            &mut r,
            &nodes,
            &NodeOptions {
                concurrency,
                batch,
                ..NodeOptions::default()
            },
        )
        .unwrap();
        let wall = t0.elapsed().as_secs_f64();
        assert_eq!(
            (r.verified, r.failed, r.not_checked),
            (n, 0, 0),
            "every address at its anchor balance"
        );
        let calls = n as f64;
        println!(
            "reserves-{}: batch {batch:>3}: {wall:.2} s wall, {:.0} eth_getBalance calls/s, {:.0} HTTP requests/s",
            label(n),
            calls / wall,
            (calls / batch as f64).ceil() / wall
        );
    }
}

/// Bitcoin Core's client against the loopback lookalike: coins proven per second, batched and
/// not (see the module doc: canned answers, not a node).
fn bitcoin_core_loopback() {
    use loopback::{FakeChain, FakeTx, Server};
    let n = env_num("POR_ATTEST_BTC_COINS").unwrap_or(20_000);
    let concurrency = env_num("POR_ATTEST_NODE_CONCURRENCY").unwrap_or(8) as usize;
    let (anchor, address) = (925_000u64, "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu");
    // One transaction per coin, a hundred coins to a block.
    let height = |k: u64| anchor - 1 - k / 100;
    let chain = FakeChain {
        tip: anchor + 6,
        anchor: (anchor, "00".repeat(32)),
        txs: (0..n)
            .map(|k| FakeTx::new(k, height(k), &[(address, 10_000)], &[]))
            .collect(),
        ..FakeChain::default()
    };
    let mut base = Report::new("bench", "por-attest-snapshot");
    base.stated_anchors.insert(
        "BTC".into(),
        por_attest::snapshot::Anchor {
            height: anchor,
            block_hash: chain.block_hash(anchor),
        },
    );
    for k in 0..n {
        base.record(k, None, "BTC", address, Outcome::Verified);
        let coins = vec![chain.coin(k, 0, 10_000, height(k))];
        base.claims
            .push(loopback::btc_claim(k, address, coins, "0.0001", anchor));
    }
    base.finish(false);
    let server = Server::bitcoin_core(std::sync::Arc::new(chain));
    let mut nodes = Nodes::default();
    nodes.add_arg(&format!("BTC={}", server.url)).unwrap();
    println!(
        "reserves_node: {n} Bitcoin coins against a loopback server answering canned Bitcoin \
         Core data (not a node), concurrency {concurrency}"
    );
    for batch in [100usize, 1] {
        let mut r = base.clone();
        server.reset_requests();
        let t0 = Instant::now();
        let opts = NodeOptions {
            concurrency,
            batch,
            ..NodeOptions::default()
        };
        check_on_chain(&mut r, &nodes, &opts).unwrap();
        let wall = t0.elapsed().as_secs_f64();
        assert_eq!((r.verified, r.failed), (n, 0), "every coin proven");
        let requests = server.requests() as f64;
        println!(
            "reserves-btc-loopback-{}: batch {batch:>3}: {wall:.2} s wall, {:.0} coins/s, \
             {requests:.0} HTTP requests ({:.0}/s)",
            label(n),
            n as f64 / wall,
            requests / wall
        );
    }
}
