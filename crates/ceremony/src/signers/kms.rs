//! [`KmsSigner`]: AWS KMS secp256k1 keys behind [`Signer`](crate::signer::Signer), through the
//! digest-signer core ([`DigestSigner`]). Each address names its key (`key = "alias/hot-1"`, a
//! key id or an ARN); the key's public key is read once (`GetPublicKey`, which also says it is
//! an enabled secp256k1 signing key); digests are signed with `Sign`, `MessageType = DIGEST`,
//! and the DER answer is checked like any other store's. `sign --parallel N` keeps N requests
//! in flight on one connection pool.
//!
//! Why not the AWS SDK (`aws-sdk-kms`): the ceremony needs five operations of a small JSON
//! protocol; the SDK brings its own runtime and HTTP stack (about 140 crates with one rustls
//! stack), where SigV4 (`aws-sigv4`) on the reqwest client the workspace already builds adds 22.

use crate::kms::{KmsClient, KmsError};
use crate::manifest::AwsKmsConfig;
use crate::pkcs11::KeyRef;
use crate::signers::digest::{DigestKeys, DigestSigner};
use crate::signers::DeviceError;
use bitcoin::secp256k1::PublicKey;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Why a P2TR address cannot be proven with an AWS KMS key.
pub const P2TR_ON_KMS: &str = "a P2TR address is proven by a BIP-340 Schnorr signature \
     (BIP-322), which AWS KMS does not make (its secp256k1 keys sign ECDSA_SHA_256 only); prove \
     P2TR reserves on a Ledger";

/// AWS KMS keys of one region signing for one manifest signer.
pub type KmsSigner = DigestSigner<KmsKeys>;

/// The KMS client and the public keys read so far (shared by every session).
#[derive(Debug, Clone)]
pub struct KmsKeys {
    client: KmsClient,
    keys: Arc<Mutex<HashMap<KeyRef, PublicKey>>>,
}

impl From<KmsError> for DeviceError {
    fn from(e: KmsError) -> DeviceError {
        DeviceError::KeyService(Box::new(e))
    }
}

impl KmsSigner {
    /// A client of the signer's region and endpoint, with credentials from the standard AWS
    /// chain (loaded now: missing credentials stop the run before anything is signed).
    pub fn open(config: &AwsKmsConfig) -> Result<KmsSigner, KmsError> {
        Ok(KmsSigner::with_client(KmsClient::open(config)?))
    }

    /// A signer over `client`.
    pub fn with_client(client: KmsClient) -> KmsSigner {
        DigestSigner::new(KmsKeys {
            client,
            keys: Arc::default(),
        })
    }

    /// The client (its counters: requests sent, throttled).
    pub fn client(&self) -> &KmsClient {
        &self.keys.client
    }
}

impl DigestKeys for KmsKeys {
    const KIND: &'static str = "aws-kms";
    const NO_P2TR: &'static str = P2TR_ON_KMS;

    fn public_key(&mut self, key: &KeyRef) -> Result<PublicKey, DeviceError> {
        if let Some(k) = self.keys.lock().unwrap_or_else(|e| e.into_inner()).get(key) {
            return Ok(*k);
        }
        let found = self.client.public_key(&key.to_string())?;
        self.keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.clone(), found.public);
        Ok(found.public)
    }

    fn sign_raw(&mut self, key: &KeyRef, digest: &[u8; 32]) -> Result<Vec<u8>, DeviceError> {
        Ok(self.client.sign_digest(&key.to_string(), digest)?)
    }

    fn bad_signature(&self, key: &KeyRef, reason: String) -> DeviceError {
        DeviceError::bad_reply(
            &format!(
                "signing with AWS KMS key `{key}` at {}",
                self.client.endpoint()
            ),
            reason,
        )
    }

    fn sessions(&mut self, count: usize) -> Result<Option<Vec<KmsKeys>>, DeviceError> {
        Ok(Some(vec![self.clone(); count]))
    }
}
