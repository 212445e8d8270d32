//! `cargo bench --bench htx_node`: `por-attest verify` and HTX's own Node.js verifier
//! (huobiapi/Tool-Node.js-VerifyAddress) side by side on the same synthetic HTX file.
//!
//! In one run:
//! 1. generates (or reuses, from `bench-data/`) a deterministic synthetic HTX-format file of
//!    100,000 rows in HTX's forms (`synthetic::write_synthetic_htx`: BTC legacy signed
//!    messages, EVM raw-keccak and EIP-191, TRON v1-over-text and v1-over-keccak, SOL and ALGO
//!    ed25519, one row in ten unsigned), whose every coin HTX's tool knows and whose summary
//!    names every row's coin, so both tools check every signed row;
//! 2. runs, alternately, the release `por-attest verify --json --threads T FILE` and
//!    `node dist/index.js -p FILE` (HTX's tool reads the file from its working directory, so
//!    it runs in the file's directory), each as a child process, `POR_ATTEST_BENCH_RUNS` times
//!    each (default 3); wall time, and CPU time (user + system, from the child's `wait4`
//!    rusage), checking that both report every signed row verified and none failed;
//! 3. prints each run, then the medians and the ratios, its last line
//!    `htx-100k: por-attest <s> s wall <s> s CPU, HTX node <s> s wall <s> s CPU, <x>x wall, <x>x CPU`.
//!
//! HTX's tool is not on npm: bring its repository here (not into this one) and install its
//! dependencies there (`npm install`), then point `POR_ATTEST_HTX_TOOL` at that folder; the
//! bench builds `dist/index.js` with `npx rollup src/index.js --file dist/index.js --format cjs`
//! when it is missing. Without `POR_ATTEST_HTX_TOOL` (or without `node`) the bench says why and
//! stops. Environment: `POR_ATTEST_HTX_ROWS` (default 100000), `POR_ATTEST_BENCH_RUNS`,
//! `POR_ATTEST_BENCH_THREADS` (default: all cores), `POR_ATTEST_BENCH_DIR` (cache directory;
//! default `bench-data/` in the package).

mod common;
use common::{env_num, label};

use por_attest::synthetic;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What one child run took, and what it printed.
struct Timed {
    wall: Duration,
    cpu: f64,
    ok: bool,
    stdout: String,
}

/// Runs `cmd` to its end: wall time, its own CPU time (user + system, `wait4` rusage, child
/// threads included), its exit status and its standard output.
// The child is reaped with wait4(2), which also gives its rusage; std's wait would not.
#[allow(clippy::zombie_processes)]
fn run(cmd: &mut Command) -> Timed {
    let started = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the child");
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        stdout.read_to_string(&mut out).expect("read the output");
        out
    });
    let pid = child.id() as libc::pid_t;
    let mut status = 0i32;
    // SAFETY: rusage is plain data; wait4 reaps our own child, which std never waits for.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4");
    let wall = started.elapsed();
    let stdout = reader.join().expect("output reader");
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    Timed {
        wall,
        cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
        ok: libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        stdout,
    }
}

/// HTX's tool folder, built, or why the bench cannot run it.
fn htx_tool() -> Result<PathBuf, String> {
    let dir = std::env::var_os("POR_ATTEST_HTX_TOOL")
        .map(PathBuf::from)
        .ok_or(
            "POR_ATTEST_HTX_TOOL is not set: point it at a checkout of \
         huobiapi/Tool-Node.js-VerifyAddress with its npm dependencies installed",
        )?;
    if Command::new("node").arg("--version").output().is_err() {
        return Err("`node` is not installed".into());
    }
    if !dir.join("node_modules").is_dir() {
        return Err(format!(
            "{}: no node_modules (run `npm install` there)",
            dir.display()
        ));
    }
    if !dir.join("dist/index.js").is_file() {
        let built = Command::new("npx")
            .args([
                "rollup",
                "src/index.js",
                "--file",
                "dist/index.js",
                "--format",
                "cjs",
            ])
            .current_dir(&dir)
            .status()
            .map_err(|e| format!("npx rollup: {e}"))?;
        if !built.success() {
            return Err(format!("building {}/dist/index.js failed", dir.display()));
        }
    }
    Ok(dir)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() {
    let rows = env_num("POR_ATTEST_HTX_ROWS").unwrap_or(100_000);
    let runs = env_num("POR_ATTEST_BENCH_RUNS").unwrap_or(3).max(1);
    let threads = env_num("POR_ATTEST_BENCH_THREADS")
        .map(|t| t as usize)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let tool = match htx_tool() {
        Ok(t) => t,
        Err(why) => {
            println!("htx_node: skipped: {why}");
            return;
        }
    };
    let dir = std::env::var_os("POR_ATTEST_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("bench-data"));
    let started = Instant::now();
    let (file, made) = synthetic::cached_htx(&dir, rows).expect("generate the HTX file");
    if made {
        println!(
            "generated {} in {:.1} s",
            file.display(),
            started.elapsed().as_secs_f64()
        );
    }
    let signed = synthetic::synthetic_htx_signed(rows);
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_por-attest"));
    let file_dir = file.parent().expect("file in a folder").to_path_buf();
    let file_name = file.file_name().expect("file name").to_owned();
    let node_script = tool.join("dist/index.js");
    let node_version = Command::new("node")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    println!(
        "htx-{}: {rows} rows, {signed} signed; por-attest --threads {threads}; HTX's tool on node {node_version}",
        label(rows)
    );
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for k in 1..=runs {
        let o = run(Command::new(&bin)
            .args(["verify", "--json", "--threads", &threads.to_string()])
            .arg(&file));
        let report: serde_json::Value =
            serde_json::from_str(&o.stdout).expect("por-attest printed its JSON report");
        assert!(
            o.ok,
            "por-attest verify failed: {}",
            report["file_failures"]
        );
        assert_eq!(
            report["verified"].as_u64(),
            Some(signed),
            "por-attest: verified rows"
        );
        let n = run(Command::new("node")
            .arg(&node_script)
            .arg("-p")
            .arg(&file_name)
            .current_dir(&file_dir));
        let last = n.stdout.lines().last().unwrap_or("").to_string();
        let want = format!("Total {signed} authorized addresses, {signed} passed, 0 failed");
        assert!(
            n.ok && last.contains(&want),
            "HTX's tool did not pass every signed row: {last}"
        );
        println!(
            "  run {k}: por-attest {:.2} s wall, {:.2} s CPU | HTX's Node.js tool {:.2} s wall, {:.2} s CPU",
            o.wall.as_secs_f64(),
            o.cpu,
            n.wall.as_secs_f64(),
            n.cpu
        );
        ours.push((o.wall.as_secs_f64(), o.cpu));
        theirs.push((n.wall.as_secs_f64(), n.cpu));
    }
    let m = |v: &[(f64, f64)], cpu: bool| {
        median(v.iter().map(|x| if cpu { x.1 } else { x.0 }).collect())
    };
    let (ow, oc, nw, nc) = (
        m(&ours, false),
        m(&ours, true),
        m(&theirs, false),
        m(&theirs, true),
    );
    println!(
        "htx-{}: por-attest {ow:.2} s wall {oc:.2} s CPU, HTX node {nw:.2} s wall {nc:.2} s CPU, {:.1}x wall, {:.1}x CPU",
        label(rows),
        nw / ow,
        nc / oc
    );
}
