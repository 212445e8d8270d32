//! AWS KMS secp256k1 keys (`ECC_SECG_P256K1`, `SIGN_VERIFY`) over KMS's JSON protocol: each
//! request is a POST of `application/x-amz-json-1.1` with `X-Amz-Target: TrentService.OP`,
//! signed with SigV4 (`aws-sigv4`) and sent with reqwest's blocking client (rustls). Only the
//! five operations the ceremony needs: `GetPublicKey`, `Sign` (`MessageType = DIGEST`),
//! `DescribeKey`, `ListKeys`, `ListAliases`.
//!
//! Throttled requests (`ThrottlingException`) are asked again with exponential back-off and
//! jitter, transient failures (network, 5xx) a few times, and expired temporary credentials are
//! loaded again once; every other error is final and names the key ([`KmsError`]).

mod api;
mod credentials;
mod error;

pub use api::{
    public_key_from_spki, KeyMetadata, KmsPublicKey, ECDSA_SHA_256, SECP256K1_SPEC, SIGN_VERIFY,
};
pub use credentials::{load_from_system, AwsCredentials, CredentialSources};
pub use error::{KmsError, KmsErrorKind};

use crate::manifest::AwsKmsConfig;
use api::Retry;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A KMS endpoint of one region, with the credentials it signs with. Cheap to clone: clones
/// share the connection pool, the credentials and the counters.
#[derive(Clone)]
pub struct KmsClient {
    inner: Arc<Inner>,
}

struct Inner {
    endpoint: String,
    host: String,
    region: String,
    http: reqwest::blocking::Client,
    credentials: RwLock<AwsCredentials>,
    reload: Box<dyn Fn() -> Result<AwsCredentials, String> + Send + Sync>,
    requests: AtomicU64,
    throttled: AtomicU64,
}

impl std::fmt::Debug for KmsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KmsClient")
            .field("endpoint", &self.inner.endpoint)
            .field("region", &self.inner.region)
            .finish_non_exhaustive()
    }
}

impl KmsClient {
    /// A client of `config`'s endpoint, with credentials from the standard chain, loaded now.
    pub fn open(config: &AwsKmsConfig) -> Result<KmsClient, KmsError> {
        KmsClient::with_credentials(config, Box::new(load_from_system))
    }

    /// A client whose credentials come from `load` (called now, and again when they expire).
    pub fn with_credentials(
        config: &AwsKmsConfig,
        load: Box<dyn Fn() -> Result<AwsCredentials, String> + Send + Sync>,
    ) -> Result<KmsClient, KmsError> {
        let endpoint = config.endpoint_url();
        let err = |kind| KmsError {
            key: None,
            operation: "connecting",
            endpoint: endpoint.clone(),
            kind,
        };
        let credentials = load().map_err(|m| err(KmsErrorKind::Credentials(m)))?;
        let host = endpoint
            .split_once("://")
            .map(|(_, h)| h.trim_end_matches('/').to_string())
            .unwrap_or_default();
        let http = reqwest::blocking::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| err(KmsErrorKind::Network(e.to_string())))?;
        Ok(KmsClient {
            inner: Arc::new(Inner {
                host,
                region: config.region.clone(),
                endpoint,
                http,
                credentials: RwLock::new(credentials),
                reload: load,
                requests: AtomicU64::new(0),
                throttled: AtomicU64::new(0),
            }),
        })
    }

    /// The endpoint asked.
    pub fn endpoint(&self) -> &str {
        &self.inner.endpoint
    }

    /// The region.
    pub fn region(&self) -> &str {
        &self.inner.region
    }

    /// Where the credentials came from (never the credentials).
    pub fn credentials_source(&self) -> String {
        self.creds().source.clone()
    }

    /// Requests sent so far, and how many of them were answered `ThrottlingException`.
    pub fn counters(&self) -> (u64, u64) {
        (
            self.inner.requests.load(Ordering::Relaxed),
            self.inner.throttled.load(Ordering::Relaxed),
        )
    }

    fn creds(&self) -> AwsCredentials {
        self.inner
            .credentials
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The public key of a secp256k1 signing key (`GetPublicKey`); any other key is
    /// [`KmsErrorKind::WrongKey`].
    pub fn public_key(&self, key: &str) -> Result<KmsPublicKey, KmsError> {
        let v = self.call("GetPublicKey", Some(key), &api::key_request(key))?;
        api::parse_public_key(&v).map_err(|kind| self.error("GetPublicKey", Some(key), kind))
    }

    /// `Sign` of a 32-byte digest (`MessageType = DIGEST`, `ECDSA_SHA_256`): the DER signature.
    pub fn sign_digest(&self, key: &str, digest: &[u8; 32]) -> Result<Vec<u8>, KmsError> {
        let v = self.call("Sign", Some(key), &api::sign_request(key, digest))?;
        api::parse_signature(&v).map_err(|kind| self.error("Sign", Some(key), kind))
    }

    /// `DescribeKey`.
    pub fn describe_key(&self, key: &str) -> Result<KeyMetadata, KmsError> {
        let v = self.call("DescribeKey", Some(key), &api::key_request(key))?;
        api::parse_metadata(&v).map_err(|kind| self.error("DescribeKey", Some(key), kind))
    }

    /// Every key of the account and region (`ListKeys`, all pages): (key id, ARN).
    pub fn list_keys(&self) -> Result<Vec<(String, String)>, KmsError> {
        self.all_pages("ListKeys", "Keys", api::key_item)
    }

    /// Every alias that points at a key (`ListAliases`, all pages): (alias name, key id).
    pub fn list_aliases(&self) -> Result<Vec<(String, String)>, KmsError> {
        self.all_pages("ListAliases", "Aliases", api::alias_item)
    }

    fn all_pages(
        &self,
        operation: &'static str,
        list: &str,
        item: fn(&Value) -> Option<(String, String)>,
    ) -> Result<Vec<(String, String)>, KmsError> {
        let mut out = Vec::new();
        let mut marker = None;
        loop {
            let v = self.call(operation, None, &api::page_request(marker.as_deref()))?;
            let (items, next) = api::parse_page(&v, list, item)
                .map_err(|kind| self.error(operation, None, kind))?;
            out.extend(items);
            match next {
                Some(m) => marker = Some(m),
                None => return Ok(out),
            }
        }
    }

    fn error(&self, operation: &'static str, key: Option<&str>, kind: KmsErrorKind) -> KmsError {
        KmsError {
            key: key.map(str::to_string),
            operation,
            endpoint: self.inner.endpoint.clone(),
            kind,
        }
    }

    /// One operation, asked again as [`api::retry_of`] says.
    fn call(
        &self,
        operation: &'static str,
        key: Option<&str>,
        body: &Value,
    ) -> Result<Value, KmsError> {
        let body = serde_json::to_vec(body).expect("a JSON value serializes");
        let (mut attempt, mut throttles, mut reloaded) = (0u32, 0u32, false);
        loop {
            attempt += 1;
            let kind = match self.send(operation, &body) {
                Ok(v) => return Ok(v),
                Err(kind) => kind,
            };
            let wait = match api::retry_of(&kind) {
                Retry::Throttled if attempt < api::THROTTLE_ATTEMPTS => {
                    self.inner.throttled.fetch_add(1, Ordering::Relaxed);
                    throttles += 1;
                    api::backoff(throttles, jitter())
                }
                Retry::Throttled => {
                    self.inner.throttled.fetch_add(1, Ordering::Relaxed);
                    let message = match &kind {
                        KmsErrorKind::Service { message, .. } => message.clone(),
                        _ => String::new(),
                    };
                    return Err(self.error(
                        operation,
                        key,
                        KmsErrorKind::Throttled {
                            attempts: attempt,
                            message,
                        },
                    ));
                }
                Retry::Transient if attempt < api::TRANSIENT_ATTEMPTS => {
                    api::backoff(attempt + 1, jitter())
                }
                Retry::Credentials if !reloaded => {
                    reloaded = true;
                    let fresh = (self.inner.reload)()
                        .map_err(|m| self.error(operation, key, KmsErrorKind::Credentials(m)))?;
                    *self
                        .inner
                        .credentials
                        .write()
                        .unwrap_or_else(|e| e.into_inner()) = fresh;
                    Duration::ZERO
                }
                _ => return Err(self.error(operation, key, kind)),
            };
            std::thread::sleep(wait);
        }
    }

    /// One signed POST; the answer's JSON, or what went wrong.
    fn send(&self, operation: &str, body: &[u8]) -> Result<Value, KmsErrorKind> {
        self.inner.requests.fetch_add(1, Ordering::Relaxed);
        let target = format!("TrentService.{operation}");
        let headers = [
            ("host", self.inner.host.as_str()),
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", target.as_str()),
        ];
        let signed = self.sign_headers(&headers, body)?;
        let mut req = self.inner.http.post(format!("{}/", self.inner.endpoint));
        for (k, v) in headers.iter().skip(1) {
            req = req.header(*k, *v);
        }
        for (k, v) in signed {
            req = req.header(k, v);
        }
        let resp = req
            .body(body.to_vec())
            .send()
            .map_err(|e| KmsErrorKind::Network(network_detail(&e)))?;
        let status = resp.status().as_u16();
        let error_type = resp
            .headers()
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = resp
            .bytes()
            .map_err(|e| KmsErrorKind::Network(network_detail(&e)))?;
        if status == 200 {
            serde_json::from_slice(&bytes)
                .map_err(|e| KmsErrorKind::BadReply(format!("the answer is not JSON: {e}")))
        } else {
            Err(api::parse_error(status, error_type.as_deref(), &bytes))
        }
    }

    /// The SigV4 headers (`authorization`, `x-amz-date`, `x-amz-security-token`) for a request.
    fn sign_headers(
        &self,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Vec<(String, String)>, KmsErrorKind> {
        let creds = self.creds();
        let identity = Credentials::new(
            creds.access_key_id.clone(),
            creds.secret().to_string(),
            creds.session_token().map(str::to_string),
            None,
            "por-attest",
        )
        .into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.inner.region)
            .name("kms")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| KmsErrorKind::Credentials(format!("cannot sign the request: {e}")))?
            .into();
        let url = format!("{}/", self.inner.endpoint);
        let signable = SignableRequest::new(
            "POST",
            &url,
            headers.iter().copied(),
            SignableBody::Bytes(body),
        )
        .map_err(|e| KmsErrorKind::Credentials(format!("cannot sign the request: {e}")))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| KmsErrorKind::Credentials(format!("cannot sign the request: {e}")))?
            .into_parts();
        Ok(instructions
            .headers()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect())
    }
}

/// reqwest's error with its causes (connection refused, reset, timed out), without the URL
/// (the error names the endpoint already).
fn network_detail(e: &reqwest::Error) -> String {
    let mut parts = vec![failure_kind(e)];
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let t = s.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// What kind of failure a reqwest error is, in words.
fn failure_kind(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "cannot connect".into()
    } else if e.is_body() || e.is_decode() {
        "the connection broke while reading the answer".into()
    } else {
        "the request failed".into()
    }
}

/// A number in [0, 1) that differs between calls and threads (back-off jitter; not secret).
fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(token: Option<&str>) -> KmsClient {
        let token = token.map(str::to_string);
        KmsClient::with_credentials(
            &AwsKmsConfig {
                region: "eu-west-1".into(),
                endpoint: None,
            },
            Box::new(move || {
                Ok(AwsCredentials::new(
                    "AKIDEXAMPLE".into(),
                    "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
                    token.clone(),
                    "test".into(),
                ))
            }),
        )
        .unwrap()
    }

    /// Requests are signed for the region's KMS with SigV4; the secret never leaves; a session
    /// token travels as x-amz-security-token.
    #[test]
    fn requests_are_signed_with_sigv4_for_kms() {
        let c = client(None);
        assert_eq!(c.endpoint(), "https://kms.eu-west-1.amazonaws.com");
        let headers = [
            ("host", "kms.eu-west-1.amazonaws.com"),
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", "TrentService.Sign"),
        ];
        let signed = c.sign_headers(&headers, b"{}").unwrap();
        let get = |name: &str| {
            signed
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let auth = get("authorization").expect("an authorization header");
        assert!(
            auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
                && auth.contains("/eu-west-1/kms/aws4_request")
                && auth.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-target"),
            "{auth}"
        );
        assert!(get("x-amz-date").is_some());
        assert!(get("x-amz-security-token").is_none());
        assert!(signed.iter().all(|(_, v)| !v.contains("wJalrXUtnFEMI")));
        let with_token = client(Some("session-token"));
        let signed = with_token.sign_headers(&headers, b"{}").unwrap();
        assert!(signed
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("x-amz-security-token") && v == "session-token"));
        assert_eq!(
            format!("{:?}", with_token.creds()),
            "AwsCredentials { source: \"test\", .. }"
        );
    }
}
