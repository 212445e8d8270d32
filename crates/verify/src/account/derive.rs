//! The address at a relative path below an account's key(s), and the check of a listed
//! address: the parent key of the path (`xpub/0`) is derived once and kept, then each address
//! costs one child derivation per key ([`super::generator`]) and its encoding.

use super::generator::{add_generator_multiple, child_public_key};
use super::keys::{AccountKeys, SingleKind};
use super::path::{parse_relative_path, RelativePath};
use super::AccountAddress;
use crate::chains::ScriptType;
use crate::schemes::evm::{evm_address_of, parse_evm_address, to_checksum_address};
use crate::schemes::tron::{format_tron_address, parse_tron_address};
use bitcoin::bip32::{ChildNumber, Xpub};
use bitcoin::hashes::Hash;
use bitcoin::key::{CompressedPublicKey, TweakedPublicKey};
use bitcoin::secp256k1::PublicKey;
use bitcoin::taproot::TapTweakHash;
use bitcoin::{Address, Script};
use std::fmt::Write;

/// Derives the addresses of one account, remembering the keys of the last few parent paths
/// (`xpub/0` is derived once, then `/i` for each address).
pub struct Deriver<'a> {
    keys: &'a AccountKeys,
    /// Parent path → the extended key(s) at it, one per account key.
    parents: Vec<(RelativePath, Vec<Xpub>)>,
}

/// An address derived at a relative path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DerivedAddress {
    /// A Bitcoin address.
    Bitcoin(Address),
    /// The 20-byte account of an EVM or TRON address.
    Account20(SingleKind, [u8; 20]),
}

impl DerivedAddress {
    /// The address as the chain writes it (EIP-55 for EVM, base58check for TRON).
    pub fn to_text(&self) -> String {
        match self {
            DerivedAddress::Bitcoin(a) => a.to_string(),
            DerivedAddress::Account20(SingleKind::Tron, a) => format_tron_address(a),
            DerivedAddress::Account20(_, a) => to_checksum_address(a),
        }
    }

    /// True when `stated` is this address (EVM: any case, a mixed-case one with a correct
    /// EIP-55 checksum).
    pub fn matches(&self, stated: &str) -> bool {
        match self {
            DerivedAddress::Bitcoin(a) => {
                let mut buf = StackString::default();
                write!(buf, "{a}").is_ok() && buf.as_str() == stated
            }
            DerivedAddress::Account20(SingleKind::Tron, a) => {
                parse_tron_address(stated).is_ok_and(|s| s == *a)
            }
            DerivedAddress::Account20(_, a) => parse_evm_address(stated).is_ok_and(|s| s == *a),
        }
    }
}

/// A string on the stack for an encoded address (at most 90 characters for bech32).
struct StackString {
    buf: [u8; 128],
    len: usize,
}

impl Default for StackString {
    fn default() -> Self {
        StackString {
            buf: [0; 128],
            len: 0,
        }
    }
}

impl StackString {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl std::fmt::Write for StackString {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(std::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Why no address could be derived (BIP-32's invalid child, probability below 2^-127).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("BIP-32 gives no key at this path (an invalid child)")]
pub struct NoChild;

impl<'a> Deriver<'a> {
    /// A deriver for the account.
    pub fn new(keys: &'a AccountKeys) -> Deriver<'a> {
        Deriver {
            keys,
            parents: Vec::with_capacity(2),
        }
    }

    fn parents(&mut self, prefix: RelativePath) -> Result<&[Xpub], NoChild> {
        if let Some(i) = self.parents.iter().position(|(p, _)| *p == prefix) {
            return Ok(&self.parents[i].1);
        }
        let secp = crate::schemes::secp();
        let roots: Vec<&Xpub> = match self.keys {
            AccountKeys::Single { key, .. } => vec![&key.xpub],
            AccountKeys::Multisig { keys, .. } => keys.iter().map(|k| &k.xpub).collect(),
        };
        let steps: Vec<ChildNumber> = prefix
            .steps()
            .iter()
            .map(|s| ChildNumber::Normal { index: *s })
            .collect();
        let mut derived = Vec::with_capacity(roots.len());
        for r in roots {
            derived.push(r.derive_pub(secp, &steps).map_err(|_| NoChild)?);
        }
        if self.parents.len() == 4 {
            self.parents.remove(0);
        }
        self.parents.push((prefix, derived));
        Ok(&self.parents.last().expect("just pushed").1)
    }

    /// The address at `path` (already checked with [`AccountKeys::check_path`]).
    pub fn address(&mut self, path: &RelativePath) -> Result<DerivedAddress, NoChild> {
        let last = path.last();
        let keys = self.keys;
        let parents = self.parents(path.parent())?;
        match keys {
            AccountKeys::Single { kind, network, .. } => {
                let pk = child_public_key(&parents[0], last).ok_or(NoChild)?;
                Ok(single_address(*kind, *network, &pk)?)
            }
            AccountKeys::Multisig {
                script_type,
                network,
                threshold,
                sorted,
                ..
            } => {
                let mut pks = Vec::with_capacity(parents.len());
                for p in parents {
                    pks.push(child_public_key(p, last).ok_or(NoChild)?.serialize());
                }
                if *sorted {
                    pks.sort_unstable();
                }
                let mut script = Vec::with_capacity(3 + 34 * pks.len());
                script.push(0x50 + *threshold as u8);
                for k in &pks {
                    script.push(33);
                    script.extend_from_slice(k);
                }
                script.push(0x50 + pks.len() as u8);
                script.push(0xae);
                let s = Script::from_bytes(&script);
                let a = match script_type {
                    ScriptType::P2wsh => Address::p2wsh(s, *network),
                    ScriptType::P2shP2wsh => Address::p2shwsh(s, *network),
                    _ => Address::p2sh(s, *network).map_err(|_| NoChild)?,
                };
                Ok(DerivedAddress::Bitcoin(a))
            }
        }
    }
}

fn single_address(
    kind: SingleKind,
    network: bitcoin::Network,
    pk: &PublicKey,
) -> Result<DerivedAddress, NoChild> {
    let cpk = CompressedPublicKey(*pk);
    Ok(match kind {
        SingleKind::Bitcoin(ScriptType::P2pkh) => {
            DerivedAddress::Bitcoin(Address::p2pkh(cpk, network))
        }
        SingleKind::Bitcoin(ScriptType::P2shP2wpkh) => {
            DerivedAddress::Bitcoin(Address::p2shwpkh(&cpk, network))
        }
        SingleKind::Bitcoin(ScriptType::P2wpkh) => {
            DerivedAddress::Bitcoin(Address::p2wpkh(&cpk, network))
        }
        SingleKind::Bitcoin(ScriptType::P2tr) => {
            // BIP-86: the output key is the internal key tweaked by its own TapTweak hash.
            let (internal, _) = pk.x_only_public_key();
            let tweak = TapTweakHash::from_key_and_tweak(internal, None).to_byte_array();
            let even = internal.public_key(bitcoin::secp256k1::Parity::Even);
            let output = add_generator_multiple(&even, &tweak).ok_or(NoChild)?;
            let key = TweakedPublicKey::dangerous_assume_tweaked(output.x_only_public_key().0);
            DerivedAddress::Bitcoin(Address::p2tr_tweaked(key, network))
        }
        SingleKind::Bitcoin(_) => return Err(NoChild),
        SingleKind::Evm | SingleKind::Tron => DerivedAddress::Account20(kind, evm_address_of(pk)),
    })
}

/// The outcome of checking one listed address of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressCheck {
    /// The address is the one derived at its path.
    Verified,
    /// Another address is derived at the path: this address fails, the others stand.
    Failed(String),
    /// The path is one the account's signature cannot cover (hardened, malformed, not the
    /// descriptor's): the whole account entry fails.
    FailsAccount(String),
}

/// Checks one listed address against the address its path derives to.
pub fn check_address(deriver: &mut Deriver<'_>, item: &AccountAddress) -> AddressCheck {
    let path = match parse_relative_path(&item.path) {
        Ok(p) => p,
        Err(e) => return AddressCheck::FailsAccount(format!("address {}: {e}", item.address)),
    };
    if let Err(e) = deriver.keys.check_path(&path, &item.path) {
        return AddressCheck::FailsAccount(format!("address {}: {e}", item.address));
    }
    match deriver.address(&path) {
        Ok(derived) if derived.matches(&item.address) => AddressCheck::Verified,
        Ok(derived) => AddressCheck::Failed(format!(
            "the account's key gives {} at {}, not {}",
            derived.to_text(),
            item.path,
            item.address
        )),
        Err(NoChild) => AddressCheck::Failed(format!(
            "BIP-32 gives no key at {} (an invalid child): no address is there",
            item.path
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chains::{ChainFamily, Network};
    use bitcoin::bip32::{DerivationPath, Xpriv};
    use miniscript::descriptor::{Descriptor, DescriptorPublicKey};
    use std::str::FromStr;

    /// `[fp/path]xpub` of test seed `seed` at `path`.
    fn key_at(seed: u8, path: &str) -> String {
        let secp = crate::schemes::secp();
        let m = Xpriv::new_master(bitcoin::Network::Bitcoin, &[seed; 32]).unwrap();
        let p = DerivationPath::from_str(path).unwrap();
        let x = Xpub::from_priv(secp, &m.derive_priv(secp, &p).unwrap());
        format!("[{}/{}]{x}", m.fingerprint(secp), &path[2..])
    }

    /// miniscript's address of a descriptor at `index`: the oracle.
    fn oracle(desc: &Descriptor<DescriptorPublicKey>, index: u32) -> String {
        desc.at_derivation_index(index)
            .unwrap()
            .address(bitcoin::Network::Bitcoin)
            .unwrap()
            .to_string()
    }

    #[test]
    fn single_key_accounts_derive_what_miniscript_derives() {
        for (st, purpose, shape) in [
            (ScriptType::P2pkh, "44", "pkh(KEY/0/*)"),
            (ScriptType::P2shP2wpkh, "49", "sh(wpkh(KEY/0/*))"),
            (ScriptType::P2wpkh, "84", "wpkh(KEY/0/*)"),
            (ScriptType::P2tr, "86", "tr(KEY/0/*)"),
        ] {
            let text = key_at(1, &format!("m/{purpose}'/0'/0'"));
            let keys = AccountKeys::single(ChainFamily::Bitcoin, Some(st), Network::Mainnet, &text)
                .unwrap();
            let desc =
                Descriptor::<DescriptorPublicKey>::from_str(&shape.replace("KEY", &text)).unwrap();
            let mut d = Deriver::new(&keys);
            for i in 0..25 {
                let want = oracle(&desc, i);
                let got = d
                    .address(&parse_relative_path(&format!("0/{i}")).unwrap())
                    .unwrap();
                assert_eq!(got.to_text(), want, "{st} {i}");
                assert!(got.matches(&want));
                assert!(!got.matches(&want.to_uppercase()) || st == ScriptType::P2pkh);
            }
        }
    }

    #[test]
    fn multisig_accounts_derive_what_miniscript_derives() {
        let keys: Vec<String> = (1..=3).map(|s| key_at(s, "m/48'/0'/0'/2'")).collect();
        for (st, shape) in [
            (ScriptType::P2wsh, "wsh(sortedmulti(2,@0,@1,@2))"),
            (ScriptType::P2sh, "sh(sortedmulti(2,@0,@1,@2))"),
            (ScriptType::P2shP2wsh, "sh(wsh(sortedmulti(2,@0,@1,@2)))"),
            (ScriptType::P2wsh, "wsh(multi(2,@0,@1,@2))"),
            (ScriptType::P2sh, "sh(multi(1,@0,@1,@2))"),
        ] {
            let mut text = shape.to_string();
            for (i, k) in keys.iter().enumerate() {
                text = text.replace(&format!("@{i}"), &format!("{k}/<0;1>/*"));
            }
            let full = Descriptor::<DescriptorPublicKey>::from_str(&text)
                .unwrap()
                .to_string();
            let acct =
                AccountKeys::multisig(ChainFamily::Bitcoin, Some(st), Network::Mainnet, &full)
                    .unwrap();
            let singles = Descriptor::<DescriptorPublicKey>::from_str(&full)
                .unwrap()
                .into_single_descriptors()
                .unwrap();
            let mut d = Deriver::new(&acct);
            for branch in 0..2u32 {
                for i in 0..8 {
                    let p = parse_relative_path(&format!("{branch}/{i}")).unwrap();
                    acct.check_path(&p, "p").unwrap();
                    let got = d.address(&p).unwrap().to_text();
                    assert_eq!(
                        got,
                        oracle(&singles[branch as usize], i),
                        "{shape} {branch}/{i}"
                    );
                }
            }
            for bad in ["2/0", "0", "0/0/0"] {
                let p = parse_relative_path(bad).unwrap();
                assert!(acct.check_path(&p, bad).is_err(), "{shape} {bad}");
            }
        }
    }

    #[test]
    fn evm_and_tron_accounts_derive_the_keys_addresses() {
        use crate::schemes::evm::{evm_address_of, to_checksum_address};
        let secp = crate::schemes::secp();
        let m = Xpriv::new_master(bitcoin::Network::Bitcoin, &[4; 32]).unwrap();
        for (family, path) in [
            (ChainFamily::Evm, "m/44'/60'/0'/0"),
            (ChainFamily::Tron, "m/44'/195'/0'/0"),
        ] {
            let text = key_at(4, path);
            let keys = AccountKeys::single(family, None, Network::Mainnet, &text).unwrap();
            let mut d = Deriver::new(&keys);
            for i in [0u32, 1, 99] {
                let child = m
                    .derive_priv(
                        secp,
                        &DerivationPath::from_str(&format!("{path}/{i}")).unwrap(),
                    )
                    .unwrap();
                let a = evm_address_of(&child.private_key.public_key(secp));
                let want = if family == ChainFamily::Evm {
                    to_checksum_address(&a)
                } else {
                    format_tron_address(&a)
                };
                let got = d
                    .address(&parse_relative_path(&i.to_string()).unwrap())
                    .unwrap();
                assert_eq!(got.to_text(), want);
                assert!(got.matches(&want));
                if family == ChainFamily::Evm {
                    assert!(
                        got.matches(&want.to_lowercase()),
                        "lower case is the same address"
                    );
                    let mut bad = want.clone().into_bytes();
                    let at = bad
                        .iter()
                        .rposition(|c| c.is_ascii_alphabetic() && *c != b'x')
                        .unwrap();
                    bad[at] ^= 0x20;
                    assert!(
                        !got.matches(std::str::from_utf8(&bad).unwrap()),
                        "wrong EIP-55 case"
                    );
                }
            }
        }
    }

    #[test]
    fn keys_that_cannot_be_accounts_are_refused_with_reasons() {
        let good = key_at(1, "m/84'/0'/0'");
        let err = |family, st, net, key: &str| {
            AccountKeys::single(family, st, net, key)
                .unwrap_err()
                .to_string()
        };
        let btc = ChainFamily::Bitcoin;
        let wpkh = Some(ScriptType::P2wpkh);
        assert!(err(btc, wpkh, Network::Testnet, &good).contains("account is on testnet"));
        assert!(err(btc, None, Network::Mainnet, &good).contains("`script_type` is missing"));
        assert!(err(ChainFamily::Evm, wpkh, Network::Mainnet, &good).contains("only to Bitcoin"));
        assert!(err(btc, wpkh, Network::Mainnet, &format!("{good}/0/*")).contains("steps after"));
        assert!(
            err(btc, wpkh, Network::Mainnet, "xpubnope").contains("is not `[fingerprint/path]xpub")
        );
        let wrong_depth = good.replacen("/84'/0'/0'", "/84'/0'", 1);
        assert!(err(btc, wpkh, Network::Mainnet, &wrong_depth).contains("depth"));
        let wrong_child = good.replacen("/84'/0'/0'", "/84'/0'/1'", 1);
        assert!(err(btc, wpkh, Network::Mainnet, &wrong_child).contains("child"));
        assert!(err(btc, Some(ScriptType::P2wsh), Network::Mainnet, &good).contains("descriptor"));

        let ms =
            |st, text: &str| AccountKeys::multisig(btc, st, Network::Mainnet, text).unwrap_err();
        let k = key_at(1, "m/48'/0'/0'/2'");
        let with_sum = |body: &str| {
            format!(
                "{body}#{}",
                miniscript::descriptor::checksum::desc_checksum(body).unwrap()
            )
        };
        let wsh = Some(ScriptType::P2wsh);
        let body = format!("wsh(sortedmulti(1,{k}/<0;1>/*))");
        assert!(ms(wsh, &body).to_string().contains("checksum"));
        assert!(ms(Some(ScriptType::P2sh), &with_sum(&body))
            .to_string()
            .contains("says p2sh"));
        let hardened = format!("wsh(sortedmulti(1,{k}/0h/*))");
        assert!(ms(wsh, &with_sum(&hardened))
            .to_string()
            .contains("hardened"));
        let plain = "wsh(sortedmulti(1,02e6642fd69bd211f93f7f1f36ca51a26a5290eb2dd1b0d8279a87bb0d480c8443))";
        assert!(ms(wsh, &with_sum(plain))
            .to_string()
            .contains("plain public key"));
        let tr = format!("tr({k}/<0;1>/*)");
        assert!(ms(None, &with_sum(&tr)).is_unsupported());
        let and = format!("wsh(and_v(v:pk({k}/0/*),older(10)))");
        assert!(ms(wsh, &with_sum(&and)).is_unsupported());
    }
}
