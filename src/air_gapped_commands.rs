//! The command line of air-gapped signers: `sign --files DIR` (the two-phase ceremony of a
//! `coldcard` or `psbt` signer), `coldcard keys` (the device's key export as manifest rows)
//! and `coldcard wallet` (Coldcard's multisig wallet files to register on the device).

use por_attest_ceremony::air_gapped::keys::{read_key_file, KeyOrigin};
use por_attest_ceremony::air_gapped::FileKind;
use por_attest_ceremony::ceremony::files::{coldcard_wallet_files, sign_files, FilesOptions};
use por_attest_ceremony::ceremony::CeremonyError;
use por_attest_ceremony::manifest::{path_string, Manifest};
use por_attest_verify::chains::ScriptType;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// `sign --files DIR` for `signer`: imports the answers, writes the requests, prints what was
/// done and what the operator does next. Returns the exit status: 0 done, 1 done with
/// unsupported tasks, 2 bad input or wrong device, 3 requests waiting for the device.
pub fn sign_command(
    manifest: &Manifest,
    journal: &Path,
    signer: Option<String>,
    dir: PathBuf,
    keys: Vec<PathBuf>,
    resume: &str,
) -> u8 {
    let file_signers: Vec<&str> = manifest
        .signers
        .iter()
        .filter(|s| FileKind::of(s.kind).is_some())
        .map(|s| s.id.as_str())
        .collect();
    let signer =
        match (signer, file_signers.as_slice()) {
            (Some(s), _) => s,
            (None, [one]) => one.to_string(),
            (None, _) => {
                eprintln!(
                "error: name the signer with --signer (the manifest's coldcard / psbt signers: {})",
                if file_signers.is_empty() { "none".to_string() } else { file_signers.join(", ") }
            );
                return 2;
            }
        };
    let opts = FilesOptions {
        signer,
        dir: dir.clone(),
        keys,
    };
    let s = match sign_files(manifest, journal, &opts) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return match e {
                CeremonyError::Journal(_)
                | CeremonyError::Refused(_)
                | CeremonyError::WrongDevice(_) => 2,
                _ if e.is_resumable() => 3,
                _ => 2,
            };
        }
    };
    for w in &s.warnings {
        eprintln!("warning: {w}");
    }
    for f in &s.imported {
        eprintln!("imported: {f}");
    }
    for r in &s.refused {
        eprintln!("refused: {}: {}", r.file, r.reason);
    }
    for f in &s.stray {
        eprintln!("warning: {f}: answers no request of signer `{}` (a renamed file, or one from another manifest)", s.signer);
    }
    for u in &s.unsupported {
        eprintln!("not signed: {u}");
    }
    println!(
        "signer {} ({}): {} imported now, {} already in the journal, {} refused, {} request(s) written, {} waiting, {} of {} done; journal {}",
        s.signer,
        s.kind.name(),
        s.imported.len(),
        s.already,
        s.refused.len(),
        s.written.len(),
        s.waiting.len() + s.needs_keys.len(),
        s.imported.len() + s.already,
        s.tasks,
        journal.display()
    );
    println!("confirmations: {}", s.imported.len());
    if s.missing() > 0 {
        print!("{}", s.operator_steps(&dir, resume));
        3
    } else if !s.unsupported.is_empty() {
        1
    } else {
        0
    }
}

/// Manifest rows (TOML) for a device's exported keys: its `[[signers]]` table, an
/// `[[accounts]]` table per single-key account key, and the `[[accounts.cosigners]]` entry of
/// each multisig key (as comments, to paste under the wallet's account).
pub fn keys_toml(keys: &[KeyOrigin], signer: &str, kind: FileKind, ranges: &[String]) -> String {
    let mut out = String::new();
    let Some(first) = keys.first() else {
        return out;
    };
    let _ = writeln!(
        out,
        "# por-attest coldcard keys: device {} (master fingerprint)\n[[signers]]\nid = \"{signer}\"\nkind = \"{}\"\nfingerprint = \"{}\"\n",
        first.fingerprint.to_string().to_uppercase(),
        kind.name(),
        first.fingerprint
    );
    let ranges = ranges
        .iter()
        .map(|r| format!("\"{r}\""))
        .collect::<Vec<_>>()
        .join(", ");
    for k in keys {
        let network = match k.xpub.network {
            bitcoin::NetworkKind::Main => "mainnet",
            bitcoin::NetworkKind::Test => "testnet",
        };
        let path = path_string(&k.path);
        match k.script_type {
            Some(
                st @ (ScriptType::P2pkh
                | ScriptType::P2shP2wpkh
                | ScriptType::P2wpkh
                | ScriptType::P2tr),
            ) => {
                let _ = writeln!(
                    out,
                    "[[accounts]]\nchain = \"BTC\"\nnetwork = \"{network}\"\nscript_type = \"{st}\"\nsigner = \"{signer}\"\npath = \"{path}\"\nxpub = \"{}\"\nranges = [{ranges}]\n",
                    k.xpub
                );
            }
            Some(st) => {
                let _ = writeln!(
                    out,
                    "# {st} multisig: this device's cosigner key, for the wallet's [[accounts]] (or an address's cosigners)\n# [[accounts.cosigners]]\n# signer = \"{signer}\"\n# path = \"{path}\"\n# xpub = \"{}\"\n",
                    k.xpub
                );
            }
            None if k.path.is_empty() => {}
            None => {
                let _ = writeln!(
                    out,
                    "# {} (script type not stated: write its [[accounts]] table by hand)\n",
                    k.expression()
                );
            }
        }
    }
    out
}

/// `coldcard keys`: reads the export files and `--key` origins, prints manifest rows.
pub fn keys_command(
    files: &[PathBuf],
    origins: &[String],
    signer: &str,
    kind: FileKind,
    ranges: &[String],
) -> u8 {
    let mut keys = Vec::new();
    for f in files {
        match read_key_file(f) {
            Ok(k) => keys.extend(k),
            Err(e) => {
                eprintln!("error: {e}");
                return 2;
            }
        }
    }
    for (i, o) in origins.iter().enumerate() {
        match por_attest_ceremony::air_gapped::keys::parse_key_origin(o) {
            Ok(mut k) => {
                k.script_type = script_type_of_path(&k.path);
                keys.push(k)
            }
            Err(e) => {
                eprintln!("error: --key #{}: {e}", i + 1);
                return 2;
            }
        }
    }
    if let Some(first) = keys.first() {
        if let Some(other) = keys.iter().find(|k| k.fingerprint != first.fingerprint) {
            eprintln!(
                "error: the keys are of two devices ({} and {}): one device per run",
                first.fingerprint, other.fingerprint
            );
            return 2;
        }
    } else {
        eprintln!("error: no key given (--export FILE or --key [fingerprint/path]xpub)");
        return 2;
    }
    print!("{}", keys_toml(&keys, signer, kind, ranges));
    0
}

/// The script type a standard path's purpose names (BIP-44/49/84/86, BIP-48 script 1'/2',
/// BIP-45).
fn script_type_of_path(path: &bitcoin::bip32::DerivationPath) -> Option<ScriptType> {
    let steps: Vec<u32> = path
        .into_iter()
        .map(|c| u32::from(*c) & 0x7fff_ffff)
        .collect();
    match steps.as_slice() {
        [44, _, _] => Some(ScriptType::P2pkh),
        [49, _, _] => Some(ScriptType::P2shP2wpkh),
        [84, _, _] => Some(ScriptType::P2wpkh),
        [86, _, _] => Some(ScriptType::P2tr),
        [48, _, _, 1] => Some(ScriptType::P2shP2wsh),
        [48, _, _, 2] => Some(ScriptType::P2wsh),
        [45] => Some(ScriptType::P2sh),
        _ => None,
    }
}

/// `coldcard wallet`: writes Coldcard's multisig wallet file of every multisig wallet
/// `signer` cosigns into `out`.
pub fn wallet_command(manifest: &Manifest, signer: &str, out: &Path) -> u8 {
    if manifest.signer(signer).is_none() {
        eprintln!("error: the manifest has no signer `{signer}`");
        return 2;
    }
    let (files, warnings) = match coldcard_wallet_files(manifest, signer) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    if let Err(e) = std::fs::create_dir_all(out) {
        eprintln!("error: {}: {e}", out.display());
        return 2;
    }
    for (name, text) in &files {
        let path = out.join(name);
        if let Err(e) = std::fs::write(&path, text) {
            eprintln!("error: {}: cannot write: {e}", path.display());
            return 2;
        }
        println!("{}", path.display());
    }
    if files.is_empty() {
        eprintln!("signer `{signer}` cosigns no multisig wallet of the manifest");
    }
    0
}
