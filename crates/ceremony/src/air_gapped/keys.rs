//! The device's public-key export: Coldcard's "Generic JSON" `coldcard-export.json` (its
//! master fingerprint `xfp` and, per standard account, `deriv` and `xpub`), or plain key
//! origins `[fingerprint/path]xpub`, one a line (what Sparrow, Specter, Keystone and
//! `bip322-dev keygen` show). The ceremony takes from it the public key of each single-key
//! address (a PSBT request must carry the key's BIP-32 derivation for the device to find its
//! key), and `por-attest coldcard keys` turns it into manifest rows.

use crate::path::{parse_path, path_string};
use bitcoin::bip32::{ChildNumber, DerivationPath, Fingerprint, Xpub};
use bitcoin::secp256k1::PublicKey;
use por_attest_verify::chains::ScriptType;
use por_attest_verify::schemes::secp;
use std::path::Path;
use std::str::FromStr;

/// One exported key: the device's master fingerprint, the key's path, the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyOrigin {
    /// The device's master fingerprint.
    pub fingerprint: Fingerprint,
    /// The key's derivation path from the master key.
    pub path: DerivationPath,
    /// The extended public key at `path`.
    pub xpub: Xpub,
    /// The script type the export names for this key (Coldcard's `bip84` is `p2wpkh`, ...);
    /// `None` when not said.
    pub script_type: Option<ScriptType>,
}

impl KeyOrigin {
    /// `[fingerprint/path]xpub`.
    pub fn expression(&self) -> String {
        let path = path_string(&self.path);
        let steps = path.strip_prefix('m').unwrap_or(&path);
        format!("[{}{steps}]{}", self.fingerprint, self.xpub)
    }
}

/// Checks that `xpub` can sit at `path` (its depth and last step), naming `what`.
fn check_depth(what: &str, path: &DerivationPath, xpub: &Xpub) -> Result<(), String> {
    let steps: Vec<ChildNumber> = path.into_iter().copied().collect();
    if usize::from(xpub.depth) != steps.len() {
        return Err(format!(
            "{what}: the xpub has depth {}, the path {} has {} steps",
            xpub.depth,
            path_string(path),
            steps.len()
        ));
    }
    if let Some(last) = steps.last() {
        if *last != xpub.child_number {
            return Err(format!(
                "{what}: the xpub is child {} of its parent, the path {} ends in {last}",
                xpub.child_number,
                path_string(path)
            ));
        }
    }
    Ok(())
}

/// Parses one key origin `[fingerprint/path]xpub` (`h` or `'` for hardened steps).
pub fn parse_key_origin(text: &str) -> Result<KeyOrigin, String> {
    let t = text.trim();
    let rest = t
        .strip_prefix('[')
        .ok_or_else(|| format!("`{t}`: expected [fingerprint/path]xpub"))?;
    let (origin, key) = rest
        .split_once(']')
        .ok_or_else(|| format!("`{t}`: no `]` after the key origin"))?;
    let (fp, steps) = origin.split_once('/').unwrap_or((origin, ""));
    if fp.len() != 8 || !fp.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "`{t}`: `{fp}` is not an 8-hex-digit master fingerprint"
        ));
    }
    let fingerprint = Fingerprint::from_str(fp).map_err(|e| format!("`{t}`: {e}"))?;
    let path = if steps.is_empty() {
        DerivationPath::master()
    } else {
        parse_path(steps).map_err(|e| format!("`{t}`: {e}"))?
    };
    let xpub = Xpub::from_str(key.trim())
        .map_err(|e| format!("`{t}`: `{key}` is not an extended public key ({e})"))?;
    check_depth(&format!("`{t}`"), &path, &xpub)?;
    Ok(KeyOrigin {
        fingerprint,
        path,
        xpub,
        script_type: None,
    })
}

/// The script type of a Coldcard export section's `name`.
fn script_type_of_name(name: &str) -> Option<ScriptType> {
    match name {
        "p2pkh" => Some(ScriptType::P2pkh),
        "p2sh-p2wpkh" | "p2wpkh-p2sh" => Some(ScriptType::P2shP2wpkh),
        "p2wpkh" => Some(ScriptType::P2wpkh),
        "p2tr" => Some(ScriptType::P2tr),
        "p2sh-p2wsh" | "p2wsh-p2sh" => Some(ScriptType::P2shP2wsh),
        "p2wsh" => Some(ScriptType::P2wsh),
        "p2sh" => Some(ScriptType::P2sh),
        _ => None,
    }
}

/// Reads Coldcard's "Generic JSON" export: every section with `deriv` and `xpub` (`bip44`,
/// `bip49`, `bip84`, `bip86`, `bip48_1`, `bip48_2`, `bip45`), under the top-level `xfp`.
pub fn parse_coldcard_export(text: &str) -> Result<Vec<KeyOrigin>, String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let obj = v.as_object().ok_or("not a JSON object")?;
    let xfp = obj
        .get("xfp")
        .and_then(|x| x.as_str())
        .ok_or("no `xfp` (the master fingerprint): not a Coldcard generic JSON export")?;
    let fingerprint = Fingerprint::from_str(xfp)
        .map_err(|e| format!("`xfp`: `{xfp}` is not a master fingerprint ({e})"))?;
    let mut keys = Vec::new();
    for (section, value) in obj {
        let Some(s) = value.as_object() else { continue };
        let (Some(deriv), Some(xpub)) = (
            s.get("deriv").and_then(|d| d.as_str()),
            s.get("xpub").and_then(|x| x.as_str()),
        ) else {
            continue;
        };
        let what = format!("`{section}`");
        let path = parse_path(deriv).map_err(|e| format!("{what}.deriv: {e}"))?;
        let xpub = Xpub::from_str(xpub)
            .map_err(|e| format!("{what}.xpub: not an extended public key ({e})"))?;
        check_depth(&what, &path, &xpub)?;
        let script_type = s
            .get("name")
            .and_then(|n| n.as_str())
            .and_then(script_type_of_name);
        keys.push(KeyOrigin {
            fingerprint,
            path,
            xpub,
            script_type,
        });
    }
    if keys.is_empty() {
        return Err("no section with `deriv` and `xpub`".into());
    }
    Ok(keys)
}

/// Reads a key file: Coldcard's JSON export, or key origins one a line (`#` comments).
pub fn parse_key_file(text: &str) -> Result<Vec<KeyOrigin>, String> {
    if text.trim_start().starts_with('{') {
        return parse_coldcard_export(text);
    }
    let mut keys = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        keys.push(parse_key_origin(l).map_err(|e| format!("line {}: {e}", i + 1))?);
    }
    if keys.is_empty() {
        return Err(
            "no key: expected Coldcard's JSON export or [fingerprint/path]xpub lines".into(),
        );
    }
    Ok(keys)
}

/// Reads a key file from disk; errors name the file.
pub fn read_key_file(path: &Path) -> Result<Vec<KeyOrigin>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    parse_key_file(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The exported keys of one device.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: Vec<KeyOrigin>,
}

impl KeySet {
    /// The keys given.
    pub fn new(keys: Vec<KeyOrigin>) -> KeySet {
        KeySet { keys }
    }

    /// Every key.
    pub fn keys(&self) -> &[KeyOrigin] {
        &self.keys
    }

    /// The extended key of `fingerprint`'s device at `path`: an exported key at that path or
    /// below one by unhardened steps.
    pub fn xpub_at(&self, fingerprint: Fingerprint, path: &DerivationPath) -> Option<Xpub> {
        let want: Vec<ChildNumber> = path.into_iter().copied().collect();
        self.keys
            .iter()
            .filter(|k| k.fingerprint == fingerprint)
            .find_map(|k| {
                let base: Vec<ChildNumber> = k.path.into_iter().copied().collect();
                let rest = want.strip_prefix(base.as_slice())?;
                if rest.iter().any(|c| c.is_hardened()) {
                    return None;
                }
                k.xpub.derive_pub(secp(), &rest.to_vec()).ok()
            })
    }

    /// The public key of `fingerprint`'s device at `path` (see [`KeySet::xpub_at`]).
    pub fn pubkey_at(&self, fingerprint: Fingerprint, path: &DerivationPath) -> Option<PublicKey> {
        self.xpub_at(fingerprint, path).map(|x| x.public_key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const XPUB: &str = "xpub6Dg9Y1YV8vKUJaBjWVXyNYcwEbj9cMu6SmnANQaKKPeP2qJoj7YLwc9f6BAhcRsWMU6EmgFRPqWA6imwftveyAYX3CwDBv99BjwgHTAPKbS";

    #[test]
    fn key_origins_parse_and_derive_below() {
        let k = parse_key_origin(&format!("[f5acc2fd/48h/0h/0h/2h]{XPUB}")).unwrap();
        assert_eq!(path_string(&k.path), "m/48'/0'/0'/2'");
        assert_eq!(k.expression(), format!("[f5acc2fd/48'/0'/0'/2']{XPUB}"));
        let set = KeySet::new(vec![k.clone()]);
        let below = DerivationPath::from_str("m/48'/0'/0'/2'/0/5").unwrap();
        assert!(set.pubkey_at(k.fingerprint, &below).is_some());
        assert_eq!(set.xpub_at(k.fingerprint, &k.path), Some(k.xpub));
        let hardened = DerivationPath::from_str("m/48'/0'/0'/2'/0'").unwrap();
        assert_eq!(set.pubkey_at(k.fingerprint, &hardened), None);
        let other = Fingerprint::from_str("00000001").unwrap();
        assert_eq!(set.pubkey_at(other, &below), None);
        // A key at the wrong depth for its path is refused.
        let e = parse_key_origin(&format!("[f5acc2fd/48h/0h/0h]{XPUB}")).unwrap_err();
        assert!(e.contains("depth"), "{e}");
        assert!(parse_key_origin("f5acc2fd/48h]xpub").is_err());
        assert!(parse_key_origin(&format!("[f5acc2f/48h/0h/0h/2h]{XPUB}")).is_err());
    }

    #[test]
    fn coldcard_exports_read_their_sections() {
        // Coldcard's "Generic JSON" layout (field names as its firmware writes them).
        let text = format!(
            r#"{{"chain": "BTC", "xfp": "F5ACC2FD", "account": 0, "xpub": "x",
              "bip48_2": {{"name": "p2wsh", "xfp": "11111111", "deriv": "m/48h/0h/0h/2h",
                          "xpub": "{XPUB}", "desc": "wsh(sortedmulti(M,...))"}},
              "bip44": {{"name": "p2pkh", "deriv": "m/44h/0h/0h"}}}}"#
        );
        let keys = parse_coldcard_export(&text).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(
            keys[0].fingerprint,
            Fingerprint::from_str("f5acc2fd").unwrap()
        );
        assert_eq!(path_string(&keys[0].path), "m/48'/0'/0'/2'");
        assert_eq!(keys[0].script_type, Some(ScriptType::P2wsh));
        assert!(parse_key_file("{\"chain\": \"BTC\"}")
            .unwrap_err()
            .contains("xfp"));
        assert!(parse_key_file("nothing").unwrap_err().contains("line 1"));
    }
}
