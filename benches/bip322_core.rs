//! `cargo bench --bench bip322_core`: PyPI's bip322-core (Python, btclib's script interpreter)
//! and `por-attest verify` side by side on the same 20,000 BIP-322 proofs.
//!
//! The proofs are the Bitcoin entries of the synthetic BIP-322 mix (P2WPKH simple, P2SH-P2WPKH
//! full, 2-of-3 P2WSH simple, and P2PKH legacy, which the BIP allows): written once as a
//! snapshot of those entries only (`bench-data/`) and as the JSON lines bip322-core's harness
//! reads (`scripts/bip322_core_verify.py --count`). Prints, per tool, the wall time and proofs
//! per second (por-attest on 1 thread and on all; bip322-core is single-threaded), its CPU
//! time, and the ratio. bip322-core comes from `.venv-bip322/` (`scripts/setup`) or
//! `POR_ATTEST_BIP322_PYTHON`; without it only por-attest's line is printed, saying why.
//!
//! Environment: `POR_ATTEST_BENCH_PROOFS` (default 20000), `POR_ATTEST_BENCH_DIR`.

mod common;
use common::{env_num, label};

use por_attest::snapshot::Snapshot;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// CPU seconds (user + system) of the children waited for so far.
fn children_cpu() -> f64 {
    // SAFETY: rusage is plain data filled by the call.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 * 1e-6;
    t(u.ru_utime) + t(u.ru_stime)
}

/// The first `n` Bitcoin entries of the BIP-322 mix, as a snapshot file and a JSON-lines file.
fn proofs(dir: &Path, n: u64) -> (PathBuf, PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    let snap_path = dir.join(format!("bip322-proofs-{}.json", label(n)));
    let lines_path = dir.join(format!("bip322-proofs-{}.jsonl", label(n)));
    if snap_path.exists() && lines_path.exists() {
        return (snap_path, lines_path);
    }
    let g = por_attest::synthetic::EntryGenerator::new_bip322(
        por_attest::synthetic::synthetic_header(),
        b"bip322-core side by side",
    );
    // Slots 0-4 of every 10 are Bitcoin.
    let entries: Vec<_> = (0..)
        .filter(|i| i % 10 < 5)
        .take(n as usize)
        .map(|i| g.entry(i))
        .collect();
    let mut lines = std::io::BufWriter::new(std::fs::File::create(&lines_path).unwrap());
    for e in &entries {
        let line = serde_json::json!({
            "address": e.address, "message": e.message, "signature": e.signatures[0].signature,
        });
        writeln!(lines, "{line}").unwrap();
    }
    lines.flush().unwrap();
    let snap = Snapshot {
        header: g.header().clone(),
        entries,
        accounts: Vec::new(),
    };
    std::fs::write(&snap_path, snap.to_file_bytes()).unwrap();
    (snap_path, lines_path)
}

fn python() -> Result<PathBuf, String> {
    let py = std::env::var_os("POR_ATTEST_BIP322_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-bip322/bin/python"));
    if py.exists() {
        Ok(py)
    } else {
        Err(format!(
            "{} does not exist (run scripts/setup)",
            py.display()
        ))
    }
}

fn main() {
    let n = env_num("POR_ATTEST_BENCH_PROOFS").unwrap_or(20_000);
    let dir = std::env::var_os("POR_ATTEST_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("bench-data"));
    let t = Instant::now();
    let (snap, lines) = proofs(&dir, n);
    println!(
        "{n} BIP-322 proofs in {} and {} ({:.1} s)",
        snap.display(),
        lines.display(),
        t.elapsed().as_secs_f64()
    );
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_por-attest"));
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    let mut ours = Vec::new();
    for threads in [1, cores] {
        let cpu0 = children_cpu();
        let t = Instant::now();
        let out = Command::new(&bin)
            .arg("verify")
            .arg(&snap)
            .args(["--threads", &threads.to_string()])
            .stdout(Stdio::null())
            .status()
            .expect("run por-attest");
        let secs = t.elapsed().as_secs_f64();
        assert!(out.success(), "por-attest verify failed");
        let cpu = children_cpu() - cpu0;
        println!(
            "por-attest verify, {threads} thread(s): {secs:.3} s, {:.0} proofs/s, CPU {cpu:.3} s",
            n as f64 / secs
        );
        ours.push((threads, secs, cpu));
    }
    let py = match python() {
        Ok(p) => p,
        Err(why) => {
            println!("bip322-core: skipped: {why}");
            return;
        }
    };
    let cpu0 = children_cpu();
    let t = Instant::now();
    let out = Command::new(&py)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/bip322_core_verify.py"))
        .arg("--count")
        .stdin(std::fs::File::open(&lines).unwrap())
        .output()
        .expect("run bip322-core");
    let secs = t.elapsed().as_secs_f64();
    let cpu = children_cpu() - cpu0;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("its summary");
    assert_eq!(v["proofs"], n, "{v}");
    assert_eq!(v["valid"], n, "bip322-core finds every proof valid: {v}");
    let verify_secs = v["seconds"].as_f64().unwrap_or(f64::NAN);
    println!(
        "bip322-core 0.12 (btclib), 1 thread: {secs:.3} s ({verify_secs:.3} s verifying), \
         {:.0} proofs/s, CPU {cpu:.3} s",
        n as f64 / verify_secs
    );
    let (_, one, _) = ours[0];
    let (threads, all, _) = ours[1];
    println!(
        "bip322-side-by-side-{}: por-attest {:.0} proofs/s on 1 thread ({:.0}x bip322-core), \
         {:.0} proofs/s on {threads} ({:.0}x); bip322-core {:.0} proofs/s",
        label(n),
        n as f64 / one,
        verify_secs / one,
        n as f64 / all,
        verify_secs / all,
        n as f64 / verify_secs,
    );
}
