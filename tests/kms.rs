//! Hot wallets in a key service: AWS KMS keys against a real AWS KMS API server on loopback
//! (moto's, with its DIGEST and key-state departures from AWS fixed by `scripts/moto_kms.py`,
//! started per test and stopped by PID), and `command` signers through the test adapter
//! `tests/support/soft_signer.py`. `kms keys`, a mixed ceremony (simulated Ledgers, SoftHSM2,
//! KMS, a command signer: one snapshot that verifies), every refusal (disabled, pending
//! deletion, wrong key spec, access denied, missing key, no credentials, network failure, a
//! refusing or dying adapter) with everything signed before it journaled, throttling retried,
//! and kill -9 during a `--parallel` run then resume. Skipped, with the reason printed, when
//! `.venv-kms` (scripts/setup) is missing.

#[path = "support/ceremony_checks.rs"]
mod ceremony_checks;
#[path = "support/moto_kms.rs"]
mod moto_kms;

use bitcoin::secp256k1::PublicKey;
use ceremony_checks::{
    check_resumed, check_single_key_schemes, demo_with_key_rows, kill_9_after, package_and_verify,
    refused_twice, run, sign_demo_ledgers, signed_records,
};
use moto_kms::{soft_signer_command, soft_signer_key, MotoKms, SECRET_ACCESS_KEY};
use por_attest::chains::{ChainFamily, Network, ScriptType};
use por_attest::manifest::Manifest;
use por_attest::pkcs11::address_of;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The chains and script types each key is listed with.
const ROWS: [(&str, Option<ScriptType>); 5] = [
    ("BTC", Some(ScriptType::P2wpkh)),
    ("BTC", Some(ScriptType::P2shP2wpkh)),
    ("BTC", Some(ScriptType::P2pkh)),
    ("ETH", None),
    ("TRX", None),
];

fn address(pk: &PublicKey, chain: &str, st: Option<ScriptType>) -> String {
    address_of(pk, ChainFamily::of(chain).unwrap(), st, Network::Mainnet).unwrap()
}

/// A CSV row (chain,address,script_type,path,signer,key).
fn row(signer: &str, key: &str, pk: &PublicKey, chain: &str, st: Option<ScriptType>) -> String {
    let st_text = st.map(|t| t.to_string()).unwrap_or_default();
    format!(
        "{chain},{},{st_text},,{signer},{key}",
        address(pk, chain, st)
    )
}

/// Every [`ROWS`] row of `keys` (name, public key) held by `signer`.
fn rows_of(signer: &str, keys: &[(String, PublicKey)]) -> Vec<String> {
    keys.iter()
        .flat_map(|(k, pk)| ROWS.iter().map(move |(c, st)| row(signer, k, pk, c, *st)))
        .collect()
}

/// The server's secp256k1 keys alias/hot-1.. by alias.
fn hot_keys(kms: &MotoKms) -> Vec<(String, PublicKey)> {
    kms.keys
        .iter()
        .filter(|k| {
            k.alias
                .as_deref()
                .is_some_and(|a| a.starts_with("alias/hot-"))
        })
        .map(|k| (k.alias.clone().unwrap(), k.public_key.unwrap()))
        .collect()
}

/// Writes manifest.toml (test entity, BTC/ETH/TRX anchors, `signers`) and addresses.csv.
fn manifest(dir: &Path, signers: &str, rows: &[String]) -> PathBuf {
    let toml = format!(
        "entity = \"Acme Exchange\"\nsnapshot_id = \"2026-12\"\ncreated_at = \"2026-12-01T00:00:00Z\"\n\
         addresses_csv = \"addresses.csv\"\n\n\
         [anchors.BTC]\nheight = 870000\nblock_hash = \"00aa\"\n\n\
         [anchors.ETH]\nheight = 21000000\nblock_hash = \"0xbb\"\n\n\
         [anchors.TRX]\nheight = 68000000\nblock_hash = \"dd\"\n\n{signers}"
    );
    std::fs::write(
        dir.join("addresses.csv"),
        format!(
            "chain,address,script_type,path,signer,key\n{}\n",
            rows.join("\n")
        ),
    )
    .unwrap();
    let path = dir.join("manifest.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

fn por_attest() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_por-attest"));
    MotoKms::credentials(&mut c).stdin(Stdio::null());
    c
}

/// `por-attest sign` of `signer`: exit code and output (which never holds the secret key).
fn sign(manifest: &Path, signer: &str, journal: &Path, extra: &[&str]) -> (i32, String) {
    let mut c = por_attest();
    c.arg("sign").arg("--manifest").arg(manifest);
    c.args(["--signer", signer, "--journal"])
        .arg(journal)
        .args(extra);
    let (out, text) = run(c);
    assert!(
        !text.contains(SECRET_ACCESS_KEY),
        "the secret was printed: {text}"
    );
    (out.status.code().unwrap_or(-1), text)
}

fn skip() -> bool {
    match moto_kms::missing() {
        Some(why) => {
            eprintln!("skipping: {why}");
            true
        }
        None => false,
    }
}

#[test]
fn kms_keys_lists_keys_and_writes_manifest_rows_that_sign() {
    if skip() {
        return;
    }
    let kms = MotoKms::start(
        r#"[{"alias":"alias/rsa","spec":"RSA_2048"},{"alias":"alias/off","state":"Disabled"},
            {"spec":"SYMMETRIC_DEFAULT","usage":"ENCRYPT_DECRYPT"},
            {"alias":"alias/private","deny":["kms:DescribeKey"]}]"#,
        2,
        &[],
    );
    let keys = |extra: &[&str]| {
        let mut c = por_attest();
        c.args([
            "kms",
            "keys",
            "--region",
            &kms.region,
            "--endpoint",
            &kms.endpoint,
        ]);
        c.args(extra);
        let (out, text) = run(c);
        assert!(out.status.success(), "{text}");
        assert!(!text.contains(SECRET_ACCESS_KEY));
        (String::from_utf8(out.stdout).unwrap(), text)
    };
    let (human, _) = keys(&[]);
    assert!(human.contains(": 2 secp256k1 key(s)"), "{human}");
    for (alias, pk) in hot_keys(&kms) {
        let k = kms.key(&alias);
        assert!(
            human.contains(&format!("key {} ({alias}): public key {pk}", k.key_id)),
            "{human}"
        );
        for (chain, st) in ROWS {
            assert!(human.contains(&address(&pk, chain, st)), "{human}");
        }
    }
    for (alias, why) in [
        (
            "alias/rsa",
            "a RSA_2048 key for SIGN_VERIFY, not a secp256k1 signing key",
        ),
        (
            "alias/off",
            "a secp256k1 key in state Disabled, which cannot sign",
        ),
    ] {
        let id = &kms.key(alias).key_id;
        assert!(
            human.contains(&format!("not listed: key {id} ({alias}): {why}")),
            "{human}"
        );
    }
    assert!(
        human.contains("a SYMMETRIC_DEFAULT key for ENCRYPT_DECRYPT"),
        "{human}"
    );
    // A key the caller may not describe is left out with the reason, not the whole listing.
    let private = &kms.key("alias/private").key_id;
    assert!(
        human.contains(&format!(
            "not listed: key {private} (alias/private): access denied to AWS KMS key `{private}` (AccessDeniedException from DescribeKey"
        )),
        "{human}"
    );

    // The region from the environment; CSV rows by key id; they sign, package and verify.
    let mut c = por_attest();
    c.env("AWS_REGION", &kms.region);
    c.args([
        "kms",
        "keys",
        "--endpoint",
        &kms.endpoint,
        "--signer",
        "kms-hot",
        "--csv",
    ]);
    let (out, text) = run(c);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("warning: not listed: key"), "{text}");
    let csv = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "chain,address,script_type,path,signer,key");
    assert_eq!(lines.len(), 1 + 4 * 2, "{csv}");
    let dir = tempfile::tempdir().unwrap();
    let rows: Vec<String> = lines[1..].iter().map(|l| l.to_string()).collect();
    let m_path = manifest(dir.path(), &kms.signer_toml("kms-hot"), &rows);
    let journal = dir.path().join("journal-kms.jsonl");
    let (code, text) = sign(&m_path, "kms-hot", &journal, &["--parallel", "4"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("8 signed now"), "{text}");
    let m = Manifest::load(&m_path).unwrap();
    package_and_verify(dir.path(), &m, std::slice::from_ref(&journal), 8);
    let journal_text = std::fs::read_to_string(&journal).unwrap();
    assert!(!journal_text.contains(SECRET_ACCESS_KEY));
    assert!(signed_records(&journal)
        .iter()
        .all(|r| hot_keys(&kms).iter().any(|(a, _)| r.2 == kms.key(a).key_id)));
    let (code, text) = sign(&m_path, "kms-hot", &journal, &[]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("0 signed now, 8 already"), "{text}");
}

#[test]
fn mixed_ceremony_ledgers_softhsm_kms_and_a_command_signer_give_one_snapshot() {
    use por_attest::simulator::softhsm::{self, SoftHsm, USER_PIN};
    if skip() {
        return;
    }
    if let Some(why) = softhsm::missing() {
        eprintln!("skipping: {why}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // SoftHSM2: two keys.
    let hsm = SoftHsm::new(dir.path()).unwrap();
    hsm.init_token("hot-wallets").unwrap();
    let hsm_keys: Vec<(String, PublicKey)> = (1..=2)
        .map(|i| {
            let id = format!("{i:02x}");
            let pk = hsm
                .generate_key("hot-wallets", &id, &format!("hot-{i}"), "EC:secp256k1")
                .unwrap()
                .unwrap();
            (format!("id:{id}"), pk)
        })
        .collect();
    // KMS: three keys, named by alias, id and ARN.
    let kms = MotoKms::start("[]", 3, &[]);
    let mut kms_keys = hot_keys(&kms);
    kms_keys[1].0 = kms.key("alias/hot-2").key_id.clone();
    kms_keys[2].0 = kms.key("alias/hot-3").arn.clone();
    // The command adapter: two keys, DER answers.
    let cmd_keys: Vec<(String, PublicKey)> = ["warm-a", "warm-b"]
        .iter()
        .map(|k| (k.to_string(), soft_signer_key(k)))
        .collect();
    let signers = format!(
        "{}\n[[signers]]\nid = \"hsm-1\"\nkind = \"pkcs11\"\nmodule = \"{}\"\ntoken = \"hot-wallets\"\npin_env = \"POR_ATTEST_PIN\"\n\n\
         [[signers]]\nid = \"mpc-1\"\nkind = \"command\"\ncommand = {}\n",
        kms.signer_toml("kms-1"),
        hsm.module().display(),
        soft_signer_command(&["--keys", "warm-a,warm-b", "--der"]),
    );
    let mut rows = rows_of("hsm-1", &hsm_keys);
    rows.extend(rows_of("kms-1", &kms_keys));
    rows.extend(rows_of("mpc-1", &cmd_keys));
    const COLD: usize = 24;
    let manifest = demo_with_key_rows(dir.path(), COLD, &signers, &rows);
    let m = Manifest::load(&manifest).unwrap();
    let mut journals = sign_demo_ledgers(&m, dir.path());
    for (signer, n, parallel) in [("hsm-1", 10, "2"), ("kms-1", 15, "4"), ("mpc-1", 10, "2")] {
        let journal = dir.path().join(format!("journal-{signer}.jsonl"));
        let mut c = hsm.command(env!("CARGO_BIN_EXE_por-attest"));
        MotoKms::credentials(&mut c).env("POR_ATTEST_PIN", USER_PIN);
        c.arg("sign").arg("--manifest").arg(&manifest);
        c.args(["--signer", signer, "--parallel", parallel, "--journal"])
            .arg(&journal)
            .stdin(Stdio::null());
        let (out, text) = run(c);
        assert!(out.status.success(), "{signer}: {text}");
        assert!(
            text.contains(&format!("{n} signed now")),
            "{signer}: {text}"
        );
        journals.push(journal);
    }
    package_and_verify(dir.path(), &m, &journals, COLD + rows.len());
    // Segwit addresses of every key store are BIP-322 proofs, P2PKH a legacy message.
    let hot: Vec<String> = hsm_keys
        .iter()
        .chain(&kms_keys)
        .chain(&cmd_keys)
        .flat_map(|(_, pk)| ROWS.iter().map(|(c, st)| address(pk, c, *st)))
        .collect();
    let seen = check_single_key_schemes(&dir.path().join("snapshot.json"), &hot);
    assert_eq!(seen, rows.len());
}

/// A manifest of alias/hot-1's two BTC rows, then an ETH row of `bad_key` (address of
/// `bad_address`'s key) last, signed twice: each run stops with `expect` in its message, the
/// two good signatures are journaled once and nothing else is.
fn refused_kms_key(kms: &MotoKms, bad_key: &str, bad_address: &PublicKey, expect: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let pk = kms.key("alias/hot-1").public_key.unwrap();
    let bad = address(bad_address, "ETH", None);
    let rows = vec![
        row("kms-1", "alias/hot-1", &pk, "BTC", Some(ScriptType::P2wpkh)),
        row("kms-1", "alias/hot-1", &pk, "BTC", Some(ScriptType::P2pkh)),
        format!("ETH,{bad},,,kms-1,{bad_key}"),
    ];
    let m = manifest(dir.path(), &kms.signer_toml("kms-1"), &rows);
    let journal = dir.path().join("j.jsonl");
    let expect: Vec<String> = expect.iter().map(|e| e.to_string()).collect();
    refused_twice(|| sign(&m, "kms-1", &journal, &[]), &journal, &expect, &bad);
}

#[test]
fn unusable_kms_keys_are_refused_naming_the_key_with_what_was_signed_kept() {
    if skip() {
        return;
    }
    let kms = MotoKms::start(
        r#"[{"alias":"alias/off","state":"Disabled"},{"alias":"alias/gone","state":"PendingDeletion"},
            {"alias":"alias/rsa","spec":"RSA_2048"},{"alias":"alias/p256","spec":"ECC_NIST_P256"},
            {"alias":"alias/no-sign","deny":["kms:Sign"]}]"#,
        2,
        &[],
    );
    let own = |a: &str| kms.key(a).public_key.unwrap();
    let other = kms.key("alias/hot-2").public_key.unwrap();
    refused_kms_key(
        &kms,
        "alias/off",
        &own("alias/off"),
        &[
            "AWS KMS key `alias/off` is disabled (DisabledException from GetPublicKey",
            "enable-key",
        ],
    );
    refused_kms_key(
        &kms,
        &kms.key("alias/gone").key_id,
        &own("alias/gone"),
        &[
            &format!(
                "AWS KMS key `{}` cannot sign in its current state",
                kms.key("alias/gone").key_id
            ),
            "KMSInvalidStateException",
            "cancel-key-deletion",
        ],
    );
    refused_kms_key(
        &kms,
        "alias/rsa",
        &other,
        &["AWS KMS key `alias/rsa` is a RSA_2048 key for SIGN_VERIFY, not a secp256k1 signing key"],
    );
    refused_kms_key(
        &kms,
        &kms.key("alias/p256").arn,
        &other,
        &["is a ECC_NIST_P256 key for SIGN_VERIFY", "not a secp256k1"],
    );
    refused_kms_key(
        &kms,
        "alias/no-sign",
        &own("alias/no-sign"),
        &[
            "access denied to AWS KMS key `alias/no-sign` (AccessDeniedException from Sign",
            "kms:Sign",
        ],
    );
    refused_kms_key(
        &kms,
        "alias/never-made",
        &other,
        &[
            "AWS KMS key `alias/never-made` does not exist at http://127.0.0.1:",
            "NotFoundException",
        ],
    );
    // A key whose address is not the manifest's: refused before it signs.
    refused_kms_key(
        &kms,
        "alias/hot-1",
        &other,
        &["address mismatch", "at alias/hot-1", "refusing to sign"],
    );
}

#[test]
fn missing_credentials_and_a_dead_endpoint_stop_before_anything_is_signed() {
    if skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let kms = MotoKms::start("[]", 1, &[]);
    let pk = kms.key("alias/hot-1").public_key.unwrap();
    let rows = vec![row("kms-1", "alias/hot-1", &pk, "TRX", None)];
    let m = manifest(dir.path(), &kms.signer_toml("kms-1"), &rows);
    let journal = dir.path().join("j.jsonl");
    // No credentials anywhere: nothing is asked, no journal is started.
    let mut c = por_attest();
    c.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("HOME", dir.path());
    c.arg("sign").arg("--manifest").arg(&m);
    c.args(["--signer", "kms-1", "--journal"]).arg(&journal);
    let (out, text) = run(c);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("signer `kms-1`: no usable AWS credentials: none found")
            && text.contains("nothing was signed"),
        "{text}"
    );
    assert!(!journal.exists());
    // Only the secret: named, never printed.
    let mut c = por_attest();
    c.env_remove("AWS_ACCESS_KEY_ID").env("HOME", dir.path());
    c.arg("sign").arg("--manifest").arg(&m);
    c.args(["--signer", "kms-1", "--journal"]).arg(&journal);
    let (_, text) = run(c);
    assert!(
        text.contains("AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not"),
        "{text}"
    );
    assert!(!text.contains(SECRET_ACCESS_KEY));
    // --device is for Ledgers.
    let (code, text) = sign(&m, "kms-1", &journal, &["--device", "sim"]);
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("is a aws-kms signer") || text.contains("--device sim is not used"),
        "{text}"
    );
    // An endpoint where nothing listens.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = dir.path().join("dead");
    std::fs::create_dir(&dead).unwrap();
    let signer = kms
        .signer_toml("kms-1")
        .replace(&kms.endpoint, &format!("http://127.0.0.1:{port}"));
    let m = manifest(&dead, &signer, &rows);
    let (code, text) = sign(&m, "kms-1", &journal, &[]);
    assert_ne!(code, 0, "{text}");
    assert!(
        text.contains(&format!(
            "cannot reach AWS KMS at http://127.0.0.1:{port} (GetPublicKey of key `alias/hot-1`)"
        )),
        "{text}"
    );
    assert!(signed_records(&journal).is_empty());
}

#[test]
fn the_endpoint_going_away_mid_run_keeps_every_signature_made() {
    if skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // The server dies on the 6th Sign.
    let kms = MotoKms::start("[]", 4, &["--exit-after-signs", "5"]);
    let rows = rows_of("kms-1", &hot_keys(&kms));
    let m = manifest(dir.path(), &kms.signer_toml("kms-1"), &rows);
    let journal = dir.path().join("j.jsonl");
    // One request at a time, so that the 5th answer is whole before the server dies (with
    // several in flight, the dying server may cut an answer short: that signature never
    // arrived, and is asked again on resume).
    let (code, text) = sign(&m, "kms-1", &journal, &[]);
    assert_ne!(code, 0, "{text}");
    assert!(
        text.contains("cannot reach AWS KMS at http://127.0.0.1:"),
        "{text}"
    );
    // The next request (a Sign, or a GetPublicKey of the next key) names its key.
    assert!(text.contains(" of key `alias/hot-"), "{text}");
    let signed = signed_records(&journal);
    assert_eq!(signed.len(), 5, "{signed:?}");
    assert!(
        text.contains("5 signature(s) of this run are safe in the journal"),
        "{text}"
    );
}

#[test]
fn throttling_is_retried_with_back_off() {
    if skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Every third Sign request is throttled: without retries the run would stop at the third.
    let kms = MotoKms::start("[]", 4, &["--throttle-every", "3"]);
    let rows = rows_of("kms-1", &hot_keys(&kms));
    let m_path = manifest(dir.path(), &kms.signer_toml("kms-1"), &rows);
    let journal = dir.path().join("j.jsonl");
    let (code, text) = sign(&m_path, "kms-1", &journal, &["--parallel", "4"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("20 signed now"), "{text}");
    let m = Manifest::load(&m_path).unwrap();
    package_and_verify(dir.path(), &m, &[journal], rows.len());
}

#[test]
fn kill_9_during_a_parallel_kms_run_then_resume_loses_nothing_and_signs_nothing_twice() {
    if skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // 60 keys × 5 rows: long enough to be killed in the middle.
    let kms = MotoKms::start("[]", 60, &[]);
    let rows = rows_of("kms-1", &hot_keys(&kms));
    let m_path = manifest(dir.path(), &kms.signer_toml("kms-1"), &rows);
    let journal = dir.path().join("journal-kms-1.jsonl");
    let mut c = por_attest();
    c.arg("sign").arg("--manifest").arg(&m_path);
    c.args(["--signer", "kms-1", "--parallel", "4", "--journal"])
        .arg(&journal);
    c.stdout(Stdio::null()).stderr(Stdio::null());
    let mut child = c.spawn().unwrap();
    let before = kill_9_after(&mut child, &journal, 40, rows.len());
    let (code, text) = sign(&m_path, "kms-1", &journal, &["--parallel", "4"]);
    assert_eq!(code, 0, "{text}");
    check_resumed(&journal, &before, rows.len(), &text);
    let m = Manifest::load(&m_path).unwrap();
    let bytes = package_and_verify(dir.path(), &m, std::slice::from_ref(&journal), rows.len());
    let text = String::from_utf8(bytes).unwrap();
    for (_, addr, _, sig) in &before {
        assert!(
            text.contains(sig.as_str()),
            "{addr}: its journaled signature is lost"
        );
    }
}

/// A command signer manifest of warm-a's BTC rows, then `bad`'s ETH row, and the adapter run
/// with `args`.
fn refused_command_key(bad: &str, args: &[&str], expect: &[&str], safe: usize) {
    let dir = tempfile::tempdir().unwrap();
    let a = soft_signer_key("warm-a");
    let rows = vec![
        row("mpc-1", "warm-a", &a, "BTC", Some(ScriptType::P2wpkh)),
        row("mpc-1", "warm-a", &a, "BTC", Some(ScriptType::P2pkh)),
        row("mpc-1", bad, &soft_signer_key(bad), "ETH", None),
    ];
    let signer = format!(
        "[[signers]]\nid = \"mpc-1\"\nkind = \"command\"\ncommand = {}\n",
        soft_signer_command(args)
    );
    let m = manifest(dir.path(), &signer, &rows);
    let journal = dir.path().join("j.jsonl");
    let (code, text) = sign(&m, "mpc-1", &journal, &[]);
    assert_ne!(code, 0, "{text}");
    for e in expect {
        assert!(text.contains(e), "`{e}` not in: {text}");
    }
    assert_eq!(signed_records(&journal).len(), safe, "{text}");
}

#[test]
fn command_signer_refusals_name_the_key_with_what_was_signed_kept() {
    if skip() {
        return;
    }
    refused_command_key(
        "warm-b",
        &["--keys", "warm-a,warm-b", "--refuse", "warm-b=disabled"],
        &[
            "key `warm-b`: refused (disabled: key warm-b is disabled); enable the key",
            "2 signature(s) of this run are safe",
        ],
        2,
    );
    refused_command_key(
        "warm-c",
        &["--keys", "warm-a"],
        &["key `warm-c`: the adapter does not list this key (it lists 1)"],
        2,
    );
    refused_command_key(
        "warm-b",
        &["--keys", "warm-a,warm-b", "--wrong-key", "warm-b"],
        &[
            "key `warm-b`",
            "its signature is not usable",
            "does not verify",
        ],
        2,
    );
    refused_command_key(
        "warm-b",
        &["--keys", "warm-a,warm-b", "--exit-after", "1"],
        &["stopped answering", "exited with exit status: 3"],
        1,
    );
    // A program that is not there.
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(
        dir.path(),
        "[[signers]]\nid = \"mpc-1\"\nkind = \"command\"\ncommand = [\"./no-such-adapter\"]\n",
        &[row(
            "mpc-1",
            "warm-a",
            &soft_signer_key("warm-a"),
            "TRX",
            None,
        )],
    );
    let (code, text) = sign(&m, "mpc-1", &dir.path().join("j.jsonl"), &[]);
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("cannot start command signer") && text.contains("no-such-adapter"),
        "{text}"
    );
}
