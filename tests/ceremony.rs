//! The signing ceremony on the simulator: every script type, resume after interruption at
//! several points (byte-identical snapshot, nothing signed twice), and the failure modes:
//! wrong seed, wrong path, rejected prompt, dropped connection, corrupt journal line. TRON
//! entries go through the simulated TRON app like the others.

use por_attest::ceremony::{sign, CeremonyError, OnReject, SignOptions};
use por_attest::chains::ScriptType;
use por_attest::demo::{write_manifest, DEMO_SIGNERS};
use por_attest::manifest::Manifest;
use por_attest::package::{package, PackageError, PackageOptions};
use por_attest::simulator::{
    Approval, ApprovalPolicy, Fault, PromptKind, SimulatedLedger, SimulatorConfig,
};
use por_attest::verify::{verify_snapshot_file, VerifyOptions};
use std::path::{Path, PathBuf};

const N: usize = 24;

fn setup(dir: &Path) -> Manifest {
    let p = write_manifest(dir, N).unwrap();
    Manifest::load(p).unwrap()
}

fn sim(mnemonic: &str) -> SimulatedLedger {
    SimulatedLedger::new(SimulatorConfig::with_mnemonic(mnemonic)).unwrap()
}

fn opts(signer: &str) -> SignOptions {
    SignOptions {
        signer: Some(signer.into()),
        device_is_simulator: true,
        ..SignOptions::default()
    }
}

/// A user who rejects every prompt of `kind` and approves the rest.
fn rejecting(kind: PromptKind) -> ApprovalPolicy {
    ApprovalPolicy::callback(move |p| {
        if p.kind == kind {
            Approval::Reject
        } else {
            Approval::Approve
        }
    })
}

fn journal(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("journal-{id}.jsonl"))
}

/// Signs on all three devices (uninterrupted) and packages; returns the snapshot bytes.
fn full_run(dir: &Path, m: &Manifest) -> Vec<u8> {
    for (id, words) in DEMO_SIGNERS {
        let s = sim(words);
        let mut t = s.transport();
        sign(m, &journal(dir, id), &mut t, &opts(id)).unwrap();
    }
    package_bytes(dir, m)
}

fn package_bytes(dir: &Path, m: &Manifest) -> Vec<u8> {
    let journals: Vec<PathBuf> = DEMO_SIGNERS
        .iter()
        .map(|(id, _)| journal(dir, id))
        .collect();
    package(m, &journals, &PackageOptions::default())
        .unwrap()
        .snapshot
        .to_file_bytes()
}

fn signed_lines(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("\"signed\""))
        .count()
}

#[test]
fn full_ceremony_verifies_for_every_script_type() {
    let dir = tempfile::tempdir().unwrap();
    let m = setup(dir.path());
    let bytes = full_run(dir.path(), &m);
    let out = dir.path().join("snapshot.json");
    std::fs::write(&out, &bytes).unwrap();
    let r = verify_snapshot_file(&out, &VerifyOptions::default()).unwrap();
    assert_eq!(r.exit_code(), 0, "{}", r.to_human());
    assert_eq!(r.entries as usize, N);
    let text = String::from_utf8(bytes).unwrap();
    for st in ["\"p2pkh\"", "\"p2sh-p2wpkh\"", "\"p2wpkh\"", "\"p2wsh\""] {
        assert!(text.contains(st), "{st}");
    }
    for chain in ["\"ETH\"", "\"ARB\""] {
        assert!(text.contains(chain));
    }
    let snap = por_attest::snapshot::Snapshot::read(&out).unwrap();
    let trx: Vec<_> = snap.entries.iter().filter(|e| e.chain == "TRX").collect();
    assert_eq!(trx.len(), N / 12, "TRON entries in the demo manifest");
    for e in trx {
        assert_eq!(e.signatures.len(), 1, "{}", e.address);
        assert_eq!(e.signatures[0].scheme.to_string(), "tron-tip191");
    }
}

#[test]
fn the_device_shows_each_address_and_message_it_signs() {
    let dir = tempfile::tempdir().unwrap();
    let m = setup(dir.path());
    let (id, words) = DEMO_SIGNERS[0];
    let s = sim(words);
    let mut t = s.transport();
    sign(&m, &journal(dir.path(), id), &mut t, &opts(id)).unwrap();
    let prompts = s.prompts();
    for spec in m
        .addresses
        .iter()
        .filter(|a| a.signer.as_deref() == Some(id))
    {
        assert!(
            prompts.iter().any(|p| p.approved
                && p.address
                    .as_deref()
                    .map(|a| a.eq_ignore_ascii_case(&spec.address))
                    == Some(true)),
            "address {} was never shown",
            spec.address
        );
        let msg = m.render_message(spec);
        if spec.chain == "BTC" && spec.script_type != Some(ScriptType::P2pkh) {
            // BIP-322 through SIGN_PSBT: released apps review the `to_sign` as a zero-value
            // transaction, without the message.
            assert!(
                prompts
                    .iter()
                    .any(|p| p.approved && p.kind == PromptKind::BitcoinSignPsbt),
                "no transaction prompt for {}",
                spec.address
            );
            continue;
        }
        // The TRON app shows the TIP-191 hash of the message, not its text.
        let shown = if spec.chain == "TRX" {
            hex::encode_upper(por_attest::schemes::tron::tron_message_hash(
                msg.as_bytes(),
                por_attest::schemes::tron::TronVersion::V2,
            ))
        } else {
            msg
        };
        assert!(
            prompts
                .iter()
                .any(|p| p.approved && p.message.as_deref() == Some(shown.as_str())),
            "message for {} was never shown",
            spec.address
        );
    }
}

#[test]
fn interrupted_runs_resume_to_the_same_bytes_and_never_sign_twice() {
    let reference = {
        let dir = tempfile::tempdir().unwrap();
        let m = setup(dir.path());
        full_run(dir.path(), &m)
    };
    // Drop the connection after k exchanges on device A, then resume; for several k.
    for k in [3usize, 17, 40, 90] {
        let dir = tempfile::tempdir().unwrap();
        let m = setup(dir.path());
        let (id, words) = DEMO_SIGNERS[0];
        let j = journal(dir.path(), id);
        let s = sim(words);
        s.set_faults(vec![Fault::DisconnectAfter(k)]);
        let mut t = s.transport();
        let err = sign(&m, &j, &mut t, &opts(id)).unwrap_err();
        assert!(err.is_resumable(), "k={k}: {err}");
        let msg = err.to_string();
        assert!(msg.contains("safe in the journal"), "k={k}: {msg}");
        let before = signed_lines(&j);
        // Resume on a fresh connection.
        let s2 = sim(words);
        let mut t2 = s2.transport();
        let summary = sign(&m, &j, &mut t2, &opts(id)).unwrap();
        assert_eq!(summary.already, before, "k={k}");
        assert_eq!(summary.signed_now + summary.already, summary.tasks, "k={k}");
        let signed_prompts = s2
            .prompts()
            .iter()
            .filter(|p| {
                matches!(
                    p.kind,
                    PromptKind::BitcoinSignMessage
                        | PromptKind::BitcoinSignPsbt
                        | PromptKind::EthereumSignMessage
                        | PromptKind::TronSignMessage
                )
            })
            .count();
        assert_eq!(signed_prompts, summary.signed_now, "k={k}: signed twice");
        for (id, words) in &DEMO_SIGNERS[1..] {
            let s = sim(words);
            let mut t = s.transport();
            sign(&m, &journal(dir.path(), id), &mut t, &opts(id)).unwrap();
        }
        assert_eq!(package_bytes(dir.path(), &m), reference, "k={k}");
    }
}

#[test]
fn killed_between_signing_and_journaling_resumes_identically() {
    // A crash after the device signed but before the journal line was complete leaves a
    // torn last line: that signature is simply asked again (deterministic RFC 6979 gives the
    // same bytes), and the snapshot is identical.
    let reference = {
        let dir = tempfile::tempdir().unwrap();
        let m = setup(dir.path());
        full_run(dir.path(), &m)
    };
    let dir = tempfile::tempdir().unwrap();
    let m = setup(dir.path());
    let (id, words) = DEMO_SIGNERS[0];
    let j = journal(dir.path(), id);
    let s = sim(words);
    let mut t = s.transport();
    sign(&m, &j, &mut t, &opts(id)).unwrap();
    let text = std::fs::read_to_string(&j).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // Keep the header and 5 records, then half of the 6th, without its newline.
    let mut torn = lines[..6].join("\n");
    torn.push('\n');
    torn.push_str(&lines[6][..lines[6].len() / 2]);
    std::fs::write(&j, torn).unwrap();
    let s2 = sim(words);
    let mut t2 = s2.transport();
    let summary = sign(&m, &j, &mut t2, &opts(id)).unwrap();
    assert_eq!(summary.already, 5);
    assert!(!summary.warnings.is_empty(), "the torn line is reported");
    for (id, words) in &DEMO_SIGNERS[1..] {
        let s = sim(words);
        let mut t = s.transport();
        sign(&m, &journal(dir.path(), id), &mut t, &opts(id)).unwrap();
    }
    assert_eq!(package_bytes(dir.path(), &m), reference);
}

#[test]
fn wrong_seed_is_caught_before_anything_is_signed() {
    let dir = tempfile::tempdir().unwrap();
    let m = setup(dir.path());
    let s = sim(DEMO_SIGNERS[1].1);
    let mut t = s.transport();
    let err = sign(&m, &journal(dir.path(), "sim-a"), &mut t, &opts("sim-a")).unwrap_err();
    assert!(matches!(err, CeremonyError::WrongDevice(_)), "{err}");
    assert!(err.to_string().contains("fingerprint"), "{err}");
    assert!(s.prompts().is_empty(), "nothing shown or signed");
    // Without --signer, a device that matches no signer is refused too.
    let s = sim("legal winner thank year wave sausage worth useful legal winner thank yellow");
    let mut t = s.transport();
    let mut o = opts("x");
    o.signer = None;
    let err = sign(&m, &journal(dir.path(), "x"), &mut t, &o).unwrap_err();
    assert!(err.to_string().contains("matches no signer"), "{err}");
}

#[test]
fn wrong_path_is_refused_and_nothing_is_signed_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_manifest(dir.path(), N).unwrap();
    // Point the first address at another index: the device derives another address.
    let csv = dir.path().join("addresses.csv");
    let text = std::fs::read_to_string(&csv).unwrap();
    std::fs::write(
        &csv,
        text.replacen("m/44'/0'/0'/0/0,", "m/44'/0'/0'/0/7,", 1),
    )
    .unwrap();
    let m = Manifest::load(p).unwrap();
    let (id, words) = DEMO_SIGNERS[0];
    let s = sim(words);
    let mut t = s.transport();
    let j = journal(dir.path(), id);
    let err = sign(&m, &j, &mut t, &opts(id)).unwrap_err();
    assert!(
        matches!(err, CeremonyError::AddressMismatch { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("refusing to sign"), "{err}");
    assert!(!s
        .prompts()
        .iter()
        .any(|p| matches!(p.kind, PromptKind::BitcoinSignMessage)));
    assert_eq!(signed_lines(&j), 0);
}

#[test]
fn rejected_prompt_is_journaled_and_the_run_stops_or_continues() {
    let dir = tempfile::tempdir().unwrap();
    let m = setup(dir.path());
    let (id, words) = DEMO_SIGNERS[0];
    let j = journal(dir.path(), id);
    let s = sim(words);
    // The user rejects the third message to sign.
    let count = std::sync::atomic::AtomicUsize::new(0);
    s.set_approval(ApprovalPolicy::callback(move |p| {
        if matches!(
            p.kind,
            PromptKind::BitcoinSignMessage | PromptKind::BitcoinSignPsbt
        ) && count.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 2
        {
            Approval::Reject
        } else {
            Approval::Approve
        }
    }));
    let mut t = s.transport();
    let err = sign(&m, &j, &mut t, &opts(id)).unwrap_err();
    assert!(matches!(err, CeremonyError::Rejected { .. }), "{err}");
    assert_eq!(signed_lines(&j), 2, "the two signed before are kept");
    assert!(std::fs::read_to_string(&j)
        .unwrap()
        .contains("\"rejected\""));
    // Re-run with approval and --on-reject continue: finishes, the two are not signed again.
    let s2 = sim(words);
    let mut t2 = s2.transport();
    let mut o = opts(id);
    o.on_reject = OnReject::Continue;
    let summary = sign(&m, &j, &mut t2, &o).unwrap();
    assert_eq!(summary.already, 2);
    assert_eq!(summary.signed_now + 2, summary.tasks);
    // With continue, a rejection is recorded and the rest is signed.
    let dir = tempfile::tempdir().unwrap();
    let m = setup(dir.path());
    let j = journal(dir.path(), id);
    let s = sim(words);
    s.set_approval(rejecting(PromptKind::EthereumSignMessage));
    let mut t = s.transport();
    let mut o = opts(id);
    o.on_reject = OnReject::Continue;
    let summary = sign(&m, &j, &mut t, &o).unwrap();
    let evm = m
        .addresses
        .iter()
        .filter(|a| a.chain == "ETH" || a.chain == "ARB")
        .count();
    assert_eq!(summary.rejected, evm, "every EVM prompt rejected");
    assert_eq!(summary.signed_now + summary.rejected, summary.tasks);
}

/// The demo manifest with its first TRX address replaced by `address`.
fn with_tron_address(dir: &Path, address: &str) -> (Manifest, String) {
    let p = write_manifest(dir, N).unwrap();
    let csv = dir.join("addresses.csv");
    let text = std::fs::read_to_string(&csv).unwrap();
    let line = text.lines().find(|l| l.starts_with("TRX,")).unwrap();
    let old = line.split(',').nth(2).unwrap().to_string();
    std::fs::write(&csv, text.replacen(&old, address, 1)).unwrap();
    (Manifest::load(p).unwrap(), old)
}

#[test]
fn tron_address_of_another_key_is_refused_before_signing() {
    let dir = tempfile::tempdir().unwrap();
    // The TRON address of sim-b's key at the same path: a valid address, the wrong key.
    let other = {
        let master = por_attest::fixtures::master_key(DEMO_SIGNERS[1].1);
        let path: bitcoin::bip32::DerivationPath = "m/44'/195'/0'/0/1".parse().unwrap();
        let sk = master
            .derive_priv(por_attest::schemes::secp(), &path)
            .unwrap();
        por_attest::schemes::tron::tron_address_of(
            &sk.private_key.public_key(por_attest::schemes::secp()),
        )
    };
    let (m, ours) = with_tron_address(dir.path(), &other);
    let (id, words) = DEMO_SIGNERS[0];
    let s = sim(words);
    let mut t = s.transport();
    let j = journal(dir.path(), id);
    let err = sign(&m, &j, &mut t, &opts(id)).unwrap_err();
    match &err {
        CeremonyError::AddressMismatch {
            address, derived, ..
        } => {
            assert_eq!(address, &other);
            assert_eq!(derived, &ours, "the device's own address is named");
        }
        e => panic!("{e}"),
    }
    assert!(err.to_string().contains("refusing to sign"), "{err}");
    assert!(!s
        .prompts()
        .iter()
        .any(|p| p.kind == PromptKind::TronSignMessage));
    // Everything before the TRON entries (Bitcoin, EVM) was signed and kept.
    let tron_tasks = m.addresses.iter().filter(|a| a.chain == "TRX").count();
    let before = m.tasks_for(id).count() - tron_tasks;
    assert_eq!(signed_lines(&j), before);
}

#[test]
fn rejected_tron_prompts_are_journaled() {
    let dir = tempfile::tempdir().unwrap();
    let m = setup(dir.path());
    let (id, words) = DEMO_SIGNERS[0];
    let tron = m.addresses.iter().filter(|a| a.chain == "TRX").count();
    assert!(tron >= 2);
    for kind in [PromptKind::TronAddress, PromptKind::TronSignMessage] {
        let dir = tempfile::tempdir().unwrap();
        let m = setup(dir.path());
        let j = journal(dir.path(), id);
        let s = sim(words);
        s.set_approval(rejecting(kind));
        let mut t = s.transport();
        let mut o = opts(id);
        o.on_reject = OnReject::Continue;
        let summary = sign(&m, &j, &mut t, &o).unwrap();
        assert_eq!(summary.rejected, tron, "{kind:?}");
        assert_eq!(summary.signed_now + tron, summary.tasks, "{kind:?}");
        let text = std::fs::read_to_string(&j).unwrap();
        assert_eq!(
            text.lines().filter(|l| l.contains("\"rejected\"")).count(),
            tron
        );
        assert!(text.contains("TRON"), "the reason names the TRON step");
        // Approving on a re-run signs exactly the TRON entries.
        let s2 = sim(words);
        let mut t2 = s2.transport();
        let summary = sign(&m, &j, &mut t2, &opts(id)).unwrap();
        assert_eq!(summary.signed_now, tron, "{kind:?}");
    }
    // With --on-reject stop, the first rejected TRON prompt stops the run.
    let j = journal(dir.path(), id);
    let s = sim(words);
    s.set_approval(rejecting(PromptKind::TronSignMessage));
    let mut t = s.transport();
    let err = sign(&m, &j, &mut t, &opts(id)).unwrap_err();
    assert!(matches!(err, CeremonyError::Rejected { .. }), "{err}");
    assert!(err.is_resumable());
}

#[test]
fn package_refuses_missing_signatures_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let m = setup(dir.path());
    let (id, words) = DEMO_SIGNERS[0];
    let s = sim(words);
    let mut t = s.transport();
    sign(&m, &journal(dir.path(), id), &mut t, &opts(id)).unwrap();
    // Only device A signed: each 2-of-3 has 1 of 2 signatures.
    let js = vec![journal(dir.path(), id)];
    let err = package(&m, &js, &PackageOptions::default()).unwrap_err();
    match &err {
        PackageError::Missing(list) => {
            assert_eq!(list.len(), N / 6, "{err}");
            assert!(list[0].contains("1 of 2"), "{err}");
        }
        other => panic!("{other}"),
    }
    let p = package(
        &m,
        &js,
        &PackageOptions {
            allow_unsigned: true,
            ..PackageOptions::default()
        },
    )
    .unwrap();
    assert_eq!(p.unsigned.len(), N / 6);
    // With B as well, the threshold is met without C.
    let s = sim(DEMO_SIGNERS[1].1);
    let mut t = s.transport();
    sign(&m, &journal(dir.path(), "sim-b"), &mut t, &opts("sim-b")).unwrap();
    let js = vec![journal(dir.path(), id), journal(dir.path(), "sim-b")];
    package(&m, &js, &PackageOptions::default()).unwrap();
}

#[test]
fn corrupt_journal_line_is_a_clear_error_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let m = setup(dir.path());
    let (id, words) = DEMO_SIGNERS[0];
    let j = journal(dir.path(), id);
    let s = sim(words);
    let mut t = s.transport();
    sign(&m, &j, &mut t, &opts(id)).unwrap();
    let text = std::fs::read_to_string(&j).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines[3] = "{\"kind\":\"signed\",garbage".into();
    let corrupted = lines.join("\n") + "\n";
    std::fs::write(&j, &corrupted).unwrap();
    let s2 = sim(words);
    let mut t2 = s2.transport();
    let err = sign(&m, &j, &mut t2, &opts(id)).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("line 4"), "{msg}");
    assert!(msg.contains(&j.display().to_string()), "{msg}");
    assert_eq!(
        std::fs::read_to_string(&j).unwrap(),
        corrupted,
        "nothing rewritten"
    );
    assert!(
        s2.prompts().is_empty()
            || !s2
                .prompts()
                .iter()
                .any(|p| matches!(p.kind, PromptKind::BitcoinSignMessage))
    );
}

#[test]
fn simulator_is_refused_for_a_release_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let p = write_manifest(dir.path(), 6).unwrap();
    let text = std::fs::read_to_string(&p)
        .unwrap()
        .replace("test = true", "test = false")
        .replace("kind = \"simulator\"", "kind = \"ledger\"");
    std::fs::write(&p, text).unwrap();
    let m = Manifest::load(&p).unwrap();
    let s = sim(DEMO_SIGNERS[0].1);
    let mut t = s.transport();
    let err = sign(&m, &journal(dir.path(), "sim-a"), &mut t, &opts("sim-a")).unwrap_err();
    assert!(matches!(err, CeremonyError::Refused(_)), "{err}");
}

#[test]
fn each_cosigner_device_shows_the_multisig_address_through_a_registered_wallet() {
    let dir = tempfile::tempdir().unwrap();
    let m = setup(dir.path());
    let (id, words) = DEMO_SIGNERS[1];
    let s = sim(words);
    let mut t = s.transport();
    let summary = sign(&m, &journal(dir.path(), id), &mut t, &opts(id)).unwrap();
    assert_eq!(summary.signed_now, N / 6);
    let prompts = s.prompts();
    let registrations = prompts
        .iter()
        .filter(|p| matches!(p.kind, PromptKind::BitcoinRegisterWallet))
        .count();
    assert_eq!(registrations, 1, "one wallet, registered once");
    for spec in m.addresses.iter().filter(|a| a.multisig.is_some()) {
        assert!(
            prompts
                .iter()
                .any(|p| matches!(p.kind, PromptKind::BitcoinAddress)
                    && p.address.as_deref() == Some(spec.address.as_str())),
            "multisig address {} was not shown",
            spec.address
        );
    }
    // The user rejecting the wallet registration stops before any signature.
    let dir = tempfile::tempdir().unwrap();
    let m = setup(dir.path());
    let s = sim(words);
    s.set_approval(rejecting(PromptKind::BitcoinRegisterWallet));
    let mut t = s.transport();
    let err = sign(&m, &journal(dir.path(), id), &mut t, &opts(id)).unwrap_err();
    assert!(matches!(err, CeremonyError::Rejected { .. }), "{err}");
    assert_eq!(signed_lines(&journal(dir.path(), id)), 0);
}

#[test]
fn bitcoin_app_before_2_1_is_driven_with_version_1_wallet_policies() {
    // App 2.0.x (what public Speculos builds run) knows only version-1 policies and answers
    // 0x6A80 to version 2; the ceremony picks the spelling from the version the app reports.
    let old = |words: &str| {
        SimulatedLedger::new(SimulatorConfig {
            bitcoin_app_version: "2.0.6".into(),
            ..SimulatorConfig::with_mnemonic(words)
        })
        .unwrap()
    };
    let s = old(DEMO_SIGNERS[0].1);
    let mut t = s.transport();
    por_attest::signers::ensure_app(&mut t, por_attest::signers::AppKind::Bitcoin).unwrap();
    let mut v2 = por_attest::signers::BitcoinApp::new(&mut t);
    let f = v2.master_fingerprint().unwrap();
    let path = "m/84'/0'/0'/0/0".parse().unwrap();
    let err = v2
        .single_sig_address(f, por_attest::chains::ScriptType::P2wpkh, &path, false)
        .unwrap_err();
    assert!(err.to_string().contains("6A80"), "{err}");

    let reference = {
        let dir = tempfile::tempdir().unwrap();
        let m = setup(dir.path());
        full_run(dir.path(), &m)
    };
    let dir = tempfile::tempdir().unwrap();
    let m = setup(dir.path());
    for (id, words) in DEMO_SIGNERS {
        let s = old(words);
        let mut t = s.transport();
        sign(&m, &journal(dir.path(), id), &mut t, &opts(id)).unwrap();
    }
    // Apps before 2.1.3 keep the legacy route: the same addresses, each proven by legacy
    // signed messages (the snapshot says `bip137`), which verify.
    let bytes = package_bytes(dir.path(), &m);
    assert_ne!(bytes, reference);
    let out = dir.path().join("snapshot.json");
    std::fs::write(&out, &bytes).unwrap();
    let r = verify_snapshot_file(&out, &VerifyOptions::default()).unwrap();
    assert_eq!(r.exit_code(), 0, "{}", r.to_human());
    let snap = por_attest::snapshot::Snapshot::read(&out).unwrap();
    for e in snap.entries.iter().filter(|e| e.chain == "BTC") {
        assert!(
            e.signatures.iter().all(|s| s.scheme.as_str() == "bip137"),
            "{} {:?}",
            e.address,
            e.signatures
        );
    }
}

/// The BIP-86 P2TR address of device A's key at `m/86'/0'/0'/0/index`.
fn p2tr_address(index: u32) -> String {
    por_attest::fixtures::p2tr_address(DEMO_SIGNERS[0].1, index)
}

/// The demo manifest plus P2TR rows for device A: (address index, path index) pairs.
fn setup_with_p2tr(dir: &Path, rows: &[(u32, u32)]) -> Manifest {
    let p = write_manifest(dir, N).unwrap();
    let csv = dir.join("addresses.csv");
    let mut text = std::fs::read_to_string(&csv).unwrap();
    for (address_index, path_index) in rows {
        text.push_str(&format!(
            "BTC,mainnet,{},p2tr,m/86'/0'/0'/0/{path_index},sim-a,cold,,,,,\n",
            p2tr_address(*address_index)
        ));
    }
    std::fs::write(&csv, text).unwrap();
    Manifest::load(p).unwrap()
}

#[test]
fn p2tr_entries_are_signed_as_bip322_through_sign_psbt_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let m = setup_with_p2tr(dir.path(), &[(0, 0), (1, 1), (9, 9)]);
    let (id, words) = DEMO_SIGNERS[0];
    let s = sim(words);
    let mut t = s.transport();
    let summary = sign(&m, &journal(dir.path(), id), &mut t, &opts(id)).unwrap();
    assert_eq!(summary.signed_now, summary.tasks);
    // Each P2TR address was shown, then a transaction prompt followed it: the released app
    // reviews the `to_sign` as a zero-value transaction to OP_RETURN with no fee (it has no
    // BIP-322 display, so the message itself is not on the screen).
    let prompts = s.prompts();
    for i in [0, 1, 9] {
        let addr = p2tr_address(i);
        let shown = prompts
            .iter()
            .position(|p| {
                p.kind == PromptKind::BitcoinAddress && p.address.as_deref() == Some(&addr)
            })
            .unwrap();
        let next = &prompts[shown + 1];
        assert_eq!(next.kind, PromptKind::BitcoinSignPsbt);
        assert_eq!(next.message, None);
        let details: Vec<(&str, &str)> = next
            .details
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(details.len(), 2, "{details:?}");
        assert_eq!(details[0].0, "Output 1");
        assert!(
            details[0].1.contains("OP_RETURN") && details[0].1.contains("0 BTC"),
            "{details:?}"
        );
        assert_eq!(details[1], ("Fees", "0 BTC"));
    }
    for (id, words) in &DEMO_SIGNERS[1..] {
        let s = sim(words);
        let mut t = s.transport();
        sign(&m, &journal(dir.path(), id), &mut t, &opts(id)).unwrap();
    }
    let bytes = package_bytes(dir.path(), &m);
    let out = dir.path().join("snapshot.json");
    std::fs::write(&out, &bytes).unwrap();
    let r = verify_snapshot_file(&out, &VerifyOptions::default()).unwrap();
    assert_eq!(r.exit_code(), 0, "{}", r.to_human());
    assert_eq!(r.entries as usize, N + 3);
    let text = String::from_utf8(bytes).unwrap();
    let snap = por_attest::snapshot::Snapshot::read(&out).unwrap();
    let sigs: Vec<String> = snap
        .entries
        .iter()
        .filter(|e| e.script_type == Some(ScriptType::P2tr))
        .map(|e| {
            assert_eq!(e.signatures.len(), 1);
            assert_eq!(e.signatures[0].scheme.as_str(), "bip322-simple");
            e.signatures[0].signature.clone()
        })
        .collect();
    assert_eq!(sigs.len(), 3);
    let sigs: Vec<&str> = sigs.iter().map(String::as_str).collect();
    // A P2TR signature moved to another P2TR entry fails verification.
    let swapped = text
        .replacen(sigs[0], "SWAP", 1)
        .replacen(sigs[1], sigs[0], 1)
        .replacen("SWAP", sigs[1], 1);
    std::fs::write(&out, swapped).unwrap();
    let r = verify_snapshot_file(&out, &VerifyOptions::default()).unwrap();
    assert_eq!(r.exit_code(), 1, "{}", r.to_human());
}

#[test]
fn rejected_psbt_prompt_is_journaled_as_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let m = setup_with_p2tr(dir.path(), &[(2, 2), (3, 3)]);
    let (id, words) = DEMO_SIGNERS[0];
    let j = journal(dir.path(), id);
    let s = sim(words);
    s.set_approval(rejecting(PromptKind::BitcoinSignPsbt));
    let mut t = s.transport();
    let mut o = opts(id);
    o.on_reject = OnReject::Continue;
    let summary = sign(&m, &j, &mut t, &o).unwrap();
    // Every BIP-322 task of this device: the P2TR, P2WPKH, P2SH-P2WPKH and cosigner ones.
    let psbt_tasks = m
        .tasks_for(id)
        .filter(|t| t.spec.chain == "BTC" && t.spec.script_type != Some(ScriptType::P2pkh))
        .count();
    assert!(psbt_tasks > 2);
    assert_eq!(summary.rejected, psbt_tasks);
    assert_eq!(summary.signed_now + psbt_tasks, summary.tasks);
    let text = std::fs::read_to_string(&j).unwrap();
    let rejected: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("\"rejected\""))
        .collect();
    assert_eq!(rejected.len(), psbt_tasks);
    for i in [2, 3] {
        assert!(rejected.iter().any(|l| l.contains(&p2tr_address(i))));
    }
    // Approved on a re-run, only the rejected entries are signed.
    let s2 = sim(words);
    let mut t2 = s2.transport();
    let summary = sign(&m, &j, &mut t2, &opts(id)).unwrap();
    assert_eq!((summary.signed_now, summary.rejected), (psbt_tasks, 0));
}

#[test]
fn p2tr_address_of_another_key_is_refused_before_signing() {
    let dir = tempfile::tempdir().unwrap();
    // The address of index 5 listed with the path of index 6.
    let m = setup_with_p2tr(dir.path(), &[(5, 6)]);
    let (id, words) = DEMO_SIGNERS[0];
    let s = sim(words);
    let mut t = s.transport();
    let j = journal(dir.path(), id);
    let err = sign(&m, &j, &mut t, &opts(id)).unwrap_err();
    assert!(
        matches!(&err, CeremonyError::AddressMismatch { address, .. } if *address == p2tr_address(5)),
        "{err}"
    );
    // Nothing is signed after the device showed the other address.
    let prompts = s.prompts();
    let last_shown = prompts
        .iter()
        .rposition(|p| p.kind == PromptKind::BitcoinAddress)
        .unwrap();
    assert!(!prompts[last_shown..]
        .iter()
        .any(|p| p.kind == PromptKind::BitcoinSignPsbt));
    assert!(!std::fs::read_to_string(&j)
        .unwrap_or_default()
        .contains(&p2tr_address(5)));
}

#[test]
fn p2tr_on_a_bitcoin_app_before_2_1_3_is_listed_not_prompted() {
    // The real 2.0.6 answers 0x6A82 to the BIP-322 `to_sign` (its bare OP_RETURN output);
    // the ceremony says so before any prompt and signs the device's other entries.
    let dir = tempfile::tempdir().unwrap();
    let m = setup_with_p2tr(dir.path(), &[(2, 2)]);
    let (id, words) = DEMO_SIGNERS[0];
    let s = SimulatedLedger::new(SimulatorConfig {
        bitcoin_app_version: "2.0.6".into(),
        ..SimulatorConfig::with_mnemonic(words)
    })
    .unwrap();
    let mut t = s.transport();
    let j = journal(dir.path(), id);
    let summary = sign(&m, &j, &mut t, &opts(id)).unwrap();
    let p2tr: Vec<&String> = summary
        .unsupported
        .iter()
        .filter(|u| u.contains(&p2tr_address(2)))
        .collect();
    assert_eq!(p2tr.len(), 1, "{:?}", summary.unsupported);
    assert!(
        p2tr[0].contains("2.1.3") && p2tr[0].contains("2.0.6"),
        "{}",
        p2tr[0]
    );
    assert!(summary.signed_now > 0);
    assert!(!s
        .prompts()
        .iter()
        .any(|p| p.kind == PromptKind::BitcoinSignPsbt
            || p.address.as_deref() == Some(&*p2tr_address(2))));
    assert!(!std::fs::read_to_string(&j)
        .unwrap()
        .contains(&p2tr_address(2)));
}

/// `package` writes the custody team's coins file into the Bitcoin entries: the snapshot
/// carries them, verifies, and a coins file that does not add up to an entry's balance is
/// refused before anything is written.
#[test]
fn package_fills_bitcoin_coins_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let m = setup(dir.path());
    let mut js = Vec::new();
    for (id, words) in &DEMO_SIGNERS[..2] {
        let s = sim(words);
        let mut t = s.transport();
        sign(&m, &journal(dir.path(), id), &mut t, &opts(id)).unwrap();
        js.push(journal(dir.path(), id));
    }
    let spec = m
        .addresses
        .iter()
        .find(|a| a.chain == "BTC")
        .expect("a BTC address");
    let anchor = m.anchors["BTC"].height;
    let sat = spec.balance.as_deref().map_or(150_000_000u64, |b| {
        let d = por_attest::balance::parse_balance(b, "BTC", Some(8)).unwrap();
        u64::try_from(por_attest::balance::to_base_units(&d, 8).unwrap()).unwrap()
    });
    let coins_json = serde_json::json!({
        spec.address.clone(): [{
            "txid": "4a".repeat(32), "vout": 1, "amount_sat": sat, "height": anchor - 3,
            "block_hash": "00".repeat(32)
        }]
    });
    let file = dir.path().join("coins.json");
    std::fs::write(&file, coins_json.to_string()).unwrap();
    let coins = por_attest::package::read_coins_file(&file).unwrap();
    let p = package(
        &m,
        &js,
        &PackageOptions {
            coins: coins.clone(),
            ..PackageOptions::default()
        },
    )
    .unwrap();
    let e = p
        .snapshot
        .entries
        .iter()
        .find(|e| e.address == spec.address)
        .unwrap();
    assert_eq!(e.coins.len(), 1);
    assert_eq!(e.coins[0].amount_sat, sat);
    let out = dir.path().join("snapshot.json");
    std::fs::write(&out, p.snapshot.to_file_bytes()).unwrap();
    let r = verify_snapshot_file(
        &out,
        &VerifyOptions {
            threads: 2,
            progress: false,
            claims: true,
        },
    )
    .unwrap();
    assert_eq!(r.failed, 0, "{}", r.to_human());
    assert!(r
        .claims
        .iter()
        .any(|c| c.address == spec.address && c.coins.len() == 1));
    if spec.balance.is_some() {
        let mut off = coins;
        off.get_mut(&spec.address).unwrap()[0].amount_sat += 1;
        let err = package(
            &m,
            &js,
            &PackageOptions {
                coins: off,
                ..PackageOptions::default()
            },
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("the coins add up to"), "{err}");
    }
}
