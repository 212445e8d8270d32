//! The signatures a manifest asks for: one task per single-key address and per cosigner held by
//! a signer of this ceremony, each with its journal key.

use super::*;
use bitcoin::bip32::DerivationPath;
use bitcoin::PublicKey;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fmt;

/// The stable key of one signature in the journal: who signs which address with which key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TaskKey {
    /// Chain ticker as in the manifest.
    pub chain: String,
    /// Address as in the manifest.
    pub address: String,
    /// Signer id.
    pub signer: String,
    /// Canonical derivation path (`m/84'/0'/0'/0/5`).
    pub path: String,
}

impl fmt::Display for TaskKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} by {} at {}",
            self.chain, self.address, self.signer, self.path
        )
    }
}

/// One signature the ceremony must obtain: a signer signs an address's message at a path.
#[derive(Debug, Clone, Copy)]
pub struct SigningTask<'a> {
    /// Index of the address in [`Manifest::addresses`].
    pub address_index: usize,
    /// The address.
    pub spec: &'a AddressSpec,
    /// The signer that must sign.
    pub signer: &'a Signer,
    /// The key's derivation path on that signer (empty, `m`, for an HSM key, which the
    /// address's `key` names instead).
    pub path: &'a DerivationPath,
    /// The key the device must hold at `path`, when the manifest knows it (multisig).
    pub expected_pubkey: Option<PublicKey>,
    /// A contract wallet's owner: the address the key at `path` must be (the signature is
    /// checked against it rather than against the wallet's address).
    pub owner: Option<&'a str>,
}

impl<'a> SigningTask<'a> {
    /// The address the key at `path` must derive: the owner's for a contract wallet, else the
    /// entry's own.
    pub fn key_address(&self) -> &'a str {
        self.owner.unwrap_or(&self.spec.address)
    }
}

impl SigningTask<'_> {
    /// The journal key of this task.
    pub fn key(&self) -> TaskKey {
        TaskKey {
            chain: self.spec.chain.clone(),
            address: self.spec.address.clone(),
            signer: self.signer.id.clone(),
            path: match &self.spec.key {
                Some(k) => k.to_string(),
                None => path_string(self.path),
            },
        }
    }
}

/// The path of tasks whose key is named otherwise (HSM keys have none).
static NO_PATH: std::sync::LazyLock<DerivationPath> =
    std::sync::LazyLock::new(DerivationPath::master);

impl Manifest {
    /// Every signature the ceremony must obtain, in address order: one per single-key address,
    /// one per cosigner held by a signer of this ceremony for a multisig address (packaging
    /// needs at least the threshold of them), and one per owner held by a signer of this
    /// ceremony for a contract wallet.
    pub fn tasks(&self) -> impl Iterator<Item = SigningTask<'_>> + '_ {
        self.addresses.iter().flat_map(move |spec| {
            let mut out = Vec::new();
            let task = |sid: &str, path, expected_pubkey, owner| SigningTask {
                address_index: spec.index,
                spec,
                signer: self.signer(sid).expect("signer checked on load"),
                path,
                expected_pubkey,
                owner,
            };
            let single = match (&spec.path, &spec.key) {
                (Some(path), _) => Some(path),
                (None, Some(_)) => Some(&*NO_PATH),
                (None, None) => None,
            };
            if let (Some(path), Some(sid)) = (single, &spec.signer) {
                out.push(task(sid, path, None, None));
            }
            if let Some(w) = &spec.contract_wallet {
                for o in &w.owners {
                    if let (Some(sid), Some(path)) = (&o.signer, &o.path) {
                        out.push(task(sid, path, None, Some(o.address.as_str())));
                    }
                }
            }
            if let Some(ms) = &spec.multisig {
                for c in &ms.cosigners {
                    if let (Some(sid), Some(path)) = (&c.signer, &c.full_path) {
                        out.push(task(sid, path, Some(c.pubkey), None));
                    }
                }
            }
            out
        })
    }

    /// The tasks of one signer.
    pub fn tasks_for<'a>(&'a self, signer: &'a str) -> impl Iterator<Item = SigningTask<'a>> + 'a {
        self.tasks().filter(move |t| t.signer.id == signer)
    }

    /// Number of distinct signer ids used by addresses (for summaries).
    pub fn signers_in_use(&self) -> HashSet<&str> {
        self.tasks().map(|t| t.signer.id.as_str()).collect()
    }
}
