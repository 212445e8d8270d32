//! A real AWS KMS API server for the KMS tests and benchmark: `scripts/moto_kms.py` (moto's KMS
//! with its DIGEST and key-state departures from AWS fixed; see the script) run with the Python
//! of `.venv-kms`, which `scripts/setup` installs, on a free loopback port it reports; stopped
//! by PID when dropped. Also the soft `command` signer adapter the tests drive.
#![allow(dead_code)]

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The checkout's root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// The Python of `.venv-kms` (or `$POR_ATTEST_KMS_PYTHON`).
pub fn python() -> PathBuf {
    std::env::var_os("POR_ATTEST_KMS_PYTHON")
        .map_or_else(|| root().join(".venv-kms/bin/python"), PathBuf::from)
}

/// Why the local KMS server cannot run here, if it cannot.
pub fn missing() -> Option<String> {
    let ok = Command::new(python())
        .args(["-c", "import moto, cryptography, werkzeug"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    (!ok).then(|| {
        format!(
            "moto[server] is not installed in {} (scripts/setup installs it)",
            python().display()
        )
    })
}

/// One key the server created.
#[derive(Debug, Clone)]
pub struct KmsKey {
    /// `alias/NAME`, if it has one.
    pub alias: Option<String>,
    /// The key id (UUID).
    pub key_id: String,
    /// Its ARN.
    pub arn: String,
    /// Its secp256k1 public key (SEC1 hex), for secp256k1 keys.
    pub public_key: Option<bitcoin::secp256k1::PublicKey>,
}

/// A running local KMS server, killed by PID on drop.
pub struct MotoKms {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// Its region.
    pub region: String,
    /// The keys created at start, in order.
    pub keys: Vec<KmsKey>,
}

impl Drop for MotoKms {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The credentials the tests give (moto accepts any).
pub const ACCESS_KEY_ID: &str = "AKIAPORATTESTEXAMPLE";
/// Never printed: the tests check every output for it.
pub const SECRET_ACCESS_KEY: &str = "por-attest-test-secret-Q2hlY2sgdGhpcw";

impl MotoKms {
    /// Starts the server with `keys` (the script's --keys JSON), `secp256k1` more keys
    /// alias/hot-1..N, and `extra` arguments (faults).
    pub fn start(keys: &str, secp256k1: usize, extra: &[&str]) -> MotoKms {
        let mut child = Command::new(python())
            .arg(root().join("scripts/moto_kms.py"))
            .args(["--keys", keys, "--secp256k1", &secp256k1.to_string()])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start scripts/moto_kms.py");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let v: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("moto_kms.py said {line:?}: {e}"));
        let keys = v["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| KmsKey {
                alias: k["alias"].as_str().map(str::to_string),
                key_id: k["key_id"].as_str().unwrap().to_string(),
                arn: k["arn"].as_str().unwrap().to_string(),
                public_key: k["public_key"].as_str().map(|h| h.parse().unwrap()),
            })
            .collect();
        MotoKms {
            child,
            endpoint: format!("http://127.0.0.1:{}", v["port"]),
            region: v["region"].as_str().unwrap().to_string(),
            keys,
        }
    }

    /// The key with alias `alias`.
    pub fn key(&self, alias: &str) -> &KmsKey {
        self.keys
            .iter()
            .find(|k| k.alias.as_deref() == Some(alias))
            .unwrap_or_else(|| panic!("no key {alias}"))
    }

    /// The `[[signers]]` table of an aws-kms signer `id` on this server.
    pub fn signer_toml(&self, id: &str) -> String {
        format!(
            "[[signers]]\nid = \"{id}\"\nkind = \"aws-kms\"\nregion = \"{}\"\nendpoint = \"{}\"\n",
            self.region, self.endpoint
        )
    }

    /// Sets the test credentials (and nothing else of AWS's) on `c`.
    pub fn credentials(c: &mut Command) -> &mut Command {
        for (k, _) in std::env::vars() {
            if k.starts_with("AWS_") {
                c.env_remove(k);
            }
        }
        c.env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
            .env("AWS_EC2_METADATA_DISABLED", "true")
    }
}

/// The soft `command` signer adapter (tests/support/soft_signer.py) with `args`, as a
/// manifest's `command` array.
pub fn soft_signer_command(args: &[&str]) -> String {
    let mut items = vec![
        python().display().to_string(),
        root()
            .join("tests/support/soft_signer.py")
            .display()
            .to_string(),
    ];
    items.extend(args.iter().map(|a| a.to_string()));
    let quoted: Vec<String> = items.iter().map(|i| format!("{i:?}")).collect();
    format!("[{}]", quoted.join(", "))
}

/// The soft adapter's key `name`: the secp256k1 key of SHA-256("por-attest soft signer NAME").
pub fn soft_signer_key(name: &str) -> bitcoin::secp256k1::PublicKey {
    use bitcoin::hashes::{sha256, Hash};
    let sk = bitcoin::secp256k1::SecretKey::from_slice(
        sha256::Hash::hash(format!("por-attest soft signer {name}").as_bytes()).as_ref(),
    )
    .unwrap();
    sk.public_key(&bitcoin::secp256k1::Secp256k1::new())
}
