//! The `hwi` signer: HWI 3.2.0 (PyPI `hwi`, installed by `scripts/setup` into `.venv-hwi/`)
//! driving the simulated Ledger served by `por-attest simulator` on a free loopback port
//! (`-t ledger -d tcp:127.0.0.1:PORT`, the way HWI reaches Speculos). A mixed ceremony (the HWI
//! signer, direct Ledger signers, a SoftHSM2 token) packages one snapshot that verifies and
//! whose BIP-322 proofs bip322-core accepts; a wrong fingerprint, a rejected prompt, the
//! simulator killed mid-run (then resumed: nothing signed twice), and fake HWI programs that
//! answer garbage, errors with exit status 0, `"signed": false`, or hang, or do not exist; a
//! device that never answers (the hwilib process killed at the timeout, none left running).
//! Skipped, saying why, when HWI is not installed (set `POR_ATTEST_HWI` to use another `hwi`).

use por_attest::demo::DEMO_SIGNERS;
use por_attest::hwi_demo::{hwi_address_manifest, hwi_signer_fields};
use por_attest::simulator::softhsm::{self, SoftHsm, USER_PIN};
use por_attest::simulator::{ApprovalPolicy, SimulatedLedger, TcpServer};
use por_attest::snapshot::Snapshot;
use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The HWI program, or why there is none.
fn hwi_program() -> Result<PathBuf, String> {
    let p = std::env::var_os("POR_ATTEST_HWI")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".venv-hwi/bin/hwi"));
    let ok = Command::new(&p)
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if ok {
        Ok(p)
    } else {
        Err(format!(
            "{} does not run (run scripts/setup, or set POR_ATTEST_HWI)",
            p.display()
        ))
    }
}

macro_rules! hwi_or_skip {
    () => {
        match hwi_program() {
            Ok(p) => p,
            Err(why) => {
                eprintln!("SKIP: HWI is not installed: {why}");
                return;
            }
        }
    };
}

/// `por-attest simulator` on a loopback port, with the Bitcoin app open; killed by PID when
/// dropped.
struct Sim {
    child: Child,
    port: u16,
}

impl Sim {
    /// On `port` (0: a free one).
    fn start(port: u16) -> Sim {
        let mut child = Command::new(env!("CARGO_BIN_EXE_por-attest"))
            .args(["simulator", "--listen", &format!("127.0.0.1:{port}")])
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the simulator");
        let mut line = String::new();
        BufReader::new(child.stderr.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port: u16 = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("127.0.0.1:"))
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line: {line}"));
        let sim = Sim { child, port };
        let out = por_attest()
            .args(["devices", "--device", &sim.device(), "--open", "bitcoin"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        sim
    }

    fn device(&self) -> String {
        format!("tcp:127.0.0.1:{}", self.port)
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn por_attest() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_por-attest"));
    c.stdin(Stdio::null());
    c
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The demo manifest of `n` rows with `sim-a` as an HWI signer reaching `device` through
/// `program` (see `por_attest::hwi_demo`).
fn hwi_manifest(
    dir: &Path,
    n: usize,
    device: &str,
    program: &Path,
    timeout: u64,
    extra_signers: &str,
    extra_rows: &[String],
) -> PathBuf {
    let fields = hwi_signer_fields(device, program, timeout);
    hwi_address_manifest(dir, n, &fields, extra_signers, extra_rows).unwrap()
}

fn sign_hwi(manifest: &Path, journal: &Path) -> Output {
    por_attest()
        .args(["sign", "--manifest"])
        .arg(manifest)
        .arg("--journal")
        .arg(journal)
        .args(["--signer", "sim-a"])
        .output()
        .unwrap()
}

fn sign_sim(manifest: &Path, journal: &Path, which: usize) -> Output {
    let (id, words) = DEMO_SIGNERS[which];
    por_attest()
        .args(["sign", "--manifest"])
        .arg(manifest)
        .arg("--journal")
        .arg(journal)
        .args(["--signer", id, "--device", &format!("sim:{words}")])
        .output()
        .unwrap()
}

/// The task keys of the `signed` records of a journal (each line a JSON record).
fn signed_keys(journal: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(journal) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["kind"] == "signed")
        .map(|v| {
            format!(
                "{}|{}|{}|{}",
                v["chain"], v["address"], v["signer"], v["path"]
            )
        })
        .collect()
}

fn records_of(journal: &Path, kind: &str) -> usize {
    std::fs::read_to_string(journal)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["kind"] == kind)
        .count()
}

/// A Python with bip322-core, when installed.
fn bip322_python() -> Option<PathBuf> {
    let py = repo().join(".venv-bip322/bin/python");
    let ok = Command::new(&py)
        .args(["-c", "import bip322core"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(py)
}

/// bip322-core's verdicts (`state: reason`) on `(address, message, signature)` proofs that it
/// does not find valid.
fn bip322_core_rejects(py: &Path, proofs: &[(String, String, String)]) -> Vec<String> {
    use std::io::Write;
    let mut child = Command::new(py)
        .arg(repo().join("scripts/bip322_core_verify.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        for (address, message, signature) in proofs {
            let line =
                serde_json::json!({"address": address, "message": message, "signature": signature});
            writeln!(stdin, "{line}").unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .zip(proofs)
        .filter_map(|(l, (a, _, _))| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["state"] != "valid").then(|| format!("{a}: {} {}", v["state"], v["reason"]))
        })
        .collect()
}

#[test]
fn a_mixed_ceremony_of_hwi_a_ledger_and_an_hsm_verifies() {
    let hwi = hwi_or_skip!();
    if let Some(why) = softhsm::missing() {
        eprintln!("SKIP: {why}");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let sim = Sim::start(0);
    // The HSM: one secp256k1 key on a SoftHSM2 token, a P2WPKH and a P2PKH address of it.
    let hsm = SoftHsm::new(&dir.join("hsm")).unwrap();
    hsm.init_token("hot").unwrap();
    let pk = hsm
        .generate_key("hot", "01", "hot-1", "EC:secp256k1")
        .unwrap()
        .unwrap();
    let hsm_rows: Vec<String> = [
        por_attest::chains::ScriptType::P2wpkh,
        por_attest::chains::ScriptType::P2pkh,
    ]
    .iter()
    .map(|st| {
        let a = por_attest::pkcs11::address_of(
            &pk,
            por_attest::chains::ChainFamily::Bitcoin,
            Some(*st),
            por_attest::chains::Network::Mainnet,
        )
        .unwrap();
        format!("BTC,mainnet,{a},{st},,hsm-1,hot,,,,,,id:01")
    })
    .collect();
    let hsm_signer = format!(
        "\n[[signers]]\nid = \"hsm-1\"\nkind = \"pkcs11\"\nmodule = \"{}\"\ntoken = \"hot\"\npin_env = \"POR_ATTEST_PIN\"\n",
        hsm.module().display()
    );
    let m = hwi_manifest(dir, 24, &sim.device(), &hwi, 120, &hsm_signer, &hsm_rows);

    let ja = dir.join("journal-a.jsonl");
    let out = sign_hwi(&m, &ja);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("HWI, ledger device, one Python process using hwilib 3.2.0"),
        "{t}"
    );
    // 4 each of P2PKH, P2SH-P2WPKH, P2WPKH and 2-of-3 P2WSH shares, and two P2TR.
    assert!(
        t.contains("18 signed now, 0 already in the journal, 0 rejected, 18 of 18 done"),
        "{t}"
    );
    // The HWI signer's schemes: its multisig shares are BIP-322 partial signatures of the
    // to_sign PSBT (signtx through the registered wallet), its P2PKH legacy messages.
    let schemes_of_a: Vec<String> = std::fs::read_to_string(&ja)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["kind"] == "signed")
        .map(|v| v["scheme"].as_str().unwrap_or_default().to_string())
        .collect();
    let count = |s: &str| schemes_of_a.iter().filter(|x| *x == s).count();
    assert_eq!(count("bip322-partial"), 4, "{schemes_of_a:?}");
    assert_eq!(count("bip137"), 4, "{schemes_of_a:?}");
    let mut journals = vec![ja.clone()];
    for which in [1, 2] {
        let j = dir.join(format!("journal-{which}.jsonl"));
        let out = sign_sim(&m, &j, which);
        assert!(out.status.success(), "{}", text(&out));
        journals.push(j);
    }
    let jh = dir.join("journal-hsm.jsonl");
    let out = hsm
        .command(env!("CARGO_BIN_EXE_por-attest"))
        .env("POR_ATTEST_PIN", USER_PIN)
        .stdin(Stdio::null())
        .args(["sign", "--manifest"])
        .arg(&m)
        .arg("--journal")
        .arg(&jh)
        .args(["--signer", "hsm-1"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    journals.push(jh);

    let snap_path = dir.join("snapshot.json");
    let mut package = por_attest();
    package.args(["package", "--manifest"]).arg(&m);
    for j in &journals {
        package.arg("--journal").arg(j);
    }
    let out = package.arg("--out").arg(&snap_path).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let out = por_attest().arg("verify").arg(&snap_path).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));

    // What the HWI signer signed, by script type: BIP-322 where the Ledger signs the to_sign
    // PSBT, the legacy message for P2PKH.
    let snap = Snapshot::read(&snap_path).unwrap();
    let mut schemes = std::collections::BTreeSet::new();
    let mut proofs = Vec::new();
    for e in &snap.entries {
        for s in &e.signatures {
            schemes.insert(format!(
                "{} {}",
                e.script_type.map(|t| t.as_str()).unwrap_or("-"),
                s.scheme
            ));
            if s.scheme.to_string().starts_with("bip322") {
                proofs.push((e.address.clone(), e.message.clone(), s.signature.clone()));
            }
        }
    }
    for want in [
        "p2wpkh bip322-simple",
        "p2sh-p2wpkh bip322-full",
        "p2tr bip322-simple",
        "p2pkh bip137",
        "p2wsh bip322-simple",
    ] {
        assert!(schemes.contains(want), "{want} not among {schemes:?}");
    }
    match bip322_python() {
        Some(py) => {
            let bad = bip322_core_rejects(&py, &proofs);
            assert!(bad.is_empty(), "bip322-core rejects:\n{}", bad.join("\n"));
        }
        None => eprintln!("note: bip322-core is not installed: its cross-check skipped"),
    }
}

#[test]
fn a_wrong_fingerprint_stops_before_anything_is_signed() {
    let hwi = hwi_or_skip!();
    let tmp = tempfile::tempdir().unwrap();
    let sim = Sim::start(0);
    let m = hwi_manifest(tmp.path(), 6, &sim.device(), &hwi, 60, "", &[]);
    let toml = std::fs::read_to_string(&m).unwrap();
    let f = por_attest::fixtures::master_key(DEMO_SIGNERS[0].1)
        .fingerprint(&bitcoin::secp256k1::Secp256k1::new())
        .to_string();
    std::fs::write(&m, toml.replacen(&f, "0badf00d", 1)).unwrap();
    let j = tmp.path().join("j.jsonl");
    let out = sign_hwi(&m, &j);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains(&format!(
            "expects master fingerprint 0badf00d, the device has {f}"
        )),
        "{t}"
    );
    assert!(t.contains("nothing was signed"), "{t}");
    assert!(signed_keys(&j).is_empty());

    // Without a device path HWI enumerates (USB, through the libusb of libusb-package) and
    // finds no device with the manifest's fingerprint: nothing signed either.
    let toml = std::fs::read_to_string(&m).unwrap();
    let toml = toml.replacen(&format!("device_path = \"{}\"\n", sim.device()), "", 1);
    std::fs::write(&m, toml).unwrap();
    let out = sign_hwi(&m, &j);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("enumerate`: HWI reports error 0: no device of type ledger found; expected fingerprint 0badf00d"),
        "{t}"
    );
    assert!(signed_keys(&j).is_empty());
}

#[test]
fn a_rejected_prompt_is_journaled_and_the_run_resumes() {
    let hwi = hwi_or_skip!();
    let tmp = tempfile::tempdir().unwrap();
    let device = SimulatedLedger::speculos_default();
    por_attest::signers::ensure_app(
        &mut device.transport(),
        por_attest::signers::AppKind::Bitcoin,
    )
    .unwrap();
    let srv = TcpServer::spawn("127.0.0.1:0".parse().unwrap(), device.clone()).unwrap();
    let m = hwi_manifest(
        tmp.path(),
        6,
        &format!("tcp:{}", srv.addr()),
        &hwi,
        60,
        "",
        &[],
    );
    let j = tmp.path().join("j.jsonl");
    device.set_approval(ApprovalPolicy::RejectAll);
    let out = sign_hwi(&m, &j);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(3), "{t}");
    assert!(t.contains("was rejected on the device"), "{t}");
    let journal = std::fs::read_to_string(&j).unwrap();
    assert!(
        journal.contains("rejected on the device while hwilib session -t ledger -d tcp:"),
        "{journal}"
    );
    assert_eq!(records_of(&j, "rejected"), 1, "{t}");
    assert!(signed_keys(&j).is_empty());
    device.set_approval(ApprovalPolicy::ApproveAll);
    let out = sign_hwi(&m, &j);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert_eq!(signed_keys(&j).len(), 6, "{t}");
    srv.stop().unwrap();
}

#[test]
fn the_simulator_killed_mid_run_resumes_and_signs_nothing_twice() {
    let hwi = hwi_or_skip!();
    let tmp = tempfile::tempdir().unwrap();
    let mut sim = Sim::start(0);
    let port = sim.port;
    let m = hwi_manifest(tmp.path(), 36, &sim.device(), &hwi, 60, "", &[]);
    let j = tmp.path().join("j.jsonl");
    let mut run = por_attest()
        .args(["sign", "--manifest"])
        .arg(&m)
        .arg("--journal")
        .arg(&j)
        .args(["--signer", "sim-a"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while signed_keys(&j).len() < 3 {
        assert!(
            Instant::now() < deadline,
            "no signatures within two minutes"
        );
        assert!(
            run.try_wait().unwrap().is_none(),
            "the run ended before the kill"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // The device goes away mid-run.
    let _ = sim.child.kill();
    let _ = sim.child.wait();
    let out = run.wait_with_output().unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(3), "{t}");
    assert!(t.contains("safe in the journal"), "{t}");
    let before = signed_keys(&j);
    assert!(before.len() >= 3 && before.len() < 26, "{t}");

    drop(sim);
    let _sim = Sim::start(port);
    let out = sign_hwi(&m, &j);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains(&format!("{} already in the journal", before.len())),
        "{t}"
    );
    let keys = signed_keys(&j);
    let unique: HashSet<&String> = keys.iter().collect();
    assert_eq!(unique.len(), keys.len(), "a task signed twice: {keys:?}");
    assert_eq!(keys.len(), 26);
}

/// A fake HWI program: `subcommand` answers as `action` says (a shell snippet); every other
/// command goes to the real HWI.
fn fake_hwi(dir: &Path, real: &Path, subcommand: &str, action: &str) -> PathBuf {
    let p = dir.join(format!("fake-hwi-{subcommand}"));
    let script = format!(
        "#!/bin/sh\nfor a in \"$@\"; do\n  if [ \"$a\" = {subcommand} ]; then\n{action}\n  fi\ndone\nexec '{}' \"$@\"\n",
        real.display()
    );
    std::fs::write(&p, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

fn is_running(pid: u32) -> bool {
    // A process that exited and was reaped has no /proc entry; a zombie's state is `Z`.
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.split_whitespace()
            .nth(2)
            .is_some_and(|state| state != "Z")
    })
}

#[test]
fn fake_hwi_programs_give_clear_errors_naming_the_command() {
    let hwi = hwi_or_skip!();
    let tmp = tempfile::tempdir().unwrap();
    let sim = Sim::start(0);
    let pidfile = tmp.path().join("sleeper.pid");
    let cases: [(&str, String, &str); 4] = [
        (
            "displayaddress",
            "    echo 'Traceback (most recent call last): boom'; exit 0".into(),
            "unexpected answer from HWI (not JSON",
        ),
        (
            "displayaddress",
            "    echo '{\"error\": \"Device busy\", \"code\": -15}'; exit 0".into(),
            "HWI reports error -15: Device busy",
        ),
        (
            "signtx",
            "    echo '{\"psbt\": \"cHNidP8BAAoCAAAAAAAAAAAAAA==\", \"signed\": false}'; exit 0"
                .into(),
            "\"signed\": false",
        ),
        (
            "displayaddress",
            format!(
                "    sleep 60 & echo $! > '{}'; wait; exit 0",
                pidfile.display()
            ),
            "no answer after 3 s; the HWI process was killed",
        ),
    ];
    for (i, (sub, action, want)) in cases.iter().enumerate() {
        let d = tmp.path().join(format!("case-{i}"));
        std::fs::create_dir_all(&d).unwrap();
        let fake = fake_hwi(&d, &hwi, sub, action);
        let m = hwi_manifest(
            &d,
            6,
            &sim.device(),
            &fake,
            if i == 3 { 3 } else { 60 },
            "",
            &[],
        );
        let j = d.join("j.jsonl");
        let out = sign_hwi(&m, &j);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(3), "case {i}: {t}");
        assert!(t.contains(want), "case {i}: {t}");
        assert!(
            t.contains(&format!(
                "{} -t ledger -d {} {sub}",
                fake.display(),
                sim.device()
            )),
            "case {i}: {t}"
        );
        assert!(t.contains("Resume with"), "case {i}: {t}");
    }
    // The hung call's process group was killed: its `sleep` is not left running.
    let pid: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while is_running(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !is_running(pid),
        "the hung HWI call's child {pid} is still running"
    );

    // A program that does not exist: nothing signed, exit 2, the command named.
    let m = hwi_manifest(
        &tmp.path().join("missing"),
        6,
        &sim.device(),
        Path::new("/nonexistent/hwi"),
        60,
        "",
        &[],
    );
    let out = sign_hwi(&m, &tmp.path().join("missing/j.jsonl"));
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("`/nonexistent/hwi -t ledger -d"), "{t}");
    assert!(t.contains("cannot run the HWI program"), "{t}");
    assert!(t.contains("nothing was signed"), "{t}");
}

/// The processes whose environment holds `tag` (`POR_ATTEST_TEST_TAG`), still running.
fn tagged_processes(tag: &str) -> Vec<u32> {
    let needle = format!("POR_ATTEST_TEST_TAG={tag}");
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|v| v == needle.as_bytes()))
        })
        .filter(|pid| is_running(*pid))
        .collect()
}

#[test]
fn a_device_that_never_answers_times_out_and_the_hwilib_process_is_killed() {
    let hwi = hwi_or_skip!();
    let tmp = tempfile::tempdir().unwrap();
    // A device that takes the connection and never answers: a listener nobody accepts from
    // (the kernel completes the connection and buffers the request).
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let srv_addr = silent.local_addr().unwrap();
    let m = hwi_manifest(tmp.path(), 6, &format!("tcp:{srv_addr}"), &hwi, 3, "", &[]);
    let tag = format!("hwi-timeout-{}", std::process::id());
    let j = tmp.path().join("j.jsonl");
    let start = Instant::now();
    let out = por_attest()
        .env("POR_ATTEST_TEST_TAG", &tag)
        .args(["sign", "--manifest"])
        .arg(&m)
        .arg("--journal")
        .arg(&j)
        .args(["--signer", "sim-a"])
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("hwilib session -t ledger -d tcp:"), "{t}");
    assert!(
        t.contains("no answer after 3 s; the HWI process was killed"),
        "{t}"
    );
    assert!(t.contains("nothing was signed"), "{t}");
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(
        tagged_processes(&tag),
        Vec::<u32>::new(),
        "HWI left running"
    );
    assert!(signed_keys(&j).is_empty());
    drop(silent);
}
