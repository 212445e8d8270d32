//! `por-attest watch` on Bitcoin: the snapshot's coins followed block by block on the loopback
//! Bitcoin Core and Esplora lookalikes of `tests/support/loopback.rs` (no Bitcoin node can run
//! here): a coin spent one block after the anchor (its spend not recorded in the file) is held at
//! the anchor (the check walks the blocks after it) and is an outflow naming the spending
//! transaction; then the chain reorganizes under it: the reorg is reported, the movements
//! undone, and the new branch's blocks applied.

#[path = "support/loopback.rs"]
mod loopback;
#[path = "support/watcher.rs"]
mod watcher;

use loopback::{switchable, txid, FakeChain, FakeTx, Server};
use por_attest::snapshot::{Entry, Snapshot};
use std::process::Command;
use std::sync::Arc;
use watcher::{is, Watcher};

const ANCHOR: u64 = 925_000;
const ELSEWHERE: &str = "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh";

/// The example snapshot's first two BTC entries: entry 0 (cold) holds TX 1's output 0 (1 BTC),
/// entry 1 its output 1 (0.3 BTC), both created before the anchor.
fn snapshot(c: &FakeChain) -> Snapshot {
    let mut s = por_attest::fixtures::example_snapshot();
    s.entries.retain(|e| e.chain == "BTC");
    s.entries.truncate(2);
    let hold = |e: &mut Entry, vout: u32, sat: u64| {
        e.coins = vec![c.coin(1, vout, sat, ANCHOR - 100)];
        e.balance = Some(por_attest::balance::plain(
            &por_attest::balance::from_base_units(&sat.into(), 8),
        ));
    };
    hold(&mut s.entries[0], 0, 100_000_000);
    hold(&mut s.entries[1], 1, 30_000_000);
    s.entries[0].wallet = Some("cold".into());
    s
}

/// Branch `branch` from block `ANCHOR + 1` up to `tip`: TX 1 (before the anchor) pays the
/// two addresses; TX 2 at `spend_at` spends the cold coin (0.6 elsewhere, 0.3999 back); on
/// branch 1, TX 3 at `ANCHOR + 2` pays entry 1 0.05 BTC.
fn chain(a: &[String], hash: &str, branch: u8, tip: u64, spend_at: u64) -> FakeChain {
    let tx = FakeTx::new;
    let mut txs = vec![
        tx(
            1,
            ANCHOR - 100,
            &[(&a[0], 100_000_000), (&a[1], 30_000_000)],
            &[],
        ),
        tx(
            2,
            spend_at,
            &[(ELSEWHERE, 60_000_000), (&a[0], 39_990_000)],
            &[(1, 0)],
        ),
    ];
    if branch == 1 {
        txs.push(tx(3, ANCHOR + 2, &[(&a[1], 5_000_000)], &[]));
    }
    FakeChain {
        tip,
        anchor: (ANCHOR, hash.to_string()),
        txs,
        fork: (ANCHOR + 1, branch),
        ..FakeChain::default()
    }
}

fn follow(esplora: bool) {
    let base = snapshot(&FakeChain::default());
    let a: Vec<String> = base.entries.iter().map(|e| e.address.clone()).collect();
    let hash = base.header.anchors["BTC"].block_hash.clone();
    let first = chain(&a, &hash, 0, ANCHOR + 1, ANCHOR + 1);
    let s = snapshot(&first);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snapshot.json");
    std::fs::write(&path, s.to_file_bytes()).unwrap();
    let cell = switchable(Arc::new(first.clone()));
    let server = if esplora {
        Server::esplora_of(cell.clone())
    } else {
        Server::bitcoin_core_of(cell.clone())
    };
    let node = if esplora {
        format!("BTC=esplora+{}", server.url)
    } else {
        format!("BTC={}", server.url)
    };
    let file = path.to_str().unwrap();

    if !esplora {
        // verify --node with the tip past the anchor: the coin spent one block after it, its
        // spend not in the file, counts at the anchor.
        let out = Command::new(env!("CARGO_BIN_EXE_por-attest"))
            .args(["verify", file, "--node", &node])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{text}");
        assert!(text.ends_with(": VERIFIED\n"), "{text}");
    }

    let mut w = Watcher::start(&[file, "--node", &node, "--json", "--poll", "0.1"]);
    let start = w.wait_for("start", |v| is(v, "start"));
    assert_eq!(start["check"]["result"], "verified", "{start}");
    assert_eq!(
        (start["addresses"].as_u64(), start["coins"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(start["totals"][0]["at_anchor"], "1.3");
    // The coin spent at ANCHOR + 1: an outflow naming TX 2, the change an inflow, an alert.
    let out = w.wait_for("outflow", |v| is(v, "outflow"));
    assert_eq!(
        (out["height"].as_u64(), out["hash"].as_str()),
        (
            Some(ANCHOR + 1),
            Some(first.block_hash(ANCHOR + 1).as_str())
        )
    );
    assert_eq!(
        (
            out["address"].as_str(),
            out["amount"].as_str(),
            out["balance"].as_str()
        ),
        (Some(a[0].as_str()), Some("1"), Some("0"))
    );
    assert_eq!(out["tx"], txid(2));
    let inflow = w.wait_for("inflow", |v| is(v, "inflow"));
    assert_eq!(
        (inflow["amount"].as_str(), inflow["tx"].as_str()),
        (Some("0.3999"), Some(txid(2).as_str()))
    );
    let alert = w.wait_for("alert", |v| is(v, "alert"));
    assert_eq!(alert["kind"], "cold-outflow");
    let block = w.wait_for("block", |v| is(v, "block"));
    assert_eq!(
        (
            block["totals"][0]["now"].as_str(),
            block["totals"][0]["change"].as_str()
        ),
        (Some("0.6999"), Some("-0.6001"))
    );

    // The chain reorganizes from ANCHOR + 1: TX 2 moves to ANCHOR + 3, TX 3 pays entry 1.
    let second = chain(&a, &hash, 1, ANCHOR + 3, ANCHOR + 3);
    *cell.lock().unwrap() = Arc::new(second.clone());
    let reorg = w.wait_for("reorg", |v| is(v, "reorg"));
    assert_eq!(
        (reorg["height"].as_u64(), reorg["depth"].as_u64()),
        (Some(ANCHOR), Some(1)),
        "{reorg}"
    );
    assert_eq!(reorg["hash"], hash);
    assert_eq!(
        reorg["old"],
        serde_json::json!([first.block_hash(ANCHOR + 1)])
    );
    assert_eq!(
        reorg["new"],
        serde_json::json!([second.block_hash(ANCHOR + 1)])
    );
    assert_eq!(reorg["undone"], 2);
    assert_eq!(
        reorg["totals"][0]["now"], "1.3",
        "the spend and its change undone"
    );
    let inflow = w.wait_for("the new branch's inflow", |v| is(v, "inflow"));
    assert_eq!(
        (
            inflow["height"].as_u64(),
            inflow["address"].as_str(),
            inflow["amount"].as_str()
        ),
        (Some(ANCHOR + 2), Some(a[1].as_str()), Some("0.05"))
    );
    let out = w.wait_for("the spend again", |v| is(v, "outflow"));
    assert_eq!(
        (out["height"].as_u64(), out["hash"].as_str()),
        (
            Some(ANCHOR + 3),
            Some(second.block_hash(ANCHOR + 3).as_str())
        )
    );
    let block = w.wait_for("the new tip", |v| {
        is(v, "block") && v["height"] == ANCHOR + 3
    });
    assert_eq!(block["totals"][0]["now"], "0.7499");
    assert_eq!(w.terminate(), 0);
}

#[test]
fn bitcoin_core_coins_followed_through_a_reorg() {
    follow(false);
}

#[test]
fn esplora_coins_followed_through_a_reorg() {
    follow(true);
}

/// `watch --json --exit-on-alert --stall 0.5` on `node`: the exit status and the events.
fn until_alert(file: &str, node: &str) -> (i32, Vec<serde_json::Value>) {
    let out = Command::new(env!("CARGO_BIN_EXE_por-attest"))
        .args([
            "watch",
            file,
            "--node",
            node,
            "--json",
            "--poll",
            "0.1",
            "--stall",
            "0.5",
            "--exit-on-alert",
        ])
        .output()
        .unwrap();
    let events = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (out.status.code().unwrap(), events)
}

/// A node down from the start: node_error per try (with back-off), then a node-down alert;
/// a node that answers but stops advancing: a node-stalled alert. Both exit 1 with
/// --exit-on-alert.
#[test]
fn a_node_down_or_stalled_is_reported_and_alerted() {
    let base = snapshot(&FakeChain::default());
    let a: Vec<String> = base.entries.iter().map(|e| e.address.clone()).collect();
    let hash = base.header.anchors["BTC"].block_hash.clone();
    let c = chain(&a, &hash, 0, ANCHOR + 1, ANCHOR + 1);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snapshot.json");
    std::fs::write(&path, snapshot(&c).to_file_bytes()).unwrap();
    let file = path.to_str().unwrap();

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (code, events) = until_alert(file, &format!("BTC=http://{closed}"));
    assert_eq!(code, 1, "{events:?}");
    let (last, errors) = events.split_last().unwrap();
    assert_eq!(
        (last["event"].as_str(), last["kind"].as_str()),
        (Some("alert"), Some("node-down")),
        "{events:?}"
    );
    assert!(
        !errors.is_empty() && errors.iter().all(|e| e["event"] == "node_error"),
        "{events:?}"
    );
    assert_eq!(errors[0]["attempt"], 1);
    assert!(
        errors[0]["error"].as_str().unwrap().contains("unreachable"),
        "{}",
        errors[0]
    );
    let waits: Vec<f64> = errors
        .iter()
        .map(|e| e["retry_in"].as_f64().unwrap())
        .collect();
    assert!(
        waits.windows(2).all(|w| w[1] >= w[0]),
        "back-off grows: {waits:?}"
    );

    let server = Server::bitcoin_core(Arc::new(c));
    let (code, events) = until_alert(file, &format!("BTC={}", server.url));
    // The cold outflow at ANCHOR + 1 comes first: without it, the stall is the alert.
    assert_eq!(code, 1);
    assert_eq!(events.last().unwrap()["kind"], "cold-outflow");
    let mut s = snapshot(&FakeChain::default());
    s.entries[0].wallet = None;
    std::fs::write(&path, s.to_file_bytes()).unwrap();
    let (code, events) = until_alert(file, &format!("BTC={}", server.url));
    assert_eq!(code, 1);
    let last = events.last().unwrap();
    assert_eq!(
        (last["kind"].as_str(), last["height"].as_u64()),
        (Some("node-stalled"), Some(ANCHOR + 1)),
        "{events:?}"
    );
}

/// What cannot be watched exits 2 with the reason, before any node is asked: a WebSocket URL,
/// no node, a percentage out of range, a chain of the file with no node given.
#[test]
fn unusable_arguments_exit_2_naming_them() {
    let c = FakeChain::default();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snapshot.json");
    std::fs::write(&path, snapshot(&c).to_file_bytes()).unwrap();
    let file = path.to_str().unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_por-attest"))
            .arg("watch")
            .arg(file)
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run(&["--node", "BTC=ws://127.0.0.1:1/"]);
    assert_eq!(code, 2);
    assert!(err.contains("node ws://127.0.0.1:1: watch polls over HTTP (eth_subscribe over a WebSocket is not supported)"), "{err}");
    let (code, err) = run(&[]);
    assert_eq!(
        (code, err.trim_end()),
        (
            2,
            "error: watch needs at least one --node CHAIN=URL (or --nodes FILE)"
        )
    );
    let (code, err) = run(&["--node", "BTC=http://127.0.0.1:1", "--alert-drop", "150"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--alert-drop: `150` is not a percentage from 0 to 100"),
        "{err}"
    );
    let (code, err) = run(&["--node", "ETH=http://127.0.0.1:1"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("nothing to watch: no address of the file is on a chain given with --node"),
        "{err}"
    );
}
