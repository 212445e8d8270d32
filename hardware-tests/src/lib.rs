//! Helpers for the tests in `tests/`, which run the ceremony against the device named by the
//! environment variable `POR_ATTEST_DEVICE` (`hid`, `hid:SERIAL_OR_PATH`,
//! `tcp:127.0.0.1:9999` for Speculos or `por-attest simulator`, or `sim`). Without it, each
//! test says why it skipped and passes. `POR_ATTEST_APPS` (comma-separated: `bitcoin`,
//! `ethereum`, `tron`; default all three) selects the app tests, since Speculos runs one app
//! at a time.
//!
//! The device's seed is unknown in general, so each test builds its manifest from the device
//! itself: the master fingerprint, and addresses the device derives (without showing them)
//! at standard paths. See README.md for running against Speculos and real devices.

use bitcoin::bip32::{DerivationPath, Fingerprint};
use por_attest::ceremony::{sign, CeremonyError, SignOptions, SignSummary};
use por_attest::chains::ScriptType;
use por_attest::demo::ACCOUNT_TEMPLATE;
use por_attest::device::{connect_with, DeviceSpec};
use por_attest::manifest::Manifest;
use por_attest::package::{package, PackageOptions};
use por_attest::signers::dashboard::app_and_version;
use por_attest::signers::{ensure_app, AppKind, BitcoinApp, DeviceError, EthereumApp, TronApp};
use por_attest::transport::Exchange;
use por_attest::verify::{verify_snapshot_file, VerifyOptions};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// The environment variable naming the device.
pub const DEVICE_VAR: &str = "POR_ATTEST_DEVICE";
/// The environment variable selecting the apps to test (`bitcoin`, `ethereum`, `tron`).
pub const APPS_VAR: &str = "POR_ATTEST_APPS";
/// The environment variable with the per-exchange timeout in seconds (default 300).
pub const TIMEOUT_VAR: &str = "POR_ATTEST_TIMEOUT_SECS";
/// Addresses per script type in a test manifest.
pub const PER_TYPE: u32 = 2;
/// The signer id of the device in test manifests.
pub const SIGNER: &str = "device";

static DEVICE: Mutex<()> = Mutex::new(());

/// Prints a line on stderr even while the test harness captures output, so that a skipped
/// test is visible in `cargo test`.
pub fn say(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// A test's hold on the device: tests take turns (Speculos and a USB device serve one client
/// at a time).
pub struct DeviceUnderTest {
    /// The device named by `POR_ATTEST_DEVICE`.
    pub spec: DeviceSpec,
    _turn: MutexGuard<'static, ()>,
}

impl DeviceUnderTest {
    /// Opens a connection to the device (the per-exchange timeout from
    /// `POR_ATTEST_TIMEOUT_SECS`, default 300 s: a person may be confirming on the device).
    pub fn connect(&self) -> Box<dyn Exchange + Send> {
        let secs = std::env::var(TIMEOUT_VAR)
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(300);
        connect_with(&self.spec, Duration::from_secs(secs))
            .unwrap_or_else(|e| panic!("{DEVICE_VAR}={}: {e}", self.spec))
    }
}

/// The device to test `app` on, or `None` (after saying why the test `test` is skipped).
pub fn device_for(test: &str, app: Option<AppKind>) -> Option<DeviceUnderTest> {
    let value = match std::env::var(DEVICE_VAR) {
        Ok(v) if !v.trim().is_empty() => v,
        _ => {
            say(&format!(
                "skipped {test}: {DEVICE_VAR} not set (set it to hid, hid:SERIAL_OR_PATH or tcp:127.0.0.1:9999; see hardware-tests/README.md)"
            ));
            return None;
        }
    };
    let spec: DeviceSpec = value
        .parse()
        .unwrap_or_else(|e| panic!("{DEVICE_VAR}={value}: {e}"));
    if let Some(app) = app {
        if !app_selected(app) {
            say(&format!(
                "skipped {test}: {APPS_VAR}={} does not include {}",
                std::env::var(APPS_VAR).unwrap_or_default(),
                app.name().to_ascii_lowercase()
            ));
            return None;
        }
    }
    let turn = DEVICE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    Some(DeviceUnderTest { spec, _turn: turn })
}

/// True when `POR_ATTEST_APPS` is unset or lists `app`.
pub fn app_selected(app: AppKind) -> bool {
    match std::env::var(APPS_VAR) {
        Ok(list) if !list.trim().is_empty() => list
            .split(',')
            .any(|a| a.trim().eq_ignore_ascii_case(app.name())),
        _ => true,
    }
}

/// What the test manifest needs to know about the device's Bitcoin app.
#[derive(Debug, Clone)]
pub struct BitcoinAccount {
    /// The master fingerprint.
    pub fingerprint: Fingerprint,
    /// `mainnet`, or `testnet` when the app is `Bitcoin Test`.
    pub network: &'static str,
    /// The BIP-44 coin type: 0 on mainnet, 1 on test networks.
    pub coin: u32,
    /// The app's version as it reports it (apps before 2.1.0 take version-1 wallet policies).
    pub app_version: String,
}

/// Opens the Bitcoin app and reads the fingerprint and network.
pub fn bitcoin_account(t: &mut dyn Exchange) -> BitcoinAccount {
    ensure_app(t, AppKind::Bitcoin).unwrap_or_else(|e| panic!("opening the Bitcoin app: {e}"));
    let app = app_and_version(t).expect("app name");
    let fingerprint = BitcoinApp::for_app_version(&mut *t, &app.version)
        .master_fingerprint()
        .unwrap_or_else(|e| panic!("reading the master fingerprint: {e}"));
    let test = app.name == "Bitcoin Test";
    BitcoinAccount {
        fingerprint,
        network: if test { "testnet" } else { "mainnet" },
        coin: if test { 1 } else { 0 },
        app_version: app.version,
    }
}

fn purpose(st: ScriptType) -> u32 {
    match st {
        ScriptType::P2pkh => 44,
        ScriptType::P2shP2wpkh => 49,
        ScriptType::P2wpkh => 84,
        ScriptType::P2tr => 86,
        other => panic!("{other} is not a single-signature type these tests cover"),
    }
}

fn script_name(st: ScriptType) -> &'static str {
    match st {
        ScriptType::P2pkh => "p2pkh",
        ScriptType::P2shP2wpkh => "p2sh-p2wpkh",
        ScriptType::P2wpkh => "p2wpkh",
        ScriptType::P2tr => "p2tr",
        other => panic!("{other} is not a single-signature type these tests cover"),
    }
}

/// The manifest's header: entity, snapshot, `test` (true only for the in-process simulator),
/// the account template (one whose TRON message fits the Tron app's one APDU), anchors, and
/// the device as a `ledger` signer.
fn header(spec: &DeviceSpec, fingerprint: Option<Fingerprint>) -> String {
    let mut toml = String::new();
    let _ = write!(
        toml,
        "# Written by por-attest's hardware-tests from the device {spec}.\n\
         entity = \"Hardware Test\"\nsnapshot_id = \"hw-test-2026-11\"\ntest = {}\n\
         created_at = \"2026-11-28T00:00:00Z\"\n\
         account_template = \"{ACCOUNT_TEMPLATE}\"\n\n\
         [anchors.BTC]\nheight = 925000\nblock_hash = \"00000000000000000001c5f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6e5f\"\n\n\
         [anchors.ETH]\nheight = 23800000\nblock_hash = \"0x9a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9\"\n\n\
         [anchors.TRX]\nheight = 77500000\nblock_hash = \"00000000049e8e60c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0\"\n\n\
         [[signers]]\nid = \"{SIGNER}\"\nkind = \"ledger\"\n",
        spec.is_simulator()
    );
    if let Some(f) = fingerprint {
        let _ = writeln!(toml, "fingerprint = \"{f}\"");
    }
    toml
}

/// A manifest of `PER_TYPE` addresses of each of `types`, derived by the device (not shown)
/// at `m/purpose'/coin'/0'/0/i`. `fingerprint` overrides the one written in the manifest.
pub fn bitcoin_manifest(
    t: &mut dyn Exchange,
    spec: &DeviceSpec,
    types: &[ScriptType],
    fingerprint: Option<Fingerprint>,
) -> String {
    let acct = bitcoin_account(t);
    let mut toml = header(spec, Some(fingerprint.unwrap_or(acct.fingerprint)));
    // Spelled for the app's version, as the ceremony does (the public Speculos build is 2.0.6).
    let mut app = BitcoinApp::for_app_version(&mut *t, &acct.app_version);
    for &st in types {
        for i in 0..PER_TYPE {
            let path = format!("m/{}'/{}'/0'/0/{i}", purpose(st), acct.coin);
            let dp = DerivationPath::from_str(&path).expect("valid path");
            let address = app
                .single_sig_address(acct.fingerprint, st, &dp, false)
                .unwrap_or_else(|e| panic!("deriving the {st} address at {path}: {e}"));
            let _ = write!(
                toml,
                "\n[[addresses]]\nchain = \"BTC\"\nnetwork = \"{}\"\naddress = \"{address}\"\nscript_type = \"{}\"\npath = \"{path}\"\nsigner = \"{SIGNER}\"\n",
                acct.network,
                script_name(st)
            );
        }
    }
    toml
}

/// `PER_TYPE` account addresses of `chain` at `m/44'/coin'/0'/0/i`, as manifest entries;
/// `derive` asks the device for the address at a path. `path_offset` shifts the derivation
/// index of the addresses written (while keeping the path), to make a manifest the device
/// must refuse.
fn account_entries(
    chain: &str,
    coin: u32,
    path_offset: u32,
    mut derive: impl FnMut(&DerivationPath) -> Result<String, DeviceError>,
) -> String {
    let mut toml = String::new();
    for i in 0..PER_TYPE {
        let path = format!("m/44'/{coin}'/0'/0/{i}");
        let derive_at = format!("m/44'/{coin}'/0'/0/{}", i + path_offset);
        let dp = DerivationPath::from_str(&derive_at).expect("valid path");
        let address = derive(&dp)
            .unwrap_or_else(|e| panic!("deriving the {chain} address at {derive_at}: {e}"));
        let _ = write!(
            toml,
            "\n[[addresses]]\nchain = \"{chain}\"\nnetwork = \"mainnet\"\naddress = \"{address}\"\npath = \"{path}\"\nsigner = \"{SIGNER}\"\n"
        );
    }
    toml
}

/// A manifest of `PER_TYPE` Ethereum addresses derived by the device (not shown) at
/// `m/44'/60'/0'/0/i` (see [`account_entries`] for `path_offset`).
pub fn ethereum_manifest(t: &mut dyn Exchange, spec: &DeviceSpec, path_offset: u32) -> String {
    ensure_app(t, AppKind::Ethereum).unwrap_or_else(|e| panic!("opening the Ethereum app: {e}"));
    let mut app = EthereumApp::new(&mut *t);
    header(spec, None) + &account_entries("ETH", 60, path_offset, |p| app.address(p, false))
}

/// A manifest of `PER_TYPE` TRON addresses derived by the device (not shown) at
/// `m/44'/195'/0'/0/i` (see [`account_entries`] for `path_offset`). A device without the
/// TRON app stops here with what to do.
pub fn tron_manifest(t: &mut dyn Exchange, spec: &DeviceSpec, path_offset: u32) -> String {
    if let Err(e) = ensure_app(t, AppKind::Tron) {
        panic!(
            "opening the Tron app: {e}\nInstall the Tron app (Ledger Live, My Ledger), or leave \
             `tron` out of {APPS_VAR} (e.g. {APPS_VAR}=bitcoin,ethereum) to skip the TRON tests."
        );
    }
    let mut app = TronApp::new(&mut *t);
    header(spec, None) + &account_entries("TRX", 195, path_offset, |p| app.address(p, false))
}

/// Writes `toml` as `dir/manifest.toml` and loads it.
pub fn write_manifest(dir: &Path, toml: &str) -> Manifest {
    let path = dir.join("manifest.toml");
    std::fs::write(&path, toml).expect("write the manifest");
    Manifest::load(&path).unwrap_or_else(|e| panic!("the test manifest is invalid: {e}\n{toml}"))
}

/// Runs `por-attest sign` for the device's signer.
pub fn sign_on(
    m: &Manifest,
    journal: &Path,
    t: &mut dyn Exchange,
    spec: &DeviceSpec,
) -> Result<SignSummary, CeremonyError> {
    let opts = SignOptions {
        signer: Some(SIGNER.into()),
        device_is_simulator: spec.is_simulator(),
        resume_command: Some(format!(
            "POR_ATTEST_DEVICE={spec} cargo test -p hardware-tests"
        )),
        ..SignOptions::default()
    };
    sign(m, journal, t, &opts)
}

/// The whole ceremony: sign every address on the device, package, verify (exit 0 required).
/// Returns the snapshot path.
pub fn ceremony(dir: &Path, m: &Manifest, t: &mut dyn Exchange, spec: &DeviceSpec) -> PathBuf {
    let journal = dir.join("journal-device.jsonl");
    let s = sign_on(m, &journal, t, spec).unwrap_or_else(|e| panic!("signing failed: {e}"));
    assert_eq!(s.signed_now, s.tasks, "every address signed: {s:?}");
    assert_eq!(s.rejected, 0, "{s:?}");
    assert!(s.unsupported.is_empty(), "{s:?}");
    assert_eq!(s.tasks, m.addresses.len(), "{s:?}");
    let (snapshot, _) = package_and_verify(dir, m, journal);
    say(&format!(
        "  {} address(es) signed on {spec}, packaged and verified",
        s.signed_now
    ));
    snapshot
}

/// Addresses listed per test account (derived by the device, not shown), beside a range of
/// two change addresses that the ceremony derives from the exported key.
pub const PER_ACCOUNT: u32 = 4;

/// How many addresses of each account the device shows in the account tests.
pub const SHOWN_PER_ACCOUNT: usize = 2;

/// A manifest of one account per app in `apps` (Bitcoin: a P2WPKH and a P2TR account at
/// `m/84'|86'/coin'/0'`; Ethereum `m/44'/60'/0'/0`; TRON `m/44'/195'/0'/0`), each listing
/// [`PER_ACCOUNT`] addresses the device derives without showing them. The account keys are not
/// in the manifest: the ceremony exports them from the device and compares every address.
pub fn account_manifest(t: &mut dyn Exchange, spec: &DeviceSpec, app: AppKind) -> String {
    let list = |toml: &mut String, paths: &[String], addresses: &[String]| {
        for (p, a) in paths.iter().zip(addresses) {
            let _ = write!(
                toml,
                "[[accounts.addresses]]\npath = \"{p}\"\naddress = \"{a}\"\n"
            );
        }
    };
    match app {
        AppKind::Bitcoin => {
            let acct = bitcoin_account(t);
            let mut toml = header(spec, Some(acct.fingerprint));
            let mut app = BitcoinApp::for_app_version(&mut *t, &acct.app_version);
            for st in [ScriptType::P2wpkh, ScriptType::P2tr] {
                let account = format!("m/{}'/{}'/0'", purpose(st), acct.coin);
                let _ = write!(
                    toml,
                    "\n[[accounts]]\nchain = \"BTC\"\nnetwork = \"{}\"\nscript_type = \"{}\"\nsigner = \"{SIGNER}\"\npath = \"{account}\"\nranges = [\"1/0-1\"]\n",
                    acct.network,
                    script_name(st)
                );
                let paths: Vec<String> = (0..PER_ACCOUNT).map(|i| format!("0/{i}")).collect();
                let addresses: Vec<String> = paths
                    .iter()
                    .map(|p| {
                        let full = DerivationPath::from_str(&format!("{account}/{p}")).unwrap();
                        app.single_sig_address(acct.fingerprint, st, &full, false)
                            .unwrap_or_else(|e| panic!("deriving the {st} address at {full}: {e}"))
                    })
                    .collect();
                list(&mut toml, &paths, &addresses);
            }
            toml
        }
        AppKind::Ethereum | AppKind::Tron => {
            let (chain, coin) = if app == AppKind::Ethereum {
                ("ETH", 60)
            } else {
                ("TRX", 195)
            };
            let account = format!("m/44'/{coin}'/0'/0");
            let mut toml = header(spec, None);
            let _ = write!(
                toml,
                "\n[[accounts]]\nchain = \"{chain}\"\nsigner = \"{SIGNER}\"\npath = \"{account}\"\nranges = [\"{PER_ACCOUNT}-{}\"]\n",
                PER_ACCOUNT + 1
            );
            ensure_app(t, app).unwrap_or_else(|e| panic!("opening the {} app: {e}", app.name()));
            let paths: Vec<String> = (0..PER_ACCOUNT).map(|i| i.to_string()).collect();
            let addresses: Vec<String> = paths
                .iter()
                .map(|p| {
                    let full = DerivationPath::from_str(&format!("{account}/{p}")).unwrap();
                    let r = if app == AppKind::Ethereum {
                        EthereumApp::new(&mut *t).address(&full, false)
                    } else {
                        TronApp::new(&mut *t).address(&full, false)
                    };
                    r.unwrap_or_else(|e| panic!("deriving the {chain} address at {full}: {e}"))
                })
                .collect();
            list(&mut toml, &paths, &addresses);
            toml
        }
    }
}

/// The account ceremony: the device exports each account key, every address is compared on
/// the host, [`SHOWN_PER_ACCOUNT`] are shown, one message signed per account; packaged and
/// verified (exit 0 required). The device asks for exactly one confirmation per shown address
/// and one per account message.
pub fn account_ceremony(
    dir: &Path,
    m: &Manifest,
    t: &mut dyn Exchange,
    spec: &DeviceSpec,
) -> PathBuf {
    let journal = dir.join("journal-device.jsonl");
    let opts = SignOptions {
        signer: Some(SIGNER.into()),
        device_is_simulator: spec.is_simulator(),
        show_addresses: Some(SHOWN_PER_ACCOUNT),
        ..SignOptions::default()
    };
    let s = sign(m, &journal, t, &opts).unwrap_or_else(|e| panic!("signing failed: {e}"));
    assert_eq!(
        (s.signed_now, s.accounts),
        (m.accounts.len(), m.accounts.len()),
        "{s:?}"
    );
    assert_eq!(
        s.confirmations,
        m.accounts.len() as u64 * (SHOWN_PER_ACCOUNT as u64 + 1),
        "{s:?}"
    );
    let (snapshot, report) = package_and_verify(dir, m, journal);
    let addresses: usize = m.accounts.iter().map(|a| a.addresses.len()).sum();
    assert_eq!(report.addresses, addresses as u64);
    say(&format!(
        "  {} account(s) of {addresses} addresses signed on {spec} with {} confirmations, packaged and verified",
        s.signed_now, s.confirmations
    ));
    snapshot
}

/// Packages the journal into `dir/snapshot.json` and verifies it (exit 0 required).
pub fn package_and_verify(
    dir: &Path,
    m: &Manifest,
    journal: PathBuf,
) -> (PathBuf, por_attest::report::Report) {
    let packaged = package(m, &[journal], &PackageOptions::default())
        .unwrap_or_else(|e| panic!("packaging failed: {e}"));
    let snapshot = dir.join("snapshot.json");
    std::fs::write(&snapshot, packaged.snapshot.to_file_bytes()).expect("write the snapshot");
    let report = verify_snapshot_file(&snapshot, &VerifyOptions::default())
        .unwrap_or_else(|e| panic!("verify: {e}"));
    assert_eq!(
        report.exit_code(),
        0,
        "the snapshot verifies:\n{}",
        report.to_human()
    );
    (snapshot, report)
}
