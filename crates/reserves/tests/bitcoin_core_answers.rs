//! The Bitcoin Core client end to end against a loopback server that answers with Bitcoin
//! Core's documented response shapes (`getblockhash`, `getblockheader`, `getrawtransaction TXID
//! true BLOCKHASH`, `gettxout`): the anchor is checked, each listed coin proven, the balance is
//! the sum of the proven coins; a coin spent with no recorded spend fails. (No real Bitcoin
//! node can run here; `tests/reserves_bitcoin.rs` of the root package runs against one when
//! named.)

use por_attest_reserves::{check_on_chain, NodeOptions, Nodes};
use por_attest_verify::claim::Claim;
use por_attest_verify::report::{Outcome, Report};
use por_attest_verify::snapshot::{Anchor, Coin};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};

const ANCHOR: &str = "00000000000000000001c5f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6e5f";
const CREATED: &str = "0000000000000000000111111111111111111111111111111111111111111111";
const TX: &str = "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b";
const TX2: &str = "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16";
const ADDR: &str = "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu";

/// What the fake node answers to one call.
fn answer(method: &str, params: &Value) -> Value {
    let result = match method {
        "getblockhash" if params[0] == 925_000 => json!(ANCHOR),
        "getblockhash" => {
            return json!({"code": -8, "message": "Block height out of range"});
        }
        "getblockheader" => json!({
            "hash": params[0], "confirmations": 25, "height": 924_990, "version": 1,
            "merkleroot": TX, "time": 1, "mediantime": 1, "nonce": 1, "bits": "17034219",
            "difficulty": 1.0, "chainwork": "00", "nTx": 2
        }),
        "getrawtransaction" => json!({
            "in_active_chain": true, "txid": params[0], "hash": params[0], "version": 2,
            "size": 222, "vsize": 141, "weight": 561, "locktime": 0,
            "vin": [{"txid": TX2, "vout": 0, "scriptSig": {"asm": "", "hex": ""}, "sequence": 4294967293u64}],
            "vout": [
                {"value": 0.5, "n": 0, "scriptPubKey": {"asm": "", "hex": "", "address": ADDR, "type": "witness_v0_keyhash"}},
                {"value": 1.25, "n": 1, "scriptPubKey": {"asm": "", "hex": "", "address": ADDR, "type": "witness_v0_keyhash"}}
            ],
            "blockhash": params[2], "confirmations": 25, "time": 1, "blocktime": 1
        }),
        // Output 0 of TX is unspent, output 1 spent since.
        "gettxout" if params[1] == 0 => json!({
            "bestblock": ANCHOR, "confirmations": 25, "value": 0.5,
            "scriptPubKey": {"asm": "", "hex": "", "address": ADDR, "type": "witness_v0_keyhash"},
            "coinbase": false
        }),
        "gettxout" => Value::Null,
        _ => return json!({"code": -32601, "message": "Method not found"}),
    };
    json!({"result": result, "error": null})
}

/// A loopback Bitcoin Core lookalike (JSON-RPC over HTTP/1.1, one call or a batch).
fn serve() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(s) = s else { return };
            std::thread::spawn(move || {
                let mut r = BufReader::new(s.try_clone().unwrap());
                let mut w = s;
                loop {
                    let mut len = 0usize;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if r.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let l = line.trim_end();
                        if l.is_empty() {
                            break;
                        }
                        if let Some(v) = l.to_ascii_lowercase().strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap();
                        }
                    }
                    let mut body = vec![0u8; len];
                    r.read_exact(&mut body).unwrap();
                    let req: Value = serde_json::from_slice(&body).unwrap();
                    let one = |c: &Value| {
                        let mut a = answer(c["method"].as_str().unwrap(), &c["params"]);
                        if a.get("code").is_some() {
                            a = json!({"result": null, "error": a});
                        }
                        a["id"] = c["id"].clone();
                        a
                    };
                    let out = match &req {
                        Value::Array(calls) => Value::Array(calls.iter().map(one).collect()),
                        c => one(c),
                    };
                    let text = out.to_string();
                    let _ = write!(
                        w,
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{text}",
                        text.len()
                    );
                }
            });
        }
    });
    url
}

fn coin(vout: u32, sat: u64) -> Coin {
    Coin {
        txid: TX.into(),
        vout,
        amount_sat: sat,
        height: 924_990,
        block_hash: CREATED.into(),
        spent: None,
    }
}

fn report(coins: Vec<Coin>, balance: &str) -> Report {
    let mut r = Report::new("f", "por-attest-snapshot");
    r.record(0, None, "BTC", ADDR, Outcome::Verified);
    r.stated_anchors.insert(
        "BTC".into(),
        Anchor {
            height: 925_000,
            block_hash: ANCHOR.into(),
        },
    );
    r.claims.push(claim(0, coins, balance));
    r.finish(false);
    r
}

/// The claim of entry `entry` (at ADDR, verified offline) to hold `coins`, stating `balance`.
fn claim(entry: u64, coins: Vec<Coin>, balance: &str) -> Claim {
    Claim {
        entry: Some(entry),
        line: None,
        account: None,
        path: None,
        chain: "BTC".into(),
        node_chain: "BTC".into(),
        asset: "BTC".into(),
        token: None,
        address: ADDR.into(),
        balance: Some(balance.parse().unwrap()),
        rounding: None,
        height: Some(925_000),
        status: "verified",
        owners: Vec::new(),
        coins,
    }
}

#[test]
fn coins_are_proven_on_a_bitcoin_core_node() {
    let url = serve();
    let mut nodes = Nodes::default();
    nodes.add_arg(&format!("BTC={url}")).unwrap();
    // The unspent coin alone: verified, the on-chain total is its amount.
    let mut r = report(vec![coin(0, 50_000_000)], "0.5");
    check_on_chain(&mut r, &nodes, &NodeOptions::default()).unwrap();
    assert_eq!(r.result, "verified", "{}", r.to_human());
    assert_eq!(r.anchors[0].status, "ok");
    assert_eq!(
        r.balances["BTC"].onchain.as_ref().map(|d| d.to_string()),
        Some("0.50000000".into())
    );
    // Output 1 is spent since, and the file records no spending transaction: it fails.
    let mut r = report(vec![coin(0, 50_000_000), coin(1, 125_000_000)], "1.75");
    check_on_chain(&mut r, &nodes, &NodeOptions::default()).unwrap();
    assert_eq!(r.result, "failed");
    assert!(
        r.problems[0]
            .reason
            .contains("is spent, and the file records no spending transaction"),
        "{}",
        r.to_human()
    );
    assert_eq!(r.problems[0].code, "balance-mismatch");
    // A stated amount the node contradicts.
    let mut r = report(vec![coin(0, 50_000_001)], "0.50000001");
    check_on_chain(&mut r, &nodes, &NodeOptions::default()).unwrap();
    assert!(
        r.problems[0]
            .reason
            .contains("is 50000000 sat on chain, the file states 50000001"),
        "{}",
        r.to_human()
    );
    // An anchor beyond the node's tip fails the file.
    let mut r = report(vec![coin(0, 50_000_000)], "0.5");
    r.stated_anchors.get_mut("BTC").unwrap().height = 999_999;
    check_on_chain(&mut r, &nodes, &NodeOptions::default()).unwrap();
    assert!(
        r.file_failures[0].contains("has no block at that height"),
        "{:?}",
        r.file_failures
    );
}

#[test]
fn many_claims_asked_concurrently_keep_each_its_own_outcome() {
    let url = serve();
    let mut nodes = Nodes::default();
    nodes.add_arg(&format!("BTC={url}")).unwrap();
    let mut r = Report::new("f", "por-attest-snapshot");
    r.stated_anchors.insert(
        "BTC".into(),
        Anchor {
            height: 925_000,
            block_hash: ANCHOR.into(),
        },
    );
    // Even entries hold the unspent output 0 (verified), odd ones output 1, spent since with no
    // recorded spend (failed): a result given to the wrong claim shows at once.
    for i in 0..24u64 {
        r.record(i, None, "BTC", ADDR, Outcome::Verified);
        let (vout, sat, balance) = if i % 2 == 0 {
            (0, 50_000_000, "0.5")
        } else {
            (1, 125_000_000, "1.25")
        };
        r.claims.push(claim(i, vec![coin(vout, sat)], balance));
    }
    r.finish(false);
    let opts = NodeOptions {
        concurrency: 8,
        ..NodeOptions::default()
    };
    check_on_chain(&mut r, &nodes, &opts).unwrap();
    let failed: Vec<u64> = r.problems.iter().filter_map(|p| p.entry).collect();
    assert_eq!(
        failed,
        (0..24).filter(|i| i % 2 == 1).collect::<Vec<u64>>(),
        "{}",
        r.to_human()
    );
    assert!(r.problems.iter().all(|p| p.code == "balance-mismatch"));
    assert_eq!((r.verified, r.failed), (12, 12), "{}", r.to_human());
}
