//! Per-row verification of HTX files: HTX's coin table mapped onto the shared rules, and the
//! signing forms HTX's rows use.

use super::reader::HtxRow;
use crate::exchange::rules::{
    failed, looks_evm, rule_of_name, verify_evm_forms, verify_tron_forms, EdChain, EvmForm, Rule,
    TronForm,
};
use crate::exchange::utxo::{utxo_coin, verify_single};
use crate::report::Outcome;
use crate::schemes::ed25519::{
    parse_algorand_address, parse_solana_address, verify_ed25519_base64,
};

/// The chain families of HTX's coin table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Btc,
    Evm,
    Tron,
    Sol,
    Algo,
    Xrp,
    Doge,
}

/// One coin of HTX's table: its name as the files spell it, its family, and the chain its
/// balance is held on (as `--node` names chains) with the asset (the chain's own ticker for
/// its native coin).
struct HtxCoin {
    name: &'static str,
    family: Family,
    chain: &'static str,
    asset: &'static str,
}

const fn coin(
    name: &'static str,
    family: Family,
    chain: &'static str,
    asset: &'static str,
) -> HtxCoin {
    HtxCoin {
        name,
        family,
        chain,
        asset,
    }
}

/// HTX's coins (the names its files use) and the chain each one is held on, as HTX's own
/// verifier maps them; `USDT-BEP20` (published unsigned, missing from HTX's table) added.
const HTX_COINS: &[HtxCoin] = &[
    coin("BTC", Family::Btc, "BTC", "BTC"),
    coin("USDT-Omni", Family::Btc, "BTC", "USDT"),
    coin("ETH", Family::Evm, "ETH", "ETH"),
    coin("BETH", Family::Evm, "ETH", "BETH"),
    coin("HT-ETH", Family::Evm, "ETH", "HT"),
    coin("ETH-Arbitrum", Family::Evm, "ARB", "ETH"),
    coin("ETH-Optimism", Family::Evm, "OP", "ETH"),
    coin("USDT-Avalanche C-Chain", Family::Evm, "AVAX", "USDT"),
    coin("USDT-ETH", Family::Evm, "ETH", "USDT"),
    coin("USDT-BTTC", Family::Evm, "BTTC", "USDT"),
    coin("ETH-BTTC", Family::Evm, "BTTC", "ETH"),
    coin("BETH-Heco", Family::Evm, "HECO", "BETH"),
    coin("stETH", Family::Evm, "ETH", "STETH"),
    coin("baseETH", Family::Evm, "BASE", "ETH"),
    coin("USDT-aEthUSDT", Family::Evm, "ETH", "AETHUSDT"),
    coin("HTX-ERC20", Family::Evm, "ETH", "HTX"),
    coin("aETH", Family::Evm, "ETH", "AETH"),
    coin("TRX-ERC20", Family::Evm, "ETH", "TRX"),
    coin("BBTC-ERC20", Family::Evm, "ETH", "BBTC"),
    coin("WBTC-ERC20", Family::Evm, "ETH", "WBTC"),
    coin("WLFI", Family::Evm, "ETH", "WLFI"),
    coin("USDT-XPL", Family::Evm, "XPL", "USDT"),
    coin("ERC20-USDC", Family::Evm, "ETH", "USDC"),
    coin("STEAK-USDC", Family::Evm, "ETH", "STEAKUSDC"),
    coin("BEP20-USDC", Family::Evm, "BSC", "USDC"),
    coin("ERC20-AETHUSDC", Family::Evm, "ETH", "AETHUSDC"),
    coin("BASE-USDC", Family::Evm, "BASE", "USDC"),
    coin("USDT-BEP20", Family::Evm, "BSC", "USDT"),
    coin("TRX", Family::Tron, "TRX", "TRX"),
    coin("USDT-TRC20", Family::Tron, "TRX", "USDT"),
    coin("BTC-TRC20", Family::Tron, "TRX", "BTC"),
    coin("stUSDT-TRC20", Family::Tron, "TRX", "STUSDT"),
    coin("HTX-TRC20", Family::Tron, "TRX", "HTX"),
    coin("jsTRX", Family::Tron, "TRX", "JSTRX"),
    coin("jUSDT-TRC20", Family::Tron, "TRX", "JUSDT"),
    coin("jWBTC-TRC20", Family::Tron, "TRX", "JWBTC"),
    coin("SOL", Family::Sol, "SOL", "SOL"),
    coin("USDT-SOL", Family::Sol, "SOL", "USDT"),
    coin("TRX-sol", Family::Sol, "SOL", "TRX"),
    coin("USDC-SOL", Family::Sol, "SOL", "USDC"),
    coin("XRP", Family::Xrp, "XRP", "XRP"),
    coin("DOGE", Family::Doge, "DOGE", "DOGE"),
    coin("USDT-ALGO", Family::Algo, "ALGO", "USDT"),
];

/// HTX's EVM forms, in the order its verifier tries them: ECDSA directly over
/// keccak256(text) (`ecrecover`), then EIP-191 `personal_sign` over the text.
pub(crate) const HTX_EVM: &[EvmForm] = &[EvmForm::Keccak, EvmForm::Eip191Text];

/// HTX's TRON forms, in its verifier's order: the v1 header over the text itself, then the
/// v1 header over keccak256(text).
pub(crate) const HTX_TRON: &[TronForm] = &[TronForm::V1Text, TronForm::Keccak];

fn table_coin(coin: &str) -> Option<&'static HtxCoin> {
    HTX_COINS
        .iter()
        .find(|c| c.name.eq_ignore_ascii_case(coin.trim()))
}

/// The chain a row's balance is held on (as `--node` names chains, upper case) and its asset:
/// from HTX's coin table (`USDT-ETH`: USDT on ETH; `ETH-Arbitrum`: ether on ARB), else as
/// exchanges' labels read (`X-ERC20`: X on ETH, `X-TRC20`: X on TRX), else the coin itself.
pub(crate) fn chain_and_asset(coin: &str) -> (String, String) {
    if let Some(c) = table_coin(coin) {
        return (c.chain.to_string(), c.asset.to_string());
    }
    let up = coin.trim().to_ascii_uppercase();
    match up.rsplit_once('-') {
        Some((asset, "ERC20")) => ("ETH".into(), asset.to_string()),
        Some((asset, "TRC20")) => ("TRX".into(), asset.to_string()),
        Some((asset, "BEP20")) => ("BSC".into(), asset.to_string()),
        _ => (up.clone(), up),
    }
}

/// The rule of a row: HTX's coin table (case-insensitive), else the coin's suffix, whole
/// name or base as any exchange names chains, else EVM for a `0x` + 40-hex address.
pub(crate) fn rule_of(row: &HtxRow) -> Rule {
    let coin = row.coin.trim();
    if let Some(c) = table_coin(coin) {
        return match c.family {
            Family::Btc => Rule::Utxo(utxo_coin("BTC").expect("BTC is a UTXO coin")),
            Family::Doge => Rule::Utxo(utxo_coin("DOGE").expect("DOGE is a UTXO coin")),
            Family::Evm => Rule::Evm,
            Family::Tron => Rule::Tron,
            Family::Sol => Rule::Ed25519(EdChain::Sol),
            Family::Algo => Rule::Ed25519(EdChain::Algo),
            Family::Xrp => Rule::Unsupported(
                "XRP: no verification rule for this chain in this build (HTX's verifier has none \
                 either)"
                    .into(),
            ),
        };
    }
    let (base, suffix) = match coin.rsplit_once('-') {
        Some((b, s)) => (b.split('-').next().unwrap_or(b), s),
        None => (coin, ""),
    };
    for name in [suffix, coin, base] {
        if let Some(r) = rule_of_name(name) {
            return r;
        }
    }
    if looks_evm(&row.address) {
        return Rule::Evm;
    }
    Rule::Unsupported(format!(
        "coin {coin}: not in HTX's coin table, and no verification rule known"
    ))
}

/// Checks one row: exactly one of verified, failed (why), unsupported (what) or unsigned.
pub(crate) fn check_row(row: &HtxRow) -> Outcome {
    let sig = match row.signature.as_deref() {
        None => return Outcome::Unsigned("published without a signature (`-`)".into()),
        Some("") => return Outcome::Unsigned("published with an empty signature cell".into()),
        Some(s) => s,
    };
    let Some(message) = row.message.as_deref() else {
        return Outcome::failed(
            crate::report::FailureCode::InvalidField,
            "a signature but no message (`-` in the message column)",
        );
    };
    let msg = message.as_bytes();
    let address = row.address.as_str();
    let result =
        match rule_of(row) {
            Rule::Unsupported(why) => return Outcome::Unsupported(why),
            Rule::Utxo(coin) => verify_single(coin, address, msg, sig),
            Rule::Evm => verify_evm_forms(HTX_EVM, address, msg, sig).map(|_| ()),
            Rule::Tron => verify_tron_forms(HTX_TRON, address, msg, sig).map(|_| ()),
            Rule::Ed25519(EdChain::Sol) => {
                parse_solana_address(address).and_then(|key| verify_ed25519_base64(&key, msg, sig))
            }
            Rule::Ed25519(EdChain::Algo) => parse_algorand_address(address)
                .and_then(|key| verify_ed25519_base64(&key, msg, sig)),
            Rule::Ed25519(chain) => {
                return Outcome::Unsupported(format!(
                    "{chain:?}: the address alone does not give the ed25519 key, and HTX's layout \
                 has no public-key column"
                ))
            }
            Rule::Eos => return Outcome::Unsupported(
                "EOS: an account's keys are on-chain state, and HTX's layout has no public-key \
                 column"
                    .into(),
            ),
        };
    match result {
        Ok(()) => Outcome::Verified,
        Err(e) => failed(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schemes::ed25519::{algorand_address, sign_ed25519_base64, solana_address};
    use crate::schemes::{
        evm_address_of, keccak256, secp, sign_bip137, sign_digest, sign_eip191, tron_address_of,
        tron_message_hash, Bip137Kind, TronVersion,
    };
    use bitcoin::secp256k1::SecretKey;

    fn row(coin: &str, address: &str, message: &str, sig: &str) -> HtxRow {
        HtxRow {
            index: 0,
            line: 7,
            coin: coin.into(),
            address: address.into(),
            height: Some("1".into()),
            balance: None,
            message: Some(message.into()),
            signature: Some(sig.into()),
        }
    }

    #[test]
    fn coin_table_and_fallbacks() {
        let r = |c, a| rule_of(&row(c, a, "", ""));
        assert!(matches!(r("USDT-Omni", "1"), Rule::Utxo(c) if c.name == "BTC"));
        assert!(matches!(r("usdt-avalanche c-chain", "0x"), Rule::Evm));
        assert!(matches!(r("TRX-ERC20", "0x"), Rule::Evm));
        assert!(matches!(r("TRX-sol", "8"), Rule::Ed25519(EdChain::Sol)));
        assert!(matches!(r("jWBTC-TRC20", "T"), Rule::Tron));
        assert!(matches!(r("USDT-ALGO", "J"), Rule::Ed25519(EdChain::Algo)));
        assert!(matches!(r("XRP", "r"), Rule::Unsupported(_)));
        // Not in HTX's table: by suffix, then by address.
        assert!(matches!(r("FOO-TRC20", "T"), Rule::Tron));
        assert!(matches!(
            r("FOO", "0x0000000000000000000000000000000000000001"),
            Rule::Evm
        ));
        assert!(matches!(r("FOO", "xyz"), Rule::Unsupported(_)));
    }

    #[test]
    fn every_form_verifies_and_tampering_fails() {
        let sk = SecretKey::from_slice(&[3; 32]).unwrap();
        let pk = sk.public_key(secp());
        let evm = format!("0x{}", hex::encode(evm_address_of(&pk)));
        let tron = tron_address_of(&pk);
        let btc =
            bitcoin::Address::p2pkh(bitcoin::CompressedPublicKey(pk), bitcoin::NetworkKind::Main)
                .to_string();
        let (sol_key, sol_sig) = sign_ed25519_base64(&[4; 32], b"htx");
        let (algo_key, algo_sig) = sign_ed25519_base64(&[5; 32], b"htx");
        // TRON's v1 header over the text; HTX's files end such signatures in 00/01.
        let mut v1 = sign_digest(&sk, tron_message_hash(b"htx", TronVersion::V1));
        let last = if v1.ends_with("1b") { "00" } else { "01" };
        v1.replace_range(v1.len() - 2.., last);
        let cases = [
            row(
                "BTC",
                &btc,
                "htx",
                &sign_bip137(&sk, b"htx", Bip137Kind::P2pkhCompressed),
            ),
            row("ETH", &evm, "htx", &sign_digest(&sk, keccak256(b"htx"))),
            row("USDT-ETH", &evm, "htx", &sign_eip191(&sk, b"htx")),
            row("TRX", &tron, "htx", v1.trim_start_matches("0x")),
            row(
                "USDT-TRC20",
                &tron,
                "htx",
                &sign_digest(&sk, tron_message_hash(&keccak256(b"htx"), TronVersion::V2)),
            ),
            row("SOL", &solana_address(&sol_key), "htx", &sol_sig),
            row("USDT-ALGO", &algorand_address(&algo_key), "htx", &algo_sig),
        ];
        for r in &cases {
            assert_eq!(check_row(r), Outcome::Verified, "{}", r.coin);
            let mut m = r.clone();
            m.message = Some("htX".into());
            assert!(
                matches!(check_row(&m), Outcome::Failed(_)),
                "{} message",
                r.coin
            );
        }
        // EVM and TRON rows in OKX's form (personal_sign over keccak256) are not HTX's forms.
        let okx_form = row("ETH", &evm, "htx", &sign_eip191(&sk, &keccak256(b"htx")));
        let Outcome::Failed(why) = check_row(&okx_form) else {
            panic!("OKX's form is not HTX's")
        };
        assert!(
            why.reason.contains("ECDSA over keccak256(text)") && why.reason.contains("EIP-191"),
            "{why}"
        );
    }

    #[test]
    fn unsigned_and_unsupported_rows() {
        let mut r = row("ETH", "0x1", "htx", "");
        assert!(matches!(check_row(&r), Outcome::Unsigned(_)));
        r.signature = None;
        assert!(matches!(check_row(&r), Outcome::Unsigned(_)));
        r.signature = Some("0x00".into());
        r.message = None;
        assert!(
            matches!(check_row(&r), Outcome::Failed(f) if f.reason.contains("no message") && f.code == crate::report::FailureCode::InvalidField)
        );
        let x = row("XRP", "rKUDvXFJMFu65LqPTH3Yfpii4rbKT9bSQT", "htx", "abc");
        assert!(matches!(check_row(&x), Outcome::Unsupported(m) if m.contains("XRP")));
    }
}
