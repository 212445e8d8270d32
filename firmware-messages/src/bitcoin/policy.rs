//! Wallet policies: serialization (version 1: template inline; version 2: template hash),
//! key information (`[fingerprint/path]xpub`), the default single-signature policies and a
//! parser for the descriptor templates the simulator supports.

use super::merkle::{Hash, MerkleTree};
use super::sha256;
use crate::codec::{utf8, write_varint, DecodeError, Reader};
use crate::path::{Bip32Path, HARDENED};

/// Policy language version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyVersion {
    /// App 2.0.x spelling: `wpkh(@0)` with `/**` on the key; template inline.
    V1 = 1,
    /// App 2.1+ spelling: `wpkh(@0/**)`; template by sha256.
    V2 = 2,
}

/// A wallet policy: name, descriptor template and key information strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletPolicy {
    /// Version.
    pub version: PolicyVersion,
    /// Name (empty for default wallets).
    pub name: String,
    /// Descriptor template, e.g. `wsh(sortedmulti(2,@0/**,@1/**))`.
    pub descriptor_template: String,
    /// Key information, e.g. `[f5acc2fd/84'/0'/0']xpub...`.
    pub keys: Vec<String>,
}

/// The default single-signature policies, usable without registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultPolicy {
    /// `pkh(@0/**)`, BIP-44.
    Pkh,
    /// `sh(wpkh(@0/**))`, BIP-49.
    ShWpkh,
    /// `wpkh(@0/**)`, BIP-84.
    Wpkh,
    /// `tr(@0/**)`, BIP-86.
    Tr,
}

impl DefaultPolicy {
    /// All four.
    pub const ALL: [DefaultPolicy; 4] = [Self::Pkh, Self::ShWpkh, Self::Wpkh, Self::Tr];

    /// BIP purpose (44, 49, 84, 86).
    pub fn purpose(self) -> u32 {
        match self {
            Self::Pkh => 44,
            Self::ShWpkh => 49,
            Self::Wpkh => 84,
            Self::Tr => 86,
        }
    }

    /// The template in the given version's spelling.
    pub fn template(self, version: PolicyVersion) -> &'static str {
        match (self, version) {
            (Self::Pkh, PolicyVersion::V2) => "pkh(@0/**)",
            (Self::ShWpkh, PolicyVersion::V2) => "sh(wpkh(@0/**))",
            (Self::Wpkh, PolicyVersion::V2) => "wpkh(@0/**)",
            (Self::Tr, PolicyVersion::V2) => "tr(@0/**)",
            (Self::Pkh, PolicyVersion::V1) => "pkh(@0)",
            (Self::ShWpkh, PolicyVersion::V1) => "sh(wpkh(@0))",
            (Self::Wpkh, PolicyVersion::V1) => "wpkh(@0)",
            (Self::Tr, PolicyVersion::V1) => "tr(@0)",
        }
    }

    /// The account path `m/purpose'/coin'/account'`.
    pub fn account_path(self, coin_type: u32, account: u32) -> Bip32Path {
        Bip32Path(vec![
            self.purpose() | HARDENED,
            coin_type | HARDENED,
            account | HARDENED,
        ])
    }

    /// The default wallet policy for an account key (`[fpr/path]xpub`).
    pub fn policy(self, version: PolicyVersion, key: KeyInfo) -> WalletPolicy {
        let mut key = key;
        if version == PolicyVersion::V1 {
            key.suffix = "/**".into();
        }
        WalletPolicy {
            version,
            name: String::new(),
            descriptor_template: self.template(version).into(),
            keys: vec![key.to_string()],
        }
    }
}

impl WalletPolicy {
    /// Merkle tree of the key information strings.
    pub fn keys_tree(&self) -> MerkleTree {
        MerkleTree::from_elements(&self.keys)
    }

    /// Serialized form (the wallet id is its sha256).
    pub fn serialize(&self) -> Vec<u8> {
        let mut out = vec![self.version as u8, self.name.len() as u8];
        out.extend_from_slice(self.name.as_bytes());
        write_varint(&mut out, self.descriptor_template.len() as u64);
        match self.version {
            PolicyVersion::V1 => out.extend_from_slice(self.descriptor_template.as_bytes()),
            PolicyVersion::V2 => {
                out.extend_from_slice(&sha256(self.descriptor_template.as_bytes()))
            }
        }
        write_varint(&mut out, self.keys.len() as u64);
        out.extend_from_slice(&self.keys_tree().root());
        out
    }

    /// Wallet id: sha256 of the serialization.
    pub fn id(&self) -> Hash {
        sha256(&self.serialize())
    }
}

/// The descriptor template as carried by a serialized policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateRef {
    /// Version 1: the template itself.
    Inline(String),
    /// Version 2: its sha256 (the device asks the preimage).
    Hash(Hash),
}

/// A parsed serialized wallet policy (what the device reads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyHeader {
    /// Version.
    pub version: PolicyVersion,
    /// Name.
    pub name: String,
    /// Template length.
    pub template_len: u64,
    /// Template or its hash.
    pub template: TemplateRef,
    /// Number of keys.
    pub n_keys: u64,
    /// Root of the key information tree.
    pub keys_root: Hash,
}

impl PolicyHeader {
    /// Parses a serialized policy.
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let version = match r.u8("policy version")? {
            1 => PolicyVersion::V1,
            2 => PolicyVersion::V2,
            v => return Err(DecodeError::invalid("policy version", format!("{v}"))),
        };
        let name = utf8(r.u8_prefixed("wallet name")?, "wallet name")?;
        let template_len = r.varint("template length")?;
        let template = match version {
            PolicyVersion::V1 => {
                let len = usize::try_from(template_len)
                    .map_err(|_| DecodeError::invalid("template length", "too large"))?;
                TemplateRef::Inline(utf8(r.bytes(len, "template")?, "template")?)
            }
            PolicyVersion::V2 => TemplateRef::Hash(r.array("template hash")?),
        };
        let n_keys = r.varint("keys count")?;
        let keys_root = r.array("keys root")?;
        r.finish()?;
        Ok(PolicyHeader {
            version,
            name,
            template_len,
            template,
            n_keys,
            keys_root,
        })
    }
}

/// Key information: optional origin `[fingerprint/path]`, the xpub, and (v1 only) a `/**`
/// or `/<a;b>/*` suffix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// Origin: master fingerprint and path.
    pub origin: Option<([u8; 4], Bip32Path)>,
    /// Base58 extended public key.
    pub xpub: String,
    /// Version-1 derivation suffix (empty in version 2).
    pub suffix: String,
}

impl std::str::FromStr for KeyInfo {
    type Err = DecodeError;

    fn from_str(s: &str) -> Result<Self, DecodeError> {
        let (origin, rest) = if let Some(inner) = s.strip_prefix('[') {
            let (o, rest) = inner
                .split_once(']')
                .ok_or_else(|| DecodeError::invalid("key origin", "missing ']'"))?;
            let (fpr, path) = o.split_once('/').unwrap_or((o, ""));
            if fpr.len() != 8 || !fpr.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(DecodeError::invalid(
                    "key origin",
                    "fingerprint is not 8 hex digits",
                ));
            }
            let mut f = [0u8; 4];
            for (i, b) in f.iter_mut().enumerate() {
                *b = u8::from_str_radix(&fpr[2 * i..2 * i + 2], 16)
                    .map_err(|_| DecodeError::invalid("key origin", "bad fingerprint"))?;
            }
            let path = if path.is_empty() {
                Bip32Path::default()
            } else {
                path.parse()?
            };
            (Some((f, path)), rest)
        } else {
            (None, s)
        };
        let end = rest.find('/').unwrap_or(rest.len());
        let (xpub, suffix) = rest.split_at(end);
        if xpub.is_empty() || !xpub.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(DecodeError::invalid("key", "not a base58 xpub"));
        }
        Ok(KeyInfo {
            origin,
            xpub: xpub.into(),
            suffix: suffix.into(),
        })
    }
}

impl std::fmt::Display for KeyInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some((fpr, path)) = &self.origin {
            write!(f, "[")?;
            for b in fpr {
                write!(f, "{b:02x}")?;
            }
            let p = path.to_string();
            write!(f, "{}]", &p[1..])?;
        }
        write!(f, "{}{}", self.xpub, self.suffix)
    }
}

/// A key placeholder `@i` with its receive and change steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyPlaceholder {
    /// Key index.
    pub index: usize,
    /// Step for receive addresses.
    pub receive: u32,
    /// Step for change addresses.
    pub change: u32,
}

/// The descriptor templates the simulator understands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DescriptorTemplate {
    /// `pkh(KP)`.
    Pkh(KeyPlaceholder),
    /// `wpkh(KP)`.
    Wpkh(KeyPlaceholder),
    /// `sh(wpkh(KP))`.
    ShWpkh(KeyPlaceholder),
    /// `tr(KP)` (key path only).
    Tr(KeyPlaceholder),
    /// `sh(multi|sortedmulti)`, `wsh(...)`, `sh(wsh(...))`.
    Multisig {
        /// Script wrapping.
        wrapping: MultisigWrapping,
        /// Sorted keys (`sortedmulti`).
        sorted: bool,
        /// Threshold.
        threshold: usize,
        /// Keys.
        keys: Vec<KeyPlaceholder>,
    },
}

/// How a multisig script is wrapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MultisigWrapping {
    /// P2SH.
    Sh,
    /// P2WSH.
    Wsh,
    /// P2SH-P2WSH.
    ShWsh,
}

impl DescriptorTemplate {
    /// Parses a template. Version 1 placeholders are bare `@i` (the `/**` is on the key);
    /// version 2 ones must carry `/**` or `/<a;b>/*`.
    pub fn parse(s: &str, version: PolicyVersion) -> Result<Self, DecodeError> {
        let kp = |t: &str| parse_placeholder(t, version);
        let inner = |t: &str, f: &str| -> Option<String> {
            t.strip_prefix(f)?
                .strip_prefix('(')?
                .strip_suffix(')')
                .map(str::to_string)
        };
        if let Some(x) = inner(s, "sh") {
            if let Some(y) = inner(&x, "wpkh") {
                return Ok(Self::ShWpkh(kp(&y)?));
            }
            if let Some(y) = inner(&x, "wsh") {
                return parse_multi(&y, MultisigWrapping::ShWsh, version);
            }
            return parse_multi(&x, MultisigWrapping::Sh, version);
        }
        if let Some(x) = inner(s, "wsh") {
            return parse_multi(&x, MultisigWrapping::Wsh, version);
        }
        if let Some(x) = inner(s, "wpkh") {
            return Ok(Self::Wpkh(kp(&x)?));
        }
        if let Some(x) = inner(s, "pkh") {
            return Ok(Self::Pkh(kp(&x)?));
        }
        if let Some(x) = inner(s, "tr") {
            return Ok(Self::Tr(kp(&x)?));
        }
        Err(DecodeError::invalid(
            "descriptor template",
            format!("unsupported: {s}"),
        ))
    }

    /// The placeholders, in order of appearance.
    pub fn placeholders(&self) -> Vec<KeyPlaceholder> {
        match self {
            Self::Pkh(k) | Self::Wpkh(k) | Self::ShWpkh(k) | Self::Tr(k) => vec![*k],
            Self::Multisig { keys, .. } => keys.clone(),
        }
    }

    /// Which default policy this is, if any (single `@0` with `/**`).
    pub fn as_default(&self) -> Option<DefaultPolicy> {
        let (d, k) = match self {
            Self::Pkh(k) => (DefaultPolicy::Pkh, k),
            Self::ShWpkh(k) => (DefaultPolicy::ShWpkh, k),
            Self::Wpkh(k) => (DefaultPolicy::Wpkh, k),
            Self::Tr(k) => (DefaultPolicy::Tr, k),
            Self::Multisig { .. } => return None,
        };
        (k.index == 0 && k.receive == 0 && k.change == 1).then_some(d)
    }
}

fn parse_multi(
    s: &str,
    wrapping: MultisigWrapping,
    version: PolicyVersion,
) -> Result<DescriptorTemplate, DecodeError> {
    let (sorted, args) = if let Some(a) = s.strip_prefix("sortedmulti(") {
        (true, a)
    } else if let Some(a) = s.strip_prefix("multi(") {
        (false, a)
    } else {
        return Err(DecodeError::invalid(
            "descriptor template",
            format!("unsupported: {s}"),
        ));
    };
    let args = args
        .strip_suffix(')')
        .ok_or_else(|| DecodeError::invalid("descriptor template", "missing ')'"))?;
    let mut parts = args.split(',');
    let threshold: usize = parts
        .next()
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| DecodeError::invalid("descriptor template", "bad threshold"))?;
    let keys = parts
        .map(|p| parse_placeholder(p, version))
        .collect::<Result<Vec<_>, _>>()?;
    if threshold == 0 || threshold > keys.len() || keys.len() > 16 {
        return Err(DecodeError::invalid(
            "descriptor template",
            "bad threshold or key count",
        ));
    }
    Ok(DescriptorTemplate::Multisig {
        wrapping,
        sorted,
        threshold,
        keys,
    })
}

fn parse_placeholder(s: &str, version: PolicyVersion) -> Result<KeyPlaceholder, DecodeError> {
    let bad = || DecodeError::invalid("key placeholder", format!("{s:?}"));
    let rest = s.strip_prefix('@').ok_or_else(bad)?;
    let end = rest.find('/').unwrap_or(rest.len());
    let (num, tail) = rest.split_at(end);
    if num.is_empty() || (num.len() > 1 && num.starts_with('0')) {
        return Err(bad());
    }
    let index: usize = num.parse().map_err(|_| bad())?;
    let (receive, change) = match (version, tail) {
        (PolicyVersion::V1, "") | (PolicyVersion::V2, "/**") => (0, 1),
        (PolicyVersion::V2, t) => parse_multipath(t).ok_or_else(bad)?,
        _ => return Err(bad()),
    };
    Ok(KeyPlaceholder {
        index,
        receive,
        change,
    })
}

/// Parses `/<a;b>/*` (v2 placeholder tail or v1 key suffix; `/**` means `<0;1>`).
pub fn parse_multipath(t: &str) -> Option<(u32, u32)> {
    if t == "/**" {
        return Some((0, 1));
    }
    let inner = t.strip_prefix("/<")?.strip_suffix(">/*")?;
    let (a, b) = inner.split_once(';')?;
    let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
    (a != b && a < HARDENED && b < HARDENED).then_some((a, b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KEY: &str = "[f5acc2fd/86'/1'/0']tpubDDKYE6BREvDsSWMazgHoyQWiJwYaDDYPbCFjYxN3HFXJP5fokeiK4hwK5tTLBNEDBwrDXn8cQ4v9b2xdW62Xr5yxoQdMu1v6c7UDXYVH27U";

    #[test]
    fn golden_default_tr_policy() {
        // Values from a recorded Speculos session of LedgerHQ's client: the serialized
        // policy (GET_PREIMAGE answer) and the wallet id sent in GET_WALLET_ADDRESS.
        let key: KeyInfo = KEY.parse().unwrap();
        assert_eq!(key.to_string(), KEY);
        let p = DefaultPolicy::Tr.policy(PolicyVersion::V2, key);
        assert_eq!(
            hex::encode(p.serialize()),
            "0200097c54d8c8cd3bac81abf56463d3d3ed2efa94afd9678707fcd68a4c990a71ea6b01feacb8b161672bffec7b35f4035eceb1d9c918e2507b51d1716324b968856803"
        );
        assert_eq!(
            hex::encode(p.id()),
            "627535418bc03eeee2b62b3a0254dc0624881f8bc6fc20c4d3b2c1c4fc929893"
        );
        let h = PolicyHeader::decode(&p.serialize()).unwrap();
        assert_eq!(h.n_keys, 1);
        assert_eq!(h.template, TemplateRef::Hash(sha256(b"tr(@0/**)")));
    }

    #[test]
    fn templates() {
        let t = DescriptorTemplate::parse(
            "wsh(sortedmulti(2,@0/**,@1/**,@2/<2;3>/*))",
            PolicyVersion::V2,
        )
        .unwrap();
        let DescriptorTemplate::Multisig {
            wrapping,
            sorted,
            threshold,
            keys,
        } = &t
        else {
            panic!()
        };
        assert_eq!(
            (*wrapping, *sorted, *threshold, keys.len()),
            (MultisigWrapping::Wsh, true, 2, 3)
        );
        assert_eq!((keys[2].receive, keys[2].change), (2, 3));
        assert_eq!(
            DescriptorTemplate::parse("sh(wpkh(@0))", PolicyVersion::V1)
                .unwrap()
                .as_default(),
            Some(DefaultPolicy::ShWpkh)
        );
        assert!(DescriptorTemplate::parse("wpkh(@0)", PolicyVersion::V2).is_err());
        assert!(DescriptorTemplate::parse("sh(multi(3,@0/**,@1/**))", PolicyVersion::V2).is_err());
        assert!(DescriptorTemplate::parse("wpkh(@01/**)", PolicyVersion::V2).is_err());
        let v1: KeyInfo = "[f5acc2fd/84'/0'/0']xpubABC/**".parse().unwrap();
        assert_eq!(v1.suffix, "/**");
    }

    proptest! {
        #[test]
        fn serialization_roundtrip(name in "[ -~]{0,20}", tpl in "[ -~]{1,60}", keys in proptest::collection::vec("[a-z]{5,10}", 0..5), v1: bool) {
            let p = WalletPolicy { version: if v1 { PolicyVersion::V1 } else { PolicyVersion::V2 }, name: name.clone(), descriptor_template: tpl.clone(), keys };
            let h = PolicyHeader::decode(&p.serialize()).unwrap();
            prop_assert_eq!(h.name, name);
            prop_assert_eq!(h.template_len, tpl.len() as u64);
            prop_assert_eq!(h.keys_root, p.keys_tree().root());
        }

        #[test]
        fn garbage(b in proptest::collection::vec(any::<u8>(), 0..200), s in ".{0,80}") {
            let _ = PolicyHeader::decode(&b);
            let _ = s.parse::<KeyInfo>();
            let _ = DescriptorTemplate::parse(&s, PolicyVersion::V2);
            let _ = DescriptorTemplate::parse(&s, PolicyVersion::V1);
        }
    }
}
