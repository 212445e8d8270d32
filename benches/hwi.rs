//! `cargo bench --bench hwi`: what HWI's start-up costs the `hwi` signer.
//!
//! In one run, against the simulated Ledger served over TCP in this process (Bitcoin app
//! open, every prompt approved at once, so the figures are HWI's and ours, not a person's):
//! 1. times `hwi --version` (HWI's bare start-up: interpreter and imports);
//! 2. runs the ceremony of 100 Bitcoin addresses (P2PKH, P2SH-P2WPKH, P2WPKH, 2-of-3 P2WSH
//!    shares, P2TR) and of an accounts manifest (7 Bitcoin accounts of 100 addresses each, 3
//!    shown per account) with HWI run one process per call, then one hwilib process for the
//!    run, and prints wall time, HWI calls and seconds per call of each;
//! 3. prints as its last line `hwi: 100 addresses <per call> s / <session> s, accounts ...`.
//!
//! Skipped, with the reason, when HWI is not installed (`scripts/setup`, `.venv-hwi/`; or set
//! `POR_ATTEST_HWI`). Environment: `POR_ATTEST_BENCH_HWI_ADDRESSES` (default 100).

use por_attest::ceremony::{sign_with, SignOptions};
use por_attest::hwi_demo::{hwi_account_manifest, hwi_address_manifest, hwi_signer_fields};
use por_attest::manifest::Manifest;
use por_attest::signers::hwi::{HwiMode, HwiSigner};
use por_attest::signers::{ensure_app, AppKind};
use por_attest::simulator::{SimulatedLedger, TcpServer};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// One ceremony's figures.
struct Run {
    signatures: usize,
    calls: u64,
    wall: Duration,
}

fn ceremony(manifest: &Path, mode: HwiMode) -> Run {
    let m = Manifest::load(manifest).expect("the bench manifest loads");
    let journal = manifest.with_file_name(format!("journal-{mode:?}.jsonl"));
    let start = Instant::now();
    let mut signer = HwiSigner::open(&m, "sim-a", mode).expect("HWI opens the simulator");
    let opts = SignOptions {
        signer: Some("sim-a".into()),
        ..SignOptions::default()
    };
    let summary = sign_with(&m, &journal, &mut signer, &opts).expect("the ceremony completes");
    let wall = start.elapsed();
    Run {
        signatures: summary.signed_now,
        calls: signer.calls() + 1, // and the fingerprint read when opening
        wall,
    }
}

fn report(what: &str, mode: &str, r: &Run) {
    println!(
        "{what:<28} {mode:<22} {:>4} signatures {:>5} HWI calls {:>8.2} s {:>7.3} s/call",
        r.signatures,
        r.calls,
        r.wall.as_secs_f64(),
        r.wall.as_secs_f64() / r.calls as f64
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists benches; there are no tests here.
    }
    let hwi = std::env::var_os("POR_ATTEST_HWI")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-hwi/bin/hwi"));
    let version = std::process::Command::new(&hwi).arg("--version").output();
    if !version.is_ok_and(|o| o.status.success()) {
        println!(
            "hwi bench skipped: {} does not run (scripts/setup installs it)",
            hwi.display()
        );
        return;
    }
    // 1. HWI's bare start-up.
    let runs = 5;
    let start = Instant::now();
    for _ in 0..runs {
        let _ = std::process::Command::new(&hwi).arg("--version").output();
    }
    let startup = start.elapsed().as_secs_f64() / f64::from(runs);
    println!("hwi --version (start-up alone): {startup:.3} s per process, {runs} runs");

    let device = SimulatedLedger::speculos_default();
    ensure_app(&mut device.transport(), AppKind::Bitcoin).expect("open the Bitcoin app");
    let srv = TcpServer::spawn("127.0.0.1:0".parse().unwrap(), device).expect("serve");
    let fields = hwi_signer_fields(&format!("tcp:{}", srv.addr()), &hwi, 600);
    let n: usize = std::env::var("POR_ATTEST_BENCH_HWI_ADDRESSES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(100);

    let tmp = tempfile::tempdir().expect("temporary folder");
    let mut figures = Vec::new();
    for (what, mode_name, mode) in [
        ("per call", "one process per call", HwiMode::PerCall),
        ("session", "one hwilib process", HwiMode::Auto),
    ] {
        // The demo's rows are 4 Bitcoin in 6 (the rest EVM and TRON, dropped); two P2TR rows
        // are added.
        let bitcoin_rows = |r: usize| 4 * (r / 6) + (r % 6).min(4);
        let rows = (0..).find(|r| bitcoin_rows(*r) + 2 >= n).unwrap_or(0);
        let dir = tmp.path().join(format!("addresses-{what}"));
        let m = hwi_address_manifest(&dir, rows, &fields, "", &[]).expect("manifest");
        let a = ceremony(&m, mode);
        report(&format!("{} addresses", a.signatures), mode_name, &a);
        let dir = tmp.path().join(format!("accounts-{what}"));
        let m = hwi_account_manifest(&dir, 900, 9, &fields).expect("manifest");
        let b = ceremony(&m, mode);
        report("7 accounts of 100 addresses", mode_name, &b);
        figures.push((a.wall.as_secs_f64(), b.wall.as_secs_f64()));
    }
    srv.stop().expect("stop the simulator");
    println!(
        "hwi: {n} addresses {:.1} s per call / {:.1} s session, accounts {:.1} s / {:.1} s, start-up {startup:.2} s",
        figures[0].0, figures[1].0, figures[0].1, figures[1].1
    );
}
