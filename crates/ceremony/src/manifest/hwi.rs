//! The manifest's HWI parts: a `kind = "hwi"` signer, a hardware wallet HWI (Bitcoin Core's
//! Hardware Wallet Interface) drives: which device (`device_type`, `device_path`; by default
//! HWI finds it by the signer's `fingerprint`), which HWI program (`command`), how long one
//! call may take (`timeout_seconds`) and whether it may sign BIP-322 transactions (`bip322`).

use super::raw::{RawCommand, RawSigner};
use super::SignerKind;
use por_attest_verify::error::InputError;
use std::path::Path;
use std::time::Duration;

/// How long one HWI call may take by default: a person may read a long screen on the device.
pub const DEFAULT_HWI_TIMEOUT: Duration = Duration::from_secs(600);

/// The device types HWI 3.2.0 drives (`hwilib/devices/`); an enumerated model such as
/// `trezor_t` or `ledger_nano_s_plus` names its type before the first `_`.
pub const HWI_DEVICE_TYPES: [&str; 7] = [
    "ledger",
    "trezor",
    "keepkey",
    "bitbox02",
    "coldcard",
    "jade",
    "digitalbitbox",
];

/// Where an `hwi` signer is and how to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HwiConfig {
    /// The HWI program as written (default `hwi`, looked up on `PATH`); a relative path with a
    /// `/` is resolved against the manifest's directory in [`HwiConfig::program`].
    pub command: Option<String>,
    /// HWI's device type (`ledger`, `trezor`, `bitbox02`, ...); found by enumeration when absent.
    pub device_type: Option<String>,
    /// HWI's device path (`tcp:127.0.0.1:9999`, a USB path); requires `device_type`.
    pub device_path: Option<String>,
    /// `timeout_seconds` as written.
    pub timeout_seconds: Option<u64>,
    /// `bip322 = false`: sign legacy messages even where the device type signs BIP-322
    /// transactions (firmware too old for them).
    pub bip322: Option<bool>,
    /// The manifest's directory (relative `command`s are resolved against it).
    base_dir: std::path::PathBuf,
}

impl HwiConfig {
    /// The program to run: `command` resolved against the manifest's directory when it is a
    /// relative path, as written when it is a bare name (looked up on `PATH`), `hwi` by default.
    pub fn program(&self) -> std::path::PathBuf {
        match &self.command {
            None => "hwi".into(),
            Some(c) if c.contains('/') => self.base_dir.join(c),
            Some(c) => c.into(),
        }
    }

    /// How long one call may take before the process is killed.
    pub fn timeout(&self) -> Duration {
        self.timeout_seconds
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_HWI_TIMEOUT)
    }

    /// The device type HWI is told (`trezor_t` → `trezor`), when known.
    pub fn device_kind(&self) -> Option<&str> {
        self.device_type
            .as_deref()
            .map(|t| t.split('_').next().unwrap_or(t))
    }
}

/// Checks the HWI fields of `[[signers]]` entry `s`; `Some` for an `hwi` signer. `err(field,
/// message)` names the field.
pub(super) fn signer_config(
    s: &RawSigner,
    base_dir: &Path,
    err: impl Fn(&str, String) -> InputError,
) -> Result<Option<HwiConfig>, InputError> {
    let given = [
        // `command` on another kind is refused by the key-service checks (it also names a
        // `command` signer's adapter program).
        ("device_type", s.device_type.is_some()),
        ("device_path", s.device_path.is_some()),
        ("timeout_seconds", s.timeout_seconds.is_some()),
        ("bip322", s.bip322.is_some()),
    ];
    if s.kind != SignerKind::Hwi {
        if let Some((field, _)) = given.iter().find(|(_, g)| *g) {
            return Err(err(field, "only for a signer of kind = \"hwi\"".into()));
        }
        return Ok(None);
    }
    if s.fingerprint.is_none() {
        return Err(err(
            "fingerprint",
            "required for an hwi signer: the device's BIP-32 master fingerprint (8 hex digits), checked before anything is signed".into(),
        ));
    }
    let command = match &s.command {
        None => None,
        Some(RawCommand::Program(p)) => Some(p.clone()),
        Some(RawCommand::Argv(_)) => {
            return Err(err(
                "command",
                "an hwi signer's command is one program, written as a string (e.g. \"hwi\")".into(),
            ))
        }
    };
    for (field, v) in [
        ("command", &command),
        ("device_type", &s.device_type),
        ("device_path", &s.device_path),
    ] {
        if let Some(t) = v {
            if t.trim().is_empty() || t.chars().any(char::is_control) {
                return Err(err(field, "is empty or holds control characters".into()));
            }
        }
    }
    if let Some(t) = &s.device_type {
        let kind = t.split('_').next().unwrap_or(t);
        if !HWI_DEVICE_TYPES.contains(&kind) {
            return Err(err(
                "device_type",
                format!(
                    "`{t}` is not a device type HWI drives ({})",
                    HWI_DEVICE_TYPES.join(", ")
                ),
            ));
        }
    }
    if s.device_path.is_some() && s.device_type.is_none() {
        return Err(err(
            "device_path",
            "needs `device_type` too (HWI opens a path only for a named type)".into(),
        ));
    }
    if s.timeout_seconds == Some(0) {
        return Err(err("timeout_seconds", "must be at least 1".into()));
    }
    Ok(Some(HwiConfig {
        command,
        device_type: s.device_type.clone(),
        device_path: s.device_path.clone(),
        timeout_seconds: s.timeout_seconds,
        bip322: s.bip322,
        base_dir: base_dir.to_path_buf(),
    }))
}

/// Writes a signer's HWI fields back as the manifest had them.
pub(super) fn write_config(c: Option<&HwiConfig>, raw: &mut RawSigner) {
    let Some(c) = c else { return };
    raw.command = c.command.clone().map(RawCommand::Program);
    raw.device_type = c.device_type.clone();
    raw.device_path = c.device_path.clone();
    raw.timeout_seconds = c.timeout_seconds;
    raw.bip322 = c.bip322;
}

/// The error for an `hwi` signer named by an address or account that is not Bitcoin: HWI signs
/// Bitcoin only.
pub(super) fn hwi_not_bitcoin(id: &str) -> String {
    format!("signer `{id}` is an hwi signer: HWI signs Bitcoin only")
}

#[cfg(test)]
mod tests {
    use super::super::Manifest;
    use super::*;

    /// A manifest whose signer `hw` is `signer_fields` (TOML lines) and holds `address_rows`.
    fn manifest(signer_fields: &str, address_rows: &str) -> Result<Manifest, InputError> {
        let text = format!(
            "entity = \"Acme\"\nsnapshot_id = \"2026-12\"\n\n[anchors.BTC]\nheight = 1\nblock_hash = \"00aa\"\n\n\
             [anchors.ETH]\nheight = 1\nblock_hash = \"0xbb\"\n\n\
             [[signers]]\nid = \"hw\"\n{signer_fields}\n{address_rows}"
        );
        Manifest::from_str(&text, "m.toml", "/ceremony")
    }

    const BTC_ROW: &str = "[[addresses]]\nchain = \"BTC\"\naddress = \"bc1qqtl9jlrwcr3fsfcjj2du7pu6fcgaxl5dsw2vyg\"\nscript_type = \"p2wpkh\"\npath = \"m/84'/0'/0'/0/0\"\nsigner = \"hw\"\n";

    fn error(fields: &str, rows: &str) -> String {
        manifest(fields, rows).unwrap_err().to_string()
    }

    #[test]
    fn an_hwi_signer_reads_and_writes_back() {
        let m = manifest(
            "kind = \"hwi\"\nfingerprint = \"f5acc2fd\"\ndevice_type = \"trezor_t\"\ndevice_path = \"webusb:001:4\"\ncommand = \"tools/hwi\"\ntimeout_seconds = 90\nbip322 = false\n",
            BTC_ROW,
        )
        .unwrap();
        let c = m.signers[0].hwi.as_ref().unwrap();
        assert_eq!(c.device_kind(), Some("trezor"));
        assert_eq!(c.program(), Path::new("/ceremony/tools/hwi"));
        assert_eq!(c.timeout(), Duration::from_secs(90));
        assert_eq!(c.bip322, Some(false));
        let again = Manifest::from_str(&m.to_toml(), "m.toml", "/ceremony").unwrap();
        assert_eq!(again.signers, m.signers);
        assert_eq!(again.identity_digest(), m.identity_digest());
        // The defaults: `hwi` on PATH, ten minutes, found by fingerprint.
        let m = manifest("kind = \"hwi\"\nfingerprint = \"f5acc2fd\"\n", BTC_ROW).unwrap();
        let c = m.signers[0].hwi.as_ref().unwrap();
        assert_eq!(c.program(), Path::new("hwi"));
        assert_eq!(c.timeout(), DEFAULT_HWI_TIMEOUT);
        assert_eq!(
            (c.device_type.as_ref(), c.device_path.as_ref()),
            (None, None)
        );
    }

    #[test]
    fn bad_hwi_signers_are_refused_naming_the_field() {
        let e = error("kind = \"hwi\"\n", BTC_ROW);
        assert!(
            e.contains("signers[0].fingerprint") && e.contains("required"),
            "{e}"
        );
        let e = error(
            "kind = \"hwi\"\nfingerprint = \"f5acc2fd\"\ndevice_type = \"nano\"\n",
            BTC_ROW,
        );
        assert!(
            e.contains("signers[0].device_type") && e.contains("bitbox02"),
            "{e}"
        );
        let e = error(
            "kind = \"hwi\"\nfingerprint = \"f5acc2fd\"\ndevice_path = \"tcp:x:1\"\n",
            BTC_ROW,
        );
        assert!(e.contains("signers[0].device_path"), "{e}");
        let e = error(
            "kind = \"hwi\"\nfingerprint = \"f5acc2fd\"\ntimeout_seconds = 0\n",
            BTC_ROW,
        );
        assert!(e.contains("signers[0].timeout_seconds"), "{e}");
        let e = error(
            "kind = \"hwi\"\nfingerprint = \"f5acc2fd\"\ncommand = \"\"\n",
            BTC_ROW,
        );
        assert!(e.contains("signers[0].command"), "{e}");
        let e = error(
            "kind = \"ledger\"\nfingerprint = \"f5acc2fd\"\ndevice_type = \"ledger\"\n",
            BTC_ROW,
        );
        assert!(
            e.contains("signers[0].device_type") && e.contains("only for"),
            "{e}"
        );
        // HWI signs Bitcoin only.
        let eth = "[[addresses]]\nchain = \"ETH\"\naddress = \"0x9858EfFD232B4033E47d90003D41EC34EcaEda94\"\npath = \"m/44'/60'/0'/0/0\"\nsigner = \"hw\"\n";
        let e = error("kind = \"hwi\"\nfingerprint = \"f5acc2fd\"\n", eth);
        assert!(e.contains("Bitcoin only"), "{e}");
    }
}
