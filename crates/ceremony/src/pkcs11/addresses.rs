//! The addresses a single secp256k1 key gives on each chain: what `por-attest hsm keys` lists
//! and what the ceremony compares with the manifest before it signs with an HSM key.

use bitcoin::secp256k1::PublicKey;
use bitcoin::{Address, CompressedPublicKey, NetworkKind};
use por_attest_verify::chains::{ChainFamily, Network, ScriptType};
use por_attest_verify::schemes::{evm, tron};

use super::KeyRef;

/// One address of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyAddress {
    /// The chain ticker (`BTC`, `ETH`, `TRX`).
    pub chain: &'static str,
    /// Bitcoin only: the script type.
    pub script_type: Option<ScriptType>,
    /// The address (EVM in EIP-55 checksum case).
    pub address: String,
}

/// The address of `key` for a chain family (and Bitcoin script type): Bitcoin P2PKH (of the
/// compressed key), P2SH-P2WPKH or P2WPKH; EVM; TRON. P2TR and multisig types have none: an HSM
/// key proves them with no scheme por-attest can sign through PKCS#11.
pub fn address_of(
    key: &PublicKey,
    family: ChainFamily,
    script_type: Option<ScriptType>,
    network: Network,
) -> Option<String> {
    match family {
        ChainFamily::Evm => Some(evm::to_checksum_address(&evm::evm_address_of(key))),
        ChainFamily::Tron => Some(tron::tron_address_of(key)),
        ChainFamily::Bitcoin => {
            let pk = CompressedPublicKey(*key);
            let net = network.bitcoin();
            let a = match script_type? {
                ScriptType::P2pkh => Address::p2pkh(pk, NetworkKind::from(net)),
                ScriptType::P2shP2wpkh => Address::p2shwpkh(&pk, NetworkKind::from(net)),
                ScriptType::P2wpkh => Address::p2wpkh(&pk, net),
                ScriptType::P2tr | ScriptType::P2sh | ScriptType::P2wsh | ScriptType::P2shP2wsh => {
                    return None
                }
            };
            Some(a.to_string())
        }
    }
}

/// The manifest rows `hsm keys --csv` writes for one key: Bitcoin P2WPKH and P2PKH, ETH, TRX.
pub fn key_addresses(key: &PublicKey, network: Network) -> Vec<KeyAddress> {
    [
        ("BTC", ChainFamily::Bitcoin, Some(ScriptType::P2wpkh)),
        ("BTC", ChainFamily::Bitcoin, Some(ScriptType::P2pkh)),
        ("ETH", ChainFamily::Evm, None),
        ("TRX", ChainFamily::Tron, None),
    ]
    .into_iter()
    .filter_map(|(chain, family, script_type)| {
        Some(KeyAddress {
            chain,
            script_type,
            address: address_of(key, family, script_type, network)?,
        })
    })
    .collect()
}

/// The columns of [`manifest_rows_csv`], a subset of the manifest's address CSV.
pub const KEY_ROW_COLUMNS: [&str; 6] = ["chain", "address", "script_type", "path", "signer", "key"];

/// Manifest address rows (CSV with a header of [`KEY_ROW_COLUMNS`], `path` empty) for each key:
/// the rows of [`key_addresses`], held by `signer`.
pub fn manifest_rows_csv(keys: &[(KeyRef, PublicKey)], signer: &str, network: Network) -> String {
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    w.write_record(KEY_ROW_COLUMNS).expect("write to Vec");
    for (key, public) in keys {
        for a in key_addresses(public, network) {
            let st = a.script_type.map(|t| t.to_string()).unwrap_or_default();
            w.write_record([a.chain, &a.address, &st, "", signer, &key.to_string()])
                .expect("write to Vec");
        }
    }
    String::from_utf8(w.into_inner().expect("flush Vec")).expect("CSV of UTF-8 strings")
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::secp256k1::SecretKey;
    use por_attest_verify::schemes::secp;

    /// The private key 1 (generator point): its addresses are well known.
    #[test]
    fn generator_point_addresses() {
        let mut k = [0u8; 32];
        k[31] = 1;
        let key = SecretKey::from_slice(&k).unwrap().public_key(secp());
        let rows = key_addresses(&key, Network::Mainnet);
        let got: Vec<(&str, Option<ScriptType>, &str)> = rows
            .iter()
            .map(|r| (r.chain, r.script_type, r.address.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "BTC",
                    Some(ScriptType::P2wpkh),
                    "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
                ),
                (
                    "BTC",
                    Some(ScriptType::P2pkh),
                    "1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMH"
                ),
                ("ETH", None, "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"),
                ("TRX", None, "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC"),
            ]
        );
        assert_eq!(
            address_of(
                &key,
                ChainFamily::Bitcoin,
                Some(ScriptType::P2shP2wpkh),
                Network::Mainnet
            )
            .as_deref(),
            Some("3JvL6Ymt8MVWiCNHC7oWU6nLeHNJKLZGLN")
        );
        assert_eq!(
            address_of(
                &key,
                ChainFamily::Bitcoin,
                Some(ScriptType::P2tr),
                Network::Mainnet
            ),
            None
        );
    }
}
