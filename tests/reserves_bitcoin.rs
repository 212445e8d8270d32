//! Bitcoin against a real endpoint, only when one is named: `POR_ATTEST_BITCOIN_RPC` (a Bitcoin
//! Core RPC URL; `POR_ATTEST_BITCOIN_RPC_USER` / `POR_ATTEST_BITCOIN_RPC_PASSWORD` name the
//! credentials' variables' values) and `POR_ATTEST_ESPLORA` (an Esplora base URL, e.g.
//! `https://blockstream.info/api`). No Bitcoin node can run on the machines this project is
//! built on, so without them the tests say so and skip. On mainnet, the genesis block is the
//! block at height 0, and an anchor stating another hash fails.

use por_attest::reserves::bitcoin::block_hash;
use por_attest::reserves::rpc::{Auth, Client, Policy};
use por_attest::reserves::NodeKind;

const GENESIS: &str = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f";

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
