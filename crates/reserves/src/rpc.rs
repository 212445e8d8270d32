//! HTTP to one node: JSON-RPC calls (alone or batched) and REST GETs, with a timeout per
//! request and retries with exponential backoff on timeouts, refused connections, 429 and 5xx.
//!
//! Two kinds of error: a [`NodeError`] means the endpoint cannot be used (unreachable after the
//! retries, an HTTP error, an answer that is not what the protocol says): the whole check stops
//! (exit status 2) and nothing is reported as verified. An [`RpcError`] is the node's own
//! answer to one request (a JSON-RPC error object, such as "missing trie node" on a pruned
//! node): that address is "not checked on chain", with the node's message.

use serde_json::{json, Value};
use std::time::Duration;

/// HTTP requests sent by every [`Client`] of this process, retries included (the benchmarks
/// read it for requests per block).
pub static HTTP_REQUESTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The endpoint cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// No answer after the retries (connection refused, timeout, 429/5xx every time).
    #[error("node {endpoint} is unreachable: {detail}")]
    Unreachable {
        /// The endpoint (without credentials).
        endpoint: String,
        /// What happened on the last try.
        detail: String,
    },
    /// An answer that is not the protocol's (not JSON, wrong shape, HTTP error status).
    #[error("node {endpoint} answered garbage: {detail}")]
    Garbage {
        /// The endpoint (without credentials).
        endpoint: String,
        /// What was wrong with it.
        detail: String,
    },
    /// A well-formed answer that cannot be used for what was asked (a UTXO scan whose tip
    /// is not the anchor block).
    #[error("node {endpoint}: {detail}")]
    NotAtAnchor {
        /// The endpoint (without credentials).
        endpoint: String,
        /// Why.
        detail: String,
    },
    /// The endpoints configuration is unusable.
    #[error("{0}")]
    Config(String),
}

/// The node's own error answer to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcError(pub String);

impl std::fmt::Display for RpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a request authenticates (secrets come from the environment; never printed).
#[derive(Clone, Default)]
pub enum Auth {
    /// No authentication.
    #[default]
    None,
    /// `Authorization: Bearer …`.
    Bearer(String),
    /// HTTP basic authentication (Bitcoin Core's `rpcuser` / `rpcpassword`).
    Basic {
        /// The user.
        user: String,
        /// The password.
        password: String,
    },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Auth::None => "None",
            Auth::Bearer(_) => "Bearer(<redacted>)",
            Auth::Basic { .. } => "Basic(<redacted>)",
        })
    }
}

/// Timeouts and retries of a client.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Per request.
    pub timeout: Duration,
    /// Tries after the first.
    pub retries: u32,
    /// The first backoff; doubled after each try.
    pub backoff: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            timeout: Duration::from_secs(30),
            retries: 4,
            backoff: Duration::from_millis(250),
        }
    }
}

/// The endpoint as shown in reports and errors: scheme, host, port and path, without user
/// information or query string (where API keys hide).
pub fn shown_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            u.to_string().trim_end_matches('/').to_string()
        }
        Err(_) => "<unparsable URL>".to_string(),
    }
}

/// A client of one endpoint.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    url: reqwest::Url,
    shown: String,
    auth: Auth,
    policy: Policy,
}

impl Client {
    /// A client of `url`.
    pub fn new(url: &str, auth: Auth, policy: Policy) -> Result<Client, NodeError> {
        let parsed = reqwest::Url::parse(url)
            .map_err(|e| NodeError::Config(format!("node URL `{}`: {e}", shown_url(url))))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(NodeError::Config(format!(
                "node URL `{}`: only http and https are supported",
                shown_url(url)
            )));
        }
        let http = reqwest::Client::builder()
            .timeout(policy.timeout)
            .build()
            .map_err(|e| NodeError::Config(format!("HTTP client: {e}")))?;
        Ok(Client {
            http,
            shown: shown_url(url),
            url: parsed,
            auth,
            policy,
        })
    }

    /// The endpoint as shown (no credentials).
    pub fn endpoint(&self) -> &str {
        &self.shown
    }

    fn garbage(&self, detail: impl Into<String>) -> NodeError {
        NodeError::Garbage {
            endpoint: self.shown.clone(),
            detail: detail.into(),
        }
    }

    /// Sends a request built by `build` until it is answered, retrying what is worth
    /// retrying; the body of a 2xx answer.
    async fn send(
        &self,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<(u16, Vec<u8>), NodeError> {
        let mut wait = self.policy.backoff;
        let mut last = String::new();
        for attempt in 0..=self.policy.retries {
            if attempt > 0 {
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
            HTTP_REQUESTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut req = build();
            req = match &self.auth {
                Auth::None => req,
                Auth::Bearer(t) => req.bearer_auth(t),
                Auth::Basic { user, password } => req.basic_auth(user, Some(password)),
            };
            match req.send().await {
                Ok(resp) => {
                    let status = resp.status();
                    if status.as_u16() == 429 || status.is_server_error() {
                        last = format!("HTTP {status}");
                        // Bitcoin Core before 28 (and for JSON-RPC 1.x requests) answers a
                        // single call's error with HTTP 500 and the error object: an answer.
                        if status.as_u16() == 500 {
                            if let Ok(b) = resp.bytes().await {
                                if is_rpc_error(&b) {
                                    return Ok((500, b.to_vec()));
                                }
                            }
                        }
                        continue;
                    }
                    match resp.bytes().await {
                        Ok(b) if status.is_success() => return Ok((status.as_u16(), b.to_vec())),
                        Ok(b) => {
                            return Err(self.garbage(format!(
                                "HTTP {status}: {}",
                                String::from_utf8_lossy(&b)
                                    .chars()
                                    .take(200)
                                    .collect::<String>()
                            )))
                        }
                        Err(e) => last = format!("reading the answer: {e}"),
                    }
                }
                Err(e) if e.is_timeout() => {
                    last = format!("no answer within {:?}", self.policy.timeout)
                }
                Err(e) if e.is_connect() || e.is_request() => {
                    last = format!("cannot connect: {}", root_cause(&e))
                }
                Err(e) => last = root_cause(&e),
            }
        }
        Err(NodeError::Unreachable {
            endpoint: self.shown.clone(),
            detail: format!("{last} (after {} tries)", self.policy.retries + 1),
        })
    }

    /// One JSON-RPC call: the result, or the node's error for it.
    pub async fn call(
        &self,
        method: &str,
        params: Value,
    ) -> Result<Result<Value, RpcError>, NodeError> {
        let mut out = self.batch(&[(method.to_string(), params)]).await?;
        Ok(out.pop().expect("one answer per call"))
    }

    /// JSON-RPC calls in one HTTP request (a batch, unless there is one call): one answer per
    /// call, in order.
    pub async fn batch(
        &self,
        calls: &[(String, Value)],
    ) -> Result<Vec<Result<Value, RpcError>>, NodeError> {
        let body: Vec<Value> = calls
            .iter()
            .enumerate()
            .map(|(i, (m, p))| json!({"jsonrpc": "2.0", "id": i, "method": m, "params": p}))
            .collect();
        let payload = if body.len() == 1 {
            body[0].clone()
        } else {
            Value::Array(body)
        };
        let (_, bytes) = self
            .send(|| self.http.post(self.url.clone()).json(&payload))
            .await?;
        let answer: Value = serde_json::from_slice(&bytes).map_err(|e| {
            self.garbage(format!(
                "not JSON ({e}): {}",
                String::from_utf8_lossy(&bytes)
                    .chars()
                    .take(120)
                    .collect::<String>()
            ))
        })?;
        let answers = match answer {
            Value::Array(a) => a,
            // A node that refuses batches answers one error object for the whole request.
            one if calls.len() == 1 => vec![one],
            other => {
                return Err(self.garbage(format!(
                    "a batch of {} calls was answered by a single object (does the node \
                     support JSON-RPC batches? try --node-batch 1): {}",
                    calls.len(),
                    other.to_string().chars().take(200).collect::<String>()
                )))
            }
        };
        let mut out: Vec<Option<Result<Value, RpcError>>> = vec![None; calls.len()];
        for a in answers {
            let id = a
                .get("id")
                .and_then(Value::as_u64)
                .filter(|&i| (i as usize) < calls.len())
                .ok_or_else(|| self.garbage(format!("an answer without a known id: {a}")))?;
            let r = match (a.get("result"), a.get("error")) {
                (_, Some(e)) if !e.is_null() => Err(RpcError(
                    e.get("message")
                        .and_then(Value::as_str)
                        .map_or_else(|| e.to_string(), str::to_string),
                )),
                (Some(r), _) => Ok(r.clone()),
                _ => {
                    return Err(
                        self.garbage(format!("an answer with neither result nor error: {a}"))
                    )
                }
            };
            out[id as usize] = Some(r);
        }
        out.into_iter()
            .enumerate()
            .map(|(i, r)| {
                r.ok_or_else(|| self.garbage(format!("no answer to call {i} ({})", calls[i].0)))
            })
            .collect()
    }

    /// Many JSON-RPC calls, `batch` to an HTTP request (1: each call alone), up to
    /// `concurrency` requests in flight, `bar` advanced by the calls answered: one answer per
    /// call, in order. Any request the endpoint cannot serve stops the rest.
    pub async fn batches(
        &self,
        calls: &[(String, Value)],
        batch: usize,
        concurrency: usize,
        bar: &indicatif::ProgressBar,
    ) -> Result<Vec<Result<Value, RpcError>>, NodeError> {
        use futures_util::stream::{self, StreamExt, TryStreamExt};
        let requests = calls.chunks(batch.max(1)).map(|c| async move {
            let r = self.batch(c).await;
            bar.inc(c.len() as u64);
            r
        });
        let parts: Vec<Vec<_>> = stream::iter(requests)
            .buffered(concurrency.max(1))
            .try_collect()
            .await?;
        Ok(parts.into_iter().flatten().collect())
    }

    /// A REST GET of `path` below the endpoint: the body as text (`Ok(None)` for 404).
    pub async fn get(&self, path: &str) -> Result<Option<String>, NodeError> {
        let base = self.url.as_str().trim_end_matches('/');
        let url = format!("{base}/{}", path.trim_start_matches('/'));
        let r = self.send(|| self.http.get(&url)).await;
        match r {
            Ok((_, b)) => String::from_utf8(b)
                .map(Some)
                .map_err(|_| self.garbage(format!("GET {path}: not UTF-8 text"))),
            Err(NodeError::Garbage { detail, .. }) if detail.starts_with("HTTP 404") => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// True for a JSON-RPC answer carrying an error object (what an HTTP 500 from Bitcoin Core
/// holds), as opposed to a proxy's or server's own error page.
fn is_rpc_error(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body)
        .is_ok_and(|v| v.get("error").is_some_and(|e| e.is_object()) && v.get("id").is_some())
}

fn root_cause(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(x) = src {
        s = x.to_string();
        src = x.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_urls_carry_no_credentials() {
        assert_eq!(
            shown_url("https://user:secret@node.example:8545/v3/?apikey=KEY#x"),
            "https://node.example:8545/v3"
        );
        assert_eq!(shown_url("http://127.0.0.1:8545"), "http://127.0.0.1:8545");
        assert_eq!(shown_url("not a url"), "<unparsable URL>");
        assert_eq!(
            format!("{:?}", Auth::Bearer("t0ken".into())),
            "Bearer(<redacted>)"
        );
        assert!(Client::new("ftp://x", Auth::None, Policy::default()).is_err());
    }
}
