//! Relative paths of account addresses: the steps below the account key, e.g. `0/17`.
//! Only non-hardened steps can be derived from an extended public key, so only they are
//! proven by the account's signature.

use std::fmt;

/// The deepest relative path an address may have below its account key.
pub const MAX_RELATIVE_DEPTH: usize = 8;

/// A relative path of non-hardened steps, e.g. `0/17`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RelativePath {
    steps: [u32; MAX_RELATIVE_DEPTH],
    len: u8,
}

impl RelativePath {
    /// The steps.
    pub fn steps(&self) -> &[u32] {
        &self.steps[..usize::from(self.len)]
    }

    /// The path without its last step.
    pub fn parent(&self) -> RelativePath {
        let mut p = *self;
        if p.len > 0 {
            p.len -= 1;
            p.steps[usize::from(p.len)] = 0;
        }
        p
    }

    /// The last step.
    pub fn last(&self) -> u32 {
        self.steps().last().copied().unwrap_or(0)
    }
}

impl fmt::Display for RelativePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.steps().iter().enumerate() {
            if i > 0 {
                f.write_str("/")?;
            }
            write!(f, "{s}")?;
        }
        Ok(())
    }
}

/// Why a relative path is not acceptable; each fails the whole account entry, as a path the
/// account's signature cannot cover.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// A hardened step.
    #[error("relative path `{0}` has a hardened step: an address below a hardened step cannot be derived from the extended public key, so the account's signature does not prove it")]
    Hardened(String),
    /// Not `n/n/…` with canonical decimal steps below 2^31.
    #[error("relative path `{0}` is not non-hardened steps like 0/17 (decimal, no leading zeros, each below 2^31)")]
    Syntax(String),
    /// More steps than [`MAX_RELATIVE_DEPTH`].
    #[error("relative path `{0}` has more than {MAX_RELATIVE_DEPTH} steps")]
    TooDeep(String),
    /// Not one of the descriptor's paths (`…/<0;1>/*` takes `0/i` and `1/i`).
    #[error("relative path `{path}` does not fit the descriptor's key paths ({expected})")]
    DoesNotFit {
        /// The path.
        path: String,
        /// What the descriptor takes.
        expected: String,
    },
}

/// Parses a relative path such as `0/17`: one to [`MAX_RELATIVE_DEPTH`] decimal steps, each
/// below 2^31, no leading zeros, no hardened marks (`'`, `h`).
pub fn parse_relative_path(s: &str) -> Result<RelativePath, PathError> {
    let mut p = RelativePath {
        steps: [0; MAX_RELATIVE_DEPTH],
        len: 0,
    };
    if s.is_empty() {
        return Err(PathError::Syntax(s.into()));
    }
    for step in s.split('/') {
        let digits = step.trim_end_matches(['\'', 'h', 'H']);
        if digits.len() != step.len() {
            return Err(PathError::Hardened(s.into()));
        }
        let canonical = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (digits == "0" || !digits.starts_with('0'));
        let value = digits
            .parse::<u32>()
            .ok()
            .filter(|v| canonical && *v < (1 << 31))
            .ok_or_else(|| PathError::Syntax(s.into()))?;
        if usize::from(p.len) == MAX_RELATIVE_DEPTH {
            return Err(PathError::TooDeep(s.into()));
        }
        p.steps[usize::from(p.len)] = value;
        p.len += 1;
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse_strictly() {
        let p = parse_relative_path("0/17").unwrap();
        assert_eq!(p.steps(), &[0, 17]);
        assert_eq!((p.parent().steps(), p.last()), (&[0][..], 17));
        assert_eq!(p.to_string(), "0/17");
        assert!(matches!(
            parse_relative_path("0/17'"),
            Err(PathError::Hardened(_))
        ));
        assert!(matches!(
            parse_relative_path("0h/1"),
            Err(PathError::Hardened(_))
        ));
        for bad in [
            "",
            "/1",
            "0//1",
            "01",
            "m/0",
            "2147483648",
            "-1",
            "1 ",
            "a",
            "0/",
        ] {
            assert!(
                matches!(parse_relative_path(bad), Err(PathError::Syntax(_))),
                "{bad}"
            );
        }
        assert!(parse_relative_path("2147483647").is_ok());
        assert!(matches!(
            parse_relative_path("0/0/0/0/0/0/0/0/0"),
            Err(PathError::TooDeep(_))
        ));
    }
}
