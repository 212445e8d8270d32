//! `por-attest watch` against a real EVM node: one ganache (started here on a free loopback
//! port with the simulator's seed and a database directory, stopped by PID) for the whole
//! scenario, since its start-up is the cost: the check at the anchor, a transfer out of a cold
//! reserve address, an ERC-20 transfer, a Safe owner change, a reorg (`evm_snapshot` /
//! `evm_revert` and new blocks), the node stopped and restarted, SIGTERM; then
//! `--exit-on-alert` on the same chain. Skipped, with the reason printed, when ganache is not
//! installed (`scripts/setup`).

#[path = "support/ganache.rs"]
mod ganache;
#[path = "support/watcher.rs"]
mod watcher;

use ganache::{addr_word, deploy_erc20, deploy_safe, selector, transfer_token, word, Ganache};
use por_attest::fixtures::{eip191_entry, master_key, secret_at, test_header, TEST_MNEMONIC};
use por_attest::schemes::evm::{keccak256, sign_eip191};
use por_attest::snapshot::{ContractWallet, Snapshot, TokenHolding};
use serde_json::{json, Value};
use std::process::Command;
use watcher::{is, Watcher};

fn secret(i: u32) -> bitcoin::secp256k1::SecretKey {
    secret_at(&master_key(TEST_MNEMONIC), &format!("m/44'/60'/0'/0/{i}"))
}

/// Base units (decimal text) with 18 decimals, as the watcher prints them.
fn main_unit(units: u128) -> String {
    por_attest::balance::plain(&por_attest::balance::from_base_units(
        &units.to_string().parse().unwrap(),
        18,
    ))
}

fn wei(g: &Ganache, a: &str, height: u64) -> u128 {
    g.balance_at(a, height).parse().unwrap()
}

/// Hex padded with zeros to whole 32-byte words (ABI `bytes` contents).
fn pad_words(hex: &str) -> String {
    let mut s = hex.to_string();
    while !s.len().is_multiple_of(64) {
        s.push('0');
    }
    s
}

/// `execTransaction` on `safe` from its owner `owner` (threshold 1: the sender's own
/// approval, signature type 1) calling the Safe itself with `data`.
fn exec_on_safe(g: &Ganache, safe: &str, owner: &str, data: &str) -> Value {
    let data = data.trim_start_matches("0x");
    let len = data.len() / 2;
    let padded = pad_words(data);
    let data_off = 10 * 32;
    let sigs_off = data_off + 32 + padded.len() / 2;
    let sig = pad_words(&format!("{}{}01", addr_word(owner), word(0)));
    let call = format!(
        "0x{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}",
        selector("execTransaction(address,uint256,bytes,uint8,uint256,uint256,uint256,address,address,bytes)"),
        addr_word(safe),
        word(0),
        word(data_off as u128),
        word(0),
        word(0),
        word(0),
        word(0),
        word(0),
        word(0),
        word(sigs_off as u128),
        word(len as u128),
        padded,
        word(65),
        sig
    );
    g.transact(owner, safe, &call)
}

#[test]
fn watch_follows_transfers_tokens_safes_reorgs_and_a_node_restart() {
    let db = tempfile::tempdir().unwrap();
    let mut g = match Ganache::start_with(None, Some(db.path())) {
        Ok(g) => g,
        Err(why) => {
            eprintln!("SKIPPED: {why}");
            return;
        }
    };
    let a = g.accounts();
    let token = deploy_erc20(&g, &a[0], 1_000_000 * 10u128.pow(18));
    transfer_token(
        &g,
        &token,
        &a[0],
        &a[1],
        1234 * 10u128.pow(18) + 5 * 10u128.pow(17),
    );
    // A 1-of-1 Safe of owner 2, holding 50 ETH.
    let safe = deploy_safe(&g, &a[0], &a[2..3], 1).to_ascii_lowercase();
    g.send(json!({"from": a[0], "to": safe, "value": "0x2b5e3af16b1880000"}));
    let anchor = g.height();
    let hash = g.block_hash(anchor);

    // The snapshot: account 1 (cold, with tokens), account 3 (hot), the Safe.
    let header = test_header("Ganache Exchange", "2026-12", &[("ETH", anchor, &hash)]);
    let entry = |address: &str, key: u32, owner: Option<&str>| {
        eip191_entry(
            &header,
            "ETH",
            address,
            &main_unit(wei(&g, address, anchor)),
            &[(secret(key), owner.map(str::to_string))],
        )
    };
    let mut cold = entry(&a[1], 1, None);
    cold.wallet = Some("cold".into());
    cold.tokens = vec![TokenHolding {
        asset: "TUSD".into(),
        contract: token.clone(),
        decimals: 18,
        balance: "1234.5".into(),
    }];
    let mut hot = entry(&a[3], 3, None);
    hot.wallet = Some("hot".into());
    let mut safe_entry = entry(&safe, 2, Some(&a[2]));
    safe_entry.contract_wallet = Some(ContractWallet::Safe);
    let snap = Snapshot {
        header,
        entries: vec![cold, hot, safe_entry],
        accounts: Vec::new(),
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snapshot.json");
    std::fs::write(&path, snap.to_file_bytes()).unwrap();
    let node = format!("ETH={}", g.url);
    let file = path.to_str().unwrap();
    let mut w = Watcher::start(&[file, "--node", &node, "--json", "--poll", "0.1"]);

    // The check at the anchor, then the start with the totals.
    let start = w.wait_for("start", |v| is(v, "start"));
    assert_eq!(
        (start["chain"].as_str(), start["height"].as_u64()),
        (Some("ETH"), Some(anchor))
    );
    assert_eq!(start["hash"], hash);
    assert_eq!(start["check"]["result"], "verified", "{start}");
    assert_eq!(start["check"]["anchor"], "ok");
    assert_eq!(start["addresses"], 3);
    let tusd = start["totals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["asset"] == "TUSD")
        .unwrap();
    assert_eq!(
        (tusd["at_anchor"].as_str(), tusd["now"].as_str()),
        (Some("1234.5"), Some("1234.5"))
    );

    // 1. Ether out of the cold address: an outflow (value and gas) and an alert.
    let before = wei(&g, &a[1], g.height());
    let r = g.send(json!({"from": a[1], "to": a[7], "value": "0xde0b6b3a7640000"}));
    let h1 = u64::from_str_radix(
        r["blockNumber"].as_str().unwrap().trim_start_matches("0x"),
        16,
    )
    .unwrap();
    let after = wei(&g, &a[1], h1);
    let out = w.wait_for("the cold outflow", |v| {
        is(v, "outflow") && v["height"] == h1
    });
    assert_eq!(out["address"], a[1].to_ascii_lowercase());
    assert_eq!(
        (out["asset"].as_str(), out["wallet"].as_str()),
        (Some("ETH"), Some("cold"))
    );
    assert_eq!(out["amount"], main_unit(before - after));
    assert_eq!(out["balance_before"], main_unit(before));
    assert_eq!(out["balance"], main_unit(after));
    assert_eq!(out["hash"], g.block_hash(h1));
    let alert = w.wait_for("the cold alert", |v| is(v, "alert"));
    assert_eq!(
        (alert["kind"].as_str(), alert["height"].as_u64()),
        (Some("cold-outflow"), Some(h1))
    );
    w.wait_for("block", |v| is(v, "block") && v["height"] == h1);

    // 2. An ERC-20 transfer out of the holder: the token outflow names the transaction.
    transfer_token(&g, &token, &a[1], &a[7], 2 * 10u128.pow(18));
    let h2 = g.height();
    let out = w.wait_for("the token outflow", |v| {
        is(v, "outflow") && v["asset"] == "TUSD"
    });
    assert_eq!(out["height"], h2);
    assert_eq!(
        (out["amount"].as_str(), out["balance"].as_str()),
        (Some("2"), Some("1232.5"))
    );
    let receipt_tx = g.rpc("eth_getBlockByNumber", json!([format!("0x{h2:x}"), false]))
        ["transactions"][0]
        .clone();
    assert_eq!(out["tx"], receipt_tx);
    let block = w.wait_for("block", |v| is(v, "block") && v["height"] == h2);
    let tusd = block["totals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["asset"] == "TUSD")
        .unwrap();
    assert_eq!(
        (tusd["now"].as_str(), tusd["change"].as_str()),
        (Some("1232.5"), Some("-2"))
    );

    // 3. The Safe gets a second owner: re-read, an alert.
    let add = format!(
        "0x{}{}{}",
        selector("addOwnerWithThreshold(address,uint256)"),
        addr_word(&a[4]),
        word(1)
    );
    exec_on_safe(&g, &safe, &a[2], &add);
    let h3 = g.height();
    let alert = w.wait_for("the Safe alert", |v| {
        is(v, "alert") && v["kind"] == "safe-changed"
    });
    assert_eq!(alert["height"], h3);
    assert_eq!(alert["address"], safe);
    assert!(
        alert["message"]
            .as_str()
            .unwrap()
            .contains(&a[4].to_ascii_lowercase()),
        "{alert}"
    );

    // 4. A reorg: a transfer out of the hot address, then the chain reverted under it and
    // three other blocks mined: the reorg is reported and the outflow undone.
    let snapshot_id = g.rpc("evm_snapshot", json!([]));
    let hot_before = wei(&g, &a[3], g.height());
    g.send(json!({"from": a[3], "to": a[8], "value": "0x4563918244f40000"}));
    let h4 = g.height();
    let dropped = g.block_hash(h4);
    w.wait_for("the hot outflow", |v| {
        is(v, "outflow") && v["height"] == h4 && v["address"] == a[3].to_ascii_lowercase()
    });
    w.wait_for("block", |v| is(v, "block") && v["height"] == h4);
    assert_eq!(g.rpc("evm_revert", json!([snapshot_id])), json!(true));
    for _ in 0..3 {
        g.rpc("evm_mine", json!([]));
    }
    let reorg = w.wait_for("the reorg", |v| is(v, "reorg"));
    assert_eq!(reorg["height"], h3, "{reorg}");
    assert_eq!(reorg["depth"], 1);
    assert_eq!(reorg["old"], json!([dropped]));
    assert!(reorg["undone"].as_u64().unwrap() >= 1, "{reorg}");
    let new_tip = g.height();
    let b = w.wait_for("the new chain's blocks", |v| {
        is(v, "block") && v["height"] == new_tip
    });
    assert_eq!(b["hash"], g.block_hash(new_tip));
    let eth_now = b["totals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["asset"] == "ETH")
        .unwrap();
    let expect: u128 = [&a[1], &a[3], &safe]
        .iter()
        .map(|x| wei(&g, x, new_tip))
        .sum();
    assert_eq!(
        eth_now["now"],
        main_unit(expect),
        "the hot outflow is undone"
    );
    assert_eq!(wei(&g, &a[3], new_tip), hot_before);

    // 5. The node stops: node_error, retried; it comes back on the same port with its chain,
    // and the watcher goes on with the next block.
    let (port, held) = (g.port(), g.height());
    g.stop();
    let e = w.wait_for("node_error", |v| is(v, "node_error"));
    assert_eq!(e["height"], held);
    assert!(e["attempt"].as_u64().unwrap() >= 1);
    g = Ganache::start_with(Some(port), Some(db.path())).expect("ganache restarts");
    assert_eq!(g.height(), held, "the chain survived the restart");
    g.send(json!({"from": a[0], "to": a[3], "value": "0x1"}));
    let h5 = g.height();
    let inflow = w.wait_for("the inflow after the restart", |v| {
        is(v, "inflow") && v["height"] == h5
    });
    assert_eq!(
        (inflow["amount"].as_str(), inflow["address"].as_str()),
        (
            Some("0.000000000000000001"),
            Some(a[3].to_ascii_lowercase().as_str())
        )
    );

    // SIGTERM: a clean stop, exit 0.
    assert_eq!(w.terminate(), 0);
    let names: Vec<&str> = w.seen.iter().filter_map(|v| v["event"].as_str()).collect();
    for n in [
        "start",
        "block",
        "outflow",
        "inflow",
        "reorg",
        "alert",
        "node_error",
    ] {
        assert!(names.contains(&n), "no {n} event: {names:?}");
    }

    // --exit-on-alert, on the same chain from the anchor: the cold outflow's block stops it
    // with status 1; the human output names it.
    let out = Command::new(env!("CARGO_BIN_EXE_por-attest"))
        .args([
            "watch",
            file,
            "--node",
            &node,
            "--poll",
            "0.1",
            "--exit-on-alert",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!("ETH start at anchor {anchor} {hash}")),
        "{text}"
    );
    assert!(text.contains("check at the anchor: VERIFIED"), "{text}");
    assert!(text.contains("  asset"), "the table: {text}");
    assert!(
        text.trim_end().ends_with(&format!(
            "left the cold wallet {}",
            a[1].to_ascii_lowercase()
        )),
        "{text}"
    );

    // An OKX file of two of the addresses (its rows carry balances and the height, no anchor
    // hash, no wallet labels) with --alert-drop 0.01: the ether total falls by more than that
    // at the cold address's outflow.
    let msg = "I am an OKX address";
    let row = |address: &str, key: u32| {
        let sig = sign_eip191(&secret(key), &keccak256(msg.as_bytes()));
        let amount = main_unit(wei(&g, address, anchor));
        format!("ETH,ETH,{anchor},{address},{amount},{msg},{sig},,,,\n")
    };
    let okx = dir.path().join("okx.csv");
    std::fs::write(
        &okx,
        format!(
            "coin,Network,Snapshot Height,address,amount,message,signature1,signature2,redeem script/ public key,eoa1,eoa2\n{}{}",
            row(&a[1], 1),
            row(&a[3], 3)
        ),
    )
    .unwrap();
    let okx = okx.to_str().unwrap();
    let mut w = Watcher::start(&[
        okx,
        "--node",
        &node,
        "--json",
        "--poll",
        "0.1",
        "--alert-drop",
        "0.01",
        "--exit-on-alert",
    ]);
    let start = w.wait_for("start", |v| is(v, "start"));
    assert_eq!(
        (start["height"].as_u64(), start["hash"].as_str()),
        (Some(anchor), Some(hash.as_str()))
    );
    assert_eq!(
        (
            start["check"]["result"].as_str(),
            start["check"]["anchor"].as_str()
        ),
        (Some("verified"), Some("not stated")),
        "{start}"
    );
    let alert = w.wait_for("the drop", |v| is(v, "alert"));
    assert_eq!(
        (
            alert["kind"].as_str(),
            alert["height"].as_u64(),
            alert["asset"].as_str()
        ),
        (Some("drop"), Some(h1), Some("ETH")),
        "{alert}"
    );
    assert_eq!(w.wait_exit(), 1);
}
