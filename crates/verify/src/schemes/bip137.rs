//! Legacy "Bitcoin Signed Message" signatures with BIP-137 header bytes.
//!
//! A signature is 65 bytes, base64: a header byte then r‖s. The header carries the recovery id
//! and the address type the signer meant:
//!
//! | header | meaning |
//! |---|---|
//! | 27–30 | P2PKH, uncompressed key |
//! | 31–34 | P2PKH, compressed key |
//! | 35–38 | P2SH-P2WPKH |
//! | 39–42 | P2WPKH |
//!
//! Our rule: the header range must match the stated address type, except that a compressed
//! P2PKH header (31–34) is also accepted on a P2WPKH or P2SH-P2WPKH address, because Electrum,
//! Coldcard before 5.1 and the Ledger Bitcoin app sign segwit addresses with it. The key
//! recovered from the signature must give exactly the stated address. Low-s is not required:
//! legacy signed messages never required it.

use super::{decode_base64, encode_base64, network_of, secp, SchemeError};
use crate::chains::ScriptType;
use bitcoin::address::AddressData;
use bitcoin::hashes::{hash160, sha256d, Hash, HashEngine};
use bitcoin::secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
use bitcoin::secp256k1::{Message, PublicKey};
use bitcoin::{Address, CompressedPublicKey, NetworkKind, WitnessVersion};

/// The prefix of the legacy signed-message hash, with its length byte (24).
const MAGIC: &[u8] = b"\x18Bitcoin Signed Message:\n";

/// The address type a BIP-137 header range announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bip137Kind {
    /// Headers 27–30: P2PKH of the uncompressed key.
    P2pkhUncompressed,
    /// Headers 31–34: P2PKH of the compressed key (also what Electrum / Ledger use for segwit).
    P2pkhCompressed,
    /// Headers 35–38: P2SH-P2WPKH.
    P2shP2wpkh,
    /// Headers 39–42: P2WPKH.
    P2wpkh,
}

impl Bip137Kind {
    /// The first header byte of the range (recovery id 0).
    pub fn base(self) -> u8 {
        match self {
            Bip137Kind::P2pkhUncompressed => 27,
            Bip137Kind::P2pkhCompressed => 31,
            Bip137Kind::P2shP2wpkh => 35,
            Bip137Kind::P2wpkh => 39,
        }
    }

    /// Split a header byte into its kind and recovery id (0–3).
    pub fn from_header(header: u8) -> Result<(Bip137Kind, u8), SchemeError> {
        let kind = match header {
            27..=30 => Bip137Kind::P2pkhUncompressed,
            31..=34 => Bip137Kind::P2pkhCompressed,
            35..=38 => Bip137Kind::P2shP2wpkh,
            39..=42 => Bip137Kind::P2wpkh,
            _ => return Err(SchemeError::HeaderOutOfRange(header)),
        };
        Ok((kind, (header - 27) & 3))
    }

    /// The header kind BIP-137 assigns to a single-key script type (compressed key for P2PKH).
    pub fn for_script_type(t: ScriptType) -> Option<Bip137Kind> {
        match t {
            ScriptType::P2pkh => Some(Bip137Kind::P2pkhCompressed),
            ScriptType::P2shP2wpkh => Some(Bip137Kind::P2shP2wpkh),
            ScriptType::P2wpkh => Some(Bip137Kind::P2wpkh),
            _ => None,
        }
    }

    /// Whether the signer's key is to be serialized compressed.
    pub fn compressed(self) -> bool {
        self != Bip137Kind::P2pkhUncompressed
    }

    /// A short human name for messages.
    pub fn name(self) -> &'static str {
        match self {
            Bip137Kind::P2pkhUncompressed => "uncompressed-key P2PKH",
            Bip137Kind::P2pkhCompressed => "compressed-key P2PKH",
            Bip137Kind::P2shP2wpkh => "P2SH-P2WPKH",
            Bip137Kind::P2wpkh => "P2WPKH",
        }
    }
}

/// The header byte for a kind and recovery id (`recid` is taken modulo 4).
pub fn bip137_header_for(kind: Bip137Kind, recid: u8) -> u8 {
    kind.base() + (recid & 3)
}

/// The legacy signed-message hash:
/// `sha256d(0x18 "Bitcoin Signed Message:\n" ‖ compactsize(len) ‖ msg)`.
pub fn signed_message_hash(msg: &[u8]) -> [u8; 32] {
    let mut engine = sha256d::Hash::engine();
    engine.input(MAGIC);
    write_compact_size(&mut engine, msg.len() as u64);
    engine.input(msg);
    sha256d::Hash::from_engine(engine).to_byte_array()
}

/// The legacy signed-message hash of a Bitcoin fork with its own magic text, e.g.
/// `"Litecoin Signed Message:\n"` or `"Dogecoin Signed Message:\n"`:
/// `sha256d(compactsize(len(magic)) ‖ magic ‖ compactsize(len(msg)) ‖ msg)`.
/// With `"Bitcoin Signed Message:\n"` it equals [`signed_message_hash`].
pub fn signed_message_hash_with_magic(magic: &str, msg: &[u8]) -> [u8; 32] {
    let mut engine = sha256d::Hash::engine();
    write_compact_size(&mut engine, magic.len() as u64);
    engine.input(magic.as_bytes());
    write_compact_size(&mut engine, msg.len() as u64);
    engine.input(msg);
    sha256d::Hash::from_engine(engine).to_byte_array()
}

fn write_compact_size(engine: &mut impl HashEngine, n: u64) {
    match n {
        0..=0xfc => engine.input(&[n as u8]),
        0xfd..=0xffff => {
            engine.input(&[0xfd]);
            engine.input(&(n as u16).to_le_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            engine.input(&[0xfe]);
            engine.input(&(n as u32).to_le_bytes());
        }
        _ => {
            engine.input(&[0xff]);
            engine.input(&n.to_le_bytes());
        }
    }
}

/// Decode a base64 legacy signature into its header kind, recovery id and r‖s.
pub fn decode_bip137_signature(sig_b64: &str) -> Result<(Bip137Kind, u8, [u8; 64]), SchemeError> {
    use base64::engine::general_purpose::STANDARD;
    use base64::DecodeSliceError;
    use base64::Engine;
    // Decode on the stack: 88 base64 characters never need more than 66 bytes.
    let mut buf = [0u8; 66];
    let len = match STANDARD.decode_slice(sig_b64, &mut buf) {
        Ok(n) => n,
        Err(DecodeSliceError::OutputSliceTooSmall) => decode_base64(sig_b64)?.len(),
        Err(DecodeSliceError::DecodeError(_)) => return Err(SchemeError::NotBase64),
    };
    if len != 65 {
        return Err(SchemeError::BadLength {
            what: "signature",
            expected: 65,
            got: len,
        });
    }
    let bytes = &buf[..65];
    let (kind, recid) = Bip137Kind::from_header(bytes[0])?;
    let mut rs = [0u8; 64];
    rs.copy_from_slice(&bytes[1..]);
    Ok((kind, recid, rs))
}

/// Recover the public key from a 32-byte digest, r‖s and a recovery id (0–3).
pub(crate) fn recover_key(
    digest: [u8; 32],
    rs: &[u8],
    recid: u8,
) -> Result<PublicKey, SchemeError> {
    let id = RecoveryId::from_i32(i32::from(recid)).map_err(|_| SchemeError::Unrecoverable)?;
    let sig = RecoverableSignature::from_compact(rs, id).map_err(|_| SchemeError::Unrecoverable)?;
    secp()
        .recover_ecdsa(&Message::from_digest(digest), &sig)
        .map_err(|_| SchemeError::Unrecoverable)
}

/// Recover the signer's key from a legacy signature; also says whether the header claims a
/// compressed key (headers 31–42) or an uncompressed one (27–30). Says nothing about addresses.
pub fn recover_bip137(msg: &[u8], sig_b64: &str) -> Result<(PublicKey, bool), SchemeError> {
    let (kind, recid, rs) = decode_bip137_signature(sig_b64)?;
    let key = recover_key(signed_message_hash(msg), &rs, recid)?;
    Ok((key, kind.compressed()))
}

/// What a single-key address commits to.
enum Target {
    P2pkh([u8; 20]),
    P2shP2wpkh([u8; 20]),
    P2wpkh([u8; 20]),
}

fn address_kind_name(address: &Address) -> &'static str {
    match address.to_address_data() {
        AddressData::P2pkh { .. } => "P2PKH",
        AddressData::P2sh { .. } => "P2SH",
        AddressData::Segwit { witness_program } => {
            match (witness_program.version(), witness_program.program().len()) {
                (WitnessVersion::V0, 20) => "P2WPKH",
                (WitnessVersion::V0, 32) => "P2WSH",
                (WitnessVersion::V1, 32) => "P2TR",
                _ => "an unknown segwit type",
            }
        }
        _ => "an unknown type",
    }
}

fn target_of(address: &Address) -> Result<Target, SchemeError> {
    match address.to_address_data() {
        AddressData::P2pkh { pubkey_hash } => Ok(Target::P2pkh(pubkey_hash.to_byte_array())),
        AddressData::P2sh { script_hash } => Ok(Target::P2shP2wpkh(script_hash.to_byte_array())),
        AddressData::Segwit { witness_program }
            if witness_program.version() == WitnessVersion::V0
                && witness_program.program().len() == 20 =>
        {
            let mut h = [0u8; 20];
            h.copy_from_slice(witness_program.program().as_bytes());
            Ok(Target::P2wpkh(h))
        }
        _ => Err(SchemeError::Unsupported(format!(
            "address type for a legacy signed message: {} is {} (legacy signatures prove P2PKH, \
             P2SH-P2WPKH and P2WPKH only; use BIP-322)",
            address,
            address_kind_name(address)
        ))),
    }
}

/// Verify a legacy signed message for exactly `address` and return the signer's key.
///
/// Header ranges 27–42 are accepted when they match the address type; a compressed P2PKH
/// header (31–34) is also accepted on a P2WPKH / P2SH-P2WPKH address (Electrum / Ledger).
pub fn verify_bip137(
    address: &Address,
    msg: &[u8],
    sig_b64: &str,
) -> Result<PublicKey, SchemeError> {
    let target = target_of(address)?;
    let (kind, recid, rs) = decode_bip137_signature(sig_b64)?;
    let allowed = matches!(
        (kind, &target),
        (Bip137Kind::P2pkhUncompressed, Target::P2pkh(_))
            | (Bip137Kind::P2pkhCompressed, _)
            | (Bip137Kind::P2shP2wpkh, Target::P2shP2wpkh(_))
            | (Bip137Kind::P2wpkh, Target::P2wpkh(_))
    );
    if !allowed {
        return Err(SchemeError::HeaderTypeMismatch {
            header: bip137_header_for(kind, recid),
            header_kind: kind.name(),
            address_kind: address_kind_name(address),
        });
    }
    let key = recover_key(signed_message_hash(msg), &rs, recid)?;
    let compressed = key.serialize();
    let matches = match &target {
        Target::P2pkh(h) if kind == Bip137Kind::P2pkhUncompressed => {
            hash160::Hash::hash(&key.serialize_uncompressed()).as_byte_array() == h
        }
        Target::P2pkh(h) | Target::P2wpkh(h) => {
            hash160::Hash::hash(&compressed).as_byte_array() == h
        }
        Target::P2shP2wpkh(h) => {
            let mut redeem = [0u8; 22];
            redeem[1] = 0x14;
            redeem[2..].copy_from_slice(hash160::Hash::hash(&compressed).as_byte_array());
            hash160::Hash::hash(&redeem).as_byte_array() == h
        }
    };
    if matches {
        return Ok(key);
    }
    let network = network_of(address);
    let ck = CompressedPublicKey(key);
    let derived = match target {
        Target::P2pkh(_) => {
            let pk = bitcoin::PublicKey {
                compressed: kind.compressed(),
                inner: key,
            };
            Address::p2pkh(pk, NetworkKind::from(network))
        }
        Target::P2wpkh(_) => Address::p2wpkh(&ck, network),
        Target::P2shP2wpkh(_) => Address::p2shwpkh(&ck, NetworkKind::from(network)),
    };
    Err(SchemeError::AddressMismatch {
        derived: derived.to_string(),
        stated: address.to_string(),
    })
}

/// A recoverable signature of the legacy signed-message hash as a 65-byte compact signature
/// (base64) whose header announces `kind`.
pub fn encode_bip137(
    sig: &bitcoin::secp256k1::ecdsa::RecoverableSignature,
    kind: Bip137Kind,
) -> String {
    let (recid, rs) = sig.serialize_compact();
    let mut out = [0u8; 65];
    out[0] = bip137_header_for(kind, recid.to_i32() as u8);
    out[1..].copy_from_slice(&rs);
    encode_base64(&out)
}

#[cfg(any(test, feature = "signing"))]
/// Sign `msg` with a test key as a legacy signed message whose header announces `kind`
/// (simulator and test use; real signatures come from the device).
pub fn sign_bip137(secret: &bitcoin::secp256k1::SecretKey, msg: &[u8], kind: Bip137Kind) -> String {
    let sig =
        secp().sign_ecdsa_recoverable(&Message::from_digest(signed_message_hash(msg)), secret);
    encode_bip137(&sig, kind)
}

/// Rewrite a legacy signature's header to the BIP-137 range of `script_type`, keeping the
/// recovery id, so strict BIP-137 verifiers accept it (the header is not covered by the
/// signature). An uncompressed-key signature stays as it is on P2PKH and is refused for segwit.
pub fn normalize_bip137_header(
    sig_b64: &str,
    script_type: ScriptType,
) -> Result<String, SchemeError> {
    let (kind, recid, rs) = decode_bip137_signature(sig_b64)?;
    let target = Bip137Kind::for_script_type(script_type).ok_or_else(|| {
        SchemeError::Unsupported(format!(
            "script type {script_type} for a legacy signed message"
        ))
    })?;
    let new_kind = match (kind, target) {
        (Bip137Kind::P2pkhUncompressed, Bip137Kind::P2pkhCompressed) => kind,
        (Bip137Kind::P2pkhUncompressed, _) => {
            return Err(SchemeError::HeaderTypeMismatch {
                header: bip137_header_for(kind, recid),
                header_kind: kind.name(),
                address_kind: if target == Bip137Kind::P2wpkh {
                    "P2WPKH"
                } else {
                    "P2SH-P2WPKH"
                },
            })
        }
        _ => target,
    };
    let mut out = [0u8; 65];
    out[0] = bip137_header_for(new_kind, recid);
    out[1..].copy_from_slice(&rs);
    Ok(encode_base64(&out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bitcoin::secp256k1::SecretKey;
    use std::str::FromStr;

    fn key(byte: u8) -> SecretKey {
        SecretKey::from_slice(&[byte; 32]).unwrap()
    }

    fn addr(s: &str) -> Address {
        Address::from_str(s).unwrap().assume_checked()
    }

    fn addresses(sk: &SecretKey) -> (Address, Address, Address, Address) {
        let pk = sk.public_key(secp());
        let ck = CompressedPublicKey(pk);
        let unc = bitcoin::PublicKey {
            compressed: false,
            inner: pk,
        };
        (
            Address::p2pkh(unc, NetworkKind::Main),
            Address::p2pkh(ck, NetworkKind::Main),
            Address::p2shwpkh(&ck, NetworkKind::Main),
            Address::p2wpkh(&ck, bitcoin::Network::Bitcoin),
        )
    }

    #[test]
    fn magic_hash_of_empty_message() {
        // bitcoinjs-message fixture: magicHash("") on bitcoin
        assert_eq!(
            hex::encode(signed_message_hash(b"")),
            "80e795d4a4caadd7047af389d9f7f220562feb6196032e2131e10563352c4bcc"
        );
    }

    #[test]
    fn compact_size_boundaries_match_bitcoin_crate() {
        for len in [0usize, 1, 0xfc, 0xfd, 0xfe, 0xffff, 0x1_0000] {
            let msg = "a".repeat(len);
            let theirs = bitcoin::sign_message::signed_msg_hash(&msg).to_byte_array();
            assert_eq!(signed_message_hash(msg.as_bytes()), theirs, "len {len}");
        }
    }

    #[test]
    fn round_trip_every_kind_and_the_segwit_leniency() {
        let sk = key(7);
        let (unc, p2pkh, p2sh, wpkh) = addresses(&sk);
        let msg = b"ACME proof of reserves";
        let pk = sk.public_key(secp());
        let cases = [
            (Bip137Kind::P2pkhUncompressed, &unc),
            (Bip137Kind::P2pkhCompressed, &p2pkh),
            (Bip137Kind::P2shP2wpkh, &p2sh),
            (Bip137Kind::P2wpkh, &wpkh),
            // Electrum / Ledger: compressed P2PKH header on segwit addresses.
            (Bip137Kind::P2pkhCompressed, &p2sh),
            (Bip137Kind::P2pkhCompressed, &wpkh),
        ];
        for (kind, a) in cases {
            let sig = sign_bip137(&sk, msg, kind);
            assert_eq!(verify_bip137(a, msg, &sig), Ok(pk), "{kind:?} on {a}");
            assert!(verify_bip137(a, b"ACME proof of reserveS", &sig).is_err());
        }
    }

    #[test]
    fn header_type_must_match_address() {
        let sk = key(9);
        let (unc, p2pkh, p2sh, wpkh) = addresses(&sk);
        let msg = b"m";
        let bad = [
            (Bip137Kind::P2pkhUncompressed, &p2sh),
            (Bip137Kind::P2pkhUncompressed, &wpkh),
            (Bip137Kind::P2shP2wpkh, &wpkh),
            (Bip137Kind::P2shP2wpkh, &p2pkh),
            (Bip137Kind::P2wpkh, &p2sh),
            (Bip137Kind::P2wpkh, &unc),
        ];
        for (kind, a) in bad {
            let sig = sign_bip137(&sk, msg, kind);
            let err = verify_bip137(a, msg, &sig).unwrap_err();
            assert!(
                matches!(err, SchemeError::HeaderTypeMismatch { .. }),
                "{kind:?} on {a}: {err}"
            );
        }
        // compressed header on the uncompressed address and vice versa: wrong key form
        let sig = sign_bip137(&sk, msg, Bip137Kind::P2pkhCompressed);
        assert!(matches!(
            verify_bip137(&unc, msg, &sig),
            Err(SchemeError::AddressMismatch { .. })
        ));
        let sig = sign_bip137(&sk, msg, Bip137Kind::P2pkhUncompressed);
        assert!(matches!(
            verify_bip137(&p2pkh, msg, &sig),
            Err(SchemeError::AddressMismatch { .. })
        ));
    }

    #[test]
    fn mismatch_names_the_derived_address() {
        let sk = key(3);
        let (_, _, _, wpkh) = addresses(&sk);
        let other = addr("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4");
        let sig = sign_bip137(&sk, b"x", Bip137Kind::P2wpkh);
        let err = verify_bip137(&other, b"x", &sig).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("recovered key gives {wpkh} not the stated address {other}")
        );
    }

    #[test]
    fn taproot_and_p2wsh_are_unsupported() {
        let sk = key(3);
        let sig = sign_bip137(&sk, b"x", Bip137Kind::P2pkhCompressed);
        for a in [
            "bc1ppv609nr0vr25u07u95waq5lucwfm6tde4nydujnu8npg4q75mr5sxq8lt3",
            "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3",
        ] {
            let err = verify_bip137(&addr(a), b"x", &sig).unwrap_err();
            assert!(err.is_unsupported(), "{err}");
        }
    }

    #[test]
    fn garbage_is_an_error() {
        let a = addr("1PMycacnJaSqwwJqjawXBErnLsZ7RkXUAs");
        assert_eq!(
            verify_bip137(&a, b"", ""),
            Err(SchemeError::BadLength {
                what: "signature",
                expected: 65,
                got: 0
            })
        );
        assert_eq!(
            verify_bip137(&a, b"", "not base64!"),
            Err(SchemeError::NotBase64)
        );
        let sig64 = encode_base64(&[31u8; 64]);
        assert_eq!(
            verify_bip137(&a, b"", &sig64).unwrap_err().to_string(),
            "signature must be 65 bytes, got 64"
        );
        let mut s = [1u8; 65];
        s[0] = 43;
        assert_eq!(
            verify_bip137(&a, b"", &encode_base64(&s)),
            Err(SchemeError::HeaderOutOfRange(43))
        );
        // r = s = 0
        let mut z = [0u8; 65];
        z[0] = 31;
        assert_eq!(
            verify_bip137(&a, b"", &encode_base64(&z)),
            Err(SchemeError::Unrecoverable)
        );
    }

    #[test]
    fn normalize_keeps_recid_and_sets_range() {
        let sk = key(5);
        let (_, _, p2sh, wpkh) = addresses(&sk);
        let sig = sign_bip137(&sk, b"n", Bip137Kind::P2pkhCompressed);
        let (_, recid, rs) = decode_bip137_signature(&sig).unwrap();
        let for_wpkh = normalize_bip137_header(&sig, ScriptType::P2wpkh).unwrap();
        let (k, r, rs2) = decode_bip137_signature(&for_wpkh).unwrap();
        assert_eq!((k, r, rs2), (Bip137Kind::P2wpkh, recid, rs));
        assert!(verify_bip137(&wpkh, b"n", &for_wpkh).is_ok());
        let for_sh = normalize_bip137_header(&sig, ScriptType::P2shP2wpkh).unwrap();
        assert!(verify_bip137(&p2sh, b"n", &for_sh).is_ok());
        assert!(verify_bip137(&wpkh, b"n", &for_sh).is_err());
        let unc = sign_bip137(&sk, b"n", Bip137Kind::P2pkhUncompressed);
        assert!(normalize_bip137_header(&unc, ScriptType::P2wpkh).is_err());
        assert_eq!(
            normalize_bip137_header(&unc, ScriptType::P2pkh).unwrap(),
            unc
        );
        assert!(normalize_bip137_header(&sig, ScriptType::P2tr)
            .unwrap_err()
            .is_unsupported());
    }
}
