//! The chunked "personal message" layout shared by the Ledger Ethereum and TRON apps: the
//! first APDU carries the BIP-32 path, the message length (4 bytes, big-endian) and the start
//! of the message; the following APDUs carry the rest. Each app picks its instruction, its P1
//! values and how much data it puts in one APDU.

use crate::apdu::Command;
use crate::codec::{DecodeError, Reader};
use crate::path::Bip32Path;

/// How one app frames a chunked personal message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framing {
    /// Class byte.
    pub cla: u8,
    /// Instruction byte.
    pub ins: u8,
    /// P1 of the first chunk.
    pub p1_first: u8,
    /// P1 of the following chunks.
    pub p1_more: u8,
    /// Most data bytes in one APDU (at most 255).
    pub max_data: usize,
}

impl Framing {
    /// Splits `message` into the APDUs the app expects. There is always at least one (an
    /// empty message is a first chunk with the path and a zero length).
    pub fn commands(&self, path: &Bip32Path, message: &[u8]) -> Vec<Command> {
        let mut first = path.encode();
        first.extend_from_slice(&(message.len() as u32).to_be_bytes());
        let take = self.max_data.saturating_sub(first.len()).min(message.len());
        first.extend_from_slice(&message[..take]);
        let mut out = vec![Command::new(self.cla, self.ins, self.p1_first, 0, first)];
        for chunk in message[take..].chunks(self.max_data.max(1)) {
            out.push(Command::new(
                self.cla,
                self.ins,
                self.p1_more,
                0,
                chunk.to_vec(),
            ));
        }
        out
    }
}

/// Device-side reassembly of a chunked personal message.
#[derive(Debug, Clone, Default)]
pub struct PersonalMessageAssembler {
    state: Option<(Bip32Path, usize, Vec<u8>)>,
}

/// Progress of [`PersonalMessageAssembler::feed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assembly {
    /// More chunks are expected (the app answers 0x9000 with no data).
    NeedMore,
    /// The whole message arrived.
    Complete {
        /// Signing path.
        path: Bip32Path,
        /// Message bytes.
        message: Vec<u8>,
    },
}

impl PersonalMessageAssembler {
    /// Deepest path the apps accept.
    pub const MAX_PATH_DEPTH: usize = 10;

    /// True while a message has started and not all of it has arrived.
    pub fn in_progress(&self) -> bool {
        self.state.is_some()
    }

    /// Feeds one chunk. A first chunk restarts the assembly; a following chunk without a
    /// first one, or more bytes than announced, is an error (and resets the state).
    pub fn feed(&mut self, first: bool, data: &[u8]) -> Result<Assembly, DecodeError> {
        if first {
            self.state = None;
            let mut r = Reader::new(data);
            let path = Bip32Path::read(&mut r, Self::MAX_PATH_DEPTH)?;
            let len = r.u32_be("message length")? as usize;
            self.state = Some((path, len, Vec::with_capacity(len.min(1 << 16))));
            return self.append(r.rest());
        }
        if self.state.is_none() {
            return Err(DecodeError::invalid(
                "chunk",
                "no first chunk before this one",
            ));
        }
        self.append(data)
    }

    fn append(&mut self, bytes: &[u8]) -> Result<Assembly, DecodeError> {
        let Some((_, len, buf)) = self.state.as_mut() else {
            return Err(DecodeError::invalid("chunk", "no message in progress"));
        };
        if buf.len() + bytes.len() > *len {
            self.state = None;
            return Err(DecodeError::invalid("chunk", "more bytes than announced"));
        }
        buf.extend_from_slice(bytes);
        if buf.len() < *len {
            return Ok(Assembly::NeedMore);
        }
        let (path, _, message) = self.state.take().expect("checked above");
        Ok(Assembly::Complete { path, message })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const F: Framing = Framing {
        cla: 0xE0,
        ins: 0x08,
        p1_first: 0x00,
        p1_more: 0x80,
        max_data: 250,
    };

    #[test]
    fn empty_message_is_one_chunk() {
        let path: Bip32Path = "m/44'/195'/0'/0/0".parse().unwrap();
        let cmds = F.commands(&path, b"");
        assert_eq!(cmds.len(), 1);
        let mut a = PersonalMessageAssembler::default();
        assert_eq!(
            a.feed(true, &cmds[0].data).unwrap(),
            Assembly::Complete {
                path,
                message: vec![]
            }
        );
        assert!(!a.in_progress());
    }

    #[test]
    fn errors_reset_the_state() {
        let path: Bip32Path = "m/0".parse().unwrap();
        let cmds = F.commands(&path, &[7u8; 300]);
        let mut a = PersonalMessageAssembler::default();
        assert!(a.feed(false, &cmds[0].data).is_err(), "no first chunk");
        assert_eq!(a.feed(true, &cmds[0].data).unwrap(), Assembly::NeedMore);
        assert!(a.in_progress());
        assert!(a.feed(false, &[0u8; 200]).is_err(), "too many bytes");
        assert!(!a.in_progress());
    }

    proptest! {
        #[test]
        fn roundtrip(msg in proptest::collection::vec(any::<u8>(), 0..1200), steps in proptest::collection::vec(any::<u32>(), 0..=10), max in 60usize..=255) {
            let f = Framing { max_data: max, ..F };
            let path = Bip32Path(steps);
            let cmds = f.commands(&path, &msg);
            let mut a = PersonalMessageAssembler::default();
            let mut last = None;
            for (i, c) in cmds.iter().enumerate() {
                prop_assert!(c.data.len() <= max);
                prop_assert_eq!(c.p1, if i == 0 { 0x00 } else { 0x80 });
                last = Some(a.feed(i == 0, &c.data).unwrap());
            }
            prop_assert_eq!(last.unwrap(), Assembly::Complete { path, message: msg });
        }

        #[test]
        fn garbage(b in proptest::collection::vec(any::<u8>(), 0..300), first: bool) {
            let mut a = PersonalMessageAssembler::default();
            let _ = a.feed(first, &b);
            let _ = a.feed(false, &b);
        }
    }
}
