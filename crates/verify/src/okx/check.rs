//! Per-row verification of OKX files: which rule a row falls under, and its outcome.

use super::reader::Row;
use crate::exchange::eos::check_eos;
use crate::exchange::rules::{
    failed, looks_evm, rule_of_name, verify_evm_forms, verify_tron_forms, EdChain, EvmForm, Rule,
    TronForm,
};
use crate::exchange::utxo::{verify_multisig_row, verify_single, UtxoCoin};
use crate::report::{Failure, FailureCode as C, Outcome};
use crate::schemes::ed25519::{
    aptos_auth_key, cardano_key_hash, cardano_payment_key_hash, parse_ed25519_key,
    parse_hex_account, parse_ss58, solana_address, sui_address, verify_okx_ed25519,
};
use crate::schemes::ton::{format_ton_address, parse_ton_address, ton_wallet_of, TonWallet};
use crate::schemes::{parse_evm_address, SchemeError};

/// The rule of a row: by its network column, else by the coin's suffix (`USDT-TRC20`), its
/// base (`TONCOIN-NEW`) or its whole name; a bare token name with a 0x address is EVM.
pub(crate) fn rule_of(row: &Row) -> Rule {
    let coin = row.coin.trim();
    let (base, suffix) = match coin.rsplit_once('-') {
        Some((b, s)) => (b.split('-').next().unwrap_or(b), s),
        None => (coin, ""),
    };
    for name in [row.network.as_str(), suffix, coin, base] {
        if let Some(r) = rule_of_name(name) {
            return r;
        }
    }
    if looks_evm(&row.address) {
        return Rule::Evm;
    }
    Rule::Unsupported(format!(
        "coin {coin}{}: no verification rule known",
        if row.network.is_empty() {
            String::new()
        } else {
            format!(" on network {}", row.network)
        }
    ))
}

/// The label a row is counted under in the report: its coin, plus its network where that
/// says something the coin does not (`USDT/ETH`).
pub(crate) fn label_of(row: &Row) -> String {
    let coin = row.coin.trim();
    let net = row.network.trim();
    if net.is_empty()
        || net.eq_ignore_ascii_case(coin)
        || coin
            .to_ascii_uppercase()
            .ends_with(&format!("-{}", net.to_ascii_uppercase()))
    {
        coin.to_string()
    } else {
        format!("{coin}/{net}")
    }
}

/// Checks one row: exactly one of verified, failed (why) or unsupported (what).
pub(crate) fn check_row(row: &Row) -> Outcome {
    if row.sig1.is_empty() {
        return Outcome::failed(C::NoSignature, "no signature in the first signature column");
    }
    let msg = row.message.as_bytes();
    match rule_of(row) {
        Rule::Unsupported(why) => Outcome::Unsupported(why),
        Rule::Utxo(coin) => check_utxo(coin, row, msg),
        Rule::Evm => check_evm(row, msg),
        Rule::Tron => match tron(&row.address, msg, &row.sig1) {
            Ok(()) if row.sig2.is_empty() => Outcome::Verified,
            Ok(()) => match tron(&row.address, msg, &row.sig2) {
                Ok(()) => Outcome::Verified,
                Err(e) => Outcome::Failed(Failure::from(e).context("signature2")),
            },
            Err(e) => failed(e),
        },
        Rule::Ed25519(chain) => check_ed25519(chain, row, msg),
        Rule::Eos => check_eos(&row.address, &row.script, msg, &row.sig1),
    }
}

fn check_utxo(coin: &UtxoCoin, row: &Row, msg: &[u8]) -> Outcome {
    if row.script.is_empty() {
        // Single key: signature1 is the address's key. OKX's single-key rows also carry a
        // constant signature2 from another key; it proves nothing about this address and is
        // not checked (see docs/okx.md).
        return match verify_single(coin, &row.address, msg, &row.sig1) {
            Ok(()) => Outcome::Verified,
            Err(e) => failed(e),
        };
    }
    let mut sigs = vec![row.sig1.as_str()];
    if !row.sig2.is_empty() {
        sigs.push(row.sig2.as_str());
    }
    match verify_multisig_row(coin, &row.address, &row.script, msg, &sigs) {
        Ok(_) => Outcome::Verified,
        Err(e) => failed(e),
    }
}

/// OKX's EVM forms, its main one first: personal_sign over keccak256 of the text, plain
/// EIP-191 over the text, or its OKC-family framed form.
const OKX_EVM: &[EvmForm] = &[
    EvmForm::Eip191Keccak,
    EvmForm::Eip191Text,
    EvmForm::OkxFramed,
];

/// OKX's TRON forms: its older one (v1 header over keccak256 of the text), TIP-191 v2.
const OKX_TRON: &[TronForm] = &[TronForm::Keccak, TronForm::V2Text];

fn evm(address: &str, msg: &[u8], sig: &str) -> Result<(), SchemeError> {
    verify_evm_forms(OKX_EVM, address, msg, sig).map(|_| ())
}

fn tron(address: &str, msg: &[u8], sig: &str) -> Result<(), SchemeError> {
    verify_tron_forms(OKX_TRON, address, msg, sig).map(|_| ())
}

fn check_evm(row: &Row, msg: &[u8]) -> Outcome {
    if row.eoa1.is_empty() && row.eoa2.is_empty() {
        // An externally owned account: the signature recovers to the address itself.
        if let Err(e) = evm(&row.address, msg, &row.sig1) {
            return failed(e);
        }
        if !row.sig2.is_empty() {
            if let Err(e) = evm(&row.address, msg, &row.sig2) {
                return Outcome::Failed(Failure::from(e).context("signature2"));
            }
        }
        return Outcome::Verified;
    }
    // A contract wallet or staking address with owner EOAs: each owner's signature is
    // checked against that owner. Which owners control the address (Safe owners, validator
    // withdrawal credentials) is on-chain state, so the address itself stays unproven.
    let mut owners = Vec::new();
    for (i, (eoa, sig)) in [(&row.eoa1, &row.sig1), (&row.eoa2, &row.sig2)]
        .into_iter()
        .enumerate()
    {
        if eoa.is_empty() {
            if !sig.is_empty() && i > 0 {
                return Outcome::failed(
                    C::InvalidField,
                    format!(
                        "signature{} has no owner address (eoa{}) to check it against",
                        i + 1,
                        i + 1
                    ),
                );
            }
            continue;
        }
        if sig.is_empty() {
            return Outcome::failed(
                C::NoSignature,
                format!("owner eoa{} {eoa} has no signature", i + 1),
            );
        }
        if let Err(e) = evm(eoa, msg, sig) {
            return Outcome::Failed(
                Failure::from(e).context(format_args!("owner eoa{} {eoa}", i + 1)),
            );
        }
        owners.push(eoa.as_str());
    }
    let what = if row.kind.is_empty() || row.kind.eq_ignore_ascii_case("Non Staking") {
        "contract wallet".to_string()
    } else {
        format!("{} address", row.kind)
    };
    let address_ok = {
        let h = row.address.strip_prefix("0x").unwrap_or("");
        looks_evm(&row.address) && parse_evm_address(&row.address).is_ok()
            || (h.len() == 96 && h.bytes().all(|c| c.is_ascii_hexdigit()))
    };
    if !address_ok {
        return Outcome::failed(
            C::InvalidAddress,
            format!(
                "{what}: `{}` is neither an EVM address nor a validator key",
                row.address
            ),
        );
    }
    Outcome::Unsupported(format!(
        "{what}: owner signature{} valid for {}, but that {} control{} {} is on-chain state, \
         not checked offline (address not bound)",
        if owners.len() == 1 { "" } else { "s" },
        owners.join(", "),
        if owners.len() == 1 { "it" } else { "they" },
        if owners.len() == 1 { "s" } else { "" },
        row.address
    ))
}

fn check_ed25519(chain: EdChain, row: &Row, msg: &[u8]) -> Outcome {
    if row.script.is_empty() {
        return Outcome::failed(
            C::InvalidPublicKey,
            "no public key in the public-key column",
        );
    }
    let key = match parse_ed25519_key(&row.script) {
        Ok(k) => k,
        Err(e) => return Outcome::failed(C::InvalidPublicKey, format!("public key: {e}")),
    };
    if let Err(e) = verify_okx_ed25519(&key, msg, &row.sig1) {
        return failed(e);
    }
    let key_hex = hex::encode(key.as_bytes());
    let mismatch = |derived: String| {
        Outcome::failed(
            C::WrongKey,
            format!(
            "signature valid for key {key_hex}, but that key gives {derived}, not the stated address {}",
            row.address
        ))
    };
    match chain {
        EdChain::Sol => {
            let derived = solana_address(&key);
            if derived == row.address {
                Outcome::Verified
            } else {
                mismatch(derived)
            }
        }
        EdChain::Sui => match parse_hex_account(&row.address, "Sui") {
            Ok(a) if a == sui_address(&key) => Outcome::Verified,
            Ok(_) => mismatch(format!("0x{}", hex::encode(sui_address(&key)))),
            Err(e) => failed(e),
        },
        EdChain::Dot => match parse_ss58(&row.address) {
            Ok((0, k)) if k == *key.as_bytes() => Outcome::Verified,
            Ok((0, k)) => mismatch(format!("the key {} in the address", hex::encode(k))),
            Ok((p, _)) => Outcome::failed(
                C::NetworkMismatch,
                format!(
                    "{} is an SS58 address for network {p}, not Polkadot (0)",
                    row.address
                ),
            ),
            Err(e) => failed(e),
        },
        EdChain::Ada => match cardano_payment_key_hash(&row.address) {
            Ok(h) if h == cardano_key_hash(&key) => Outcome::Verified,
            Ok(h) => mismatch(format!("payment key hash {}", hex::encode(h))),
            Err(e) => failed(e),
        },
        EdChain::Aptos => check_aptos(row, &key_hex, aptos_auth_key(&key)),
        EdChain::Ton => check_ton(row, key.as_bytes(), &key_hex),
        EdChain::Algo => Outcome::Unsupported(
            "ALGO: OKX's Algorand signing form is not known to this build".into(),
        ),
    }
}

/// TON: the address must be the basechain address of a v3r2 or highload v3 wallet of the key
/// (the wallets OKX's own verifier accepts), in any spelling, on mainnet.
fn check_ton(row: &Row, key: &[u8; 32], key_hex: &str) -> Outcome {
    let address = match parse_ton_address(&row.address) {
        Ok(a) => a,
        Err(e) => return failed(e),
    };
    if address.testnet {
        return Outcome::failed(
            C::NetworkMismatch,
            format!(
                "{} is flagged testnet-only; a reserve address is on mainnet",
                row.address
            ),
        );
    }
    if ton_wallet_of(key, &address).is_some() {
        return Outcome::Verified;
    }
    let derived: Vec<String> = TonWallet::ALL
        .iter()
        .map(|w| {
            format!(
                "{} {}",
                w.name(),
                format_ton_address(&w.account_hash(key), address.bounceable.unwrap_or(true))
            )
        })
        .collect();
    Outcome::failed(
        C::WrongKey,
        format!(
            "signature valid for key {key_hex}, but that key's wallets are {}, not the stated \
         address {}",
            derived.join(" and "),
            row.address
        ),
    )
}

/// APTOS: the address must be the key's authentication key, unless the row is in OKX's
/// owner-key mode (the key was rotated into an older account): then `eoa1` must be the key's
/// authentication key, and the account ↔ key link is on-chain state (unsupported here).
fn check_aptos(row: &Row, key_hex: &str, auth: [u8; 32]) -> Outcome {
    let address = match parse_hex_account(&row.address, "Aptos") {
        Ok(a) => a,
        Err(e) => return failed(e),
    };
    let auth_hex = format!("0x{}", hex::encode(auth));
    if address == auth {
        return Outcome::Verified;
    }
    if row.eoa1.is_empty() {
        return Outcome::failed(
            C::WrongKey,
            format!(
            "signature valid for key {key_hex}, whose authentication key is {auth_hex}, not the \
             stated address {}",
            row.address
        ),
        );
    }
    match parse_hex_account(&row.eoa1, "Aptos") {
        Ok(owner) if owner == auth => {
            let placeholder = if row.address[2..]
                .to_ascii_lowercase()
                .starts_with("deadbeef")
            {
                " (a placeholder)"
            } else {
                ""
            };
            Outcome::Unsupported(format!(
                "APTOS owner-key mode: signature valid for key {key_hex}, whose authentication \
                 key {auth_hex} is eoa1; that account {}{placeholder} has this authentication \
                 key (after a key rotation) is on-chain state, not checked offline: address not \
                 bound",
                row.address
            ))
        }
        Ok(_) => Outcome::failed(
            C::WrongKey,
            format!(
                "APTOS owner-key mode: eoa1 {} is not the key's authentication key {auth_hex}",
                row.eoa1
            ),
        ),
        Err(e) => Outcome::Failed(Failure::from(e).context("eoa1")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::hashes::Hash;

    fn row(coin: &str, network: &str, address: &str) -> Row {
        Row {
            coin: coin.into(),
            network: network.into(),
            address: address.into(),
            ..Row::default()
        }
    }

    #[test]
    fn rules_by_network_and_coin() {
        let r = |c, n, a| rule_of(&row(c, n, a));
        assert!(matches!(r("USDT-TRC20", "", "T"), Rule::Tron));
        assert!(matches!(r("ETH-ARBITRUM", "", "0x"), Rule::Evm));
        assert!(matches!(r("USDT", "ETH", "0x"), Rule::Evm));
        assert!(matches!(r("ETC", "OKC", "0x"), Rule::Evm));
        assert!(matches!(
            r("USDT-TON", "TON", "UQ"),
            Rule::Ed25519(EdChain::Ton)
        ));
        assert!(matches!(
            r("TONCOIN-NEW", "", "UQ"),
            Rule::Ed25519(EdChain::Ton)
        ));
        assert!(matches!(r("USDT-OMNI", "", "1"), Rule::Utxo(c) if c.name == "BTC"));
        assert!(matches!(r("DOGE", "DOGE", "A"), Rule::Utxo(c) if c.name == "DOGE"));
        assert!(matches!(r("ETH", "STARKNET", "0x"), Rule::Unsupported(_)));
        assert!(matches!(r("EOS", "Vaulta", "okb"), Rule::Eos));
        assert!(matches!(
            r("SHIB", "", "0x0000000000000000000000000000000000000001"),
            Rule::Evm
        ));
        assert!(matches!(r("FOO", "", "xyz"), Rule::Unsupported(_)));
    }

    #[test]
    fn btc_single_key_ignores_the_constant_signature2() {
        use crate::schemes::{secp, sign_bip137, Bip137Kind};
        use bitcoin::secp256k1::SecretKey;
        let sk = SecretKey::from_slice(&[5; 32]).unwrap();
        let other = SecretKey::from_slice(&[6; 32]).unwrap();
        let ck = bitcoin::CompressedPublicKey(sk.public_key(secp()));
        let mut r = row(
            "BTC",
            "",
            &bitcoin::Address::p2pkh(ck, bitcoin::NetworkKind::Main).to_string(),
        );
        r.message = "I am an OKX address".into();
        r.sig1 = sign_bip137(&sk, r.message.as_bytes(), Bip137Kind::P2pkhCompressed);
        r.sig2 = sign_bip137(&other, r.message.as_bytes(), Bip137Kind::P2pkhCompressed);
        assert_eq!(check_row(&r), Outcome::Verified);
        // signature2 alone never proves the address.
        let mut swapped = r.clone();
        swapped.sig1 = r.sig2.clone();
        assert!(matches!(check_row(&swapped), Outcome::Failed(_)));
        // Litecoin's magic: the Bitcoin-signed text does not verify as LTC.
        let mut ltc = r.clone();
        ltc.coin = "LTC".into();
        let mut payload = vec![0x30];
        payload.extend_from_slice(&bitcoin::hashes::hash160::Hash::hash(&ck.to_bytes())[..]);
        ltc.address = bitcoin::base58::encode_check(&payload);
        assert!(matches!(check_row(&ltc), Outcome::Failed(_)));
    }

    #[test]
    fn ed25519_sol_and_sui_bind_the_address() {
        use crate::schemes::ed25519::{sign_okx_ed25519, sui_address};
        let (key, sig) = sign_okx_ed25519(&[3; 32], b"I am an OKX address");
        let vk = parse_ed25519_key(&key).unwrap();
        let mut r = row("SOL", "SOL", &solana_address(&vk));
        r.message = "I am an OKX address".into();
        r.sig1 = sig;
        r.script = key;
        assert_eq!(check_row(&r), Outcome::Verified);
        let mut wrong = r.clone();
        let (other_key, _) = sign_okx_ed25519(&[4; 32], b"x");
        wrong.address = solana_address(&parse_ed25519_key(&other_key).unwrap());
        assert!(matches!(check_row(&wrong), Outcome::Failed(_)));
        let mut sui = r.clone();
        sui.coin = "SUI".into();
        sui.network = "SUI".into();
        sui.address = format!("0x{}", hex::encode(sui_address(&vk)));
        assert_eq!(check_row(&sui), Outcome::Verified);
        sui.message.push('!');
        assert!(matches!(check_row(&sui), Outcome::Failed(_)));
        let mut apt = r.clone();
        apt.coin = "APTOS".into();
        apt.network = "APTOS".into();
        apt.address = format!("0x{}", hex::encode(aptos_auth_key(&vk)));
        assert_eq!(check_row(&apt), Outcome::Verified);
        apt.address = format!("0x{}", "de".repeat(32));
        assert!(
            matches!(check_row(&apt), Outcome::Failed(_)),
            "no owner: not bound, failed"
        );
    }

    #[test]
    fn ton_binds_the_v3r2_and_highload_v3_wallets_of_the_key() {
        use crate::schemes::ed25519::sign_okx_ed25519;
        let (key, sig) = sign_okx_ed25519(&[5; 32], b"I am an OKX address");
        let k = parse_ed25519_key(&key).unwrap().to_bytes();
        let mut r = row("TONCOIN", "TON", "");
        r.message = "I am an OKX address".into();
        r.sig1 = sig;
        r.script = key.clone();
        for w in TonWallet::ALL {
            for bounce in [true, false] {
                r.address = format_ton_address(&w.account_hash(&k), bounce);
                assert_eq!(check_row(&r), Outcome::Verified, "{w:?} {bounce}");
            }
        }
        // A testnet-flagged spelling of the same account.
        let mut raw = base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE,
            format_ton_address(&TonWallet::V3R2.account_hash(&k), true),
        )
        .unwrap();
        raw[0] |= 0x80;
        let crc = crate::schemes::ton::crc16_xmodem(&raw[..34]);
        raw[34..].copy_from_slice(&crc.to_be_bytes());
        r.address = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE, &raw);
        assert!(
            matches!(check_row(&r), Outcome::Failed(f) if f.reason.contains("testnet") && f.code == C::NetworkMismatch)
        );
        // Another key's wallet: failed, naming this key's wallets.
        let (other, _) = sign_okx_ed25519(&[6; 32], b"x");
        let other = parse_ed25519_key(&other).unwrap().to_bytes();
        r.address = format_ton_address(&TonWallet::V3R2.account_hash(&other), false);
        let Outcome::Failed(m) = check_row(&r) else {
            panic!("another key's wallet must fail")
        };
        let mine = format_ton_address(&TonWallet::HighloadV3.account_hash(&k), false);
        assert!(
            m.reason.contains(&mine) && m.reason.contains("highload wallet v3"),
            "{m}"
        );
        assert_eq!(m.code, C::WrongKey);
    }

    #[test]
    fn labels() {
        assert_eq!(label_of(&row("ETH", "ETH", "")), "ETH");
        assert_eq!(label_of(&row("USDT-TON", "TON", "")), "USDT-TON");
        assert_eq!(label_of(&row("USDT", "ETH", "")), "USDT/ETH");
        assert_eq!(label_of(&row("BTC", "", "")), "BTC");
    }
}
