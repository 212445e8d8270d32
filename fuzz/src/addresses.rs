//! Address and key decoders: CashAddr (Bitcoin Cash), TON, EOS keys and signatures, SS58
//! (Polkadot), and the account forms of EVM, TRON, Cardano and Aptos/Sui. Decoding never
//! panics; where an encoder exists, what decodes encodes to text that decodes the same.

use crate::input::Input;
use por_attest::okx::{check_row, Row};
use por_attest::report::Outcome;
use por_attest::schemes::ed25519::{cardano_payment_key_hash, parse_hex_account, parse_ss58};
use por_attest::schemes::evm::{parse_evm_address, to_checksum_address};
use por_attest::schemes::ton::{format_ton_address, parse_ton_address};
use por_attest::schemes::tron::{format_tron_address, parse_tron_address};

fn text(b: &[u8]) -> Option<&str> {
    std::str::from_utf8(b).ok()
}

/// An OKX row of `coin` (the decoders of CashAddr and EOS are reached through the row check,
/// as in a real file): one outcome, never a panic.
fn row(coin: &str, address: &str, message: &str, sig: &str, script: &str) -> Outcome {
    check_row(&Row {
        coin: coin.into(),
        address: address.into(),
        message: message.into(),
        sig1: sig.into(),
        script: script.into(),
        ..Row::default()
    })
}

/// `address \0 message \0 signature`: a Bitcoin Cash row (CashAddr, and legacy addresses).
pub fn cashaddr(data: &[u8]) {
    let mut parts = data.splitn(3, |&b| b == 0).map(text);
    let (Some(Some(a)), m, s) = (parts.next(), parts.next(), parts.next()) else {
        return;
    };
    let m = m.flatten().unwrap_or("I am an OKX address");
    let s = s.flatten().unwrap_or("x");
    let outcome = row("BCH", a, m, s, "");
    // The same address upper-cased is the same address (CashAddr is case-insensitive, never
    // mixed): the outcome may differ only when it was mixed-case or legacy base58.
    if a.bytes().all(|c| !c.is_ascii_uppercase()) && a.contains(':') {
        let upper = row("BCH", &a.to_ascii_uppercase(), m, s, "");
        assert_eq!(
            matches!(outcome, Outcome::Verified),
            matches!(upper, Outcome::Verified),
            "case changed the outcome of {a}"
        );
    }
}

/// `key \0 signature \0 message`: an EOS row (public key and `SIG_K1_` signature decoders).
pub fn eos(data: &[u8]) {
    let mut parts = data.splitn(3, |&b| b == 0).map(text);
    let (Some(Some(k)), s, m) = (parts.next(), parts.next(), parts.next()) else {
        return;
    };
    let s = s.flatten().unwrap_or("SIG_K1_");
    let m = m.flatten().unwrap_or("I am an OKX address");
    let outcome = row("EOS", "okbwallet1tr", m, s, k);
    // An EOS account is never bound to its key offline: a row is never verified.
    assert!(!matches!(outcome, Outcome::Verified), "an EOS row verified");
}

/// A TON address: raw and user-friendly forms; a parsed basechain mainnet address formats
/// back to text that parses to the same account and flags.
pub fn ton(data: &[u8]) {
    let Some(a) = text(data) else { return };
    let Ok(t) = parse_ton_address(a) else { return };
    if t.workchain == 0 && !t.testnet {
        let bounceable = t.bounceable.unwrap_or(true);
        let f = format_ton_address(&t.hash, bounceable);
        let back = parse_ton_address(&f).expect("a formatted address parses");
        assert_eq!(back.hash, t.hash);
        assert_eq!(back.bounceable, Some(bounceable));
        if t.bounceable.is_some() && a.contains(['-', '_']) {
            assert_eq!(f, a, "a canonical base64url address formats back to itself");
        }
    }
}

/// An SS58 address (any network prefix).
pub fn ss58(data: &[u8]) {
    let Some(a) = text(data) else { return };
    if let Ok((prefix, _key)) = parse_ss58(a) {
        assert!(prefix < 16384, "SS58 prefixes have 14 bits");
    }
}

/// First byte: which account form; the rest: the text. EVM and TRON addresses format back to
/// text that parses to the same account.
pub fn account_address(data: &[u8]) {
    let mut input = Input::new(data);
    let which = input.u8();
    let Some(a) = text(input.rest()) else { return };
    match which % 4 {
        0 => {
            if let Ok(acc) = parse_evm_address(a) {
                let c = to_checksum_address(&acc);
                assert_eq!(parse_evm_address(&c).ok(), Some(acc), "EVM checksum form");
            }
        }
        1 => {
            if let Ok(acc) = parse_tron_address(a) {
                let f = format_tron_address(&acc);
                assert_eq!(f, a, "a TRON address has one spelling");
            }
        }
        2 => {
            let _ = cardano_payment_key_hash(a);
        }
        _ => {
            if let Ok(acc) = parse_hex_account(a, "Aptos") {
                let full = format!("0x{}", hex::encode(acc));
                assert_eq!(parse_hex_account(&full, "Aptos").ok(), Some(acc));
            }
        }
    }
}
