//! Bitcoin against a real endpoint, only when one is named: `POR_ATTEST_BITCOIN_RPC` (a Bitcoin
//! Core RPC URL; `POR_ATTEST_BITCOIN_RPC_USER` / `POR_ATTEST_BITCOIN_RPC_PASSWORD` name the
//! credentials' variables' values) and `POR_ATTEST_ESPLORA` (an Esplora base URL, e.g.
//! `https://blockstream.info/api`). No Bitcoin node can run on the machines this project is
//! built on, so without them the tests say so and skip. On mainnet, the genesis block is the
//! block at height 0, and an anchor stating another hash fails; the first transfer (block 170)
//! is found in its block and its output read.

#[path = "support/loopback.rs"]
mod loopback;

use por_attest::claim::OnchainOutcome;
use por_attest::report::{Outcome, Report};
use por_attest::reserves::bitcoin::{block_hash, check_claims, Asking};
use por_attest::reserves::rpc::{Auth, Client, Policy};
use por_attest::reserves::NodeKind;
use por_attest::snapshot::Coin;

const GENESIS: &str = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f";
/// Block 170 and its second transaction, the first transfer (10 BTC to a P2PK script, 40 BTC
/// back to another).
const BLOCK_170: &str = "00000000d1145790a8694403d4063f323d499e655c83426834d4ce2f8dd4a2ee";
const FIRST_TRANSFER: &str = "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16";

fn check(kind: NodeKind, url: &str, auth: Auth) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = Client::new(url, auth, Policy::default()).unwrap();
    let h0 = rt.block_on(block_hash(kind, &client, 0)).unwrap();
    assert_eq!(
        h0.as_deref(),
        Some(GENESIS),
        "{kind:?} {}",
        client.endpoint()
    );
    let beyond = rt.block_on(block_hash(kind, &client, 100_000_000)).unwrap();
    assert_eq!(beyond, None, "no block at height 100,000,000");
    let h170 = rt.block_on(block_hash(kind, &client, 170)).unwrap();
    assert_eq!(h170.as_deref(), Some(BLOCK_170));
    // The first transfer's 10 BTC output, claimed for an address: the client finds the
    // transaction in its block (no txindex needed) and sees it pays a script with no address.
    let coin = Coin {
        txid: FIRST_TRANSFER.into(),
        vout: 0,
        amount_sat: 1_000_000_000,
        height: 170,
        block_hash: BLOCK_170.into(),
        spent: None,
    };
    let address = "1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3";
    let mut r = Report::new("real", "por-attest-snapshot");
    r.record(0, None, "BTC", address, Outcome::Verified);
    r.claims
        .push(loopback::btc_claim(0, address, vec![coin], "10", 200));
    let asking = Asking {
        batch: 100,
        concurrency: 2,
        progress: false,
    };
    let out = rt
        .block_on(check_claims(kind, &client, &r, &[0], asking))
        .unwrap();
    match &out[0].1 {
        OnchainOutcome::Failed(f) => assert!(
            f.reason.contains("pays a non-standard script"),
            "{}",
            f.reason
        ),
        OnchainOutcome::NotChecked(why) if why.contains("pruned") => {
            eprintln!("{kind:?}: block 170 is pruned on this node: {why}")
        }
        other => panic!("{kind:?}: {other:?}"),
    }
}

#[test]
fn bitcoin_core_rpc_when_named() {
    let Ok(url) = std::env::var("POR_ATTEST_BITCOIN_RPC") else {
        eprintln!("SKIPPED: POR_ATTEST_BITCOIN_RPC names no Bitcoin Core RPC endpoint");
        return;
    };
    let auth = match (
        std::env::var("POR_ATTEST_BITCOIN_RPC_USER"),
        std::env::var("POR_ATTEST_BITCOIN_RPC_PASSWORD"),
    ) {
        (Ok(user), Ok(password)) => Auth::Basic { user, password },
        _ => Auth::None,
    };
    check(NodeKind::BitcoinCore, &url, auth);
}

#[test]
fn esplora_when_named() {
    let Ok(url) = std::env::var("POR_ATTEST_ESPLORA") else {
        eprintln!("SKIPPED: POR_ATTEST_ESPLORA names no Esplora endpoint");
        return;
    };
    check(NodeKind::Esplora, &url, Auth::None);
}
