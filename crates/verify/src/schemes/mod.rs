//! Signature-scheme primitives: pure verification (no I/O) and test-key signing.
//!
//! | module | scheme |
//! |---|---|
//! | [`bip137`] | legacy "Bitcoin Signed Message" (BIP-137 headers, compact recoverable ECDSA) |
//! | [`multisig`] | one legacy signed message per cosigner key of a P2SH / P2WSH / P2SH-P2WSH multisig |
//! | [`bip322`] | BIP-322 generic signed messages (legacy, simple `smp`, full `ful`) |
//! | [`bip322_finalize`] | BIP-322 proofs finalized from the partial signatures of hardware signers |
//! | `bip322_interpreter` | other BIP-322 scripts, through Bitcoin Core's interpreter (feature `interpreter`) |
//! | [`evm`] | EIP-191 `personal_sign` (Ethereum and EVM chains), OKX's keccak variant |
//! | [`tron`] | TRON signed messages (TIP-191 v2, legacy v1) |
//! | [`ed25519`] | OKX's ed25519 ownership signatures; SOL / APTOS / SUI / SS58 / Cardano address rules |
//! | [`ton`] | TON wallet addresses (v3r2, highload v3) derived from an ed25519 key |
//!
//! Every secp256k1 operation goes through libsecp256k1 (`bitcoin::secp256k1`) with one
//! process-wide context ([`secp`]); nothing creates a context per call.

use bitcoin::secp256k1::{All, Secp256k1};
use std::sync::LazyLock;

pub mod bip137;
pub mod bip322;
pub mod bip322_finalize;
#[cfg(feature = "interpreter")]
pub mod bip322_interpreter;
pub mod ed25519;
pub mod evm;
pub mod multisig;
pub mod ton;
pub mod tron;

pub use bip137::{
    bip137_header_for, decode_bip137_signature, normalize_bip137_header, recover_bip137,
    signed_message_hash, verify_bip137, Bip137Kind,
};
pub use bip322::{
    bip322_message_hash, encode_bip322_signature, to_sign, to_sign_psbt, to_spend, verify_bip322,
    Bip322Format, Bip322Kind,
};
pub use bip322_finalize::{check_partial_signature, finalize_bip322, Bip322Spend, PartialSigError};
pub use evm::{
    eip191_hash, evm_address_of, keccak256, okx_ecdsa_hash, parse_evm_address, recover_eip191,
    recover_evm_prehash, to_checksum_address, verify_eip191, verify_eip191_hashed,
    verify_evm_keccak, verify_okx_ecdsa,
};
pub use multisig::{
    check_script_hash, multisig_address, multisig_script, parse_multisig, threshold_of,
    verify_multisig, MultisigOutcome, MultisigScript,
};
pub use tron::{
    format_tron_address, parse_tron_address, tron_address_of, tron_message_hash, verify_tron,
    verify_tron_hashed, TronVersion,
};
/// Signing with test keys, for the simulator, fixtures and tests (feature `signing`; an
/// auditor's build of this crate has none of it).
#[cfg(any(test, feature = "signing"))]
pub use {
    bip137::sign_bip137,
    bip322::{sign_bip322, sign_bip322_simple_p2tr, sign_bip322_simple_p2wpkh, Bip322Signer},
    evm::{sign_digest, sign_eip191},
    tron::sign_tron_v2,
};

static SECP: LazyLock<Secp256k1<All>> = LazyLock::new(Secp256k1::new);

/// The one libsecp256k1 context of the process (created on first use, then shared).
pub fn secp() -> &'static Secp256k1<All> {
    &SECP
}

/// Why a signature did not verify. Every variant reads as a sentence an auditor can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemeError {
    /// The signature text is not valid (standard, padded) base64.
    #[error("signature is not valid base64")]
    NotBase64,
    /// The signature text is not valid hex.
    #[error("signature is not valid hex")]
    NotHex,
    /// A signature or key has the wrong length.
    #[error("{what} must be {expected} bytes, got {got}")]
    BadLength {
        /// What was being decoded.
        what: &'static str,
        /// The length it must have.
        expected: usize,
        /// The length it has.
        got: usize,
    },
    /// A legacy signature's header byte is outside 27–42.
    #[error("header byte {0} out of range 27–42")]
    HeaderOutOfRange(u8),
    /// A legacy signature's header says one address type, the address is another.
    #[error(
        "header byte {header} is for {header_kind} addresses, but the address is {address_kind}"
    )]
    HeaderTypeMismatch {
        /// The header byte.
        header: u8,
        /// The address type the header announces.
        header_kind: &'static str,
        /// The address type stated.
        address_kind: &'static str,
    },
    /// An EVM / TRON recovery byte that is neither 27/28 nor 0/1.
    #[error("recovery byte v={0} is not 27, 28, 0 or 1")]
    BadRecoveryByte(u8),
    /// r or s is zero or not below the curve order, or no point has this r.
    #[error("no public key can be recovered from the signature")]
    Unrecoverable,
    /// The key recovered from the signature gives another address than the stated one.
    #[error("recovered key gives {derived} not the stated address {stated}")]
    AddressMismatch {
        /// The address the signature's key gives.
        derived: String,
        /// The address stated.
        stated: String,
    },
    /// s is above half the curve order (malleated, non-canonical).
    #[error("high-s signature (s above half the curve order) is not accepted")]
    HighS,
    /// An address that does not parse.
    #[error("invalid {kind} address `{address}`: {reason}")]
    BadAddress {
        /// The kind of address.
        kind: &'static str,
        /// The address as written.
        address: String,
        /// Why it does not parse.
        reason: String,
    },
    /// The address is not of the type the entry states.
    #[error("address {address} is not a {expected} address")]
    AddressTypeMismatch {
        /// The address as written.
        address: String,
        /// The network it should belong to.
        expected: &'static str,
    },
    /// A redeem / witness script that does not hash to the address.
    #[error("script does not hash to the address {0}")]
    ScriptHashMismatch(String),
    /// A script that is not a well-formed standard `OP_m <keys> OP_n OP_CHECKMULTISIG`.
    #[error("malformed multisig script: {0}")]
    MalformedMultisig(String),
    /// A cosigner signature was made by a key that is not in the script.
    #[error("signature {index} is from key {key}, which is not in the script")]
    NotAMember {
        /// The signature's position.
        index: usize,
        /// The key it recovers to.
        key: String,
    },
    /// Fewer distinct cosigner keys signed than the script's threshold.
    #[error(
        "only {distinct} distinct valid signature{}, threshold {threshold}",
        if *.distinct == 1 { "" } else { "s" }
    )]
    BelowThreshold {
        /// Distinct script keys that signed.
        distinct: usize,
        /// Signatures the script requires.
        threshold: usize,
    },
    /// One signature of a list failed; `index` counts from 1.
    #[error("signature {index}: {source}")]
    Cosigner {
        /// The signature's position in the entry.
        index: usize,
        /// Why it failed.
        source: Box<SchemeError>,
    },
    /// A BIP-322 signature that could not be decoded.
    #[error("{0}")]
    Bip322Malformed(String),
    /// A BIP-322 signature that decoded but does not prove the address for the message.
    #[error("invalid signature: {0}")]
    Bip322Invalid(String),
    /// Something this verifier knowingly does not check (never a pass).
    #[error("unsupported {0}")]
    Unsupported(String),
    /// A signature (of a scheme without key recovery, e.g. ed25519) that does not verify.
    #[error("invalid signature: {0}")]
    SignatureInvalid(String),
    /// None of the signing forms accepted for the row verifies; each form and its failure.
    #[error("no accepted signing form verifies ({})", describe_forms(.0))]
    NoFormVerifies(Vec<(&'static str, Box<SchemeError>)>),
}

fn describe_forms(tried: &[(&'static str, Box<SchemeError>)]) -> String {
    tried
        .iter()
        .map(|(form, e)| format!("{form}: {e}"))
        .collect::<Vec<_>>()
        .join("; ")
}

impl SchemeError {
    /// True for errors that mean "cannot check this" rather than "checked and wrong".
    pub fn is_unsupported(&self) -> bool {
        match self {
            SchemeError::Unsupported(_) => true,
            SchemeError::Cosigner { source, .. } => source.is_unsupported(),
            _ => false,
        }
    }
}

/// Decode standard padded base64, the encoding of legacy and BIP-322 signatures.
pub(crate) fn decode_base64(s: &str) -> Result<Vec<u8>, SchemeError> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|_| SchemeError::NotBase64)
}

/// Encode standard padded base64.
pub(crate) fn encode_base64(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// Half the secp256k1 group order, big-endian; a canonical (low-s) signature has s ≤ this.
pub(crate) const HALF_ORDER: [u8; 32] = [
    0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4, 0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0,
];

/// True when the 32-byte big-endian `s` is above half the group order.
pub(crate) fn is_high_s(s: &[u8]) -> bool {
    s > &HALF_ORDER[..]
}

/// The network a (checked) Bitcoin address belongs to, for display.
pub(crate) fn network_of(address: &bitcoin::Address) -> bitcoin::Network {
    use bitcoin::Network as N;
    [N::Bitcoin, N::Testnet, N::Signet, N::Regtest]
        .into_iter()
        .find(|n| address.as_unchecked().is_valid_for_network(*n))
        .unwrap_or(N::Bitcoin)
}

/// Short hex form of a key or hash for messages (`02ab12…ef`).
pub(crate) fn short_hex(b: &[u8]) -> String {
    let h = hex::encode(b);
    if h.len() <= 16 {
        h
    } else {
        format!("{}…{}", &h[..8], &h[h.len() - 6..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn high_s_boundary() {
        assert!(!is_high_s(&HALF_ORDER));
        let mut above = HALF_ORDER;
        above[31] += 1;
        assert!(is_high_s(&above));
        assert!(!is_high_s(&[0u8; 32]));
    }

    #[test]
    fn error_texts_read_well() {
        assert_eq!(
            SchemeError::BadLength {
                what: "signature",
                expected: 65,
                got: 64
            }
            .to_string(),
            "signature must be 65 bytes, got 64"
        );
        assert_eq!(
            SchemeError::HeaderOutOfRange(43).to_string(),
            "header byte 43 out of range 27–42"
        );
        assert_eq!(
            SchemeError::BelowThreshold {
                distinct: 1,
                threshold: 2
            }
            .to_string(),
            "only 1 distinct valid signature, threshold 2"
        );
    }

    #[test]
    fn one_context() {
        assert!(std::ptr::eq(secp(), secp()));
    }

    mod properties {
        use super::super::*;
        use bitcoin::secp256k1::{Keypair, SecretKey};
        use bitcoin::{Address, CompressedPublicKey, Network, NetworkKind};
        use proptest::prelude::*;
        use std::sync::LazyLock;

        const MSG: &[u8] = b"ACME proof of reserves S1: I control BTC address A at 800000";

        struct Fixture {
            p2pkh: Address,
            wpkh: Address,
            p2tr: Address,
            evm: String,
            tron: String,
            bip137: String,
            bip322_wpkh: String,
            bip322_tr: String,
            bip322_full: String,
            eip191: String,
            tron_sig: String,
        }

        static FIX: LazyLock<Fixture> = LazyLock::new(|| {
            let sk = SecretKey::from_slice(&[0x42; 32]).unwrap();
            let kp = Keypair::from_secret_key(secp(), &sk);
            let ck = CompressedPublicKey(sk.public_key(secp()));
            let p2tr_signer = Bip322Signer::P2tr(&kp);
            let p2tr =
                Address::from_script(&p2tr_signer.script_pubkey().unwrap(), Network::Bitcoin)
                    .unwrap();
            Fixture {
                p2pkh: Address::p2pkh(ck, NetworkKind::Main),
                wpkh: Address::p2wpkh(&ck, Network::Bitcoin),
                p2tr,
                evm: to_checksum_address(&evm_address_of(&sk.public_key(secp()))),
                tron: tron_address_of(&sk.public_key(secp())),
                bip137: sign_bip137(&sk, MSG, Bip137Kind::P2wpkh),
                bip322_wpkh: sign_bip322_simple_p2wpkh(&sk, MSG),
                bip322_tr: sign_bip322_simple_p2tr(&kp, MSG),
                bip322_full: sign_bip322(&Bip322Signer::P2wpkh(&sk), MSG, Bip322Format::FULL)
                    .unwrap(),
                eip191: sign_eip191(&sk, MSG),
                tron_sig: sign_tron_v2(&sk, MSG),
            }
        });

        const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        const HEX: &[u8] = b"0123456789abcdef";

        /// Replace the character at `pos` by another one of `alphabet` (another value, not
        /// merely another case).
        fn mutate(sig: &str, pos: usize, pick: usize, alphabet: &[u8]) -> String {
            let mut b = sig.as_bytes().to_vec();
            let cur = b[pos];
            let same = |c: u8| {
                if alphabet == HEX {
                    c == cur.to_ascii_lowercase()
                } else {
                    c == cur
                }
            };
            let choices: Vec<u8> = alphabet.iter().copied().filter(|c| !same(*c)).collect();
            b[pos] = choices[pick % choices.len()];
            String::from_utf8(b).unwrap()
        }

        #[test]
        fn fixtures_verify() {
            let f = &*FIX;
            verify_bip137(&f.wpkh, MSG, &f.bip137).unwrap();
            verify_bip322(&f.wpkh, MSG, &f.bip322_wpkh).unwrap();
            verify_bip322(&f.wpkh, MSG, &f.bip322_full).unwrap();
            verify_bip322(&f.p2tr, MSG, &f.bip322_tr).unwrap();
            verify_eip191(&f.evm, MSG, &f.eip191).unwrap();
            verify_tron(&f.tron, MSG, &f.tron_sig, TronVersion::V2).unwrap();
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// Arbitrary text as a signature: an error, never a panic, never a pass.
            #[test]
            fn garbage_strings_are_errors(sig in ".{0,200}") {
                let f = &*FIX;
                prop_assert!(verify_bip137(&f.wpkh, MSG, &sig).is_err());
                prop_assert!(verify_bip137(&f.p2pkh, MSG, &sig).is_err());
                let _ = recover_bip137(MSG, &sig);
                prop_assert!(verify_bip322(&f.wpkh, MSG, &sig).is_err());
                prop_assert!(verify_bip322(&f.p2tr, MSG, &sig).is_err());
                prop_assert!(verify_bip322(&f.p2pkh, MSG, &sig).is_err());
                prop_assert!(verify_eip191(&f.evm, MSG, &sig).is_err());
                prop_assert!(verify_eip191_hashed(&f.evm, MSG, &sig).is_err());
                prop_assert!(verify_tron(&f.tron, MSG, &sig, TronVersion::V2).is_err());
                let _ = parse_evm_address(&sig);
                prop_assert!(parse_tron_address(&sig).is_err());
                let _ = parse_multisig(sig.as_bytes());
            }

            /// Random bytes, base64-encoded with and without BIP-322 tags: errors, no panics.
            #[test]
            fn garbage_bytes_are_errors(bytes in proptest::collection::vec(any::<u8>(), 0..300),
                                        tag in prop_oneof![Just(""), Just("smp"), Just("ful"), Just("pof")]) {
                let f = &*FIX;
                let sig = format!("{tag}{}", encode_base64(&bytes));
                prop_assert!(verify_bip322(&f.wpkh, MSG, &sig).is_err());
                prop_assert!(verify_bip322(&f.p2tr, MSG, &sig).is_err());
                prop_assert!(verify_bip137(&f.wpkh, MSG, &sig).is_err());
                let hexsig = hex::encode(&bytes);
                prop_assert!(verify_eip191(&f.evm, MSG, &hexsig).is_err());
                prop_assert!(verify_tron(&f.tron, MSG, &hexsig, TronVersion::V1).is_err());
                let _ = parse_multisig(&bytes);
            }

            /// Changing one character of a signature makes it fail. For legacy signatures the
            /// first character is excluded: it holds the header's address-type bits, which the
            /// signature does not cover (31–34 ↔ 39–42 on a P2WPKH address both verify, by
            /// design), see `first_char_of_legacy_signature_is_not_covered`.
            #[test]
            fn one_char_changes_fail(pos in any::<prop::sample::Index>(), pick in any::<usize>()) {
                let f = &*FIX;
                let body = |s: &str| s.trim_end_matches('=').len();
                let p = 1 + pos.index(body(&f.bip137) - 1);
                prop_assert!(verify_bip137(&f.wpkh, MSG, &mutate(&f.bip137, p, pick, B64)).is_err());
                for (addr, sig) in [(&f.wpkh, &f.bip322_wpkh), (&f.p2tr, &f.bip322_tr), (&f.wpkh, &f.bip322_full)] {
                    let p = pos.index(body(sig));
                    let m = mutate(sig, p, pick, B64);
                    prop_assert!(verify_bip322(addr, MSG, &m).is_err(), "{} at {}", m, p);
                }
                let p = 2 + pos.index(130);
                prop_assert!(verify_eip191(&f.evm, MSG, &mutate(&f.eip191, p, pick, HEX)).is_err());
                prop_assert!(verify_tron(&f.tron, MSG, &mutate(&f.tron_sig, p, pick, HEX), TronVersion::V2).is_err());
            }

            /// Changing one byte of the message makes every scheme fail.
            #[test]
            fn one_byte_message_changes_fail(pos in any::<prop::sample::Index>(), x in 1u8..=255) {
                let f = &*FIX;
                let mut m = MSG.to_vec();
                let i = pos.index(m.len());
                m[i] ^= x;
                prop_assert!(verify_bip137(&f.wpkh, &m, &f.bip137).is_err());
                prop_assert!(verify_bip322(&f.wpkh, &m, &f.bip322_wpkh).is_err());
                prop_assert!(verify_bip322(&f.wpkh, &m, &f.bip322_full).is_err());
                prop_assert!(verify_bip322(&f.p2tr, &m, &f.bip322_tr).is_err());
                prop_assert!(verify_eip191(&f.evm, &m, &f.eip191).is_err());
                prop_assert!(verify_tron(&f.tron, &m, &f.tron_sig, TronVersion::V2).is_err());
            }
        }

        /// The header's type bits are not covered by a legacy signature: rewriting them within
        /// what our rules accept for the address keeps it valid (the same key signed).
        #[test]
        fn first_char_of_legacy_signature_is_not_covered() {
            let f = &*FIX;
            let (_, recid, _) = decode_bip137_signature(&f.bip137).unwrap();
            let as_p2pkh_header =
                normalize_bip137_header(&f.bip137, crate::chains::ScriptType::P2pkh).unwrap();
            assert_ne!(as_p2pkh_header[..1], f.bip137[..1]);
            assert_eq!(as_p2pkh_header[1..], f.bip137[1..]);
            assert_eq!(decode_bip137_signature(&as_p2pkh_header).unwrap().1, recid);
            verify_bip137(&f.wpkh, MSG, &as_p2pkh_header).unwrap();
        }
    }
}
