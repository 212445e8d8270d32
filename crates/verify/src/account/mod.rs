//! Account entries: one signature by an extended key proves every address derived below it
//! without hardening, because a non-hardened child key is the parent key plus a public tweak
//! (BIP-32 `CKDpub`): whoever holds the account's private key holds every child's.
//!
//! An account is one extended public key (a BIP-32 account of one script type, or an EVM or
//! TRON key such as `m/44'/60'/0'/0`) or a multisig wallet descriptor (`wsh(sortedmulti(…))`,
//! `sh(…)`, `sh(wsh(…))` over cosigner xpubs, one signature per cosigner, a threshold of
//! distinct cosigners). It lists its addresses with their relative paths below the key; the
//! verifier derives each one and compares.
//!
//! | module | what |
//! |---|---|
//! | [`keys`] | the account's key or descriptor, parsed (BIP-380 origins and checksum, BIP-389 `/<0;1>/*`), and what `{account}` names |
//! | [`path`] | relative paths (`0/17`): non-hardened steps only |
//! | [`check`] | an account's message and signatures, its addresses, its results in file order |
//! | [`derive`] | the address at a relative path, and the check of a listed address |
//! | [`generator`] | fast `point + t·G` for BIP-32 child keys and BIP-341 tweaks |

pub mod check;
pub mod derive;
pub mod generator;
pub mod keys;
pub mod path;

use crate::chains::{Network, ScriptType};
use crate::snapshot::SignatureRecord;
use serde::{Deserialize, Serialize};

pub use check::{check_addresses, signer_of, verify_account, AccountTally, CheckedAddress};
pub use derive::{check_address, AddressCheck, DerivedAddress, Deriver};
pub use keys::{AccountKey, AccountKeyError, AccountKeys, SingleKind};
pub use path::{parse_relative_path, PathError, RelativePath};

/// One address an account entry claims, at its path below the account key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountAddress {
    /// The relative path below the account key, e.g. `0/17` (non-hardened steps only).
    pub path: String,
    /// The address as the chain writes it.
    pub address: String,
    /// Balance at the anchor, as a decimal string in the chain's main unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance: Option<String>,
    /// Bitcoin: the address's coins at the anchor (as an entry's `coins`); absent when not
    /// listed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub coins: Vec<crate::snapshot::Coin>,
}

/// An account entry of a snapshot (format version 2): an extended key or a multisig
/// descriptor, the signature(s) over the account message, and the addresses below it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    /// Chain ticker: `BTC`, `ETH`, `ARB`, `TRX`, ...
    pub chain: String,
    /// Network of the addresses (and of the key: xpub for mainnet, tpub otherwise).
    pub network: Network,
    /// Bitcoin script type; absent for account chains.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script_type: Option<ScriptType>,
    /// Wallet label such as `cold` or `hot`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wallet: Option<String>,
    /// Single-key accounts: `[fingerprint/path]xpub…`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Multisig wallets: the descriptor with its `#checksum`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub descriptor: Option<String>,
    /// The rendered account message that was signed.
    pub message: String,
    /// The signatures by the account key (one per cosigner for a multisig wallet).
    pub signatures: Vec<SignatureRecord>,
    /// The addresses below the key, in the order they were listed.
    #[serde(default)]
    pub addresses: Vec<AccountAddress>,
}

impl Account {
    /// The key or descriptor text, as the report names the account.
    pub fn key_text(&self) -> &str {
        self.key
            .as_deref()
            .or(self.descriptor.as_deref())
            .unwrap_or("")
    }

    /// The canonical JSON of everything but the addresses, ending with `"addresses":[` (the
    /// addresses' own canonical JSON, comma-separated, and `]}` complete it).
    pub fn canonical_head(&self) -> Vec<u8> {
        let mut out = if self.addresses.is_empty() {
            serde_json::to_vec(self).expect("account serializes")
        } else {
            let head = Account {
                addresses: Vec::new(),
                ..self.clone()
            };
            serde_json::to_vec(&head).expect("account serializes")
        };
        debug_assert!(out.ends_with(b"\"addresses\":[]}"));
        out.truncate(out.len() - 2);
        out
    }

    /// Parses the account's keys (the `key` or the `descriptor`, never both).
    pub fn keys(&self) -> Result<AccountKeys, AccountKeyError> {
        let family = crate::chains::ChainFamily::of(&self.chain).ok_or_else(|| {
            AccountKeyError::Inconsistent(format!("unknown chain `{}`", self.chain))
        })?;
        match (&self.key, &self.descriptor) {
            (Some(k), None) => AccountKeys::single(family, self.script_type, self.network, k),
            (None, Some(d)) => AccountKeys::multisig(family, self.script_type, self.network, d),
            (Some(_), Some(_)) => Err(AccountKeyError::Inconsistent(
                "an account has a `key` or a `descriptor`, not both".into(),
            )),
            (None, None) => Err(AccountKeyError::Inconsistent(
                "an account needs a `key` (single key) or a `descriptor` (multisig)".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_head_and_addresses_make_the_canonical_account() {
        let a = Account {
            chain: "BTC".into(),
            network: Network::Mainnet,
            script_type: Some(ScriptType::P2wpkh),
            wallet: None,
            key: Some("xpub".into()),
            descriptor: None,
            message: "m".into(),
            signatures: vec![],
            addresses: vec![
                AccountAddress {
                    path: "0/0".into(),
                    address: "a".into(),
                    balance: Some("1.5".into()),
                    coins: Vec::new(),
                },
                AccountAddress {
                    path: "0/1".into(),
                    address: "b".into(),
                    balance: None,
                    coins: Vec::new(),
                },
            ],
        };
        let mut joined = a.canonical_head();
        for (i, x) in a.addresses.iter().enumerate() {
            if i > 0 {
                joined.push(b',');
            }
            joined.extend(serde_json::to_vec(x).unwrap());
        }
        joined.extend(b"]}");
        assert_eq!(joined, serde_json::to_vec(&a).unwrap());
    }
}
