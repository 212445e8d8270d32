//! What the hot-wallet tests (HSM, KMS, command signers) check after a run: the journal's
//! signed records, and a packaged snapshot that verifies.
#![allow(dead_code)]

use por_attest::manifest::Manifest;
use por_attest::package::{package, PackageOptions};
use por_attest::verify::{verify_snapshot_file, VerifyOptions};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `c`; its output and its stdout + stderr as text.
pub fn run(mut c: Command) -> (Output, String) {
    let out = c.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out, text)
}

/// Packages `journals` and checks that the snapshot verifies; returns its bytes.
pub fn package_and_verify(
    dir: &Path,
    m: &Manifest,
    journals: &[PathBuf],
    entries: usize,
) -> Vec<u8> {
    let bytes = package(m, journals, &PackageOptions::default())
        .unwrap()
        .snapshot
        .to_file_bytes();
    let out = dir.join("snapshot.json");
    std::fs::write(&out, &bytes).unwrap();
    let r = verify_snapshot_file(&out, &VerifyOptions::default()).unwrap();
    assert_eq!(r.exit_code(), 0, "{}", r.to_human());
    assert_eq!(r.entries as usize, entries);
    bytes
}

/// The `signed` records of a journal, as (chain, address, key, signature), in file order.
pub fn signed_records(journal: &Path) -> Vec<(String, String, String, String)> {
    std::fs::read_to_string(journal)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["kind"] == "signed")
        .map(|v| {
            let s = |k: &str| v[k].as_str().unwrap().to_string();
            (s("chain"), s("address"), s("path"), s("signature"))
        })
        .collect()
}

/// The demo's manifest of `cold` cold-wallet entries on three simulated Ledgers (in `dir`),
/// with `signers` (TOML tables) added and `rows` (`chain,address,script_type,path,signer,key`)
/// appended to its address CSV.
pub fn demo_with_key_rows(dir: &Path, cold: usize, signers: &str, rows: &[String]) -> PathBuf {
    let manifest = por_attest::demo::write_manifest(dir, cold).unwrap();
    let toml = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, format!("{toml}\n{signers}")).unwrap();
    let csv_path = dir.join("addresses.csv");
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    let mut lines = csv.lines();
    let mut out = format!("{},key\n", lines.next().unwrap());
    for l in lines {
        out.push_str(&format!("{l},\n"));
    }
    for r in rows {
        // chain,address,script_type,path,signer,key in the demo's wider header.
        let f: Vec<&str> = r.split(',').collect();
        out.push_str(&format!(
            "{},mainnet,{},{},,{},hot,,,,,,{}\n",
            f[0], f[1], f[2], f[4], f[5]
        ));
    }
    std::fs::write(&csv_path, out).unwrap();
    manifest
}

/// Signs the demo's cold wallets on its three simulated Ledgers (in process); their journals.
pub fn sign_demo_ledgers(m: &Manifest, dir: &Path) -> Vec<PathBuf> {
    use por_attest::ceremony::{sign, SignOptions};
    use por_attest::simulator::{SimulatedLedger, SimulatorConfig};
    let mut journals = Vec::new();
    for (id, words) in por_attest::demo::DEMO_SIGNERS {
        let sim = SimulatedLedger::new(SimulatorConfig::with_mnemonic(words)).unwrap();
        let journal = dir.join(format!("journal-{id}.jsonl"));
        let opts = SignOptions {
            signer: Some(id.into()),
            device_is_simulator: true,
            ..SignOptions::default()
        };
        sign(m, &journal, &mut sim.transport(), &opts).unwrap();
        journals.push(journal);
    }
    journals
}

/// A journal's signed record: (chain, address, key, signature).
pub type Signed = (String, String, String, String);

/// Waits until the run `child` has journaled `n` signatures, then kills it with SIGKILL; the
/// signed records journaled before the kill (checked to be fewer than `total`).
pub fn kill_9_after(
    child: &mut std::process::Child,
    journal: &Path,
    n: usize,
    total: usize,
) -> Vec<Signed> {
    use std::time::{Duration, Instant};
    let deadline = Instant::now() + Duration::from_secs(60);
    while signed_records(journal).len() < n {
        assert!(Instant::now() < deadline, "the run did not start signing");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before the kill"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let before = signed_records(journal);
    assert!(
        before.len() < total,
        "killed after the end ({} of {}): nothing was interrupted",
        before.len(),
        total
    );
    before
}

/// Checks the journal of a run resumed after a kill: what was journaled before the kill is
/// still there, unchanged and first; every task once, `total` in all; the resumed run's summary
/// (`text`) counts both.
pub fn check_resumed(journal: &Path, before: &[Signed], total: usize, text: &str) {
    let after = signed_records(journal);
    assert_eq!(after[..before.len()], before[..]);
    let tasks: std::collections::HashSet<_> =
        after.iter().map(|r| (r.0.clone(), r.1.clone())).collect();
    assert_eq!(tasks.len(), after.len(), "a task was journaled twice");
    assert_eq!(after.len(), total);
    assert!(
        text.contains(&format!(
            "{} signed now, {} already",
            total - before.len(),
            before.len()
        )),
        "{text}"
    );
}

/// Runs `sign` twice on a manifest of two BTC addresses then one refused address (`bad`): each
/// run fails with every `expect` in its output; the two BTC signatures are journaled once and
/// nothing of `bad`. The journal's text.
pub fn refused_twice(
    sign: impl Fn() -> (i32, String),
    journal: &Path,
    expect: &[String],
    bad: &str,
) -> String {
    for attempt in 0..2 {
        let (code, text) = sign();
        assert_ne!(code, 0, "{text}");
        for e in expect {
            assert!(text.contains(e), "`{e}` not in: {text}");
        }
        if text.contains("of this run are safe") {
            let n = if attempt == 0 { 2 } else { 0 };
            assert!(
                text.contains(&format!("{n} signature(s) of this run are safe")),
                "{text}"
            );
        }
        let signed = signed_records(journal);
        assert_eq!(signed.len(), 2, "attempt {attempt}: {signed:?}");
        assert!(signed.iter().all(|r| r.0 == "BTC"), "{signed:?}");
    }
    let text = std::fs::read_to_string(journal).unwrap();
    assert!(!text.contains(bad), "{text}");
    text
}

/// Checks the schemes of a snapshot's entries for `addresses` (single keys of an HSM or key
/// service): segwit addresses are BIP-322 proofs (the store signs the BIP-143 digest of
/// `to_sign`), P2PKH a legacy message. How many entries were checked.
pub fn check_single_key_schemes(snapshot: &Path, addresses: &[String]) -> usize {
    use por_attest::chains::ScriptType;
    let snap = por_attest::snapshot::Snapshot::read(snapshot).unwrap();
    let mut seen = 0;
    for e in snap
        .entries
        .iter()
        .filter(|e| addresses.contains(&e.address))
    {
        seen += 1;
        let want = match e.script_type {
            Some(ScriptType::P2wpkh) => "bip322-simple",
            Some(ScriptType::P2shP2wpkh) => "bip322-full",
            Some(_) => "bip137",
            None => continue,
        };
        assert_eq!(e.signatures[0].scheme.as_str(), want, "{}", e.address);
    }
    seen
}
