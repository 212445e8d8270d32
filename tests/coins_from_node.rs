//! `por-attest coins`: the custody team reads its Bitcoin addresses' coins at the anchor from
//! its own node, then `package --coins` puts them into the snapshot. Against loopback servers
//! answering as Bitcoin Core (`scantxoutset`, documented shape of Core 29 and of older nodes
//! without `blockhash`) and Esplora (`/address/:a/utxo`, `/blocks/tip/*`) do: no Bitcoin node
//! can run on this machine (README).

#[path = "support/loopback.rs"]
mod loopback;

use loopback::{serve, FakeChain, FakeTx, Reply, Server};
use por_attest::ceremony::{sign, SignOptions};
use por_attest::chains::ChainFamily;
use por_attest::demo::{write_manifest, DEMO_SIGNERS};
use por_attest::manifest::Manifest;
use por_attest::package::{package, read_coins_file, PackageOptions};
use por_attest::simulator::{SimulatedLedger, SimulatorConfig};
use por_attest::snapshot::Anchor;
use por_attest::verify::{verify_snapshot_file, VerifyOptions};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

fn cli(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_por-attest"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `por-attest coins --manifest MANIFEST NODE_ARGS --out OUT`.
fn coins_cli(manifest: &Path, node_args: &[&str], out: &Path) -> (i32, String, String) {
    let mut args = vec!["coins", "--manifest", manifest.to_str().unwrap()];
    args.extend_from_slice(node_args);
    args.extend(["--out", out.to_str().unwrap()]);
    cli(&args)
}

/// The demo manifest's Bitcoin addresses and anchor.
fn demo(dir: &Path) -> (std::path::PathBuf, Manifest, Vec<String>, Anchor) {
    let path = write_manifest(dir, 12).unwrap();
    let m = Manifest::load(&path).unwrap();
    let btc: Vec<String> = m
        .addresses
        .iter()
        .filter(|a| a.family == ChainFamily::Bitcoin)
        .map(|a| a.address.clone())
        .collect();
    let anchor = m.anchors["BTC"].clone();
    (path, m, btc, anchor)
}

/// The output script of an address, as Bitcoin Core writes `scriptPubKey`.
fn script_of(address: &str) -> String {
    let a: bitcoin::Address<bitcoin::address::NetworkUnchecked> = address.parse().unwrap();
    hex::encode(a.assume_checked().script_pubkey().as_bytes())
}

/// A Bitcoin Core answering `scantxoutset` at `tip` (height, hash) with one coin per address
/// (address i holds (i + 1) mBTC, created 10 blocks below the anchor), with `blockhash` in
/// each unspent or (an older node) without, then answering `getblockhash`.
fn core(addresses: &[String], tip: (u64, String), with_hash: bool) -> String {
    let addresses = addresses.to_vec();
    serve(move |method, params| match method {
        "scantxoutset" => {
            assert_eq!(params[0], "start");
            let unspents: Vec<Value> = addresses
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    assert_eq!(params[1][i], format!("addr({a})"));
                    let mut u = json!({"txid": format!("{:02x}", i).repeat(32), "vout": i,
                        "scriptPubKey": script_of(a), "desc": format!("addr({a})#00000000"),
                        "amount": (i + 1) as f64 / 1000.0, "coinbase": false,
                        "height": tip.0 - 10, "confirmations": 11});
                    if with_hash {
                        u["blockhash"] = json!("be".repeat(32));
                    }
                    u
                })
                .collect();
            Reply::Json(json!({"success": true, "txouts": 12345, "height": tip.0,
                "bestblock": tip.1, "unspents": unspents, "total_amount": 0}))
        }
        "getblockhash" => Reply::Json(json!("be".repeat(32))),
        _ => Reply::NotFound,
    })
}

#[test]
fn coins_from_bitcoin_core_reach_the_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let (path, m, btc, anchor) = demo(dir.path());
    assert!(btc.len() >= 4);
    for with_hash in [true, false] {
        let url = core(&btc, (anchor.height, anchor.block_hash.clone()), with_hash);
        let out = dir.path().join("coins.json");
        let (code, stdout, stderr) = coins_cli(&path, &["--node", &format!("BTC={url}")], &out);
        assert_eq!(code, 0, "{stderr}");
        assert!(
            stdout.starts_with(&format!("{} coins of {} addresses", btc.len(), btc.len())),
            "{stdout}"
        );
        let coins = read_coins_file(&out).unwrap();
        assert_eq!(coins.len(), btc.len());
        let c = &coins[&btc[2]][0];
        assert_eq!(
            (c.amount_sat, c.vout, c.height),
            (300_000, 2, anchor.height - 10)
        );
        assert_eq!(c.block_hash, "be".repeat(32));
    }

    // The ceremony with those coins: each Bitcoin entry carries its coin, and verifies.
    let coins = read_coins_file(&dir.path().join("coins.json")).unwrap();
    let journals: Vec<_> = DEMO_SIGNERS
        .iter()
        .map(|(id, words)| {
            let j = dir.path().join(format!("journal-{id}.jsonl"));
            let s = SimulatedLedger::new(SimulatorConfig::with_mnemonic(words)).unwrap();
            let opts = SignOptions {
                signer: Some(id.to_string()),
                device_is_simulator: true,
                ..SignOptions::default()
            };
            sign(&m, &j, &mut s.transport(), &opts).unwrap();
            j
        })
        .collect();
    let p = package(
        &m,
        &journals,
        &PackageOptions {
            coins,
            ..PackageOptions::default()
        },
    )
    .unwrap();
    for e in p.snapshot.entries.iter().filter(|e| e.chain == "BTC") {
        assert_eq!(e.coins.len(), 1, "{}", e.address);
    }
    let snap = dir.path().join("snapshot.json");
    std::fs::write(&snap, p.snapshot.to_file_bytes()).unwrap();
    let r = verify_snapshot_file(&snap, &VerifyOptions::default()).unwrap();
    assert_eq!(r.result, "verified", "{}", r.to_human());
}

#[test]
fn a_tip_past_the_anchor_or_a_garbage_scan_is_refused_naming_the_node() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _, btc, anchor) = demo(dir.path());
    let out = dir.path().join("coins.json");
    let run = |url: &str| coins_cli(&path, &["--node", &format!("BTC={url}")], &out);
    // One block below the anchor: the node has not reached it.
    let below = core(&btc, (anchor.height - 1, "ee".repeat(32)), true);
    let (code, _, stderr) = run(&below);
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with(&format!(
            "error: node {below}: the node's tip is block {} at height {}, not the anchor",
            "ee".repeat(32),
            anchor.height - 1
        )),
        "{stderr}"
    );
    assert!(!out.exists(), "nothing written");
    // A scan that did not complete.
    let aborted = serve(|_, _| Reply::Json(json!({"success": false})));
    let (code, _, stderr) = run(&aborted);
    assert_eq!(code, 2);
    assert!(stderr.contains("the scan did not complete"), "{stderr}");
    // No node for the chain.
    let (code, _, stderr) = coins_cli(&path, &[], &out);
    assert_eq!(code, 2);
    assert!(stderr.contains("no node given for chain BTC"), "{stderr}");
}

/// Esplora's REST API: the tip, then each address's confirmed UTXOs (an unconfirmed one is
/// left out).
#[test]
fn coins_from_esplora() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _, btc, anchor) = demo(dir.path());
    let tip = anchor.clone();
    let first = btc[0].clone();
    let url = serve(move |path, _| match path {
        "/blocks/tip/height" => Reply::Text(tip.height.to_string()),
        "/blocks/tip/hash" => Reply::Text(tip.block_hash.clone()),
        p if p == format!("/address/{first}/utxo") => Reply::Json(json!([
            {"txid": "aa".repeat(32), "vout": 0, "value": 1234,
             "status": {"confirmed": true, "block_height": tip.height - 2,
                        "block_hash": "bc".repeat(32), "block_time": 1}},
            {"txid": "ab".repeat(32), "vout": 1, "value": 99,
             "status": {"confirmed": false}}
        ])),
        p if p.starts_with("/address/") && p.ends_with("/utxo") => Reply::Json(json!([])),
        _ => Reply::NotFound,
    });
    let nodes = dir.path().join("nodes.toml");
    std::fs::write(
        &nodes,
        format!("[[node]]\nchain = \"BTC\"\nurl = \"{url}\"\nkind = \"esplora\"\n"),
    )
    .unwrap();
    let out = dir.path().join("coins.json");
    let (code, stdout, stderr) = coins_cli(&path, &["--nodes", nodes.to_str().unwrap()], &out);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.starts_with(&format!("1 coins of {} addresses, 1234 sat", btc.len())),
        "{stdout}"
    );
    let coins = read_coins_file(&out).unwrap();
    assert_eq!(coins[&btc[0]][0].block_hash, "bc".repeat(32));
    assert!(coins[&btc[1]].is_empty());
}

/// A tip two blocks past the anchor, on Bitcoin Core and on Esplora: the coins read at the tip
/// are taken back to the anchor through its blocks (getblock HASH 3 / Esplora's block pages,
/// with prevouts): the coin spent after the anchor is put back with its spend recorded, the
/// change and the coin received after it are taken out, the coin spent before it stays out.
/// A node whose block at the anchor's height is another one is refused.
#[test]
fn coins_at_the_anchor_from_a_tip_past_it() {
    use por_attest::reserves::coins::coins_at_anchor;
    use por_attest::reserves::{Nodes, Policy};
    let dir = tempfile::tempdir().unwrap();
    let (_, _, btc, anchor) = demo(dir.path());
    let (b0, b1) = (btc[0].as_str(), btc[1].as_str());
    let elsewhere = "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh";
    let h = anchor.height;
    let tx = FakeTx::new;
    let chain = |anchor_hash: &str| FakeChain {
        tip: h + 2,
        anchor: (h, anchor_hash.to_string()),
        txs: vec![
            tx(1, h - 10, &[(b0, 100_000_000), (b1, 30_000_000)], &[]),
            tx(
                2,
                h + 1,
                &[(elsewhere, 60_000_000), (b0, 39_990_000)],
                &[(1, 0)],
            ),
            tx(3, h + 2, &[(b1, 5_000_000)], &[]),
            tx(4, h - 5, &[(b1, 20_000_000)], &[]),
            tx(5, h - 1, &[(elsewhere, 19_990_000)], &[(4, 0)]),
        ],
        ..FakeChain::default()
    };
    let good = chain(&anchor.block_hash);
    let addresses = vec![b0.to_string(), b1.to_string()];
    for esplora in [false, true] {
        let server = if esplora {
            Server::esplora(std::sync::Arc::new(good.clone()))
        } else {
            Server::bitcoin_core(std::sync::Arc::new(good.clone()))
        };
        let prefix = if esplora { "esplora+" } else { "" };
        let mut n = Nodes::default();
        n.add_arg(&format!("BTC={prefix}{}", server.url)).unwrap();
        let e = &n.endpoints["BTC"];
        let coins = coins_at_anchor(e, &addresses, &anchor, Policy::default()).unwrap();
        let spent = &coins[b0];
        assert_eq!(spent.len(), 1, "{coins:?}");
        assert_eq!(
            (spent[0].txid.as_str(), spent[0].vout, spent[0].amount_sat),
            (loopback::txid(1).as_str(), 0, 100_000_000)
        );
        assert_eq!(
            (spent[0].height, spent[0].block_hash.as_str()),
            (h - 10, good.block_hash(h - 10).as_str())
        );
        let rec = spent[0]
            .spent
            .as_ref()
            .expect("the spend after the anchor recorded");
        assert_eq!(
            (rec.txid.as_str(), rec.block_hash.as_str()),
            (loopback::txid(2).as_str(), good.block_hash(h + 1).as_str())
        );
        let kept: Vec<(String, u32)> = coins[b1].iter().map(|c| (c.txid.clone(), c.vout)).collect();
        assert_eq!(kept, [(loopback::txid(1), 1)], "esplora {esplora}");
        assert!(coins[b1][0].spent.is_none());
        // The node's block at the anchor's height is another one.
        let other = if esplora {
            Server::esplora(std::sync::Arc::new(chain(&"ee".repeat(32))))
        } else {
            Server::bitcoin_core(std::sync::Arc::new(chain(&"ee".repeat(32))))
        };
        let mut n = Nodes::default();
        n.add_arg(&format!("BTC={prefix}{}", other.url)).unwrap();
        let err = coins_at_anchor(&n.endpoints["BTC"], &addresses, &anchor, Policy::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("the node's chain does not hold the anchor block"),
            "{err}"
        );
    }
}
