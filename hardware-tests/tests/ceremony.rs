//! The ceremony against the device named by `POR_ATTEST_DEVICE` (skipped without it): each
//! Bitcoin single-signature type (P2TR through SIGN_PSBT, as BIP-322), Ethereum and TRON
//! signed, packaged and verified; a device that is not the manifest's signer, or an address
//! that is not the device's, refused before anything is signed. See README.md.

use firmware_messages::bitcoin::psbt::PartialSignature;
use hardware_tests::{
    bitcoin_account, bitcoin_manifest, ceremony, device_for, ethereum_manifest, say, sign_on,
    tron_manifest, write_manifest, BitcoinAccount,
};
use por_attest::ceremony::CeremonyError;
use por_attest::chains::ScriptType;
use por_attest::devices::{describe, DeviceState};
use por_attest::signers::dashboard::parse_version;
use por_attest::signers::AppKind;
use por_attest::signers::BitcoinApp;
use por_attest::transport::Exchange;

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

/// P2TR is proven with a BIP-322 simple signature: the app signs the `to_sign` PSBT. Apps
/// before 2.1.3 refuse that transaction (its bare OP_RETURN output, 0x6A82): on those the
/// ceremony must list the P2TR entries as unsupported without any prompt, and SIGN_PSBT
/// itself is checked on a plain P2TR key-path spend, whose Schnorr signature must verify.
#[test]
fn bitcoin_p2tr_bip322() {
    let Some(dut) = device_for("bitcoin_p2tr_bip322", Some(AppKind::Bitcoin)) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut t = dut.connect();
    let acct = bitcoin_account(t.as_mut());
    let m = write_manifest(
        dir.path(),
        &bitcoin_manifest(t.as_mut(), &dut.spec, &[ScriptType::P2tr], None),
    );
    let signs_bip322 = parse_version(&acct.app_version).is_none_or(|v| v >= (2, 1, 3));
    if signs_bip322 {
        ceremony(dir.path(), &m, t.as_mut(), &dut.spec);
        return;
    }
    let journal = dir.path().join("journal-device.jsonl");
    let s = sign_on(&m, &journal, t.as_mut(), &dut.spec).unwrap();
    assert_eq!(s.signed_now, 0, "{s:?}");
    assert_eq!(s.unsupported.len(), m.addresses.len(), "{s:?}");
    assert!(s.unsupported.iter().all(|u| u.contains("2.1.3")), "{s:?}");
    say(&format!(
        "  Bitcoin app {}: P2TR entries listed as needing 2.1.3, nothing prompted",
        acct.app_version
    ));
    sign_plain_p2tr_spend(t.as_mut(), &acct);
}

/// Signs a P2TR key-path spend (10,000 sat to a P2WPKH output of 9,000) of the device's
/// address at `m/86'/coin'/0'/0/0` through SIGN_PSBT and checks the signature against the
/// BIP-341 sighash and the address's output key.
fn sign_plain_p2tr_spend(t: &mut dyn Exchange, acct: &BitcoinAccount) {
    use bitcoin::bip32::{ChildNumber, DerivationPath};
    use bitcoin::secp256k1::Secp256k1;
    use bitcoin::Network;
    use por_attest::fixtures::{p2tr_key_spend_psbt, verify_p2tr_key_spend};
    use std::str::FromStr;

    let secp = Secp256k1::verification_only();
    let network = if acct.coin == 0 {
        Network::Bitcoin
    } else {
        Network::Testnet
    };
    let path = DerivationPath::from_str(&format!("m/86'/{}'/0'/0/0", acct.coin)).unwrap();
    let mut app = BitcoinApp::for_app_version(&mut *t, &acct.app_version);
    let wallet = app
        .default_wallet(acct.fingerprint, ScriptType::P2tr, &path)
        .unwrap();
    let key = wallet
        .account_xpub
        .derive_pub(&secp, &[ChildNumber::from(0), ChildNumber::from(0)])
        .unwrap()
        .public_key;
    let (psbt, spent) = p2tr_key_spend_psbt(&key, acct.fingerprint, &path, network);
    let sigs = app.sign_psbt(&psbt, &wallet.policy, None).unwrap();
    let Some((0, PartialSignature::TaprootKeyPath { key, signature })) = sigs.first() else {
        panic!("no key-path signature for input 0: {sigs:?}");
    };
    let sighash_type = verify_p2tr_key_spend(&psbt, &spent, key, signature)
        .unwrap_or_else(|e| panic!("the device's Schnorr signature: {e}"));
    say(&format!(
        "  SIGN_PSBT: P2TR key-path spend signed ({sighash_type:?}) and verified"
    ));
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
