//! What can go wrong with a PKCS#11 token. No variant ever holds a PIN.

use super::{KeyRef, TokenRef};
use std::path::PathBuf;
use thiserror::Error;

/// Why a token, a key or a signature could not be used.
#[derive(Debug, Error)]
pub enum HsmError {
    /// The module library could not be loaded or initialized.
    #[error("cannot load the PKCS#11 module {module}: {reason}")]
    Module {
        /// The module path as given.
        module: PathBuf,
        /// What the loader or C_Initialize said.
        reason: String,
    },
    /// No initialized token with that label or serial (or several).
    #[error("{token}: {problem} in the PKCS#11 module {module} (tokens: {available})")]
    Token {
        /// The token asked for.
        token: TokenRef,
        /// "not found" or "more than one".
        problem: &'static str,
        /// The module.
        module: PathBuf,
        /// The tokens the module has, for the message.
        available: String,
    },
    /// The PIN could not be read from its environment variable or file.
    #[error("{0}")]
    Pin(String),
    /// C_Login answered CKR_PIN_INCORRECT.
    #[error(
        "the user PIN for {token} is incorrect (check pin_env / pin_file); nothing was signed"
    )]
    WrongPin {
        /// The token.
        token: String,
    },
    /// C_Login answered CKR_PIN_LOCKED.
    #[error("the user PIN of {token} is locked (too many wrong PINs; the token's security officer must unlock it)")]
    PinLocked {
        /// The token.
        token: String,
    },
    /// No private key object has that CKA_ID / CKA_LABEL.
    #[error("{token} has no private key {key}")]
    KeyNotFound {
        /// The key asked for.
        key: KeyRef,
        /// The token.
        token: String,
    },
    /// Several private keys have that CKA_ID / CKA_LABEL.
    #[error("{count} private keys on {token} match {key}; name the key by a unique id or label")]
    KeyAmbiguous {
        /// The key asked for.
        key: KeyRef,
        /// The token.
        token: String,
        /// How many matched.
        count: usize,
    },
    /// The key exists but is not a secp256k1 EC key.
    #[error("key {key} on {token} is {what}, not a secp256k1 key: it cannot sign for Bitcoin, EVM or TRON addresses")]
    NotSecp256k1 {
        /// The key.
        key: KeyRef,
        /// The token.
        token: String,
        /// Its type or curve.
        what: String,
    },
    /// The key's public point could not be read.
    #[error("key {key} on {token}: {reason}")]
    PublicKey {
        /// The key.
        key: KeyRef,
        /// The token.
        token: String,
        /// What is wrong.
        reason: String,
    },
    /// A PKCS#11 call failed.
    #[error("{function} on {token} failed: {source}")]
    Call {
        /// The PKCS#11 function.
        function: &'static str,
        /// The token.
        token: String,
        /// The module's answer.
        #[source]
        source: cryptoki::error::Error,
    },
    /// The token returned a signature that is not a valid ECDSA signature by the key.
    #[error("the signature {token} returned with key {key} is not usable: {reason}")]
    BadSignature {
        /// The key.
        key: KeyRef,
        /// The token.
        token: String,
        /// What is wrong with it.
        reason: String,
    },
}
