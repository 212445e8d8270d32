//! kill -9 in the middle of a run: the tests that prove a resumed run loses nothing and
//! signs nothing twice.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Starts `c` (output discarded) and sends it SIGKILL once `ready()` holds (polled every
/// `poll`), failing the test if it ends first or `ready()` does not hold within a minute.
pub fn kill_when(mut c: Command, poll: Duration, ready: impl Fn() -> bool) {
    c.stdout(Stdio::null()).stderr(Stdio::null());
    let mut child = c.spawn().unwrap();
    let started = Instant::now();
    while !ready() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the run never got far enough to be killed"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before the kill"
        );
        std::thread::sleep(poll);
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
}
