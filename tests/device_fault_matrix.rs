//! The device fault matrix: a whole ceremony on one simulated device (single-key P2WPKH, a
//! multisig cosigner key, P2TR through SIGN_PSBT, Ethereum and TRON), faulted at every one of
//! its exchanges in turn, three ways: (a) the device disconnects there, (b) it answers garbage
//! there, (c) it answers a well-formed but wrong value there (as a device with another seed
//! would: another fingerprint, key or address, a signature by another key). Each faulted run
//! ends in a clear stop or refusal (or, where the reply does not depend on the seed, finishes
//! as if nothing happened), journals nothing that the unfaulted run would not journal, and the
//! resumed run on a sound device finishes with a snapshot byte-identical to the unfaulted one.

use por_attest::ceremony::{sign, CeremonyError, SignOptions};
use por_attest::demo::{write_manifest, DEMO_SIGNERS};
use por_attest::fixtures::p2tr_address;
use por_attest::journal::{load_records, Record};
use por_attest::manifest::{Manifest, TaskKey};
use por_attest::package::{package, PackageOptions};
use por_attest::simulator::{Fault, SimulatedLedger, SimulatorConfig};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Rows of the 12-address demo manifest kept: P2WPKH, the 2-of-3 P2WSH, ETH, TRX.
const KEPT_ROWS: [usize; 4] = [2, 3, 4, 11];

/// The unfaulted ceremony: its manifest, device A's journaled signatures, the other
/// cosigners' journals, the snapshot, and device A's number of exchanges.
struct Reference {
    _dir: tempfile::TempDir,
    manifest: Manifest,
    signatures: HashMap<TaskKey, String>,
    others: Vec<PathBuf>,
    snapshot: Vec<u8>,
    exchanges: usize,
}

fn write_small_manifest(dir: &Path) -> Manifest {
    let path = write_manifest(dir, 12).unwrap();
    let csv = dir.join("addresses.csv");
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    let mut out = format!("{}\n", lines.next().unwrap());
    for (i, l) in lines.enumerate() {
        if KEPT_ROWS.contains(&i) {
            out.push_str(l);
            out.push('\n');
        }
    }
    out.push_str(&format!(
        "BTC,mainnet,{},p2tr,m/86'/0'/0'/0/0,sim-a,cold,,,,,\n",
        p2tr_address(DEMO_SIGNERS[0].1, 0)
    ));
    std::fs::write(&csv, out).unwrap();
    Manifest::load(path).unwrap()
}

fn opts(id: &str) -> SignOptions {
    SignOptions {
        signer: Some(id.into()),
        device_is_simulator: true,
        ..SignOptions::default()
    }
}

fn device(id: usize) -> SimulatedLedger {
    SimulatedLedger::new(SimulatorConfig::with_mnemonic(DEMO_SIGNERS[id].1)).unwrap()
}

fn signed(m: &Manifest, journal: &Path) -> (HashMap<TaskKey, String>, usize) {
    let merged = load_records(&[journal], &m.identity()).unwrap();
    let mut sigs = HashMap::new();
    let mut rejected = 0;
    for r in merged.records {
        match r {
            Record::Signed(s) => {
                sigs.insert(s.key(), s.signature);
            }
            Record::Rejected(_) => rejected += 1,
            _ => {}
        }
    }
    (sigs, rejected)
}

fn snapshot(m: &Manifest, journal_a: &Path, others: &[PathBuf]) -> Vec<u8> {
    let mut journals = vec![journal_a.to_path_buf()];
    journals.extend_from_slice(others);
    package(m, &journals, &PackageOptions::default())
        .unwrap()
        .snapshot
        .to_file_bytes()
}

fn reference() -> Reference {
    let dir = tempfile::tempdir().unwrap();
    let manifest = write_small_manifest(dir.path());
    let mut others = Vec::new();
    for (i, (id, _)) in DEMO_SIGNERS.iter().enumerate().skip(1) {
        let j = dir.path().join(format!("journal-{id}.jsonl"));
        let mut t = device(i).transport();
        sign(&manifest, &j, &mut t, &opts(id)).unwrap();
        others.push(j);
    }
    let j = dir.path().join("journal-sim-a.jsonl");
    let a = device(0);
    let summary = sign(&manifest, &j, &mut a.transport(), &opts("sim-a")).unwrap();
    assert_eq!(
        summary.signed_now, 5,
        "P2WPKH, a cosigner key, P2TR, ETH, TRX"
    );
    let (signatures, _) = signed(&manifest, &j);
    let snapshot = snapshot(&manifest, &j, &others);
    Reference {
        exchanges: a.exchanges(),
        _dir: dir,
        manifest,
        signatures,
        others,
        snapshot,
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Disconnect,
    Garbage,
    Wrong,
}

/// Runs every exchange index with one kind of fault; returns the number of cases.
fn matrix(kind: Kind) -> usize {
    let r = reference();
    let m = &r.manifest;
    assert!(
        r.exchanges > 50,
        "a whole ceremony: {} exchanges",
        r.exchanges
    );
    let scratch = tempfile::tempdir().unwrap();
    let mut finished_anyway = 0;
    let mut refusals: HashMap<&str, usize> = HashMap::new();
    for k in 1..=r.exchanges {
        let case = format!("{kind:?} at exchange {k}");
        let j = scratch.path().join(format!("journal-{k}.jsonl"));
        let faulty = device(0);
        faulty.set_faults(vec![match kind {
            Kind::Disconnect => Fault::DisconnectAfter(k - 1),
            Kind::Garbage => Fault::GarbageAt(k),
            Kind::Wrong => Fault::WrongAt(k),
        }]);
        let outcome = sign(m, &j, &mut faulty.transport(), &opts("sim-a"));
        assert!(faulty.exchanges() >= k, "{case}: the fault never came");
        if let Err(e) = &outcome {
            let what = match e {
                CeremonyError::Device { .. } => "device error",
                CeremonyError::AddressMismatch { .. } => "address mismatch",
                CeremonyError::BadSignature { .. } => "bad signature",
                CeremonyError::WrongDevice(_) => "wrong device",
                _ => "other",
            };
            *refusals.entry(what).or_default() += 1;
        }
        match (&outcome, kind) {
            (Err(e @ CeremonyError::Device { .. }), Kind::Disconnect | Kind::Garbage) => {
                let text = e.to_string();
                assert!(text.contains("safe in the journal"), "{case}: {text}");
            }
            (
                Err(
                    CeremonyError::Device { .. }
                    | CeremonyError::AddressMismatch { .. }
                    | CeremonyError::BadSignature { .. }
                    | CeremonyError::WrongDevice(_),
                ),
                Kind::Wrong,
            ) => {}
            // A reply that does not depend on the seed (app name, a CONTINUE's request)
            // is the same from another device: the run goes on unharmed.
            (Ok(s), Kind::Wrong) => {
                assert_eq!(s.signed_now, s.tasks, "{case}: finished with gaps");
                finished_anyway += 1;
            }
            (other, _) => panic!("{case}: not a clear stop: {other:?}"),
        }
        // Nothing wrong journaled: every signature is the one the sound device gives.
        if j.exists() {
            let (sigs, rejected) = signed(m, &j);
            assert_eq!(rejected, 0, "{case}: a rejection journaled");
            for (key, sig) in &sigs {
                assert_eq!(r.signatures.get(key), Some(sig), "{case}: journaled {key}");
            }
        }
        // Resume on a sound device: finishes, and the snapshot is the unfaulted one.
        let sound = device(0);
        let summary = sign(m, &j, &mut sound.transport(), &opts("sim-a"))
            .unwrap_or_else(|e| panic!("{case}: the resumed run fails: {e}"));
        assert_eq!(
            summary.signed_now + summary.already,
            summary.tasks,
            "{case}"
        );
        assert_eq!(
            snapshot(m, &j, &r.others),
            r.snapshot,
            "{case}: resumed snapshot differs"
        );
    }
    if kind == Kind::Wrong {
        // Most replies depend on the seed: far from every wrong reply goes unnoticed, and
        // each kind of wrong value is caught where it arrives.
        assert!(
            finished_anyway * 2 < r.exchanges,
            "{finished_anyway} of {} wrong replies changed nothing",
            r.exchanges
        );
        for what in ["wrong device", "address mismatch", "bad signature"] {
            assert!(refusals.contains_key(what), "no {what} in {refusals:?}");
        }
    }
    eprintln!(
        "fault matrix, {kind:?}: {} cases ({finished_anyway} unharmed; stops: {refusals:?})",
        r.exchanges
    );
    r.exchanges
}

#[test]
fn device_disconnects_at_every_exchange() {
    matrix(Kind::Disconnect);
}

#[test]
fn device_answers_garbage_at_every_exchange() {
    matrix(Kind::Garbage);
}

#[test]
fn device_answers_a_wrong_value_at_every_exchange() {
    matrix(Kind::Wrong);
}
