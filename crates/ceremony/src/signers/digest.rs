//! The digest-signer core: [`DigestSigner`] turns any store of single secp256k1 keys that signs
//! 32-byte digests ([`DigestKeys`]: a PKCS#11 token, AWS KMS, an adapter program speaking the
//! `command` protocol) into a [`Signer`] of the ceremony, with one implementation of everything
//! the ceremony needs from such a store:
//!
//! - the address is derived on the host from the key's public key and compared with the
//!   manifest's before anything is signed;
//! - the digest signed is the family's message hash (legacy Bitcoin signed-message hash,
//!   EIP-191, TIP-191); P2WPKH and P2SH-P2WPKH addresses are proven by BIP-322 instead: the
//!   store signs the `to_sign` input's BIP-143 SIGHASH_ALL digest;
//! - the store's answer (`r ‖ s` or DER) is normalised to low-s, checked against the key's
//!   public key, and given the recovery id that recovers that key ([`recoverable`]) before the
//!   ceremony journals it.
//!
//! No person confirms anything, and a store that can sign several digests at once opens
//! sessions for `sign --parallel N` ([`DigestKeys::sessions`]).

use crate::manifest::{Manifest, SigningTask};
use crate::pkcs11::{address_of, KeyRef};
use crate::signer::{Signer, SigningKey};
use crate::signers::DeviceError;
use bitcoin::bip32::{DerivationPath, Fingerprint, Xpub};
use bitcoin::secp256k1::ecdsa::{RecoverableSignature, RecoveryId, Signature};
use bitcoin::secp256k1::{Message, PublicKey};
use bitcoin::Psbt;
use por_attest_verify::chains::{ChainFamily, ScriptType};
use por_attest_verify::schemes::bip137::{encode_bip137, Bip137Kind};
use por_attest_verify::schemes::evm::encode_rsv;
use por_attest_verify::schemes::{secp, Bip322Spend};

/// A store of single secp256k1 keys, named by the manifest's `key`, that signs 32-byte digests.
pub trait DigestKeys: Send {
    /// The manifest's signer kind, for messages (`pkcs11`, `aws-kms`, `command`).
    const KIND: &'static str;

    /// Why a P2TR address cannot be proven with this store's keys.
    const NO_P2TR: &'static str;

    /// The public key of `key` (stores look each key up once and keep it).
    fn public_key(&mut self, key: &KeyRef) -> Result<PublicKey, DeviceError>;

    /// The store's raw ECDSA signature of `digest` with `key`: 64 bytes `r ‖ s`, or DER.
    fn sign_raw(&mut self, key: &KeyRef, digest: &[u8; 32]) -> Result<Vec<u8>, DeviceError>;

    /// The error for a signature from `key` that is not usable (`reason`).
    fn bad_signature(&self, key: &KeyRef, reason: String) -> DeviceError {
        DeviceError::bad_reply(&format!("signing with {} key {key}", Self::KIND), reason)
    }

    /// `count` more handles on the store that sign at the same time as one another; `None`
    /// when the store signs one digest at a time.
    fn sessions(&mut self, count: usize) -> Result<Option<Vec<Self>>, DeviceError>
    where
        Self: Sized;
}

/// A [`Signer`] over a [`DigestKeys`] store.
#[derive(Debug)]
pub struct DigestSigner<K> {
    pub(crate) keys: K,
}

impl<K: DigestKeys> DigestSigner<K> {
    /// The signer of `keys`.
    pub fn new(keys: K) -> DigestSigner<K> {
        DigestSigner { keys }
    }

    /// The store.
    pub fn keys(&mut self) -> &mut K {
        &mut self.keys
    }

    /// Signs `digest` with `key`: the store's answer as a checked low-s recoverable signature.
    pub fn sign_digest(
        &mut self,
        key: &KeyRef,
        digest: &[u8; 32],
    ) -> Result<RecoverableSignature, DeviceError> {
        let public = self.keys.public_key(key)?;
        let raw = self.keys.sign_raw(key, digest)?;
        recoverable(&raw, &public, digest).map_err(|reason| self.keys.bad_signature(key, reason))
    }

    fn no_key(what: &str) -> DeviceError {
        DeviceError::Unsupported(format!(
            "{what} without a `key`: a {} signer's keys are named by the address's `key`",
            K::KIND
        ))
    }
}

impl<K: DigestKeys + 'static> Signer for DigestSigner<K> {
    fn master_fingerprint(&mut self) -> Result<Option<Fingerprint>, DeviceError> {
        Ok(None)
    }

    fn cannot_sign(&mut self, task: &SigningTask<'_>) -> Result<Option<String>, DeviceError> {
        Ok(if task.expected_pubkey.is_some() {
            Some(format!(
                "a multisig cosigner's key: a {} signer holds single-key addresses",
                K::KIND
            ))
        } else if task.spec.key.is_none() {
            Some(format!("the address names no {} key (`key`)", K::KIND))
        } else if task.spec.script_type == Some(ScriptType::P2tr) {
            Some(K::NO_P2TR.into())
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
        Err(DeviceError::Unsupported(format!(
            "extended public keys: a {} signer holds single keys, with no BIP-32 seed",
            K::KIND
        )))
    }

    fn derive_address(
        &mut self,
        _manifest: &Manifest,
        task: &SigningTask<'_>,
        _display: bool,
    ) -> Result<Option<String>, DeviceError> {
        let key = task
            .spec
            .key
            .as_ref()
            .ok_or_else(|| Self::no_key("an address"))?;
        let public = self.keys.public_key(key)?;
        Ok(address_of(
            &public,
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
        let name = key.key.ok_or_else(|| Self::no_key("a signature"))?;
        let digest = (key.family.info().message_hash)(message);
        let kind = match key.family {
            ChainFamily::Bitcoin => Some(
                key.script_type
                    .and_then(Bip137Kind::for_script_type)
                    .ok_or_else(|| {
                        DeviceError::Unsupported(format!(
                            "a legacy signed message for a {} address",
                            key.script_type.map(|t| t.as_str()).unwrap_or("Bitcoin")
                        ))
                    })?,
            ),
            ChainFamily::Evm | ChainFamily::Tron => None,
        };
        let sig = self.sign_digest(name, &digest)?;
        Ok(match kind {
            Some(kind) => encode_bip137(&sig, kind),
            None => encode_rsv(&sig),
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
        // P2WPKH / P2SH-P2WPKH: the store signs the input's BIP-143 SIGHASH_ALL digest.
        let st = match task.spec.script_type {
            Some(st @ (ScriptType::P2wpkh | ScriptType::P2shP2wpkh)) => st,
            _ => return Err(DeviceError::Unsupported(K::NO_P2TR.into())),
        };
        let name = task
            .spec
            .key
            .as_ref()
            .ok_or_else(|| Self::no_key("a signature"))?;
        let pubkey = bitcoin::PublicKey::new(self.keys.public_key(name)?);
        let spend = Bip322Spend::SingleKey {
            script_type: st,
            pubkey: &pubkey,
        };
        let what = "signing the BIP-322 transaction";
        let digest = spend
            .sighash(&psbt.unsigned_tx)
            .map_err(|e| DeviceError::bad_reply(what, e))?;
        let sig = self.sign_digest(name, &digest)?;
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
        Ok(self.keys.sessions(count)?.map(|sessions| {
            sessions
                .into_iter()
                .map(|keys| Box::new(DigestSigner { keys }) as Box<dyn Signer + Send>)
                .collect()
        }))
    }
}

/// A store's ECDSA signature (64 bytes `r ‖ s`, as PKCS#11's `CKM_ECDSA` returns it, or DER, as
/// AWS KMS does) as a low-s recoverable signature: it must verify against `public` for
/// `digest`, and the recovery id is the one that recovers `public`.
pub fn recoverable(
    raw: &[u8],
    public: &PublicKey,
    digest: &[u8; 32],
) -> Result<RecoverableSignature, String> {
    let mut sig = match raw.len() {
        64 => Signature::from_compact(raw)
            .map_err(|_| "64 bytes that are not a valid r ‖ s".to_string())?,
        _ => Signature::from_der(raw).map_err(|_| {
            format!(
                "{} bytes that are neither the 64 bytes of r ‖ s nor a DER ECDSA signature",
                raw.len()
            )
        })?,
    };
    sig.normalize_s();
    let msg = Message::from_digest(*digest);
    secp()
        .verify_ecdsa(&msg, &sig, public)
        .map_err(|_| "it does not verify against the key's public key".to_string())?;
    let rs = sig.serialize_compact();
    (0..4)
        .filter_map(|i| RecoveryId::from_i32(i).ok())
        .filter_map(|id| RecoverableSignature::from_compact(&rs, id).ok())
        .find(|rec| secp().recover_ecdsa(&msg, rec).is_ok_and(|k| k == *public))
        .ok_or_else(|| "no recovery id recovers the key's public key".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::secp256k1::SecretKey;

    /// A high-s signature (as a token or KMS may return) comes back low-s with the recovery id
    /// of the key, whether it came as `r ‖ s` or DER; a signature by another key, of another
    /// digest or of the wrong shape is refused.
    #[test]
    fn raw_signatures_become_low_s_and_recoverable() {
        let sk = SecretKey::from_slice(&[9u8; 32]).unwrap();
        let pk = sk.public_key(secp());
        for i in 0u8..16 {
            let digest = [i; 32];
            let msg = Message::from_digest(digest);
            let low = secp().sign_ecdsa(&msg, &sk).serialize_compact();
            // s' = n - s: the same signature, high-s.
            let s =
                bitcoin::secp256k1::Scalar::from_be_bytes(low[32..].try_into().unwrap()).unwrap();
            let neg_s = SecretKey::from_slice(&s.to_be_bytes()).unwrap().negate();
            let mut high = low;
            high[32..].copy_from_slice(&neg_s.secret_bytes());
            let der = |rs: &[u8; 64]| {
                // A high-s signature in DER: built by hand (the library normalises nothing
                // here, but serialize_der of a parsed compact keeps s as given).
                Signature::from_compact(rs)
                    .unwrap()
                    .serialize_der()
                    .to_vec()
            };
            for raw in [low.to_vec(), high.to_vec(), der(&low), der(&high)] {
                let rec = recoverable(&raw, &pk, &digest).unwrap();
                let (_, rs) = rec.serialize_compact();
                assert_eq!(rs, low, "normalised to low-s");
                assert_eq!(secp().recover_ecdsa(&msg, &rec).unwrap(), pk);
            }
            let other = SecretKey::from_slice(&[10u8; 32])
                .unwrap()
                .public_key(secp());
            let e = recoverable(&low, &other, &digest).unwrap_err();
            assert!(e.contains("does not verify"), "{e}");
            assert!(recoverable(&low, &pk, &[i.wrapping_add(1); 32]).is_err());
            let e = recoverable(&low[..63], &pk, &digest).unwrap_err();
            assert!(e.contains("63 bytes"), "{e}");
            let mut bad_der = der(&low);
            bad_der[0] = 0x31;
            assert!(recoverable(&bad_der, &pk, &digest).is_err());
        }
    }
}
