//! PSBTs as the Bitcoin app reads them for SIGN_PSBT: version 2 (BIP-370) key-value maps —
//! one global map, one map per input, one per output — each committed as a merkleized map.
//!
//! The host gives a serialized PSBT (version 0 is translated to version 2: the unsigned
//! transaction becomes the global `TX_VERSION` / `FALLBACK_LOCKTIME` / `INPUT_COUNT` /
//! `OUTPUT_COUNT` / `VERSION` fields and each input's `PREVIOUS_TXID` / `OUTPUT_INDEX` /
//! `SEQUENCE` and output's `AMOUNT` / `SCRIPT`; every other field is kept unchanged). A map's
//! keys are `<keytype> || <keydata>` and its values the raw value bytes, without length
//! prefixes. The device yields partial signatures, parsed by [`PartialSignature`].

use super::commands::YieldedSignature;
use crate::codec::{varint, write_varint, DecodeError, Reader};

/// PSBT key types used by the host and the device.
pub mod key {
    /// Global: the unsigned transaction (version 0 only).
    pub const GLOBAL_UNSIGNED_TX: u8 = 0x00;
    /// Global: transaction version (4 bytes LE).
    pub const GLOBAL_TX_VERSION: u8 = 0x02;
    /// Global: fallback lock time (4 bytes LE).
    pub const GLOBAL_FALLBACK_LOCKTIME: u8 = 0x03;
    /// Global: number of inputs (varint).
    pub const GLOBAL_INPUT_COUNT: u8 = 0x04;
    /// Global: number of outputs (varint).
    pub const GLOBAL_OUTPUT_COUNT: u8 = 0x05;
    /// Global: BIP-322 message being signed (the to_sign transaction's message).
    pub const GLOBAL_GENERIC_SIGNED_MESSAGE: u8 = 0x09;
    /// Global: PSBT version (4 bytes LE).
    pub const GLOBAL_VERSION: u8 = 0xFB;
    /// Input: the whole previous transaction.
    pub const IN_NON_WITNESS_UTXO: u8 = 0x00;
    /// Input: the spent output (amount 8 bytes LE, varint-prefixed script).
    pub const IN_WITNESS_UTXO: u8 = 0x01;
    /// Input: sighash type (4 bytes LE).
    pub const IN_SIGHASH_TYPE: u8 = 0x03;
    /// Input: BIP-32 derivation of a 33-byte pubkey (keydata): fingerprint and path.
    pub const IN_BIP32_DERIVATION: u8 = 0x06;
    /// Input: previous txid (32 bytes, internal byte order).
    pub const IN_PREVIOUS_TXID: u8 = 0x0E;
    /// Input: previous output index (4 bytes LE).
    pub const IN_OUTPUT_INDEX: u8 = 0x0F;
    /// Input: sequence (4 bytes LE).
    pub const IN_SEQUENCE: u8 = 0x10;
    /// Input: taproot BIP-32 derivation of an x-only key (keydata): leaf hashes, fingerprint
    /// and path.
    pub const IN_TAP_BIP32_DERIVATION: u8 = 0x16;
    /// Input: taproot internal key (32 bytes).
    pub const IN_TAP_INTERNAL_KEY: u8 = 0x17;
    /// Output: amount (8 bytes LE).
    pub const OUT_AMOUNT: u8 = 0x03;
    /// Output: script (raw bytes).
    pub const OUT_SCRIPT: u8 = 0x04;
}

const MAGIC: &[u8] = b"psbt\xff";

/// One key-value map: keys `<keytype> || <keydata>`, raw values.
pub type PsbtMap = Vec<(Vec<u8>, Vec<u8>)>;

/// The PSBTv2 maps of a PSBT, as SIGN_PSBT commits to them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PsbtV2Maps {
    /// The global map.
    pub global: PsbtMap,
    /// One map per input, in order.
    pub inputs: Vec<PsbtMap>,
    /// One map per output, in order.
    pub outputs: Vec<PsbtMap>,
}

/// The parts of a version-0 unsigned transaction that PSBTv2 spreads over its maps.
struct UnsignedTx {
    version: [u8; 4],
    inputs: Vec<([u8; 32], [u8; 4], [u8; 4])>,
    outputs: Vec<([u8; 8], Vec<u8>)>,
    lock_time: [u8; 4],
}

fn read_unsigned_tx(bytes: &[u8]) -> Result<UnsignedTx, DecodeError> {
    let mut r = Reader::new(bytes);
    let version = r.array("unsigned tx version")?;
    let n_in = r.varint("unsigned tx input count")?;
    if n_in == 0 {
        return Err(DecodeError::invalid(
            "unsigned tx",
            "no inputs (or a segwit serialization, which a PSBT forbids)",
        ));
    }
    let mut inputs = Vec::new();
    for _ in 0..n_in {
        let txid = r.array("unsigned tx prevout txid")?;
        let vout = r.array("unsigned tx prevout index")?;
        let script_len = r.varint("unsigned tx scriptSig length")?;
        if script_len != 0 {
            return Err(DecodeError::invalid(
                "unsigned tx scriptSig",
                "must be empty in a PSBT",
            ));
        }
        inputs.push((txid, vout, r.array("unsigned tx sequence")?));
    }
    let n_out = r.varint("unsigned tx output count")?;
    let mut outputs = Vec::new();
    for _ in 0..n_out {
        let amount = r.array("unsigned tx output amount")?;
        let script = read_prefixed(&mut r, "unsigned tx output script")?.to_vec();
        outputs.push((amount, script));
    }
    let lock_time = r.array("unsigned tx lock time")?;
    r.finish()?;
    Ok(UnsignedTx {
        version,
        inputs,
        outputs,
        lock_time,
    })
}

fn read_prefixed<'a>(r: &mut Reader<'a>, field: &'static str) -> Result<&'a [u8], DecodeError> {
    let n = r.varint(field)?;
    r.bytes(usize::try_from(n).unwrap_or(usize::MAX), field)
}

/// Reads one map (pairs until the 0x00 separator); duplicate keys are refused.
fn read_map(r: &mut Reader<'_>, what: &'static str) -> Result<PsbtMap, DecodeError> {
    let mut map: PsbtMap = Vec::new();
    loop {
        let key = read_prefixed(r, what)?;
        if key.is_empty() {
            return Ok(map);
        }
        let value = read_prefixed(r, what)?;
        if map.iter().any(|(k, _)| k == key) {
            return Err(DecodeError::invalid(what, "duplicate key"));
        }
        map.push((key.to_vec(), value.to_vec()));
    }
}

fn get<'m>(map: &'m PsbtMap, key: &[u8]) -> Option<&'m [u8]> {
    map.iter()
        .find(|(k, _)| k.as_slice() == key)
        .map(|(_, v)| v.as_slice())
}

fn add_new(
    map: &mut PsbtMap,
    key_type: u8,
    value: Vec<u8>,
    what: &'static str,
) -> Result<(), DecodeError> {
    if get(map, &[key_type]).is_some() {
        return Err(DecodeError::invalid(
            what,
            format!("version-2 field {key_type:#04x} in a version-0 PSBT"),
        ));
    }
    map.push((vec![key_type], value));
    Ok(())
}

/// A count field of a version-2 global map (varint value).
fn count(global: &PsbtMap, key_type: u8, what: &'static str) -> Result<u64, DecodeError> {
    let v = get(global, &[key_type]).ok_or_else(|| DecodeError::invalid(what, "missing"))?;
    let mut r = Reader::new(v);
    let n = r.varint(what)?;
    r.finish()?;
    Ok(n)
}

impl PsbtV2Maps {
    /// Splits a serialized PSBT (version 0 or 2) into its version-2 maps.
    pub fn from_psbt(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        if r.bytes(MAGIC.len(), "PSBT magic")? != MAGIC {
            return Err(DecodeError::invalid("PSBT magic", "not `psbt\\xff`"));
        }
        let mut global = read_map(&mut r, "PSBT global map")?;
        let version = match get(&global, &[key::GLOBAL_VERSION]) {
            None => 0,
            Some(v) => u32::from_le_bytes(
                v.try_into()
                    .map_err(|_| DecodeError::invalid("PSBT version", "not 4 bytes"))?,
            ),
        };
        let tx = match (version, get(&global, &[key::GLOBAL_UNSIGNED_TX])) {
            (0, Some(t)) => Some(read_unsigned_tx(t)?),
            (0, None) => {
                return Err(DecodeError::invalid(
                    "PSBT global map",
                    "version 0 without an unsigned transaction",
                ))
            }
            (2, None) => None,
            (v, _) => {
                return Err(DecodeError::invalid(
                    "PSBT version",
                    format!("{v} (expected 0, or 2 without an unsigned transaction)"),
                ))
            }
        };
        let (n_in, n_out) = match &tx {
            Some(t) => (t.inputs.len() as u64, t.outputs.len() as u64),
            None => (
                count(&global, key::GLOBAL_INPUT_COUNT, "PSBT input count")?,
                count(&global, key::GLOBAL_OUTPUT_COUNT, "PSBT output count")?,
            ),
        };
        // Every map takes at least its separator byte.
        if n_in.saturating_add(n_out) > r.remaining() as u64 {
            return Err(DecodeError::invalid(
                "PSBT",
                "fewer input/output maps than the transaction has inputs/outputs",
            ));
        }
        let mut inputs = (0..n_in)
            .map(|_| read_map(&mut r, "PSBT input map"))
            .collect::<Result<Vec<_>, _>>()?;
        let mut outputs = (0..n_out)
            .map(|_| read_map(&mut r, "PSBT output map"))
            .collect::<Result<Vec<_>, _>>()?;
        r.finish()?;
        if let Some(tx) = tx {
            global.retain(|(k, _)| k.as_slice() != [key::GLOBAL_UNSIGNED_TX]);
            let g = "PSBT global map";
            add_new(&mut global, key::GLOBAL_TX_VERSION, tx.version.to_vec(), g)?;
            add_new(
                &mut global,
                key::GLOBAL_FALLBACK_LOCKTIME,
                tx.lock_time.to_vec(),
                g,
            )?;
            add_new(&mut global, key::GLOBAL_INPUT_COUNT, varint(n_in), g)?;
            add_new(&mut global, key::GLOBAL_OUTPUT_COUNT, varint(n_out), g)?;
            add_new(
                &mut global,
                key::GLOBAL_VERSION,
                2u32.to_le_bytes().to_vec(),
                g,
            )?;
            for (map, (txid, vout, seq)) in inputs.iter_mut().zip(tx.inputs) {
                let w = "PSBT input map";
                add_new(map, key::IN_PREVIOUS_TXID, txid.to_vec(), w)?;
                add_new(map, key::IN_OUTPUT_INDEX, vout.to_vec(), w)?;
                add_new(map, key::IN_SEQUENCE, seq.to_vec(), w)?;
            }
            for (map, (amount, script)) in outputs.iter_mut().zip(tx.outputs) {
                let w = "PSBT output map";
                add_new(map, key::OUT_AMOUNT, amount.to_vec(), w)?;
                add_new(map, key::OUT_SCRIPT, script, w)?;
            }
        }
        Ok(PsbtV2Maps {
            global,
            inputs,
            outputs,
        })
    }
}

/// A witness UTXO value: amount and scriptPubKey.
pub fn decode_witness_utxo(value: &[u8]) -> Result<(u64, Vec<u8>), DecodeError> {
    let mut r = Reader::new(value);
    let amount = u64::from_le_bytes(r.array("witness utxo amount")?);
    let script = read_prefixed(&mut r, "witness utxo script")?.to_vec();
    r.finish()?;
    Ok((amount, script))
}

/// Encodes a witness UTXO value.
pub fn encode_witness_utxo(amount: u64, script: &[u8]) -> Vec<u8> {
    let mut out = amount.to_le_bytes().to_vec();
    write_varint(&mut out, script.len() as u64);
    out.extend_from_slice(script);
    out
}

/// A key origin: master fingerprint and path (the value of a BIP-32 derivation field; for
/// taproot, after the leaf hashes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyOrigin {
    /// Master key fingerprint.
    pub fingerprint: [u8; 4],
    /// Derivation steps.
    pub path: Vec<u32>,
    /// Tapleaf hashes (taproot derivations only; empty for a key-path key).
    pub leaf_hashes: Vec<[u8; 32]>,
}

/// Deepest derivation path read from a PSBT.
const MAX_ORIGIN_DEPTH: usize = 16;

impl KeyOrigin {
    /// Parses a `PSBT_IN_BIP32_DERIVATION` value (`taproot = false`) or a
    /// `PSBT_IN_TAP_BIP32_DERIVATION` value (`taproot = true`).
    pub fn decode(value: &[u8], taproot: bool) -> Result<Self, DecodeError> {
        let mut r = Reader::new(value);
        let mut leaf_hashes = Vec::new();
        if taproot {
            let n = r.varint("tapleaf hash count")?;
            if n > 128 {
                return Err(DecodeError::invalid("tapleaf hash count", "more than 128"));
            }
            for _ in 0..n {
                leaf_hashes.push(r.array("tapleaf hash")?);
            }
        }
        let fingerprint = r.array("key origin fingerprint")?;
        let rest = r.rest();
        if !rest.len().is_multiple_of(4) || rest.len() / 4 > MAX_ORIGIN_DEPTH {
            return Err(DecodeError::invalid(
                "key origin path",
                "not a whole number of at most 16 steps",
            ));
        }
        let path = rest
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Ok(KeyOrigin {
            fingerprint,
            path,
            leaf_hashes,
        })
    }

    /// Wire form (with the leaf-hash list when `taproot`).
    pub fn encode(&self, taproot: bool) -> Vec<u8> {
        let mut out = Vec::new();
        if taproot {
            write_varint(&mut out, self.leaf_hashes.len() as u64);
            for h in &self.leaf_hashes {
                out.extend_from_slice(h);
            }
        }
        out.extend_from_slice(&self.fingerprint);
        for s in &self.path {
            out.extend_from_slice(&s.to_le_bytes());
        }
        out
    }
}

/// A partial signature yielded by SIGN_PSBT, by kind of spend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartialSignature {
    /// Legacy or segwit v0: compressed pubkey, DER signature followed by the sighash byte.
    Ecdsa {
        /// Compressed pubkey.
        pubkey: [u8; 33],
        /// DER signature || sighash byte.
        signature: Vec<u8>,
    },
    /// Taproot key path: the tweaked (output) x-only key and a 64-byte Schnorr signature
    /// (65 with a non-default sighash byte).
    TaprootKeyPath {
        /// x-only output key.
        key: [u8; 32],
        /// Schnorr signature.
        signature: Vec<u8>,
    },
    /// Taproot script path: x-only key, tapleaf hash and Schnorr signature.
    TaprootScriptPath {
        /// x-only key in the leaf.
        key: [u8; 32],
        /// Tapleaf hash.
        leaf_hash: [u8; 32],
        /// Schnorr signature.
        signature: Vec<u8>,
    },
}

fn check_schnorr(sig: &[u8]) -> Result<(), DecodeError> {
    match sig.len() {
        64 => Ok(()),
        65 if matches!(sig[64], 0x01..=0x03 | 0x81..=0x83) => Ok(()),
        65 => Err(DecodeError::invalid(
            "signature",
            format!("bad taproot sighash byte {:#04x}", sig[64]),
        )),
        n => Err(DecodeError::invalid(
            "signature",
            format!("{n} bytes: a Schnorr signature has 64 or 65"),
        )),
    }
}

/// Strict DER (BIP-66 shape) followed by one sighash byte.
fn check_der_with_sighash(sig: &[u8]) -> Result<(), DecodeError> {
    let bad = |why: &str| Err(DecodeError::invalid("signature", format!("not DER: {why}")));
    let Some((&hash_type, der)) = sig.split_last() else {
        return bad("empty");
    };
    if !matches!(hash_type & 0x7F, 0x01..=0x03) {
        return bad("unknown sighash byte");
    }
    if der.len() < 8 || der.len() > 72 || der[0] != 0x30 || der[1] as usize != der.len() - 2 {
        return bad("wrong sequence header or length");
    }
    let int = |at: usize| -> Option<usize> {
        let len = *der.get(at + 1)? as usize;
        let body = der.get(at + 2..at + 2 + len)?;
        let minimal = !body.is_empty()
            && body[0] & 0x80 == 0
            && !(body.len() > 1 && body[0] == 0 && body[1] & 0x80 == 0);
        (der[at] == 0x02 && minimal).then_some(at + 2 + len)
    };
    match int(2).and_then(int) {
        Some(end) if end == der.len() => Ok(()),
        _ => bad("malformed r or s"),
    }
}

impl PartialSignature {
    /// Interprets a yielded item (its input index is the caller's).
    pub fn from_yielded(y: &YieldedSignature) -> Result<Self, DecodeError> {
        let k = &y.pubkey_augm;
        let signature = y.signature.clone();
        match k.len() {
            33 => {
                if k[0] != 0x02 && k[0] != 0x03 {
                    return Err(DecodeError::invalid("pubkey", "not a compressed key"));
                }
                check_der_with_sighash(&signature)?;
                Ok(Self::Ecdsa {
                    pubkey: k.as_slice().try_into().expect("33 bytes"),
                    signature,
                })
            }
            32 => {
                check_schnorr(&signature)?;
                Ok(Self::TaprootKeyPath {
                    key: k.as_slice().try_into().expect("32 bytes"),
                    signature,
                })
            }
            64 => {
                check_schnorr(&signature)?;
                Ok(Self::TaprootScriptPath {
                    key: k[..32].try_into().expect("32 bytes"),
                    leaf_hash: k[32..].try_into().expect("32 bytes"),
                    signature,
                })
            }
            n => Err(DecodeError::invalid(
                "pubkey",
                format!("{n} bytes (expected 33, 32 or 64)"),
            )),
        }
    }

    /// The yielded item for input `input_index`.
    pub fn to_yielded(&self, input_index: u64) -> YieldedSignature {
        let (pubkey_augm, signature) = match self {
            Self::Ecdsa { pubkey, signature } => (pubkey.to_vec(), signature),
            Self::TaprootKeyPath { key, signature } => (key.to_vec(), signature),
            Self::TaprootScriptPath {
                key,
                leaf_hash,
                signature,
            } => ([&key[..], &leaf_hash[..]].concat(), signature),
        };
        YieldedSignature {
            input_index,
            pubkey_augm,
            signature: signature.clone(),
        }
    }
}

/// A signature yielded by a Bitcoin app before 2.1.0 (SIGN_PSBT protocol 0):
/// `<input index varint> <signature>`, without the key (app-bitcoin-new 2.0.x
/// `sign_sighash_ecdsa` / `sign_sighash_schnorr`; from 2.1.0 the key is sent when P2 ≥ 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BareYieldedSignature {
    /// Input index.
    pub input_index: u64,
    /// DER signature + sighash byte, or 64/65-byte Schnorr signature.
    pub signature: Vec<u8>,
}

impl BareYieldedSignature {
    /// Wire form.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        write_varint(&mut out, self.input_index);
        out.extend_from_slice(&self.signature);
        out
    }

    /// Parses a yielded item of protocol 0.
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let input_index = r.varint("input index")?;
        let signature = r.rest().to_vec();
        if signature.is_empty() {
            return Err(DecodeError::invalid("signature", "empty"));
        }
        Ok(BareYieldedSignature {
            input_index,
            signature,
        })
    }
}

/// The key a bare (protocol 0) signature belongs to, which the host knows from the PSBT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BareSignatureKey {
    /// A segwit v0 or legacy input: the compressed key of the input's own derivation.
    Ecdsa([u8; 33]),
    /// A taproot key-path input: the output key of the spent script.
    TaprootKeyPath([u8; 32]),
}

impl PartialSignature {
    /// A bare signature completed with the key the input implies; checked like a full item.
    pub fn from_bare(key: BareSignatureKey, signature: Vec<u8>) -> Result<Self, DecodeError> {
        let pubkey_augm = match key {
            BareSignatureKey::Ecdsa(k) => k.to_vec(),
            BareSignatureKey::TaprootKeyPath(k) => k.to_vec(),
        };
        Self::from_yielded(&YieldedSignature {
            input_index: 0,
            pubkey_augm,
            signature,
        })
    }

    /// The item an app before 2.1.0 yields for this signature on input `input_index`.
    pub fn to_bare_yielded(&self, input_index: u64) -> BareYieldedSignature {
        let signature = match self {
            Self::Ecdsa { signature, .. }
            | Self::TaprootKeyPath { signature, .. }
            | Self::TaprootScriptPath { signature, .. } => signature.clone(),
        };
        BareYieldedSignature {
            input_index,
            signature,
        }
    }
}

/// Parses every item yielded during a SIGN_PSBT into (input index, partial signature).
pub fn parse_yielded_signatures(
    yielded: &[Vec<u8>],
) -> Result<Vec<(u64, PartialSignature)>, DecodeError> {
    yielded
        .iter()
        .map(|item| {
            let y = YieldedSignature::decode(item)?;
            Ok((y.input_index, PartialSignature::from_yielded(&y)?))
        })
        .collect()
}

#[cfg(test)]
mod bare_tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bare_items_round_trip_and_take_the_hosts_key() {
        let mut sig = vec![7u8; 65];
        sig[64] = 0x01;
        let full = PartialSignature::TaprootKeyPath {
            key: [9; 32],
            signature: sig.clone(),
        };
        let bare = full.to_bare_yielded(3);
        let wire = bare.encode();
        assert_eq!(wire[0], 3);
        assert_eq!(&wire[1..], &sig[..]);
        let back = BareYieldedSignature::decode(&wire).unwrap();
        assert_eq!(back, bare);
        assert_eq!(
            PartialSignature::from_bare(BareSignatureKey::TaprootKeyPath([9; 32]), back.signature)
                .unwrap(),
            full
        );
        // A Schnorr signature of a wrong length is refused as in full items.
        assert!(PartialSignature::from_bare(
            BareSignatureKey::TaprootKeyPath([9; 32]),
            vec![1; 63]
        )
        .is_err());
        assert!(BareYieldedSignature::decode(&[0]).is_err());
    }

    proptest! {
        #[test]
        fn bare_garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..120)) {
            if let Ok(y) = BareYieldedSignature::decode(&b) {
                let _ = PartialSignature::from_bare(BareSignatureKey::Ecdsa([2; 33]), y.signature.clone());
                let _ = PartialSignature::from_bare(BareSignatureKey::TaprootKeyPath([2; 32]), y.signature);
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    fn b64(s: &str) -> Vec<u8> {
        // Minimal base64 decoder for the test vectors (no padding tricks needed).
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = Vec::new();
        let (mut acc, mut bits) = (0u32, 0);
        for c in s.bytes().filter(|c| *c != b'=') {
            acc = acc << 6 | A.iter().position(|a| *a == c).unwrap() as u32;
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                out.push((acc >> bits) as u8);
            }
        }
        out
    }

    /// A P2SH-P2WPKH spend from LedgerHQ's Rust client test data (sign_psbt.json, first
    /// case): one input, two outputs, version 0.
    pub(crate) const LEDGER_SH_WPKH_PSBT: &str = "cHNidP8BAHICAAAAAXT0yaTajRSLu1boaayjaQ3aDOOsvPgWCcyUbRtvFkrOAQAAAAD9////AlDUEgAAAAAAFgAUMxjgT65sEq/LAJxpzVflslBK5rT1cQgAAAAAABepFG1IUtrzpUCfdyFtu46j1ZIxLX7phwAAAAAAAQCMAgAAAAHQ47WR3EhO23HqtmoOmUcxAH/rfQgqUMdC8CPqCQFNHgEAAAAXFgAU4xDQRPiNqxtCdp5KhMrwg2P57MH9////AmDqAAAAAAAAGXapFEWIHtDTWHVQ95SEe3yLn6A+3Qo8iKx/ZhsAAAAAABepFPBGTZ+g6kLYDk1fFFeIOYLiO47shwAAAAABASB/ZhsAAAAAABepFPBGTZ+g6kLYDk1fFFeIOYLiO47shwEEFgAUyweAh+/0haqiJg6UpT19bRxd0VEiBgJLo7d9kz3p+j+VgzSMQPPKry7/rVtuJE7Oirv8xyRPZxj1rML9MQAAgAEAAIAAAACAAQAAAAAAAAAAAAEAFgAUTLRHxTu3NSNPKxOQ1F2dhksVdtMiAgOKsR70a0i1XwDFPv3fOM3f+dYzW8r1L6n5k4R/LM0vVxj1rML9MQAAgAEAAIAAAACAAQAAAAIAAAAA";

    pub(crate) fn ledger_sh_wpkh_psbt() -> Vec<u8> {
        b64(LEDGER_SH_WPKH_PSBT)
    }

    #[test]
    fn v0_is_translated_to_v2() {
        let maps = PsbtV2Maps::from_psbt(&ledger_sh_wpkh_psbt()).unwrap();
        assert_eq!((maps.inputs.len(), maps.outputs.len()), (1, 2));
        let g: Vec<u8> = maps.global.iter().map(|(k, _)| k[0]).collect();
        assert_eq!(g, [0x02, 0x03, 0x04, 0x05, 0xFB]);
        assert_eq!(get(&maps.global, &[0x02]), Some(&[2, 0, 0, 0][..]));
        assert_eq!(
            get(&maps.inputs[0], &[key::IN_OUTPUT_INDEX]),
            Some(&[1, 0, 0, 0][..])
        );
        assert_eq!(
            get(&maps.inputs[0], &[key::IN_SEQUENCE]),
            Some(&[0xfd, 0xff, 0xff, 0xff][..])
        );
        let (amount, script) =
            decode_witness_utxo(get(&maps.inputs[0], &[key::IN_WITNESS_UTXO]).unwrap()).unwrap();
        assert_eq!((amount, script.len(), script[0]), (1_795_711, 23, 0xa9));
        assert_eq!(
            get(&maps.outputs[0], &[key::OUT_AMOUNT]),
            Some(&1_234_000u64.to_le_bytes()[..])
        );
        // The BIP-32 derivation of the input: f5acc2fd/49'/1'/0'/1/0.
        let (k, v) = maps.inputs[0]
            .iter()
            .find(|(k, _)| k[0] == key::IN_BIP32_DERIVATION)
            .unwrap();
        assert_eq!(k.len(), 34);
        let o = KeyOrigin::decode(v, false).unwrap();
        assert_eq!(o.fingerprint, [0xf5, 0xac, 0xc2, 0xfd]);
        assert_eq!(o.path, [0x8000_0031, 0x8000_0001, 0x8000_0000, 1, 0]);
        assert_eq!(o.encode(false), *v);
        // A version-2 PSBT built from these maps reads back unchanged.
        let mut v2 = MAGIC.to_vec();
        for map in std::iter::once(&maps.global)
            .chain(&maps.inputs)
            .chain(&maps.outputs)
        {
            for (k, v) in map {
                write_varint(&mut v2, k.len() as u64);
                v2.extend_from_slice(k);
                write_varint(&mut v2, v.len() as u64);
                v2.extend_from_slice(v);
            }
            v2.push(0);
        }
        assert_eq!(PsbtV2Maps::from_psbt(&v2).unwrap(), maps);
    }

    #[test]
    fn bad_psbts_are_named() {
        let good = ledger_sh_wpkh_psbt();
        assert!(matches!(
            PsbtV2Maps::from_psbt(b"psbu\xff\x00"),
            Err(DecodeError::Invalid {
                field: "PSBT magic",
                ..
            })
        ));
        // Cut off inside the last output map.
        assert!(PsbtV2Maps::from_psbt(&good[..good.len() - 1]).is_err());
        // A trailing byte.
        let mut long = good.clone();
        long.push(0);
        assert_eq!(
            PsbtV2Maps::from_psbt(&long),
            Err(DecodeError::TrailingBytes(1))
        );
        // Version 0 without the unsigned transaction.
        assert!(matches!(
            PsbtV2Maps::from_psbt(b"psbt\xff\x00"),
            Err(DecodeError::Invalid {
                field: "PSBT global map",
                ..
            })
        ));
    }

    #[test]
    fn partial_signatures() {
        // The ECDSA signature Ledger's app yielded for the P2SH-P2WPKH vector above.
        let y = hex::decode("0021024ba3b77d933de9fa3f9583348c40f3caaf2effad5b6e244ece8abbfcc7244f6730440220720722b08489c2a50d10edea8e21880086c8e8f22889a16815e306daeea4665b02203fcf453fa490b76cf4f929714065fc90a519b7b97ab18914f9451b5a4b45241201").unwrap();
        let parsed = parse_yielded_signatures(std::slice::from_ref(&y)).unwrap();
        let (0, PartialSignature::Ecdsa { pubkey, signature }) = &parsed[0] else {
            panic!("{parsed:?}")
        };
        assert_eq!(pubkey[0], 0x02);
        assert_eq!(signature.len(), 71);
        assert_eq!(parsed[0].1.to_yielded(0).encode(), y);
        // A taproot script-path signature from the same data (tr(@0/**,pk(@1/**))).
        let y = hex::decode("00406b16e8c1f979fa4cc0f05b6a300affff941459b6f20de77de55b0160ef8e4cac092eda033617e210ee7f7d0e378a404aea1c48b56aa103022becf7746e4700a443493158062db6905dea9ba3ae6c14e1e155ba47aa1cfb35282052ac4dbc1c6718cda5c911a11599a869557ab34242cb0a227836e98976061530ca4de49eed9e01").unwrap();
        let parsed = parse_yielded_signatures(std::slice::from_ref(&y)).unwrap();
        assert!(matches!(
            &parsed[0].1,
            PartialSignature::TaprootScriptPath { signature, .. } if signature.len() == 65
        ));
        assert_eq!(parsed[0].1.to_yielded(0).encode(), y);
        // Taproot key path: 32-byte key, 64-byte signature.
        let kp = PartialSignature::TaprootKeyPath {
            key: [7; 32],
            signature: vec![1; 64],
        };
        let y = kp.to_yielded(3);
        assert_eq!(y.encode()[..2], [3, 32]);
        assert_eq!(
            PartialSignature::from_yielded(&YieldedSignature::decode(&y.encode()).unwrap()),
            Ok(kp)
        );
        // Wrong lengths and bytes are named.
        for (key, sig, field) in [
            (vec![7; 32], vec![1; 63], "signature"),
            (
                [vec![7; 32], vec![1; 32]].concat(),
                vec![1; 66],
                "signature",
            ),
            (vec![7; 32], [vec![1; 64], vec![0]].concat(), "signature"),
            (vec![4; 33], vec![0x30; 70], "pubkey"),
            (vec![2; 33], vec![0x30; 70], "signature"),
            (vec![2; 20], vec![0x30; 70], "pubkey"),
        ] {
            let y = YieldedSignature {
                input_index: 0,
                pubkey_augm: key,
                signature: sig,
            };
            assert!(
                matches!(PartialSignature::from_yielded(&y), Err(DecodeError::Invalid { field: f, .. }) if f == field),
                "{y:?}"
            );
        }
    }

    proptest! {
        #[test]
        fn garbage_never_panics(b in proptest::collection::vec(any::<u8>(), 0..300), taproot: bool) {
            let _ = PsbtV2Maps::from_psbt(&b);
            let mut with_magic = MAGIC.to_vec();
            with_magic.extend_from_slice(&b);
            let _ = PsbtV2Maps::from_psbt(&with_magic);
            let _ = decode_witness_utxo(&b);
            let _ = KeyOrigin::decode(&b, taproot);
            let _ = parse_yielded_signatures(std::slice::from_ref(&b));
        }

        #[test]
        fn mutated_psbt_never_panics(at in 0usize..400, byte: u8) {
            let mut p = ledger_sh_wpkh_psbt();
            let i = at % p.len();
            p[i] = byte;
            let _ = PsbtV2Maps::from_psbt(&p);
            p.truncate(i);
            prop_assert!(PsbtV2Maps::from_psbt(&p).is_err());
        }

        #[test]
        fn origin_roundtrip(fpr: [u8; 4], path in proptest::collection::vec(any::<u32>(), 0..16), leaves in proptest::collection::vec(any::<[u8; 32]>(), 0..4), taproot: bool) {
            let o = KeyOrigin { fingerprint: fpr, path, leaf_hashes: if taproot { leaves } else { vec![] } };
            prop_assert_eq!(KeyOrigin::decode(&o.encode(taproot), taproot).unwrap(), o);
        }
    }
}
