//! TON wallet addresses from an ed25519 public key, offline.
//!
//! A TON address is `workchain ‖ hash`, where the hash is the representation hash of the
//! wallet contract's `StateInit` cell (its code and its initial data, which holds the key). So
//! a key gives one address per kind of wallet contract. OKX's verifier accepts two kinds, and
//! so do we:
//!
//! | wallet | initial data (bits) |
//! |---|---|
//! | v3r2 | seqno 0 (32) ‖ subwallet 698983191 (32) ‖ key (256) |
//! | highload v3 | key (256) ‖ subwallet 4269 (32) ‖ 0 (66: two empty dicts, last clean time) ‖ timeout 43200 (22) |
//!
//! The code cells enter the `StateInit` hash only by their representation hash and depth,
//! which are properties of the published contracts (constants below). The v3r2 derivation is
//! checked in the tests against tonutils-go's published vector, and the highload v3 one
//! against a real row of OKX's proof-of-reserves file.
//!
//! Cell hashing (TON whitepaper §3.1.4, ordinary cells of level 0): `sha256(d1 ‖ d2 ‖ data ‖
//! depth(ref)… ‖ hash(ref)…)` with `d1` = number of references, `d2` = ⌊bits/8⌋ + ⌈bits/8⌉,
//! the data padded with a 1 bit and zeros when `bits` is not a multiple of 8, depths as
//! 2-byte big-endian numbers, a cell's depth 0 without references, else 1 + the deepest.
//!
//! User-friendly addresses are 36 bytes in base64 (standard or URL-safe): a flag byte (0x11
//! bounceable, 0x51 non-bounceable, +0x80 testnet-only), the workchain, the 32-byte hash,
//! and CRC16-XMODEM of those 34 bytes. The raw form is `workchain:hex`.

use super::SchemeError;
use base64::Engine;
use sha2::{Digest, Sha256};

/// A cell already hashed: what a parent cell needs of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellRef {
    /// Representation hash.
    pub hash: [u8; 32],
    /// Depth (0 for a cell without references).
    pub depth: u16,
}

/// An ordinary cell being built: up to 1023 bits and 4 references.
#[derive(Debug, Default, Clone)]
pub struct CellBuilder {
    bytes: Vec<u8>,
    bits: usize,
    refs: Vec<CellRef>,
}

impl CellBuilder {
    /// An empty cell.
    pub fn new() -> CellBuilder {
        CellBuilder::default()
    }

    /// Appends the low `n` bits of `value`, most significant first (`n` ≤ 64).
    pub fn uint(mut self, value: u64, n: usize) -> CellBuilder {
        for i in (0..n).rev() {
            let bit = i < 64 && (value >> i) & 1 == 1;
            self.push_bit(bit);
        }
        self
    }

    /// Appends whole bytes.
    pub fn bytes(mut self, data: &[u8]) -> CellBuilder {
        for &b in data {
            self = self.uint(u64::from(b), 8);
        }
        self
    }

    /// Adds a reference to a child cell.
    pub fn reference(mut self, child: CellRef) -> CellBuilder {
        self.refs.push(child);
        self
    }

    fn push_bit(&mut self, bit: bool) {
        if self.bits.is_multiple_of(8) {
            self.bytes.push(0);
        }
        if bit {
            let last = self.bytes.len() - 1;
            self.bytes[last] |= 0x80 >> (self.bits % 8);
        }
        self.bits += 1;
    }

    /// The cell's representation hash and depth.
    pub fn finish(self) -> CellRef {
        debug_assert!(
            self.bits <= 1023 && self.refs.len() <= 4,
            "not a valid cell"
        );
        let mut data = self.bytes;
        if !self.bits.is_multiple_of(8) {
            // Completion tag: a 1 bit after the last data bit.
            let last = data.len() - 1;
            data[last] |= 0x80 >> (self.bits % 8);
        }
        let mut h = Sha256::new();
        h.update([
            self.refs.len() as u8,
            (self.bits / 8 + self.bits.div_ceil(8)) as u8,
        ]);
        h.update(&data);
        for r in &self.refs {
            h.update(r.depth.to_be_bytes());
        }
        for r in &self.refs {
            h.update(r.hash);
        }
        let depth = self.refs.iter().map(|r| r.depth + 1).max().unwrap_or(0);
        CellRef {
            hash: h.finalize().into(),
            depth,
        }
    }
}

/// The kinds of wallet contract whose address we derive from a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TonWallet {
    /// Wallet v3 revision 2, default subwallet 698983191.
    V3R2,
    /// Highload wallet v3, subwallet 4269, message timeout 43,200 s (what OKX uses).
    HighloadV3,
}

impl TonWallet {
    /// Every kind, in the order they are tried.
    pub const ALL: [TonWallet; 2] = [TonWallet::V3R2, TonWallet::HighloadV3];

    /// Name as wallets and explorers spell it.
    pub fn name(self) -> &'static str {
        match self {
            TonWallet::V3R2 => "wallet v3r2",
            TonWallet::HighloadV3 => "highload wallet v3",
        }
    }

    /// The contract's code cell: representation hash and depth of the published code.
    fn code(self) -> CellRef {
        let (hex, depth) = match self {
            TonWallet::V3R2 => (
                "84dafa449f98a6987789ba232358072bc0f76dc4524002a5d0918b9a75d2d599",
                0,
            ),
            TonWallet::HighloadV3 => (
                "11acad7955844090f283bf238bc1449871f783e7cc0979408d3f4859483e8525",
                6,
            ),
        };
        let mut hash = [0u8; 32];
        hex::decode_to_slice(hex, &mut hash).expect("constant hex");
        CellRef { hash, depth }
    }

    /// The contract's initial data for `key`.
    fn data(self, key: &[u8; 32]) -> CellRef {
        match self {
            TonWallet::V3R2 => CellBuilder::new()
                .uint(0, 32)
                .uint(698_983_191, 32)
                .bytes(key)
                .finish(),
            TonWallet::HighloadV3 => CellBuilder::new()
                .bytes(key)
                .uint(4269, 32)
                .uint(0, 2)
                .uint(0, 64)
                .uint(43_200, 22)
                .finish(),
        }
    }

    /// The account hash (workchain 0) of this wallet for `key`: the `StateInit` cell's hash.
    pub fn account_hash(self, key: &[u8; 32]) -> [u8; 32] {
        // StateInit: no split_depth, no special, code present, data present, no library.
        CellBuilder::new()
            .uint(0b00110, 5)
            .reference(self.code())
            .reference(self.data(key))
            .finish()
            .hash
    }
}

/// A parsed TON address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TonAddress {
    /// Workchain (0 basechain, -1 masterchain).
    pub workchain: i8,
    /// Account hash.
    pub hash: [u8; 32],
    /// Bounceable flag of a user-friendly address (`None` for the raw form).
    pub bounceable: Option<bool>,
    /// Testnet-only flag of a user-friendly address.
    pub testnet: bool,
}

/// CRC16-XMODEM, the checksum of user-friendly addresses.
pub(crate) fn crc16_xmodem(data: &[u8]) -> u16 {
    let mut crc = 0u16;
    for &b in data {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// Parses a user-friendly (base64 or base64url, 48 characters, checksummed) or raw
/// (`workchain:64 hex digits`) TON address.
pub fn parse_ton_address(address: &str) -> Result<TonAddress, SchemeError> {
    let bad = |reason: &str| SchemeError::BadAddress {
        kind: "TON",
        address: address.to_string(),
        reason: reason.to_string(),
    };
    if let Some((wc, h)) = address.split_once(':') {
        let workchain: i8 = wc.parse().map_err(|_| bad("workchain is not a number"))?;
        let mut hash = [0u8; 32];
        hex::decode_to_slice(h, &mut hash).map_err(|_| bad("account is not 64 hex digits"))?;
        return Ok(TonAddress {
            workchain,
            hash,
            bounceable: None,
            testnet: false,
        });
    }
    if address.len() != 48 {
        return Err(bad("must be 48 base64 characters or workchain:hex"));
    }
    let engine = if address.contains(['-', '_']) {
        &base64::engine::general_purpose::URL_SAFE
    } else {
        &base64::engine::general_purpose::STANDARD
    };
    let raw = engine.decode(address).map_err(|_| bad("not base64"))?;
    let raw: [u8; 36] = raw.try_into().map_err(|_| bad("not 36 bytes"))?;
    if crc16_xmodem(&raw[..34]).to_be_bytes() != raw[34..] {
        return Err(bad("checksum does not match"));
    }
    let testnet = raw[0] & 0x80 != 0;
    let bounceable = match raw[0] & 0x7f {
        0x11 => true,
        0x51 => false,
        _ => return Err(bad("unknown flag byte")),
    };
    let mut hash = [0u8; 32];
    hash.copy_from_slice(&raw[2..34]);
    Ok(TonAddress {
        workchain: raw[1] as i8,
        hash,
        bounceable: Some(bounceable),
        testnet,
    })
}

/// The user-friendly mainnet form (base64url) of a basechain account.
pub fn format_ton_address(hash: &[u8; 32], bounceable: bool) -> String {
    let mut raw = [0u8; 36];
    raw[0] = if bounceable { 0x11 } else { 0x51 };
    raw[2..34].copy_from_slice(hash);
    let crc = crc16_xmodem(&raw[..34]);
    raw[34..].copy_from_slice(&crc.to_be_bytes());
    base64::engine::general_purpose::URL_SAFE.encode(raw)
}

/// The kind of wallet of `key` whose basechain address `address` is, if any.
pub fn ton_wallet_of(key: &[u8; 32], address: &TonAddress) -> Option<TonWallet> {
    if address.workchain != 0 {
        return None;
    }
    TonWallet::ALL
        .into_iter()
        .find(|w| w.account_hash(key) == address.hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(hex_key: &str) -> [u8; 32] {
        hex::decode(hex_key).unwrap().try_into().unwrap()
    }

    #[test]
    fn v3r2_address_matches_tonutils_published_vector() {
        // tonutils-go ton/wallet/address_test.go: this key, V3, default subwallet.
        let k = key("dcc39550bb494f4b493e7efe1aa18ea31470f33a2553c568cb74a17ed56790c1");
        let h = TonWallet::V3R2.account_hash(&k);
        assert_eq!(
            format_ton_address(&h, true),
            "EQCvoBT5Keb46oUhI_DpX0WXFDdX9ZyxXBfX3FC9cZa90nQP"
        );
        let parsed = parse_ton_address("EQCvoBT5Keb46oUhI_DpX0WXFDdX9ZyxXBfX3FC9cZa90nQP").unwrap();
        assert_eq!(ton_wallet_of(&k, &parsed), Some(TonWallet::V3R2));
    }

    #[test]
    fn highload_v3_address_matches_okx_published_row() {
        // OKX's proof-of-reserves example file, USDT-TON row: key and non-bounceable address.
        let k = key("6711ba8eaa47855b01d73e3849cd93861b1c11d7a86ae5fb8f96bb63d9be5a6b");
        let h = TonWallet::HighloadV3.account_hash(&k);
        assert_eq!(
            format_ton_address(&h, false),
            "UQB1CKrUWm7qf41Z1GeEE6AgVVj5cH6y6x1aRmWe6q4mj1fn"
        );
        let parsed = parse_ton_address("UQB1CKrUWm7qf41Z1GeEE6AgVVj5cH6y6x1aRmWe6q4mj1fn").unwrap();
        assert_eq!(parsed.bounceable, Some(false));
        assert_eq!(ton_wallet_of(&k, &parsed), Some(TonWallet::HighloadV3));
        // The same account in its bounceable, standard-base64 and raw spellings.
        let bounce = format_ton_address(&h, true);
        let std_b64 = bounce.replace('-', "+").replace('_', "/");
        let raw = format!("0:{}", hex::encode(h));
        for a in [bounce.as_str(), std_b64.as_str(), raw.as_str()] {
            let p = parse_ton_address(a).unwrap();
            assert_eq!(ton_wallet_of(&k, &p), Some(TonWallet::HighloadV3), "{a}");
        }
        // Another key's wallets are not this address.
        let other = key("dcc39550bb494f4b493e7efe1aa18ea31470f33a2553c568cb74a17ed56790c1");
        assert_eq!(ton_wallet_of(&other, &parsed), None);
    }

    #[test]
    fn bad_addresses_are_named() {
        let good = "UQB1CKrUWm7qf41Z1GeEE6AgVVj5cH6y6x1aRmWe6q4mj1fn";
        // One character changed: the checksum catches it.
        let mut changed = good.to_string();
        changed.replace_range(10..11, "A");
        for (a, why) in [
            (changed.as_str(), "checksum"),
            ("UQB1CKrU", "48 base64"),
            ("0:zz", "64 hex"),
            ("x:00", "workchain"),
            ("UQB1CKrUWm7qf41Z1GeEE6AgVVj5cH6y6x1aRmWe6q4mj1f!", "base64"),
        ] {
            let e = parse_ton_address(a).unwrap_err().to_string();
            assert!(e.contains(why), "{a}: {e}");
        }
    }

    #[test]
    fn cell_hash_of_the_empty_cell() {
        // The empty cell's hash is a well-known constant of TON.
        assert_eq!(
            hex::encode(CellBuilder::new().finish().hash),
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"
        );
    }
}
