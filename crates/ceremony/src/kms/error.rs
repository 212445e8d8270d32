//! What can go wrong with AWS KMS. No variant ever holds a credential: the service's messages
//! and our own name the key, the operation and the endpoint only.

use std::fmt;

/// Why an AWS KMS call, or a key it returned, could not be used.
#[derive(Debug)]
pub struct KmsError {
    /// The key as the manifest or the listing names it, when the call was about one key.
    pub key: Option<String>,
    /// The KMS operation (`Sign`, `GetPublicKey`, ...).
    pub operation: &'static str,
    /// The endpoint asked.
    pub endpoint: String,
    /// What went wrong.
    pub kind: KmsErrorKind,
}

/// The kinds of [`KmsError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KmsErrorKind {
    /// No usable credentials in the AWS chain (environment, profile, container, instance role).
    Credentials(String),
    /// The endpoint could not be reached or the connection broke (after retries).
    Network(String),
    /// KMS answered an error (`__type` without its namespace, and its message).
    Service {
        /// The error code, e.g. `DisabledException`.
        code: String,
        /// The service's message.
        message: String,
        /// The HTTP status.
        status: u16,
    },
    /// KMS kept answering `ThrottlingException` through every retry.
    Throttled {
        /// How many times it was asked.
        attempts: u32,
        /// The last message.
        message: String,
    },
    /// The key is not a secp256k1 signing key.
    WrongKey {
        /// Its `KeySpec`.
        spec: String,
        /// Its `KeyUsage`.
        usage: String,
    },
    /// The answer did not parse or is not what the operation returns.
    BadReply(String),
}

impl KmsError {
    /// The service's error code, for a [`KmsErrorKind::Service`] error.
    pub fn code(&self) -> Option<&str> {
        match &self.kind {
            KmsErrorKind::Service { code, .. } => Some(code),
            _ => None,
        }
    }
}

impl fmt::Display for KmsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = self.operation;
        let key = match &self.key {
            Some(k) => format!("AWS KMS key `{k}`"),
            None => "AWS KMS".to_string(),
        };
        match &self.kind {
            KmsErrorKind::Credentials(m) => write!(f, "no usable AWS credentials: {m}"),
            KmsErrorKind::Network(m) => write!(
                f,
                "cannot reach AWS KMS at {} ({op}{}): {m}",
                self.endpoint,
                self.key
                    .as_ref()
                    .map(|k| format!(" of key `{k}`"))
                    .unwrap_or_default()
            ),
            KmsErrorKind::Throttled { attempts, message } => write!(
                f,
                "{key}: KMS throttled {op} {attempts} times in a row (ThrottlingException: {message}); \
                 lower --parallel, or ask AWS for a higher request quota for this account and region"
            ),
            KmsErrorKind::WrongKey { spec, usage } => write!(
                f,
                "{key} is a {spec} key for {usage}, not a secp256k1 signing key (KeySpec \
                 ECC_SECG_P256K1, KeyUsage SIGN_VERIFY): it cannot sign for Bitcoin, EVM or TRON \
                 addresses"
            ),
            KmsErrorKind::BadReply(m) => {
                write!(f, "{key}: {op} answered something unusable: {m}")
            }
            KmsErrorKind::Service { code, message, .. } => {
                let said = if message.is_empty() {
                    format!("{code} from {op}")
                } else {
                    format!("{code} from {op}: {message}")
                };
                match code.as_str() {
                    "DisabledException" => write!(
                        f,
                        "{key} is disabled ({said}); enable it (aws kms enable-key) or name another key"
                    ),
                    "KMSInvalidStateException" => write!(
                        f,
                        "{key} cannot sign in its current state ({said}); a key pending deletion must be \
                         restored (aws kms cancel-key-deletion) and enabled first"
                    ),
                    "NotFoundException" => write!(
                        f,
                        "{key} does not exist at {} ({said}); check the key id or alias and the region",
                        self.endpoint
                    ),
                    "AccessDeniedException" => write!(
                        f,
                        "access denied to {key} ({said}); the caller's IAM policy and the key policy \
                         must allow kms:GetPublicKey and kms:Sign"
                    ),
                    "InvalidKeyUsageException" => write!(
                        f,
                        "{key} cannot sign ({said}); a signing key has KeyUsage SIGN_VERIFY"
                    ),
                    "UnrecognizedClientException"
                    | "InvalidSignatureException"
                    | "IncompleteSignature"
                    | "MissingAuthenticationToken"
                    | "ExpiredTokenException"
                    | "InvalidClientTokenId" => write!(
                        f,
                        "AWS KMS refused the request's credentials ({said}); check the AWS credentials \
                         (environment, profile) and the region"
                    ),
                    _ => write!(f, "{key}: {said}"),
                }
            }
        }
    }
}

impl std::error::Error for KmsError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(kind: KmsErrorKind) -> String {
        KmsError {
            key: Some("alias/hot-1".into()),
            operation: "Sign",
            endpoint: "https://kms.eu-west-1.amazonaws.com".into(),
            kind,
        }
        .to_string()
    }

    fn service(code: &str) -> KmsErrorKind {
        KmsErrorKind::Service {
            code: code.into(),
            message: "m".into(),
            status: 400,
        }
    }

    #[test]
    fn messages_name_the_key_and_what_to_do() {
        for (kind, needles) in [
            (
                service("DisabledException"),
                &["AWS KMS key `alias/hot-1` is disabled", "enable-key"][..],
            ),
            (
                service("KMSInvalidStateException"),
                &["`alias/hot-1` cannot sign", "cancel-key-deletion"],
            ),
            (
                service("AccessDeniedException"),
                &["access denied to AWS KMS key `alias/hot-1`", "kms:Sign"],
            ),
            (
                service("NotFoundException"),
                &["does not exist at https://kms.eu-west-1"],
            ),
            (
                service("UnrecognizedClientException"),
                &["refused the request's credentials"],
            ),
            (
                KmsErrorKind::Network("connection refused".into()),
                &["cannot reach AWS KMS at https://kms.eu-west-1.amazonaws.com (Sign of key `alias/hot-1`)"],
            ),
            (
                KmsErrorKind::WrongKey {
                    spec: "RSA_2048".into(),
                    usage: "SIGN_VERIFY".into(),
                },
                &["is a RSA_2048 key", "not a secp256k1"],
            ),
            (
                KmsErrorKind::Throttled {
                    attempts: 9,
                    message: "Rate exceeded".into(),
                },
                &["throttled Sign 9 times", "lower --parallel"],
            ),
        ] {
            let m = err(kind);
            for n in needles {
                assert!(m.contains(n), "`{n}` not in: {m}");
            }
        }
    }
}
