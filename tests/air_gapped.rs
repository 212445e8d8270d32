//! Air-gapped signers through SD-card files (`sign --files DIR`): a software Coldcard
//! (`por_attest::simulator::soft_coldcard`, following the firmware's file rules) and PyPI's
//! bip322-core (`bip322-dev signpsbt`, an independent implementation) answer the requests;
//! a mixed ceremony (a simulated Ledger, a Coldcard through files, SoftHSM2 when installed)
//! packages one snapshot that verifies and whose BIP-322 proofs bip322-core accepts; every
//! refusal names its file and leaves the other answers imported; kill -9 during an import,
//! then resume, journals nothing twice. The bip322-core and SoftHSM2 parts skip, saying why,
//! when those are not installed (`scripts/setup` installs both).

#[path = "support/bip322_core.rs"]
mod bip322_core;
#[path = "support/kill.rs"]
mod kill;

use bitcoin::bip32::{DerivationPath, Fingerprint, Xpub};
use bitcoin::{Address, CompressedPublicKey, Network, Psbt};
use por_attest::air_gapped::answer::{decode_psbt, encode_psbt, PsbtEncoding};
use por_attest::ceremony::files::{sign_files, FilesOptions, FilesSummary};
use por_attest::ceremony::{sign, SignOptions};
use por_attest::demo::{write_account_manifest, ACCOUNT_TEMPLATE, DEMO_SIGNERS};
use por_attest::fixtures::{master_key, secret_at};
use por_attest::manifest::Manifest;
use por_attest::package::{package, PackageOptions};
use por_attest::schemes::secp;
use por_attest::simulator::soft_coldcard::{Outcome, SoftColdcard};
use por_attest::simulator::{softhsm, SimulatedLedger, SimulatorConfig};
use por_attest::verify::{verify_snapshot_file, VerifyOptions};
use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::time::Duration;

/// The simulated Ledger's seed, the Coldcard's, and a third device's.
const LEDGER: &str = DEMO_SIGNERS[0].1;
const COLDCARD: &str = DEMO_SIGNERS[1].1;
const OTHER: &str = DEMO_SIGNERS[2].1;

fn fingerprint(mnemonic: &str) -> Fingerprint {
    master_key(mnemonic).fingerprint(secp())
}

fn xpub(mnemonic: &str, path: &str) -> Xpub {
    let p = DerivationPath::from_str(path).unwrap();
    Xpub::from_priv(
        secp(),
        &master_key(mnemonic).derive_priv(secp(), &p).unwrap(),
    )
}

fn pubkey(mnemonic: &str, path: &str) -> bitcoin::secp256k1::PublicKey {
    secret_at(&master_key(mnemonic), path).public_key(secp())
}

/// The mainnet address of `mnemonic`'s key at `path` for a single-key script type.
fn address(mnemonic: &str, path: &str, st: &str) -> String {
    let pk = pubkey(mnemonic, path);
    let ck = CompressedPublicKey(pk);
    match st {
        "p2pkh" => Address::p2pkh(ck, Network::Bitcoin),
        "p2sh-p2wpkh" => Address::p2shwpkh(&ck, Network::Bitcoin),
        "p2wpkh" => Address::p2wpkh(&ck, Network::Bitcoin),
        "p2tr" => Address::p2tr(secp(), pk.x_only_public_key().0, None, Network::Bitcoin),
        _ => unreachable!(),
    }
    .to_string()
}

/// A sorted 2-of-2 P2WSH address of two cosigners' keys at `origin/0/0`.
fn p2wsh_2of2(a: &str, b: &str, origin: &str) -> String {
    let mut keys: Vec<bitcoin::PublicKey> = [a, b]
        .iter()
        .map(|m| bitcoin::PublicKey::new(pubkey(m, &format!("{origin}/0/0"))))
        .collect();
    keys.sort_by_key(|k| k.to_bytes());
    let script = bitcoin::ScriptBuf::from_bytes(
        por_attest::schemes::multisig::multisig_script(2, &keys).unwrap(),
    );
    Address::p2wsh(&script, Network::Bitcoin).to_string()
}

const ANCHORS: &str = "[anchors.BTC]\nheight = 870000\nblock_hash = \"00000000000000000001b6f4c7dbd5e8a0c3f1a6e4b2d9c8f7a6b5c4d3e2f1a0\"\n\n\
    [anchors.ETH]\nheight = 21000000\nblock_hash = \"0x8a3b1c2d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9\"\n";

fn header(snapshot: &str) -> String {
    format!(
        "entity = \"Acme Exchange\"\nsnapshot_id = \"{snapshot}\"\ntest = true\ncreated_at = \"2026-12-01T00:00:00Z\"\naccount_template = \"{ACCOUNT_TEMPLATE}\"\n\n{ANCHORS}\n"
    )
}

fn signer(id: &str, kind: &str, mnemonic: &str) -> String {
    format!(
        "[[signers]]\nid = \"{id}\"\nkind = \"{kind}\"\nfingerprint = \"{}\"\n\n",
        fingerprint(mnemonic)
    )
}

fn single(signer: &str, mnemonic: &str, path: &str, st: &str) -> String {
    format!(
        "[[addresses]]\nchain = \"BTC\"\naddress = \"{}\"\nscript_type = \"{st}\"\npath = \"{path}\"\nsigner = \"{signer}\"\n\n",
        address(mnemonic, path, st)
    )
}

/// The Coldcard's single-key addresses: one of each type the files prove.
fn coldcard_addresses(id: &str) -> String {
    [
        ("m/44'/0'/0'/0/0", "p2pkh"),
        ("m/49'/0'/0'/0/0", "p2sh-p2wpkh"),
        ("m/84'/0'/0'/0/0", "p2wpkh"),
        ("m/86'/0'/0'/0/0", "p2tr"),
    ]
    .iter()
    .map(|(p, st)| single(id, COLDCARD, p, st))
    .collect()
}

/// A 2-of-2 P2WSH address of the Coldcard `cc` and `other` (a signer id of `other_seed`).
fn multisig_address(cc: &str, other: &str, other_seed: &str) -> String {
    let origin = "m/48'/0'/0'/2'";
    format!(
        "[[addresses]]\nchain = \"BTC\"\naddress = \"{}\"\nscript_type = \"p2wsh\"\nthreshold = 2\nsorted = true\nchild = \"0/0\"\ncosigners = [\n  {{ signer = \"{cc}\", path = \"{origin}\", xpub = \"{}\" }},\n  {{ signer = \"{other}\", path = \"{origin}\", xpub = \"{}\" }},\n]\n\n",
        p2wsh_2of2(COLDCARD, other_seed, origin),
        xpub(COLDCARD, origin),
        xpub(other_seed, origin)
    )
}

/// The Coldcard's accounts: a P2WPKH account (its key from the device's export, not the
/// manifest) and a 2-of-2 P2WSH wallet with the Ledger.
fn coldcard_accounts(cc: &str, ledger: &str) -> String {
    let origin = "m/48'/0'/1'/2'";
    format!(
        "[[accounts]]\nchain = \"BTC\"\nscript_type = \"p2wpkh\"\nsigner = \"{cc}\"\npath = \"m/84'/0'/0'\"\nranges = [\"1/0-9\"]\n\n\
         [[accounts]]\nchain = \"BTC\"\nscript_type = \"p2wsh\"\nthreshold = 2\nsorted = true\nranges = [\"0/0-9\"]\n\
         [[accounts.cosigners]]\nsigner = \"{cc}\"\npath = \"{origin}\"\nxpub = \"{}\"\n\
         [[accounts.cosigners]]\nsigner = \"{ledger}\"\npath = \"{origin}\"\nxpub = \"{}\"\n\n",
        xpub(COLDCARD, origin),
        xpub(LEDGER, origin)
    )
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn por_attest() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_por-attest"));
    c.stdin(Stdio::null());
    c
}

/// `por-attest sign --files` for `signer`: exit status and output.
fn sign_files_cli(
    manifest: &Path,
    signer: &str,
    journal: &Path,
    dir: &Path,
    extra: &[&str],
) -> (i32, String) {
    let mut c = por_attest();
    c.arg("sign").arg("--manifest").arg(manifest);
    c.args(["--signer", signer, "--journal"]).arg(journal);
    c.arg("--files").arg(dir).args(extra);
    let out = c.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// The `signed` records of a journal as (address, path, signature), in file order.
fn signed_records(journal: &Path) -> Vec<(String, String, String)> {
    std::fs::read_to_string(journal)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["kind"] == "signed")
        .map(|v| {
            let s = |k: &str| v[k].as_str().unwrap().to_string();
            (s("address"), s("path"), s("signature"))
        })
        .collect()
}

/// The files in `dir` whose names end with `suffix`, sorted.
fn files_ending(dir: &Path, suffix: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(suffix))
        .collect();
    v.sort();
    v
}

fn answered(outcomes: &[(String, Outcome)]) -> usize {
    outcomes
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Answered(_)))
        .count()
}

/// Packages the journals, verifies the snapshot (VERIFIED), and has bip322-core check every
/// Bitcoin signature (when installed). Returns the snapshot's bytes.
fn package_verify_and_cross_check(dir: &Path, m: &Manifest, journals: &[PathBuf]) -> Vec<u8> {
    let snap = package(m, journals, &PackageOptions::default())
        .unwrap()
        .snapshot;
    let bytes = snap.to_file_bytes();
    let out = dir.join("snapshot.json");
    std::fs::write(&out, &bytes).unwrap();
    let r = verify_snapshot_file(&out, &VerifyOptions::default()).unwrap();
    assert_eq!(r.exit_code(), 0, "{}", r.to_human());
    match bip322_core::python() {
        Err(why) => eprintln!("SKIP the bip322-core cross-check: {why}"),
        Ok(py) => {
            let proofs: Vec<(String, String, String)> = snap
                .entries
                .iter()
                .filter(|e| e.chain == "BTC")
                .flat_map(|e| {
                    e.signatures
                        .iter()
                        .map(|s| (e.address.clone(), e.message.clone(), s.signature.clone()))
                })
                .collect();
            assert!(!proofs.is_empty());
            let verdicts = bip322_core::verify(&py, &proofs);
            for (v, p) in verdicts.iter().zip(&proofs) {
                assert_eq!(v.0, "valid", "bip322-core on {}: {}", p.0, v.1);
            }
        }
    }
    bytes
}

#[test]
fn a_mixed_ceremony_of_a_ledger_a_coldcard_through_files_and_an_hsm_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let card = dir.path().join("sd");
    std::fs::create_dir(&card).unwrap();
    // SoftHSM2, when installed: one hot-wallet key on a token.
    let hsm = match softhsm::missing() {
        Some(why) => {
            eprintln!("SKIP the HSM part: {why}");
            None
        }
        None => {
            let h = softhsm::SoftHsm::new(&dir.path().join("hsm")).unwrap();
            h.init_token("hot").unwrap();
            let pk = h
                .generate_key("hot", "01", "hot-1", "EC:secp256k1")
                .unwrap()
                .unwrap();
            Some((h, pk))
        }
    };
    let mut toml = header("2026-12");
    toml += &signer("cc-1", "coldcard", COLDCARD);
    toml += &signer("ledger-a", "simulator", LEDGER);
    if let Some((h, _)) = &hsm {
        let _ = write!(
            toml,
            "[[signers]]\nid = \"hsm-1\"\nkind = \"pkcs11\"\nmodule = \"{}\"\ntoken = \"hot\"\npin_env = \"POR_ATTEST_PIN\"\n\n",
            h.module().display()
        );
    }
    toml += &coldcard_addresses("cc-1");
    toml += &multisig_address("cc-1", "ledger-a", LEDGER);
    toml += &single("ledger-a", LEDGER, "m/84'/0'/0'/0/1", "p2wpkh");
    toml += "[[addresses]]\nchain = \"ETH\"\naddress = \"0xDad77910DbDFdE764fC21FCD4E74D71bBACA6D8D\"\npath = \"m/44'/60'/0'/0/0\"\nsigner = \"ledger-a\"\n\n";
    if let Some((_, pk)) = &hsm {
        let a = Address::p2wpkh(&CompressedPublicKey(*pk), Network::Bitcoin);
        let _ = write!(toml, "[[addresses]]\nchain = \"BTC\"\naddress = \"{a}\"\nscript_type = \"p2wpkh\"\nsigner = \"hsm-1\"\nkey = \"id:01\"\n\n");
    }
    toml += &coldcard_accounts("cc-1", "ledger-a");
    let manifest = write(dir.path(), "manifest.toml", &toml);
    let m = Manifest::load(&manifest).unwrap();
    let journal = dir.path().join("journal-cc-1.jsonl");
    let device = SoftColdcard::new(COLDCARD, Network::Bitcoin);

    // First run, before the device's key export: what needs no export is written (P2PKH's
    // text file, the multisig share, the wallet's account message, the wallet file); the
    // single-key PSBTs and the account without xpub wait for the export.
    let (code, text) = sign_files_cli(&manifest, "cc-1", &journal, &card, &[]);
    assert_eq!(code, 3, "{text}");
    assert!(text.contains("need the device's public keys"), "{text}");
    assert!(text.contains("Export Wallet > Generic JSON"), "{text}");
    assert!(
        text.contains("Resume") || text.contains("run again"),
        "{text}"
    );
    assert_eq!(files_ending(&card, ".psbt").len(), 1, "{text}");
    assert_eq!(files_ending(&card, "-wallet-1.txt").len(), 1, "{text}");
    assert!(signed_records(&journal).is_empty());

    // The export on the card: every request is written, and the same command says so.
    write(&card, "coldcard-export.json", &device.generic_json());
    let (code, text) = sign_files_cli(&manifest, "cc-1", &journal, &card, &[]);
    assert_eq!(code, 3, "{text}");
    assert!(text.contains("0 imported now"), "{text}");
    // P2SH-P2WPKH, P2WPKH, P2TR, the multisig share; P2PKH and the two accounts as text.
    assert_eq!(files_ending(&card, ".psbt").len(), 4, "{text}");
    assert_eq!(files_ending(&card, ".txt").len(), 3 + 2, "{text}"); // + 2 wallet files
    assert!(text.contains("0 of 7 done"), "{text}");
    assert!(
        text.contains("Ready To Sign") && text.contains("Sign Text File"),
        "{text}"
    );
    assert!(text.contains("Import from File"), "{text}");
    // Each request's content follows Coldcard's rules (the soft device checks them).
    let outcomes = device.answer_dir(&card).unwrap();
    assert_eq!(answered(&outcomes), 7, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .any(|(_, o)| matches!(o, Outcome::Registered(_))),
        "{outcomes:?}"
    );
    // The P2PKH request is three lines, no fourth.
    let txt = std::fs::read_to_string(card.join("cc-1-e0000.txt")).unwrap();
    assert_eq!(txt.split('\n').count(), 3, "{txt:?}");
    assert!(txt.ends_with("\nm/44'/0'/0'/0/0\np2pkh"), "{txt:?}");

    let (code, text) = sign_files_cli(&manifest, "cc-1", &journal, &card, &[]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("7 imported now, 0 already"), "{text}");
    assert!(text.contains("confirmations: 7"), "{text}");
    assert_eq!(signed_records(&journal).len(), 7);
    // Again: nothing imported twice, nothing written.
    let (code, text) = sign_files_cli(&manifest, "cc-1", &journal, &card, &[]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("0 imported now, 7 already"), "{text}");
    assert_eq!(signed_records(&journal).len(), 7);

    // The Ledger's part, on the simulator.
    let ledger_journal = dir.path().join("journal-ledger-a.jsonl");
    let sim = SimulatedLedger::new(SimulatorConfig::with_mnemonic(LEDGER)).unwrap();
    let opts = SignOptions {
        signer: Some("ledger-a".into()),
        device_is_simulator: true,
        ..SignOptions::default()
    };
    let s = sign(&m, &ledger_journal, &mut sim.transport(), &opts).unwrap();
    assert!(s.unsupported.is_empty(), "{:?}", s.unsupported);
    let mut journals = vec![journal.clone(), ledger_journal];
    if let Some((h, _)) = &hsm {
        let hsm_journal = dir.path().join("journal-hsm-1.jsonl");
        let out = h
            .command(env!("CARGO_BIN_EXE_por-attest"))
            .env("POR_ATTEST_PIN", softhsm::USER_PIN)
            .arg("sign")
            .arg("--manifest")
            .arg(&manifest)
            .args(["--signer", "hsm-1", "--journal"])
            .arg(&hsm_journal)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        journals.push(hsm_journal);
    }
    let bytes = package_verify_and_cross_check(dir.path(), &m, &journals);
    let snapshot = String::from_utf8(bytes).unwrap();
    // The Coldcard's proofs are BIP-322 where the Ledger's are: smp / ful, and the wallet
    // finalized from both cosigners' shares.
    assert!(snapshot.contains("\"bip322-full\""));
    assert!(snapshot.contains("\"bip322-simple\""));
}

#[test]
fn bip322_core_answers_the_psbt_requests_of_a_psbt_signer() {
    let Ok(py) = bip322_core::python() else {
        eprintln!("SKIP: {}", bip322_core::python().unwrap_err());
        return;
    };
    let dev = py.parent().unwrap().join("bip322-dev");
    let dir = tempfile::tempdir().unwrap();
    let card = dir.path().join("qr");
    std::fs::create_dir(&card).unwrap();
    let mut toml = header("2026-12");
    toml += &signer("jade-1", "psbt", OTHER);
    toml += &signer("cc-1", "coldcard", COLDCARD);
    for (p, st) in [
        ("m/49'/0'/0'/0/3", "p2sh-p2wpkh"),
        ("m/84'/0'/0'/0/3", "p2wpkh"),
        ("m/86'/0'/0'/0/3", "p2tr"),
        ("m/44'/0'/0'/0/3", "p2pkh"),
    ] {
        toml += &single("jade-1", OTHER, p, st);
    }
    toml += &multisig_address("cc-1", "jade-1", OTHER);
    let manifest = write(dir.path(), "manifest.toml", &toml);
    // The device's keys as [fingerprint/path]xpub lines (what such signers show).
    let fp = fingerprint(OTHER);
    let keys: String = ["84'/0'/0'", "49'/0'/0'", "86'/0'/0'"]
        .iter()
        .map(|p| format!("[{fp}/{p}]{}\n", xpub(OTHER, &format!("m/{p}"))))
        .collect();
    let keys = write(dir.path(), "jade-keys.txt", &keys);
    let journal = dir.path().join("journal-jade-1.jsonl");
    let keys_arg = keys.to_str().unwrap();
    let (code, text) = sign_files_cli(&manifest, "jade-1", &journal, &card, &["--keys", keys_arg]);
    assert_eq!(code, 3, "{text}");
    // P2PKH has no PSBT route on a psbt signer: unsupported, listed before anything.
    assert!(
        text.contains("not signed: BTC") && text.contains("psbt signer cannot"),
        "{text}"
    );
    let requests = files_ending(&card, ".psbt");
    assert_eq!(requests.len(), 4, "{text}");
    // bip322-core signs each (its master xprv; it finds its key by the derivations), answers
    // in base64 and binary alternately.
    let xprv = master_key(OTHER).to_string();
    for (i, r) in requests.iter().enumerate() {
        let base = r.trim_end_matches(".psbt");
        let answer = card.join(format!(
            "{base}-{}.psbt",
            if i == 3 { "part" } else { "signed" }
        ));
        let mut c = Command::new(&dev);
        c.arg("signpsbt")
            .arg(card.join(r))
            .arg(&xprv)
            .arg("-o")
            .arg(&answer);
        if i % 2 == 1 {
            c.arg("--binary");
        }
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "bip322-dev signpsbt {r}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (code, text) = sign_files_cli(&manifest, "jade-1", &journal, &card, &["--keys", keys_arg]);
    assert_eq!(code, 1, "{text}"); // done, but the P2PKH address is unsupported
    assert!(text.contains("4 imported now"), "{text}");
    assert!(!text.contains("refused:"), "{text}");

    // The multisig's other cosigner, the Coldcard, and the package with bip322-core's check.
    let cc_card = dir.path().join("sd");
    std::fs::create_dir(&cc_card).unwrap();
    let cc_journal = dir.path().join("journal-cc-1.jsonl");
    let (code, text) = sign_files_cli(&manifest, "cc-1", &cc_journal, &cc_card, &[]);
    assert_eq!(code, 3, "{text}");
    let device = SoftColdcard::new(COLDCARD, Network::Bitcoin);
    assert_eq!(answered(&device.answer_dir(&cc_card).unwrap()), 1);
    let (code, text) = sign_files_cli(&manifest, "cc-1", &cc_journal, &cc_card, &[]);
    assert_eq!(code, 0, "{text}");
    let m = Manifest::load(&manifest).unwrap();
    let snap = package(
        &m,
        &[journal, cc_journal],
        &PackageOptions {
            allow_unsigned: true,
            ..PackageOptions::default()
        },
    )
    .unwrap()
    .snapshot;
    let proofs: Vec<(String, String, String)> = snap
        .entries
        .iter()
        .flat_map(|e| {
            e.signatures
                .iter()
                .map(|s| (e.address.clone(), e.message.clone(), s.signature.clone()))
        })
        .collect();
    assert_eq!(proofs.len(), 4);
    for (v, p) in bip322_core::verify(&py, &proofs).iter().zip(&proofs) {
        assert_eq!(v.0, "valid", "bip322-core on {}: {}", p.0, v.1);
    }
}

/// Runs the file ceremony in-process.
fn try_files(
    m: &Manifest,
    journal: &Path,
    dir: &Path,
    signer: &str,
) -> Result<FilesSummary, por_attest::ceremony::CeremonyError> {
    let opts = FilesOptions {
        signer: signer.into(),
        dir: dir.to_path_buf(),
        keys: vec![],
    };
    sign_files(m, journal, &opts)
}

fn run_files(m: &Manifest, journal: &Path, dir: &Path, signer: &str) -> FilesSummary {
    try_files(m, journal, dir, signer).unwrap()
}

fn read_psbt(path: &Path) -> Psbt {
    decode_psbt(&std::fs::read(path).unwrap()).unwrap().0
}

/// The Coldcard's manifest of the refusal tests: the four single-key types, two more P2PKH
/// and P2WPKH addresses, the multisig share, the wallet account; ETH on the Coldcard.
fn refusal_manifest(dir: &Path, snapshot: &str) -> PathBuf {
    let mut toml = header(snapshot);
    toml += &signer("cc-1", "coldcard", COLDCARD);
    toml += &signer("ledger-a", "simulator", LEDGER);
    toml += &coldcard_addresses("cc-1");
    toml += &single("cc-1", COLDCARD, "m/44'/0'/0'/0/1", "p2pkh");
    toml += &single("cc-1", COLDCARD, "m/84'/0'/0'/0/1", "p2wpkh");
    toml += &single("cc-1", COLDCARD, "m/84'/0'/0'/0/2", "p2wpkh");
    toml += &multisig_address("cc-1", "ledger-a", LEDGER);
    toml += "[[addresses]]\nchain = \"ETH\"\naddress = \"0x9858EfFD232B4033E47d90003D41EC34EcaEda94\"\npath = \"m/44'/60'/0'/0/0\"\nsigner = \"cc-1\"\n\n";
    toml += &coldcard_accounts("cc-1", "ledger-a");
    std::fs::create_dir_all(dir).unwrap();
    write(dir, "manifest.toml", &toml)
}

#[test]
fn every_bad_answer_is_refused_with_its_file_and_the_others_still_import() {
    let dir = tempfile::tempdir().unwrap();
    let card = dir.path().join("sd");
    std::fs::create_dir(&card).unwrap();
    let device = SoftColdcard::new(COLDCARD, Network::Bitcoin);
    write(&card, "coldcard-export.json", &device.generic_json());
    let manifest = refusal_manifest(dir.path(), "2026-12");
    let m = Manifest::load(&manifest).unwrap();
    let journal = dir.path().join("journal.jsonl");
    let first = run_files(&m, &journal, &card, "cc-1");
    // ETH on a Coldcard: listed as unsupported, no request.
    assert_eq!(first.unsupported.len(), 1, "{:?}", first.unsupported);
    assert!(first.unsupported[0].contains("signs Bitcoin only"));
    assert_eq!(first.written.len(), 10, "{:?}", first.written);

    // Answers from another snapshot's ceremony (the same device and addresses).
    let other_dir = dir.path().join("other");
    let other_card = other_dir.join("sd");
    std::fs::create_dir_all(&other_card).unwrap();
    write(&other_card, "coldcard-export.json", &device.generic_json());
    let other = Manifest::load(refusal_manifest(&other_dir, "2026-11")).unwrap();
    run_files(&other, &other_dir.join("j.jsonl"), &other_card, "cc-1");
    device.answer_dir(&other_card).unwrap();
    let outcomes = device.answer_dir(&card).unwrap();
    assert_eq!(answered(&outcomes), 10, "{outcomes:?}");

    let copy = |from: &Path, to: &str| std::fs::copy(from, card.join(to)).unwrap();
    // 1. Another snapshot: the P2SH-P2WPKH answer of November's ceremony.
    copy(
        &other_card.join("cc-1-e0001-signed.psbt"),
        "cc-1-e0001-signed.psbt",
    );
    // 2. Another address: e0005's answer given as e0006's (both P2WPKH).
    copy(
        &card.join("cc-1-e0005-signed.psbt"),
        "cc-1-e0006-signed.psbt",
    );
    // 3. Another message: the P2PKH text file of the other snapshot, signed.
    copy(
        &other_card.join("cc-1-e0000-signed.txt"),
        "cc-1-e0000-signed.txt",
    );
    // 4. Another address by text: e0000's answer given as e0004's (both P2PKH).
    copy(
        &other_card.join("cc-1-e0004-signed.txt"),
        "cc-1-e0004-signed.txt",
    );
    // 5. Another key: the P2WPKH request signed by another device's key.
    let request = read_psbt(&card.join("cc-1-e0002.psbt"));
    let mut forged = request.clone();
    let other_master = master_key(OTHER);
    let pk = pubkey(OTHER, "m/84'/0'/0'/0/0");
    forged.inputs[0].bip32_derivation.clear();
    forged.inputs[0].bip32_derivation.insert(
        pk,
        (
            other_master.fingerprint(secp()),
            DerivationPath::from_str("m/84'/0'/0'/0/0").unwrap(),
        ),
    );
    forged.sign(&other_master, secp()).unwrap();
    std::fs::write(
        card.join("cc-1-e0002-signed.psbt"),
        encode_psbt(&forged, PsbtEncoding::Base64),
    )
    .unwrap();
    // 6. An unsigned transaction that differs: the P2TR answer with another lock time.
    let mut p2tr = read_psbt(&card.join("cc-1-e0003-signed.psbt"));
    p2tr.unsigned_tx.lock_time = bitcoin::absolute::LockTime::from_consensus(1);
    std::fs::write(
        card.join("cc-1-e0003-signed.psbt"),
        encode_psbt(&p2tr, PsbtEncoding::Hex),
    )
    .unwrap();
    // 7. A truncated file: half of the multisig share.
    let share = std::fs::read(card.join("cc-1-e0007-k1-part.psbt")).unwrap();
    std::fs::write(
        card.join("cc-1-e0007-k1-part.psbt"),
        &share[..share.len() / 2],
    )
    .unwrap();
    // 8. Garbage as the wallet account's answer.
    std::fs::write(card.join("cc-1-a001-k1-signed.txt"), "garbage\n").unwrap();
    // 9. A signature that does not verify: the P2WPKH e0005 answer with the signature of
    //    another digest by the same key.
    let mut bad = read_psbt(&card.join("cc-1-e0005-signed.psbt"));
    let w = bad.inputs[0].final_script_witness.clone().unwrap();
    let sk = secret_at(&master_key(COLDCARD), "m/84'/0'/0'/0/1");
    let wrong = secp().sign_ecdsa(&bitcoin::secp256k1::Message::from_digest([7u8; 32]), &sk);
    let mut sig = wrong.serialize_der().to_vec();
    sig.push(0x01);
    bad.inputs[0].final_script_witness = Some(bitcoin::Witness::from_slice(&[sig, w[1].to_vec()]));
    std::fs::write(
        card.join("cc-1-e0005-signed.psbt"),
        encode_psbt(&bad, PsbtEncoding::Binary),
    )
    .unwrap();

    let s = run_files(&m, &journal, &card, "cc-1");
    let reason = |file: &str| -> String {
        s.refused
            .iter()
            .find(|r| r.file == file)
            .map(|r| r.reason.clone())
            .unwrap_or_else(|| panic!("{file} was not refused: {:?}", s.refused))
    };
    for (file, why) in [
        ("cc-1-e0001-signed.psbt", "not the request's"),
        ("cc-1-e0006-signed.psbt", "derives"),
        ("cc-1-e0000-signed.txt", "another message"),
        ("cc-1-e0004-signed.txt", "another message"),
        ("cc-1-e0002-signed.psbt", "address mismatch"),
        ("cc-1-e0003-signed.psbt", "not the request's"),
        ("cc-1-e0007-k1-part.psbt", "PSBT"),
        ("cc-1-a001-k1-signed.txt", "BEGIN BITCOIN SIGNED MESSAGE"),
        ("cc-1-e0005-signed.psbt", "does not verify"),
    ] {
        let r = reason(file);
        assert!(r.contains(why), "{file}: {r}");
    }
    assert_eq!(s.refused.len(), 9, "{:?}", s.refused);
    // The sound answer (the P2WPKH account) is imported; nothing of a refused one is.
    assert_eq!(
        s.imported,
        vec!["cc-1-a000-signed.txt".to_string()],
        "{s:?}"
    );
    let records = signed_records(&journal);
    assert_eq!(records.len(), 1);
    // The requests of the refused tasks are still there, unchanged ("waiting").
    assert_eq!(s.waiting.len(), 9, "{s:?}");

    // The device signs them again; they import.
    for f in files_ending(&card, "-signed.psbt")
        .into_iter()
        .chain(files_ending(&card, "-signed.txt"))
        .chain(files_ending(&card, "-part.psbt"))
    {
        std::fs::remove_file(card.join(f)).unwrap();
    }
    device.answer_dir(&card).unwrap();
    let s = run_files(&m, &journal, &card, "cc-1");
    assert!(s.refused.is_empty(), "{:?}", s.refused);
    assert_eq!(s.imported.len(), 9, "{s:?}");
    assert_eq!(s.missing(), 0);
    assert_eq!(signed_records(&journal).len(), 10);
}

#[test]
fn a_key_export_of_another_device_or_path_stops_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let card = dir.path().join("sd");
    std::fs::create_dir(&card).unwrap();
    let manifest = refusal_manifest(dir.path(), "2026-12");
    let m = Manifest::load(&manifest).unwrap();
    let journal = dir.path().join("journal.jsonl");
    // Another device's export on the card.
    write(
        &card,
        "coldcard-export.json",
        &SoftColdcard::new(OTHER, Network::Bitcoin).generic_json(),
    );
    let e = try_files(&m, &journal, &card, "cc-1").unwrap_err();
    assert!(
        e.to_string().contains("coldcard-export.json") && e.to_string().contains("expects"),
        "{e}"
    );
    assert_eq!(
        files_ending(&card, ".psbt").len() + files_ending(&card, ".txt").len(),
        0
    );
    // The right device, but the manifest's P2WPKH address is not the key at its path.
    write(
        &card,
        "coldcard-export.json",
        &SoftColdcard::new(COLDCARD, Network::Bitcoin).generic_json(),
    );
    let text = std::fs::read_to_string(&manifest).unwrap().replacen(
        &address(COLDCARD, "m/84'/0'/0'/0/1", "p2wpkh"),
        &address(COLDCARD, "m/84'/0'/0'/0/9", "p2wpkh"),
        1,
    );
    let bad = Manifest::load(write(dir.path(), "bad.toml", &text)).unwrap();
    let e = try_files(&bad, &dir.path().join("j2.jsonl"), &card, "cc-1").unwrap_err();
    assert!(
        e.to_string().contains("gives") && e.to_string().contains("nothing was written"),
        "{e}"
    );
    assert_eq!(files_ending(&card, ".psbt").len(), 0);
    // --files is for air-gapped signers only.
    let e = try_files(&m, &journal, &card, "ledger-a").unwrap_err();
    assert!(e.to_string().contains("not a file-based signer"), "{e}");
    // And a Coldcard is not a --device.
    let out = por_attest()
        .arg("sign")
        .arg("--manifest")
        .arg(&manifest)
        .args(["--signer", "cc-1", "--device", "sim", "--journal"])
        .arg(&journal)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("kind coldcard") && text.contains("--files DIR"),
        "{text}"
    );
}

#[test]
fn device_limits_are_checked_before_any_request_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let card = dir.path().join("sd");
    std::fs::create_dir(&card).unwrap();
    // The default account template ({anchor}: 64 hex digits) makes a Bitcoin account message
    // longer than the 240 characters Coldcard signs as text; a long entity makes even the
    // address messages too long for a text file (P2PKH) but not for a PSBT (330).
    let entity = format!("Acme Exchange{}", " Reserve Custody".repeat(5));
    let toml = format!(
        "entity = \"{entity}\"\nsnapshot_id = \"2026-12\"\ntest = true\n\n{ANCHORS}\n{}{}{}",
        signer("cc-1", "coldcard", COLDCARD),
        single("cc-1", COLDCARD, "m/44'/0'/0'/0/0", "p2pkh"),
        single("cc-1", COLDCARD, "m/84'/0'/0'/0/0", "p2wpkh"),
    ) + &format!(
        "[[accounts]]\nchain = \"BTC\"\nscript_type = \"p2wpkh\"\nsigner = \"cc-1\"\npath = \"m/84'/0'/1'\"\nxpub = \"{}\"\nranges = [\"0/0-1\"]\n",
        xpub(COLDCARD, "m/84'/0'/1'")
    );
    let m = Manifest::load(write(dir.path(), "m.toml", &toml)).unwrap();
    write(
        &card,
        "coldcard-export.json",
        &SoftColdcard::new(COLDCARD, Network::Bitcoin).generic_json(),
    );
    let s = run_files(&m, &dir.path().join("j.jsonl"), &card, "cc-1");
    assert_eq!(s.unsupported.len(), 2, "{:?}", s.unsupported);
    assert!(
        s.unsupported.iter().all(|u| u.contains("at most 240")),
        "{:?}",
        s.unsupported
    );
    assert_eq!(s.written, vec!["cc-1-e0001.psbt".to_string()]);
}

#[test]
fn kill_9_during_an_import_then_resume_journals_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let card = dir.path().join("sd");
    std::fs::create_dir(&card).unwrap();
    let n = 300;
    let toml = header("2026-12").replacen(
        "test = true\n",
        "test = true\naddresses_csv = \"addresses.csv\"\n",
        1,
    ) + &signer("cc-1", "coldcard", COLDCARD);
    let mut csv = String::from("chain,address,script_type,path,signer\n");
    for i in 0..n {
        let p = format!("m/84'/0'/0'/0/{i}");
        let _ = writeln!(
            csv,
            "BTC,{},p2wpkh,{p},cc-1",
            address(COLDCARD, &p, "p2wpkh")
        );
    }
    write(dir.path(), "addresses.csv", &csv);
    let manifest = write(dir.path(), "manifest.toml", &toml);
    let m = Manifest::load(&manifest).unwrap();
    let device = SoftColdcard::new(COLDCARD, Network::Bitcoin);
    write(&card, "coldcard-export.json", &device.generic_json());
    let journal = dir.path().join("journal-cc-1.jsonl");
    assert_eq!(run_files(&m, &journal, &card, "cc-1").written.len(), n);
    assert_eq!(answered(&device.answer_dir(&card).unwrap()), n);

    let mut c = por_attest();
    c.arg("sign").arg("--manifest").arg(&manifest);
    c.args(["--signer", "cc-1", "--journal"])
        .arg(&journal)
        .arg("--files")
        .arg(&card);
    kill::kill_when(c, Duration::from_millis(1), || {
        signed_records(&journal).len() >= 20
    });
    let before = signed_records(&journal);
    assert!(
        before.len() < n,
        "killed after the end: nothing was interrupted"
    );

    let (code, text) = sign_files_cli(&manifest, "cc-1", &journal, &card, &[]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains(&format!(
            "{} imported now, {} already",
            n - before.len(),
            before.len()
        )),
        "{text}"
    );
    let after = signed_records(&journal);
    assert_eq!(
        after[..before.len()],
        before[..],
        "a record journaled before the kill changed"
    );
    let keys: HashSet<_> = after.iter().map(|r| (r.0.clone(), r.1.clone())).collect();
    assert_eq!(keys.len(), after.len(), "a task was journaled twice");
    assert_eq!(after.len(), n);
    let snap = package(&m, &[journal], &PackageOptions::default())
        .unwrap()
        .snapshot;
    let out = dir.path().join("snapshot.json");
    std::fs::write(&out, snap.to_file_bytes()).unwrap();
    assert_eq!(
        verify_snapshot_file(&out, &VerifyOptions::default())
            .unwrap()
            .exit_code(),
        0
    );
}

/// The figures of the README: a `demo --accounts 4` manifest with Coldcards for the three
/// simulated devices (the EVM and TRON accounts stay with Ledgers: a Coldcard signs Bitcoin
/// only).
#[test]
fn a_demo_accounts_ceremony_on_coldcards_needs_eleven_files_and_seven_confirmations() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = write_account_manifest(dir.path(), 1000, 4).unwrap();
    let text = std::fs::read_to_string(&manifest)
        .unwrap()
        .replace("kind = \"simulator\"", "kind = \"coldcard\"");
    let m = Manifest::load(write(dir.path(), "manifest.toml", &text)).unwrap();
    let (mut files, mut confirmations, mut unsupported) = (0, 0, 0);
    for (id, seed) in DEMO_SIGNERS {
        let card = dir.path().join(id);
        std::fs::create_dir(&card).unwrap();
        let journal = dir.path().join(format!("journal-{id}.jsonl"));
        let s = run_files(&m, &journal, &card, id);
        assert!(s.needs_keys.is_empty(), "{s:?}");
        files += s.written.len() + s.wallet_files.len();
        unsupported += s.unsupported.len();
        let device = SoftColdcard::new(seed, Network::Bitcoin);
        let outcomes = device.answer_dir(&card).unwrap();
        files += answered(&outcomes);
        confirmations += device.confirmations();
        let s = run_files(&m, &journal, &card, id);
        assert_eq!(s.missing(), 0, "{s:?}");
        assert!(s.refused.is_empty(), "{s:?}");
    }
    assert_eq!(unsupported, 2, "the ETH and TRON accounts");
    assert_eq!((files, confirmations), (11, 7));
}

#[test]
fn coldcard_keys_writes_manifest_rows_that_sign_and_coldcard_wallet_files_register() {
    let dir = tempfile::tempdir().unwrap();
    let device = SoftColdcard::new(COLDCARD, Network::Bitcoin);
    let export = write(dir.path(), "coldcard-export.json", &device.generic_json());
    let cosigner = format!(
        "[{}/48h/0h/3h/2h]{}",
        fingerprint(COLDCARD),
        xpub(COLDCARD, "m/48'/0'/3'/2'")
    );
    let out = por_attest()
        .args([
            "coldcard", "keys", "--signer", "cc-1", "--ranges", "0/0-4", "--export",
        ])
        .arg(&export)
        .args(["--key", &cosigner])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = String::from_utf8(out.stdout).unwrap();
    assert!(rows.contains(&format!(
        "kind = \"coldcard\"\nfingerprint = \"{}\"",
        fingerprint(COLDCARD)
    )));
    assert_eq!(rows.matches("[[accounts]]\n").count(), 4, "{rows}");
    // The multisig keys (the export's three and the --key) as cosigner entries to paste.
    assert_eq!(
        rows.matches("# [[accounts.cosigners]]").count(),
        4,
        "{rows}"
    );
    assert!(rows.contains("# path = \"m/48'/0'/3'/2'\""), "{rows}");
    // The rows make a manifest that loads and signs through files.
    let manifest = write(dir.path(), "manifest.toml", &(header("2026-12") + &rows));
    let m = Manifest::load(&manifest).unwrap();
    assert_eq!(m.accounts.len(), 4);
    let card = dir.path().join("sd");
    std::fs::create_dir(&card).unwrap();
    let journal = dir.path().join("j.jsonl");
    let (code, text) = sign_files_cli(&manifest, "cc-1", &journal, &card, &[]);
    assert_eq!(code, 3, "{text}");
    assert_eq!(answered(&device.answer_dir(&card).unwrap()), 4);
    let (code, text) = sign_files_cli(&manifest, "cc-1", &journal, &card, &[]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("4 imported now"), "{text}");

    // Bad input names what is wrong.
    let out = por_attest()
        .args(["coldcard", "keys", "--key", "[f5acc2fd/84h]xpub-nonsense"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--key #1"));

    // coldcard wallet: the multisig address's wallet and the wallet account's, each
    // registered by the device.
    let m = refusal_manifest(&dir.path().join("w"), "2026-12");
    let out_dir = dir.path().join("wallets");
    let out = por_attest()
        .args(["coldcard", "wallet", "--signer", "cc-1", "--manifest"])
        .arg(&m)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let files = files_ending(&out_dir, ".txt");
    assert_eq!(files.len(), 2, "{files:?}");
    let fresh = SoftColdcard::new(COLDCARD, Network::Bitcoin);
    for f in &files {
        let text = std::fs::read_to_string(out_dir.join(f)).unwrap();
        assert!(text.contains("Policy: 2 of 2\nFormat: P2WSH\n"), "{text}");
        fresh.register_wallet(&text).unwrap();
    }
    // Another device cannot register them: its key is not in them.
    let other = SoftColdcard::new(OTHER, Network::Bitcoin);
    let text = std::fs::read_to_string(out_dir.join(&files[0])).unwrap();
    assert!(other
        .register_wallet(&text)
        .unwrap_err()
        .contains("not included"));
}

/// A sorted 1-of-2 multisig address of the Coldcard and `other` at `origin/0/0`, its manifest
/// entry naming both signers.
fn one_of_two(st: &str, origin: &str) -> String {
    let mut keys: Vec<bitcoin::PublicKey> = [COLDCARD, OTHER]
        .iter()
        .map(|m| bitcoin::PublicKey::new(pubkey(m, &format!("{origin}/0/0"))))
        .collect();
    keys.sort_by_key(|k| k.to_bytes());
    let script = bitcoin::ScriptBuf::from_bytes(
        por_attest::schemes::multisig::multisig_script(1, &keys).unwrap(),
    );
    let a = match st {
        "p2wsh" => Address::p2wsh(&script, Network::Bitcoin),
        "p2sh-p2wsh" => Address::p2shwsh(&script, Network::Bitcoin),
        _ => Address::p2sh(&script, Network::Bitcoin).unwrap(),
    };
    format!(
        "[[addresses]]\nchain = \"BTC\"\naddress = \"{a}\"\nscript_type = \"{st}\"\nthreshold = 1\nsorted = true\nchild = \"0/0\"\ncosigners = [\n  {{ signer = \"cc-1\", path = \"{origin}\", xpub = \"{}\" }},\n  {{ signer = \"other\", path = \"{origin}\", xpub = \"{}\" }},\n]\n\n",
        xpub(COLDCARD, origin),
        xpub(OTHER, origin)
    )
}

#[test]
fn finalized_multisig_answers_import_and_package() {
    // 1-of-2 wallets: the device's one signature completes the input, so it finalizes it
    // (witness, or scriptSig for legacy P2SH); the import takes the signature back out.
    let dir = tempfile::tempdir().unwrap();
    let card = dir.path().join("sd");
    std::fs::create_dir(&card).unwrap();
    let toml = header("2026-12")
        + &signer("cc-1", "coldcard", COLDCARD)
        + &signer("other", "simulator", OTHER)
        + &one_of_two("p2wsh", "m/48'/0'/5'/2'")
        + &one_of_two("p2sh-p2wsh", "m/48'/0'/5'/1'")
        + &one_of_two("p2sh", "m/45'");
    let manifest = write(dir.path(), "manifest.toml", &toml);
    let m = Manifest::load(&manifest).unwrap();
    let journal = dir.path().join("j.jsonl");
    let s = run_files(&m, &journal, &card, "cc-1");
    assert_eq!((s.written.len(), s.wallet_files.len()), (3, 3), "{s:?}");
    let device = SoftColdcard::new(COLDCARD, Network::Bitcoin);
    let outcomes = device.answer_dir(&card).unwrap();
    assert_eq!(answered(&outcomes), 3, "{outcomes:?}");
    for f in files_ending(&card, "-signed.psbt") {
        let p = read_psbt(&card.join(&f));
        let i = &p.inputs[0];
        assert!(i.partial_sigs.is_empty(), "{f}: not finalized");
        assert!(i.final_script_witness.is_some() || i.final_script_sig.is_some());
    }
    let s = run_files(&m, &journal, &card, "cc-1");
    assert!(s.refused.is_empty(), "{:?}", s.refused);
    assert_eq!(s.imported.len(), 3);
    package_verify_and_cross_check(dir.path(), &m, &[journal]);
}
