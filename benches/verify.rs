//! `cargo bench --bench verify`: verification throughput against the speed of the curve.
//!
//! In one run:
//! 1. generates (or reuses, from `bench-data/`) deterministic synthetic snapshots of 10,000,
//!    100,000 and 1,000,000 entries and an OKX-format file of 200,000 rows;
//! 2. runs the release `por-attest verify --threads T` on each file as a child process:
//!    wall time, entries/s, signatures/s, peak RSS of the child (`wait4` rusage);
//! 3. measures raw libsecp256k1 `recover_ecdsa` throughput on the same number of threads just
//!    before and just after every run, each window as long as the run: the run's yardstick is
//!    the mean of the two (this VM's speed drifts by ±20% within minutes, so a yardstick from
//!    another moment, or a shorter window, would not compare like with like);
//! 4. prints as its last line
//!    `verify-1m: <entries/s> entries/s, <ratio> of raw recover, peak <MB> MB`
//!    where ratio = signatures checked per second / raw recoveries per second.
//!
//! Environment: `POR_ATTEST_BENCH_QUICK=1` (10k and 100k snapshots, a 20k-row OKX file, one
//! run each), `POR_ATTEST_BENCH_THREADS` (default: all cores), `POR_ATTEST_BENCH_RUNS`
//! (verification runs per file, best time kept; default 2, quick 1), `POR_ATTEST_BENCH_DIR`
//! (cache directory; default `bench-data/` in the package), `POR_ATTEST_BENCH_RAW_ONLY=1`
//! (only the raw recover figures, on 1..=threads threads, over `POR_ATTEST_BENCH_RAW_SECS`
//! seconds each, default 3).

use bitcoin::secp256k1::ecdsa::RecoverableSignature;
use bitcoin::secp256k1::Message;
use por_attest::schemes::secp;
use por_attest::synthetic;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn env_num(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

fn thread_cpu_secs() -> f64 {
    // SAFETY: timespec is plain data filled by the call.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Raw libsecp256k1 public-key recovery on `threads` threads for `duration`: recoveries per
/// wall second, and per CPU second (the latter is immune to other load on the machine).
fn raw_recover(threads: usize, duration: Duration) -> (f64, f64) {
    let pairs: Vec<(Message, RecoverableSignature)> = (0..4096u64)
        .map(|i| {
            let sk = synthetic::synthetic_secret(b"raw recover bench", i, 0);
            let mut d = [0u8; 32];
            d[..8].copy_from_slice(&i.to_le_bytes());
            d[31] = 1;
            let m = Message::from_digest(d);
            (m, secp().sign_ecdsa_recoverable(&m, &sk))
        })
        .collect();
    let start = Instant::now();
    let (total, cpu): (u64, f64) = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let pairs = &pairs;
                s.spawn(move || {
                    let cpu0 = thread_cpu_secs();
                    let mut n = 0u64;
                    let mut i = t * 997;
                    while start.elapsed() < duration {
                        for _ in 0..256 {
                            let (m, sig) = &pairs[i % pairs.len()];
                            let k = secp().recover_ecdsa(m, sig).expect("recovers");
                            std::hint::black_box(k);
                            i += 1;
                            n += 1;
                        }
                    }
                    (n, thread_cpu_secs() - cpu0)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .fold((0, 0.0), |(n, c), (n2, c2)| (n + n2, c + c2))
    });
    (
        total as f64 / start.elapsed().as_secs_f64(),
        total as f64 / cpu,
    )
}

/// Raw recover throughput over one window: per wall second and per CPU second.
#[derive(Clone, Copy)]
struct RawWindow {
    wall: f64,
    cpu: f64,
}

impl RawWindow {
    /// A window lasting as long as `like` (at least one second), so that the yardstick of a run
    /// is taken over the same stretch of the machine's (drifting) speed as the run itself.
    fn take(threads: usize, like: Duration) -> RawWindow {
        let (wall, cpu) = raw_recover(threads, like.max(Duration::from_secs(1)));
        RawWindow { wall, cpu }
    }

    fn mean(self, other: RawWindow) -> RawWindow {
        RawWindow {
            wall: (self.wall + other.wall) / 2.0,
            cpu: (self.cpu + other.cpu) / 2.0,
        }
    }
}

struct Run {
    wall: Duration,
    cpu_secs: f64,
    peak_rss_kb: u64,
    verified: u64,
}

/// Runs `por-attest verify --json --threads T file` as a child; wall time and its peak RSS.
// The child is reaped with wait4(2), which also gives its own rusage; std's wait would not.
#[allow(clippy::zombie_processes)]
fn run_verify(bin: &Path, file: &Path, threads: usize) -> Run {
    let start = Instant::now();
    let mut child = Command::new(bin)
        .args(["verify", "--json", "--threads", &threads.to_string()])
        .arg(file)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start por-attest");
    let mut out = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .expect("read report");
    let mut status = 0i32;
    // SAFETY: rusage is plain data; wait4 fills it for our own child, which std never reaps
    // because we do not call `Child::wait`.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
    assert_eq!(pid, child.id() as libc::pid_t, "wait4");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| {
        panic!(
            "verify of {} printed no JSON report ({e}): {out}",
            file.display()
        )
    });
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "verify of {} failed: {}",
        file.display(),
        report["problems"]
    );
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    Run {
        wall,
        cpu_secs: tv(usage.ru_utime) + tv(usage.ru_stime),
        peak_rss_kb: usage.ru_maxrss as u64,
        verified: report["verified"].as_u64().unwrap_or(0),
    }
}

/// The best (fastest) run of a file, with the raw recover yardstick bracketing that run.
struct Measured {
    best: Duration,
    best_cpu: f64,
    peak_mb: f64,
    /// Mean of the raw windows taken just before and just after the best run, each as long
    /// as the run.
    raw: RawWindow,
}

/// Runs verify `runs` times; before the first run and after every run, a raw recover window
/// as long as the run (the first one as long as `estimate`).
#[allow(clippy::too_many_arguments)]
fn measure(
    bin: &Path,
    file: &Path,
    threads: usize,
    runs: u64,
    expect: u64,
    sigs: u64,
    estimate: Duration,
) -> Measured {
    let mut before = RawWindow::take(threads, estimate);
    let mut best: Option<(Run, RawWindow)> = None;
    let mut peak = 0;
    for k in 0..runs {
        let r = run_verify(bin, file, threads);
        let after = RawWindow::take(threads, r.wall);
        assert_eq!(r.verified, expect, "{}: entries verified", file.display());
        let raw = before.mean(after);
        println!(
            "  {} run {}: {:.2} s, {:.2} of raw recover ({:.0}/s around it), {:.2} per CPU second",
            file.file_name().map_or_else(
                || file.display().to_string(),
                |n| n.to_string_lossy().into()
            ),
            k + 1,
            r.wall.as_secs_f64(),
            sigs as f64 / r.wall.as_secs_f64() / raw.wall,
            raw.wall,
            sigs as f64 / r.cpu_secs / raw.cpu
        );
        peak = peak.max(r.peak_rss_kb);
        if best.as_ref().is_none_or(|(b, _)| r.wall < b.wall) {
            best = Some((r, raw));
        }
        before = after;
    }
    let (run, raw) = best.expect("at least one run");
    Measured {
        best: run.wall,
        best_cpu: run.cpu_secs,
        peak_mb: peak as f64 / 1024.0,
        raw,
    }
}

fn label(n: u64) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}m", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is accepted and ignored.
    let quick = std::env::var("POR_ATTEST_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
    let threads = env_num("POR_ATTEST_BENCH_THREADS")
        .map(|t| t as usize)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let runs = env_num("POR_ATTEST_BENCH_RUNS").unwrap_or(if quick { 1 } else { 2 });
    let dir = std::env::var_os("POR_ATTEST_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("bench-data"));
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_por-attest"));
    let sizes: &[u64] = if quick {
        &[10_000, 100_000]
    } else {
        &[10_000, 100_000, 1_000_000]
    };
    let okx_rows: u64 = if quick { 20_000 } else { 200_000 };
    if std::env::var_os("POR_ATTEST_BENCH_RAW_ONLY").is_some() {
        for t in 1..=threads {
            let secs = std::env::var("POR_ATTEST_BENCH_RAW_SECS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(3);
            let (w, c) = raw_recover(t, Duration::from_secs(secs));
            println!("raw-recover: {w:.0} recoveries/s on {t} thread(s), {c:.0} per CPU second");
        }
        return;
    }

    println!(
        "por-attest verify benchmark: {threads} thread(s), best of {runs} run(s), {} cores, data in {}",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        dir.display()
    );
    for &n in sizes {
        let t = Instant::now();
        let (p, made) = synthetic::cached_snapshot(&dir, n).expect("generate snapshot");
        if made {
            println!(
                "generated {} in {:.1} s",
                p.display(),
                t.elapsed().as_secs_f64()
            );
        }
    }
    let t = Instant::now();
    let (okx_path, made) = synthetic::cached_okx(&dir, okx_rows).expect("generate OKX file");
    if made {
        println!(
            "generated {} in {:.1} s",
            okx_path.display(),
            t.elapsed().as_secs_f64()
        );
    }

    // A one-second pilot window gives the first estimate of how long each run will take;
    // after that every run is bracketed by raw windows as long as itself.
    let pilot = RawWindow::take(threads, Duration::from_secs(1));
    let estimate = |sigs: u64| Duration::from_secs_f64(sigs as f64 / (0.85 * pilot.wall));
    let mut results = Vec::new();
    for &n in sizes {
        let (p, _) = synthetic::cached_snapshot(&dir, n).expect("cached");
        let sigs = synthetic::synthetic_signatures(n);
        let m = measure(&bin, &p, threads, runs, n, sigs, estimate(sigs));
        results.push((n, sigs, m));
    }
    let okx_sigs = synthetic::synthetic_okx_signatures(okx_rows);
    let okx = measure(
        &bin,
        &okx_path,
        threads,
        runs,
        okx_rows,
        okx_sigs,
        estimate(okx_sigs),
    );

    let per_entry_10k = results
        .first()
        .map(|(n, _, m)| (m.best.as_secs_f64() / *n as f64, m.best_cpu / *n as f64));
    let okx_secs = okx.best.as_secs_f64();
    println!(
        "okx-{}: {:.0} rows/s, {:.0} signatures/s, {:.2} s, {:.2} of raw recover ({:.0}/s \
         around the run; {:.2} per CPU second), peak {:.0} MB",
        label(okx_rows),
        okx_rows as f64 / okx_secs,
        okx_sigs as f64 / okx_secs,
        okx_secs,
        okx_sigs as f64 / okx_secs / okx.raw.wall,
        okx.raw.wall,
        okx_sigs as f64 / okx.best_cpu / okx.raw.cpu,
        okx.peak_mb
    );
    let mut last = String::new();
    for (n, sigs, m) in &results {
        let secs = m.best.as_secs_f64();
        let eps = *n as f64 / secs;
        let sps = *sigs as f64 / secs;
        let (linear, linear_cpu) = per_entry_10k.map_or((1.0, 1.0), |(w, c)| {
            (secs / *n as f64 / w, m.best_cpu / *n as f64 / c)
        });
        println!(
            "size {:>9}: {secs:8.2} s, {eps:8.0} entries/s, {sps:8.0} signatures/s, \
             {:.1} us/entry ({linear:.2}x the 10k cost; CPU {:.1} us/entry, {linear_cpu:.2}x), \
             {:.2} of raw recover ({:.0}/s around the run; {:.2} per CPU second), peak {:.0} MB",
            n,
            secs * 1e6 / *n as f64,
            m.best_cpu * 1e6 / *n as f64,
            sps / m.raw.wall,
            m.raw.wall,
            *sigs as f64 / m.best_cpu / m.raw.cpu,
            m.peak_mb
        );
        last = format!(
            "verify-{}: {eps:.0} entries/s, {:.2} of raw recover, peak {:.0} MB",
            label(*n),
            sps / m.raw.wall,
            m.peak_mb
        );
    }
    println!("{last}");
}
