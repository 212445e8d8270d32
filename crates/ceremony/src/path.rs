//! Derivation paths as manifests, journals and messages write them.

use bitcoin::bip32::DerivationPath;
use thiserror::Error;

/// Why a derivation path does not parse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PathError {
    /// Nothing was written.
    #[error("empty derivation path")]
    Empty,
    /// A step between two slashes is empty (`m//1`).
    #[error("`{0}` has an empty step")]
    EmptyStep(String),
    /// Not a BIP-32 path.
    #[error("`{path}` is not a BIP-32 path like m/84'/0'/0'/0/5 ({reason})")]
    Invalid {
        /// The path as written.
        path: String,
        /// What the BIP-32 parser said.
        reason: String,
    },
}

/// The canonical text of a derivation path: `m/84'/0'/0'/0/5` (`m` for the master key).
pub fn path_string(p: &DerivationPath) -> String {
    if p.is_empty() {
        "m".to_string()
    } else {
        format!("m/{p}")
    }
}

/// Parses a BIP-32 path such as `m/84'/0'/0'/0/5` (`h` is accepted for hardened steps, the
/// leading `m/` is optional).
pub fn parse_path(s: &str) -> Result<DerivationPath, PathError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(PathError::Empty);
    }
    let body = t.strip_prefix("m/").unwrap_or(t);
    if t == "m" {
        return Ok(DerivationPath::master());
    }
    if body.split('/').any(|step| step.is_empty()) {
        return Err(PathError::EmptyStep(s.to_string()));
    }
    body.parse::<DerivationPath>()
        .map_err(|e| PathError::Invalid {
            path: s.to_string(),
            reason: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(
            path_string(&parse_path("m/84h/0h/0h/0/5").unwrap()),
            "m/84'/0'/0'/0/5"
        );
        assert_eq!(path_string(&parse_path("84'/0'").unwrap()), "m/84'/0'");
        assert_eq!(path_string(&parse_path("m").unwrap()), "m");
        for bad in ["", "m//1", "m/84'/x", "m/2147483648", "m/1/"] {
            assert!(parse_path(bad).is_err(), "{bad}");
        }
    }
}
