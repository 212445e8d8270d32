//! Reading what an air-gapped signer wrote back: a PSBT in binary, base64 or hex (signers
//! answer in the encoding they were given, or their own), and a BIP-137 armored signed
//! message (Coldcard's `NAME-signed.txt`).

use bitcoin::Psbt;
use std::fmt;

/// The BIP-174 magic bytes of a binary PSBT.
pub const PSBT_MAGIC: &[u8] = b"psbt\xff";

/// The encoding a PSBT file was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PsbtEncoding {
    /// The raw BIP-174 bytes.
    Binary,
    /// Base64 text.
    Base64,
    /// Hex text.
    Hex,
}

impl fmt::Display for PsbtEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PsbtEncoding::Binary => "binary",
            PsbtEncoding::Base64 => "base64",
            PsbtEncoding::Hex => "hex",
        })
    }
}

/// Reads a PSBT file's bytes in any of the three encodings.
pub fn decode_psbt(bytes: &[u8]) -> Result<(Psbt, PsbtEncoding), String> {
    if bytes.is_empty() {
        return Err("the file is empty".into());
    }
    let (raw, encoding) = if bytes.starts_with(PSBT_MAGIC) {
        (bytes.to_vec(), PsbtEncoding::Binary)
    } else {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| "neither a binary PSBT (no `psbt\\xff` magic) nor text".to_string())?
            .trim();
        if !text.is_empty() && text.len() % 2 == 0 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            let raw = hex::decode(text).map_err(|e| format!("bad hex: {e}"))?;
            (raw, PsbtEncoding::Hex)
        } else {
            use base64::Engine;
            let compact: String = text.split_ascii_whitespace().collect();
            let raw = base64::engine::general_purpose::STANDARD
                .decode(compact.as_bytes())
                .map_err(|e| format!("neither a binary PSBT, hex nor base64 ({e})"))?;
            (raw, PsbtEncoding::Base64)
        }
    };
    if !raw.starts_with(PSBT_MAGIC) {
        return Err(format!(
            "{encoding} text that is not a PSBT (no `psbt\\xff` magic)"
        ));
    }
    let psbt =
        Psbt::deserialize(&raw).map_err(|e| format!("not a valid PSBT ({encoding}): {e}"))?;
    Ok((psbt, encoding))
}

/// Writes a PSBT in `encoding`.
pub fn encode_psbt(psbt: &Psbt, encoding: PsbtEncoding) -> Vec<u8> {
    let raw = psbt.serialize();
    match encoding {
        PsbtEncoding::Binary => raw,
        PsbtEncoding::Hex => hex::encode(raw).into_bytes(),
        PsbtEncoding::Base64 => {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .encode(raw)
                .into_bytes()
        }
    }
}

/// A BIP-137 armored signed message (RFC 2440 style, as Coldcard and Electrum write it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArmoredMessage {
    /// The signed text.
    pub message: String,
    /// The address the signer says it signed for.
    pub address: String,
    /// The base64 65-byte compact signature.
    pub signature: String,
}

const BEGIN_MESSAGE: &str = "-----BEGIN BITCOIN SIGNED MESSAGE-----";
const BEGIN_SIGNATURE: &str = "-----BEGIN BITCOIN SIGNATURE-----";
const END_SIGNATURE: &str = "-----END BITCOIN SIGNATURE-----";

impl ArmoredMessage {
    /// The armored text, one line each, as Coldcard writes it.
    pub fn to_text(&self) -> String {
        format!(
            "{BEGIN_MESSAGE}\n{}\n{BEGIN_SIGNATURE}\n{}\n{}\n{END_SIGNATURE}\n",
            self.message, self.address, self.signature
        )
    }
}

/// Reads an armored signed message: the message lines between the first two armor lines, then
/// the address and the signature (Electrum puts both on one line, Coldcard on two).
pub fn parse_armored(text: &str) -> Result<ArmoredMessage, String> {
    let lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
    let find = |armor: &str, from: usize| {
        lines
            .iter()
            .skip(from)
            .position(|l| l.trim() == armor)
            .map(|p| p + from)
    };
    let begin = find(BEGIN_MESSAGE, 0).ok_or_else(|| format!("no `{BEGIN_MESSAGE}` line"))?;
    let sig = find(BEGIN_SIGNATURE, begin + 1)
        .ok_or_else(|| format!("no `{BEGIN_SIGNATURE}` line (truncated?)"))?;
    let end = find(END_SIGNATURE, sig + 1)
        .ok_or_else(|| format!("no `{END_SIGNATURE}` line (truncated?)"))?;
    let message = lines[begin + 1..sig].join("\n");
    let fields: Vec<&str> = lines[sig + 1..end]
        .iter()
        .flat_map(|l| l.split_ascii_whitespace())
        .collect();
    match fields.as_slice() {
        [address, signature] => Ok(ArmoredMessage {
            message,
            address: address.to_string(),
            signature: signature.to_string(),
        }),
        _ => Err(format!(
            "expected the address and the signature between `{BEGIN_SIGNATURE}` and `{END_SIGNATURE}`, found {} field(s)",
            fields.len()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn armored_messages_read_back_and_truncation_is_named() {
        let a = ArmoredMessage {
            message: "hello world".into(),
            address: "1KKLP5MNa9mmWnEziT5skyu7PZ8A4eFisB".into(),
            signature: "H+abc=".into(),
        };
        assert_eq!(parse_armored(&a.to_text()).unwrap(), a);
        // Electrum's layout: address and signature on one line, CRLF line ends.
        let electrum = a.to_text().replace("\n", "\r\n").replace(
            "1KKLP5MNa9mmWnEziT5skyu7PZ8A4eFisB\r\nH+abc=",
            "1KKLP5MNa9mmWnEziT5skyu7PZ8A4eFisB H+abc=",
        );
        assert_eq!(parse_armored(&electrum).unwrap(), a);
        let text = a.to_text();
        let cut = &text[..text.find("H+abc").unwrap()];
        assert!(parse_armored(cut).unwrap_err().contains("truncated"));
        assert!(parse_armored("garbage")
            .unwrap_err()
            .contains("BEGIN BITCOIN SIGNED MESSAGE"));
    }

    #[test]
    fn psbts_read_in_every_encoding_and_garbage_is_refused() {
        let spk =
            bitcoin::ScriptBuf::from_hex("0014751e76e8199196d454941c45d1b3a323f1433bd6").unwrap();
        let psbt = por_attest_verify::schemes::to_sign_psbt(&spk, b"m");
        for e in [
            PsbtEncoding::Binary,
            PsbtEncoding::Base64,
            PsbtEncoding::Hex,
        ] {
            let bytes = encode_psbt(&psbt, e);
            assert_eq!(decode_psbt(&bytes).unwrap(), (psbt.clone(), e));
            let mut with_newline = bytes.clone();
            if e != PsbtEncoding::Binary {
                with_newline.push(b'\n');
                assert_eq!(decode_psbt(&with_newline).unwrap().0, psbt);
            }
            let truncated = &bytes[..bytes.len() / 2];
            assert!(decode_psbt(truncated).is_err(), "{e}");
        }
        assert!(decode_psbt(b"").unwrap_err().contains("empty"));
        assert!(decode_psbt(b"hello there").is_err());
        assert!(decode_psbt(b"\x00\x01\xfe")
            .unwrap_err()
            .contains("neither"));
    }
}
