//! Bitcoin and its forks in OKX files: legacy signed messages with each coin's own magic text,
//! single-key addresses and P2SH / P2WSH multisig with the script in the row.

use super::cashaddr::{decode_cashaddr, CashTarget};
use crate::schemes::bip137::{
    decode_bip137_signature, recover_key, signed_message_hash_with_magic,
};
use crate::schemes::{parse_multisig, Bip137Kind, SchemeError};
use bitcoin::hashes::{hash160, sha256, Hash};

/// Address and message rules of one UTXO coin.
#[derive(Debug)]
pub(crate) struct UtxoCoin {
    /// Display name.
    pub name: &'static str,
    /// The signed-message magic text (without its length byte).
    pub magic: &'static str,
    /// Base58check version prefixes of P2PKH addresses.
    pub p2pkh: &'static [&'static [u8]],
    /// Base58check version prefixes of P2SH addresses.
    pub p2sh: &'static [&'static [u8]],
    /// Bech32 human-readable part of segwit addresses, where the coin has segwit.
    pub hrp: Option<&'static str>,
}

const BTC_MAGIC: &str = "Bitcoin Signed Message:\n";

/// The UTXO coins we know, by the names OKX uses for them.
pub(crate) fn utxo_coin(name: &str) -> Option<&'static UtxoCoin> {
    static BTC: UtxoCoin = UtxoCoin {
        name: "BTC",
        magic: BTC_MAGIC,
        p2pkh: &[&[0x00]],
        p2sh: &[&[0x05]],
        hrp: Some("bc"),
    };
    // Bitcoin Cash and SV keep Bitcoin's message magic and legacy address versions.
    static BCH: UtxoCoin = UtxoCoin {
        name: "BCH",
        magic: BTC_MAGIC,
        p2pkh: &[&[0x00]],
        p2sh: &[&[0x05]],
        hrp: None,
    };
    static BSV: UtxoCoin = UtxoCoin {
        name: "BSV",
        magic: BTC_MAGIC,
        p2pkh: &[&[0x00]],
        p2sh: &[&[0x05]],
        hrp: None,
    };
    static LTC: UtxoCoin = UtxoCoin {
        name: "LTC",
        magic: "Litecoin Signed Message:\n",
        p2pkh: &[&[0x30]],
        p2sh: &[&[0x32], &[0x05]],
        hrp: Some("ltc"),
    };
    static DOGE: UtxoCoin = UtxoCoin {
        name: "DOGE",
        magic: "Dogecoin Signed Message:\n",
        p2pkh: &[&[0x1e]],
        p2sh: &[&[0x16]],
        hrp: None,
    };
    static DASH: UtxoCoin = UtxoCoin {
        name: "DASH",
        magic: "DarkCoin Signed Message:\n",
        p2pkh: &[&[0x4c]],
        p2sh: &[&[0x10]],
        hrp: None,
    };
    static ZEC: UtxoCoin = UtxoCoin {
        name: "ZEC",
        magic: "Zcash Signed Message:\n",
        p2pkh: &[&[0x1c, 0xb8]],
        p2sh: &[&[0x1c, 0xbd]],
        hrp: None,
    };
    static RVN: UtxoCoin = UtxoCoin {
        name: "RVN",
        magic: "Raven Signed Message:\n",
        p2pkh: &[&[0x3c]],
        p2sh: &[&[0x7a]],
        hrp: None,
    };
    match name {
        "BTC" | "BITCOIN" | "OMNI" => Some(&BTC),
        "BCH" | "BCHN" | "BCHA" | "BCHABC" => Some(&BCH),
        "BSV" => Some(&BSV),
        "LTC" | "LITECOIN" => Some(&LTC),
        "DOGE" | "DOGECOIN" => Some(&DOGE),
        "DASH" => Some(&DASH),
        "ZEC" | "ZCASH" => Some(&ZEC),
        "RVN" | "RAVEN" => Some(&RVN),
        _ => None,
    }
}

/// What an address commits to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    P2pkh([u8; 20]),
    P2sh([u8; 20]),
    P2wpkh([u8; 20]),
    P2wsh([u8; 32]),
    P2tr,
}

fn bad(coin: &UtxoCoin, address: &str, reason: impl Into<String>) -> SchemeError {
    SchemeError::BadAddress {
        kind: coin.name,
        address: address.to_string(),
        reason: reason.into(),
    }
}

/// Decode an address of `coin` (base58check with the coin's versions, its segwit bech32, or
/// for Bitcoin Cash a CashAddr).
pub(crate) fn decode_address(coin: &UtxoCoin, address: &str) -> Result<Target, SchemeError> {
    if let Some(hrp) = coin.hrp {
        let lower = address.to_ascii_lowercase();
        if lower.starts_with(hrp) && lower[hrp.len()..].starts_with('1') {
            let (got_hrp, version, program) = bitcoin::bech32::segwit::decode(address)
                .map_err(|e| bad(coin, address, format!("bad bech32: {e}")))?;
            if got_hrp.as_str() != hrp {
                return Err(bad(coin, address, format!("prefix must be {hrp}")));
            }
            return match (version.to_u8(), program.len()) {
                (0, 20) => Ok(Target::P2wpkh(program.try_into().expect("20 bytes"))),
                (0, 32) => Ok(Target::P2wsh(program.try_into().expect("32 bytes"))),
                (1, 32) => Ok(Target::P2tr),
                (v, n) => Err(bad(
                    coin,
                    address,
                    format!("unknown segwit v{v} program of {n} bytes"),
                )),
            };
        }
    }
    if coin.name == "BCH" && (address.contains(':') || address.len() == 42) {
        return match decode_cashaddr(address) {
            Ok(CashTarget::P2pkh(h)) => Ok(Target::P2pkh(h)),
            Ok(CashTarget::P2sh(h)) => Ok(Target::P2sh(h)),
            Err(reason) => Err(bad(coin, address, format!("bad CashAddr: {reason}"))),
        };
    }
    let payload = bitcoin::base58::decode_check(address)
        .map_err(|_| bad(coin, address, "bad base58check"))?;
    let split = |prefixes: &[&[u8]]| {
        prefixes.iter().find_map(|p| {
            payload
                .strip_prefix(*p)
                .and_then(|rest| <[u8; 20]>::try_from(rest).ok())
        })
    };
    if let Some(h) = split(coin.p2pkh) {
        return Ok(Target::P2pkh(h));
    }
    if let Some(h) = split(coin.p2sh) {
        return Ok(Target::P2sh(h));
    }
    Err(bad(
        coin,
        address,
        format!("not a {} P2PKH or P2SH address (version bytes)", coin.name),
    ))
}

/// Recover the key of a legacy signature over `msg` with `coin`'s magic: the key and the
/// header's announced kind.
fn recover(
    coin: &UtxoCoin,
    msg: &[u8],
    sig_b64: &str,
) -> Result<(bitcoin::secp256k1::PublicKey, Bip137Kind), SchemeError> {
    let (kind, recid, rs) = decode_bip137_signature(sig_b64)?;
    let key = recover_key(signed_message_hash_with_magic(coin.magic, msg), &rs, recid)?;
    Ok((key, kind))
}

fn target_name(t: &Target) -> &'static str {
    match t {
        Target::P2pkh(_) => "P2PKH",
        Target::P2sh(_) => "P2SH",
        Target::P2wpkh(_) => "P2WPKH",
        Target::P2wsh(_) => "P2WSH",
        Target::P2tr => "P2TR",
    }
}

/// A single-key address (P2PKH, P2SH-P2WPKH, P2WPKH) proven by one legacy signature. The
/// header range must fit the address type; a compressed-P2PKH header is also accepted on
/// segwit addresses (as wallets and the Ledger app produce it).
pub(crate) fn verify_single(
    coin: &UtxoCoin,
    address: &str,
    msg: &[u8],
    sig_b64: &str,
) -> Result<(), SchemeError> {
    let target = decode_address(coin, address)?;
    let (key, kind) = recover(coin, msg, sig_b64)?;
    let allowed = matches!(
        (kind, &target),
        (Bip137Kind::P2pkhUncompressed, Target::P2pkh(_))
            | (
                Bip137Kind::P2pkhCompressed,
                Target::P2pkh(_) | Target::P2sh(_) | Target::P2wpkh(_)
            )
            | (Bip137Kind::P2shP2wpkh, Target::P2sh(_))
            | (Bip137Kind::P2wpkh, Target::P2wpkh(_))
    );
    match target {
        Target::P2wsh(_) => {
            return Err(SchemeError::MalformedMultisig(
                "a P2WSH address needs its witness script in the script column".into(),
            ))
        }
        Target::P2tr => {
            return Err(SchemeError::Unsupported(format!(
                "{} P2TR address {address}: a legacy signed message cannot prove it (BIP-322 only)",
                coin.name
            )))
        }
        _ => {}
    }
    if !allowed {
        return Err(SchemeError::HeaderTypeMismatch {
            header: kind.base(),
            header_kind: kind.name(),
            address_kind: target_name(&target),
        });
    }
    let compressed = key.serialize();
    let ok = match target {
        Target::P2pkh(h) if kind == Bip137Kind::P2pkhUncompressed => {
            hash160::Hash::hash(&key.serialize_uncompressed()).to_byte_array() == h
        }
        Target::P2pkh(h) | Target::P2wpkh(h) => {
            hash160::Hash::hash(&compressed).to_byte_array() == h
        }
        Target::P2sh(h) => {
            let mut redeem = [0u8; 22];
            redeem[1] = 0x14;
            redeem[2..].copy_from_slice(hash160::Hash::hash(&compressed).as_byte_array());
            hash160::Hash::hash(&redeem).to_byte_array() == h
        }
        Target::P2wsh(_) | Target::P2tr => false,
    };
    if ok {
        Ok(())
    } else {
        Err(SchemeError::AddressMismatch {
            derived: format!("key {}", hex::encode(compressed)),
            stated: address.to_string(),
        })
    }
}

/// What a multisig row proved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MultisigProof {
    pub threshold: usize,
    pub keys: usize,
    pub signers: usize,
}

/// A P2SH, P2SH-P2WSH or P2WSH multisig address: the script (hex) must be a standard
/// multisig that hashes to the address; every signature must come from a key of the script;
/// at least the script's threshold of distinct keys must have signed.
pub(crate) fn verify_multisig_row(
    coin: &UtxoCoin,
    address: &str,
    script_hex: &str,
    msg: &[u8],
    sigs: &[&str],
) -> Result<MultisigProof, SchemeError> {
    let target = decode_address(coin, address)?;
    let script = hex::decode(script_hex.strip_prefix("0x").unwrap_or(script_hex))
        .map_err(|_| SchemeError::MalformedMultisig("script is not hex".into()))?;
    let parsed = parse_multisig(&script)?;
    let hashes_to = match target {
        Target::P2sh(h) => {
            let mut nested = [0u8; 34];
            nested[1] = 0x20;
            nested[2..].copy_from_slice(sha256::Hash::hash(&script).as_byte_array());
            (script.len() <= 520 && hash160::Hash::hash(&script).to_byte_array() == h)
                || hash160::Hash::hash(&nested).to_byte_array() == h
        }
        Target::P2wsh(h) => sha256::Hash::hash(&script).to_byte_array() == h,
        other => {
            return Err(SchemeError::AddressTypeMismatch {
                address: format!("{address} ({})", target_name(&other)),
                expected: "script-hash (P2SH / P2WSH)",
            })
        }
    };
    if !hashes_to {
        return Err(SchemeError::ScriptHashMismatch(address.to_string()));
    }
    let recovered = sigs.iter().enumerate().map(|(i, sig)| {
        recover(coin, msg, sig)
            .map(|(inner, kind)| bitcoin::PublicKey {
                compressed: kind.compressed(),
                inner,
            })
            .map_err(|e| SchemeError::Cosigner {
                index: i + 1,
                source: Box::new(e),
            })
    });
    let signers = crate::schemes::multisig::distinct_signers(&parsed, recovered)?;
    Ok(MultisigProof {
        threshold: parsed.threshold,
        keys: parsed.keys.len(),
        signers: signers.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schemes::{multisig_script, secp, sign_bip137};
    use bitcoin::secp256k1::SecretKey;

    #[test]
    fn bitcoin_magic_matches_signed_message_hash() {
        assert_eq!(
            signed_message_hash_with_magic(BTC_MAGIC, b"abc"),
            crate::schemes::signed_message_hash(b"abc")
        );
    }

    #[test]
    fn btc_single_and_multisig() {
        let sks: Vec<SecretKey> = (1..=3u8)
            .map(|i| SecretKey::from_slice(&[i; 32]).unwrap())
            .collect();
        let btc = utxo_coin("BTC").unwrap();
        let ck = bitcoin::CompressedPublicKey(sks[0].public_key(secp()));
        let addr = bitcoin::Address::p2wpkh(&ck, bitcoin::Network::Bitcoin).to_string();
        let s = sign_bip137(&sks[0], b"m", Bip137Kind::P2pkhCompressed);
        verify_single(btc, &addr, b"m", &s).unwrap();
        assert!(verify_single(btc, &addr, b"n", &s).is_err());
        // The same signature under Litecoin's magic is another message.
        let ltc_addr = {
            let (_, prog) = (0, hash160::Hash::hash(&ck.to_bytes()).to_byte_array());
            bitcoin::bech32::segwit::encode_v0(bitcoin::bech32::Hrp::parse("ltc").unwrap(), &prog)
                .unwrap()
        };
        assert!(verify_single(utxo_coin("LTC").unwrap(), &ltc_addr, b"m", &s).is_err());
        // Bitcoin Cash: Bitcoin's magic; the key's P2PKH in legacy and CashAddr spelling.
        let bch = utxo_coin("BCH").unwrap();
        let h = hash160::Hash::hash(&ck.to_bytes()).to_byte_array();
        let cash =
            super::super::cashaddr::encode_cashaddr(super::super::cashaddr::CashTarget::P2pkh(h));
        let legacy = bitcoin::Address::p2pkh(ck, bitcoin::Network::Bitcoin).to_string();
        for a in [
            cash.as_str(),
            cash.trim_start_matches("bitcoincash:"),
            legacy.as_str(),
        ] {
            verify_single(bch, a, b"m", &s).unwrap_or_else(|e| panic!("{a}: {e}"));
        }
        let other = sign_bip137(&sks[1], b"m", Bip137Kind::P2pkhCompressed);
        assert!(verify_single(bch, &cash, b"m", &other).is_err());

        let pubs: Vec<bitcoin::PublicKey> = sks
            .iter()
            .map(|k| bitcoin::PublicKey::new(k.public_key(secp())))
            .collect();
        let script = multisig_script(2, &pubs).unwrap();
        let p2wsh = bitcoin::Address::p2wsh(
            bitcoin::Script::from_bytes(&script),
            bitcoin::Network::Bitcoin,
        )
        .to_string();
        let s0 = sign_bip137(&sks[0], b"m", Bip137Kind::P2pkhCompressed);
        let s2 = sign_bip137(&sks[2], b"m", Bip137Kind::P2pkhCompressed);
        let sh = hex::encode(&script);
        let p = verify_multisig_row(btc, &p2wsh, &sh, b"m", &[&s0, &s2]).unwrap();
        assert_eq!((p.threshold, p.keys, p.signers), (2, 3, 2));
        assert!(matches!(
            verify_multisig_row(btc, &p2wsh, &sh, b"m", &[&s0, &s0]),
            Err(SchemeError::BelowThreshold { .. })
        ));
        let outsider = sign_bip137(
            &SecretKey::from_slice(&[9; 32]).unwrap(),
            b"m",
            Bip137Kind::P2pkhCompressed,
        );
        assert!(matches!(
            verify_multisig_row(btc, &p2wsh, &sh, b"m", &[&s0, &outsider]),
            Err(SchemeError::NotAMember { index: 2, .. })
        ));
        let nested = bitcoin::Address::p2shwsh(
            bitcoin::Script::from_bytes(&script),
            bitcoin::NetworkKind::Main,
        )
        .to_string();
        verify_multisig_row(btc, &nested, &sh, b"m", &[&s0, &s2]).unwrap();
        assert!(matches!(
            verify_multisig_row(btc, &addr, &sh, b"m", &[&s0, &s2]),
            Err(SchemeError::AddressTypeMismatch { .. })
        ));
    }
}
