//! The account flow against the device named by `POR_ATTEST_DEVICE` (skipped without it):
//! the device exports each account key (Bitcoin app GET_EXTENDED_PUBKEY; the Ethereum and
//! Tron apps' get-address with the chain-code flag), the host compares every address, the
//! device shows a few and signs one message per account; packaged and verified. See README.md.

use hardware_tests::{account_ceremony, account_manifest, device_for, write_manifest};
use por_attest::signers::AppKind;

fn account_flow(test: &str, app: AppKind) {
    let Some(dut) = device_for(test, Some(app)) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut t = dut.connect();
    let m = write_manifest(dir.path(), &account_manifest(t.as_mut(), &dut.spec, app));
    account_ceremony(dir.path(), &m, t.as_mut(), &dut.spec);
}

#[test]
fn bitcoin_accounts_p2wpkh_and_p2tr() {
    account_flow("bitcoin_accounts_p2wpkh_and_p2tr", AppKind::Bitcoin);
}

#[test]
fn ethereum_account() {
    account_flow("ethereum_account", AppKind::Ethereum);
}

#[test]
fn tron_account() {
    account_flow("tron_account", AppKind::Tron);
}
