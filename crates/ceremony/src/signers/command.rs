//! [`CommandSigner`]: any service that signs 32-byte digests with secp256k1 keys (Google Cloud
//! KMS, Azure Key Vault, an MPC provider's raw signing, an in-house signer) as a ceremony
//! signer, through a small adapter program the manifest names (`kind = "command"`,
//! `command = ["prog", "arg", ...]`), behind the digest-signer core ([`DigestSigner`]).
//!
//! The protocol (docs/signers.md): the adapter is started once per session and reads one JSON
//! request per line on stdin, answering each with one JSON line on stdout, in order; its stderr
//! is the operator's terminal. Every request has an `id` that its answer repeats.
//!
//! | request | answer |
//! |---|---|
//! | `{"id":1,"method":"hello","protocol":1}` | `{"id":1,"protocol":1,"name":"…"}` |
//! | `{"id":2,"method":"keys"}` | `{"id":2,"keys":[{"key":"NAME","public_key":"HEX"}]}` |
//! | `{"id":3,"method":"sign","key":"NAME","digest":"HEX32"}` | `{"id":3,"signature":"HEX"}` |
//! | (any) | `{"id":N,"error":{"code":"…","message":"…"}}` |
//!
//! `public_key` is a SEC1 point (33 or 65 bytes); `signature` is `r ‖ s` (64 bytes) or DER,
//! either s; the digest is signed as it is (never hashed again). Error codes: `not_found`,
//! `disabled`, `denied`, `unavailable`, `invalid`, anything else is shown as given.

use crate::manifest::CommandConfig;
use crate::pkcs11::KeyRef;
use crate::signers::digest::{DigestKeys, DigestSigner};
use crate::signers::DeviceError;
use bitcoin::secp256k1::PublicKey;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::fmt;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The protocol version this side speaks.
pub const PROTOCOL: u64 = 1;

/// How long an adapter may take to answer one request.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(120);

/// Why a P2TR address cannot be proven with a command signer's keys.
pub const P2TR_ON_COMMAND: &str = "a P2TR address is proven by a BIP-340 Schnorr signature \
     (BIP-322), which the command protocol does not ask for (its adapters sign ECDSA digests); \
     prove P2TR reserves on a Ledger";

/// A command signer: adapter processes (one per session) and the keys they listed.
pub type CommandSigner = DigestSigner<CommandKeys>;

/// Why an adapter could not be used. Never holds what the adapter was given in its
/// environment; its messages are shown as it wrote them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandError {
    /// The program, for messages.
    pub program: String,
    /// The key, when the request was about one key.
    pub key: Option<String>,
    /// What went wrong.
    pub kind: CommandErrorKind,
}

/// The kinds of [`CommandError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandErrorKind {
    /// The program could not be started.
    Start(String),
    /// The program closed its output or exited.
    Exited(String),
    /// No answer in time.
    Timeout(Duration),
    /// An answer that breaks the protocol.
    Protocol(String),
    /// The adapter answered an error.
    Refused {
        /// Its code (`not_found`, `disabled`, `denied`, `unavailable`, ...).
        code: String,
        /// Its message.
        message: String,
    },
    /// The adapter does not list the key.
    UnknownKey {
        /// How many keys it lists.
        listed: usize,
    },
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = format!("command signer `{}`", self.program);
        let key = self
            .key
            .as_ref()
            .map(|k| format!(" key `{k}`:"))
            .unwrap_or_else(|| ":".into());
        match &self.kind {
            CommandErrorKind::Start(e) => write!(f, "cannot start {who}: {e}"),
            CommandErrorKind::Exited(e) => write!(f, "{who} stopped answering ({e})"),
            CommandErrorKind::Timeout(d) => {
                write!(f, "{who}{key} no answer within {} s", d.as_secs())
            }
            CommandErrorKind::Protocol(e) => {
                write!(f, "{who}{key} the answer breaks the protocol: {e}")
            }
            CommandErrorKind::UnknownKey { listed } => write!(
                f,
                "{who}{key} the adapter does not list this key (it lists {listed}); check the manifest's `key`"
            ),
            CommandErrorKind::Refused { code, message } => {
                let hint = match code.as_str() {
                    "not_found" => "; check the manifest's `key`",
                    "disabled" => "; enable the key in its service or name another",
                    "denied" => "; the adapter's identity must be allowed to sign with this key",
                    "unavailable" => "; nothing is lost: run again when the service answers",
                    _ => "",
                };
                write!(f, "{who}{key} refused ({code}: {message}){hint}")
            }
        }
    }
}

impl std::error::Error for CommandError {}

impl From<CommandError> for DeviceError {
    fn from(e: CommandError) -> DeviceError {
        DeviceError::KeyService(Box::new(e))
    }
}

/// The `hello` request.
pub fn hello_request(id: u64) -> Value {
    json!({"id": id, "method": "hello", "protocol": PROTOCOL})
}

/// The `keys` request.
pub fn keys_request(id: u64) -> Value {
    json!({"id": id, "method": "keys"})
}

/// The `sign` request of a digest with a key.
pub fn sign_request(id: u64, key: &str, digest: &[u8; 32]) -> Value {
    json!({"id": id, "method": "sign", "key": key, "digest": hex::encode(digest)})
}

/// An answer's result for request `id`: the answer itself, or its error.
pub fn answer_of(id: u64, line: &str) -> Result<Value, CommandErrorKind> {
    let v: Value = serde_json::from_str(line).map_err(|e| {
        CommandErrorKind::Protocol(format!("a line that is not JSON ({e}): {}", snippet(line)))
    })?;
    match v.get("id").and_then(Value::as_u64) {
        Some(got) if got == id => {}
        Some(got) => {
            return Err(CommandErrorKind::Protocol(format!(
                "the answer to request {id} has id {got}"
            )))
        }
        None => {
            return Err(CommandErrorKind::Protocol(format!(
                "an answer without a numeric `id`: {}",
                snippet(line)
            )))
        }
    }
    if let Some(e) = v.get("error") {
        let text = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        return Err(CommandErrorKind::Refused {
            code: Some(text("code"))
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| "error".into()),
            message: text("message"),
        });
    }
    Ok(v)
}

fn snippet(s: &str) -> String {
    let t: String = s.chars().take(120).collect();
    if t.len() < s.len() {
        format!("{t}…")
    } else {
        t
    }
}

fn protocol(e: impl Into<String>) -> CommandErrorKind {
    CommandErrorKind::Protocol(e.into())
}

/// The `keys` answer: key name → public key.
pub fn parse_keys(v: &Value) -> Result<HashMap<String, PublicKey>, CommandErrorKind> {
    let list = v
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| protocol("the keys answer has no `keys` list"))?;
    let mut out = HashMap::new();
    for (i, k) in list.iter().enumerate() {
        let name = k
            .get("key")
            .and_then(Value::as_str)
            .ok_or_else(|| protocol(format!("keys[{i}] has no `key` name")))?;
        let hex_key = k
            .get("public_key")
            .and_then(Value::as_str)
            .ok_or_else(|| protocol(format!("keys[{i}] (`{name}`) has no `public_key`")))?;
        let public = hex::decode(hex_key)
            .ok()
            .and_then(|b| PublicKey::from_slice(&b).ok())
            .ok_or_else(|| {
                protocol(format!(
                    "keys[{i}] (`{name}`): `public_key` is not a hex SEC1 secp256k1 point"
                ))
            })?;
        if out.insert(name.to_string(), public).is_some() {
            return Err(protocol(format!("key `{name}` is listed twice")));
        }
    }
    Ok(out)
}

/// The `sign` answer's signature bytes.
pub fn parse_signature(v: &Value) -> Result<Vec<u8>, CommandErrorKind> {
    let s = v
        .get("signature")
        .and_then(Value::as_str)
        .ok_or_else(|| protocol("the sign answer has no `signature`"))?;
    hex::decode(s).map_err(|_| protocol("`signature` is not hex"))
}

/// One running adapter process.
struct Adapter {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<std::io::Result<String>>,
    next_id: u64,
}

impl Adapter {
    fn start(config: &CommandConfig, name: &str) -> Result<Adapter, CommandError> {
        let err = |kind| CommandError {
            program: name.to_string(),
            key: None,
            kind,
        };
        let mut child = Command::new(&config.program)
            .args(&config.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| err(CommandErrorKind::Start(e.to_string())))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut a = Adapter {
            stdin: child.stdin.take(),
            child,
            lines,
            next_id: 1,
        };
        let hello = a.ask(hello_request).map_err(err)?;
        match hello.get("protocol").and_then(Value::as_u64) {
            Some(PROTOCOL) => Ok(a),
            other => Err(err(protocol(format!(
                "it speaks protocol {}, this por-attest speaks {PROTOCOL}",
                other.map_or("(none)".into(), |p| p.to_string())
            )))),
        }
    }

    /// Sends one request and waits for its answer.
    fn ask(&mut self, request: impl Fn(u64) -> Value) -> Result<Value, CommandErrorKind> {
        let id = self.next_id;
        self.next_id += 1;
        let mut line = request(id).to_string();
        line.push('\n');
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| CommandErrorKind::Exited("its input is closed".into()))?;
        if let Err(e) = stdin
            .write_all(line.as_bytes())
            .and_then(|()| stdin.flush())
        {
            return Err(CommandErrorKind::Exited(self.exit_reason(e.to_string())));
        }
        match self.lines.recv_timeout(ANSWER_TIMEOUT) {
            Ok(Ok(answer)) => answer_of(id, &answer),
            Ok(Err(e)) => Err(CommandErrorKind::Exited(self.exit_reason(e.to_string()))),
            Err(RecvTimeoutError::Timeout) => Err(CommandErrorKind::Timeout(ANSWER_TIMEOUT)),
            Err(RecvTimeoutError::Disconnected) => Err(CommandErrorKind::Exited(
                self.exit_reason("it closed its output".into()),
            )),
        }
    }

    fn exit_reason(&mut self, what: String) -> String {
        // Give a dying adapter a moment to be reaped, so its exit status is known.
        for _ in 0..20 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return format!("{what}; it exited with {status}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        what
    }
}

impl Drop for Adapter {
    fn drop(&mut self) {
        // End of input asks the adapter to exit; one that does not is killed (by its PID).
        drop(self.stdin.take());
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The keys a command signer's adapter listed (asked once, by the first session that needs
/// one), shared by every session.
type KeyList = Arc<Mutex<Option<HashMap<String, PublicKey>>>>;

/// One adapter process and the keys the adapters listed.
pub struct CommandKeys {
    config: CommandConfig,
    name: String,
    adapter: Adapter,
    keys: KeyList,
}

impl fmt::Debug for CommandKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandKeys")
            .field("program", &self.name)
            .finish_non_exhaustive()
    }
}

impl CommandSigner {
    /// Starts the adapter and checks it speaks this protocol.
    pub fn open(config: &CommandConfig) -> Result<CommandSigner, CommandError> {
        let name = config.program.display().to_string();
        Ok(DigestSigner::new(CommandKeys {
            adapter: Adapter::start(config, &name)?,
            config: config.clone(),
            name,
            keys: KeyList::default(),
        }))
    }

    /// Every key the adapter lists, by name.
    pub fn list_keys(&mut self) -> Result<HashMap<String, PublicKey>, CommandError> {
        self.keys.listed()
    }
}

impl CommandKeys {
    fn err(&self, key: Option<&KeyRef>, kind: CommandErrorKind) -> CommandError {
        CommandError {
            program: self.name.clone(),
            key: key.map(|k| k.to_string()),
            kind,
        }
    }

    fn listed(&mut self) -> Result<HashMap<String, PublicKey>, CommandError> {
        if let Some(k) = &*self.keys.lock().unwrap_or_else(|e| e.into_inner()) {
            return Ok(k.clone());
        }
        let listed = self
            .adapter
            .ask(keys_request)
            .and_then(|v| parse_keys(&v))
            .map_err(|kind| self.err(None, kind))?;
        *self.keys.lock().unwrap_or_else(|e| e.into_inner()) = Some(listed.clone());
        Ok(listed)
    }
}

impl DigestKeys for CommandKeys {
    const KIND: &'static str = "command";
    const NO_P2TR: &'static str = P2TR_ON_COMMAND;

    fn public_key(&mut self, key: &KeyRef) -> Result<PublicKey, DeviceError> {
        let listed = self.listed()?;
        match listed.get(&key.to_string()) {
            Some(k) => Ok(*k),
            None => Err(self
                .err(
                    Some(key),
                    CommandErrorKind::UnknownKey {
                        listed: listed.len(),
                    },
                )
                .into()),
        }
    }

    fn sign_raw(&mut self, key: &KeyRef, digest: &[u8; 32]) -> Result<Vec<u8>, DeviceError> {
        let name = key.to_string();
        let answer = self
            .adapter
            .ask(|id| sign_request(id, &name, digest))
            .and_then(|v| parse_signature(&v));
        answer.map_err(|kind| self.err(Some(key), kind).into())
    }

    fn bad_signature(&self, key: &KeyRef, reason: String) -> DeviceError {
        self.err(
            Some(key),
            protocol(format!("its signature is not usable: {reason}")),
        )
        .into()
    }

    fn sessions(&mut self, count: usize) -> Result<Option<Vec<CommandKeys>>, DeviceError> {
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            out.push(CommandKeys {
                adapter: Adapter::start(&self.config, &self.name)?,
                config: self.config.clone(),
                name: self.name.clone(),
                keys: self.keys.clone(),
            });
        }
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::secp256k1::SecretKey;
    use por_attest_verify::schemes::secp;

    #[test]
    fn answers_are_matched_to_their_request() {
        assert_eq!(
            answer_of(3, r#"{"id":3,"signature":"00"}"#).unwrap()["signature"],
            "00"
        );
        let e = answer_of(3, r#"{"id":4,"signature":"00"}"#).unwrap_err();
        assert_eq!(
            e,
            CommandErrorKind::Protocol("the answer to request 3 has id 4".into())
        );
        assert!(matches!(
            answer_of(3, "Traceback (most recent call last):"),
            Err(CommandErrorKind::Protocol(m)) if m.contains("not JSON") && m.contains("Traceback")
        ));
        assert_eq!(
            answer_of(
                3,
                r#"{"id":3,"error":{"code":"disabled","message":"key version 1 is DISABLED"}}"#
            )
            .unwrap_err(),
            CommandErrorKind::Refused {
                code: "disabled".into(),
                message: "key version 1 is DISABLED".into()
            }
        );
        let r = sign_request(7, "hot-1", &[0xab; 32]);
        assert_eq!(r["digest"], "ab".repeat(32));
        assert_eq!(r["method"], "sign");
    }

    #[test]
    fn key_lists_parse_and_refuse_bad_points() {
        let pk = SecretKey::from_slice(&[5u8; 32])
            .unwrap()
            .public_key(secp());
        let v = json!({"id": 2, "keys": [
            {"key": "a", "public_key": hex::encode(pk.serialize())},
            {"key": "b", "public_key": hex::encode(pk.serialize_uncompressed())},
        ]});
        let keys = parse_keys(&v).unwrap();
        assert_eq!((keys["a"], keys["b"]), (pk, pk));
        let bad = json!({"keys": [{"key": "a", "public_key": "02ff"}]});
        assert!(
            matches!(parse_keys(&bad), Err(CommandErrorKind::Protocol(m)) if m.contains("keys[0] (`a`)"))
        );
        let twice = json!({"keys": [
            {"key": "a", "public_key": hex::encode(pk.serialize())},
            {"key": "a", "public_key": hex::encode(pk.serialize())},
        ]});
        assert!(parse_keys(&twice).is_err());
    }

    #[test]
    fn messages_name_the_program_and_key() {
        let e = CommandError {
            program: "./gcp-kms-signer".into(),
            key: Some("hot-1".into()),
            kind: CommandErrorKind::Refused {
                code: "denied".into(),
                message: "Permission 'cloudkms.cryptoKeyVersions.useToSign' denied".into(),
            },
        };
        let m = e.to_string();
        assert!(
            m.contains(
                "command signer `./gcp-kms-signer` key `hot-1`: refused (denied: Permission"
            ),
            "{m}"
        );
    }
}
