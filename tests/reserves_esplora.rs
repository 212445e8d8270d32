//! `por-attest verify SNAPSHOT --node BTC=esplora+URL` end to end through the command line,
//! against a loopback server answering a small consistent chain as Esplora's REST API
//! documents it (`/block-height/:h`, `/tx/:txid`, `/tx/:txid/outspend/:vout`; 404 for what
//! it does not have). No Bitcoin node or Esplora can run here: the server answers canned data
//! in the documented shapes (`tests/support/loopback.rs`); `tests/reserves_bitcoin.rs` runs
//! against a real endpoint when one is named.

#[path = "support/loopback.rs"]
mod loopback;
use loopback::{txid, FakeChain, FakeTx, Server};

use por_attest::snapshot::{Coin, Entry, Snapshot, Spend};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

/// The example snapshot's BTC entries (signed by the test seed), anchored at BTC 925000.
fn btc_snapshot() -> Snapshot {
    let mut s = por_attest::fixtures::example_snapshot();
    s.entries.retain(|e| e.chain == "BTC");
    s
}

const ANCHOR_HEIGHT: u64 = 925_000;

/// The chain, paying the first entries' addresses `a`:
/// TX 1 (924900): a[0] 1 BTC, a[1] 0.3 BTC, both unspent;
/// TX 2 (924950): a[2] 0.2 BTC, spent by TX 3 at 925010 (after the anchor);
/// TX 4 (925005, after the anchor): a[3] 0.4 BTC;
/// TX 5 (924000): a[4] 0.05 BTC, spent by TX 6 at 924800 (before the anchor).
fn chain(s: &Snapshot, tip: u64) -> FakeChain {
    let a: Vec<&str> = s.entries.iter().map(|e| e.address.as_str()).collect();
    let tx = FakeTx::new;
    let elsewhere = "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh";
    FakeChain {
        tip,
        anchor: (ANCHOR_HEIGHT, s.header.anchors["BTC"].block_hash.clone()),
        txs: vec![
            tx(1, 924_900, &[(a[0], 100_000_000), (a[1], 30_000_000)], &[]),
            tx(2, 924_950, &[(a[2], 20_000_000)], &[]),
            tx(3, 925_010, &[(elsewhere, 19_990_000)], &[(2, 0)]),
            tx(4, 925_005, &[(a[3], 40_000_000)], &[]),
            tx(5, 924_000, &[(a[4], 5_000_000)], &[]),
            tx(6, 924_800, &[(elsewhere, 4_990_000)], &[(5, 0)]),
        ],
        ..FakeChain::default()
    }
}

/// Gives entry `e` its coins and the balance they add up to.
fn hold(e: &mut Entry, coins: Vec<Coin>) {
    let sat: u64 = coins.iter().map(|c| c.amount_sat).sum();
    e.balance = Some(por_attest::balance::plain(
        &por_attest::balance::from_base_units(&sat.into(), 8),
    ));
    e.coins = coins;
}

fn write(dir: &Path, s: &Snapshot) -> PathBuf {
    let p = dir.join("snapshot.json");
    std::fs::write(&p, s.to_file_bytes()).unwrap();
    p
}

/// `por-attest verify --json FILE --node BTC=esplora+URL`: exit code, the JSON report (when
/// there is one), stderr.
fn verify(file: &Path, url: &str) -> (i32, serde_json::Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_por-attest"))
        .args(["verify", "--json", file.to_str().unwrap(), "--node"])
        .arg(format!("BTC=esplora+{url}"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    (
        out.status.code().unwrap(),
        serde_json::from_str(&stdout).unwrap_or(serde_json::Value::Null),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The problem of entry `i` in a JSON report.
fn problem(j: &serde_json::Value, i: u64) -> String {
    j["problems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["entry"] == i)
        .map(|p| p["reason"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

/// Entries 0..3 holding what the chain gives them at the anchor.
fn matching(c: &FakeChain) -> Snapshot {
    let mut s = btc_snapshot();
    s.entries.truncate(3);
    hold(&mut s.entries[0], vec![c.coin(1, 0, 100_000_000, 924_900)]);
    hold(&mut s.entries[1], vec![c.coin(1, 1, 30_000_000, 924_900)]);
    let mut spent = c.coin(2, 0, 20_000_000, 924_950);
    spent.spent = Some(Spend {
        txid: txid(3),
        block_hash: c.block_hash(925_010),
    });
    hold(&mut s.entries[2], vec![spent]);
    s
}

#[test]
fn esplora_end_to_end_through_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let s = btc_snapshot();
    let c = chain(&s, ANCHOR_HEIGHT + 30);
    let server = Server::esplora(Arc::new(c.clone()));

    // Coins as the chain has them: VERIFIED, the on-chain total is their sum.
    let file = write(dir.path(), &matching(&c));
    let (code, j, err) = verify(&file, &server.url);
    assert_eq!(code, 0, "{j:#}\n{err}");
    assert_eq!(j["result"], "verified");
    assert_eq!(j["anchors"][0]["status"], "ok");
    assert_eq!(j["balances"]["BTC"]["onchain"], "1.5", "{j:#}");

    // Each way a coin can be wrong fails its entry, with its reason.
    let mut bad = btc_snapshot();
    bad.entries.truncate(7);
    let e = &mut bad.entries;
    hold(&mut e[0], vec![c.coin(1, 0, 100_000_000, 924_900)]);
    hold(&mut e[1], vec![c.coin(1, 1, 30_000_001, 924_900)]);
    // Listed under entry 2, but TX 1's output 0 pays entry 0's address.
    hold(&mut e[2], vec![c.coin(1, 0, 100_000_000, 924_900)]);
    // TX 4 is in block 925005, after the anchor; the file says 924990.
    hold(&mut e[3], vec![c.coin(4, 0, 40_000_000, 924_990)]);
    hold(&mut e[4], vec![c.coin(5, 0, 5_000_000, 924_000)]);
    hold(&mut e[5], vec![c.coin(999, 0, 1_000, 924_900)]);
    let file = write(dir.path(), &bad);
    let (code, j, err) = verify(&file, &server.url);
    assert_eq!(code, 1, "{j:#}\n{err}");
    assert_eq!(j["result"], "failed");
    assert_eq!(problem(&j, 0), "", "entry 0 holds its coin");
    let want = [
        (
            1,
            format!(
                "coin {}:1 is 30000000 sat on chain, the file states 30000001",
                txid(1)
            ),
        ),
        (
            2,
            format!(
                "coin {}:0 pays {}, not {}",
                txid(1),
                bad.entries[0].address,
                bad.entries[2].address
            ),
        ),
        (
            3,
            format!(
                "coin {}:0 was created at height 925005, after the anchor 925000 (the file \
                 states height 924990)",
                txid(4)
            ),
        ),
        (
            4,
            format!(
                "coin {}:0 was spent at height 924800, at or before the anchor 925000",
                txid(5)
            ),
        ),
        (
            5,
            format!(
                "coin {}:0: the node has no such transaction output (in block {})",
                txid(999),
                c.block_hash(924_900)
            ),
        ),
    ];
    for (i, reason) in want {
        assert_eq!(problem(&j, i), reason, "entry {i}: {j:#}");
    }
    // Entry 6 lists no coins: not checked on chain, said so.
    let human = Command::new(env!("CARGO_BIN_EXE_por-attest"))
        .args(["verify", file.to_str().unwrap(), "--node"])
        .arg(format!("BTC=esplora+{}", server.url))
        .output()
        .unwrap();
    let human = String::from_utf8_lossy(&human.stdout);
    assert!(
        human.contains("the file lists no coins of"),
        "entry 6 not checked on chain: {human}"
    );

    // The anchor height beyond the server's tip: its 404 means "no such block", the file fails.
    let short = Server::esplora(Arc::new(chain(&s, ANCHOR_HEIGHT - 1)));
    let file = write(dir.path(), &matching(&c));
    let (code, j, _) = verify(&file, &short.url);
    assert_eq!(code, 1, "{j:#}");
    let failures = j["file_failures"].to_string();
    assert!(
        failures.contains("has no block at that height"),
        "{failures}"
    );

    // A garbage answer: exit 2, the endpoint named, nothing reported.
    let mut g = c.clone();
    g.garbage = Some(txid(1));
    let garbage = Server::esplora(Arc::new(g));
    let (code, j, err) = verify(&file, &garbage.url);
    assert_eq!(code, 2, "{err}");
    assert_eq!(j, serde_json::Value::Null, "nothing reported");
    assert!(
        err.contains(&format!(
            "node {} answered garbage: coin {}:0: not JSON",
            garbage.url,
            txid(1)
        )),
        "{err}"
    );
}
