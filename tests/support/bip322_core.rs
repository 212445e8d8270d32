//! PyPI's bip322-core (installed by `scripts/setup` into `.venv-bip322/`, or the Python
//! `POR_ATTEST_BIP322_PYTHON` names), for the tests that check our BIP-322 proofs with an
//! independent implementation or have it sign.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The checkout.
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A Python with bip322-core, or why there is none.
pub fn python() -> Result<PathBuf, String> {
    let py = std::env::var_os("POR_ATTEST_BIP322_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".venv-bip322/bin/python"));
    if !py.exists() {
        return Err(format!(
            "{} does not exist (run scripts/setup, or set POR_ATTEST_BIP322_PYTHON)",
            py.display()
        ));
    }
    let ok = Command::new(&py)
        .args(["-c", "import bip322core"])
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if ok {
        Ok(py)
    } else {
        Err(format!("{} cannot import bip322core", py.display()))
    }
}

/// bip322-core's verdict (`state`, `reason`) on each `(address, message, signature)`.
pub fn verify(py: &Path, proofs: &[(String, String, String)]) -> Vec<(String, String)> {
    let mut child = Command::new(py)
        .arg(repo().join("scripts/bip322_core_verify.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run bip322-core");
    {
        let mut stdin = child.stdin.take().expect("stdin");
        for (address, message, signature) in proofs {
            let line = serde_json::json!({
                "address": address, "message": message, "signature": signature,
            });
            writeln!(stdin, "{line}").expect("write a proof");
        }
    }
    let out = child.wait_with_output().expect("bip322-core ran");
    assert!(out.status.success(), "bip322-core failed");
    let verdicts: Vec<(String, String)> = String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("a JSON verdict");
            (
                v["state"].as_str().unwrap_or("").to_string(),
                v["reason"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(verdicts.len(), proofs.len());
    verdicts
}
