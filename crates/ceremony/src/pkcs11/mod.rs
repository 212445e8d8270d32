//! PKCS#11 tokens (HSMs) holding secp256k1 keys, through the `cryptoki` binding: open a token
//! by label or serial, log in with the user PIN, find a key by `CKA_ID` or `CKA_LABEL` (its
//! public point read once from `CKA_EC_POINT`), and sign 32-byte digests with `CKM_ECDSA`,
//! returning low-s signatures with the recovery id that recovers the key.
//!
//! The PIN is read from an environment variable or a file at the moment of login and handed to
//! the module as a [`secrecy`](cryptoki::types::AuthPin) string; it is never stored, printed
//! or part of an error.

mod addresses;
mod error;

/// The digest-signer core's check of a token's `r ‖ s` (see [`crate::signers::digest`]).
pub use crate::signers::digest::recoverable;
pub use addresses::{address_of, key_addresses, manifest_rows_csv, KeyAddress, KEY_ROW_COLUMNS};
pub use error::HsmError;

use bitcoin::secp256k1::ecdsa::RecoverableSignature;
use bitcoin::secp256k1::PublicKey;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Mutex, OnceLock};

/// `CKA_EC_PARAMS` of a secp256k1 key: the DER of the curve's OID 1.3.132.0.10.
const SECP256K1_PARAMS: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a];

/// Which token of a module: by its label or by its serial number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRef {
    /// `CK_TOKEN_INFO.label` (trailing blanks ignored).
    Label(String),
    /// `CK_TOKEN_INFO.serialNumber` (trailing blanks ignored).
    Serial(String),
}

impl fmt::Display for TokenRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenRef::Label(l) => write!(f, "token `{l}`"),
            TokenRef::Serial(s) => write!(f, "the token with serial `{s}`"),
        }
    }
}

/// Which key of a signer that holds keys one by one, the spelling of the manifest's `key` field:
/// on a token `id:HEX` (`CKA_ID`) or `label:TEXT` (`CKA_LABEL`); on a key service the service's
/// own name for it (an AWS KMS key id, ARN or `alias/NAME`; a `command` signer's key name).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyRef {
    /// `CKA_ID` bytes.
    Id(Vec<u8>),
    /// `CKA_LABEL` text.
    Label(String),
    /// A key service's name for the key, as written (checked by the manifest for its signer's
    /// kind).
    Named(String),
}

impl fmt::Display for KeyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyRef::Id(id) => write!(f, "id:{}", hex::encode(id)),
            KeyRef::Label(l) => write!(f, "label:{l}"),
            KeyRef::Named(n) => f.write_str(n),
        }
    }
}

impl FromStr for KeyRef {
    type Err = String;

    fn from_str(s: &str) -> Result<KeyRef, String> {
        if let Some(h) = s.strip_prefix("id:") {
            match hex::decode(h) {
                Ok(id) if !id.is_empty() => Ok(KeyRef::Id(id)),
                _ => Err(format!(
                    "`{s}`: the id must be an even number of hex digits, e.g. id:01a2"
                )),
            }
        } else if let Some(l) = s.strip_prefix("label:") {
            if l.is_empty() {
                Err(format!("`{s}`: the label is empty"))
            } else {
                Ok(KeyRef::Label(l.to_string()))
            }
        } else {
            Err(format!(
                "`{s}` must be id:HEX (the key's CKA_ID) or label:TEXT (its CKA_LABEL)"
            ))
        }
    }
}

/// Where the user PIN comes from. The PIN itself is never in the manifest or on the command
/// line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinSource {
    /// An environment variable.
    Env(String),
    /// A file (its first line; a trailing newline is not part of the PIN).
    File(PathBuf),
}

impl PinSource {
    /// Reads the PIN now.
    pub fn read(&self) -> Result<AuthPin, HsmError> {
        let pin = match self {
            PinSource::Env(var) => std::env::var(var).map_err(|_| {
                HsmError::Pin(format!(
                    "the user PIN is read from the environment variable {var} (pin_env), which is not set"
                ))
            })?,
            PinSource::File(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| {
                    HsmError::Pin(format!(
                        "cannot read the PIN file {} (pin_file): {e}",
                        p.display()
                    ))
                })?;
                text.strip_suffix('\n')
                    .map(|t| t.strip_suffix('\r').unwrap_or(t))
                    .unwrap_or(&text)
                    .to_string()
            }
        };
        if pin.is_empty() {
            return Err(HsmError::Pin(match self {
                PinSource::Env(v) => format!("the environment variable {v} (pin_env) is empty"),
                PinSource::File(p) => format!("the PIN file {} (pin_file) is empty", p.display()),
            }));
        }
        Ok(AuthPin::new(pin.into()))
    }
}

/// The process's context for a module: loaded and initialized once, kept for the life of the
/// process (PKCS#11 allows one C_Initialize per process and module).
fn context(module: &Path) -> Result<Pkcs11, HsmError> {
    static CONTEXTS: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    let mut map = CONTEXTS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(c) = map.get(module) {
        return Ok(c.clone());
    }
    let err = |reason: String| HsmError::Module {
        module: module.to_path_buf(),
        reason,
    };
    let ctx = Pkcs11::new(module).map_err(|e| err(e.to_string()))?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(err(format!("C_Initialize failed: {e}"))),
    }
    map.insert(module.to_path_buf(), ctx.clone());
    Ok(ctx)
}

/// An open token with the user logged in (the login holds while this lives).
pub struct Token {
    ctx: Pkcs11,
    slot: Slot,
    /// The session that logged in; PKCS#11 shares the login with every session of the process.
    login: TokenSession,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("name", &self.login.token)
            .finish()
    }
}

impl Token {
    /// Loads `module`, finds the token and logs the user in with `pin`.
    pub fn open(module: &Path, token: &TokenRef, pin: &PinSource) -> Result<Token, HsmError> {
        let ctx = context(module)?;
        let call = |function, source| HsmError::Call {
            function,
            token: token.to_string(),
            source,
        };
        let slots = ctx
            .get_slots_with_token()
            .map_err(|e| call("C_GetSlotList", e))?;
        let mut available = Vec::new();
        let mut found = Vec::new();
        for slot in slots {
            let Ok(info) = ctx.get_token_info(slot) else {
                continue;
            };
            if !info.token_initialized() {
                continue;
            }
            let label = info.label().trim_end().to_string();
            let serial = info.serial_number().trim_end().to_string();
            let hit = match token {
                TokenRef::Label(l) => *l == label,
                TokenRef::Serial(s) => *s == serial,
            };
            if hit {
                found.push((slot, format!("token `{label}` (serial {serial})")));
            }
            available.push(format!("`{label}` serial {serial}"));
        }
        let problem = match found.len() {
            1 => None,
            0 => Some("not found"),
            _ => Some("more than one token matches"),
        };
        if let Some(problem) = problem {
            return Err(HsmError::Token {
                token: token.clone(),
                problem,
                module: module.to_path_buf(),
                available: if available.is_empty() {
                    "none initialized".into()
                } else {
                    available.join(", ")
                },
            });
        }
        let (slot, name) = found.remove(0);
        let pin = pin.read()?;
        let login = ctx
            .open_ro_session(slot)
            .map_err(|e| call("C_OpenSession", e))?;
        match login.login(UserType::User, Some(&pin)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
            Err(CkError::Pkcs11(RvError::PinIncorrect, _)) => {
                return Err(HsmError::WrongPin { token: name })
            }
            Err(CkError::Pkcs11(RvError::PinLocked, _)) => {
                return Err(HsmError::PinLocked { token: name })
            }
            Err(e) => return Err(call("C_Login", e)),
        }
        Ok(Token {
            ctx,
            slot,
            login: TokenSession {
                session: login,
                token: name,
            },
        })
    }

    /// `token `LABEL` (serial S)`, for messages.
    pub fn name(&self) -> &str {
        &self.login.token
    }

    /// Opens one more session on the token (it shares the login). A session signs on one
    /// thread at a time: move it to its worker.
    pub fn session(&self) -> Result<TokenSession, HsmError> {
        let session = self
            .ctx
            .open_ro_session(self.slot)
            .map_err(|e| self.login.call("C_OpenSession", e))?;
        Ok(TokenSession {
            session,
            token: self.login.token.clone(),
        })
    }

    /// The session that logged in.
    pub fn login_session(&self) -> &TokenSession {
        &self.login
    }

    /// The private secp256k1 key `key`, with its public point (one pass over the token's
    /// keys; to find many, use [`TokenSession::key_index`] once).
    pub fn find_key(&self, key: &KeyRef) -> Result<HsmKey, HsmError> {
        self.login.find_key(&self.login.key_index()?, key)
    }

    /// Every secp256k1 private key of the token; see [`TokenSession::list_keys`].
    pub fn list_keys(&self) -> Result<(Vec<HsmKey>, Vec<String>), HsmError> {
        self.login.list_keys()
    }
}

impl TokenSession {
    fn call(&self, function: &'static str, source: CkError) -> HsmError {
        HsmError::Call {
            function,
            token: self.token.clone(),
            source,
        }
    }

    /// Every key object of the token by `CKA_ID` and by `CKA_LABEL`, read in one pass: tokens
    /// (SoftHSM2 among them) search in time proportional to the objects they hold, so one search
    /// per key would cost keys × objects.
    pub fn key_index(&self) -> Result<KeyIndex, HsmError> {
        let mut index = KeyIndex::default();
        for (class, private) in [
            (ObjectClass::PRIVATE_KEY, true),
            (ObjectClass::PUBLIC_KEY, false),
        ] {
            let handles = self
                .session
                .find_objects(&[Attribute::Class(class)])
                .map_err(|e| self.call("C_FindObjects", e))?;
            for h in handles {
                let attrs = self
                    .session
                    .get_attributes(h, &[AttributeType::Id, AttributeType::Label])
                    .map_err(|e| self.call("C_GetAttributeValue", e))?;
                let (mut id, mut label) = (None, None);
                for a in attrs {
                    match a {
                        Attribute::Id(i) if !i.is_empty() => id = Some(KeyRef::Id(i)),
                        Attribute::Label(l) if !l.is_empty() => {
                            label = Some(KeyRef::Label(String::from_utf8_lossy(&l).into_owned()))
                        }
                        _ => {}
                    }
                }
                let map = if private {
                    index.listed.push((id.clone().or(label.clone()), h));
                    &mut index.private
                } else {
                    &mut index.public
                };
                for r in [id, label].into_iter().flatten() {
                    map.entry(r).or_default().push(h);
                }
            }
        }
        Ok(index)
    }

    /// The private secp256k1 key `key` of the token `index` describes, with its public point
    /// (read here, once).
    pub fn find_key(&self, index: &KeyIndex, key: &KeyRef) -> Result<HsmKey, HsmError> {
        match index
            .private
            .get(key)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            [one] => self.key_at(index, key.clone(), *one),
            [] => Err(HsmError::KeyNotFound {
                key: key.clone(),
                token: self.token.clone(),
            }),
            many => Err(HsmError::KeyAmbiguous {
                key: key.clone(),
                token: self.token.clone(),
                count: many.len(),
            }),
        }
    }

    /// Every secp256k1 private key of the token (named by CKA_ID, or CKA_LABEL when it has no
    /// id), and a sentence for each other private key saying why it is left out.
    pub fn list_keys(&self) -> Result<(Vec<HsmKey>, Vec<String>), HsmError> {
        let index = self.key_index()?;
        let (mut keys, mut skipped) = (Vec::new(), Vec::new());
        for (name, h) in &index.listed {
            let Some(r) = name else {
                skipped.push(format!(
                    "a private key (object handle {h}) has neither CKA_ID nor CKA_LABEL, so a manifest cannot name it"
                ));
                continue;
            };
            match self.key_at(&index, r.clone(), *h) {
                Ok(k) => keys.push(k),
                Err(e) => skipped.push(e.to_string()),
            }
        }
        keys.sort_by(|a, b| a.key.cmp(&b.key));
        Ok((keys, skipped))
    }

    fn key_at(
        &self,
        index: &KeyIndex,
        key: KeyRef,
        handle: ObjectHandle,
    ) -> Result<HsmKey, HsmError> {
        let attrs = self
            .session
            .get_attributes(
                handle,
                &[
                    AttributeType::KeyType,
                    AttributeType::EcParams,
                    AttributeType::Id,
                    AttributeType::Label,
                ],
            )
            .map_err(|e| self.call("C_GetAttributeValue", e))?;
        let (mut key_type, mut params, mut id, mut label) = (None, None, None, None);
        for a in attrs {
            match a {
                Attribute::KeyType(k) => key_type = Some(k),
                Attribute::EcParams(p) => params = Some(p),
                Attribute::Id(i) if !i.is_empty() => id = Some(KeyRef::Id(i)),
                Attribute::Label(l) if !l.is_empty() => {
                    label = Some(String::from_utf8_lossy(&l).into_owned())
                }
                _ => {}
            }
        }
        let not = |what: String| HsmError::NotSecp256k1 {
            key: key.clone(),
            token: self.token.clone(),
            what,
        };
        match key_type {
            Some(KeyType::EC) => {}
            Some(k) => return Err(not(format!("a {k} key"))),
            None => return Err(not("a key of unknown type".into())),
        }
        match params.as_deref() {
            Some(SECP256K1_PARAMS) => {}
            Some(p) => return Err(not(format!("an EC key on {}", curve_name(p)))),
            None => return Err(not("an EC key without CKA_EC_PARAMS".into())),
        }
        // The public object that pairs with the private key shares its CKA_ID (else label);
        // some tokens keep the point on the private object itself.
        let pairing = id.or_else(|| label.clone().map(KeyRef::Label));
        let mut objects: Vec<ObjectHandle> = pairing
            .and_then(|p| index.public.get(&p))
            .cloned()
            .unwrap_or_default();
        objects.push(handle);
        let public = self.public_point(&key, &objects)?;
        Ok(HsmKey {
            key,
            label,
            handle,
            public,
        })
    }

    /// The `CKA_EC_POINT` of `objects` (the key's public objects, then the private one); those
    /// that have one must agree.
    fn public_point(&self, key: &KeyRef, objects: &[ObjectHandle]) -> Result<PublicKey, HsmError> {
        let err = |reason: String| HsmError::PublicKey {
            key: key.clone(),
            token: self.token.clone(),
            reason,
        };
        let mut points: Vec<PublicKey> = Vec::new();
        for h in objects {
            let attrs = match self.session.get_attributes(*h, &[AttributeType::EcPoint]) {
                Ok(a) => a,
                Err(CkError::Pkcs11(RvError::AttributeTypeInvalid, _)) => continue,
                Err(e) => return Err(self.call("C_GetAttributeValue", e)),
            };
            for a in attrs {
                if let Attribute::EcPoint(p) = a {
                    points.push(parse_ec_point(&p).ok_or_else(|| {
                        err(format!(
                            "its CKA_EC_POINT {} is not a secp256k1 point",
                            hex::encode(&p)
                        ))
                    })?);
                }
            }
        }
        match points.as_slice() {
            [] => Err(err(
                "no public key object with CKA_EC_POINT pairs with it (same CKA_ID or label)"
                    .into(),
            )),
            [first, rest @ ..] if rest.iter().all(|p| p == first) => Ok(*first),
            _ => Err(err(
                "public key objects with different points pair with it".into()
            )),
        }
    }
}

/// The key objects of a token by name ([`TokenSession::key_index`]).
#[derive(Debug, Clone, Default)]
pub struct KeyIndex {
    /// Private keys by `id:` and by `label:`.
    private: HashMap<KeyRef, Vec<ObjectHandle>>,
    /// Public keys by `id:` and by `label:`.
    public: HashMap<KeyRef, Vec<ObjectHandle>>,
    /// Every private key, by the name it is listed with (CKA_ID, else CKA_LABEL).
    listed: Vec<(Option<KeyRef>, ObjectHandle)>,
}

/// The name of a curve from its `CKA_EC_PARAMS`, for messages.
fn curve_name(params: &[u8]) -> String {
    match params {
        [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07] => "prime256v1 (P-256)".into(),
        [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22] => "secp384r1 (P-384)".into(),
        [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23] => "secp521r1 (P-521)".into(),
        [0x06, 0x03, 0x2b, 0x65, 0x70] => "edwards25519 (Ed25519)".into(),
        p => format!("the curve of CKA_EC_PARAMS {}", hex::encode(p)),
    }
}

/// `CKA_EC_POINT`: the point in a DER OCTET STRING (what the standard asks), or the bare point
/// (what some tokens return).
fn parse_ec_point(v: &[u8]) -> Option<PublicKey> {
    let inner = match v {
        [0x04, len, rest @ ..] if usize::from(*len) == rest.len() => rest,
        [0x04, 0x81, len, rest @ ..] if usize::from(*len) == rest.len() => rest,
        _ => v,
    };
    PublicKey::from_slice(inner).ok()
}

/// A private secp256k1 key on a token and its public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HsmKey {
    /// How it is named (`id:…`, or `label:…` for a key without CKA_ID).
    pub key: KeyRef,
    /// Its `CKA_LABEL`, if any.
    pub label: Option<String>,
    /// The private key object.
    handle: ObjectHandle,
    /// The public key, from `CKA_EC_POINT`.
    pub public: PublicKey,
}

/// One PKCS#11 session of a logged-in token. It may be moved to another thread (one session
/// per worker), not shared.
#[derive(Debug)]
pub struct TokenSession {
    session: Session,
    token: String,
}

impl TokenSession {
    /// `token `LABEL` (serial S)`, for messages.
    pub fn token_name(&self) -> &str {
        &self.token
    }

    /// Signs a 32-byte digest with `CKM_ECDSA`: the token's raw `r ‖ s`.
    pub fn sign_raw(&self, key: &HsmKey, digest: &[u8; 32]) -> Result<Vec<u8>, HsmError> {
        self.session
            .sign(&Mechanism::Ecdsa, key.handle, digest)
            .map_err(|source| HsmError::Call {
                function: "C_Sign",
                token: self.token.clone(),
                source,
            })
    }

    /// Signs a 32-byte digest with `CKM_ECDSA` and returns the signature normalised to low-s,
    /// with the recovery id that recovers `key.public`.
    pub fn sign_digest(
        &self,
        key: &HsmKey,
        digest: &[u8; 32],
    ) -> Result<RecoverableSignature, HsmError> {
        let raw = self.sign_raw(key, digest)?;
        recoverable(&raw, &key.public, digest).map_err(|reason| HsmError::BadSignature {
            key: key.key.clone(),
            token: self.token.clone(),
            reason,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::secp256k1::SecretKey;
    use por_attest_verify::schemes::secp;

    #[test]
    fn key_refs_parse_and_print() {
        assert_eq!("id:01A2".parse::<KeyRef>(), Ok(KeyRef::Id(vec![1, 0xa2])));
        assert_eq!("id:01A2".parse::<KeyRef>().unwrap().to_string(), "id:01a2");
        assert_eq!(
            "label:hot wallet 1".parse::<KeyRef>(),
            Ok(KeyRef::Label("hot wallet 1".into()))
        );
        for bad in ["id:", "id:0", "id:zz", "label:", "01", "key:01"] {
            assert!(bad.parse::<KeyRef>().is_err(), "{bad}");
        }
    }

    #[test]
    fn ec_points_in_der_or_bare() {
        let sk = SecretKey::from_slice(&[7u8; 32]).unwrap();
        let pk = sk.public_key(secp());
        let bare = pk.serialize_uncompressed();
        let mut der = vec![0x04, 65];
        der.extend_from_slice(&bare);
        assert_eq!(parse_ec_point(&der), Some(pk));
        assert_eq!(parse_ec_point(&bare), Some(pk));
        assert_eq!(parse_ec_point(&pk.serialize()), Some(pk));
        assert_eq!(parse_ec_point(&der[..40]), None);
    }
}
