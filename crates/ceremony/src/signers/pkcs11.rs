//! [`Pkcs11Signer`]: a PKCS#11 token (an HSM) behind [`Signer`](crate::signer::Signer), through
//! the digest-signer core ([`DigestSigner`]). It holds single secp256k1 keys, each named by the
//! manifest's `key` (`id:HEX` / `label:TEXT`): the key's public point is read once from
//! `CKA_EC_POINT`; digests are signed with `CKM_ECDSA`. Several PKCS#11 sessions can sign at
//! once ([`DigestKeys::sessions`]).

use crate::manifest::Pkcs11Config;
use crate::pkcs11::{HsmError, HsmKey, KeyIndex, KeyRef, Token, TokenSession};
use crate::signers::digest::{DigestKeys, DigestSigner};
use crate::signers::DeviceError;
use bitcoin::secp256k1::PublicKey;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Why a P2TR address cannot be proven on an HSM.
pub const P2TR_ON_HSM: &str = "a P2TR address is proven by a BIP-340 Schnorr signature \
     (BIP-322), which PKCS#11 tokens do not make (CKM_ECDSA signs ECDSA only); prove P2TR \
     reserves on a Ledger";

/// A logged-in PKCS#11 token signing for one manifest signer.
pub type Pkcs11Signer = DigestSigner<Pkcs11Keys>;

/// The token's key index (read on the first lookup) and the keys found in it, shared by every
/// session of one signer: each key is read once.
type KeyCache = Arc<Mutex<(Option<KeyIndex>, HashMap<KeyRef, HsmKey>)>>;

/// The keys of a logged-in PKCS#11 token, on the login's session or one of its own.
#[derive(Debug)]
pub struct Pkcs11Keys {
    /// The token and its login; `None` in a parallel session (the first signer holds it).
    token: Option<Token>,
    /// A parallel session's own PKCS#11 session (the first signer signs on the login's).
    session: Option<TokenSession>,
    keys: KeyCache,
}

impl Pkcs11Signer {
    /// Loads the module, finds the token and logs in with the PIN from its source.
    pub fn open(config: &Pkcs11Config) -> Result<Pkcs11Signer, HsmError> {
        Ok(DigestSigner::new(Pkcs11Keys {
            token: Some(Token::open(&config.module, &config.token, &config.pin)?),
            session: None,
            keys: KeyCache::default(),
        }))
    }
}

impl Pkcs11Keys {
    fn session(&self) -> &TokenSession {
        match (&self.session, &self.token) {
            (Some(s), _) => s,
            (None, Some(t)) => t.login_session(),
            (None, None) => unreachable!("a signer has a token or a session"),
        }
    }

    /// The key, found on the token the first time any session asks for it.
    fn key(&self, key: &KeyRef) -> Result<HsmKey, HsmError> {
        let mut cache = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        let (index, keys) = &mut *cache;
        if let Some(k) = keys.get(key) {
            return Ok(k.clone());
        }
        let index = match index {
            Some(i) => i,
            None => index.insert(self.session().key_index()?),
        };
        let found = self.session().find_key(index, key)?;
        keys.insert(key.clone(), found.clone());
        Ok(found)
    }
}

impl DigestKeys for Pkcs11Keys {
    const KIND: &'static str = "pkcs11";
    const NO_P2TR: &'static str = P2TR_ON_HSM;

    fn public_key(&mut self, key: &KeyRef) -> Result<PublicKey, DeviceError> {
        Ok(self.key(key)?.public)
    }

    fn sign_raw(&mut self, key: &KeyRef, digest: &[u8; 32]) -> Result<Vec<u8>, DeviceError> {
        let found = self.key(key)?;
        Ok(self.session().sign_raw(&found, digest)?)
    }

    fn bad_signature(&self, key: &KeyRef, reason: String) -> DeviceError {
        HsmError::BadSignature {
            key: key.clone(),
            token: self.session().token_name().to_string(),
            reason,
        }
        .into()
    }

    fn sessions(&mut self, count: usize) -> Result<Option<Vec<Pkcs11Keys>>, DeviceError> {
        let token = self
            .token
            .as_ref()
            .ok_or_else(|| DeviceError::Unsupported("sessions of a parallel session".into()))?;
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            out.push(Pkcs11Keys {
                token: None,
                session: Some(token.session()?),
                keys: self.keys.clone(),
            });
        }
        Ok(Some(out))
    }
}
