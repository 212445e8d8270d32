//! Hot wallets on a real PKCS#11 token (SoftHSM2, set up in a temporary folder by each test):
//! `hsm keys`, a mixed ceremony (simulated Ledgers and the HSM, one snapshot that verifies), the
//! refusals (wrong PIN, missing token, missing key, a key that is not secp256k1, an address
//! that is not the key's) and kill -9 during an HSM run. Skipped, with the reason printed, when
//! SoftHSM2 or OpenSC is not installed (`scripts/setup` installs them).

#[path = "support/ceremony_checks.rs"]
mod ceremony_checks;

use bitcoin::secp256k1::PublicKey;
use ceremony_checks::{
    check_resumed, check_single_key_schemes, demo_with_key_rows, kill_9_after, package_and_verify,
    refused_twice, run, sign_demo_ledgers, signed_records,
};
use por_attest::ceremony::{sign, SignOptions};
use por_attest::chains::{ChainFamily, Network, ScriptType};
use por_attest::demo::{write_manifest, DEMO_SIGNERS};
use por_attest::manifest::Manifest;
use por_attest::pkcs11::address_of;
use por_attest::simulator::softhsm::{self, SoftHsm, USER_PIN};
use por_attest::simulator::{SimulatedLedger, SimulatorConfig};
use por_attest::verify::{verify_snapshot_file, VerifyOptions};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const TOKEN: &str = "hot-wallets";
/// CKA_ID of the P-256 key every token also holds.
const P256_ID: &str = "ee";
/// The chains and script types each HSM key is listed with in the test manifests.
const ROWS: [(&str, Option<ScriptType>); 6] = [
    ("BTC", Some(ScriptType::P2wpkh)),
    ("BTC", Some(ScriptType::P2shP2wpkh)),
    ("BTC", Some(ScriptType::P2pkh)),
    ("ETH", None),
    ("ARB", None),
    ("TRX", None),
];

/// A SoftHSM2 store with one token of `keys` secp256k1 keys (CKA_ID 01, 02, …, labels
/// `hot-N`) and a P-256 key; `None` (after printing why) when SoftHSM2 is not installed.
struct Hot {
    hsm: SoftHsm,
    serial: String,
    keys: Vec<(String, PublicKey)>,
}

fn hot_token(dir: &Path, keys: usize) -> Option<Hot> {
    if let Some(why) = softhsm::missing() {
        eprintln!("skipping: {why}");
        return None;
    }
    let hsm = SoftHsm::new(dir).unwrap();
    let serial = hsm.init_token(TOKEN).unwrap();
    let keys = (1..=keys)
        .map(|i| {
            let id = format!("{i:02x}");
            let pk = hsm
                .generate_key(TOKEN, &id, &format!("hot-{i}"), "EC:secp256k1")
                .unwrap()
                .expect("a secp256k1 public key");
            (id, pk)
        })
        .collect();
    hsm.generate_key(TOKEN, P256_ID, "p256", "EC:prime256v1")
        .unwrap();
    Some(Hot { hsm, serial, keys })
}

fn address(pk: &PublicKey, chain: &str, st: Option<ScriptType>) -> String {
    let family = ChainFamily::of(chain).unwrap();
    address_of(pk, family, st, Network::Mainnet).unwrap()
}

/// A CSV row (columns chain,address,script_type,path,signer,key) of key `id` on `hsm-1`.
fn row(id: &str, pk: &PublicKey, chain: &str, st: Option<ScriptType>) -> String {
    let st_text = st.map(|t| t.to_string()).unwrap_or_default();
    format!(
        "{chain},{},{st_text},,hsm-1,id:{id}",
        address(pk, chain, st)
    )
}

/// The rows of every key's [`ROWS`].
fn hsm_rows(hot: &Hot) -> Vec<String> {
    let mut rows = Vec::new();
    for (id, pk) in &hot.keys {
        for (chain, st) in ROWS {
            rows.push(row(id, pk, chain, st));
        }
    }
    rows
}

const ANCHORS: &str = "[anchors.BTC]\nheight = 870000\nblock_hash = \"00aa\"\n\n\
    [anchors.ETH]\nheight = 21000000\nblock_hash = \"0xbb\"\n\n\
    [anchors.ARB]\nheight = 280000000\nblock_hash = \"0xcc\"\n\n\
    [anchors.TRX]\nheight = 68000000\nblock_hash = \"dd\"\n";

/// The `[[signers]]` table of the HSM, with `token` and `pin_env` as given.
fn hsm_signer(hot: &Hot, token: &str) -> String {
    format!(
        "[[signers]]\nid = \"hsm-1\"\nkind = \"pkcs11\"\nmodule = \"{}\"\ntoken = \"{token}\"\npin_env = \"POR_ATTEST_PIN\"\n",
        hot.hsm.module().display()
    )
}

/// Writes a manifest of the HSM signer and `rows` (manifest.toml + addresses.csv in `dir`).
fn hsm_manifest(dir: &Path, hot: &Hot, token: &str, rows: &[String]) -> PathBuf {
    let toml = format!(
        "entity = \"Acme Exchange\"\nsnapshot_id = \"2026-12\"\ncreated_at = \"2026-12-01T00:00:00Z\"\naddresses_csv = \"addresses.csv\"\n\n{ANCHORS}\n{}",
        hsm_signer(hot, token)
    );
    let csv = format!(
        "chain,address,script_type,path,signer,key\n{}\n",
        rows.join("\n")
    );
    std::fs::write(dir.join("addresses.csv"), csv).unwrap();
    let path = dir.join("manifest.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

/// `por-attest ARGS` against the store, with the user PIN (or `pin`) in POR_ATTEST_PIN.
fn por_attest(hot: &Hot, pin: &str) -> Command {
    let mut c = hot.hsm.command(env!("CARGO_BIN_EXE_por-attest"));
    c.env("POR_ATTEST_PIN", pin).stdin(Stdio::null());
    c
}

fn sign_hsm(
    hot: &Hot,
    manifest: &Path,
    journal: &Path,
    pin: &str,
    extra: &[&str],
) -> (i32, String) {
    let mut c = por_attest(hot, pin);
    c.arg("sign").arg("--manifest").arg(manifest);
    c.args(["--signer", "hsm-1", "--journal"]).arg(journal);
    c.args(extra);
    let (out, text) = run(c);
    assert!(
        !text.contains(pin) || pin.is_empty(),
        "the PIN was printed: {text}"
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn hsm_keys_lists_keys_and_writes_manifest_rows_that_sign() {
    let dir = tempfile::tempdir().unwrap();
    let Some(hot) = hot_token(dir.path(), 2) else {
        return;
    };
    let module = hot.hsm.module().to_path_buf();
    let keys = |extra: &[&str]| {
        let mut c = por_attest(&hot, USER_PIN);
        c.args(["hsm", "keys", "--module"]).arg(&module).args(extra);
        let (out, text) = run(c);
        assert!(out.status.success(), "{text}");
        (String::from_utf8(out.stdout).unwrap(), text)
    };
    let (human, _) = keys(&["--token", TOKEN]);
    assert!(
        human.contains(&format!("token `{TOKEN}` (serial {})", hot.serial)),
        "{human}"
    );
    assert!(human.contains("2 secp256k1 key(s)"), "{human}");
    for (id, pk) in &hot.keys {
        assert!(
            human.contains(&format!("key id:{id} (label `hot-")),
            "{human}"
        );
        assert!(human.contains(&pk.to_string()), "{human}");
        for (chain, st) in ROWS.iter().filter(|(c, _)| *c != "ARB") {
            assert!(
                human.contains(&address(pk, chain, *st)),
                "{chain} {st:?}: {human}"
            );
        }
    }
    assert!(
        human.contains(&format!("not listed: key id:{P256_ID}")) && human.contains("prime256v1"),
        "{human}"
    );

    // CSV rows by serial, PIN from a file: BTC p2wpkh and p2pkh, ETH, TRX per key.
    let pin_file = dir.path().join("pin");
    std::fs::write(&pin_file, format!("{USER_PIN}\n")).unwrap();
    let (csv, text) = keys(&[
        "--token-serial",
        &hot.serial,
        "--pin-file",
        pin_file.to_str().unwrap(),
        "--signer",
        "hsm-1",
        "--csv",
    ]);
    assert!(text.contains("warning: not listed: key id:ee"), "{text}");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "chain,address,script_type,path,signer,key");
    assert_eq!(lines.len(), 1 + 4 * hot.keys.len(), "{csv}");
    let (id, pk) = &hot.keys[0];
    assert_eq!(
        lines[1..5],
        [
            row(id, pk, "BTC", Some(ScriptType::P2wpkh)),
            row(id, pk, "BTC", Some(ScriptType::P2pkh)),
            row(id, pk, "ETH", None),
            row(id, pk, "TRX", None),
        ]
    );

    // The rows are a manifest's: sign them on the token, package, verify.
    let rows: Vec<String> = lines[1..].iter().map(|l| l.to_string()).collect();
    let manifest = hsm_manifest(dir.path(), &hot, TOKEN, &rows);
    let journal = dir.path().join("journal-hsm-1.jsonl");
    let (code, text) = sign_hsm(&hot, &manifest, &journal, USER_PIN, &[]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("8 signed now"), "{text}");
    let m = Manifest::load(&manifest).unwrap();
    package_and_verify(dir.path(), &m, std::slice::from_ref(&journal), 8);
    // Every record names the key that signed, and a re-run signs nothing.
    assert!(signed_records(&journal)
        .iter()
        .all(|r| r.2.starts_with("id:0")));
    let (code, text) = sign_hsm(&hot, &manifest, &journal, USER_PIN, &[]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("0 signed now, 8 already"), "{text}");
}

#[test]
fn mixed_ceremony_ledgers_and_hsm_give_one_snapshot_that_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let Some(hot) = hot_token(dir.path(), 3) else {
        return;
    };
    // The demo's cold wallets on three simulated Ledgers, plus the HSM's hot wallets.
    const COLD: usize = 24;
    let rows = hsm_rows(&hot);
    let manifest = demo_with_key_rows(dir.path(), COLD, &hsm_signer(&hot, TOKEN), &rows);
    let m = Manifest::load(&manifest).unwrap();
    let mut journals = sign_demo_ledgers(&m, dir.path());
    let journal = dir.path().join("journal-hsm-1.jsonl");
    let (code, text) = sign_hsm(&hot, &manifest, &journal, USER_PIN, &["--parallel", "2"]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains(&format!("{} signed now", rows.len())),
        "{text}"
    );
    journals.push(journal);
    let bytes = package_and_verify(dir.path(), &m, &journals, COLD + rows.len());
    let text = String::from_utf8(bytes).unwrap();
    for (id, pk) in &hot.keys {
        for (chain, st) in ROWS {
            assert!(text.contains(&address(pk, chain, st)), "key {id} {chain}");
        }
    }
    // The HSM's segwit addresses are BIP-322 proofs (CKM_ECDSA over the BIP-143 digest of
    // `to_sign`), P2PKH a legacy message: no entry of the snapshot is legacy.
    let hsm_addresses: Vec<String> = hot
        .keys
        .iter()
        .flat_map(|(_, pk)| ROWS.iter().map(|(c, st)| address(pk, c, *st)))
        .collect();
    check_single_key_schemes(&dir.path().join("snapshot.json"), &hsm_addresses);
    let r =
        verify_snapshot_file(&dir.path().join("snapshot.json"), &VerifyOptions::default()).unwrap();
    assert_eq!(r.legacy, 0, "{}", r.to_human());
}

/// A manifest of two good HSM addresses (key 01's BTC) and `bad` (an ETH row) last, signed
/// once: the good ones are journaled, `bad` is refused with `expect` in the message, and a
/// second run changes nothing.
fn refused_address(bad_key: &str, bad_address_of: usize, expect: impl Fn(&Hot) -> Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let Some(hot) = hot_token(dir.path(), 2) else {
        return;
    };
    let (id, pk) = &hot.keys[0];
    let bad_address = address(&hot.keys[bad_address_of].1, "ETH", None);
    let rows = vec![
        row(id, pk, "BTC", Some(ScriptType::P2wpkh)),
        row(id, pk, "BTC", Some(ScriptType::P2pkh)),
        format!("ETH,{bad_address},,,hsm-1,{bad_key}"),
    ];
    let manifest = hsm_manifest(dir.path(), &hot, TOKEN, &rows);
    let journal = dir.path().join("j.jsonl");
    let journal_text = refused_twice(
        || sign_hsm(&hot, &manifest, &journal, USER_PIN, &[]),
        &journal,
        &expect(&hot),
        &bad_address,
    );
    assert!(!journal_text.contains(USER_PIN));
}

#[test]
fn missing_key_is_refused_before_signing_its_address() {
    refused_address("id:77", 1, |_| {
        vec![
            format!("token `{TOKEN}`"),
            "has no private key id:77".into(),
            "signature(s) of this run are safe in the journal".into(),
        ]
    });
}

#[test]
fn non_secp256k1_key_is_refused_before_signing_its_address() {
    refused_address(&format!("id:{P256_ID}"), 1, |_| {
        vec![
            "key id:ee".into(),
            "prime256v1 (P-256), not a secp256k1 key".into(),
        ]
    });
}

#[test]
fn address_that_is_not_the_keys_is_refused_before_signing() {
    // Key 02's ETH address said to be key 01's.
    refused_address("id:01", 1, |hot| {
        vec![
            "address mismatch".into(),
            format!(
                "the device derives {}",
                address(&hot.keys[0].1, "ETH", None)
            ),
            "at id:01".into(),
            "refusing to sign".into(),
        ]
    });
}

#[test]
fn wrong_pin_and_missing_token_are_refused_before_anything_is_signed() {
    let dir = tempfile::tempdir().unwrap();
    let Some(hot) = hot_token(dir.path(), 1) else {
        return;
    };
    let (id, pk) = &hot.keys[0];
    let rows = vec![row(id, pk, "TRX", None)];
    let manifest = hsm_manifest(dir.path(), &hot, TOKEN, &rows);
    let journal = dir.path().join("j.jsonl");

    let (code, text) = sign_hsm(&hot, &manifest, &journal, "999999", &[]);
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("signer `hsm-1`: the user PIN for token `hot-wallets`"),
        "{text}"
    );
    assert!(
        text.contains("is incorrect") && text.contains("nothing was signed"),
        "{text}"
    );
    assert!(!journal.exists(), "no journal before login");

    let (code, text) = sign_hsm(&hot, &manifest, &journal, "", &[]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("POR_ATTEST_PIN (pin_env) is empty"), "{text}");

    // After a good run the journal is kept byte for byte by a failed login.
    let (code, text) = sign_hsm(&hot, &manifest, &journal, USER_PIN, &[]);
    assert_eq!(code, 0, "{text}");
    let before = std::fs::read(&journal).unwrap();
    let (code, _) = sign_hsm(&hot, &manifest, &journal, "111111", &[]);
    assert_eq!(code, 2);
    assert_eq!(std::fs::read(&journal).unwrap(), before);

    // A token that is not there: named, with the tokens that are.
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    let missing = hsm_manifest(&other, &hot, "cold-storage", &rows);
    let journal = other.join("j.jsonl");
    let (code, text) = sign_hsm(&hot, &missing, &journal, USER_PIN, &[]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("token `cold-storage`: not found"), "{text}");
    assert!(
        text.contains(&format!("`{TOKEN}` serial {}", hot.serial)),
        "{text}"
    );
    assert!(!journal.exists());

    // --device is for Ledgers; --parallel for signers with sessions.
    let (code, text) = sign_hsm(&hot, &manifest, &journal, USER_PIN, &["--device", "sim"]);
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("is a pkcs11 HSM") && text.contains("--device sim is not used"),
        "{text}"
    );
}

#[test]
fn kill_9_during_an_hsm_run_then_resume_loses_nothing_and_signs_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    // 100 keys × 6 rows: long enough to be killed in the middle.
    let Some(hot) = hot_token(dir.path(), 100) else {
        return;
    };
    let rows = hsm_rows(&hot);
    let manifest = hsm_manifest(dir.path(), &hot, TOKEN, &rows);
    let journal = dir.path().join("journal-hsm-1.jsonl");
    let mut c = por_attest(&hot, USER_PIN);
    c.arg("sign").arg("--manifest").arg(&manifest);
    c.args(["--signer", "hsm-1", "--parallel", "2", "--journal"])
        .arg(&journal);
    c.stdout(Stdio::null()).stderr(Stdio::null());
    let mut child = c.spawn().unwrap();
    let before = kill_9_after(&mut child, &journal, 40, rows.len());

    let (code, text) = sign_hsm(&hot, &manifest, &journal, USER_PIN, &["--parallel", "2"]);
    assert_eq!(code, 0, "{text}");
    check_resumed(&journal, &before, rows.len(), &text);

    let m = Manifest::load(&manifest).unwrap();
    let bytes = package_and_verify(dir.path(), &m, std::slice::from_ref(&journal), rows.len());
    // Each pre-kill signature is the one in the snapshot.
    let text = String::from_utf8(bytes.clone()).unwrap();
    for (_, addr, _, sig) in &before {
        assert!(
            text.contains(sig.as_str()),
            "{addr}: its journaled signature is not in the snapshot"
        );
    }
    // Resuming again signs nothing, and the snapshot is byte-identical.
    let (code, text) = sign_hsm(&hot, &manifest, &journal, USER_PIN, &[]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("0 signed now"), "{text}");
    assert_eq!(
        package_and_verify(dir.path(), &m, &[journal], rows.len()),
        bytes
    );
}

/// `--parallel` needs a signer with sessions of its own: a Ledger is refused before anything
/// is signed (no SoftHSM2 needed).
#[test]
fn parallel_sessions_are_refused_for_a_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let m = Manifest::load(write_manifest(dir.path(), 6).unwrap()).unwrap();
    let (id, words) = DEMO_SIGNERS[0];
    let sim = SimulatedLedger::new(SimulatorConfig::with_mnemonic(words)).unwrap();
    let journal = dir.path().join("j.jsonl");
    let opts = SignOptions {
        signer: Some(id.into()),
        device_is_simulator: true,
        parallel: 2,
        ..SignOptions::default()
    };
    let e = sign(&m, &journal, &mut sim.transport(), &opts).unwrap_err();
    assert!(e.to_string().contains("signs one task at a time"), "{e}");
    assert!(signed_records(&journal).is_empty());
}
