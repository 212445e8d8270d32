//! The ceremony against the device named by `POR_ATTEST_DEVICE` (skipped without it): each
//! Bitcoin single-signature type, Ethereum and TRON signed, packaged and verified; a device
//! that is not the manifest's signer, or an address that is not the device's, refused before
//! anything is signed. See README.md.

use hardware_tests::{
    bitcoin_account, bitcoin_manifest, ceremony, device_for, ethereum_manifest, say, sign_on,
    tron_manifest, write_manifest,
};
use por_attest::ceremony::CeremonyError;
use por_attest::chains::ScriptType;
use por_attest::devices::{describe, DeviceState};
use por_attest::signers::AppKind;

fn bitcoin_type(test: &str, st: ScriptType) {
    let Some(dut) = device_for(test, Some(AppKind::Bitcoin)) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut t = dut.connect();
    let m = write_manifest(
        dir.path(),
        &bitcoin_manifest(t.as_mut(), &dut.spec, &[st], None),
    );
    ceremony(dir.path(), &m, t.as_mut(), &dut.spec);
}

#[test]
fn bitcoin_p2pkh() {
    bitcoin_type("bitcoin_p2pkh", ScriptType::P2pkh);
}

#[test]
fn bitcoin_p2sh_p2wpkh() {
    bitcoin_type("bitcoin_p2sh_p2wpkh", ScriptType::P2shP2wpkh);
}

#[test]
fn bitcoin_p2wpkh() {
    bitcoin_type("bitcoin_p2wpkh", ScriptType::P2wpkh);
}

#[test]
fn ethereum_personal_sign() {
    let Some(dut) = device_for("ethereum_personal_sign", Some(AppKind::Ethereum)) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut t = dut.connect();
    let m = write_manifest(dir.path(), &ethereum_manifest(t.as_mut(), &dut.spec, 0));
    ceremony(dir.path(), &m, t.as_mut(), &dut.spec);
}

#[test]
fn tron_personal_sign() {
    let Some(dut) = device_for("tron_personal_sign", Some(AppKind::Tron)) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut t = dut.connect();
    let m = write_manifest(dir.path(), &tron_manifest(t.as_mut(), &dut.spec, 0));
    let snapshot = ceremony(dir.path(), &m, t.as_mut(), &dut.spec);
    let text = std::fs::read_to_string(snapshot).unwrap();
    assert!(text.contains("\"tron-tip191\""), "{text}");
}

#[test]
fn wrong_tron_address_is_refused_before_signing() {
    let Some(dut) = device_for(
        "wrong_tron_address_is_refused_before_signing",
        Some(AppKind::Tron),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut t = dut.connect();
    let m = write_manifest(dir.path(), &tron_manifest(t.as_mut(), &dut.spec, 1));
    refused_before_signing(&m, dir.path(), t.as_mut(), &dut.spec);
}

/// `sign` refuses `m` with an address mismatch and journals no signature.
fn refused_before_signing(
    m: &por_attest::manifest::Manifest,
    dir: &std::path::Path,
    t: &mut dyn por_attest::transport::Exchange,
    spec: &por_attest::device::DeviceSpec,
) {
    let journal = dir.join("journal-device.jsonl");
    let e = sign_on(m, &journal, t, spec).unwrap_err();
    assert!(
        matches!(e, CeremonyError::AddressMismatch { .. }),
        "expected an address mismatch, got: {e}"
    );
    let signed = std::fs::read_to_string(&journal)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("\"signed\""))
        .count();
    assert_eq!(signed, 0, "nothing signed");
}

#[test]
fn wrong_fingerprint_is_refused_before_signing() {
    let Some(dut) = device_for(
        "wrong_fingerprint_is_refused_before_signing",
        Some(AppKind::Bitcoin),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut t = dut.connect();
    let actual = bitcoin_account(t.as_mut()).fingerprint;
    let mut other = actual.to_bytes();
    other[0] ^= 0x01;
    let toml = bitcoin_manifest(
        t.as_mut(),
        &dut.spec,
        &[ScriptType::P2wpkh],
        Some(other.into()),
    );
    let m = write_manifest(dir.path(), &toml);
    let journal = dir.path().join("journal-device.jsonl");
    let e = sign_on(&m, &journal, t.as_mut(), &dut.spec).unwrap_err();
    match &e {
        CeremonyError::WrongDevice(msg) => {
            assert!(msg.contains(&actual.to_string()), "{msg}");
            assert!(msg.contains("nothing was signed"), "{msg}");
        }
        other => panic!("expected a wrong-device refusal, got: {other}"),
    }
    assert!(
        !journal.exists(),
        "the refusal comes before the journal is even opened"
    );
    say("  wrong fingerprint refused before signing");
}

#[test]
fn wrong_ethereum_address_is_refused_before_signing() {
    let Some(dut) = device_for(
        "wrong_ethereum_address_is_refused_before_signing",
        Some(AppKind::Ethereum),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut t = dut.connect();
    // Addresses of indexes 1 and 2 written with the paths of indexes 0 and 1.
    let m = write_manifest(dir.path(), &ethereum_manifest(t.as_mut(), &dut.spec, 1));
    refused_before_signing(&m, dir.path(), t.as_mut(), &dut.spec);
}

#[test]
fn devices_probe_reports_the_open_app() {
    let Some(dut) = device_for("devices_probe_reports_the_open_app", None) else {
        return;
    };
    let mut t = dut.connect();
    let info = describe(t.as_mut(), &dut.spec.to_string(), None);
    say(&format!("  {}", info.to_human().trim_end()));
    assert!(
        !matches!(
            info.state,
            DeviceState::Unreachable { .. } | DeviceState::Locked
        ),
        "{info:?}"
    );
    if let DeviceState::Bitcoin { fingerprint, .. } = &info.state {
        assert!(fingerprint.is_some(), "{info:?}");
    }
}
