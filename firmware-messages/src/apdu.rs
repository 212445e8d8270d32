//! Short APDU commands (CLA INS P1 P2 Lc data) and responses (data SW1 SW2).

use crate::codec::{DecodeError, Reader};
use crate::status::StatusWord;
use thiserror::Error;

/// The largest data field of a short APDU.
pub const MAX_DATA: usize = 255;

/// Why a command could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EncodeError {
    /// The data does not fit a short APDU.
    #[error("APDU data of {0} bytes exceeds {MAX_DATA}")]
    DataTooLong(usize),
}

/// A short APDU command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// Class.
    pub cla: u8,
    /// Instruction.
    pub ins: u8,
    /// Parameter 1.
    pub p1: u8,
    /// Parameter 2.
    pub p2: u8,
    /// Data (at most 255 bytes).
    pub data: Vec<u8>,
}

impl Command {
    /// Builds a command.
    pub fn new(cla: u8, ins: u8, p1: u8, p2: u8, data: Vec<u8>) -> Self {
        Command {
            cla,
            ins,
            p1,
            p2,
            data,
        }
    }

    /// Wire bytes: header, Lc (always present, 0 for no data), data.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        if self.data.len() > MAX_DATA {
            return Err(EncodeError::DataTooLong(self.data.len()));
        }
        let mut out = Vec::with_capacity(5 + self.data.len());
        out.extend_from_slice(&[self.cla, self.ins, self.p1, self.p2, self.data.len() as u8]);
        out.extend_from_slice(&self.data);
        Ok(out)
    }

    /// Parses wire bytes. Accepts a bare 4-byte header (no Lc); Lc must match the data.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let [cla, ins, p1, p2] = r.array::<4>("APDU header")?;
        let data = if r.remaining() == 0 {
            Vec::new()
        } else {
            let lc = r.u8("Lc")? as usize;
            let data = r.bytes(lc, "APDU data")?.to_vec();
            r.finish()?;
            data
        };
        Ok(Command::new(cla, ins, p1, p2, data))
    }
}

/// An APDU response: data followed by the status word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Response data.
    pub data: Vec<u8>,
    /// Status word.
    pub status: StatusWord,
}

impl Response {
    /// A response with data and a status.
    pub fn new(data: Vec<u8>, status: StatusWord) -> Self {
        Response { data, status }
    }

    /// A success response.
    pub fn ok(data: Vec<u8>) -> Self {
        Response::new(data, StatusWord::OK)
    }

    /// An error response with no data.
    pub fn error(status: StatusWord) -> Self {
        Response::new(Vec::new(), status)
    }

    /// Wire bytes: data then SW1 SW2.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.data.clone();
        out.extend_from_slice(&self.status.to_bytes());
        out
    }

    /// Parses wire bytes (at least the two status bytes).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() < 2 {
            return Err(DecodeError::Truncated {
                field: "status word",
                needed: 2,
                available: bytes.len(),
            });
        }
        let (data, sw) = bytes.split_at(bytes.len() - 2);
        Ok(Response::new(
            data.to_vec(),
            StatusWord::from_bytes(sw[0], sw[1]),
        ))
    }

    /// The data if the status is 0x9000, else the status as an error.
    pub fn into_ok(self) -> Result<Vec<u8>, StatusWord> {
        if self.status.is_ok() {
            Ok(self.data)
        } else {
            Err(self.status)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn golden() {
        // GET_MASTER_FINGERPRINT as sent by LedgerHQ's clients.
        let c = Command::new(0xE1, 0x05, 0x00, 0x01, vec![]);
        assert_eq!(c.encode().unwrap(), hex::decode("e105000100").unwrap());
        assert_eq!(
            Command::decode(&hex::decode("e1050001").unwrap()).unwrap(),
            c
        );
        assert!(Command::new(0, 0, 0, 0, vec![0; 256]).encode().is_err());
        assert!(Command::decode(&[0xE1, 0x05, 0, 1, 2, 0]).is_err());
        let r = Response::decode(&hex::decode("f5acc2fd9000").unwrap()).unwrap();
        assert_eq!(r.data, hex::decode("f5acc2fd").unwrap());
        assert!(r.status.is_ok());
    }

    proptest! {
        #[test]
        fn roundtrip(cla: u8, ins: u8, p1: u8, p2: u8, data in proptest::collection::vec(any::<u8>(), 0..=255)) {
            let c = Command::new(cla, ins, p1, p2, data);
            prop_assert_eq!(Command::decode(&c.encode().unwrap()).unwrap(), c);
        }

        #[test]
        fn response_roundtrip(data in proptest::collection::vec(any::<u8>(), 0..300), sw: u16) {
            let r = Response::new(data, StatusWord(sw));
            prop_assert_eq!(Response::decode(&r.encode()).unwrap(), r);
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = Command::decode(&bytes);
            let _ = Response::decode(&bytes);
        }
    }
}
