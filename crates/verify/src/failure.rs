//! Why an entry, an account or one of its addresses failed: a stable code beside the human
//! reason, so that scripts and tests can tell failures apart without matching text.
//!
//! The codes are part of the JSON report (`problems[].code`) and never change meaning; new
//! ones may be added. `docs/snapshot-format.md` ("Failure codes") lists them.

use crate::schemes::SchemeError;
use serde::Serialize;
use std::fmt;

/// What kind of failure it is. Serialized in kebab case (`wrong-key`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureCode {
    /// The chain (or the exchange file's coin) names no chain this verifier knows.
    UnknownChain,
    /// The snapshot header has no anchor for the entry's chain.
    NoAnchor,
    /// The snapshot's message (or account) template is rejected.
    InvalidTemplate,
    /// The signed message is not the snapshot's template rendered for the entry.
    MessageMismatch,
    /// No signature where one is required.
    NoSignature,
    /// A signature names a scheme this format does not define.
    UnknownScheme,
    /// A known scheme that does not apply to this chain or script type, or a mix of schemes
    /// that is not allowed together.
    SchemeNotApplicable,
    /// A field is missing, malformed, or set where it does not apply.
    InvalidField,
    /// The address does not parse as an address of its chain.
    InvalidAddress,
    /// The address belongs to another network than the entry states.
    NetworkMismatch,
    /// The stated script type or the signature's header does not fit the address.
    ScriptTypeMismatch,
    /// A multisig script that is malformed or does not hash to the address.
    InvalidScript,
    /// A public key (stated in the file) that does not parse.
    InvalidPublicKey,
    /// A signature that cannot be decoded (encoding, length, header or recovery byte).
    MalformedSignature,
    /// A malleated signature (high s) that is not accepted.
    NonCanonicalSignature,
    /// A signature that decodes but does not verify for the message.
    InvalidSignature,
    /// A valid signature by another key than the address's, the account's or the script's.
    WrongKey,
    /// Fewer distinct cosigners signed than the threshold requires.
    BelowThreshold,
    /// The address (or the account's) was already listed earlier in the file.
    DuplicateAddress,
    /// A relative path below an account key that is malformed or hardened.
    InvalidPath,
    /// A listed address that is not the one derived at its path below the account key.
    DerivedAddressMismatch,
    /// An account entry that lists no address.
    NoAddresses,
    /// A stated balance that is negative, not a decimal, or finer than the asset's smallest
    /// unit; Bitcoin coins that do not add up to it or are not at the anchor.
    InvalidBalance,
    /// A node at the anchor contradicts the stated balance, or does not prove a listed coin.
    BalanceMismatch,
    /// A contract wallet whose signing owners are not its owners at the anchor, or do not
    /// reach its threshold (a node said so).
    NotOwner,
    /// A token's contract at the anchor contradicts the file's description of it (its
    /// decimals).
    TokenMismatch,
}

impl FailureCode {
    /// The code as it appears in the JSON report.
    pub fn as_str(self) -> &'static str {
        use FailureCode::*;
        match self {
            UnknownChain => "unknown-chain",
            NoAnchor => "no-anchor",
            InvalidTemplate => "invalid-template",
            MessageMismatch => "message-mismatch",
            NoSignature => "no-signature",
            UnknownScheme => "unknown-scheme",
            SchemeNotApplicable => "scheme-not-applicable",
            InvalidField => "invalid-field",
            InvalidAddress => "invalid-address",
            NetworkMismatch => "network-mismatch",
            ScriptTypeMismatch => "script-type-mismatch",
            InvalidScript => "invalid-script",
            InvalidPublicKey => "invalid-public-key",
            MalformedSignature => "malformed-signature",
            NonCanonicalSignature => "non-canonical-signature",
            InvalidSignature => "invalid-signature",
            WrongKey => "wrong-key",
            BelowThreshold => "below-threshold",
            DuplicateAddress => "duplicate-address",
            InvalidPath => "invalid-path",
            DerivedAddressMismatch => "derived-address-mismatch",
            NoAddresses => "no-addresses",
            InvalidBalance => "invalid-balance",
            BalanceMismatch => "balance-mismatch",
            NotOwner => "not-owner",
            TokenMismatch => "token-mismatch",
        }
    }
}

impl fmt::Display for FailureCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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
