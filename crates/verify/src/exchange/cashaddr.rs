//! Bitcoin Cash CashAddr addresses (`bitcoincash:q…` / `p…`), decoded to the hash they commit to.
//!
//! Format (the CashAddr specification): an optional prefix and `:`, then base32 (the bech32
//! alphabet) of `version byte ‖ hash`, then an 8-character (40-bit) BCH-code checksum computed
//! over the prefix's low 5 bits per character, a 0 separator, and the payload. Case may be
//! all lower or all upper, never mixed. The version byte's bits 3–6 give the type (0 P2PKH,
//! 1 P2SH; 2 and 3 are the same hashes flagged token-aware), bits 0–2 the hash size (0 → 160
//! bits). Without a prefix, the checksum is taken with `bitcoincash` (mainnet), as OKX's and
//! wallets' decoders do.

const CHARSET: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";

/// What a CashAddr commits to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CashTarget {
    /// Pay to public-key hash.
    P2pkh([u8; 20]),
    /// Pay to script hash.
    P2sh([u8; 20]),
}

fn polymod(values: impl IntoIterator<Item = u8>) -> u64 {
    let mut c: u64 = 1;
    for d in values {
        let c0 = (c >> 35) as u8;
        c = ((c & 0x07_ffff_ffff) << 5) ^ u64::from(d);
        for (bit, g) in [
            (0x01, 0x98_f2bc_8e61),
            (0x02, 0x79_b76d_99e2),
            (0x04, 0xf3_3e5f_b3c4),
            (0x08, 0xae_2eab_e2a8),
            (0x10, 0x1e_4f43_e470),
        ] {
            if c0 & bit != 0 {
                c ^= g;
            }
        }
    }
    c ^ 1
}

/// Decodes a mainnet CashAddr; `Err` says what is wrong with it.
pub(crate) fn decode_cashaddr(address: &str) -> Result<CashTarget, String> {
    let has_lower = address.bytes().any(|c| c.is_ascii_lowercase());
    let has_upper = address.bytes().any(|c| c.is_ascii_uppercase());
    if has_lower && has_upper {
        return Err("mixed case".into());
    }
    let lower = address.to_ascii_lowercase();
    let (prefix, body) = lower.split_once(':').unwrap_or(("bitcoincash", &lower));
    if prefix != "bitcoincash" {
        return Err(format!("prefix `{prefix}` is not mainnet `bitcoincash`"));
    }
    let values: Vec<u8> = body
        .bytes()
        .map(|c| CHARSET.iter().position(|&x| x == c).map(|p| p as u8))
        .collect::<Option<_>>()
        .ok_or("a character outside the CashAddr alphabet")?;
    if values.len() < 8 + 34 {
        return Err("too short".into());
    }
    let check = prefix
        .bytes()
        .map(|c| c & 0x1f)
        .chain([0])
        .chain(values.iter().copied());
    if polymod(check) != 0 {
        return Err("checksum does not match".into());
    }
    // 5-bit groups to bytes; the padding bits must be zero.
    let data = &values[..values.len() - 8];
    let mut bytes = Vec::with_capacity(data.len() * 5 / 8);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &v in data {
        acc = (acc << 5) | u32::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            bytes.push((acc >> bits) as u8);
        }
    }
    if bits >= 5 || acc & ((1 << bits) - 1) != 0 {
        return Err("non-zero padding".into());
    }
    let (&version, hash) = bytes.split_first().ok_or("empty payload")?;
    if version & 0x80 != 0 || version & 0x07 != 0 {
        return Err(format!("version byte {version:#04x} is not a 160-bit hash"));
    }
    let hash: [u8; 20] = hash
        .try_into()
        .map_err(|_| format!("{} hash bytes where 20 are announced", hash.len()))?;
    match version >> 3 {
        0 | 2 => Ok(CashTarget::P2pkh(hash)),
        1 | 3 => Ok(CashTarget::P2sh(hash)),
        t => Err(format!("unknown address type {t}")),
    }
}

/// Encodes a mainnet CashAddr (tests build rows with it).
#[cfg(test)]
pub(crate) fn encode_cashaddr(target: CashTarget) -> String {
    let (version, hash) = match target {
        CashTarget::P2pkh(h) => (0u8, h),
        CashTarget::P2sh(h) => (8u8, h),
    };
    let mut values = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in std::iter::once(version).chain(hash) {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            values.push(((acc >> bits) & 0x1f) as u8);
        }
    }
    if bits > 0 {
        values.push(((acc << (5 - bits)) & 0x1f) as u8);
    }
    let check = "bitcoincash"
        .bytes()
        .map(|c| c & 0x1f)
        .chain([0])
        .chain(values.iter().copied())
        .chain([0; 8]);
    let sum = polymod(check);
    values.extend((0..8).map(|i| ((sum >> (5 * (7 - i))) & 0x1f) as u8));
    let body: String = values
        .iter()
        .map(|&v| CHARSET[v as usize] as char)
        .collect();
    format!("bitcoincash:{body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_round_trips() {
        for t in [CashTarget::P2pkh([7; 20]), CashTarget::P2sh([0xfe; 20])] {
            let a = encode_cashaddr(t);
            assert_eq!(decode_cashaddr(&a), Ok(t), "{a}");
        }
        assert_eq!(
            encode_cashaddr(CashTarget::P2pkh(
                hex::decode("76a04053bda0a88bda5177b86a15c3b29f559873")
                    .unwrap()
                    .try_into()
                    .unwrap()
            )),
            "bitcoincash:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a"
        );
    }

    fn legacy(a: &str) -> CashTarget {
        let p = bitcoin::base58::decode_check(a).unwrap();
        let h: [u8; 20] = p[1..].try_into().unwrap();
        match p[0] {
            0x00 => CashTarget::P2pkh(h),
            0x05 => CashTarget::P2sh(h),
            v => panic!("version {v}"),
        }
    }

    #[test]
    fn published_translations_to_legacy_addresses() {
        // Pairs from the CashAddr specification's examples and wallets' test suites.
        for (cash, old) in [
            (
                "bitcoincash:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a",
                "1BpEi6DfDAUFd7GtittLSdBeYJvcoaVggu",
            ),
            (
                "bitcoincash:qr95sy3j9xwd2ap32xkykttr4cvcu7as4y0qverfuy",
                "1KXrWXciRDZUpQwQmuM1DbwsKDLYAYsVLR",
            ),
            (
                "bitcoincash:ppm2qsznhks23z7629mms6s4cwef74vcwvn0h829pq",
                "3CWFddi6m4ndiGyKqzYvsFYagqDLPVMTzC",
            ),
            (
                "qqqq4077ywes2cmda80crheea4m7zznszvk5lqedw9",
                "11DstTXVTvo8DfczCQws6CHV718u74VV2",
            ),
            (
                "BITCOINCASH:QRCUQADQRZP2UZTJL9WN5STHEPKG22MAJYXW4GMV6P",
                "1P3GQYtcWgZHrrJhUa4ctoQ3QoCU2F65nz",
            ),
        ] {
            assert_eq!(decode_cashaddr(cash), Ok(legacy(old)), "{cash}");
        }
    }

    #[test]
    fn bad_addresses_say_why() {
        let good = "bitcoincash:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a";
        let mut changed = good.to_string();
        changed.replace_range(20..21, "q");
        for (a, why) in [
            (changed.as_str(), "checksum"),
            (
                "bchtest:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a",
                "mainnet",
            ),
            (
                "bitcoincash:Qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a",
                "mixed case",
            ),
            (
                "bitcoincash:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6b1",
                "alphabet",
            ),
            ("bitcoincash:qpm2", "too short"),
        ] {
            let e = decode_cashaddr(a).unwrap_err();
            assert!(e.contains(why), "{a}: {e}");
        }
    }

    #[test]
    fn checksum_vector_of_the_specification() {
        // A valid checksum over a payload that is not an address (no version/hash shape).
        let values = "qpzry9x8gf2tvdw0s3jn54khce6mua7lcw20ayyn"
            .bytes()
            .map(|c| CHARSET.iter().position(|&x| x == c).unwrap() as u8);
        let check = "bitcoincash"
            .bytes()
            .map(|c| c & 0x1f)
            .chain([0])
            .chain(values);
        assert_eq!(polymod(check), 0);
    }
}
