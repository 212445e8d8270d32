//! The `hwi` signer against a real hardware wallet HWI drives (a Trezor, BitBox02, Jade,
//! KeepKey, Coldcard or Ledger plugged in): runs when `POR_ATTEST_HWI_DEVICE_TYPE` and
//! `POR_ATTEST_HWI_FINGERPRINT` name the device (`POR_ATTEST_HWI_DEVICE_PATH` optional: HWI
//! otherwise finds it by the fingerprint; `POR_ATTEST_HWI` the program, default the checkout's
//! `.venv-hwi/bin/hwi`, else `hwi` on PATH). Skipped, saying so, otherwise. See README.md.
//!
//! The manifest is built from the device itself: its account keys at the standard paths of each
//! script type its type can prove (the table of `signers::hwi::devices`), two receive addresses
//! of each derived on the host. Then the ceremony (the device shows each address and signs),
//! package, verify (exit 0 required); and the same device under another fingerprint is refused
//! before anything is signed.

use bitcoin::bip32::{ChildNumber, DerivationPath};
use bitcoin::secp256k1::Secp256k1;
use bitcoin::{Address, CompressedPublicKey, Network};
use hardware_tests::{package_and_verify, say, write_manifest};
use por_attest::ceremony::{sign_with, CeremonyError, SignOptions};
use por_attest::chains::{ChainFamily, ScriptType};
use por_attest::signer::Signer;
use por_attest::signers::hwi::devices::{route, Route, TaskShape};
use por_attest::signers::hwi::{HwiMode, HwiSigner};
use std::fmt::Write;
use std::path::PathBuf;
use std::str::FromStr;

const TYPE_VAR: &str = "POR_ATTEST_HWI_DEVICE_TYPE";
const FINGERPRINT_VAR: &str = "POR_ATTEST_HWI_FINGERPRINT";
const PATH_VAR: &str = "POR_ATTEST_HWI_DEVICE_PATH";
const PROGRAM_VAR: &str = "POR_ATTEST_HWI";

/// The device HWI is to drive, from the environment: type, fingerprint, path.
fn device() -> Option<(String, String, Option<String>)> {
    let var = |v: &str| std::env::var(v).ok().filter(|s| !s.trim().is_empty());
    match (var(TYPE_VAR), var(FINGERPRINT_VAR)) {
        (Some(t), Some(f)) => Some((t, f.to_ascii_lowercase(), var(PATH_VAR))),
        _ => {
            say(&format!(
                "skipped hwi_device: {TYPE_VAR} and {FINGERPRINT_VAR} not set (name a device HWI drives; see hardware-tests/README.md)"
            ));
            None
        }
    }
}

fn program() -> PathBuf {
    if let Some(p) = std::env::var_os(PROGRAM_VAR) {
        return p.into();
    }
    let venv = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv-hwi/bin/hwi");
    if venv.exists() {
        venv
    } else {
        "hwi".into()
    }
}

/// The manifest's head and its `hw` signer (HWI, the device of the environment).
fn head(kind: &str, fingerprint: &str, path: Option<&str>) -> String {
    let mut toml = format!(
        "entity = \"Hardware Test\"\nsnapshot_id = \"hw-test-2026-12\"\ncreated_at = \"2026-12-01T00:00:00Z\"\n\n\
         [anchors.BTC]\nheight = 925000\nblock_hash = \"00000000000000000001c5f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6e5f\"\n\n\
         [[signers]]\nid = \"hw\"\nkind = \"hwi\"\nfingerprint = \"{fingerprint}\"\ndevice_type = \"{kind}\"\ncommand = \"{}\"\n",
        program().display()
    );
    if let Some(p) = path {
        let _ = writeln!(toml, "device_path = \"{p}\"");
    }
    toml
}

#[test]
fn hwi_device() {
    let Some((kind, fingerprint, path)) = device() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let base = head(&kind, &fingerprint, path.as_deref());
    // Open the device on a manifest without addresses, to read its account keys.
    let m = write_manifest(dir.path(), &base);
    let mut hw = HwiSigner::open(&m, "hw", HwiMode::Auto)
        .unwrap_or_else(|e| panic!("{TYPE_VAR}={kind}: {e}"));
    say(&format!("  HWI: {}", hw.describe()));
    let secp = Secp256k1::verification_only();
    let mut toml = base.clone();
    let short = kind.split('_').next().unwrap_or(&kind).to_string();
    for (st, purpose) in [
        (ScriptType::P2pkh, 44),
        (ScriptType::P2shP2wpkh, 49),
        (ScriptType::P2wpkh, 84),
        (ScriptType::P2tr, 86),
    ] {
        let shape = TaskShape {
            multisig: false,
            complete: true,
            bip322_allowed: true,
        };
        if let Route::Unsupported(why) = route(&short, st, shape) {
            say(&format!("  {st}: not attested on a {short}: {why}"));
            continue;
        }
        let account = DerivationPath::from_str(&format!("m/{purpose}'/0'/0'")).unwrap();
        let xpub = hw
            .extended_pubkey(ChainFamily::Bitcoin, &account, false)
            .unwrap_or_else(|e| panic!("the {st} account key: {e}"));
        for i in 0..2 {
            let child = [ChildNumber::from(0), ChildNumber::from(i)];
            let key = xpub.derive_pub(&secp, &child).unwrap().public_key;
            let ck = CompressedPublicKey(key);
            let address = match st {
                ScriptType::P2pkh => Address::p2pkh(ck, Network::Bitcoin),
                ScriptType::P2shP2wpkh => Address::p2shwpkh(&ck, Network::Bitcoin),
                ScriptType::P2wpkh => Address::p2wpkh(&ck, Network::Bitcoin),
                _ => Address::p2tr(&secp, key.x_only_public_key().0, None, Network::Bitcoin),
            };
            let _ = write!(
                toml,
                "\n[[addresses]]\nchain = \"BTC\"\naddress = \"{address}\"\nscript_type = \"{st}\"\npath = \"m/{purpose}'/0'/0'/0/{i}\"\nsigner = \"hw\"\n"
            );
        }
    }
    drop(hw);
    let m = write_manifest(dir.path(), &toml);
    assert!(!m.addresses.is_empty(), "no script type to attest");
    let journal = dir.path().join("journal-hw.jsonl");
    let mut hw = HwiSigner::open(&m, "hw", HwiMode::Auto).unwrap();
    let opts = SignOptions {
        signer: Some("hw".into()),
        ..SignOptions::default()
    };
    let s = sign_with(&m, &journal, &mut hw, &opts).unwrap_or_else(|e| panic!("signing: {e}"));
    assert_eq!((s.signed_now, s.rejected), (m.addresses.len(), 0), "{s:?}");
    assert!(s.unsupported.is_empty(), "{s:?}");
    drop(hw);
    package_and_verify(dir.path(), &m, journal);
    say(&format!(
        "  {} address(es) signed on the {kind} through HWI, packaged and verified",
        s.signed_now
    ));

    // The same device named by another fingerprint: refused before anything is signed (with a
    // device path; without one HWI finds no device of that fingerprint at all).
    let other = if fingerprint == "00000001" {
        "00000002"
    } else {
        "00000001"
    };
    let m = write_manifest(dir.path(), &toml.replacen(&fingerprint, other, 1));
    let journal = dir.path().join("journal-wrong.jsonl");
    match HwiSigner::open(&m, "hw", HwiMode::Auto) {
        Err(e) => assert!(path.is_none(), "{e}"),
        Ok(mut hw) => {
            let e = sign_with(&m, &journal, &mut hw, &opts).unwrap_err();
            assert!(matches!(e, CeremonyError::WrongDevice(_)), "{e}");
        }
    }
    assert!(!journal.exists());
}
