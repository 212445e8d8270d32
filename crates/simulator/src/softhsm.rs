//! A real PKCS#11 token for tests and benchmarks: SoftHSM2 (Debian `softhsm2`) with its token
//! store in a folder the caller owns, tokens initialized with `softhsm2-util` and secp256k1 key
//! pairs generated with OpenSC's `pkcs11-tool` (Debian `opensc`). Every command and every
//! process that loads the module must see [`SoftHsm::conf`] in `SOFTHSM2_CONF` (SoftHSM2 reads
//! it when the module is initialized, once per process).

use bitcoin::secp256k1::PublicKey;
use std::path::{Path, PathBuf};
use std::process::Command;
use thiserror::Error;

/// The user PIN of every token made here (a test PIN, never a real one).
pub const USER_PIN: &str = "246810";
/// The security officer PIN of every token made here.
const SO_PIN: &str = "13579111";

/// Where Debian and other systems install the SoftHSM2 module (`POR_ATTEST_SOFTHSM_MODULE`
/// names another).
const MODULE_PATHS: &[&str] = &[
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
];

/// Why the SoftHSM2 fixture could not do something.
#[derive(Debug, Error)]
pub enum SoftHsmError {
    /// SoftHSM2 or OpenSC is not installed.
    #[error("{0}")]
    Missing(String),
    /// A file of the token store could not be written.
    #[error("cannot write {file}: {source}")]
    Io {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A command failed.
    #[error("`{command}` failed: {output}")]
    Command {
        /// The command line (no PIN in it is secret: test PINs only).
        command: String,
        /// What it printed.
        output: String,
    },
}

/// The SoftHSM2 module, if installed.
pub fn module_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("POR_ATTEST_SOFTHSM_MODULE") {
        return Some(PathBuf::from(p));
    }
    MODULE_PATHS.iter().map(PathBuf::from).find(|p| p.exists())
}

/// Why tests on SoftHSM2 cannot run here (to print when skipping), or `None` when they can.
pub fn missing() -> Option<String> {
    if module_path().is_none() {
        return Some(format!(
            "SoftHSM2 is not installed (no libsofthsm2.so in {}; Debian: apt-get install softhsm2 opensc, or run scripts/setup)",
            MODULE_PATHS.join(", ")
        ));
    }
    for tool in ["softhsm2-util", "pkcs11-tool"] {
        let found = Command::new(tool).arg("--help").output().is_ok();
        if !found {
            return Some(format!(
                "`{tool}` is not installed (Debian: apt-get install softhsm2 opensc, or run scripts/setup)"
            ));
        }
    }
    None
}

/// A SoftHSM2 token store in a folder of its own.
#[derive(Debug, Clone)]
pub struct SoftHsm {
    conf: PathBuf,
    module: PathBuf,
}

impl SoftHsm {
    /// A new, empty token store in `dir` (which must exist): `dir/tokens/` and
    /// `dir/softhsm2.conf`.
    pub fn new(dir: &Path) -> Result<SoftHsm, SoftHsmError> {
        if let Some(why) = missing() {
            return Err(SoftHsmError::Missing(why));
        }
        let module = module_path().expect("checked by missing()");
        let tokens = dir.join("tokens");
        let io = |file: &Path| {
            let file = file.to_path_buf();
            move |source| SoftHsmError::Io { file, source }
        };
        std::fs::create_dir_all(&tokens).map_err(io(&tokens))?;
        let conf = dir.join("softhsm2.conf");
        let text = format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
            tokens.display()
        );
        std::fs::write(&conf, text).map_err(io(&conf))?;
        Ok(SoftHsm { conf, module })
    }

    /// The configuration file: `SOFTHSM2_CONF` must name it.
    pub fn conf(&self) -> &Path {
        &self.conf
    }

    /// The module library.
    pub fn module(&self) -> &Path {
        &self.module
    }

    /// A command with `SOFTHSM2_CONF` set to this store.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.env("SOFTHSM2_CONF", &self.conf);
        c
    }

    fn run(&self, mut c: Command) -> Result<String, SoftHsmError> {
        let line = format!("{c:?}");
        let out = c.output().map_err(|e| SoftHsmError::Command {
            command: line.clone(),
            output: e.to_string(),
        })?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if !out.status.success() {
            return Err(SoftHsmError::Command {
                command: line,
                output: text,
            });
        }
        Ok(text)
    }

    /// Initializes a token labelled `label` with [`USER_PIN`]; returns its serial number.
    pub fn init_token(&self, label: &str) -> Result<String, SoftHsmError> {
        let mut c = self.command("softhsm2-util");
        c.args([
            "--init-token",
            "--free",
            "--label",
            label,
            "--pin",
            USER_PIN,
        ]);
        c.args(["--so-pin", SO_PIN]);
        self.run(c)?;
        let mut c = self.command("softhsm2-util");
        c.arg("--show-slots");
        let slots = self.run(c)?;
        serial_of(&slots, label).ok_or_else(|| SoftHsmError::Command {
            command: "softhsm2-util --show-slots".into(),
            output: format!("no token labelled {label} in:\n{slots}"),
        })
    }

    /// Generates a key pair on `token` with `pkcs11-tool --keypairgen --key-type KEY_TYPE`
    /// (`EC:secp256k1`, `EC:prime256v1`, ...), CKA_ID `id_hex` and CKA_LABEL `label`; returns
    /// the public key when it is a secp256k1 one.
    pub fn generate_key(
        &self,
        token: &str,
        id_hex: &str,
        label: &str,
        key_type: &str,
    ) -> Result<Option<PublicKey>, SoftHsmError> {
        let mut c = self.command("pkcs11-tool");
        c.arg("--module").arg(&self.module);
        c.args(["--token-label", token, "--login", "--pin", USER_PIN]);
        c.args(["--keypairgen", "--key-type", key_type, "--id", id_hex]);
        c.args(["--label", label]);
        let out = self.run(c)?;
        Ok(out
            .lines()
            .find_map(|l| l.trim().strip_prefix("EC_POINT:"))
            .and_then(|h| hex::decode(h.trim()).ok())
            .and_then(|der| match der.as_slice() {
                [0x04, len, point @ ..] if usize::from(*len) == point.len() => {
                    PublicKey::from_slice(point).ok()
                }
                _ => None,
            }))
    }
}

/// The serial number of the token labelled `label` in `softhsm2-util --show-slots` output.
fn serial_of(show_slots: &str, label: &str) -> Option<String> {
    let mut serial = None;
    for line in show_slots.lines().map(str::trim) {
        if line.starts_with("Slot ") {
            serial = None;
        } else if let Some(s) = line.strip_prefix("Serial number:") {
            serial = Some(s.trim().to_string());
        } else if let Some(l) = line.strip_prefix("Label:") {
            if l.trim() == label {
                return serial.filter(|s| !s.is_empty());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_from_show_slots() {
        let out = "Available slots:\nSlot 1315872954\n    Slot info:\n        Description:      SoftHSM slot\n    Token info:\n        Serial number:    9fe5890dce6ea0ba\n        Initialized:      yes\n        Label:            por-test                        \nSlot 1\n    Token info:\n        Serial number:                    \n        Initialized:      no\n        Label:                                            \n";
        assert_eq!(
            serial_of(out, "por-test").as_deref(),
            Some("9fe5890dce6ea0ba")
        );
        assert_eq!(serial_of(out, ""), None);
        assert_eq!(serial_of(out, "other"), None);
    }
}
