//! Running HWI: one `hwi` process per call ([`PerCall`]), or one Python process using hwilib
//! for the whole run ([`Session`], `session.py`), which saves HWI's start-up on every call.
//! Either way each call has a timeout after which the process (and its process group) is
//! killed and reaped: no HWI process outlives the call that timed out, or the signer.

use super::reply::{self, HwiError};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request to HWI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// List the devices (`enumerate`).
    Enumerate,
    /// The device's master fingerprint.
    Fingerprint,
    /// `getxpub PATH`.
    GetXpub(String),
    /// `displayaddress --path PATH --addr-type TYPE`.
    DisplayPath {
        /// The key's full path.
        path: String,
        /// HWI's address type: `legacy`, `sh_wit`, `wit`, `tap`.
        addr_type: &'static str,
    },
    /// `displayaddress --desc DESC`.
    DisplayDesc(String),
    /// `signmessage MESSAGE PATH`.
    SignMessage {
        /// The message.
        message: String,
        /// The key's path.
        path: String,
    },
    /// `signtx PSBT` (base64).
    SignTx(String),
}

impl Call {
    /// The HWI subcommand and its arguments that name what is asked (paths, descriptors),
    /// without the message or PSBT it carries: for error messages.
    pub fn label(&self) -> String {
        match self {
            Call::Enumerate => "enumerate".into(),
            Call::Fingerprint => "getkeypool (master fingerprint)".into(),
            Call::GetXpub(p) => format!("getxpub {p}"),
            Call::DisplayPath { path, addr_type } => {
                format!("displayaddress --path {path} --addr-type {addr_type}")
            }
            Call::DisplayDesc(d) => format!("displayaddress --desc {d}"),
            Call::SignMessage { path, .. } => format!("signmessage MESSAGE {path}"),
            Call::SignTx(_) => "signtx PSBT".into(),
        }
    }

    /// Whether the device puts this before a person (a confirmation).
    pub fn prompts(&self) -> bool {
        matches!(
            self,
            Call::DisplayPath { .. }
                | Call::DisplayDesc(_)
                | Call::SignMessage { .. }
                | Call::SignTx(_)
        )
    }
}

/// The device a backend talks to once it is found: HWI's `-t TYPE -d PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// HWI's device type.
    pub device_type: String,
    /// HWI's device path.
    pub device_path: String,
}

/// A way of putting [`Call`]s to HWI.
pub trait Backend: Send {
    /// Opens `target` for the calls that follow (all but [`Call::Enumerate`]).
    fn open(&mut self, target: &Target) -> Result<(), HwiError>;
    /// One call; the answer is checked for HWI's error object.
    fn call(&mut self, call: &Call) -> Result<Value, HwiError>;
    /// How this backend runs HWI, for the operator.
    fn describe(&self) -> String;
    /// The call as this backend runs it (program, device options, subcommand), for messages.
    fn label(&self, call: &Call) -> String;
}

/// `--chain` of a network: HWI's `main`, `test`, `signet`, `regtest`.
pub type Chain = &'static str;

/// One `hwi` process per call.
pub struct PerCall {
    program: PathBuf,
    chain: Chain,
    device: Vec<String>,
    timeout: Duration,
    library_path: Option<std::ffi::OsString>,
}

/// `LD_LIBRARY_PATH` with the libusb that PyPI's `libusb-package` ships beside `python` (in the
/// same virtual environment) in front: HWI's USB drivers load libusb by name, and a machine
/// without Debian's libusb has only that one. `None` when there is none.
pub fn library_path_for(python: &Path) -> Option<std::ffi::OsString> {
    let venv = python.parent()?.parent()?;
    let dir = std::fs::read_dir(venv.join("lib"))
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path().join("site-packages/libusb_package"))
        .find(|d| d.is_dir())?;
    let mut paths = vec![dir];
    if let Some(old) = std::env::var_os("LD_LIBRARY_PATH") {
        paths.extend(std::env::split_paths(&old));
    }
    std::env::join_paths(paths).ok()
}

impl PerCall {
    /// HWI as `program`, for `chain`, each call killed after `timeout`.
    pub fn new(program: PathBuf, chain: Chain, timeout: Duration) -> PerCall {
        let library_path = python_of(&program).and_then(|py| library_path_for(&py));
        PerCall {
            program,
            chain,
            device: Vec::new(),
            timeout,
            library_path,
        }
    }

    fn args(&self, call: &Call) -> Vec<String> {
        let mut args = vec!["--chain".to_string(), self.chain.to_string()];
        if *call != Call::Enumerate {
            args.extend(self.device.iter().cloned());
        }
        let coin = if self.chain == "main" { 0 } else { 1 };
        let rest: Vec<String> = match call {
            Call::Enumerate => vec!["enumerate".into()],
            // HWI's CLI has no fingerprint command: the key origin of one standard descriptor
            // carries it (one silent key export at m/84'/coin'/0').
            Call::Fingerprint => vec![
                "getkeypool".into(),
                "--path".into(),
                format!("m/84h/{coin}h/0h/0/*"),
                "0".into(),
                "0".into(),
            ],
            Call::GetXpub(p) => vec!["getxpub".into(), p.clone()],
            Call::DisplayPath { path, addr_type } => vec![
                "displayaddress".into(),
                "--path".into(),
                path.clone(),
                "--addr-type".into(),
                addr_type.to_string(),
            ],
            Call::DisplayDesc(d) => vec!["displayaddress".into(), "--desc".into(), d.clone()],
            // `--`: a message that begins with `-` is not an option.
            Call::SignMessage { message, path } => {
                vec![
                    "signmessage".into(),
                    "--".into(),
                    message.clone(),
                    path.clone(),
                ]
            }
            Call::SignTx(psbt) => vec!["signtx".into(), psbt.clone()],
        };
        args.extend(rest);
        args
    }
}

impl Backend for PerCall {
    fn open(&mut self, target: &Target) -> Result<(), HwiError> {
        self.device = vec![
            "-t".into(),
            target.device_type.clone(),
            "-d".into(),
            target.device_path.clone(),
        ];
        Ok(())
    }

    fn call(&mut self, call: &Call) -> Result<Value, HwiError> {
        let label = self.label(call);
        let mut cmd = Command::new(&self.program);
        cmd.args(self.args(call));
        if let Some(p) = &self.library_path {
            cmd.env("LD_LIBRARY_PATH", p);
        }
        let (stdout, stderr) = run_killing_on_timeout(cmd, self.timeout, &label)?;
        let value = reply::parse_output(&label, &stdout, &stderr)?;
        if *call != Call::Fingerprint {
            return Ok(value);
        }
        let desc = value
            .get(0)
            .and_then(|d| d.get("desc"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        match reply::descriptor_fingerprint(desc) {
            Some(f) => Ok(json!({ "fingerprint": f })),
            None => Err(HwiError::Garbage {
                command: label,
                detail: "no descriptor with a key origin".into(),
                excerpt: reply::excerpt(&value.to_string()),
            }),
        }
    }

    fn describe(&self) -> String {
        format!("one `{}` process per call", self.program.display())
    }

    fn label(&self, call: &Call) -> String {
        let mut parts = vec![self.program.display().to_string()];
        if *call != Call::Enumerate {
            parts.extend(self.device.iter().cloned());
        }
        parts.push(call.label());
        parts.join(" ")
    }
}

/// Runs `cmd` with no stdin; kills its process group after `timeout`.
fn run_killing_on_timeout(
    mut cmd: Command,
    timeout: Duration,
    label: &str,
) -> Result<(String, String), HwiError> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = spawn_in_own_group(&mut cmd).map_err(|e| HwiError::Missing {
        command: label.to_string(),
        detail: e.to_string(),
    })?;
    let out = read_all(child.stdout.take());
    let err = read_all(child.stderr.take());
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() >= deadline => {
                kill_group(&mut child);
                let _ = (out.join(), err.join());
                return Err(HwiError::Timeout {
                    command: label.to_string(),
                    seconds: timeout.as_secs(),
                });
            }
            Ok(None) => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(20));
            }
            Err(e) => {
                kill_group(&mut child);
                return Err(HwiError::Missing {
                    command: label.to_string(),
                    detail: format!("cannot wait for the process: {e}"),
                });
            }
        }
    }
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    Ok((stdout, stderr))
}

/// A thread reading `pipe` to its end.
fn read_all<R: Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut text);
        }
        String::from_utf8_lossy(&text).into_owned()
    })
}

/// Spawns `cmd` as the leader of a process group of its own, so that a timeout kills whatever
/// it started too.
fn spawn_in_own_group(cmd: &mut Command) -> std::io::Result<Child> {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    cmd.spawn()
}

/// Kills `child`'s process group (it leads one: [`spawn_in_own_group`]) and reaps `child`.
fn kill_group(child: &mut Child) {
    #[cfg(unix)]
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: kill(2) with a negative pid signals the process group `pid` leads; the child
        // is not reaped yet, so the group id is still ours.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The Python interpreter of an HWI program installed by pip (its `#!` line names it), if any.
pub fn python_of(program: &Path) -> Option<PathBuf> {
    let resolved = if program.components().count() > 1 {
        program.to_path_buf()
    } else {
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path)
            .map(|d| d.join(program))
            .find(|p| p.is_file())?
    };
    let mut head = [0u8; 256];
    let n = std::fs::File::open(resolved).ok()?.read(&mut head).ok()?;
    let first = std::str::from_utf8(&head[..n]).ok()?.lines().next()?;
    let interpreter = first.strip_prefix("#!")?.split_whitespace().next()?;
    let name = Path::new(interpreter).file_name()?.to_str()?;
    name.starts_with("python")
        .then(|| PathBuf::from(interpreter))
}

/// The helper the session runs.
const SESSION_PY: &str = include_str!("session.py");

/// One Python process using hwilib for the whole run.
pub struct Session {
    python: PathBuf,
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
    timeout: Duration,
    chain: Chain,
    target: Option<Target>,
    version: String,
}

impl Session {
    /// Starts `python` on the helper; `Err` when it does not start or cannot import hwilib
    /// (then one process per call is the way).
    pub fn start(python: &Path, chain: Chain, timeout: Duration) -> Result<Session, HwiError> {
        let label = format!("{} (hwilib session)", python.display());
        let mut cmd = Command::new(python);
        cmd.args(["-u", "-c", SESSION_PY]);
        if let Some(p) = library_path_for(python) {
            cmd.env("LD_LIBRARY_PATH", p);
        }
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = spawn_in_own_group(&mut cmd).map_err(|e| HwiError::Missing {
            command: label.clone(),
            detail: e.to_string(),
        })?;
        let stdin = child.stdin.take();
        let (tx, lines) = mpsc::channel();
        if let Some(out) = child.stdout.take() {
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines() {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        let stderr = Arc::new(Mutex::new(String::new()));
        if let Some(mut err) = child.stderr.take() {
            let keep = stderr.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = err.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    let mut s = keep.lock().unwrap_or_else(|e| e.into_inner());
                    if s.len() < 16_384 {
                        s.push_str(&String::from_utf8_lossy(&buf[..n]));
                    }
                }
            });
        }
        let mut session = Session {
            python: python.to_path_buf(),
            child: Some(child),
            stdin,
            lines,
            stderr,
            timeout,
            chain,
            target: None,
            version: String::new(),
        };
        let ready = session.receive(&label)?;
        let ready = reply::check_error(&label, ready)?;
        session.version = ready
            .get("version")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string();
        Ok(session)
    }

    fn session_label(&self, call: &str) -> String {
        let device = self
            .target
            .as_ref()
            .map(|t| format!(" -t {} -d {}", t.device_type, t.device_path))
            .unwrap_or_default();
        format!("hwilib session{device} {call}")
    }

    /// The next answer, or the process killed after the timeout.
    fn receive(&mut self, label: &str) -> Result<Value, HwiError> {
        match self.lines.recv_timeout(self.timeout) {
            Ok(line) => serde_json::from_str(&line).map_err(|e| HwiError::Garbage {
                command: label.to_string(),
                detail: format!("not JSON: {e}"),
                excerpt: reply::excerpt(&line),
            }),
            Err(RecvTimeoutError::Timeout) => {
                self.stop();
                Err(HwiError::Timeout {
                    command: label.to_string(),
                    seconds: self.timeout.as_secs(),
                })
            }
            Err(RecvTimeoutError::Disconnected) => {
                self.stop();
                let stderr = self.stderr.lock().map(|s| s.clone()).unwrap_or_default();
                Err(HwiError::Garbage {
                    command: label.to_string(),
                    detail: "the hwilib process exited".into(),
                    excerpt: reply::excerpt(&stderr),
                })
            }
        }
    }

    fn request(&mut self, label: &str, request: &Value) -> Result<Value, HwiError> {
        let Some(stdin) = self.stdin.as_mut() else {
            return Err(HwiError::Garbage {
                command: label.to_string(),
                detail: "the hwilib process was stopped by an earlier failure".into(),
                excerpt: String::new(),
            });
        };
        if let Err(e) = writeln!(stdin, "{request}").and_then(|()| stdin.flush()) {
            self.stop();
            return Err(HwiError::Garbage {
                command: label.to_string(),
                detail: format!("cannot write to the hwilib process: {e}"),
                excerpt: String::new(),
            });
        }
        let value = self.receive(label)?;
        reply::check_error(label, value)
    }

    /// Kills the process (group) and reaps it.
    fn stop(&mut self) {
        self.stdin = None;
        if let Some(mut child) = self.child.take() {
            kill_group(&mut child);
        }
    }
}

impl Backend for Session {
    fn open(&mut self, target: &Target) -> Result<(), HwiError> {
        self.target = Some(target.clone());
        let label = self.session_label("(open)");
        self.request(
            &label,
            &json!({
                "command": "open",
                "device_type": target.device_type,
                "device_path": target.device_path,
                "chain": self.chain,
            }),
        )
        .map(drop)
    }

    fn call(&mut self, call: &Call) -> Result<Value, HwiError> {
        let label = self.session_label(&call.label());
        let request = match call {
            Call::Enumerate => json!({"command": "enumerate", "chain": self.chain}),
            Call::Fingerprint => json!({"command": "fingerprint"}),
            Call::GetXpub(p) => json!({"command": "getxpub", "path": p}),
            Call::DisplayPath { path, addr_type } => {
                json!({"command": "displayaddress", "path": path, "addr_type": addr_type})
            }
            Call::DisplayDesc(d) => json!({"command": "displayaddress", "desc": d}),
            Call::SignMessage { message, path } => {
                json!({"command": "signmessage", "message": message, "path": path})
            }
            Call::SignTx(psbt) => json!({"command": "signtx", "psbt": psbt}),
        };
        self.request(&label, &request)
    }

    fn describe(&self) -> String {
        format!(
            "one Python process using hwilib {} for the run ({})",
            self.version,
            self.python.display()
        )
    }

    fn label(&self, call: &Call) -> String {
        self.session_label(&call.label())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // End of input: the helper closes the device and exits; it gets two seconds.
        self.stdin = None;
        if let Some(child) = self.child.as_mut() {
            let deadline = Instant::now() + Duration::from_secs(2);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    self.child = None;
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_call_arguments() {
        let mut p = PerCall::new("hwi".into(), "test", Duration::from_secs(1));
        p.open(&Target {
            device_type: "trezor".into(),
            device_path: "webusb:001:4".into(),
        })
        .unwrap();
        let message = Call::SignMessage {
            message: "-Acme proof of reserves".into(),
            path: "m/84h/1h/0h/0/0".into(),
        };
        assert_eq!(
            p.args(&message).join(" "),
            "--chain test -t trezor -d webusb:001:4 signmessage -- -Acme proof of reserves m/84h/1h/0h/0/0"
        );
        assert_eq!(p.args(&Call::Enumerate).join(" "), "--chain test enumerate");
        assert_eq!(
            p.args(&Call::Fingerprint).join(" "),
            "--chain test -t trezor -d webusb:001:4 getkeypool --path m/84h/1h/0h/0/* 0 0"
        );
        // Messages name the call, never the message or the PSBT.
        assert_eq!(
            p.label(&message),
            "hwi -t trezor -d webusb:001:4 signmessage MESSAGE m/84h/1h/0h/0/0"
        );
        assert_eq!(
            p.label(&Call::SignTx("cHNidP8=".into())),
            "hwi -t trezor -d webusb:001:4 signtx PSBT"
        );
    }

    #[test]
    fn the_python_of_a_pip_script() {
        let dir = std::env::temp_dir().join(format!("por-attest-hwi-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("hwi");
        std::fs::write(&script, "#!/opt/venv/bin/python3\nimport sys\n").unwrap();
        assert_eq!(
            python_of(&script),
            Some(PathBuf::from("/opt/venv/bin/python3"))
        );
        std::fs::write(&script, "#!/bin/sh\nexec hwi \"$@\"\n").unwrap();
        assert_eq!(python_of(&script), None);
        std::fs::write(&script, [0x7f, b'E', b'L', b'F', 0, 1]).unwrap();
        assert_eq!(python_of(&script), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
