//! The part of the AWS KMS JSON protocol (`TrentService`, `application/x-amz-json-1.1`) the
//! ceremony speaks, without I/O: request bodies, answers parsed into types, the public key out
//! of its SubjectPublicKeyInfo, error answers and the retry policy.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use bitcoin::secp256k1::PublicKey;
use serde_json::{json, Value};
use std::time::Duration;

use super::error::KmsErrorKind;

/// `KeySpec` of a secp256k1 key.
pub const SECP256K1_SPEC: &str = "ECC_SECG_P256K1";
/// `KeyUsage` of a signing key.
pub const SIGN_VERIFY: &str = "SIGN_VERIFY";
/// The signing algorithm of a secp256k1 key: ECDSA over a SHA-256 digest.
pub const ECDSA_SHA_256: &str = "ECDSA_SHA_256";

/// The DER prefix of a secp256k1 SubjectPublicKeyInfo with an uncompressed point:
/// SEQUENCE { SEQUENCE { id-ecPublicKey, secp256k1 }, BIT STRING (0 unused bits) 04 ‖ X ‖ Y }.
const SPKI_SECP256K1_PREFIX: [u8; 23] = [
    0x30, 0x56, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b,
    0x81, 0x04, 0x00, 0x0a, 0x03, 0x42, 0x00,
];

/// The body of `Sign` of a 32-byte digest: `MessageType = DIGEST`, so KMS signs these bytes
/// as the SHA-256 digest they are, and does not hash them again.
pub fn sign_request(key: &str, digest: &[u8; 32]) -> Value {
    json!({
        "KeyId": key,
        "Message": B64.encode(digest),
        "MessageType": "DIGEST",
        "SigningAlgorithm": ECDSA_SHA_256,
    })
}

/// The body of an operation on one key (`GetPublicKey`, `DescribeKey`).
pub fn key_request(key: &str) -> Value {
    json!({ "KeyId": key })
}

/// The body of one page of `ListKeys` / `ListAliases`.
pub fn page_request(marker: Option<&str>) -> Value {
    match marker {
        Some(m) => json!({ "Limit": 1000, "Marker": m }),
        None => json!({ "Limit": 1000 }),
    }
}

fn field<'a>(v: &'a Value, name: &str) -> Result<&'a str, KmsErrorKind> {
    v.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| KmsErrorKind::BadReply(format!("no `{name}` in the answer")))
}

fn base64_field(v: &Value, name: &str) -> Result<Vec<u8>, KmsErrorKind> {
    B64.decode(field(v, name)?)
        .map_err(|e| KmsErrorKind::BadReply(format!("`{name}` is not base64: {e}")))
}

/// A key's public key as `GetPublicKey` returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsPublicKey {
    /// The key's ARN.
    pub arn: String,
    /// The secp256k1 public key.
    pub public: PublicKey,
}

/// Parses `GetPublicKey`'s answer: a secp256k1 signing key's public key, or
/// [`KmsErrorKind::WrongKey`] for any other key.
pub fn parse_public_key(v: &Value) -> Result<KmsPublicKey, KmsErrorKind> {
    // `CustomerMasterKeySpec` is the older name of `KeySpec`; KMS still sends both.
    let spec = v
        .get("KeySpec")
        .or_else(|| v.get("CustomerMasterKeySpec"))
        .and_then(Value::as_str)
        .unwrap_or("(no KeySpec)");
    let usage = v
        .get("KeyUsage")
        .and_then(Value::as_str)
        .unwrap_or("(no KeyUsage)");
    if spec != SECP256K1_SPEC || usage != SIGN_VERIFY {
        return Err(KmsErrorKind::WrongKey {
            spec: spec.into(),
            usage: usage.into(),
        });
    }
    let spki = base64_field(v, "PublicKey")?;
    Ok(KmsPublicKey {
        arn: field(v, "KeyId")?.to_string(),
        public: public_key_from_spki(&spki).map_err(KmsErrorKind::BadReply)?,
    })
}

/// The secp256k1 public key of a DER SubjectPublicKeyInfo (uncompressed point, as KMS writes
/// it).
pub fn public_key_from_spki(spki: &[u8]) -> Result<PublicKey, String> {
    let point = spki
        .strip_prefix(&SPKI_SECP256K1_PREFIX[..])
        .filter(|p| p.len() == 65)
        .ok_or_else(|| {
            format!(
                "the public key ({} bytes of DER) is not a secp256k1 SubjectPublicKeyInfo",
                spki.len()
            )
        })?;
    PublicKey::from_slice(point).map_err(|e| format!("the public key's point is invalid: {e}"))
}

/// Parses `Sign`'s answer: the DER signature.
pub fn parse_signature(v: &Value) -> Result<Vec<u8>, KmsErrorKind> {
    if let Some(alg) = v.get("SigningAlgorithm").and_then(Value::as_str) {
        if alg != ECDSA_SHA_256 {
            return Err(KmsErrorKind::BadReply(format!(
                "signed with {alg}, not {ECDSA_SHA_256}"
            )));
        }
    }
    base64_field(v, "Signature")
}

/// One key of `DescribeKey`'s `KeyMetadata`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyMetadata {
    /// The key id (UUID).
    pub key_id: String,
    /// Its ARN.
    pub arn: String,
    /// `Enabled`, `Disabled`, `PendingDeletion`, ...
    pub state: String,
    /// `ECC_SECG_P256K1`, `RSA_2048`, `SYMMETRIC_DEFAULT`, ...
    pub spec: String,
    /// `SIGN_VERIFY`, `ENCRYPT_DECRYPT`, ...
    pub usage: String,
    /// Its description.
    pub description: String,
}

impl KeyMetadata {
    /// Why this key cannot be a reserve key; `None` for an enabled secp256k1 signing key.
    pub fn unusable(&self) -> Option<String> {
        if self.spec != SECP256K1_SPEC || self.usage != SIGN_VERIFY {
            Some(format!(
                "a {} key for {}, not a secp256k1 signing key",
                self.spec, self.usage
            ))
        } else if self.state != "Enabled" {
            Some(format!(
                "a secp256k1 key in state {}, which cannot sign",
                self.state
            ))
        } else {
            None
        }
    }
}

/// Parses `DescribeKey`'s answer.
pub fn parse_metadata(v: &Value) -> Result<KeyMetadata, KmsErrorKind> {
    let m = v
        .get("KeyMetadata")
        .ok_or_else(|| KmsErrorKind::BadReply("no `KeyMetadata` in the answer".into()))?;
    let text = |name: &str| {
        m.get(name)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    Ok(KeyMetadata {
        key_id: field(m, "KeyId")?.to_string(),
        arn: text("Arn"),
        state: text("KeyState"),
        spec: m
            .get("KeySpec")
            .or_else(|| m.get("CustomerMasterKeySpec"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        usage: text("KeyUsage"),
        description: text("Description"),
    })
}

/// A page of a listing: its (name, value) items and the marker of the next page.
pub type Page = (Vec<(String, String)>, Option<String>);

/// One page of `ListKeys` (key ids) or `ListAliases` (alias name, target key id): the items and
/// the marker of the next page.
pub fn parse_page(
    v: &Value,
    list: &str,
    item: impl Fn(&Value) -> Option<(String, String)>,
) -> Result<Page, KmsErrorKind> {
    let items = v
        .get(list)
        .and_then(Value::as_array)
        .ok_or_else(|| KmsErrorKind::BadReply(format!("no `{list}` list in the answer")))?;
    let next = if v.get("Truncated").and_then(Value::as_bool) == Some(true) {
        Some(field(v, "NextMarker")?.to_string())
    } else {
        None
    };
    Ok((items.iter().filter_map(item).collect(), next))
}

/// A `ListKeys` item: (key id, ARN).
pub fn key_item(v: &Value) -> Option<(String, String)> {
    Some((
        v.get("KeyId")?.as_str()?.to_string(),
        v.get("KeyArn")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
    ))
}

/// A `ListAliases` item that points at a key: (alias name, target key id).
pub fn alias_item(v: &Value) -> Option<(String, String)> {
    Some((
        v.get("AliasName")?.as_str()?.to_string(),
        v.get("TargetKeyId")?.as_str()?.to_string(),
    ))
}

/// The error code and message of an error answer: the `__type` of the body (without its
/// `namespace#`), else the `x-amzn-ErrorType` header; `message` or `Message`.
pub fn parse_error(status: u16, error_type_header: Option<&str>, body: &[u8]) -> KmsErrorKind {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let raw_code = v
        .get("__type")
        .and_then(Value::as_str)
        .or(error_type_header)
        .unwrap_or("");
    // `com.amazonaws.kms#DisabledException`, `DisabledException:http://...`.
    let code = raw_code
        .rsplit('#')
        .next()
        .unwrap_or("")
        .split(':')
        .next()
        .unwrap_or("")
        .to_string();
    let message = v
        .get("message")
        .or_else(|| v.get("Message"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if code.is_empty() {
        let text = String::from_utf8_lossy(body);
        let snippet: String = text.chars().take(200).collect();
        return KmsErrorKind::Service {
            code: format!("HTTP {status}"),
            message: snippet,
            status,
        };
    }
    KmsErrorKind::Service {
        code,
        message,
        status,
    }
}

/// What a failed attempt calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Throttled: back off and ask again (many times).
    Throttled,
    /// A transient failure (network, 5xx, KMS internal error): ask again a few times.
    Transient,
    /// Expired temporary credentials: load them again, then ask again once.
    Credentials,
    /// Final.
    No,
}

/// How many times a throttled request is asked in all.
pub const THROTTLE_ATTEMPTS: u32 = 10;
/// How many times a request that failed transiently is asked in all.
pub const TRANSIENT_ATTEMPTS: u32 = 3;

/// What an error calls for.
pub fn retry_of(kind: &KmsErrorKind) -> Retry {
    match kind {
        KmsErrorKind::Network(_) => Retry::Transient,
        KmsErrorKind::Service { code, status, .. } => match code.as_str() {
            "ThrottlingException" | "ThrottledException" | "TooManyRequestsException" => {
                Retry::Throttled
            }
            "ExpiredTokenException" => Retry::Credentials,
            "KMSInternalException"
            | "DependencyTimeoutException"
            | "ServiceUnavailable"
            | "InternalFailure" => Retry::Transient,
            _ if *status >= 500 => Retry::Transient,
            _ => Retry::No,
        },
        _ => Retry::No,
    }
}

/// The wait before attempt `attempt + 1` (`attempt` ≥ 1): exponential from 100 ms, capped at
/// 10 s, with "full jitter" from `jitter` in [0, 1) (AWS's recommended back-off).
pub fn backoff(attempt: u32, jitter: f64) -> Duration {
    let cap = 10_000.0;
    let base = (100.0 * 2f64.powi(attempt.saturating_sub(1).min(16) as i32)).min(cap);
    // Never less than a tenth of the step, so a throttled burst does spread out.
    Duration::from_millis((base * (0.1 + 0.9 * jitter.clamp(0.0, 1.0))) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::secp256k1::SecretKey;
    use por_attest_verify::schemes::secp;

    fn spki_of(pk: &PublicKey) -> Vec<u8> {
        let mut v = SPKI_SECP256K1_PREFIX.to_vec();
        v.extend_from_slice(&pk.serialize_uncompressed());
        v
    }

    #[test]
    fn public_keys_from_get_public_key() {
        let pk = SecretKey::from_slice(&[3u8; 32])
            .unwrap()
            .public_key(secp());
        let answer = json!({
            "KeyId": "arn:aws:kms:eu-west-1:111122223333:key/k",
            "PublicKey": B64.encode(spki_of(&pk)),
            "KeySpec": "ECC_SECG_P256K1",
            "KeyUsage": "SIGN_VERIFY",
        });
        assert_eq!(parse_public_key(&answer).unwrap().public, pk);
        let mut p256 = answer.clone();
        p256["KeySpec"] = json!("ECC_NIST_P256");
        assert_eq!(
            parse_public_key(&p256).unwrap_err(),
            KmsErrorKind::WrongKey {
                spec: "ECC_NIST_P256".into(),
                usage: "SIGN_VERIFY".into()
            }
        );
        let mut bad = answer.clone();
        bad["PublicKey"] = json!(B64.encode(&spki_of(&pk)[..40]));
        assert!(matches!(
            parse_public_key(&bad),
            Err(KmsErrorKind::BadReply(m)) if m.contains("not a secp256k1 SubjectPublicKeyInfo")
        ));
    }

    #[test]
    fn sign_requests_send_the_digest_as_a_digest() {
        let v = sign_request("alias/hot-1", &[7u8; 32]);
        assert_eq!(v["MessageType"], "DIGEST");
        assert_eq!(v["SigningAlgorithm"], "ECDSA_SHA_256");
        assert_eq!(
            B64.decode(v["Message"].as_str().unwrap()).unwrap(),
            [7u8; 32]
        );
        let sig = parse_signature(&json!({"Signature": B64.encode([1, 2, 3])})).unwrap();
        assert_eq!(sig, [1, 2, 3]);
        assert!(parse_signature(
            &json!({"Signature": "AQID", "SigningAlgorithm": "ECDSA_SHA_384"})
        )
        .is_err());
    }

    #[test]
    fn error_answers_and_what_they_call_for() {
        let e = parse_error(
            400,
            None,
            br#"{"__type":"com.amazonaws.kms#DisabledException","message":"key is disabled"}"#,
        );
        assert_eq!(
            e,
            KmsErrorKind::Service {
                code: "DisabledException".into(),
                message: "key is disabled".into(),
                status: 400
            }
        );
        assert_eq!(retry_of(&e), Retry::No);
        let t = parse_error(
            400,
            None,
            br#"{"__type":"ThrottlingException","Message":"Rate exceeded"}"#,
        );
        assert_eq!(retry_of(&t), Retry::Throttled);
        let h = parse_error(400, Some("AccessDeniedException:http://internal"), b"");
        assert!(
            matches!(&h, KmsErrorKind::Service { code, .. } if code == "AccessDeniedException")
        );
        let gateway = parse_error(502, None, b"<html>bad gateway</html>");
        assert!(matches!(&gateway, KmsErrorKind::Service { code, .. } if code == "HTTP 502"));
        assert_eq!(retry_of(&gateway), Retry::Transient);
        assert_eq!(
            retry_of(&KmsErrorKind::Network("reset".into())),
            Retry::Transient
        );
        assert_eq!(
            retry_of(&parse_error(
                400,
                None,
                br#"{"__type":"ExpiredTokenException"}"#
            )),
            Retry::Credentials
        );
    }

    #[test]
    fn backoff_grows_to_its_cap_with_jitter() {
        assert_eq!(backoff(1, 1.0), Duration::from_millis(100));
        assert_eq!(backoff(2, 1.0), Duration::from_millis(200));
        assert_eq!(backoff(8, 1.0), Duration::from_millis(10_000));
        assert_eq!(backoff(30, 1.0), Duration::from_millis(10_000));
        assert_eq!(backoff(1, 0.0), Duration::from_millis(10));
        assert!(backoff(4, 0.5) < backoff(4, 0.9));
    }

    #[test]
    fn metadata_says_why_a_key_is_left_out() {
        let v = json!({"KeyMetadata": {"KeyId": "k", "Arn": "a", "KeyState": "Enabled",
            "KeySpec": "SYMMETRIC_DEFAULT", "KeyUsage": "ENCRYPT_DECRYPT"}});
        let m = parse_metadata(&v).unwrap();
        assert_eq!(
            m.unusable().unwrap(),
            "a SYMMETRIC_DEFAULT key for ENCRYPT_DECRYPT, not a secp256k1 signing key"
        );
        let v = json!({"KeyMetadata": {"KeyId": "k", "KeyState": "PendingDeletion",
            "KeySpec": "ECC_SECG_P256K1", "KeyUsage": "SIGN_VERIFY"}});
        assert!(parse_metadata(&v)
            .unwrap()
            .unusable()
            .unwrap()
            .contains("PendingDeletion"));
        let page = json!({"Keys": [{"KeyId": "a", "KeyArn": "arn:a"}], "Truncated": true, "NextMarker": "m"});
        assert_eq!(
            parse_page(&page, "Keys", key_item).unwrap(),
            (vec![("a".into(), "arn:a".into())], Some("m".into()))
        );
    }
}
