//! Every reply (and answer) decoder of `firmware-messages`: decoding never panics, and what
//! decodes encodes to bytes that decode to the same value.

use firmware_messages::app_configuration::AppConfiguration;
use firmware_messages::bitcoin::client_commands::{
    ClientCommand, LeafIndexAnswer, LeafProofAnswer, MoreElementsAnswer, PreimageAnswer,
};
use firmware_messages::bitcoin::commands::{
    parse_extended_pubkey, parse_master_fingerprint, parse_wallet_address, MessageSignature,
    RegisteredWallet, YieldedSignature,
};
use firmware_messages::bitcoin::merkle::MapCommitment;
use firmware_messages::bitcoin::policy::PolicyHeader;
use firmware_messages::bitcoin::psbt::{
    decode_witness_utxo, encode_witness_utxo, parse_yielded_signatures, BareSignatureKey,
    BareYieldedSignature, KeyOrigin, PartialSignature,
};
use firmware_messages::dashboard::AppAndVersion;
use firmware_messages::{ethereum, tron, Response};

/// Decodes `data` with `decode`; if it decodes, the encoding decodes to the same value.
macro_rules! round_trip {
    ($data:expr, $decode:expr, $encode:expr) => {{
        if let Ok(v) = $decode($data) {
            let bytes = $encode(&v);
            match $decode(&bytes[..]) {
                Ok(w) => assert_eq!(w, v, "decode(encode(x)) != x for {}", stringify!($decode)),
                Err(e) => panic!(
                    "{}: its own encoding does not decode: {e}",
                    stringify!($decode)
                ),
            }
        }
    }};
}

/// The number of decoders [`apdu_replies`] chooses from.
pub const DECODERS: u8 = 24;

/// First byte: which decoder (modulo [`DECODERS`]); the rest: the reply's data.
pub fn apdu_replies(data: &[u8]) {
    let Some((&which, d)) = data.split_first() else {
        return;
    };
    match which % DECODERS {
        0 => round_trip!(d, Response::decode, Response::encode),
        1 => round_trip!(d, AppAndVersion::decode, AppAndVersion::encode),
        2 => round_trip!(d, AppConfiguration::decode, AppConfiguration::encode),
        3 => round_trip!(
            d,
            ethereum::AddressResponse::decode,
            ethereum::AddressResponse::encode
        ),
        4 => round_trip!(d, ethereum::Signature::decode, ethereum::Signature::encode),
        5 => round_trip!(
            d,
            tron::AddressResponse::decode,
            tron::AddressResponse::encode
        ),
        6 => round_trip!(d, tron::Signature::decode, tron::Signature::encode),
        7 => round_trip!(d, parse_master_fingerprint, |f: &[u8; 4]| f.to_vec()),
        8 => round_trip!(d, parse_extended_pubkey, |s: &String| s.as_bytes().to_vec()),
        9 => round_trip!(d, parse_wallet_address, |s: &String| s.as_bytes().to_vec()),
        10 => round_trip!(d, RegisteredWallet::decode, RegisteredWallet::encode),
        11 => round_trip!(d, MessageSignature::decode, |s: &MessageSignature| s
            .encode()
            .to_vec()),
        12 => {
            round_trip!(d, YieldedSignature::decode, YieldedSignature::encode);
            if let Ok(y) = YieldedSignature::decode(d) {
                if let Ok(p) = PartialSignature::from_yielded(&y) {
                    assert_eq!(
                        p.to_yielded(y.input_index),
                        y,
                        "to_yielded(from_yielded(y))"
                    );
                }
            }
        }
        13 => {
            round_trip!(
                d,
                BareYieldedSignature::decode,
                BareYieldedSignature::encode
            );
            if let Ok(b) = BareYieldedSignature::decode(d) {
                for key in [
                    BareSignatureKey::Ecdsa([2; 33]),
                    BareSignatureKey::TaprootKeyPath([2; 32]),
                ] {
                    if let Ok(p) = PartialSignature::from_bare(key, b.signature.clone()) {
                        assert_eq!(p.to_bare_yielded(b.input_index), b, "to_bare_yielded");
                    }
                }
            }
        }
        14 => {
            // Items of one SIGN_PSBT: pieces with one-byte lengths.
            let mut input = crate::input::Input::new(d);
            let mut items = Vec::new();
            while !input.is_empty() {
                items.push(input.piece().to_vec());
            }
            if let Ok(sigs) = parse_yielded_signatures(&items) {
                assert_eq!(sigs.len(), items.len(), "one signature per item");
            }
        }
        15 => round_trip!(d, ClientCommand::decode, ClientCommand::encode),
        16 => round_trip!(d, PreimageAnswer::decode, PreimageAnswer::encode),
        17 => round_trip!(d, LeafProofAnswer::decode, LeafProofAnswer::encode),
        18 => round_trip!(d, LeafIndexAnswer::decode, LeafIndexAnswer::encode),
        19 => round_trip!(d, MoreElementsAnswer::decode, MoreElementsAnswer::encode),
        20 => round_trip!(d, MapCommitment::decode, MapCommitment::encode),
        21 => {
            let _ = PolicyHeader::decode(d);
        }
        22 => {
            round_trip!(d, |b| KeyOrigin::decode(b, false), |k: &KeyOrigin| k
                .encode(false));
            round_trip!(d, |b| KeyOrigin::decode(b, true), |k: &KeyOrigin| k
                .encode(true));
        }
        _ => round_trip!(d, decode_witness_utxo, |(a, s): &(u64, Vec<u8>)| {
            encode_witness_utxo(*a, s)
        }),
    }
}
