//! `por-attest watch --json` run as a child process for the tests: its events (one JSON object
//! per line) read on a thread, waited for with a timeout, every one kept.
#![allow(dead_code)]

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// A running `por-attest watch --json`, its events read on a thread.
pub struct Watcher {
    /// The process.
    pub child: Child,
    events: Receiver<Value>,
    /// Every event read so far.
    pub seen: Vec<Value>,
}

impl Watcher {
    /// Starts `por-attest watch ARGS`.
    pub fn start(args: &[&str]) -> Watcher {
        let mut child = Command::new(env!("CARGO_BIN_EXE_por-attest"))
            .arg("watch")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, events) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { return };
                let v: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("not one JSON object per line ({e}): {line}"));
                if tx.send(v).is_err() {
                    return;
                }
            }
        });
        Watcher {
            child,
            events,
            seen: Vec::new(),
        }
    }

    /// The next event matching `want` (every event read is kept in `seen`).
    pub fn wait_for(&mut self, what: &str, want: impl Fn(&Value) -> bool) -> Value {
        let t0 = Instant::now();
        loop {
            let left = Duration::from_secs(60).saturating_sub(t0.elapsed());
            match self.events.recv_timeout(left) {
                Ok(v) => {
                    self.seen.push(v.clone());
                    if want(&v) {
                        return v;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!("no {what} within 60 s; seen: {:#?}", self.seen)
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("the watcher ended before {what}; seen: {:#?}", self.seen)
                }
            }
        }
    }

    /// SIGTERM, then the exit status.
    pub fn terminate(&mut self) -> i32 {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        self.wait_exit()
    }

    /// The exit status after the output ends.
    pub fn wait_exit(&mut self) -> i32 {
        while let Ok(v) = self.events.recv_timeout(Duration::from_secs(60)) {
            self.seen.push(v);
        }
        self.child
            .wait()
            .unwrap()
            .code()
            .expect("exited, not killed")
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// True when `v` is an `event` event.
pub fn is(v: &Value, event: &str) -> bool {
    v["event"] == event
}
