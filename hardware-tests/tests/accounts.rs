//! The account flow against the device named by `POR_ATTEST_DEVICE` (skipped without it):
//! the device exports each account key (Bitcoin app GET_EXTENDED_PUBKEY; the Ethereum and
//! Tron apps' get-address with the chain-code flag), the host compares every address, the
//! device shows a few and signs one message per account; packaged and verified. See README.md.

use hardware_tests::{account_ceremony, account_manifest, device_for, say, write_manifest, SIGNER};
use por_attest::ceremony::{sign, SignOptions};
use por_attest::signers::dashboard::parse_version;
use por_attest::signers::{ensure_app, AppKind};

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

/// With the default account template (`{anchor}`: the block hash) a TRON account's message
/// takes two APDUs, which the Tron app before 0.8 signs over a wrong hash (found on 0.7.1
/// under Speculos): the ceremony must refuse it before any prompt, nothing journaled. From
/// 0.8 on, it must sign and verify.
#[test]
fn tron_account_with_the_default_template() {
    let Some(dut) = device_for(
        "tron_account_with_the_default_template",
        Some(AppKind::Tron),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut t = dut.connect();
    let toml: String = account_manifest(t.as_mut(), &dut.spec, AppKind::Tron)
        .lines()
        .filter(|l| !l.starts_with("account_template = "))
        .map(|l| format!("{l}\n"))
        .collect();
    let m = write_manifest(dir.path(), &toml);
    let version = ensure_app(t.as_mut(), AppKind::Tron).unwrap();
    if parse_version(&version).is_some_and(|v| v >= (0, 8, 0)) {
        account_ceremony(dir.path(), &m, t.as_mut(), &dut.spec);
        return;
    }
    let journal = dir.path().join("journal-device.jsonl");
    let opts = SignOptions {
        signer: Some(SIGNER.into()),
        device_is_simulator: dut.spec.is_simulator(),
        ..SignOptions::default()
    };
    let e = sign(&m, &journal, t.as_mut(), &opts).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("signs a personal message correctly only when it fits one APDU"),
        "{text}"
    );
    let journaled = std::fs::read_to_string(&journal).unwrap_or_default();
    assert!(!journaled.contains("\"kind\":\"signed\""), "{journaled}");
    say(&format!(
        "  Tron app {version}: the default template's TRON account message refused before any prompt"
    ));
}
