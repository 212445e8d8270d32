//! `por-attest hsm keys`: the secp256k1 keys of a PKCS#11 token and the addresses each gives,
//! so the custody team can write the manifest's rows for its hot wallets.

use por_attest_ceremony::pkcs11::{
    address_of, manifest_rows_csv, HsmError, HsmKey, PinSource, Token, TokenRef,
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

/// A token's keys: the secp256k1 ones and why any other private key is left out.
#[derive(Debug)]
pub struct KeyListing {
    /// `token `LABEL` (serial S)`.
    pub token: String,
    /// The secp256k1 keys, by id (or label).
    pub keys: Vec<HsmKey>,
    /// One sentence per private key that is not listed.
    pub skipped: Vec<String>,
}

/// Opens the token, logs in and lists its keys.
pub fn list_keys(opts: &KeysOptions) -> Result<KeyListing, HsmError> {
    let token = Token::open(&opts.module, &opts.token, &opts.pin)?;
    let (keys, skipped) = token.list_keys()?;
    Ok(KeyListing {
        token: token.name().to_string(),
        keys,
        skipped,
    })
}

/// Every chain and script type a single HSM key can prove, in listing order.
const LISTED: [(&str, ChainFamily, Option<ScriptType>); 5] = [
    ("BTC", ChainFamily::Bitcoin, Some(ScriptType::P2wpkh)),
    ("BTC", ChainFamily::Bitcoin, Some(ScriptType::P2shP2wpkh)),
    ("BTC", ChainFamily::Bitcoin, Some(ScriptType::P2pkh)),
    ("ETH", ChainFamily::Evm, None),
    ("TRX", ChainFamily::Tron, None),
];

impl KeyListing {
    /// The listing for a person: each key with its public key and addresses.
    pub fn to_human(&self, network: Network) -> String {
        let mut out = format!("{}: {} secp256k1 key(s)\n", self.token, self.keys.len());
        for k in &self.keys {
            let label = k
                .label
                .as_deref()
                .map(|l| format!(" (label `{l}`)"))
                .unwrap_or_default();
            let _ = writeln!(out, "key {}{label}: public key {}", k.key, k.public);
            for (chain, family, st) in LISTED {
                if let Some(a) = address_of(&k.public, family, st, network) {
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
            .map(|k| (k.key.clone(), k.public))
            .collect();
        manifest_rows_csv(&keys, signer, network)
    }
}
