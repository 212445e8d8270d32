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

/// Checks an address's form: `Ok` or why not.
pub type ParseAddress = fn(&str) -> Result<(), crate::schemes::SchemeError>;

/// Verifies a message signature for an address: `(address, message, signature)`.
pub type VerifyMessage = fn(&str, &[u8], &str) -> Result<(), crate::schemes::SchemeError>;

/// The 32-byte digest a message signature of the family signs (what a signer that signs
/// digests, such as an HSM, is given).
pub type MessageHash = fn(&[u8]) -> [u8; 32];

/// What por-attest knows of one chain family, in one place: the ceremony, the verifier, the
/// manifest, the export and the synthetic data read this table instead of matching on the
/// family. Adding a family is a row here, its scheme module and its device driver.
#[derive(Debug)]
pub struct FamilyInfo {
    /// The family.
    pub family: ChainFamily,
    /// How messages name the family (`EVM`, `TRON`, ...).
    pub name: &'static str,
    /// The chain tickers of the family, upper case (the first is the family's own chain).
    pub tickers: &'static [&'static str],
    /// Ticker prefixes that also belong to the family (`ETH-OPTIMISM`, `EVM-…`).
    pub ticker_prefixes: &'static [&'static str],
    /// The Ledger app that holds the family's keys.
    pub ledger_app: &'static str,
    /// SLIP-44 coin type of the family's standard paths `m/44'/coin'/…` (Bitcoin's script
    /// types have their own purposes; mainnet's coin type is given).
    pub coin_type: u32,
    /// The scheme of the family's message signatures (what per-address entries carry and OKX's
    /// columns export).
    pub message_scheme: Scheme,
    /// Addresses are the same whatever their letter case (EVM: the case is only a checksum).
    pub case_insensitive_addresses: bool,
    /// Account-model families: checks an address's form (Bitcoin's depends on the network and
    /// script type, and is checked with them).
    pub parse_address: Option<ParseAddress>,
    /// Account-model families: verifies a message signature (the message scheme) for an
    /// address.
    pub verify_message: Option<VerifyMessage>,
    /// The digest the message scheme signs: Bitcoin's legacy signed-message hash, EIP-191,
    /// TIP-191.
    pub message_hash: MessageHash,
    /// Decimals of the chain's native asset: a balance in the main unit (BTC, ETH, TRX) has
    /// at most this many digits after the point (satoshi, wei, sun).
    pub decimals: u32,
}

/// Every chain family, in the order a ceremony signs them (one app switch per family).
pub static FAMILIES: [FamilyInfo; 3] = [
    FamilyInfo {
        family: ChainFamily::Bitcoin,
        name: "Bitcoin",
        tickers: &["BTC", "BITCOIN"],
        ticker_prefixes: &[],
        ledger_app: "Bitcoin",
        coin_type: 0,
        message_scheme: Scheme::Bip137,
        case_insensitive_addresses: false,
        parse_address: None,
        verify_message: None,
        message_hash: crate::schemes::bip137::signed_message_hash,
        decimals: 8,
    },
    FamilyInfo {
        family: ChainFamily::Evm,
        name: "EVM",
        // Ethereum and common L2s / sidechains.
        tickers: &[
            "ETH", "ARB", "ARBITRUM", "OP", "OPTIMISM", "BASE", "POLYGON", "MATIC", "BSC", "BNB",
            "AVAXC", "LINEA", "ZKSYNC", "SCROLL", "ETC",
        ],
        ticker_prefixes: &["ETH-", "EVM-"],
        ledger_app: "Ethereum",
        coin_type: 60,
        message_scheme: Scheme::Eip191,
        case_insensitive_addresses: true,
        parse_address: Some(|a| crate::schemes::evm::parse_evm_address(a).map(|_| ())),
        verify_message: Some(crate::schemes::evm::verify_eip191),
        message_hash: crate::schemes::evm::eip191_hash,
        decimals: 18,
    },
    FamilyInfo {
        family: ChainFamily::Tron,
        name: "TRON",
        tickers: &["TRX", "TRON"],
        ticker_prefixes: &[],
        ledger_app: "Tron",
        coin_type: 195,
        message_scheme: Scheme::TronTip191,
        case_insensitive_addresses: false,
        parse_address: Some(|a| crate::schemes::tron::parse_tron_address(a).map(|_| ())),
        verify_message: Some(|a, m, s| {
            crate::schemes::tron::verify_tron(a, m, s, crate::schemes::tron::TronVersion::V2)
        }),
        message_hash: |m| {
            crate::schemes::tron::tron_message_hash(m, crate::schemes::tron::TronVersion::V2)
        },
        decimals: 6,
    },
];

/// Assets other than a family's native one that exchange files list, with their decimals (the
/// precision a stated amount may have): the base of a coin label such as `USDT-TRC20` or
/// `ETH-OPTIMISM` is looked up here. Tokens keep the decimals of their main deployment.
pub static ASSETS: &[(&str, u32)] = &[
    ("BTC", 8),
    ("ETH", 18),
    ("TRX", 6),
    ("USDT", 6),
    ("USDC", 6),
    ("DAI", 18),
    ("WBTC", 8),
];

/// The decimals of an asset or exchange coin label (`BTC`, `USDT-ERC20`, `ETH-ARBITRUM`,
/// case-insensitive): the [`ASSETS`] row of its base, else the native decimals of the family
/// its whole label names; `None` when neither is known (no precision check then).
pub fn asset_decimals(label: &str) -> Option<u32> {
    let up = label.trim().to_ascii_uppercase();
    let base = up.split(['-', '/']).next().unwrap_or(&up);
    ASSETS
        .iter()
        .find(|(s, _)| *s == base)
        .map(|(_, d)| *d)
        .or_else(|| ChainFamily::of(&up).map(|f| f.info().decimals))
}

impl ChainFamily {
    /// The family of a chain ticker such as `BTC`, `ETH`, `ARB` or `TRX` (case-insensitive).
    pub fn of(chain: &str) -> Option<ChainFamily> {
        let up = chain.trim().to_ascii_uppercase();
        FAMILIES
            .iter()
            .find(|f| {
                f.tickers.contains(&up.as_str())
                    || f.ticker_prefixes.iter().any(|p| up.starts_with(p))
            })
            .map(|f| f.family)
    }

    /// The family's row of [`FAMILIES`].
    pub fn info(self) -> &'static FamilyInfo {
        FAMILIES
            .iter()
            .find(|f| f.family == self)
            .expect("every family has its row")
    }

    /// Where the family comes in a ceremony's order of signing.
    pub fn signing_order(self) -> usize {
        FAMILIES
            .iter()
            .position(|f| f.family == self)
            .expect("every family has its row")
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
    /// One cosigner's partial signature of a BIP-322 `to_sign` (DER + sighash byte, hex), as
    /// a journal holds it until `package` finalizes the witness; never a proof on its own.
    #[serde(rename = "bip322-partial")]
    Bip322Partial,
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
            Scheme::Bip322Partial => "bip322-partial",
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
    fn every_family_has_one_row() {
        for f in [ChainFamily::Bitcoin, ChainFamily::Evm, ChainFamily::Tron] {
            assert_eq!(f.info().family, f);
            assert_eq!(ChainFamily::of(f.info().tickers[0]), Some(f));
            assert_eq!(FAMILIES.iter().filter(|r| r.family == f).count(), 1);
            // Account-model families check addresses and messages through the table.
            assert_eq!(f.info().parse_address.is_some(), f != ChainFamily::Bitcoin);
            assert_eq!(f.info().verify_message.is_some(), f != ChainFamily::Bitcoin);
        }
    }

    #[test]
    fn asset_precision() {
        assert_eq!(asset_decimals("BTC"), Some(8));
        assert_eq!(asset_decimals("usdt-erc20"), Some(6));
        assert_eq!(asset_decimals("ETH-OPTIMISM"), Some(18));
        assert_eq!(asset_decimals("USDT/ETH"), Some(6));
        assert_eq!(
            asset_decimals("ARB"),
            Some(18),
            "an EVM chain's native asset"
        );
        assert_eq!(asset_decimals("TRON"), Some(6));
        assert_eq!(asset_decimals("DOGE"), None);
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
            Scheme::Bip322Partial,
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
