//! Why an entry, an account, one of its addresses, a total, an anchor or the file failed: a
//! stable snake-case code beside the human reason, so that scripts, tests and the HTML report
//! can tell failures apart without matching text.
//!
//! The codes are part of the JSON report (`problems[].code`, `file_failures[].code`) and never
//! change meaning; new ones may be added. `docs/failure-codes.md` lists them (a test keeps the
//! two in step).

use crate::schemes::SchemeError;
use serde::Serialize;
use std::fmt;

/// What kind of failure it is: a variant, its code (snake case, as in the JSON report), and
/// what it means.
macro_rules! failure_codes {
    ($($(#[doc = $doc:literal])* $variant:ident => $code:literal,)*) => {
        /// What kind of failure it is. Serialized as its snake-case code (`wrong_key`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum FailureCode {
            $($(#[doc = $doc])* $variant,)*
        }

        impl FailureCode {
            /// Every code, in declaration order.
            pub const ALL: &'static [FailureCode] = &[$(FailureCode::$variant),*];

            /// The code as it appears in the JSON report.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(FailureCode::$variant => $code,)*
                }
            }

            /// What it means (its documentation), for the HTML report.
            pub fn meaning(self) -> &'static str {
                match self {
                    $(FailureCode::$variant => concat!($($doc, " "),*),)*
                }
            }

            /// The code spelled `code` in the JSON report.
            pub fn from_code(code: &str) -> Option<FailureCode> {
                match code {
                    $($code => Some(FailureCode::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

failure_codes! {
    /// The chain (or the exchange file's coin) names no chain this verifier knows.
    UnknownChain => "unknown_chain",
    /// The snapshot header has no anchor for the entry's chain.
    NoAnchor => "no_anchor",
    /// The snapshot's message (or account) template is rejected.
    InvalidTemplate => "invalid_template",
    /// The signed message is not the snapshot's template rendered for the entry.
    MessageMismatch => "message_mismatch",
    /// No signature where one is required.
    NoSignature => "no_signature",
    /// A signature names a scheme this format does not define.
    UnknownScheme => "unknown_scheme",
    /// A known scheme that does not apply to this chain or script type, or a mix of schemes
    /// that is not allowed together.
    SchemeNotApplicable => "scheme_not_applicable",
    /// A field is missing, malformed, or set where it does not apply.
    InvalidField => "invalid_field",
    /// The address does not parse as an address of its chain.
    InvalidAddress => "invalid_address",
    /// The address belongs to another network than the entry states.
    NetworkMismatch => "network_mismatch",
    /// The stated script type or the signature's header does not fit the address.
    ScriptTypeMismatch => "script_type_mismatch",
    /// A multisig script that is malformed or does not hash to the address.
    InvalidScript => "invalid_script",
    /// A public key (stated in the file) that does not parse.
    InvalidPublicKey => "invalid_public_key",
    /// A signature that cannot be decoded (encoding, length, header or recovery byte).
    MalformedSignature => "malformed_signature",
    /// A malleated signature (high s) that is not accepted.
    NonCanonicalSignature => "non_canonical_signature",
    /// A signature that decodes but does not verify for the message.
    InvalidSignature => "invalid_signature",
    /// A valid signature by another key than the address's, the account's or the script's.
    WrongKey => "wrong_key",
    /// Fewer distinct cosigners signed than the threshold requires.
    BelowThreshold => "below_threshold",
    /// The address (or the account's) was already listed earlier in the file.
    DuplicateAddress => "duplicate_address",
    /// A relative path below an account key that is malformed or hardened.
    InvalidPath => "invalid_path",
    /// A listed address that is not the one derived at its path below the account key.
    DerivedAddressMismatch => "derived_address_mismatch",
    /// An account entry that lists no address.
    NoAddresses => "no_addresses",
    /// A stated balance that is negative, not a decimal, or finer than the asset's smallest
    /// unit; Bitcoin coins that do not add up to it or are not at the anchor.
    InvalidBalance => "invalid_balance",
    /// A node at the anchor contradicts the stated balance, or does not prove a listed coin.
    BalanceMismatch => "balance_mismatch",
    /// A contract wallet whose signing owners are not its owners at the anchor, or do not
    /// reach its threshold (a node said so).
    NotOwner => "not_owner",
    /// A token's contract at the anchor contradicts the file's description of it (its
    /// decimals).
    TokenMismatch => "token_mismatch",
    /// The file as a whole: the digest it states is not the digest of its canonical content.
    DigestMismatch => "digest_mismatch",
    /// The file as a whole: a total its summary block states is not what its rows add up to.
    TotalMismatch => "total_mismatch",
    /// With a node: the node's block at a chain's anchor height is not the block the file
    /// states.
    AnchorMismatch => "anchor_mismatch",
    /// With a node: the node has no block (or cannot give the block) at a chain's anchor
    /// height.
    AnchorUnavailable => "anchor_unavailable",
}

impl fmt::Display for FailureCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for FailureCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A failure: its code and the human reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// What kind of failure.
    pub code: FailureCode,
    /// What exactly is wrong, for a person.
    pub reason: String,
}

impl Failure {
    /// A failure of this kind with this reason.
    pub fn new(code: FailureCode, reason: impl Into<String>) -> Failure {
        Failure {
            code,
            reason: reason.into(),
        }
    }

    /// The same failure with `what` (a signature's position, a column) before its reason.
    pub fn context(self, what: impl fmt::Display) -> Failure {
        Failure {
            code: self.code,
            reason: format!("{what}: {}", self.reason),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl From<SchemeError> for Failure {
    fn from(err: SchemeError) -> Failure {
        Failure::new(err.code(), err.to_string())
    }
}

impl From<&SchemeError> for FailureCode {
    fn from(err: &SchemeError) -> FailureCode {
        use FailureCode as C;
        match err {
            SchemeError::NotBase64
            | SchemeError::NotHex
            | SchemeError::BadLength { .. }
            | SchemeError::HeaderOutOfRange(_)
            | SchemeError::BadRecoveryByte(_)
            | SchemeError::Unrecoverable
            | SchemeError::Bip322Malformed(_) => C::MalformedSignature,
            SchemeError::HeaderTypeMismatch { .. } => C::ScriptTypeMismatch,
            SchemeError::AddressMismatch { .. } | SchemeError::NotAMember { .. } => C::WrongKey,
            SchemeError::HighS => C::NonCanonicalSignature,
            SchemeError::BadAddress { .. } => C::InvalidAddress,
            SchemeError::AddressTypeMismatch { .. } => C::NetworkMismatch,
            SchemeError::ScriptHashMismatch(_) | SchemeError::MalformedMultisig(_) => {
                C::InvalidScript
            }
            SchemeError::BelowThreshold { .. } => C::BelowThreshold,
            SchemeError::Cosigner { source, .. } => C::from(source.as_ref()),
            SchemeError::Bip322Invalid(_)
            | SchemeError::SignatureInvalid(_)
            | SchemeError::NoFormVerifies(_)
            // Callers turn an unsupported error into an unsupported outcome before this;
            // should one reach a failure, it is still not a pass.
            | SchemeError::Unsupported(_) => C::InvalidSignature,
        }
    }
}

impl SchemeError {
    /// The failure code this error is reported under.
    pub fn code(&self) -> FailureCode {
        FailureCode::from(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_snake_case_unique_and_documented() {
        let docs = include_str!("../../../docs/failure-codes.md");
        let mut seen = std::collections::HashSet::new();
        for code in FailureCode::ALL {
            let s = code.as_str();
            assert!(
                !s.is_empty()
                    && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                    && !s.starts_with('_')
                    && !s.ends_with('_'),
                "{s} is not snake case"
            );
            assert!(seen.insert(s), "{s} twice");
            assert!(
                docs.contains(&format!("| `{s}` |")),
                "{s} is not in docs/failure-codes.md"
            );
        }
        // And the page lists no code that does not exist.
        for line in docs.lines().filter(|l| l.starts_with("| `")) {
            let code = line.trim_start_matches("| `").split('`').next().unwrap();
            assert!(
                seen.contains(code) || crate::report::STATUS_CODES.contains(&code),
                "docs/failure-codes.md lists `{code}`, which no failure has"
            );
        }
    }

    #[test]
    fn codes_serialize_as_their_text() {
        for code in [
            FailureCode::WrongKey,
            FailureCode::DerivedAddressMismatch,
            FailureCode::NonCanonicalSignature,
        ] {
            assert_eq!(
                serde_json::to_value(code).unwrap(),
                serde_json::Value::String(code.as_str().into())
            );
        }
    }

    #[test]
    fn a_cosigner_error_takes_its_source_code() {
        let e = SchemeError::Cosigner {
            index: 2,
            source: Box::new(SchemeError::HighS),
        };
        assert_eq!(e.code(), FailureCode::NonCanonicalSignature);
        let f = Failure::from(e).context("signature 1");
        assert_eq!(f.reason, "signature 1: signature 2: high-s signature (s above half the curve order) is not accepted");
    }
}
