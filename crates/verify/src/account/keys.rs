//! The keys of an account entry: one `[fingerprint/path]xpub…`, or a multisig descriptor
//! whose cosigner keys are xpubs with a non-hardened wildcard (`/<0;1>/*`, `/0/*`). Parsing
//! follows BIP-380 (key origins, the checksum) and BIP-389 (multipath) through the
//! `miniscript` crate; `{account}` in the account message names the key or the descriptor.

use super::path::{PathError, RelativePath, MAX_RELATIVE_DEPTH};
use crate::chains::{ChainFamily, Network, ScriptType};
use bitcoin::bip32::{ChildNumber, DerivationPath, Fingerprint, Xpub};
use bitcoin::hashes::{sha256, Hash};
use bitcoin::secp256k1::PublicKey;
use bitcoin::NetworkKind;
use miniscript::descriptor::{Descriptor, DescriptorPublicKey, ShInner, Wildcard, WshInner};
use miniscript::Terminal;
use std::fmt::Write;
use std::str::FromStr;

/// How a single-key account's addresses are made from their keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SingleKind {
    /// Bitcoin, one of the single-key script types.
    Bitcoin(ScriptType),
    /// Ethereum and EVM chains.
    Evm,
    /// TRON.
    Tron,
}

/// An extended public key as an account entry writes it: `[fingerprint/path]xpub…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountKey {
    /// The key origin (informative: nothing proves it).
    pub origin: Option<(Fingerprint, DerivationPath)>,
    /// The key.
    pub xpub: Xpub,
}

/// Why an account's key or descriptor is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountKeyError {
    /// The key text is not `[fingerprint/path]xpub…`.
    #[error("field `key`: {0}")]
    BadKey(String),
    /// The descriptor does not parse, or its checksum is missing or wrong.
    #[error("field `descriptor`: {0}")]
    BadDescriptor(String),
    /// A descriptor this verifier cannot check (never a pass).
    #[error("unsupported descriptor: {0}")]
    UnsupportedDescriptor(String),
    /// The fields do not go together (key with descriptor, script type, network).
    #[error("{0}")]
    Inconsistent(String),
}

impl AccountKeyError {
    /// True for "cannot check this" rather than "checked and wrong".
    pub fn is_unsupported(&self) -> bool {
        matches!(self, AccountKeyError::UnsupportedDescriptor(_))
    }
}

/// What an account's addresses are derived from.
#[derive(Debug, Clone)]
pub enum AccountKeys {
    /// One key; addresses at any non-hardened relative path.
    Single {
        /// How addresses are made.
        kind: SingleKind,
        /// The network addresses belong to.
        network: bitcoin::Network,
        /// The key.
        key: AccountKey,
    },
    /// A `threshold`-of-`keys.len()` CHECKMULTISIG wallet.
    Multisig {
        /// P2SH, P2WSH or P2SH-P2WSH.
        script_type: ScriptType,
        /// The network addresses belong to.
        network: bitcoin::Network,
        /// Distinct cosigner signatures required.
        threshold: usize,
        /// `sortedmulti` (keys in BIP-67 order) rather than `multi` (descriptor order).
        sorted: bool,
        /// The cosigner keys, in descriptor order.
        keys: Vec<AccountKey>,
        /// The steps below every key before the wildcard: one entry for `/0/*`, two for
        /// `/<0;1>/*`, one empty one for `/*`.
        branches: Vec<Vec<u32>>,
        /// SHA-256 of the descriptor text (what `{account}` names).
        text_hash: [u8; 32],
    },
}

fn bitcoin_network(network: Network) -> bitcoin::Network {
    network.bitcoin()
}

fn key_network_fits(xpub: &Xpub, network: Network) -> bool {
    (xpub.network == NetworkKind::Main) == (network == Network::Mainnet)
}

fn parse_key(text: &str) -> Result<AccountKey, AccountKeyError> {
    let bad = |why: String| AccountKeyError::BadKey(why);
    let key = DescriptorPublicKey::from_str(text)
        .map_err(|e| bad(format!("`{text}` is not `[fingerprint/path]xpub…`: {e}")))?;
    match key {
        DescriptorPublicKey::XPub(x)
            if x.derivation_path.is_empty() && x.wildcard == Wildcard::None =>
        {
            check_origin(&x.origin, &x.xkey).map_err(bad)?;
            Ok(AccountKey {
                origin: x.origin,
                xpub: x.xkey,
            })
        }
        DescriptorPublicKey::XPub(_) | DescriptorPublicKey::MultiXPub(_) => Err(bad(format!(
            "`{text}` has steps after the key: the key of an account is the account's own extended key, its addresses' paths are listed with them"
        ))),
        DescriptorPublicKey::Single(_) => Err(bad(format!(
            "`{text}` is a plain public key, not an extended key (xpub/tpub)"
        ))),
    }
}

/// The origin's path length and last step must be the key's depth and child number.
fn check_origin(origin: &Option<(Fingerprint, DerivationPath)>, xpub: &Xpub) -> Result<(), String> {
    let Some((_, path)) = origin else {
        return Ok(());
    };
    let steps: &[ChildNumber] = path.as_ref();
    if steps.len() != usize::from(xpub.depth) {
        return Err(format!(
            "the key origin has {} steps but the key's depth is {}",
            steps.len(),
            xpub.depth
        ));
    }
    if let Some(last) = steps.last() {
        if *last != xpub.child_number {
            return Err(format!(
                "the key origin ends in {last} but the key is child {}",
                xpub.child_number
            ));
        }
    }
    Ok(())
}

impl AccountKeys {
    /// The keys of a single-key account: `key` is `[fingerprint/path]xpub…`.
    pub fn single(
        family: ChainFamily,
        script_type: Option<ScriptType>,
        network: Network,
        key: &str,
    ) -> Result<AccountKeys, AccountKeyError> {
        let kind = match (family, script_type) {
            (ChainFamily::Bitcoin, Some(st)) if !st.is_multisig() => SingleKind::Bitcoin(st),
            (ChainFamily::Bitcoin, Some(st)) => {
                return Err(AccountKeyError::Inconsistent(format!(
                    "script type {st} is multisig: give a `descriptor`, not a `key`"
                )))
            }
            (ChainFamily::Bitcoin, None) => {
                return Err(AccountKeyError::Inconsistent(
                    "field `script_type` is missing for a Bitcoin account".into(),
                ))
            }
            (ChainFamily::Evm, None) => SingleKind::Evm,
            (ChainFamily::Tron, None) => SingleKind::Tron,
            (_, Some(_)) => {
                return Err(AccountKeyError::Inconsistent(
                    "field `script_type` applies only to Bitcoin accounts".into(),
                ))
            }
        };
        let key = parse_key(key)?;
        if !key_network_fits(&key.xpub, network) {
            return Err(AccountKeyError::Inconsistent(format!(
                "the key is for {} but the account is on {network}",
                if key.xpub.network == NetworkKind::Main {
                    "mainnet (xpub)"
                } else {
                    "a test network (tpub)"
                }
            )));
        }
        Ok(AccountKeys::Single {
            kind,
            network: bitcoin_network(network),
            key,
        })
    }

    /// The keys of a multisig wallet from its descriptor (with its `#checksum`).
    pub fn multisig(
        family: ChainFamily,
        script_type: Option<ScriptType>,
        network: Network,
        descriptor: &str,
    ) -> Result<AccountKeys, AccountKeyError> {
        let bad = AccountKeyError::BadDescriptor;
        let unsupported = AccountKeyError::UnsupportedDescriptor;
        if family != ChainFamily::Bitcoin {
            return Err(AccountKeyError::Inconsistent(
                "a `descriptor` applies only to Bitcoin accounts".into(),
            ));
        }
        match descriptor.rsplit_once('#') {
            Some((_, sum)) if sum.len() == 8 => {}
            _ => {
                return Err(bad(
                    "it must end with its BIP-380 checksum (`#` and 8 characters)".into(),
                ))
            }
        }
        let desc = Descriptor::<DescriptorPublicKey>::from_str(descriptor)
            .map_err(|e| bad(e.to_string()))?;
        let (kind, threshold, sorted, pks): (ScriptType, usize, bool, Vec<DescriptorPublicKey>) =
            match &desc {
                Descriptor::Wsh(wsh) => match wsh.as_inner() {
                    WshInner::SortedMulti(s) => (ScriptType::P2wsh, s.k(), true, s.pks().to_vec()),
                    WshInner::Ms(ms) => match &ms.node {
                        Terminal::Multi(t) => (ScriptType::P2wsh, t.k(), false, t.data().to_vec()),
                        _ => return Err(unsupported("only multi and sortedmulti inside wsh()".into())),
                    },
                },
                Descriptor::Sh(sh) => match sh.as_inner() {
                    ShInner::SortedMulti(s) => (ScriptType::P2sh, s.k(), true, s.pks().to_vec()),
                    ShInner::Ms(ms) => match &ms.node {
                        Terminal::Multi(t) => (ScriptType::P2sh, t.k(), false, t.data().to_vec()),
                        _ => return Err(unsupported("only multi and sortedmulti inside sh()".into())),
                    },
                    ShInner::Wsh(wsh) => match wsh.as_inner() {
                        WshInner::SortedMulti(s) => {
                            (ScriptType::P2shP2wsh, s.k(), true, s.pks().to_vec())
                        }
                        WshInner::Ms(ms) => match &ms.node {
                            Terminal::Multi(t) => {
                                (ScriptType::P2shP2wsh, t.k(), false, t.data().to_vec())
                            }
                            _ => return Err(unsupported("only multi and sortedmulti inside sh(wsh())".into())),
                        },
                    },
                    ShInner::Wpkh(_) => return Err(unsupported("sh(wpkh()) is a single key: give it as a `key` with script type p2sh-p2wpkh".into())),
                },
                other => {
                    return Err(unsupported(format!(
                        "{:?} descriptors (multisig accounts are wsh(), sh() or sh(wsh()) of multi or sortedmulti)",
                        other.desc_type()
                    )))
                }
            };
        if script_type != Some(kind) {
            return Err(AccountKeyError::Inconsistent(format!(
                "field `script_type` says {} but the descriptor is {kind}",
                script_type.map_or("nothing".to_string(), |s| s.to_string())
            )));
        }
        let mut keys = Vec::with_capacity(pks.len());
        let mut branches: Option<Vec<Vec<u32>>> = None;
        for (i, pk) in pks.iter().enumerate() {
            let (origin, xkey, paths, wildcard) = match pk {
                DescriptorPublicKey::XPub(x) => {
                    (&x.origin, x.xkey, vec![x.derivation_path.clone()], x.wildcard)
                }
                DescriptorPublicKey::MultiXPub(x) => (
                    &x.origin,
                    x.xkey,
                    x.derivation_paths.paths().clone(),
                    x.wildcard,
                ),
                DescriptorPublicKey::Single(_) => {
                    return Err(bad(format!(
                        "key {} is a plain public key: every cosigner must be an xpub with `/<0;1>/*` (or `/0/*`) so that the wallet's addresses derive from it",
                        i + 1
                    )))
                }
            };
            if wildcard != Wildcard::Unhardened {
                return Err(bad(format!(
                    "key {} must end in an unhardened wildcard `/*`",
                    i + 1
                )));
            }
            let mut alternatives = Vec::with_capacity(paths.len());
            for p in &paths {
                let mut steps = Vec::with_capacity(p.len());
                for c in p {
                    match c {
                        ChildNumber::Normal { index } => steps.push(*index),
                        ChildNumber::Hardened { .. } => {
                            return Err(bad(format!(
                                "key {} has a hardened step after the xpub: its addresses cannot be derived from it",
                                i + 1
                            )))
                        }
                    }
                }
                if steps.len() + 1 > MAX_RELATIVE_DEPTH {
                    return Err(bad(format!("key {} has too many steps", i + 1)));
                }
                alternatives.push(steps);
            }
            match &branches {
                None => branches = Some(alternatives),
                Some(b) if *b == alternatives => {}
                Some(_) => {
                    return Err(unsupported(
                        "cosigner keys with different derivation steps after the xpub".into(),
                    ))
                }
            }
            check_origin(origin, &xkey).map_err(|e| bad(format!("key {}: {e}", i + 1)))?;
            if !key_network_fits(&xkey, network) {
                return Err(AccountKeyError::Inconsistent(format!(
                    "cosigner key {} does not belong to {network}",
                    i + 1
                )));
            }
            keys.push(AccountKey {
                origin: origin.clone(),
                xpub: xkey,
            });
        }
        Ok(AccountKeys::Multisig {
            script_type: kind,
            network: bitcoin_network(network),
            threshold,
            sorted,
            keys,
            branches: branches.unwrap_or_default(),
            text_hash: sha256::Hash::hash(descriptor.as_bytes()).to_byte_array(),
        })
    }

    /// What `{account}` renders to: the xpub, or `sha256:` and the hex SHA-256 of the
    /// descriptor text.
    pub fn account_text(&self) -> String {
        match self {
            AccountKeys::Single { key, .. } => key.xpub.to_string(),
            AccountKeys::Multisig { text_hash, .. } => {
                format!("sha256:{}", hex::encode(text_hash))
            }
        }
    }

    /// The keys whose signatures prove the account (one, or every cosigner's).
    pub fn signing_keys(&self) -> Vec<PublicKey> {
        match self {
            AccountKeys::Single { key, .. } => vec![key.xpub.public_key],
            AccountKeys::Multisig { keys, .. } => keys.iter().map(|k| k.xpub.public_key).collect(),
        }
    }

    /// Distinct signers required.
    pub fn threshold(&self) -> usize {
        match self {
            AccountKeys::Single { .. } => 1,
            AccountKeys::Multisig { threshold, .. } => *threshold,
        }
    }

    /// Checks that `path` is a path this account has addresses at.
    pub fn check_path(&self, path: &RelativePath, text: &str) -> Result<(), PathError> {
        if let AccountKeys::Multisig { branches, .. } = self {
            let steps = path.steps();
            let fits = branches
                .iter()
                .any(|b| steps.len() == b.len() + 1 && steps[..b.len()] == b[..]);
            if !fits {
                let expected = match branches.as_slice() {
                    [one] if one.is_empty() => "one step, `i`".to_string(),
                    _ => branches
                        .iter()
                        .map(|b| {
                            let mut s = String::new();
                            for x in b {
                                let _ = write!(s, "{x}/");
                            }
                            s + "i"
                        })
                        .collect::<Vec<_>>()
                        .join(" or "),
                };
                return Err(PathError::DoesNotFit {
                    path: text.into(),
                    expected,
                });
            }
        }
        Ok(())
    }
}

impl std::fmt::Display for AccountKey {
    /// `[fingerprint/path]xpub…` (BIP-380), or the bare xpub without an origin.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some((fp, path)) = &self.origin {
            write!(f, "[{fp}")?;
            if !path.is_empty() {
                write!(f, "/{path}")?;
            }
            f.write_str("]")?;
        }
        write!(f, "{}", self.xpub)
    }
}

/// The descriptor of a `threshold`-of-n CHECKMULTISIG wallet over account keys, each key
/// followed by `/<0;1>/*` (receive and change), with its BIP-380 checksum: what an account
/// entry's `descriptor` holds.
pub fn multisig_descriptor(
    script_type: ScriptType,
    threshold: usize,
    sorted: bool,
    keys: &[AccountKey],
) -> Result<String, AccountKeyError> {
    let keys: Vec<String> = keys.iter().map(|k| format!("{k}/<0;1>/*")).collect();
    let multi = format!(
        "{}({threshold},{})",
        if sorted { "sortedmulti" } else { "multi" },
        keys.join(",")
    );
    let body = match script_type {
        ScriptType::P2wsh => format!("wsh({multi})"),
        ScriptType::P2sh => format!("sh({multi})"),
        ScriptType::P2shP2wsh => format!("sh(wsh({multi}))"),
        other => {
            return Err(AccountKeyError::Inconsistent(format!(
                "{other} is not a multisig script type"
            )))
        }
    };
    let sum = miniscript::descriptor::checksum::desc_checksum(&body)
        .map_err(|e| AccountKeyError::BadDescriptor(e.to_string()))?;
    Ok(format!("{body}#{sum}"))
}
