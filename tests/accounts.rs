//! Accounts in the ceremony, on the simulator: every kind (each Bitcoin script type, 2-of-3
//! wallets of every multisig script type on three devices, EVM, TRON) signs, packages and
//! verifies; the device's key and every address are checked before any signature; a few
//! addresses are shown; rejections, kills and resumes behave as for addresses; the device's
//! confirmations are counted.

use por_attest::ceremony::{sign, CeremonyError, OnReject, SignOptions};
use por_attest::demo::{write_account_manifest, write_manifest, ACCOUNT_KINDS, DEMO_SIGNERS};
use por_attest::manifest::Manifest;
use por_attest::package::{package, PackageError, PackageOptions};
use por_attest::simulator::{
    Approval, ApprovalPolicy, Fault, PromptKind, SimulatedLedger, SimulatorConfig, TcpServer,
};
use por_attest::verify::{verify_snapshot_file, VerifyOptions};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn sim(words: &str) -> SimulatedLedger {
    SimulatedLedger::new(SimulatorConfig::with_mnemonic(words)).unwrap()
}

fn opts(signer: &str) -> SignOptions {
    SignOptions {
        signer: Some(signer.into()),
        device_is_simulator: true,
        ..SignOptions::default()
    }
}

fn journal(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("journal-{id}.jsonl"))
}

fn signs(p: &PromptKind) -> bool {
    matches!(
        p,
        PromptKind::BitcoinSignMessage
            | PromptKind::EthereumSignMessage
            | PromptKind::TronSignMessage
            | PromptKind::BitcoinSignPsbt
    )
}

fn shows(p: &PromptKind) -> bool {
    matches!(
        p,
        PromptKind::BitcoinAddress | PromptKind::EthereumAddress | PromptKind::TronAddress
    )
}

/// Signs on the three devices; the summaries.
fn sign_all(dir: &Path, m: &Manifest) -> Vec<por_attest::ceremony::SignSummary> {
    DEMO_SIGNERS
        .iter()
        .map(|(id, words)| {
            let s = sim(words);
            let mut t = s.transport();
            let summary = sign(m, &journal(dir, id), &mut t, &opts(id)).unwrap();
            assert_eq!(
                summary.confirmations,
                s.prompts().len() as u64,
                "{id}: every prompt counted"
            );
            summary
        })
        .collect()
}

fn package_bytes(dir: &Path, m: &Manifest) -> Vec<u8> {
    let journals: Vec<PathBuf> = DEMO_SIGNERS
        .iter()
        .map(|(id, _)| journal(dir, id))
        .collect();
    let p = package(m, &journals, &PackageOptions::default()).unwrap();
    p.snapshot.to_file_bytes()
}

fn verify(dir: &Path, bytes: &[u8]) -> por_attest::report::Report {
    let f = dir.join("snapshot.json");
    std::fs::write(&f, bytes).unwrap();
    verify_snapshot_file(&f, &VerifyOptions::default()).unwrap()
}

#[test]
fn every_kind_of_account_signs_packages_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let k = ACCOUNT_KINDS.len();
    let m = Manifest::load(write_account_manifest(dir.path(), 5 * k, k).unwrap()).unwrap();
    let summaries = sign_all(dir.path(), &m);
    // sim-a: every single-key account and its cosigner key of each of the three wallets.
    assert_eq!(summaries[0].accounts, k);
    assert_eq!(summaries[1].accounts, 3);
    // Per single-key account: 3 addresses shown, 1 message; per wallet and device: the
    // registration, 3 addresses, 1 message.
    let confirmations: u64 = summaries.iter().map(|s| s.confirmations).sum();
    assert_eq!(confirmations, 6 * 4 + 3 * 3 * 5);
    let bytes = package_bytes(dir.path(), &m);
    let r = verify(dir.path(), &bytes);
    assert_eq!(r.result, "verified", "{}", r.to_human());
    assert_eq!(
        (r.accounts, r.addresses, r.entries),
        (k as u64, 5 * k as u64, 0)
    );
    let snapshot: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(snapshot["version"], 2);
    let kinds: Vec<String> = snapshot["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            format!(
                "{} {}",
                a["chain"].as_str().unwrap(),
                a["script_type"].as_str().unwrap_or("-")
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "BTC p2wpkh",
            "ETH -",
            "BTC p2wsh",
            "TRX -",
            "BTC p2tr",
            "BTC p2sh-p2wpkh",
            "BTC p2pkh",
            "BTC p2sh-p2wsh",
            "BTC p2sh"
        ]
    );
    // A wallet carries one signature per cosigner device.
    assert_eq!(
        snapshot["accounts"][2]["signatures"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert!(snapshot["accounts"][2]["descriptor"]
        .as_str()
        .unwrap()
        .starts_with("wsh(sortedmulti(2,["));
    // The same signatures again give the same bytes.
    assert_eq!(package_bytes(dir.path(), &m), bytes);
}

#[test]
fn accounts_need_far_fewer_confirmations_than_addresses() {
    let per_address = {
        let dir = tempfile::tempdir().unwrap();
        let m = Manifest::load(write_manifest(dir.path(), 60).unwrap()).unwrap();
        sign_all(dir.path(), &m)
            .iter()
            .map(|s| s.confirmations)
            .sum::<u64>()
    };
    let dir = tempfile::tempdir().unwrap();
    let m = Manifest::load(write_account_manifest(dir.path(), 60, 4).unwrap()).unwrap();
    let accounts: u64 = sign_all(dir.path(), &m)
        .iter()
        .map(|s| s.confirmations)
        .sum();
    // Per address: an address and a message review each (and one registration per wallet
    // and device); per account: 4 (single key) or 5 (each wallet device).
    assert_eq!(accounts, 4 + 4 + 3 * 5 + 4);
    assert!(per_address >= 2 * 60, "{per_address}");
}

#[test]
fn the_device_shows_the_first_the_last_and_random_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let m = Manifest::load(write_account_manifest(dir.path(), 200, 2).unwrap()).unwrap();
    let (id, words) = DEMO_SIGNERS[0];
    let s = sim(words);
    let mut t = s.transport();
    let o = SignOptions {
        show_addresses: Some(5),
        ..opts(id)
    };
    sign(&m, &journal(dir.path(), id), &mut t, &o).unwrap();
    let prompts = s.prompts();
    let btc: Vec<String> = prompts
        .iter()
        .filter(|p| p.kind == PromptKind::BitcoinAddress)
        .map(|p| p.path.clone().unwrap())
        .collect();
    assert_eq!(btc.len(), 5, "{btc:?}");
    assert_eq!(btc[0], "m/84'/0'/0'/0/0");
    assert_eq!(btc[4], "m/84'/0'/0'/0/99");
    let eth = prompts
        .iter()
        .filter(|p| p.kind == PromptKind::EthereumAddress)
        .count();
    assert_eq!(eth, 5);
    // Every shown address is the manifest's at that path.
    for p in prompts.iter().filter(|p| shows(&p.kind)) {
        let path = p.path.as_deref().unwrap();
        let (acct, rel) = if path.starts_with("m/84'") {
            (&m.accounts[0], path.trim_start_matches("m/84'/0'/0'/"))
        } else {
            (&m.accounts[1], path.trim_start_matches("m/44'/60'/0'/0/"))
        };
        let listed = acct.addresses.iter().find(|a| a.path == rel).unwrap();
        assert!(
            p.address
                .as_deref()
                .unwrap()
                .eq_ignore_ascii_case(listed.address.as_deref().unwrap()),
            "{path}"
        );
    }
    // And with --show-addresses 0, only the messages.
    let dir = tempfile::tempdir().unwrap();
    let m = Manifest::load(write_account_manifest(dir.path(), 200, 2).unwrap()).unwrap();
    let s = sim(words);
    let mut t = s.transport();
    let o = SignOptions {
        show_addresses: Some(0),
        ..opts(id)
    };
    let summary = sign(&m, &journal(dir.path(), id), &mut t, &o).unwrap();
    assert_eq!(summary.confirmations, 2);
    assert!(s.prompts().iter().all(|p| signs(&p.kind)));
}

/// A manifest of one P2WPKH account of sim-a without its xpub, with listed addresses.
fn listed_account_manifest(dir: &Path, addresses: &[(String, String)]) -> Manifest {
    let base = write_account_manifest(dir, 1, 1).unwrap();
    let text = std::fs::read_to_string(&base).unwrap();
    let head = &text[..text.find("[[accounts]]").unwrap()];
    let mut toml = format!(
        "{head}[[accounts]]\nchain = \"BTC\"\nscript_type = \"p2wpkh\"\nsigner = \"sim-a\"\npath = \"m/84'/0'/0'\"\n"
    );
    for (path, address) in addresses {
        toml.push_str(&format!(
            "[[accounts.addresses]]\npath = \"{path}\"\naddress = \"{address}\"\nbalance = \"0.5\"\n"
        ));
    }
    let p = dir.join("listed.toml");
    std::fs::write(&p, toml).unwrap();
    Manifest::load(p).unwrap()
}

/// The P2WPKH addresses of sim-a at `0/i` and `1/i`.
fn wpkh(change: u32, i: u32) -> String {
    use bitcoin::bip32::{DerivationPath, Xpub};
    use std::str::FromStr;
    let master = por_attest::fixtures::master_key(DEMO_SIGNERS[0].1);
    let secp = por_attest::schemes::secp();
    let p = DerivationPath::from_str(&format!("m/84'/0'/0'/{change}/{i}")).unwrap();
    let x = Xpub::from_priv(secp, &master.derive_priv(secp, &p).unwrap());
    bitcoin::Address::p2wpkh(
        &bitcoin::key::CompressedPublicKey(x.public_key),
        bitcoin::Network::Bitcoin,
    )
    .to_string()
}

#[test]
fn listed_addresses_are_checked_against_the_devices_key_before_signing() {
    let dir = tempfile::tempdir().unwrap();
    let good = vec![
        ("0/0".to_string(), wpkh(0, 0)),
        ("0/7".to_string(), wpkh(0, 7)),
        ("1/3".to_string(), wpkh(1, 3)),
    ];
    let m = listed_account_manifest(dir.path(), &good);
    let (id, words) = DEMO_SIGNERS[0];
    let s = sim(words);
    let mut t = s.transport();
    sign(&m, &journal(dir.path(), id), &mut t, &opts(id)).unwrap();
    let p = package(&m, &[journal(dir.path(), id)], &PackageOptions::default()).unwrap();
    let r = verify(dir.path(), &p.snapshot.to_file_bytes());
    assert_eq!((r.result, r.addresses), ("verified", 3), "{}", r.to_human());
    // The key came from the device: it is in the snapshot with the signer's origin.
    let key = p.snapshot.accounts[0].key.clone().unwrap();
    assert!(key.starts_with("[f5acc2fd/84'/0'/0']xpub"), "{key}");

    // One listed address of another path: refused, nothing signed, nothing journaled.
    let dir = tempfile::tempdir().unwrap();
    let mut bad = good.clone();
    bad[1].1 = wpkh(0, 8);
    let m = listed_account_manifest(dir.path(), &bad);
    let s = sim(words);
    let mut t = s.transport();
    let e = sign(&m, &journal(dir.path(), id), &mut t, &opts(id)).unwrap_err();
    match &e {
        CeremonyError::AccountAddressMismatch { path, derived, .. } => {
            assert_eq!(
                (path.as_str(), derived.as_str()),
                ("0/7", wpkh(0, 7).as_str())
            )
        }
        other => panic!("{other}"),
    }
    assert!(e.to_string().contains("refusing to sign"), "{e}");
    assert!(
        s.prompts().is_empty(),
        "no prompt at all: {:?}",
        s.prompts()
    );
}

#[test]
fn a_manifest_key_the_device_does_not_hold_is_refused_before_any_prompt() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_account_manifest(dir.path(), 10, 2).unwrap();
    // sim-b's key at the same path in place of sim-a's.
    let text = std::fs::read_to_string(&p).unwrap();
    let theirs = {
        use bitcoin::bip32::{DerivationPath, Xpub};
        use std::str::FromStr;
        let master = por_attest::fixtures::master_key(DEMO_SIGNERS[1].1);
        let secp = por_attest::schemes::secp();
        let path = DerivationPath::from_str("m/84'/0'/0'").unwrap();
        Xpub::from_priv(secp, &master.derive_priv(secp, &path).unwrap()).to_string()
    };
    let ours = m_xpub(&text, "m/84'/0'/0'");
    std::fs::write(&p, text.replace(&ours, &theirs)).unwrap();
    let m = Manifest::load(&p).unwrap();
    let (id, words) = DEMO_SIGNERS[0];
    let s = sim(words);
    let mut t = s.transport();
    let e = sign(&m, &journal(dir.path(), id), &mut t, &opts(id)).unwrap_err();
    assert!(matches!(e, CeremonyError::AccountKeyMismatch { .. }), "{e}");
    assert!(s.prompts().is_empty());
}

#[test]
fn a_tron_account_message_past_one_apdu_is_refused_before_any_prompt() {
    // The real Tron app 0.7.1 signs such a message over a wrong hash (seen under Speculos): with
    // the default template (`{anchor}`: height and block hash) a TRON account's message is 256
    // bytes, past the 229 that fit the first APDU at m/44'/195'/0'/0.
    let dir = tempfile::tempdir().unwrap();
    let p = write_account_manifest(dir.path(), 12, 4).unwrap();
    let text = std::fs::read_to_string(&p).unwrap();
    let default = text
        .lines()
        .filter(|l| !l.starts_with("account_template = "))
        .collect::<Vec<_>>()
        .join("\n");
    assert_ne!(default, text);
    std::fs::write(&p, default).unwrap();
    let m = Manifest::load(&p).unwrap();
    let (id, words) = DEMO_SIGNERS[0];
    let s = sim(words);
    let mut t = s.transport();
    let e = sign(&m, &journal(dir.path(), id), &mut t, &opts(id)).unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, CeremonyError::Refused(_)), "{text}");
    assert!(
        text.contains("account 3 (TRX")
            && text.contains(
                "the Tron app 0.7.1 signs a personal message correctly only when it fits one APDU"
            )
            && text.contains("at most 229 bytes")
            && text.contains("this message is 256 bytes")
            && text.contains("`account_template`"),
        "{text}"
    );
    // The accounts before it were signed; the TRON account asked the device nothing.
    assert!(
        s.prompts().iter().all(|p| !matches!(
            p.kind,
            PromptKind::TronAddress | PromptKind::TronSignMessage
        )),
        "{:?}",
        s.prompts()
    );
    assert_eq!(signed_records(&journal(dir.path(), id)).len(), 3);
}

/// The `xpub = "…"` line right after `path = "PATH"` in a demo manifest.
fn m_xpub(toml: &str, path: &str) -> String {
    let at = toml.find(&format!("path = \"{path}\"\nxpub = \"")).unwrap();
    let rest = &toml[at..];
    let start = rest.find("xpub = \"").unwrap() + 8;
    rest[start..start + 111].to_string()
}

#[test]
fn rejected_account_prompts_are_journaled_and_resume_continues() {
    let dir = tempfile::tempdir().unwrap();
    let m = Manifest::load(write_account_manifest(dir.path(), 20, 4).unwrap()).unwrap();
    let (id, words) = DEMO_SIGNERS[0];
    let j = journal(dir.path(), id);
    // The user rejects the Ethereum account's message.
    let s = sim(words);
    s.set_approval(ApprovalPolicy::callback(|p| {
        if p.kind == PromptKind::EthereumSignMessage {
            Approval::Reject
        } else {
            Approval::Approve
        }
    }));
    let mut t = s.transport();
    let e = sign(&m, &j, &mut t, &opts(id)).unwrap_err();
    assert!(matches!(e, CeremonyError::AccountRejected { .. }), "{e}");
    assert!(e.is_resumable());
    let text = std::fs::read_to_string(&j).unwrap();
    assert!(text.contains("\"kind\":\"rejected\""), "{text}");
    assert!(
        text.contains("\"kind\":\"run\""),
        "the run's confirmations are journaled"
    );
    // Continue past it: the other accounts are signed, the rejection is recorded again.
    let s = sim(words);
    s.set_approval(ApprovalPolicy::callback(|p| {
        if p.kind == PromptKind::EthereumSignMessage {
            Approval::Reject
        } else {
            Approval::Approve
        }
    }));
    let mut t = s.transport();
    let o = SignOptions {
        on_reject: OnReject::Continue,
        ..opts(id)
    };
    let summary = sign(&m, &j, &mut t, &o).unwrap();
    assert_eq!(
        (summary.rejected, summary.signed_now + summary.already),
        (1, summary.tasks - 1)
    );
    // Approved at last: everything signed; packaging waits for sim-b and sim-c's wallet
    // signatures unless told otherwise.
    let s = sim(words);
    let mut t = s.transport();
    let summary = sign(&m, &j, &mut t, &opts(id)).unwrap();
    assert_eq!(summary.signed_now, 1);
    match package(&m, std::slice::from_ref(&j), &PackageOptions::default()) {
        Err(PackageError::Missing(m)) => {
            assert_eq!(m.len(), 1, "{m:?}");
            assert!(
                m[0].contains("1 of 2 signatures; not yet signed by: sim-b, sim-c"),
                "{m:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    let p = package(
        &m,
        &[j],
        &PackageOptions {
            allow_unsigned: true,
            ..PackageOptions::default()
        },
    )
    .unwrap();
    let r = verify(dir.path(), &p.snapshot.to_file_bytes());
    assert_eq!((r.accounts, r.accounts_failed), (4, 1), "{}", r.to_human());
    assert!(r.problems[0]
        .reason
        .contains("only 1 distinct cosigner signature"));
}

#[test]
fn dropped_connections_resume_to_the_same_bytes_without_signing_twice() {
    let reference = {
        let dir = tempfile::tempdir().unwrap();
        let m = Manifest::load(write_account_manifest(dir.path(), 30, 6).unwrap()).unwrap();
        sign_all(dir.path(), &m);
        package_bytes(dir.path(), &m)
    };
    for k in [2usize, 11, 25, 60] {
        let dir = tempfile::tempdir().unwrap();
        let m = Manifest::load(write_account_manifest(dir.path(), 30, 6).unwrap()).unwrap();
        let (id, words) = DEMO_SIGNERS[0];
        let j = journal(dir.path(), id);
        let s = sim(words);
        s.set_faults(vec![Fault::DisconnectAfter(k)]);
        let mut t = s.transport();
        if let Err(e) = sign(&m, &j, &mut t, &opts(id)) {
            assert!(e.is_resumable(), "k={k}: {e}");
        }
        let s2 = sim(words);
        let mut t2 = s2.transport();
        let summary = sign(&m, &j, &mut t2, &opts(id)).unwrap();
        let signed = s2.prompts().iter().filter(|p| signs(&p.kind)).count();
        assert_eq!(signed, summary.signed_now, "k={k}: signed twice");
        for (id, words) in &DEMO_SIGNERS[1..] {
            let s = sim(words);
            let mut t = s.transport();
            sign(&m, &journal(dir.path(), id), &mut t, &opts(id)).unwrap();
        }
        assert_eq!(package_bytes(dir.path(), &m), reference, "k={k}");
    }
}

fn signed_records(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("\"kind\":\"signed\""))
        .map(String::from)
        .collect()
}

#[test]
fn killed_with_sigkill_during_an_account_run_resumes_to_the_same_bytes() {
    let reference = {
        let dir = tempfile::tempdir().unwrap();
        let m = Manifest::load(write_account_manifest(dir.path(), 45, 9).unwrap()).unwrap();
        sign_all(dir.path(), &m);
        package_bytes(dir.path(), &m)
    };
    let dir = tempfile::tempdir().unwrap();
    let manifest = write_account_manifest(dir.path(), 45, 9).unwrap();
    let m = Manifest::load(&manifest).unwrap();
    let (id, words) = DEMO_SIGNERS[0];
    let j = journal(dir.path(), id);
    // sim-a served over TCP, slowly (a person at the device), to a `sign` process we kill.
    let ledger = sim(words);
    ledger.set_faults(vec![Fault::DelayEach(Duration::from_millis(15))]);
    let server = TcpServer::spawn("127.0.0.1:0".parse().unwrap(), ledger.clone()).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_por-attest"))
        .args(["sign", "--manifest"])
        .arg(&manifest)
        .args(["--device", &format!("tcp:{}", server.addr())])
        .arg("--journal")
        .arg(&j)
        .args(["--signer", id])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while signed_records(&j).len() < 3 {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the run never signed"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before the kill"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let before = signed_records(&j);
    assert!(
        before.len() < m.account_tasks_for(id).count(),
        "killed mid-run"
    );
    drop(server);
    // Resume in-process on a fresh device: only what the journal lacks is signed.
    let s2 = sim(words);
    let mut t2 = s2.transport();
    let summary = sign(&m, &j, &mut t2, &opts(id)).unwrap();
    assert_eq!(summary.already, before.len());
    let signed = s2.prompts().iter().filter(|p| signs(&p.kind)).count();
    assert_eq!(signed, summary.signed_now, "signed twice");
    let after = signed_records(&j);
    assert_eq!(after.len(), summary.tasks, "one record per task");
    assert_eq!(
        after[..before.len()],
        before[..],
        "journaled records are kept"
    );
    for (id, words) in &DEMO_SIGNERS[1..] {
        let s = sim(words);
        let mut t = s.transport();
        sign(&m, &journal(dir.path(), id), &mut t, &opts(id)).unwrap();
    }
    assert_eq!(package_bytes(dir.path(), &m), reference);
}

#[test]
fn sign_prints_the_confirmations_and_warns_about_xpub_privacy() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = write_account_manifest(dir.path(), 10, 2).unwrap();
    let ledger = sim(DEMO_SIGNERS[0].1);
    let server = TcpServer::spawn("127.0.0.1:0".parse().unwrap(), ledger).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_por-attest"))
        .args(["sign", "--manifest"])
        .arg(&manifest)
        .args(["--device", &format!("tcp:{}", server.addr())])
        .arg("--journal")
        .arg(dir.path().join("j.jsonl"))
        .args(["--signer", "sim-a", "--show-addresses", "2"])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert_eq!(stdout.lines().last(), Some("confirmations: 6"), "{stdout}");
    assert_eq!(
        stderr.matches("reveals every address below it").count(),
        1,
        "{stderr}"
    );
}

#[test]
fn demo_prints_confirmations_with_and_without_accounts() {
    for args in [
        &["--addresses", "12"][..],
        &["--addresses", "12", "--accounts", "4"],
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_por-attest"))
            .arg("demo")
            .args(args)
            .arg("--out")
            .arg(dir.path())
            .output()
            .unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(out.status.success(), "{args:?}: {stdout}");
        let line = stdout
            .lines()
            .find(|l| l.starts_with("confirmations: "))
            .unwrap_or_else(|| panic!("{args:?}: {stdout}"));
        let n: u64 = line["confirmations: ".len()..].parse().unwrap();
        assert!(n > 0);
        if args.len() == 4 {
            assert_eq!(n, 27, "{stdout}");
        }
    }
}

#[path = "support/loopback.rs"]
mod loopback;

/// An account's addresses carry their coins: `package --coins` fills them from the coins file
/// (keyed by the derived address), `verify --node` proves them on a Bitcoin Core node (the
/// loopback lookalike of `tests/support/loopback.rs`): the addresses whose coins the chain
/// has verify, the one whose coin the chain has with another amount fails, with the account
/// and the path named.
#[test]
fn account_addresses_coins_are_packaged_and_proven_on_a_node() {
    use loopback::{txid, FakeChain, FakeTx, Server};
    let dir = tempfile::tempdir().unwrap();
    let addresses: Vec<(String, String)> = (0..3).map(|i| (format!("0/{i}"), wpkh(0, i))).collect();
    let m = listed_account_manifest(dir.path(), &addresses);
    let (id, words) = DEMO_SIGNERS[0];
    let s = sim(words);
    let mut t = s.transport();
    sign(&m, &journal(dir.path(), id), &mut t, &opts(id)).unwrap();
    let anchor = m.anchors["BTC"].clone();
    let created = anchor.height - 10;
    // TX 1 pays 0/0 and 0/1 0.5 BTC each; TX 2 pays 0/2 0.4 BTC, not the 0.5 the file states.
    let chain = FakeChain {
        tip: anchor.height + 10,
        anchor: (anchor.height, anchor.block_hash.clone()),
        txs: vec![
            FakeTx::new(
                1,
                created,
                &[(&wpkh(0, 0), 50_000_000), (&wpkh(0, 1), 50_000_000)],
                &[],
            ),
            FakeTx::new(2, created, &[(&wpkh(0, 2), 40_000_000)], &[]),
        ],
        ..FakeChain::default()
    };
    let coin = |tx: u64, vout: u32| {
        serde_json::json!([{
            "txid": txid(tx), "vout": vout, "amount_sat": 50_000_000, "height": created,
            "block_hash": chain.block_hash(created)
        }])
    };
    let coins = serde_json::json!({
        wpkh(0, 0): coin(1, 0), wpkh(0, 1): coin(1, 1), wpkh(0, 2): coin(2, 0)
    });
    let coins_file = dir.path().join("coins.json");
    std::fs::write(&coins_file, coins.to_string()).unwrap();
    let manifest = dir.path().join("listed.toml");
    let out = dir.path().join("snapshot.json");
    let cli = |args: &[&str]| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_por-attest"))
            .args(args)
            .output()
            .unwrap();
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        (o.status.code().unwrap(), text(&o.stdout), text(&o.stderr))
    };
    let p = |p: &Path| p.to_str().unwrap().to_string();
    let package_args = |coins: &Path| {
        vec![
            "package".to_string(),
            "--manifest".into(),
            p(&manifest),
            "--journal".into(),
            p(&journal(dir.path(), id)),
            "--out".into(),
            p(&out),
            "--coins".into(),
            p(coins),
        ]
    };
    let args = package_args(&coins_file);
    let (code, _, err) = cli(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 0, "{err}");
    let snap: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    for (i, a) in snap["accounts"][0]["addresses"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        assert_eq!(a["coins"], coins[wpkh(0, i as u32)], "address {i}");
    }
    // Offline: verified (the coins add up to the stated balances).
    let r = verify(dir.path(), &std::fs::read(&out).unwrap());
    assert_eq!(r.result, "verified", "{}", r.to_human());

    let server = Server::bitcoin_core(std::sync::Arc::new(chain.clone()));
    let node = format!("BTC={}", server.url);
    let (code, json, err) = cli(&["verify", "--json", &p(&out), "--node", &node]);
    assert_eq!(code, 1, "{json}\n{err}");
    let j: serde_json::Value = serde_json::from_str(&json).unwrap();
    let problems = j["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{json}");
    assert_eq!(
        (
            problems[0]["account"].as_u64(),
            problems[0]["path"].as_str()
        ),
        (Some(0), Some("0/2"))
    );
    assert_eq!(
        problems[0]["reason"],
        format!(
            "coin {}:0 is 40000000 sat on chain, the file states 50000000",
            txid(2)
        )
    );
    assert_eq!(j["balances"]["BTC"]["onchain"], "1", "{json}");

    // A coins file naming an address the manifest does not have (nor derives) is refused.
    let stray = dir.path().join("stray.json");
    let mut c = coins.clone();
    c[wpkh(0, 9)] = coin(1, 0);
    std::fs::write(&stray, c.to_string()).unwrap();
    let args = package_args(&stray);
    let (code, _, err) = cli(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!(
            "--coins: address {} is not in the manifest",
            wpkh(0, 9)
        )),
        "{err}"
    );
    // Coins that do not add up to an account address's balance are refused.
    let off = dir.path().join("off.json");
    let mut c = coins.clone();
    c[wpkh(0, 1)][0]["amount_sat"] = 50_000_001.into();
    std::fs::write(&off, c.to_string()).unwrap();
    let args = package_args(&off);
    let (code, _, err) = cli(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_ne!(code, 0, "{err}");
    assert!(
        err.contains("address at 0/1") && err.contains("the coins add up to 0.50000001 BTC"),
        "{err}"
    );
}
