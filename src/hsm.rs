//! `por-attest hsm keys`: the secp256k1 keys of a PKCS#11 token and the addresses each gives,
//! so the custody team can write the manifest's rows for its hot wallets.

use bitcoin::secp256k1::PublicKey;
use por_attest_ceremony::pkcs11::{
    address_of, manifest_rows_csv, HsmError, HsmKey, KeyRef, PinSource, Token, TokenRef,
};
use por_attest_verify::chains::{ChainFamily, Network, ScriptType};
use std::fmt::Write;
use std::path::PathBuf;

/// Which token to list, and how to log in.
#[derive(Debug, Clone)]
pub struct KeysOptions {
    /// The PKCS#11 module library.
    pub module: PathBuf,
    /// The token.
    pub token: TokenRef,
    /// Where the user PIN comes from.
    pub pin: PinSource,
}

/// A key store's keys (a token's, an AWS account's in one region): the secp256k1 ones and why
/// any other key is left out.
#[derive(Debug)]
pub struct KeyListing<K = HsmKey> {
    /// The store, for the listing's first line: `token `LABEL` (serial S)`, an endpoint.
    pub store: String,
    /// The secp256k1 keys, by id (or label).
    pub keys: Vec<K>,
    /// One sentence per key that is not listed.
    pub skipped: Vec<String>,
}

/// Prints a listing: manifest rows (`csv`; a warning on stderr per key left out) or the text
/// for a person.
pub fn print_listing(
    skipped: &[String],
    csv: bool,
    to_csv: impl FnOnce() -> String,
    to_human: impl FnOnce() -> String,
) {
    if csv {
        for s in skipped {
            eprintln!("warning: not listed: {s}");
        }
        print!("{}", to_csv());
    } else {
        print!("{}", to_human());
    }
}

/// Opens the token, logs in and lists its keys.
pub fn list_keys(opts: &KeysOptions) -> Result<KeyListing, HsmError> {
    let token = Token::open(&opts.module, &opts.token, &opts.pin)?;
    let (keys, skipped) = token.list_keys()?;
    Ok(KeyListing {
        store: token.name().to_string(),
        keys,
        skipped,
    })
}

/// Every chain and script type a single key (an HSM's, a KMS's) can prove, in listing order.
const LISTED: [(&str, ChainFamily, Option<ScriptType>); 5] = [
    ("BTC", ChainFamily::Bitcoin, Some(ScriptType::P2wpkh)),
    ("BTC", ChainFamily::Bitcoin, Some(ScriptType::P2shP2wpkh)),
    ("BTC", ChainFamily::Bitcoin, Some(ScriptType::P2pkh)),
    ("ETH", ChainFamily::Evm, None),
    ("TRX", ChainFamily::Tron, None),
];

/// A key of a listing: how a manifest names it, its public key, and what a person is told
/// about it.
pub trait ListedKey {
    /// The manifest's `key` for it.
    fn key_ref(&self) -> KeyRef;
    /// Its public key.
    fn public(&self) -> PublicKey;
    /// What follows the key's name on its first line (a label, aliases), and any more lines.
    fn details(&self) -> (String, Vec<String>) {
        (String::new(), Vec::new())
    }
}

impl ListedKey for HsmKey {
    fn key_ref(&self) -> KeyRef {
        self.key.clone()
    }
    fn public(&self) -> PublicKey {
        self.public
    }
    fn details(&self) -> (String, Vec<String>) {
        let label = self.label.as_deref().map(|l| format!(" (label `{l}`)"));
        (label.unwrap_or_default(), Vec::new())
    }
}

impl<K: ListedKey> KeyListing<K> {
    /// The listing for a person: each key with its public key and addresses.
    pub fn to_human(&self, network: Network) -> String {
        let mut out = format!("{}: {} secp256k1 key(s)\n", self.store, self.keys.len());
        for k in &self.keys {
            let (after_name, more) = k.details();
            let public = k.public();
            let _ = writeln!(out, "key {}{after_name}: public key {public}", k.key_ref());
            for line in more {
                let _ = writeln!(out, "  {line}");
            }
            for (chain, family, st) in LISTED {
                if let Some(a) = address_of(&public, family, st, network) {
                    let kind = st.map(|t| t.to_string()).unwrap_or_default();
                    let _ = writeln!(out, "  {chain:<4}{kind:<12} {a}");
                }
            }
        }
        for s in &self.skipped {
            let _ = writeln!(out, "not listed: {s}");
        }
        out
    }

    /// Manifest address rows (`chain,address,script_type,path,signer,key`, `path` empty):
    /// BTC p2wpkh and p2pkh, ETH and TRX for each key, held by `signer`.
    pub fn to_csv(&self, signer: &str, network: Network) -> String {
        let keys: Vec<_> = self
            .keys
            .iter()
            .map(|k| (k.key_ref(), k.public()))
            .collect();
        manifest_rows_csv(&keys, signer, network)
    }
}
