//! Byte reader and Bitcoin-style varint (CompactSize) helpers shared by all decoders.

use thiserror::Error;

/// Why some bytes could not be decoded into a message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The input ended before the field was complete.
    #[error("truncated input: {field} needs {needed} more byte(s), {available} left")]
    Truncated {
        /// The field being read.
        field: &'static str,
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
    /// Bytes were left over after the message.
    #[error("{0} unexpected trailing byte(s)")]
    TrailingBytes(usize),
    /// A field has a value the protocol does not allow.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A varint used more bytes than needed.
    #[error("non-minimal varint encoding")]
    NonMinimalVarint,
    /// The APDU has a class or instruction this decoder does not handle.
    #[error("unexpected command CLA {cla:#04x} INS {ins:#04x}")]
    UnexpectedCommand {
        /// Class byte.
        cla: u8,
        /// Instruction byte.
        ins: u8,
    },
}

impl DecodeError {
    /// Shorthand for [`DecodeError::Invalid`].
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        DecodeError::Invalid {
            field,
            reason: reason.into(),
        }
    }
}

/// A cursor over a byte slice; every read is bounds-checked.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Starts reading `buf` from its beginning.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Reads `n` bytes.
    pub fn bytes(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < n {
            return Err(DecodeError::Truncated {
                field,
                needed: n,
                available: self.remaining(),
            });
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// Reads a fixed-size array.
    pub fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N, field)?);
        Ok(out)
    }

    /// Reads one byte.
    pub fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        Ok(self.bytes(1, field)?[0])
    }

    /// Reads a big-endian u32.
    pub fn u32_be(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }

    /// Reads a big-endian u64.
    pub fn u64_be(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array(field)?))
    }

    /// Reads a Bitcoin-style varint (CompactSize, little-endian payload), rejecting
    /// non-minimal encodings.
    pub fn varint(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        let first = self.u8(field)?;
        let (value, min) = match first {
            0xFD => (u16::from_le_bytes(self.array(field)?) as u64, 0xFD),
            0xFE => (u32::from_le_bytes(self.array(field)?) as u64, 0x1_0000),
            0xFF => (u64::from_le_bytes(self.array(field)?), 0x1_0000_0000),
            n => return Ok(n as u64),
        };
        if value < min {
            return Err(DecodeError::NonMinimalVarint);
        }
        Ok(value)
    }

    /// Reads a one-byte length then that many bytes.
    pub fn u8_prefixed(&mut self, field: &'static str) -> Result<&'a [u8], DecodeError> {
        let n = self.u8(field)? as usize;
        self.bytes(n, field)
    }

    /// Reads everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        let out = &self.buf[self.pos..];
        self.pos = self.buf.len();
        out
    }

    /// Fails if any byte is left.
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(DecodeError::TrailingBytes(n)),
        }
    }
}

/// Appends a Bitcoin-style varint.
pub fn write_varint(out: &mut Vec<u8>, value: u64) {
    match value {
        0..=0xFC => out.push(value as u8),
        0xFD..=0xFFFF => {
            out.push(0xFD);
            out.extend_from_slice(&(value as u16).to_le_bytes());
        }
        0x1_0000..=0xFFFF_FFFF => {
            out.push(0xFE);
            out.extend_from_slice(&(value as u32).to_le_bytes());
        }
        _ => {
            out.push(0xFF);
            out.extend_from_slice(&value.to_le_bytes());
        }
    }
}

/// Encodes a Bitcoin-style varint.
pub fn varint(value: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(9);
    write_varint(&mut v, value);
    v
}

/// Decodes ASCII/UTF-8 text from a field.
pub fn utf8(bytes: &[u8], field: &'static str) -> Result<String, DecodeError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError::invalid(field, "not UTF-8 text"))
}

/// Bytes as uppercase hex, as the apps' screens write them (the SDK's `format_hex`).
pub fn upper_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn varint_golden() {
        assert_eq!(varint(0xFC), vec![0xFC]);
        assert_eq!(varint(0xFD), vec![0xFD, 0xFD, 0x00]);
        assert_eq!(varint(0x1_0000), vec![0xFE, 0, 0, 1, 0]);
        assert_eq!(
            Reader::new(&[0xFD, 0x10, 0x00]).varint("x"),
            Err(DecodeError::NonMinimalVarint)
        );
    }

    proptest! {
        #[test]
        fn varint_roundtrip(v in any::<u64>()) {
            let enc = varint(v);
            let mut r = Reader::new(&enc);
            prop_assert_eq!(r.varint("v").unwrap(), v);
            prop_assert!(r.finish().is_ok());
        }
    }
}
