//! Chains, networks, script types and signature schemes: the shared vocabulary of manifests,
//! snapshots and verification.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The family of signing and address rules a chain follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChainFamily {
    /// Bitcoin: base58/bech32 addresses, legacy signed messages, BIP-322.
    Bitcoin,
    /// Ethereum and EVM chains (L2s): 0x addresses, EIP-191 personal_sign.
    Evm,
    /// TRON: base58check `T…` addresses, TIP-191 signed messages.
    Tron,
}

/// EVM chain tickers we know (Ethereum and common L2s / sidechains).
const EVM_CHAINS: &[&str] = &[
    "ETH", "ARB", "ARBITRUM", "OP", "OPTIMISM", "BASE", "POLYGON", "MATIC", "BSC", "BNB", "AVAXC",
    "LINEA", "ZKSYNC", "SCROLL", "ETC",
];

impl ChainFamily {
    /// The family of a chain ticker such as `BTC`, `ETH`, `ARB` or `TRX` (case-insensitive).
    pub fn of(chain: &str) -> Option<ChainFamily> {
        let up = chain.trim().to_ascii_uppercase();
        match up.as_str() {
            "BTC" | "BITCOIN" => Some(ChainFamily::Bitcoin),
            "TRX" | "TRON" => Some(ChainFamily::Tron),
            c if EVM_CHAINS.contains(&c) => Some(ChainFamily::Evm),
            c if c.starts_with("ETH-") || c.starts_with("EVM-") => Some(ChainFamily::Evm),
            _ => None,
        }
    }
}

/// The network an address belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    /// The main network.
    Mainnet,
    /// Bitcoin testnet (and EVM/TRON test networks).
    Testnet,
    /// Bitcoin signet.
    Signet,
    /// Bitcoin regtest.
    Regtest,
}

impl Network {
    /// The `bitcoin` crate's network for this network.
    pub fn bitcoin(self) -> bitcoin::Network {
        match self {
            Network::Mainnet => bitcoin::Network::Bitcoin,
            Network::Testnet => bitcoin::Network::Testnet,
            Network::Signet => bitcoin::Network::Signet,
            Network::Regtest => bitcoin::Network::Regtest,
        }
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Network::Mainnet => "mainnet",
            Network::Testnet => "testnet",
            Network::Signet => "signet",
            Network::Regtest => "regtest",
        })
    }
}

/// How a Bitcoin address locks its coins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub enum ScriptType {
    #[serde(rename = "p2pkh")]
    /// Pay to public key hash (`1…`).
    P2pkh,
    #[serde(rename = "p2sh-p2wpkh")]
    /// P2WPKH nested in P2SH (`3…`).
    P2shP2wpkh,
    #[serde(rename = "p2wpkh")]
    /// Native segwit v0 key hash (`bc1q…`, 20-byte program).
    P2wpkh,
    #[serde(rename = "p2tr")]
    /// Taproot (`bc1p…`).
    P2tr,
    /// Bare-script P2SH (multisig).
    #[serde(rename = "p2sh")]
    P2sh,
    #[serde(rename = "p2wsh")]
    /// Native segwit v0 script hash (multisig, 32-byte program).
    P2wsh,
    #[serde(rename = "p2sh-p2wsh")]
    /// P2WSH nested in P2SH (multisig).
    P2shP2wsh,
}

impl ScriptType {
    /// All script types, in a stable order.
    pub const ALL: [ScriptType; 7] = [
        ScriptType::P2pkh,
        ScriptType::P2shP2wpkh,
        ScriptType::P2wpkh,
        ScriptType::P2tr,
        ScriptType::P2sh,
        ScriptType::P2wsh,
        ScriptType::P2shP2wsh,
    ];

    /// The name used in manifests and snapshots.
    pub fn as_str(self) -> &'static str {
        match self {
            ScriptType::P2pkh => "p2pkh",
            ScriptType::P2shP2wpkh => "p2sh-p2wpkh",
            ScriptType::P2wpkh => "p2wpkh",
            ScriptType::P2tr => "p2tr",
            ScriptType::P2sh => "p2sh",
            ScriptType::P2wsh => "p2wsh",
            ScriptType::P2shP2wsh => "p2sh-p2wsh",
        }
    }

    /// True for the script-hash multisig types (P2SH, P2WSH, P2SH-P2WSH).
    pub fn is_multisig(self) -> bool {
        matches!(
            self,
            ScriptType::P2sh | ScriptType::P2wsh | ScriptType::P2shP2wsh
        )
    }
}

impl fmt::Display for ScriptType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ScriptType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ScriptType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| format!("unknown script type `{s}`"))
    }
}

/// The signature scheme of one signature in a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub enum Scheme {
    /// Legacy "Bitcoin Signed Message" (BIP-137 headers), 65-byte compact signature, base64.
    #[serde(rename = "bip137")]
    Bip137,
    /// BIP-322 simple signature (witness only), base64, optionally tagged `smp`.
    #[serde(rename = "bip322-simple")]
    Bip322Simple,
    /// BIP-322 full signature (the whole to_sign transaction), base64, optionally tagged `ful`.
    #[serde(rename = "bip322-full")]
    Bip322Full,
    /// EIP-191 personal_sign over the message bytes, 65 bytes r||s||v, 0x-hex.
    #[serde(rename = "eip191")]
    Eip191,
    /// TRON signed message v2 (TIP-191) over the message bytes, 0x-hex.
    #[serde(rename = "tron-tip191")]
    TronTip191,
}

impl Scheme {
    /// The name used in snapshots.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Bip137 => "bip137",
            Scheme::Bip322Simple => "bip322-simple",
            Scheme::Bip322Full => "bip322-full",
            Scheme::Eip191 => "eip191",
            Scheme::TronTip191 => "tron-tip191",
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families() {
        assert_eq!(ChainFamily::of("btc"), Some(ChainFamily::Bitcoin));
        assert_eq!(ChainFamily::of("ARB"), Some(ChainFamily::Evm));
        assert_eq!(ChainFamily::of("ETH-OPTIMISM"), Some(ChainFamily::Evm));
        assert_eq!(ChainFamily::of("TRX"), Some(ChainFamily::Tron));
        assert_eq!(ChainFamily::of("DOGE"), None);
    }

    #[test]
    fn script_type_names_round_trip() {
        for t in ScriptType::ALL {
            assert_eq!(t.as_str().parse::<ScriptType>().unwrap(), t);
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(json, format!("\"{}\"", t.as_str()));
        }
    }
}

/// A signature's scheme as a snapshot names it: one this build knows, or another name, kept
/// as written so that the entry fails with its reason (and the digest still covers it).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SchemeName {
    /// A scheme this build verifies.
    Known(Scheme),
    /// Any other name.
    Unknown(String),
}

impl SchemeName {
    /// The scheme, when known.
    pub fn known(&self) -> Option<Scheme> {
        match self {
            SchemeName::Known(s) => Some(*s),
            SchemeName::Unknown(_) => None,
        }
    }

    /// The name as written.
    pub fn as_str(&self) -> &str {
        match self {
            SchemeName::Known(s) => s.as_str(),
            SchemeName::Unknown(n) => n,
        }
    }
}

impl From<Scheme> for SchemeName {
    fn from(s: Scheme) -> Self {
        SchemeName::Known(s)
    }
}

impl PartialEq<Scheme> for SchemeName {
    fn eq(&self, other: &Scheme) -> bool {
        self.known() == Some(*other)
    }
}

impl fmt::Display for SchemeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for SchemeName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SchemeName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        let known = [
            Scheme::Bip137,
            Scheme::Bip322Simple,
            Scheme::Bip322Full,
            Scheme::Eip191,
            Scheme::TronTip191,
        ]
        .into_iter()
        .find(|s| s.as_str() == name);
        Ok(match known {
            Some(s) => SchemeName::Known(s),
            None => SchemeName::Unknown(name),
        })
    }
}
