//! Demo manifests with an HWI signer, for the tests and benchmark of the `hwi` signer kind:
//! the demo's manifests ([`crate::demo`]) with `sim-a` (Speculos's seed) turned into a
//! `kind = "hwi"` signer, their EVM and TRON entries dropped (HWI signs Bitcoin only).

use crate::demo::{write_account_manifest, write_manifest, DEMO_SIGNERS};
use crate::fixtures::p2tr_address;
use std::path::{Path, PathBuf};

/// The `[[signers]]` fields of `sim-a` as an HWI signer: HWI's Ledger driver reaching
/// `device_path` (`tcp:127.0.0.1:PORT` for the simulator) through `program`.
pub fn hwi_signer_fields(device_path: &str, program: &Path, timeout_seconds: u64) -> String {
    format!(
        "id = \"sim-a\"\nkind = \"hwi\"\ndevice_type = \"ledger\"\ndevice_path = \"{device_path}\"\ncommand = \"{}\"\ntimeout_seconds = {timeout_seconds}\n",
        program.display()
    )
}

/// `toml` with `sim-a` as the HWI signer of `fields` (from [`hwi_signer_fields`]).
fn with_hwi_signer(toml: &str, fields: &str) -> String {
    toml.replacen("id = \"sim-a\"\nkind = \"simulator\"\n", fields, 1)
}

/// The demo manifest of `n` rows with `sim-a` as the HWI signer of `fields`, its Bitcoin rows
/// only and two BIP-86 P2TR addresses of `sim-a` added; the address CSV gets a `key` column and
/// `extra_rows` (written with it). `extra_toml` is appended to the manifest (more signers).
pub fn hwi_address_manifest(
    dir: &Path,
    n: usize,
    fields: &str,
    extra_toml: &str,
    extra_rows: &[String],
) -> std::io::Result<PathBuf> {
    let manifest = write_manifest(dir, n)?;
    let toml = std::fs::read_to_string(&manifest)?;
    std::fs::write(&manifest, with_hwi_signer(&toml, fields) + extra_toml)?;
    let csv_path = dir.join("addresses.csv");
    let csv = std::fs::read_to_string(&csv_path)?;
    let mut lines = csv.lines();
    let mut out = format!("{},key\n", lines.next().unwrap_or_default());
    for l in lines.filter(|l| l.starts_with("BTC,")) {
        out.push_str(&format!("{l},\n"));
    }
    for i in 0..2 {
        let a = p2tr_address(DEMO_SIGNERS[0].1, i);
        out.push_str(&format!(
            "BTC,mainnet,{a},p2tr,m/86'/0'/0'/0/{i},sim-a,cold,,,,,,\n"
        ));
    }
    for r in extra_rows {
        out.push_str(r);
        out.push('\n');
    }
    std::fs::write(&csv_path, out)?;
    Ok(manifest)
}

/// The demo's account manifest of `n` addresses in `k` accounts with `sim-a` as the HWI signer
/// of `fields`, its Bitcoin accounts only.
pub fn hwi_account_manifest(
    dir: &Path,
    n: usize,
    k: usize,
    fields: &str,
) -> std::io::Result<PathBuf> {
    let manifest = write_account_manifest(dir, n, k)?;
    let toml = std::fs::read_to_string(&manifest)?;
    let mut parts = toml.split("[[accounts]]\n");
    let mut out = with_hwi_signer(parts.next().unwrap_or_default(), fields);
    for account in parts.filter(|a| a.starts_with("chain = \"BTC\"")) {
        out.push_str("[[accounts]]\n");
        out.push_str(account);
    }
    std::fs::write(&manifest, out)?;
    Ok(manifest)
}
