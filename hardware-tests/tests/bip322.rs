//! BIP-322 through SIGN_PSBT on the device named by `POR_ATTEST_DEVICE` (skipped without
//! it): the segwit single-key addresses (P2WPKH simple, P2SH-P2WPKH full) and 2-of-3 multisig
//! addresses (P2WSH, P2SH-P2WSH, P2SH) through a wallet policy the device registers, the
//! device being one cosigner and the in-process simulator (the `abandon … about` seed) the
//! other. Apps before 2.1.3 keep the legacy route: then the entries must be `bip137`. See
//! README.md ("BIP-322 through SIGN_PSBT").

use bitcoin::bip32::{ChildNumber, DerivationPath, Xpub};
use hardware_tests::write_manifest;
use hardware_tests::{bitcoin_account, bitcoin_manifest, ceremony, device_for, say, sign_on};
use por_attest::chains::ScriptType;
use por_attest::signers::dashboard::parse_version;
use por_attest::signers::{AppKind, BitcoinApp};
use por_attest::snapshot::Snapshot;
use std::fmt::Write as _;
use std::str::FromStr;

const SIM_B: &str =
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";

fn signs_bip322(version: &str) -> bool {
    parse_version(version).is_none_or(|v| v >= (2, 1, 3))
}

#[test]
fn bitcoin_segwit_bip322() {
    let Some(dut) = device_for("bitcoin_segwit_bip322", Some(AppKind::Bitcoin)) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut t = dut.connect();
    let acct = bitcoin_account(t.as_mut());
    let m = write_manifest(
        dir.path(),
        &bitcoin_manifest(
            t.as_mut(),
            &dut.spec,
            &[ScriptType::P2wpkh, ScriptType::P2shP2wpkh],
            None,
        ),
    );
    let snapshot = ceremony(dir.path(), &m, t.as_mut(), &dut.spec);
    let snap = Snapshot::read(&snapshot).unwrap();
    let bip322 = signs_bip322(&acct.app_version);
    for e in &snap.entries {
        let want = match (bip322, e.script_type) {
            (false, _) => "bip137",
            (true, Some(ScriptType::P2wpkh)) => "bip322-simple",
            (true, _) => "bip322-full",
        };
        assert_eq!(e.signatures[0].scheme.as_str(), want, "{}", e.address);
    }
    say(&format!(
        "  Bitcoin app {}: P2WPKH / P2SH-P2WPKH proven as {}",
        acct.app_version,
        if bip322 {
            "BIP-322 simple / full through SIGN_PSBT"
        } else {
            "legacy signed messages (app before 2.1.3)"
        }
    ));
}

/// The xpub at `path` below `mnemonic`'s master key, and the master fingerprint.
fn soft_xpub(mnemonic: &str, path: &DerivationPath) -> (Xpub, bitcoin::bip32::Fingerprint) {
    let secp = por_attest::schemes::secp();
    let master = por_attest::fixtures::master_key(mnemonic);
    let x = Xpub::from_priv(secp, &master.derive_priv(secp, path).unwrap());
    (x, master.fingerprint(secp))
}

#[test]
fn bitcoin_multisig_bip322() {
    let Some(dut) = device_for("bitcoin_multisig_bip322", Some(AppKind::Bitcoin)) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut t = dut.connect();
    let acct = bitcoin_account(t.as_mut());
    let secp = por_attest::schemes::secp();
    let coin = acct.coin;
    let net = if coin == 0 {
        bitcoin::Network::Bitcoin
    } else {
        bitcoin::Network::Testnet
    };
    // The device, the simulator with SIM_B, and a key held outside the ceremony.
    let kinds = [
        (ScriptType::P2wsh, format!("m/48'/{coin}'/0'/2'")),
        (ScriptType::P2shP2wsh, format!("m/48'/{coin}'/0'/1'")),
        (ScriptType::P2sh, format!("m/45'/{coin}'/0'")),
    ];
    let (_, fb) = soft_xpub(SIM_B, &DerivationPath::master());
    let mut toml = format!(
        "entity = \"Hardware Test\"\nsnapshot_id = \"hw-test-2026-11\"\ntest = true\n\
         created_at = \"2026-11-28T00:00:00Z\"\n\n\
         [anchors.BTC]\nheight = 925000\nblock_hash = \"00000000000000000001c5f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6e5f\"\n\n\
         [[signers]]\nid = \"device\"\nkind = \"ledger\"\nfingerprint = \"{}\"\n\n\
         [[signers]]\nid = \"sim-b\"\nkind = \"simulator\"\nfingerprint = \"{fb}\"\n",
        acct.fingerprint
    );
    let mut app = BitcoinApp::for_app_version(&mut *t, &acct.app_version);
    for (st, origin) in &kinds {
        let path = DerivationPath::from_str(origin).unwrap();
        let device_xpub = app
            .extended_pubkey(&path, false)
            .or_else(|_| app.extended_pubkey(&path, true))
            .unwrap_or_else(|e| panic!("the device's key at {origin}: {e}"));
        let (xb, _) = soft_xpub(SIM_B, &path);
        let (xc, _) = soft_xpub("zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo wrong", &path);
        let child = [ChildNumber::from(0), ChildNumber::from(0)];
        let mut keys: Vec<bitcoin::PublicKey> = [device_xpub, xb, xc]
            .iter()
            .map(|x| bitcoin::PublicKey::new(x.derive_pub(secp, &child).unwrap().public_key))
            .collect();
        keys.sort_by_key(|k| k.to_bytes());
        let script = por_attest::schemes::multisig_script(2, &keys).unwrap();
        let address = por_attest::schemes::multisig_address(*st, &script, net).unwrap();
        let _ = write!(
            toml,
            "\n[[addresses]]\nchain = \"BTC\"\nnetwork = \"{}\"\naddress = \"{address}\"\n\
             script_type = \"{}\"\nthreshold = 2\nsorted = true\nchild = \"0/0\"\n\
             cosigners = [\n  {{ signer = \"device\", path = \"{origin}\", xpub = \"{device_xpub}\" }},\n  \
             {{ signer = \"sim-b\", path = \"{origin}\", xpub = \"{xb}\" }},\n  \
             {{ path = \"{origin}\", xpub = \"{xc}\" }},\n]\n",
            acct.network,
            st.as_str()
        );
    }
    let m = write_manifest(dir.path(), &toml);
    let dj = dir.path().join("journal-device.jsonl");
    let s = sign_on(&m, &dj, t.as_mut(), &dut.spec).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.signed_now, kinds.len(), "{s:?}");
    // The simulator signs as the second cosigner.
    let sim = por_attest::simulator::SimulatedLedger::new(
        por_attest::simulator::SimulatorConfig::with_mnemonic(SIM_B),
    )
    .unwrap();
    let mut st = sim.transport();
    let bj = dir.path().join("journal-sim-b.jsonl");
    let opts = por_attest::ceremony::SignOptions {
        signer: Some("sim-b".into()),
        device_is_simulator: true,
        ..Default::default()
    };
    por_attest::ceremony::sign(&m, &bj, &mut st, &opts).unwrap();
    let packaged = por_attest::package::package(&m, &[dj, bj], &Default::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let out = dir.path().join("snapshot.json");
    std::fs::write(&out, packaged.snapshot.to_file_bytes()).unwrap();
    let r = por_attest::verify::verify_snapshot_file(&out, &Default::default()).unwrap();
    assert_eq!(r.exit_code(), 0, "{}", r.to_human());
    let bip322 = signs_bip322(&acct.app_version);
    for e in &packaged.snapshot.entries {
        let want = match (bip322, e.script_type) {
            (false, _) => "bip137",
            (true, Some(ScriptType::P2wsh)) => "bip322-simple",
            (true, _) => "bip322-full",
        };
        assert!(
            e.signatures.iter().all(|s| s.scheme.as_str() == want),
            "{} {:?}",
            e.address,
            e.signatures
        );
    }
    say(&format!(
        "  Bitcoin app {}: 2-of-3 P2WSH / P2SH-P2WSH / P2SH through a registered wallet, \
         the device and the simulator as cosigners: {}",
        acct.app_version,
        if bip322 {
            "BIP-322 (smp / ful / ful), finalized by package, verified"
        } else {
            "legacy signed messages per cosigner (app before 2.1.3), verified"
        }
    ));
}
