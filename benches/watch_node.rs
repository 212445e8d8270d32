//! `cargo bench --bench watch_node`: `watch` following a local ganache with 10,000 and 100,000
//! reserve addresses: blocks per second, HTTP requests per block, memory.
//!
//! Starts ganache (as the tests do: `tools/node_modules`, a free loopback port, the simulator's
//! seed, stopped by PID). Per size N (`POR_ATTEST_WATCH_ADDRESSES`, default `10000,100000`):
//! a report whose claims are N distinct addresses (one in a hundred a funded account, the others
//! never used) stating their balances at a fresh anchor; then `POR_ATTEST_WATCH_BLOCKS`
//! (default 10) blocks, each with a transfer between two of the funded reserve accounts; then
//! `watch` from the anchor until it has applied them. Prints the time to the start (the check
//! at the anchor and the anchor balances), blocks per second and HTTP requests per block after
//! it (`--node-batch` `POR_ATTEST_WATCH_BATCH`, default 500; 4 requests in flight), and the
//! process's resident memory. No timed asserts; it checks every block brought its two
//! movements. Without ganache it says why and stops.

mod common;
#[path = "../tests/support/ganache.rs"]
mod ganache;
use common::{env_num, label};

use por_attest::report::{Outcome, Report};
use por_attest::reserves::rpc::HTTP_REQUESTS;
use por_attest::reserves::watch::{watch, Event, Stopped, Wallets, WatchOptions};
use por_attest::reserves::Nodes;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// `VmRSS` and `VmHWM` of this process, in MiB.
fn memory() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = |key: &str| {
        s.lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (kib("VmRSS:") / 1024, kib("VmHWM:") / 1024)
}

fn main() {
    let g = match ganache::Ganache::start() {
        Ok(g) => g,
        Err(why) => {
            eprintln!("watch_node: skipped: {why}");
            return;
        }
    };
    let sizes: Vec<u64> = std::env::var("POR_ATTEST_WATCH_ADDRESSES")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10_000, 100_000]);
    let blocks = env_num("POR_ATTEST_WATCH_BLOCKS").unwrap_or(10);
    let batch = env_num("POR_ATTEST_WATCH_BATCH").unwrap_or(500) as usize;
    let accounts = g.accounts();
    let mut nodes = Nodes::default();
    nodes.add_arg(&format!("ETH={}", g.url)).unwrap();
    println!(
        "watch_node: ganache 7.9.2 at {}, {blocks} blocks per run, batch {batch}",
        g.url
    );
    for n in sizes {
        let anchor = g.height();
        let hash = g.block_hash(anchor);
        let funded: Vec<String> = accounts
            .iter()
            .map(|a| {
                por_attest::balance::plain(&por_attest::balance::from_base_units(
                    &g.balance_at(a, anchor).parse().unwrap(),
                    18,
                ))
            })
            .collect();
        let mut r = Report::new("bench", "por-attest-snapshot");
        for i in 0..n {
            let (address, balance) = if i % 100 == 0 {
                let k = (i / 100) as usize % accounts.len();
                (accounts[k].clone(), funded[k].clone())
            } else {
                let h = por_attest::schemes::evm::keccak256(&(i + n * 1_000_000).to_le_bytes());
                (format!("0x{}", hex::encode(&h[..20])), "0".to_string())
            };
            r.record(i, None, "ETH", &address, Outcome::Verified);
            r.claims
                .push(common::eth_claim(i, address, &balance, anchor));
        }
        r.stated_anchors.insert(
            "ETH".into(),
            por_attest::snapshot::Anchor {
                height: anchor,
                block_hash: hash,
            },
        );
        r.finish(false);
        for _ in 0..blocks {
            g.send(serde_json::json!({"from": accounts[1], "to": accounts[2], "value": "0x1"}));
        }
        let (rss_report, _) = memory();
        let opts = WatchOptions {
            poll: Duration::from_millis(20),
            batch,
            concurrency: 4,
            stop_after: Some(blocks),
            ..WatchOptions::default()
        };
        let t0 = Instant::now();
        let mut started: Option<(Instant, u64)> = None;
        let mut seen = 0u64;
        let mut movements = 0usize;
        let mut sink = |e: Event| {
            match &e {
                Event::Start { .. } => {
                    started = Some((Instant::now(), HTTP_REQUESTS.load(Ordering::Relaxed)))
                }
                Event::Block { movements: m, .. } => {
                    seen += 1;
                    movements += m;
                }
                Event::NodeError { error, .. } => panic!("node error: {error}"),
                _ => {}
            }
            true
        };
        let stopped = watch(r, &Wallets::new(), &nodes, &opts, &mut sink).unwrap();
        let end = Instant::now();
        let requests = HTTP_REQUESTS.load(Ordering::Relaxed);
        assert_eq!(stopped, Stopped::Done);
        assert_eq!(seen, blocks);
        assert_eq!(
            movements as u64,
            2 * blocks,
            "each block moves two reserve accounts"
        );
        let (start_at, start_requests) = started.expect("a start event");
        let walk = (end - start_at).as_secs_f64();
        let (rss, hwm) = memory();
        println!(
            "watch-{}: start (check + anchor balances) {:.2} s; {blocks} blocks in {walk:.2} s = {:.2} blocks/s, {:.0} balances/s; {:.1} HTTP requests per block; memory: {rss_report} MiB with the report, {rss} MiB after, peak {hwm} MiB",
            label(n),
            (start_at - t0).as_secs_f64(),
            blocks as f64 / walk,
            (n * blocks) as f64 / walk,
            (requests - start_requests) as f64 / blocks as f64,
        );
    }
}
