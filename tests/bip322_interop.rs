//! Interop with an independent BIP-322 implementation, PyPI's `bip322-core` (its verifier is
//! cross-checked against btcd, Knots, Core and btclib): it must accept every Bitcoin entry of
//! the example snapshot and of a demo snapshot (a ceremony on the simulator), and its own
//! proofs, a finalized 2-of-3 P2WSH among them, must verify with ours.
//!
//! `scripts/setup` installs bip322-core into `.venv-bip322/` (or set
//! `POR_ATTEST_BIP322_PYTHON` to a Python that has it); without it these tests skip, saying so.

use bitcoin::address::NetworkUnchecked;
use bitcoin::Address;
use por_attest::schemes;
use por_attest::snapshot::Snapshot;
use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "support/bip322_core.rs"]
mod bip322_core;
use bip322_core::{python, repo};

macro_rules! python_or_skip {
    () => {
        match python() {
            Ok(p) => p,
            Err(why) => {
                eprintln!("SKIP: bip322-core is not installed: {why}");
                return;
            }
        }
    };
}

/// One proof for bip322-core: address, message, signature.
struct Proof {
    what: String,
    address: String,
    message: String,
    signature: String,
}

/// bip322-core's verdict on each proof: `(state, reason)`.
fn bip322_core_verify(py: &Path, proofs: &[Proof]) -> Vec<(String, String)> {
    let triples: Vec<(String, String, String)> = proofs
        .iter()
        .map(|p| (p.address.clone(), p.message.clone(), p.signature.clone()))
        .collect();
    bip322_core::verify(py, &triples)
}

/// Every signature of every Bitcoin entry of a snapshot, as proofs.
fn bitcoin_proofs(snap: &Snapshot) -> Vec<Proof> {
    snap.entries
        .iter()
        .enumerate()
        .filter(|(_, e)| e.chain == "BTC")
        .flat_map(|(i, e)| {
            e.signatures.iter().map(move |s| Proof {
                what: format!(
                    "entry {i} {} {}: {}",
                    e.script_type.map(|t| t.as_str()).unwrap_or("-"),
                    e.address,
                    s.scheme
                ),
                address: e.address.clone(),
                message: e.message.clone(),
                signature: s.signature.clone(),
            })
        })
        .collect()
}

/// The proofs bip322-core does not accept, with its reasons.
fn rejected(py: &Path, proofs: &[Proof]) -> Vec<String> {
    bip322_core_verify(py, proofs)
        .into_iter()
        .zip(proofs)
        .filter(|((state, _), _)| state != "valid")
        .map(|((state, reason), p)| format!("{}: {state}: {reason}", p.what))
        .collect()
}

#[test]
fn bip322_core_accepts_every_bitcoin_entry_of_the_example_snapshot() {
    let py = python_or_skip!();
    let snap = Snapshot::read(&repo().join("examples/snapshot.json")).expect("example");
    let proofs = bitcoin_proofs(&snap);
    assert_eq!(proofs.len(), 11, "one signature per Bitcoin entry");
    let bad = rejected(&py, &proofs);
    assert!(bad.is_empty(), "bip322-core rejects:\n{}", bad.join("\n"));
}

#[test]
fn bip322_core_accepts_every_bitcoin_entry_of_a_demo_snapshot() {
    let py = python_or_skip!();
    let tmp = tempfile::tempdir().unwrap();
    let demo = por_attest::demo::run_demo(tmp.path(), 24, false).expect("demo");
    assert_eq!(demo.report.exit_code(), 0, "{}", demo.report.to_human());
    let snap = Snapshot::read(&demo.snapshot).expect("demo snapshot");
    let proofs = bitcoin_proofs(&snap);
    assert!(proofs.len() >= 16, "{} Bitcoin proofs", proofs.len());
    let bad = rejected(&py, &proofs);
    assert!(bad.is_empty(), "bip322-core rejects:\n{}", bad.join("\n"));
}

#[test]
fn bip322_core_tells_a_broken_proof_apart() {
    // The harness can fail: a proof for another message is not valid to bip322-core.
    let py = python_or_skip!();
    let snap = Snapshot::read(&repo().join("examples/snapshot.json")).expect("example");
    let mut proofs = bitcoin_proofs(&snap);
    for p in &mut proofs {
        p.message.push('!');
    }
    assert_eq!(rejected(&py, &proofs).len(), proofs.len());
}

#[test]
fn proofs_made_by_bip322_core_verify_with_ours() {
    let py = python_or_skip!();
    let out = Command::new(&py)
        .arg(repo().join("scripts/bip322_core_sign.py"))
        .output()
        .expect("run bip322-core's signer");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut n = 0;
    let mut p2wsh_pairs = std::collections::BTreeSet::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let what = v["what"].as_str().unwrap();
        let address: Address = v["address"]
            .as_str()
            .unwrap()
            .parse::<Address<NetworkUnchecked>>()
            .unwrap()
            .assume_checked();
        let msg = v["message"].as_str().unwrap().as_bytes();
        let sig = v["signature"].as_str().unwrap();
        let kind = schemes::verify_bip322(&address, msg, sig)
            .unwrap_or_else(|e| panic!("{what} {address}: {e}"));
        let full = matches!(kind, schemes::Bip322Kind::Full { .. });
        assert_eq!(full, what.ends_with("ful"), "{what}: {kind:?}");
        // and not for another message
        assert!(schemes::verify_bip322(&address, b"another message", sig).is_err());
        if what.starts_with("p2wsh") {
            p2wsh_pairs.insert(what.to_string());
        }
        n += 1;
    }
    assert_eq!(n, 24, "{text}");
    assert_eq!(p2wsh_pairs.len(), 6, "3 pairs x smp/ful: {p2wsh_pairs:?}");
}

/// bip322-audit's offline verdict on a proofs document: its JSON report.
fn bip322_audit_offline(py: &Path, file: &Path) -> serde_json::Value {
    let audit = py.with_file_name("bip322-audit");
    let out = Command::new(&audit)
        .args(["verify", "--offline", "--json"])
        .arg(file)
        .output()
        .expect("run bip322-audit");
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "{}: {e}: {text}\n{}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn bip322_audit_reads_the_exported_proofs_and_finds_every_signature_valid() {
    let py = python_or_skip!();
    if !py.with_file_name("bip322-audit").exists() {
        eprintln!(
            "SKIP: bip322-audit is not installed beside {}",
            py.display()
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let example = repo().join("examples/snapshot.json");
    let out_dir = tmp.path().join("proofs");
    let status = Command::new(env!("CARGO_BIN_EXE_por-attest"))
        .args(["export", "--format", "bip322-proofs", "--out"])
        .arg(&out_dir)
        .arg(&example)
        .status()
        .unwrap();
    assert!(status.success());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 11, "one document per Bitcoin address");
    let mut variants = std::collections::BTreeSet::new();
    for f in &files {
        let report = bip322_audit_offline(&py, f);
        let proofs = report["proofs"].as_array().unwrap();
        assert_eq!(proofs.len(), 1, "{}", f.display());
        let state = proofs[0]["bip322"]["state"].as_str().unwrap();
        assert_eq!(state, "valid", "{}: {report}", f.display());
        assert_eq!(report["summary"]["proofs_valid"], true, "{report}");
        variants.insert(proofs[0]["bip322"]["variant"].as_str().unwrap().to_string());
    }
    assert!(
        variants.contains("smp") && variants.contains("ful"),
        "{variants:?}"
    );
    // A document whose message was changed fails there.
    let doc = std::fs::read_to_string(&files[0]).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&doc).unwrap();
    let m = format!("{}!", v["message"].as_str().unwrap());
    v["message_hex"] = serde_json::Value::String(hex::encode(m.as_bytes()));
    v["message"] = serde_json::Value::String(m);
    let bad = tmp.path().join("bad-proofs.json");
    std::fs::write(&bad, v.to_string()).unwrap();
    let report = bip322_audit_offline(&py, &bad);
    assert_eq!(report["summary"]["proofs_valid"], false, "{report}");
}

#[test]
fn bip322_core_accepts_the_synthetic_bip322_mix() {
    // The benchmark's BIP-322 mix: ours verifies it, and so does bip322-core.
    let py = python_or_skip!();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("mix.json");
    por_attest::synthetic::write_synthetic_bip322_snapshot(&path, 60).unwrap();
    let r = por_attest::verify::verify_snapshot_file(&path, &Default::default()).unwrap();
    assert_eq!(r.exit_code(), 0, "{}", r.to_human());
    let snap = Snapshot::read(&path).unwrap();
    let proofs = bitcoin_proofs(&snap);
    assert_eq!(proofs.len(), 30);
    let bad = rejected(&py, &proofs);
    assert!(bad.is_empty(), "bip322-core rejects:\n{}", bad.join("\n"));
}
