//! `cargo bench --bench verify`: verification throughput against the speed of the curve.
//!
//! In one run:
//! 1. generates (or reuses, from `bench-data/`) deterministic synthetic snapshots of 10,000,
//!    100,000 and 1,000,000 entries and an OKX-format file of 200,000 rows;
//! 2. runs the release `por-attest verify --threads T` on each file as a child process:
//!    time, entries/s, signatures/s, CPU time, peak RSS of the child (`wait4` rusage);
//! 3. measures raw libsecp256k1 `recover_ecdsa` throughput on the same number of threads,
//!    interleaved with the run: the child runs for a slice (0.5 s), is stopped (SIGSTOP), raw
//!    recover runs on the same threads for as long as the child just ran, the child is resumed
//!    (SIGCONT), and so on. The run's time is the sum of its slices; its yardstick is the raw
//!    rate over the raw slices. This VM's speed drifts by ±20% (and more) within seconds, so a
//!    yardstick from another moment, even a long one, does not compare like with like;
//! 4. account entries: generates (or reuses) a synthetic snapshot of 1,000,000 addresses in 100
//!    accounts (the per-address snapshot's mix, account by account: 40% BTC single-key, 10%
//!    BTC 2-of-3 P2WSH, 40% EVM, 10% TRON), and verifies it the same way, interleaved with raw
//!    BIP-32 public derivation (`Xpub::ckd_pub` of the `bitcoin` crate, libsecp256k1) on the
//!    same threads; the ratio is public derivations needed per second (a 2-of-3 address needs
//!    three) over raw derivations per second, and the speed-up is addresses per second over the
//!    per-address snapshot's entries per second of the same size, measured in the same run,
//!    each counted in raw recoveries' time around it (the account run is also interleaved with
//!    raw recover) so that the machine's drift between the two runs cancels out;
//! 5. the BIP-322 mix (what the ceremony writes now: the same addresses, BIP-322 for every
//!    Bitcoin entry but P2PKH, simple and full) at the largest size, interleaved with raw
//!    recover and raw ECDSA verification (`verify_ecdsa`, the operation a BIP-322 check does)
//!    on the same threads: `bip322-<size>: <entries/s> entries/s, <ratio> of raw recover,
//!    <ratio> of raw ECDSA verify, <x>x the legacy mix's entries/s, peak <MB> MB`;
//! 6. `--html`: the largest per-address snapshot and the OKX file again with `--html PAGE`:
//!    `html-<size>: writing the page adds X% (…), CPU time Y%, page N KB`, the two runs
//!    compared in raw recoveries' time around each, and in the child's CPU time (steadier on
//!    a busy machine);
//! 7. prints as its last lines
//!    `verify-1m: <entries/s> entries/s, <ratio> of raw recover, peak <MB> MB`
//!    where ratio = signatures checked per second / raw recoveries per second, and
//!    `accounts-1m: <addresses/s> addresses/s, <ratio> of raw BIP-32 derivation, <x>x the
//!    per-address entries/s, peak <MB> MB`.
//!
//! Environment: `POR_ATTEST_BENCH_QUICK=1` (10k and 100k snapshots, a 20k-row OKX file, one
//! run each), `POR_ATTEST_BENCH_THREADS` (default: all cores), `POR_ATTEST_BENCH_RUNS`
//! (verification runs per file, the fastest kept; default 2, quick 1),
//! `POR_ATTEST_BENCH_SLICE_MS` (interleaving slice, default 500), `POR_ATTEST_BENCH_DIR`
//! (cache directory; default `bench-data/` in the package), `POR_ATTEST_BENCH_RAW_ONLY=1`
//! (only the raw recover figures, on 1..=threads threads, over `POR_ATTEST_BENCH_RAW_SECS`
//! seconds each, default 3), `POR_ATTEST_BENCH_ACCOUNTS_ONLY=1` (only the largest per-address
//! snapshot and the account snapshot, to compare them).

use bitcoin::bip32::{ChildNumber, Xpriv, Xpub};
mod common;
use common::{env_num, label};

use bitcoin::secp256k1::ecdsa::RecoverableSignature;
use bitcoin::secp256k1::Message;
use por_attest::schemes::secp;
use por_attest::{synthetic, synthetic_accounts};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn thread_cpu_secs() -> f64 {
    // SAFETY: timespec is plain data filled by the call.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Recoveries counted over some raw windows, with the wall and CPU time they took.
#[derive(Default, Clone, Copy)]
struct RawTally {
    recoveries: u64,
    wall: f64,
    cpu: f64,
}

impl RawTally {
    fn add(&mut self, other: RawTally) {
        self.recoveries += other.recoveries;
        self.wall += other.wall;
        self.cpu += other.cpu;
    }
    /// Recoveries per wall second.
    fn per_sec(&self) -> f64 {
        self.recoveries as f64 / self.wall
    }
    /// Recoveries per CPU second.
    fn per_cpu_sec(&self) -> f64 {
        self.recoveries as f64 / self.cpu
    }
}

/// A raw operation run on some threads for some time: what a verification run is compared to.
trait Yardstick: Sync {
    /// Runs on `threads` threads for `duration`.
    fn run(&self, threads: usize, duration: Duration) -> RawTally;
    /// What it is, for the printed lines.
    fn name(&self) -> &'static str;
}

/// Runs `op(thread, i)` in a loop on `threads` threads for `duration`, counting.
fn run_raw(threads: usize, duration: Duration, op: impl Fn(usize, u64) + Sync) -> RawTally {
    let start = Instant::now();
    let (recoveries, cpu) = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let op = &op;
                s.spawn(move || {
                    let cpu0 = thread_cpu_secs();
                    let mut n = 0u64;
                    while start.elapsed() < duration {
                        for _ in 0..64 {
                            op(t, n);
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
    RawTally {
        recoveries,
        wall: start.elapsed().as_secs_f64(),
        cpu,
    }
}

/// Raw BIP-32 public derivation: `Xpub::ckd_pub` of the `bitcoin` crate, children of a few
/// chain keys (as `xpub/0/i`).
struct RawDerive {
    chains: Vec<Xpub>,
}

impl RawDerive {
    fn new() -> RawDerive {
        let chains = (0..8u8)
            .map(|k| {
                let m = Xpriv::new_master(bitcoin::Network::Bitcoin, &[k + 1; 32]).expect("seed");
                Xpub::from_priv(secp(), &m)
                    .ckd_pub(secp(), ChildNumber::Normal { index: 0 })
                    .expect("derivable")
            })
            .collect();
        RawDerive { chains }
    }
}

impl Yardstick for RawDerive {
    fn run(&self, threads: usize, duration: Duration) -> RawTally {
        run_raw(threads, duration, |t, n| {
            let parent = &self.chains[t % self.chains.len()];
            let index = ((n as u32).wrapping_mul(2_654_435_761) ^ t as u32) & 0x7fff_ffff;
            let c = parent
                .ckd_pub(secp(), ChildNumber::Normal { index })
                .expect("derivable");
            std::hint::black_box(c);
        })
    }
    fn name(&self) -> &'static str {
        "raw BIP-32 derivation"
    }
}

/// Raw libsecp256k1 public-key recovery over 4,096 distinct (digest, signature) pairs.
struct RawRecover {
    pairs: Vec<(Message, RecoverableSignature)>,
}

impl RawRecover {
    fn new() -> RawRecover {
        let pairs = (0..4096u64)
            .map(|i| {
                let sk = synthetic::synthetic_secret(b"raw recover bench", i, 0);
                let mut d = [0u8; 32];
                d[..8].copy_from_slice(&i.to_le_bytes());
                d[31] = 1;
                let m = Message::from_digest(d);
                (m, secp().sign_ecdsa_recoverable(&m, &sk))
            })
            .collect();
        RawRecover { pairs }
    }
}

impl Yardstick for RawRecover {
    fn run(&self, threads: usize, duration: Duration) -> RawTally {
        run_raw(threads, duration, |t, n| {
            let (m, sig) = &self.pairs[(t * 997 + n as usize) % self.pairs.len()];
            let k = secp().recover_ecdsa(m, sig).expect("recovers");
            std::hint::black_box(k);
        })
    }
    fn name(&self) -> &'static str {
        "raw recover"
    }
}

/// Raw libsecp256k1 ECDSA verification (what a BIP-322 check does per signature).
struct RawVerify {
    items: Vec<(
        Message,
        bitcoin::secp256k1::ecdsa::Signature,
        bitcoin::secp256k1::PublicKey,
    )>,
}

impl RawVerify {
    fn new() -> RawVerify {
        let items = (0..256u64)
            .map(|i| {
                let sk = synthetic::synthetic_secret(b"raw verify bench", i, 0);
                let msg = Message::from_digest([i as u8; 32]);
                (msg, secp().sign_ecdsa(&msg, &sk), sk.public_key(secp()))
            })
            .collect();
        RawVerify { items }
    }
}

impl Yardstick for RawVerify {
    fn run(&self, threads: usize, duration: Duration) -> RawTally {
        run_raw(threads, duration, |t, n| {
            let (m, s, k) = &self.items[(t * 31 + n as usize) % self.items.len()];
            assert!(secp().verify_ecdsa(m, s, k).is_ok());
        })
    }
    fn name(&self) -> &'static str {
        "raw ECDSA verify"
    }
}

/// One verification run, and the raw recover slices interleaved with it.
struct Run {
    /// Time the child was running (its slices; stopped time excluded).
    time: Duration,
    cpu_secs: f64,
    peak_rss_kb: u64,
    verified: u64,
    raw: RawTally,
    /// The second yardstick's tally, when there is one (run for as long, after the first).
    raw2: Option<RawTally>,
}

impl Run {
    fn ratio(&self, sigs: u64) -> f64 {
        sigs as f64 / self.time.as_secs_f64() / self.raw.per_sec()
    }
    fn cpu_ratio(&self, sigs: u64) -> f64 {
        sigs as f64 / self.cpu_secs / self.raw.per_cpu_sec()
    }
}

/// Runs `por-attest verify --json --threads T file` as a child, interleaved slice by slice
/// with raw recover on the same number of threads (see the file's documentation).
// The child is reaped with wait4(2), which also gives its own rusage; std's wait would not.
#[allow(clippy::zombie_processes)]
fn run_verify(
    bin: &Path,
    file: &Path,
    extra: &[String],
    threads: usize,
    raw: &dyn Yardstick,
    raw2: Option<&dyn Yardstick>,
    slice: Duration,
) -> Run {
    let mut child = Command::new(bin)
        .args(["verify", "--json", "--threads", &threads.to_string()])
        .arg(file)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start por-attest");
    let started = Instant::now();
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        stdout.read_to_string(&mut out).expect("read report");
        out
    });
    let pid = child.id() as libc::pid_t;
    let mut status = 0i32;
    // SAFETY (all libc calls below): rusage is plain data; wait4 and kill act on our own
    // child, which std never reaps because we do not call `Child::wait`.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let mut time = Duration::ZERO;
    let mut tally = RawTally::default();
    let mut tally2 = RawTally::default();
    let mut resumed = started;
    loop {
        // Let the child run for a slice, or until it exits.
        let exited = loop {
            let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
            assert!(r >= 0, "wait4 failed");
            if r == pid {
                break true;
            }
            if resumed.elapsed() >= slice {
                break false;
            }
            std::thread::sleep(Duration::from_micros(500));
        };
        let ran = resumed.elapsed();
        time += ran;
        if !exited {
            unsafe { libc::kill(pid, libc::SIGSTOP) };
            let r = unsafe { libc::wait4(pid, &mut status, libc::WUNTRACED, &mut usage) };
            assert_eq!(r, pid, "wait4");
            if !libc::WIFSTOPPED(status) {
                // It exited between the last look and the stop.
                tally.add(raw.run(threads, ran));
                if let Some(r2) = raw2 {
                    tally2.add(r2.run(threads, ran));
                }
                break;
            }
        }
        tally.add(raw.run(threads, ran));
        if let Some(r2) = raw2 {
            tally2.add(r2.run(threads, ran));
        }
        if exited {
            break;
        }
        unsafe { libc::kill(pid, libc::SIGCONT) };
        resumed = Instant::now();
    }
    let out = reader.join().expect("stdout reader");
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
        time,
        cpu_secs: tv(usage.ru_utime) + tv(usage.ru_stime),
        peak_rss_kb: usage.ru_maxrss as u64,
        verified: report["verified"].as_u64().unwrap_or(0),
        raw: tally,
        raw2: raw2.map(|_| tally2),
    }
}

/// The fastest of `runs` interleaved runs of a file, and the highest peak RSS of them.
#[allow(clippy::too_many_arguments)]
fn measure(
    bin: &Path,
    file: &Path,
    extra: &[String],
    threads: usize,
    runs: u64,
    expect: u64,
    sigs: u64,
    raw: &dyn Yardstick,
    raw2: Option<&dyn Yardstick>,
    slice: Duration,
) -> (Run, f64) {
    let name = file.file_name().map_or_else(
        || file.display().to_string(),
        |n| n.to_string_lossy().into(),
    );
    let mut best: Option<Run> = None;
    let mut peak = 0;
    for k in 0..runs {
        let r = run_verify(bin, file, extra, threads, raw, raw2, slice);
        assert_eq!(r.verified, expect, "{}: entries verified", file.display());
        println!(
            "  {name} run {}: {:.2} s, {:.2} of {} ({:.0}/s in the slices between), \
             {:.2} per CPU second",
            k + 1,
            r.time.as_secs_f64(),
            r.ratio(sigs),
            raw.name(),
            r.raw.per_sec(),
            r.cpu_ratio(sigs)
        );
        peak = peak.max(r.peak_rss_kb);
        if best.as_ref().is_none_or(|b| r.time < b.time) {
            best = Some(r);
        }
    }
    (best.expect("at least one run"), peak as f64 / 1024.0)
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is accepted and ignored.
    let quick = std::env::var("POR_ATTEST_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
    let threads = env_num("POR_ATTEST_BENCH_THREADS")
        .map(|t| t as usize)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let runs = env_num("POR_ATTEST_BENCH_RUNS").unwrap_or(if quick { 1 } else { 2 });
    let slice = Duration::from_millis(env_num("POR_ATTEST_BENCH_SLICE_MS").unwrap_or(500));
    let dir = std::env::var_os("POR_ATTEST_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("bench-data"));
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_por-attest"));
    let accounts_only =
        std::env::var("POR_ATTEST_BENCH_ACCOUNTS_ONLY").is_ok_and(|v| !v.is_empty() && v != "0");
    let sizes: &[u64] = match (quick, accounts_only) {
        (true, false) => &[10_000, 100_000],
        (false, false) => &[10_000, 100_000, 1_000_000],
        (true, true) => &[100_000],
        (false, true) => &[1_000_000],
    };
    let account_addresses = *sizes.last().expect("a size");
    let account_count = 100;
    let okx_rows: u64 = if quick { 20_000 } else { 200_000 };
    let raw = RawRecover::new();
    if std::env::var_os("POR_ATTEST_BENCH_RAW_ONLY").is_some() {
        let secs = env_num("POR_ATTEST_BENCH_RAW_SECS").unwrap_or(3);
        for t in 1..=threads {
            let r = raw.run(t, Duration::from_secs(secs));
            println!(
                "raw-recover: {:.0} recoveries/s on {t} thread(s), {:.0} per CPU second",
                r.per_sec(),
                r.per_cpu_sec()
            );
        }
        return;
    }

    println!(
        "por-attest verify benchmark: {threads} thread(s), best of {runs} run(s), {} cores, \
         {} ms slices, data in {}",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        slice.as_millis(),
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
    let (accounts_path, made) =
        synthetic_accounts::cached_account_snapshot(&dir, account_addresses, account_count)
            .expect("generate account snapshot");
    if made {
        println!(
            "generated {} in {:.1} s",
            accounts_path.display(),
            t.elapsed().as_secs_f64()
        );
    }
    let t = Instant::now();
    let okx_path = if accounts_only {
        None
    } else {
        let (p, made) = synthetic::cached_okx(&dir, okx_rows).expect("generate OKX file");
        if made {
            println!(
                "generated {} in {:.1} s",
                p.display(),
                t.elapsed().as_secs_f64()
            );
        }
        Some(p)
    };

    let mut results = Vec::new();
    for &n in sizes {
        let (p, _) = synthetic::cached_snapshot(&dir, n).expect("cached");
        let sigs = synthetic::synthetic_signatures(n);
        let (run, peak) = measure(&bin, &p, &[], threads, runs, n, sigs, &raw, None, slice);
        results.push((n, sigs, run, peak));
    }
    // The BIP-322 mix at the largest size, against raw recover and raw ECDSA verify.
    let bip322_line = (!accounts_only).then(|| {
        let n = *sizes.last().expect("a size");
        let t = Instant::now();
        let (p, made) = synthetic::cached_bip322_snapshot(&dir, n).expect("generate");
        if made {
            println!(
                "generated {} in {:.1} s",
                p.display(),
                t.elapsed().as_secs_f64()
            );
        }
        let sigs = synthetic::synthetic_signatures(n);
        let verify = RawVerify::new();
        let (run, peak) = measure(
            &bin,
            &p,
            &[],
            threads,
            runs,
            n,
            sigs,
            &raw,
            Some(&verify),
            slice,
        );
        let secs = run.time.as_secs_f64();
        let eps = n as f64 / secs;
        let legacy = results
            .last()
            .map(|(m, _, r, _)| *m as f64 / r.time.as_secs_f64() / r.raw.per_sec())
            .unwrap_or(f64::NAN);
        let verify_around = run.raw2.map_or(f64::NAN, |t| t.per_sec());
        format!(
            "bip322-{}: {eps:.0} entries/s, {:.2} of raw recover, {:.2} of raw ECDSA verify \
             ({verify_around:.0}/s in the slices between), {:.2}x the legacy mix's entries/s, \
             peak {peak:.0} MB",
            label(n),
            run.ratio(sigs),
            sigs as f64 / secs / verify_around,
            eps / run.raw.per_sec() / legacy,
        )
    });
    let derive = RawDerive::new();
    let derivations =
        synthetic_accounts::synthetic_account_derivations(account_addresses, account_count);
    let (accounts, accounts_peak) = measure(
        &bin,
        &accounts_path,
        &[],
        threads,
        runs,
        account_addresses,
        derivations,
        &derive,
        Some(&raw),
        slice,
    );
    let okx_run = okx_path
        .as_ref()
        .map(|p| report_okx(&bin, p, threads, runs, okx_rows, &raw, slice));
    // The HTML page: the same files again with --html, each against its run without.
    let mut html_lines = Vec::new();
    if !accounts_only {
        let page = dir.join("bench-page.html");
        let (n, sigs, base, _) = results.last().expect("a size");
        let (p, _) = synthetic::cached_snapshot(&dir, *n).expect("cached");
        html_lines.push(html_overhead(
            &bin,
            &p,
            &page,
            (threads, runs, slice),
            (*n, *sigs),
            base,
            &raw,
            &format!("html-{}", label(*n)),
        ));
        if let (Some(p), Some(base)) = (&okx_path, &okx_run) {
            let sigs = synthetic::synthetic_okx_signatures(okx_rows);
            html_lines.push(html_overhead(
                &bin,
                p,
                &page,
                (threads, runs, slice),
                (okx_rows, sigs),
                base,
                &raw,
                &format!("html-okx-{}", label(okx_rows)),
            ));
        }
        let _ = std::fs::remove_file(&page);
    }
    // Growth is measured in raw-recover units (time × the raw rate around it), which the
    // machine's drift cancels out of, and in CPU time.
    let cost = |n: u64, r: &Run| {
        (
            r.time.as_secs_f64() * r.raw.per_sec() / n as f64,
            r.cpu_secs / n as f64,
        )
    };
    let base = results.first().map(|(n, _, r, _)| cost(*n, r));
    let mut last = String::new();
    for (n, sigs, r, peak) in &results {
        let secs = r.time.as_secs_f64();
        let eps = *n as f64 / secs;
        let sps = *sigs as f64 / secs;
        let (units, cpu) = cost(*n, r);
        let (grow, grow_cpu) = base.map_or((1.0, 1.0), |(u, c)| (units / u, cpu / c));
        println!(
            "size {:>9}: {secs:8.2} s, {eps:8.0} entries/s, {sps:8.0} signatures/s, \
             {:.1} us/entry, {units:.2} raw recoveries' time per entry ({grow:.2}x the 10k \
             cost; CPU {:.1} us/entry, {grow_cpu:.2}x), {:.2} of raw recover ({:.0}/s in the \
             slices between; {:.2} per CPU second), peak {peak:.0} MB",
            n,
            secs * 1e6 / *n as f64,
            cpu * 1e6,
            r.ratio(*sigs),
            r.raw.per_sec(),
            r.cpu_ratio(*sigs),
        );
        last = format!(
            "verify-{}: {eps:.0} entries/s, {:.2} of raw recover, peak {peak:.0} MB",
            label(*n),
            r.ratio(*sigs),
        );
    }
    if let Some(line) = &bip322_line {
        println!("{line}");
    }
    for line in &html_lines {
        println!("{line}");
    }
    println!("{last}");
    let secs = accounts.time.as_secs_f64();
    let aps = account_addresses as f64 / secs;
    // The speed-up over the per-address snapshot of the same size, each run's rate counted in
    // raw recoveries' time around it (the account run is interleaved with raw recover too), so
    // that the machine's drift between the two runs cancels out.
    let (per_address, per_address_units, per_address_cpu) = results
        .last()
        .map(|(n, _, r, _)| {
            let eps = *n as f64 / r.time.as_secs_f64();
            (eps, eps / r.raw.per_sec(), r.cpu_secs / *n as f64)
        })
        .unwrap_or((f64::NAN, f64::NAN, f64::NAN));
    let account_cpu = accounts.cpu_secs / account_addresses as f64;
    let recover_around = accounts.raw2.map_or(f64::NAN, |t| t.per_sec());
    let speedup = aps / recover_around / per_address_units;
    println!(
        "accounts-{} detail: {aps:.0} addresses/s in {account_count} accounts, {:.0} \
         derivations/s, {secs:.2} s, {:.2} of raw BIP-32 derivation ({:.0}/s in the slices \
         between; {:.2} per CPU second); raw recover {recover_around:.0}/s around it; the \
         per-address snapshot {per_address:.0} entries/s; CPU {:.1} us per address against \
         {:.1} us per entry ({:.2}x)",
        label(account_addresses),
        derivations as f64 / secs,
        accounts.ratio(derivations),
        accounts.raw.per_sec(),
        accounts.cpu_ratio(derivations),
        account_cpu * 1e6,
        per_address_cpu * 1e6,
        per_address_cpu / account_cpu,
    );
    println!(
        "accounts-{}: {aps:.0} addresses/s, {:.2} of raw BIP-32 derivation, {speedup:.2}x the \
         per-address entries/s, peak {accounts_peak:.0} MB",
        label(account_addresses),
        accounts.ratio(derivations),
    );
}

/// Verifies `file` again with `--html PAGE` and says what writing the page adds to the time,
/// both runs counted in raw recoveries' time around them (so the machine's drift cancels):
/// `NAME: writing the page adds X% (…), CPU time Y%, page N KB`.
#[allow(clippy::too_many_arguments)]
fn html_overhead(
    bin: &Path,
    file: &Path,
    page: &Path,
    (threads, runs, slice): (usize, u64, Duration),
    (expect, sigs): (u64, u64),
    base: &Run,
    raw: &RawRecover,
    name: &str,
) -> String {
    let extra = ["--html".to_string(), page.display().to_string()];
    let (run, _) = measure(
        bin, file, &extra, threads, runs, expect, sigs, raw, None, slice,
    );
    let size = std::fs::metadata(page).map_or(0, |m| m.len());
    let (with, without) = (run.ratio(sigs), base.ratio(sigs));
    format!(
        "{name}: writing the page adds {:+.1}% ({with:.3} of raw recover with --html, \
         {without:.3} without; {:.2} s against {:.2} s), CPU time {:+.1}%, page {} KB",
        (without / with - 1.0) * 100.0,
        run.time.as_secs_f64(),
        base.time.as_secs_f64(),
        (run.cpu_secs / base.cpu_secs - 1.0) * 100.0,
        size / 1024
    )
}

/// Verifies the OKX-format file and prints its line; the run.
fn report_okx(
    bin: &Path,
    okx_path: &Path,
    threads: usize,
    runs: u64,
    okx_rows: u64,
    raw: &RawRecover,
    slice: Duration,
) -> Run {
    let okx_sigs = synthetic::synthetic_okx_signatures(okx_rows);
    let (okx, okx_peak) = measure(
        bin,
        okx_path,
        &[],
        threads,
        runs,
        okx_rows,
        okx_sigs,
        raw,
        None,
        slice,
    );
    let okx_secs = okx.time.as_secs_f64();
    println!(
        "okx-{}: {:.0} rows/s, {:.0} signatures/s, {:.2} s, {:.2} of raw recover ({:.0}/s in \
         the slices between; {:.2} per CPU second), peak {:.0} MB",
        label(okx_rows),
        okx_rows as f64 / okx_secs,
        okx_sigs as f64 / okx_secs,
        okx_secs,
        okx.ratio(okx_sigs),
        okx.raw.per_sec(),
        okx.cpu_ratio(okx_sigs),
        okx_peak
    );
    okx
}
