//! [`Pkcs11Signer`]: a PKCS#11 token (an HSM) behind [`Signer`]. It holds single secp256k1 keys,
//! each named by the manifest's `key` (`id:HEX` / `label:TEXT`): the key's public point is read
//! once from `CKA_EC_POINT`; the address is derived from it on the host and compared with the
//! manifest's before anything is signed; messages are signed as the digest of their family's
//! scheme (legacy Bitcoin signed-message hash, EIP-191, TIP-191) with `CKM_ECDSA`, normalised to
//! low-s, with the recovery id that recovers the key; P2WPKH and P2SH-P2WPKH addresses are
//! proven by BIP-322 instead: `CKM_ECDSA` over the `to_sign` input's BIP-143 digest. No person
//! confirms anything, and several PKCS#11 sessions can sign at once
//! ([`Signer::parallel_sessions`]).

use crate::manifest::{Manifest, Pkcs11Config, SigningTask};
use crate::pkcs11::{address_of, HsmError, HsmKey, KeyIndex, KeyRef, Token, TokenSession};
use crate::signer::{Signer, SigningKey};
use crate::signers::DeviceError;
use bitcoin::bip32::{DerivationPath, Fingerprint, Xpub};
use bitcoin::Psbt;
use por_attest_verify::chains::{ChainFamily, ScriptType};
use por_attest_verify::schemes::bip137::{encode_bip137, Bip137Kind};
use por_attest_verify::schemes::evm::encode_rsv;
use por_attest_verify::schemes::Bip322Spend;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Why a P2TR address cannot be proven on an HSM.
pub const P2TR_ON_HSM: &str = "a P2TR address is proven by a BIP-340 Schnorr signature \
     (BIP-322), which PKCS#11 tokens do not make (CKM_ECDSA signs ECDSA only); prove P2TR \
     reserves on a Ledger";

/// The token's key index (read on the first lookup) and the keys found in it, shared by every
/// session of one signer: each key is read once.
type KeyCache = Arc<Mutex<(Option<KeyIndex>, HashMap<KeyRef, HsmKey>)>>;

/// A logged-in PKCS#11 token signing for one manifest signer.
#[derive(Debug)]
pub struct Pkcs11Signer {
    /// The token and its login; `None` in a parallel session (the first signer holds it).
    token: Option<Token>,
    /// A parallel session's own PKCS#11 session (the first signer signs on the login's).
    session: Option<TokenSession>,
    keys: KeyCache,
}

impl Pkcs11Signer {
    /// Loads the module, finds the token and logs in with the PIN from its source.
    pub fn open(config: &Pkcs11Config) -> Result<Pkcs11Signer, HsmError> {
        Ok(Pkcs11Signer {
            token: Some(Token::open(&config.module, &config.token, &config.pin)?),
            session: None,
            keys: KeyCache::default(),
        })
    }

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

fn no_key(what: &str) -> DeviceError {
    DeviceError::Unsupported(format!(
        "{what} without a `key`: a pkcs11 signer's keys are named by the address's `key`"
    ))
}

impl Signer for Pkcs11Signer {
    fn master_fingerprint(&mut self) -> Result<Option<Fingerprint>, DeviceError> {
        Ok(None)
    }

    fn cannot_sign(&mut self, task: &SigningTask<'_>) -> Result<Option<String>, DeviceError> {
        Ok(if task.expected_pubkey.is_some() {
            Some("a multisig cosigner's key: a pkcs11 signer holds single-key addresses".into())
        } else if task.spec.key.is_none() {
            Some("the address names no HSM key (`key`)".into())
        } else if task.spec.script_type == Some(ScriptType::P2tr) {
            Some(P2TR_ON_HSM.into())
        } else {
            None
        })
    }

    fn extended_pubkey(
        &mut self,
        _family: ChainFamily,
        _path: &DerivationPath,
        _display: bool,
    ) -> Result<Xpub, DeviceError> {
        Err(DeviceError::Unsupported(
            "extended public keys: an HSM holds single keys, with no BIP-32 seed".into(),
        ))
    }

    fn derive_address(
        &mut self,
        _manifest: &Manifest,
        task: &SigningTask<'_>,
        _display: bool,
    ) -> Result<Option<String>, DeviceError> {
        let key = task.spec.key.as_ref().ok_or_else(|| no_key("an address"))?;
        let found = self.key(key)?;
        Ok(address_of(
            &found.public,
            task.spec.family,
            task.spec.script_type,
            task.spec.network,
        ))
    }

    fn sign_message(
        &mut self,
        key: &SigningKey<'_>,
        message: &[u8],
    ) -> Result<String, DeviceError> {
        let name = key.key.ok_or_else(|| no_key("a signature"))?;
        let found = self.key(name)?;
        let digest = (key.family.info().message_hash)(message);
        let sig = self.session().sign_digest(&found, &digest)?;
        Ok(match key.family {
            ChainFamily::Bitcoin => {
                let kind = key
                    .script_type
                    .and_then(Bip137Kind::for_script_type)
                    .ok_or_else(|| {
                        DeviceError::Unsupported(format!(
                            "a legacy signed message for a {} address",
                            key.script_type.map(|t| t.as_str()).unwrap_or("Bitcoin")
                        ))
                    })?;
                encode_bip137(&sig, kind)
            }
            ChainFamily::Evm | ChainFamily::Tron => encode_rsv(&sig),
        })
    }

    fn signs_bip322(
        &mut self,
        _manifest: &Manifest,
        task: &SigningTask<'_>,
    ) -> Result<bool, DeviceError> {
        Ok(task.spec.key.is_some()
            && matches!(
                task.spec.script_type,
                Some(ScriptType::P2wpkh | ScriptType::P2shP2wpkh)
            ))
    }

    fn sign_psbt(
        &mut self,
        _manifest: &Manifest,
        task: &SigningTask<'_>,
        psbt: &mut Psbt,
    ) -> Result<(), DeviceError> {
        // P2WPKH / P2SH-P2WPKH: `CKM_ECDSA` over the input's BIP-143 SIGHASH_ALL digest.
        let st = match task.spec.script_type {
            Some(st @ (ScriptType::P2wpkh | ScriptType::P2shP2wpkh)) => st,
            _ => return Err(DeviceError::Unsupported(P2TR_ON_HSM.into())),
        };
        let name = task
            .spec
            .key
            .as_ref()
            .ok_or_else(|| no_key("a signature"))?;
        let found = self.key(name)?;
        let pubkey = bitcoin::PublicKey::new(found.public);
        let spend = Bip322Spend::SingleKey {
            script_type: st,
            pubkey: &pubkey,
        };
        let what = "signing the BIP-322 transaction";
        let digest = spend
            .sighash(&psbt.unsigned_tx)
            .map_err(|e| DeviceError::bad_reply(what, e))?;
        let sig = self.session().sign_digest(&found, &digest)?;
        let input = psbt
            .inputs
            .first_mut()
            .ok_or_else(|| DeviceError::bad_reply(what, "our own PSBT has no input"))?;
        input.partial_sigs.insert(
            pubkey,
            bitcoin::ecdsa::Signature::sighash_all(sig.to_standard()),
        );
        Ok(())
    }

    fn parallel_sessions(
        &mut self,
        count: usize,
    ) -> Result<Option<Vec<Box<dyn Signer + Send>>>, DeviceError> {
        let token = self
            .token
            .as_ref()
            .ok_or_else(|| DeviceError::Unsupported("sessions of a parallel session".into()))?;
        let mut out: Vec<Box<dyn Signer + Send>> = Vec::with_capacity(count);
        for _ in 0..count {
            out.push(Box::new(Pkcs11Signer {
                token: None,
                session: Some(token.session()?),
                keys: self.keys.clone(),
            }));
        }
        Ok(Some(out))
    }
}
