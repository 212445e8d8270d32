//! The per-scheme rules every exchange format maps its rows onto: which rule a chain or
//! network name falls under, and the signing forms of EVM and TRON signatures (each exchange
//! accepts its own list of forms).

use super::utxo::{utxo_coin, UtxoCoin};
use crate::chains::ChainFamily;
use crate::report::Outcome;
use crate::schemes::{
    verify_eip191, verify_eip191_hashed, verify_evm_keccak, verify_okx_ecdsa, verify_tron,
    verify_tron_hashed, SchemeError, TronVersion,
};

/// Ed25519 chains with an address rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdChain {
    /// Solana: the address is base58 of the key.
    Sol,
    /// Aptos: the address is the key's authentication key.
    Aptos,
    /// Sui: blake2b-256 of the flagged key.
    Sui,
    /// Polkadot: SS58 of the key, network 0.
    Dot,
    /// Cardano: Shelley address with the key's payment key hash.
    Ada,
    /// TON: a wallet contract of the key.
    Ton,
    /// Algorand: base32 of the key and its checksum.
    Algo,
}

/// The rule a row is checked under.
#[derive(Debug)]
pub enum Rule {
    /// Bitcoin or a fork: legacy signed messages with the coin's magic.
    Utxo(&'static UtxoCoin),
    /// Ethereum and EVM chains.
    Evm,
    /// TRON.
    Tron,
    /// An ed25519 chain.
    Ed25519(EdChain),
    /// EOS / Vaulta: K1 signature against the row's public key (account not bound).
    Eos,
    /// No rule in this build; the text says what.
    Unsupported(String),
}

/// EVM network and token-standard names exchanges use that [`ChainFamily::of`] does not know.
const EVM_NAMES: &[&str] = &[
    "ERC20", "OKC", "OKC20", "OKTC", "KIP20", "X1", "XLAYER", "POLY", "AVAX", "BEP20", "ETHW",
    "FTM", "FANTOM", "CRONOS", "CELO", "MANTLE", "BLAST", "SONIC",
];

/// The rule of one chain, network or token-standard name (`TRC20`, `SOL`, `BEP20`, …), or
/// `None` when the name says nothing.
pub fn rule_of_name(name: &str) -> Option<Rule> {
    let up = name.trim().to_ascii_uppercase();
    if up.is_empty() {
        return None;
    }
    if let Some(c) = utxo_coin(&up) {
        return Some(Rule::Utxo(c));
    }
    Some(match up.as_str() {
        "TRX" | "TRON" | "TRC20" | "TRC" => Rule::Tron,
        "SOL" | "SOLANA" | "SPL" => Rule::Ed25519(EdChain::Sol),
        "APT" | "APTOS" => Rule::Ed25519(EdChain::Aptos),
        "SUI" => Rule::Ed25519(EdChain::Sui),
        "DOT" | "POLKADOT" => Rule::Ed25519(EdChain::Dot),
        "ADA" | "CARDANO" => Rule::Ed25519(EdChain::Ada),
        "TON" | "TONCOIN" => Rule::Ed25519(EdChain::Ton),
        "STARKNET" | "STRK" => Rule::Unsupported(
            "Starknet: STARK-curve signatures and account contracts are not checked by this build"
                .into(),
        ),
        "EOS" | "VAULTA" => Rule::Eos,
        "XRP" | "RIPPLE" | "ALGO" | "XLM" | "STELLAR" | "NEAR" | "HBAR" | "FIL" | "CFX" | "ELF"
        | "LUNC" | "ATOM" | "BETH" => Rule::Unsupported(format!(
            "{up}: no verification rule for this chain in this build"
        )),
        u if ChainFamily::of(u) == Some(ChainFamily::Evm) || EVM_NAMES.contains(&u) => Rule::Evm,
        _ => return None,
    })
}

/// True for `0x` and 40 hex digits.
pub fn looks_evm(address: &str) -> bool {
    address.len() == 42
        && address.starts_with("0x")
        && address[2..].bytes().all(|c| c.is_ascii_hexdigit())
}

/// A scheme error as a row outcome: unsupported when it says "cannot check", else failed.
pub fn failed(e: SchemeError) -> Outcome {
    if e.is_unsupported() {
        Outcome::Unsupported(e.to_string())
    } else {
        Outcome::Failed(e.into())
    }
}

/// One way an exchange's EVM signature may sign its text (r‖s‖v recovered with
/// libsecp256k1, low-s, v 27/28 or 0/1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvmForm {
    /// EIP-191 `personal_sign` over the text.
    Eip191Text,
    /// EIP-191 `personal_sign` over keccak256(text) (OKX).
    Eip191Keccak,
    /// ECDSA directly over keccak256(text), no prefix (HTX).
    Keccak,
    /// keccak256 of the compact-size-framed `"OKX Signed Message:\n"` and text (OKX's
    /// OKC-family form).
    OkxFramed,
}

impl EvmForm {
    /// How reports name the form.
    pub fn name(self) -> &'static str {
        match self {
            EvmForm::Eip191Text => "EIP-191 over the text",
            EvmForm::Eip191Keccak => "EIP-191 over keccak256(text)",
            EvmForm::Keccak => "ECDSA over keccak256(text)",
            EvmForm::OkxFramed => "OKX's framed form",
        }
    }

    fn verify(self, address: &str, msg: &[u8], sig: &str) -> Result<(), SchemeError> {
        match self {
            EvmForm::Eip191Text => verify_eip191(address, msg, sig),
            EvmForm::Eip191Keccak => verify_eip191_hashed(address, msg, sig),
            EvmForm::Keccak => verify_evm_keccak(address, msg, sig),
            EvmForm::OkxFramed => verify_okx_ecdsa(address, msg, sig),
        }
    }
}

/// One way a TRON signature may sign its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TronForm {
    /// TIP-191 v2 over the text (length-correct header).
    V2Text,
    /// The v1 header (`…:\n32`) over the text itself (TronWeb's `verifySignature` of the
    /// text's hex).
    V1Text,
    /// The v1 header over keccak256(text) (32 bytes, so v1 = v2).
    Keccak,
}

impl TronForm {
    /// How reports name the form.
    pub fn name(self) -> &'static str {
        match self {
            TronForm::V2Text => "TIP-191 v2 over the text",
            TronForm::V1Text => "v1 header over the text",
            TronForm::Keccak => "v1 header over keccak256(text)",
        }
    }

    fn verify(self, address: &str, msg: &[u8], sig: &str) -> Result<(), SchemeError> {
        match self {
            TronForm::V2Text => verify_tron(address, msg, sig, TronVersion::V2),
            TronForm::V1Text => verify_tron(address, msg, sig, TronVersion::V1),
            TronForm::Keccak => verify_tron_hashed(address, msg, sig),
        }
    }
}

/// Ok when `verify` passes for one of `forms`; otherwise one error: the common one when every
/// form failed the same way (bad hex, a bad address), else each form's own.
fn first_form<F: Copy>(
    forms: &[F],
    name: fn(F) -> &'static str,
    verify: impl Fn(F) -> Result<(), SchemeError>,
) -> Result<F, SchemeError> {
    let mut errors = Vec::with_capacity(forms.len());
    for &f in forms {
        match verify(f) {
            Ok(()) => return Ok(f),
            Err(e) => errors.push((name(f), e)),
        }
    }
    if errors.windows(2).all(|w| w[0].1 == w[1].1) {
        return Err(errors
            .pop()
            .map(|(_, e)| e)
            .unwrap_or_else(|| SchemeError::Unsupported("no signing form to try".into())));
    }
    Err(SchemeError::NoFormVerifies(
        errors.into_iter().map(|(n, e)| (n, Box::new(e))).collect(),
    ))
}

/// Verifies an EVM signature in the first of `forms` that fits; the form that did.
pub fn verify_evm_forms(
    forms: &[EvmForm],
    address: &str,
    msg: &[u8],
    sig: &str,
) -> Result<EvmForm, SchemeError> {
    first_form(forms, EvmForm::name, |f| f.verify(address, msg, sig))
}

/// Verifies a TRON signature in the first of `forms` that fits; the form that did.
pub fn verify_tron_forms(
    forms: &[TronForm],
    address: &str,
    msg: &[u8],
    sig: &str,
) -> Result<TronForm, SchemeError> {
    first_form(forms, TronForm::name, |f| f.verify(address, msg, sig))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schemes::{
        evm_address_of, keccak256, secp, sign_digest, sign_eip191, to_checksum_address,
    };
    use bitcoin::secp256k1::SecretKey;

    #[test]
    fn names_to_rules() {
        assert!(matches!(rule_of_name("trc20"), Some(Rule::Tron)));
        assert!(matches!(rule_of_name("BEP20"), Some(Rule::Evm)));
        assert!(matches!(
            rule_of_name("SOL"),
            Some(Rule::Ed25519(EdChain::Sol))
        ));
        assert!(matches!(rule_of_name("DOGE"), Some(Rule::Utxo(c)) if c.name == "DOGE"));
        assert!(matches!(rule_of_name("XRP"), Some(Rule::Unsupported(_))));
        assert!(rule_of_name("Avalanche C").is_none());
        assert!(rule_of_name("").is_none());
    }

    #[test]
    fn forms_in_order_and_errors_per_form() {
        let sk = SecretKey::from_slice(&[9; 32]).unwrap();
        let addr = to_checksum_address(&evm_address_of(&sk.public_key(secp())));
        let msg = b"htx";
        let text = sign_eip191(&sk, msg);
        let raw = sign_digest(&sk, keccak256(msg));
        let both = [EvmForm::Keccak, EvmForm::Eip191Text];
        assert_eq!(
            verify_evm_forms(&both, &addr, msg, &text),
            Ok(EvmForm::Eip191Text)
        );
        assert_eq!(
            verify_evm_forms(&both, &addr, msg, &raw),
            Ok(EvmForm::Keccak)
        );
        // A form not in the list does not pass.
        assert!(verify_evm_forms(&[EvmForm::Eip191Text], &addr, msg, &raw).is_err());
        // Different failures are each named; the same failure is said once.
        let e = verify_evm_forms(&both, &addr, b"huobi", &raw).unwrap_err();
        let s = e.to_string();
        assert!(
            s.contains("ECDSA over keccak256(text): recovered key gives")
                && s.contains("EIP-191 over the text: recovered key gives"),
            "{s}"
        );
        let e = verify_evm_forms(&both, &addr, msg, "0xzz").unwrap_err();
        assert_eq!(e, SchemeError::NotHex);
    }
}
