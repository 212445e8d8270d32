//! BIP-322 multisig through SIGN_PSBT on the simulated devices: each cosigner's device signs
//! the same `to_sign`, its partial signature is checked before it is journaled, and
//! `package` finalizes the witness once the threshold is reached. The threshold is reached
//! by any pair of cosigners; a bad partial signature (by a key outside the script, high-S,
//! not DER, not SIGHASH_ALL) is refused with its reason before it is journaled (device side)
//! or at package time (a journal edited afterwards); a missing cosigner keeps the entry
//! unsigned, naming who is missing.

use bitcoin::bip32::{DerivationPath, Fingerprint, Xpub};
use bitcoin::secp256k1::ecdsa;
use bitcoin::Psbt;
use por_attest::ceremony::{sign, sign_with, CeremonyError, SignOptions};
use por_attest::chains::{ChainFamily, ScriptType};
use por_attest::demo::{write_manifest, DEMO_SIGNERS};
use por_attest::manifest::{Manifest, SigningTask};
use por_attest::package::{package, PackageError, PackageOptions};
use por_attest::signer::{AccountAddressRef, Signer, SigningKey};
use por_attest::signers::{DeviceError, LedgerSigner};
use por_attest::simulator::{SimulatedLedger, SimulatorConfig};
use por_attest::snapshot::Snapshot;
use por_attest::verify::{verify_snapshot_file, VerifyOptions};
use std::path::{Path, PathBuf};

/// 12 demo addresses: two 2-of-3 P2WSH among them.
const N: usize = 12;

fn setup(dir: &Path) -> Manifest {
    Manifest::load(write_manifest(dir, N).unwrap()).unwrap()
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

fn journal(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("journal-{id}.jsonl"))
}

fn sign_on(dir: &Path, m: &Manifest, which: &[usize]) {
    for &i in which {
        let (id, words) = DEMO_SIGNERS[i];
        let s = sim(words);
        let mut t = s.transport();
        sign(m, &journal(dir, id), &mut t, &opts(id)).unwrap();
    }
}

fn journals(dir: &Path) -> Vec<PathBuf> {
    DEMO_SIGNERS
        .iter()
        .map(|(id, _)| journal(dir, id))
        .filter(|p| p.exists())
        .collect()
}

fn multisig_entries(snap: &Snapshot) -> Vec<&por_attest::snapshot::Entry> {
    snap.entries
        .iter()
        .filter(|e| e.script_type == Some(ScriptType::P2wsh))
        .collect()
}

#[test]
fn any_pair_of_cosigners_reaches_the_threshold() {
    let mut proofs = Vec::new();
    for pair in [[0, 1], [0, 2], [1, 2]] {
        let dir = tempfile::tempdir().unwrap();
        let m = setup(dir.path());
        sign_on(dir.path(), &m, &pair);
        // Without sim-a, its single-key addresses stay unsigned: published as such.
        let o = PackageOptions {
            allow_unsigned: true,
            ..PackageOptions::default()
        };
        let packaged = package(&m, &journals(dir.path()), &o).unwrap();
        let out = dir.path().join("snapshot.json");
        std::fs::write(&out, packaged.snapshot.to_file_bytes()).unwrap();
        let r = verify_snapshot_file(&out, &VerifyOptions::default()).unwrap();
        let ms = multisig_entries(&packaged.snapshot);
        for e in &ms {
            assert!(
                !r.problems.iter().any(|p| p.address == e.address),
                "{pair:?}: {}",
                r.to_human()
            );
        }
        assert_eq!(ms.len(), 2);
        for e in ms {
            assert_eq!(e.signatures.len(), 1, "one finalized signature");
            assert_eq!(e.signatures[0].scheme.as_str(), "bip322-simple");
            assert!(e.signatures[0].signature.starts_with("smp"));
            proofs.push(e.signatures[0].signature.clone());
        }
    }
    // Different pairs give different witnesses for the same address.
    proofs.sort();
    proofs.dedup();
    assert_eq!(proofs.len(), 6);
}

#[test]
fn a_missing_cosigner_keeps_the_entry_unsigned_naming_who_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let m = setup(dir.path());
    sign_on(dir.path(), &m, &[1]);
    let err = package(&m, &journals(dir.path()), &PackageOptions::default()).unwrap_err();
    let PackageError::Missing(lines) = &err else {
        panic!("{err}")
    };
    let multisig: Vec<&String> = lines.iter().filter(|l| l.contains("BIP-322")).collect();
    assert_eq!(multisig.len(), 2, "{lines:?}");
    for l in multisig {
        assert!(
            l.contains("1 of 2 BIP-322 partial signatures") && l.contains("sim-a, sim-c"),
            "{l}"
        );
    }
}

/// How the wrapped device spoils the partial signature it returns.
#[derive(Clone, Copy, Debug)]
enum Spoil {
    HighS,
    NotDer,
    SighashNone,
    /// Signed by a key outside the script (another seed's key at the same path).
    OutsideKey,
}

fn spoil(sig: &[u8], how: Spoil) -> Vec<u8> {
    let (der, ty) = sig.split_at(sig.len() - 1);
    match how {
        Spoil::HighS => {
            let s = ecdsa::Signature::from_der(der).unwrap();
            let c = s.serialize_compact();
            let neg = bitcoin::secp256k1::SecretKey::from_slice(&c[32..])
                .unwrap()
                .negate();
            let mut c2 = c;
            c2[32..].copy_from_slice(&neg.secret_bytes());
            let mut v = ecdsa::Signature::from_compact(&c2)
                .unwrap()
                .serialize_der()
                .to_vec();
            v.push(ty[0]);
            v
        }
        Spoil::NotDer => {
            let mut v = sig.to_vec();
            v[0] = 0x31;
            v
        }
        Spoil::SighashNone => {
            let mut v = der.to_vec();
            v.push(0x02);
            v
        }
        Spoil::OutsideKey => unreachable!("handled by the signer"),
    }
}

/// A Ledger whose BIP-322 partial signatures come back spoiled.
struct Spoiling<S: Signer> {
    inner: S,
    how: Spoil,
}

impl<S: Signer> Signer for Spoiling<S> {
    fn master_fingerprint(&mut self) -> Result<Option<Fingerprint>, DeviceError> {
        self.inner.master_fingerprint()
    }
    fn cannot_sign(&mut self, task: &SigningTask<'_>) -> Result<Option<String>, DeviceError> {
        self.inner.cannot_sign(task)
    }
    fn extended_pubkey(
        &mut self,
        family: ChainFamily,
        path: &DerivationPath,
        display: bool,
    ) -> Result<Xpub, DeviceError> {
        self.inner.extended_pubkey(family, path, display)
    }
    fn derive_address(
        &mut self,
        manifest: &Manifest,
        task: &SigningTask<'_>,
        display: bool,
    ) -> Result<Option<String>, DeviceError> {
        self.inner.derive_address(manifest, task, display)
    }
    fn sign_message(
        &mut self,
        key: &SigningKey<'_>,
        message: &[u8],
    ) -> Result<String, DeviceError> {
        self.inner.sign_message(key, message)
    }
    fn signs_bip322(
        &mut self,
        manifest: &Manifest,
        task: &SigningTask<'_>,
    ) -> Result<bool, DeviceError> {
        self.inner.signs_bip322(manifest, task)
    }
    fn sign_psbt(
        &mut self,
        manifest: &Manifest,
        task: &SigningTask<'_>,
        psbt: &mut Psbt,
    ) -> Result<(), DeviceError> {
        self.inner.sign_psbt(manifest, task, psbt)?;
        if task.spec.multisig.is_none() {
            return Ok(());
        }
        let input = &mut psbt.inputs[0];
        let (key, sig) = input.partial_sigs.pop_first().expect("a partial signature");
        let (key, bytes) = match self.how {
            Spoil::OutsideKey => {
                // a device with another seed: its key at the same path, not in the script
                let sk = por_attest::fixtures::secret_at(
                    &por_attest::fixtures::master_key(por_attest::simulator::OTHER_MNEMONIC),
                    &task.path.to_string(),
                );
                let k = bitcoin::PublicKey::new(sk.public_key(por_attest::schemes::secp()));
                (k, sig.to_vec())
            }
            how => (key, spoil(&sig.to_vec(), how)),
        };
        input.partial_sigs.insert(key, raw_sig(&bytes));
        Ok(())
    }
    fn show_account_address(
        &mut self,
        address: &AccountAddressRef<'_>,
    ) -> Result<Option<String>, DeviceError> {
        self.inner.show_account_address(address)
    }
}

/// A PSBT partial signature of `bytes` (a high-S or non-ALL one is carried as it is; bitcoin's
/// type holds only DER, so a non-DER one cannot come from a device: see the journal test).
fn raw_sig(bytes: &[u8]) -> bitcoin::ecdsa::Signature {
    bitcoin::ecdsa::Signature {
        signature: ecdsa::Signature::from_der_lax(&bytes[..bytes.len() - 1])
            .unwrap_or_else(|_| ecdsa::Signature::from_compact(&[0x11; 64]).unwrap()),
        sighash_type: bitcoin::EcdsaSighashType::from_consensus(*bytes.last().unwrap() as u32),
    }
}

#[test]
fn bad_partial_signatures_from_the_device_are_refused_before_journaling() {
    for (how, why) in [
        (Spoil::HighS, "LOW_S"),
        (Spoil::SighashNone, "SIGHASH_ALL"),
        (Spoil::OutsideKey, "no signature by the cosigner's key"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let m = setup(dir.path());
        let (id, words) = DEMO_SIGNERS[1];
        let s = sim(words);
        let mut t = s.transport();
        let mut device = Spoiling {
            inner: LedgerSigner::new(&mut t),
            how,
        };
        let j = journal(dir.path(), id);
        let err = sign_with(&m, &j, &mut device, &opts(id)).unwrap_err();
        assert!(
            matches!(&err, CeremonyError::BadSignature { reason, .. } if reason.contains(why)),
            "{how:?}: {err}"
        );
        let text = std::fs::read_to_string(&j).unwrap_or_default();
        assert!(!text.contains("bip322-partial"), "{how:?}: journaled");
    }
}

/// Rewrites the signature of `signer`'s first bip322-partial journal record.
fn edit_partial(path: &Path, f: impl Fn(&[u8]) -> Vec<u8>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut done = false;
    let lines: Vec<String> = text
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            if !done && v["scheme"] == "bip322-partial" {
                let sig = hex::decode(v["signature"].as_str().unwrap()).unwrap();
                v["signature"] = serde_json::Value::String(hex::encode(f(&sig)));
                done = true;
            }
            serde_json::to_string(&v).unwrap()
        })
        .collect();
    assert!(done);
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

#[test]
fn bad_partial_signatures_in_a_journal_are_refused_at_package_time() {
    let reference = tempfile::tempdir().unwrap();
    let m = setup(reference.path());
    sign_on(reference.path(), &m, &[0, 2]);
    // sim-c's signature in sim-a's record: a key of the script, but not sim-a's
    let c_sig = {
        let text = std::fs::read_to_string(journal(reference.path(), "sim-c")).unwrap();
        let l = text.lines().find(|l| l.contains("bip322-partial")).unwrap();
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        hex::decode(v["signature"].as_str().unwrap()).unwrap()
    };
    for (name, why, f) in [
        (
            "high S",
            "LOW_S",
            Box::new(|s: &[u8]| spoil(s, Spoil::HighS)) as Box<dyn Fn(&[u8]) -> Vec<u8>>,
        ),
        (
            "not DER",
            "strict DER",
            Box::new(|s: &[u8]| spoil(s, Spoil::NotDer)),
        ),
        (
            "SIGHASH_NONE",
            "SIGHASH_ALL",
            Box::new(|s: &[u8]| spoil(s, Spoil::SighashNone)),
        ),
        (
            "another cosigner's signature",
            "does not verify",
            Box::new(move |_: &[u8]| c_sig.clone()),
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        for id in ["sim-a", "sim-c"] {
            std::fs::copy(journal(reference.path(), id), journal(dir.path(), id)).unwrap();
        }
        edit_partial(&journal(dir.path(), "sim-a"), f);
        let err = package(&m, &journals(dir.path()), &PackageOptions::default()).unwrap_err();
        assert!(
            matches!(&err, PackageError::Invalid { reason, .. } if reason.contains(why)),
            "{name}: {err}"
        );
    }
}

#[test]
fn a_snapshot_entry_holding_a_partial_signature_fails_verification() {
    let dir = tempfile::tempdir().unwrap();
    let m = setup(dir.path());
    sign_on(dir.path(), &m, &[0, 1, 2]);
    let packaged = package(&m, &journals(dir.path()), &PackageOptions::default()).unwrap();
    let mut snap = packaged.snapshot;
    let text = std::fs::read_to_string(journal(dir.path(), "sim-a")).unwrap();
    let l = text.lines().find(|l| l.contains("bip322-partial")).unwrap();
    let v: serde_json::Value = serde_json::from_str(l).unwrap();
    let e = snap
        .entries
        .iter_mut()
        .find(|e| e.address == v["address"].as_str().unwrap())
        .unwrap();
    e.signatures[0].scheme = por_attest::chains::Scheme::Bip322Partial.into();
    e.signatures[0].signature = v["signature"].as_str().unwrap().to_string();
    let out = dir.path().join("snapshot.json");
    std::fs::write(&out, snap.to_file_bytes()).unwrap();
    let r = verify_snapshot_file(&out, &VerifyOptions::default()).unwrap();
    assert_eq!(r.failed, 1, "{}", r.to_human());
    assert!(
        r.problems[0].reason.contains("not a proof"),
        "{}",
        r.to_human()
    );
}

/// The demo manifest plus a 2-of-3 (sortedmulti) address of the three demo devices for each
/// of `script_types`, at `0/index`, their cosigner keys below `origin`.
fn setup_with(dir: &Path, rows: &[(ScriptType, &str, u32)]) -> Manifest {
    use bitcoin::bip32::ChildNumber;
    use std::str::FromStr;
    let p = write_manifest(dir, N).unwrap();
    let csv = dir.join("addresses.csv");
    let mut text = std::fs::read_to_string(&csv).unwrap();
    let secp = por_attest::schemes::secp();
    for (st, origin, index) in rows {
        let path = DerivationPath::from_str(origin).unwrap();
        let xpubs: Vec<(&str, Xpub)> = DEMO_SIGNERS
            .iter()
            .map(|(id, words)| {
                let m = por_attest::fixtures::master_key(words);
                (
                    *id,
                    Xpub::from_priv(secp, &m.derive_priv(secp, &path).unwrap()),
                )
            })
            .collect();
        let mut keys: Vec<bitcoin::PublicKey> = xpubs
            .iter()
            .map(|(_, x)| {
                let child = [ChildNumber::from(0), ChildNumber::from(*index)];
                bitcoin::PublicKey::new(x.derive_pub(secp, &child).unwrap().public_key)
            })
            .collect();
        keys.sort_by_key(|k| k.to_bytes());
        let script = por_attest::schemes::multisig_script(2, &keys).unwrap();
        let address =
            por_attest::schemes::multisig_address(*st, &script, bitcoin::Network::Bitcoin).unwrap();
        let cos: Vec<String> = xpubs
            .iter()
            .map(|(id, x)| format!("{id}:{origin}:{x}"))
            .collect();
        text.push_str(&format!(
            "BTC,mainnet,{address},{},,,cold,,2,true,0/{index},{}\n",
            st.as_str(),
            cos.join(";")
        ));
    }
    std::fs::write(&csv, text).unwrap();
    Manifest::load(p).unwrap()
}

#[test]
fn p2sh_and_p2sh_p2wsh_multisig_are_proven_as_bip322_full() {
    let dir = tempfile::tempdir().unwrap();
    let m = setup_with(
        dir.path(),
        &[
            (ScriptType::P2shP2wsh, "m/48'/0'/0'/1'", 0),
            (ScriptType::P2sh, "m/45'/0'/0'", 0),
        ],
    );
    sign_on(dir.path(), &m, &[0, 2]);
    let packaged = package(&m, &journals(dir.path()), &PackageOptions::default()).unwrap();
    let out = dir.path().join("snapshot.json");
    std::fs::write(&out, packaged.snapshot.to_file_bytes()).unwrap();
    let r = verify_snapshot_file(&out, &VerifyOptions::default()).unwrap();
    assert_eq!(r.exit_code(), 0, "{}", r.to_human());
    for st in [ScriptType::P2shP2wsh, ScriptType::P2sh] {
        let e = packaged
            .snapshot
            .entries
            .iter()
            .find(|e| e.script_type == Some(st))
            .unwrap();
        assert_eq!(e.signatures.len(), 1, "{st}");
        assert_eq!(e.signatures[0].scheme.as_str(), "bip322-full", "{st}");
        assert!(e.signatures[0].signature.starts_with("ful"));
    }
}
