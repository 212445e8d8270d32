//! `por-attest demo`: a whole ceremony on simulated Ledgers. Writes a test manifest for N
//! addresses (BTC P2PKH, P2SH-P2WPKH, P2WPKH, a P2WSH 2-of-3 multisig over three simulated
//! devices with different seeds, Ethereum, an L2 and TRON), signs on each simulated device,
//! packages the snapshot, verifies it, and reports. With `--accounts K` the N addresses are
//! spread over K accounts instead ([`ACCOUNT_KINDS`] in turn), each signed once per device.

use crate::ceremony::{sign, SignOptions, SignSummary};
use crate::fixtures::master_key;
use crate::manifest::Manifest;
use crate::package::{package, PackageOptions};
use crate::report::Report;
use crate::schemes::evm::{evm_address_of, to_checksum_address};
use crate::schemes::multisig::multisig_script;
use crate::schemes::secp;
use crate::schemes::tron::tron_address_of;
use crate::simulator::{SimulatedLedger, SimulatorConfig, SPECULOS_MNEMONIC};
use crate::verify::{verify_snapshot_file, VerifyOptions};
use bitcoin::bip32::{ChildNumber, DerivationPath, Xpub};
use bitcoin::key::CompressedPublicKey;
use bitcoin::{Address, Network};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

/// The three simulated devices: id and seed.
pub const DEMO_SIGNERS: [(&str, &str); 3] = [
    ("sim-a", SPECULOS_MNEMONIC),
    (
        "sim-b",
        "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
    ),
    (
        "sim-c",
        "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo wrong",
    ),
];

/// The kinds of account the demo makes, in turn: chain, script type (Bitcoin), the account
/// key's path with `{j}` for the account number of its kind, and whether it is the 2-of-3
/// wallet of the three simulated devices.
pub const ACCOUNT_KINDS: [(&str, Option<&str>, &str); 9] = [
    ("BTC", Some("p2wpkh"), "m/84'/0'/{j}'"),
    ("ETH", None, "m/44'/60'/{j}'/0"),
    ("BTC", Some("p2wsh"), "m/48'/0'/{j}'/2'"),
    ("TRX", None, "m/44'/195'/{j}'/0"),
    ("BTC", Some("p2tr"), "m/86'/0'/{j}'"),
    ("BTC", Some("p2sh-p2wpkh"), "m/49'/0'/{j}'"),
    ("BTC", Some("p2pkh"), "m/44'/0'/{j}'"),
    ("BTC", Some("p2sh-p2wsh"), "m/48'/0'/{j}'/1'"),
    ("BTC", Some("p2sh"), "m/45'/0'/{j}'"),
];

/// What the demo did.
#[derive(Debug)]
pub struct DemoOutcome {
    pub manifest: PathBuf,
    pub snapshot: PathBuf,
    pub digest: String,
    pub summaries: Vec<SignSummary>,
    pub signatures: usize,
    pub sign_time: Duration,
    pub report: Report,
    /// Times the simulated devices waited for a person, all devices together.
    pub confirmations: u64,
}

fn account_xpub(mnemonic: &str, path: &str) -> (Xpub, bitcoin::bip32::Fingerprint) {
    let master = master_key(mnemonic);
    let p = DerivationPath::from_str(path).expect("valid path");
    let xpriv = master.derive_priv(secp(), &p).expect("derive");
    (Xpub::from_priv(secp(), &xpriv), master.fingerprint(secp()))
}

fn child(xpub: &Xpub, change: u32, index: u32) -> bitcoin::secp256k1::PublicKey {
    xpub.derive_pub(
        secp(),
        &[
            ChildNumber::from_normal_idx(change).expect("normal"),
            ChildNumber::from_normal_idx(index).expect("normal"),
        ],
    )
    .expect("derive")
    .public_key
}

/// Writes the demo manifest (TOML + CSV of addresses) for `n` addresses into `dir`.
pub fn write_manifest(dir: &Path, n: usize) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let net = Network::Bitcoin;
    let a = DEMO_SIGNERS[0].1;
    let (pkh, fa) = account_xpub(a, "m/44'/0'/0'");
    let (shw, _) = account_xpub(a, "m/49'/0'/0'");
    let (wpkh, _) = account_xpub(a, "m/84'/0'/0'");
    let (eth, _) = account_xpub(a, "m/44'/60'/0'");
    let (trx, _) = account_xpub(a, "m/44'/195'/0'");
    let cosigners: Vec<(&str, Xpub, bitcoin::bip32::Fingerprint)> = DEMO_SIGNERS
        .iter()
        .map(|(id, m)| {
            let (x, f) = account_xpub(m, "m/48'/0'/0'/2'");
            (*id, x, f)
        })
        .collect();

    let mut toml = String::new();
    let _ = writeln!(
        toml,
        "# Demo manifest written by `por-attest demo`: simulated devices, test seeds.\n\
         entity = \"Demo Exchange\"\nsnapshot_id = \"demo-2026-11\"\ntest = true\n\
         created_at = \"2026-11-28T00:00:00Z\"\naddresses_csv = \"addresses.csv\"\n"
    );
    for (chain, height, hash) in crate::fixtures::EXAMPLE_ANCHORS {
        let _ = writeln!(
            toml,
            "[anchors.{chain}]\nheight = {height}\nblock_hash = \"{hash}\"\n"
        );
    }
    let _ = writeln!(
        toml,
        "[[signers]]\nid = \"sim-a\"\nkind = \"simulator\"\nfingerprint = \"{fa}\"\n"
    );
    for (id, _, f) in &cosigners[1..] {
        let _ = writeln!(
            toml,
            "[[signers]]\nid = \"{id}\"\nkind = \"simulator\"\nfingerprint = \"{f}\"\n"
        );
    }

    let mut csv = String::from(
        "chain,network,address,script_type,path,signer,wallet,balance,threshold,sorted,child,cosigners\n",
    );
    for i in 0..n {
        let k = (i / 6) as u32;
        let wallet = if k.is_multiple_of(4) { "hot" } else { "cold" };
        let row = match i % 6 {
            0 => {
                let pk = CompressedPublicKey(child(&pkh, 0, k));
                format!(
                    "BTC,mainnet,{},p2pkh,m/44'/0'/0'/0/{k},sim-a,{wallet},,,,,",
                    Address::p2pkh(pk, net)
                )
            }
            1 => {
                let pk = CompressedPublicKey(child(&shw, 0, k));
                format!(
                    "BTC,mainnet,{},p2sh-p2wpkh,m/49'/0'/0'/0/{k},sim-a,{wallet},,,,,",
                    Address::p2shwpkh(&pk, net)
                )
            }
            2 => {
                let pk = CompressedPublicKey(child(&wpkh, 0, k));
                format!(
                    "BTC,mainnet,{},p2wpkh,m/84'/0'/0'/0/{k},sim-a,{wallet},,,,,",
                    Address::p2wpkh(&pk, net)
                )
            }
            3 => {
                let mut keys: Vec<bitcoin::PublicKey> = cosigners
                    .iter()
                    .map(|(_, x, _)| bitcoin::PublicKey::new(child(x, 0, k)))
                    .collect();
                keys.sort_by_key(|p| p.inner.serialize());
                let script = multisig_script(2, &keys).expect("2-of-3");
                let address = Address::p2wsh(bitcoin::Script::from_bytes(&script), net);
                let cos: Vec<String> = cosigners
                    .iter()
                    .map(|(id, x, _)| format!("{id}:m/48'/0'/0'/2':{x}"))
                    .collect();
                format!(
                    "BTC,mainnet,{address},p2wsh,,,cold,,2,true,0/{k},{}",
                    cos.join(";")
                )
            }
            // The sixth slot alternates between the L2 and TRON.
            5 if k % 2 == 1 => {
                let addr = tron_address_of(&child(&trx, 0, k));
                format!("TRX,mainnet,{addr},,m/44'/195'/0'/0/{k},sim-a,{wallet},,,,,")
            }
            4 | 5 => {
                let chain = if i % 6 == 4 { "ETH" } else { "ARB" };
                let addr = to_checksum_address(&evm_address_of(&child(&eth, 0, k)));
                format!("{chain},mainnet,{addr},,m/44'/60'/0'/0/{k},sim-a,{wallet},,,,,")
            }
            _ => unreachable!(),
        };
        csv.push_str(&row);
        csv.push('\n');
    }
    let manifest = dir.join("manifest.toml");
    std::fs::write(&manifest, toml)?;
    std::fs::write(dir.join("addresses.csv"), csv)?;
    Ok(manifest)
}

/// The account template of the demo's account manifests (and the hardware tests'): the
/// default with `{height}` for `{anchor}`, so that a TRON account's message (its 111-character
/// xpub) fits the one APDU the Tron app up to 0.7.1 signs correctly (229 bytes at
/// `m/44'/195'/0'/0`; the default template's message is about 256 bytes there).
pub const ACCOUNT_TEMPLATE: &str =
    "{entity} proof of reserves {snapshot}: I control {chain} account {account} at {height}";

/// Writes the demo manifest of `n` addresses in `k` accounts ([`ACCOUNT_KINDS`] in turn, the
/// addresses shared as evenly as they go) into `dir`.
pub fn write_account_manifest(dir: &Path, n: usize, k: usize) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let fingerprints: Vec<String> = DEMO_SIGNERS
        .iter()
        .map(|(_, m)| master_key(m).fingerprint(secp()).to_string())
        .collect();
    let mut toml = String::new();
    let _ = writeln!(
        toml,
        "# Demo manifest written by `por-attest demo --accounts`: simulated devices, test seeds.\n\
         entity = \"Demo Exchange\"\nsnapshot_id = \"demo-2026-11\"\ntest = true\n\
         created_at = \"2026-11-28T00:00:00Z\"\n\
         # The TRON account's message must fit one APDU of the Tron app (see ACCOUNT_TEMPLATE).\n\
         account_template = \"{ACCOUNT_TEMPLATE}\"\n"
    );
    for (chain, height, hash) in crate::fixtures::EXAMPLE_ANCHORS {
        let _ = writeln!(
            toml,
            "[anchors.{chain}]\nheight = {height}\nblock_hash = \"{hash}\"\n"
        );
    }
    for ((id, _), f) in DEMO_SIGNERS.iter().zip(&fingerprints) {
        let _ = writeln!(
            toml,
            "[[signers]]\nid = \"{id}\"\nkind = \"simulator\"\nfingerprint = \"{f}\"\n"
        );
    }
    let mut used = [0usize; ACCOUNT_KINDS.len()];
    for a in 0..k {
        let kind = a % ACCOUNT_KINDS.len();
        let (chain, script_type, path) = ACCOUNT_KINDS[kind];
        let j = used[kind];
        used[kind] += 1;
        let path = path.replace("{j}", &j.to_string());
        let m = n / k + usize::from(a < n % k);
        let _ = writeln!(toml, "[[accounts]]\nchain = \"{chain}\"\nwallet = \"cold\"");
        if let Some(st) = script_type {
            let _ = writeln!(toml, "script_type = \"{st}\"");
        }
        let range = if chain == "BTC" {
            format!("0/0-{}", m.saturating_sub(1))
        } else {
            format!("0-{}", m.saturating_sub(1))
        };
        let _ = writeln!(toml, "ranges = [\"{range}\"]");
        if matches!(script_type, Some("p2wsh" | "p2sh-p2wsh" | "p2sh")) {
            let _ = writeln!(toml, "threshold = 2\nsorted = true");
            for (id, mnemonic) in DEMO_SIGNERS {
                let (x, _) = account_xpub(mnemonic, &path);
                let _ = writeln!(
                    toml,
                    "[[accounts.cosigners]]\nsigner = \"{id}\"\npath = \"{path}\"\nxpub = \"{x}\""
                );
            }
        } else {
            let (x, _) = account_xpub(DEMO_SIGNERS[0].1, &path);
            let _ = writeln!(
                toml,
                "signer = \"sim-a\"\npath = \"{path}\"\nxpub = \"{x}\""
            );
        }
        let _ = writeln!(toml);
    }
    let manifest = dir.join("manifest.toml");
    std::fs::write(&manifest, toml)?;
    Ok(manifest)
}

/// Why the demo stopped: each step's error, with the file or simulated signer it concerns.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// A file of the demo (its manifest, CSV or snapshot) could not be written.
    #[error("{}: {source}", path.display())]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file it wrote does not read back: the manifest does not load, or the snapshot cannot
    /// be verified (the error names the file).
    #[error(transparent)]
    Input(#[from] crate::error::InputError),
    /// A simulated signer could not be made.
    #[error("simulator {id}: {source}")]
    Simulator {
        /// The signer id.
        id: &'static str,
        /// Why.
        source: crate::simulator::SimulatorError,
    },
    /// The ceremony stopped on a simulated signer.
    #[error("signing on {id}: {source}")]
    Sign {
        /// The signer id.
        id: &'static str,
        /// Why.
        source: Box<crate::ceremony::CeremonyError>,
    },
    /// Packaging the journals failed.
    #[error("packaging: {0}")]
    Package(#[from] crate::package::PackageError),
}

/// Runs the whole demo in `dir`.
pub fn run_demo(dir: &Path, n: usize, progress: bool) -> Result<DemoOutcome, DemoError> {
    run_demo_with(dir, n, None, progress)
}

/// Runs the whole demo in `dir`: `n` addresses one by one, or in `accounts` accounts.
pub fn run_demo_with(
    dir: &Path,
    n: usize,
    accounts: Option<usize>,
    progress: bool,
) -> Result<DemoOutcome, DemoError> {
    let written = match accounts.filter(|k| *k > 0) {
        Some(k) => write_account_manifest(dir, n, k),
        None => write_manifest(dir, n),
    };
    let manifest_path = written.map_err(|source| DemoError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let manifest = Manifest::load(&manifest_path)?;
    let mut summaries = Vec::new();
    let mut journals = Vec::new();
    let started = Instant::now();
    for (id, mnemonic) in DEMO_SIGNERS {
        let journal = dir.join(format!("journal-{id}.jsonl"));
        let sim = SimulatedLedger::new(SimulatorConfig::with_mnemonic(mnemonic))
            .map_err(|source| DemoError::Simulator { id, source })?;
        let mut transport = sim.transport();
        let opts = SignOptions {
            signer: Some(id.to_string()),
            progress,
            device_is_simulator: true,
            ..SignOptions::default()
        };
        let s =
            sign(&manifest, &journal, &mut transport, &opts).map_err(|source| DemoError::Sign {
                id,
                source: Box::new(source),
            })?;
        summaries.push(s);
        journals.push(journal);
    }
    let sign_time = started.elapsed();
    let packaged = package(&manifest, &journals, &PackageOptions::default())?;
    let snapshot = dir.join("snapshot.json");
    std::fs::write(&snapshot, packaged.snapshot.to_file_bytes()).map_err(|source| {
        DemoError::Write {
            path: snapshot.clone(),
            source,
        }
    })?;
    let digest = crate::snapshot::format_digest(&packaged.snapshot.digest());
    let report = verify_snapshot_file(&snapshot, &VerifyOptions::default())?;
    Ok(DemoOutcome {
        manifest: manifest_path,
        snapshot,
        digest,
        signatures: summaries.iter().map(|s| s.signed_now).sum(),
        confirmations: summaries.iter().map(|s| s.confirmations).sum(),
        summaries,
        sign_time,
        report,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_that_cannot_be_written_is_named_in_the_error() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("not-a-folder");
        std::fs::write(&file, b"x").unwrap();
        let err = run_demo(&file, 2, false).unwrap_err();
        assert!(
            matches!(&err, DemoError::Write { path, .. } if *path == file),
            "{err:?}"
        );
        assert!(
            err.to_string().starts_with(&file.display().to_string()),
            "{err}"
        );
    }
}
