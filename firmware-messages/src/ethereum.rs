//! Ledger Ethereum app (CLA 0xE0): get address (0x02), get app configuration (0x06),
//! sign personal message (0x08, chunked).

use crate::apdu::{Command, MAX_DATA};
use crate::codec::{DecodeError, Reader};
use crate::key_address;
use crate::path::Bip32Path;
use crate::personal_message::Framing;
pub use crate::personal_message::{Assembly, PersonalMessageAssembler};

/// Class of the Ethereum app.
pub const CLA: u8 = 0xE0;
/// GET ETH PUBLIC ADDRESS.
pub const INS_GET_ADDRESS: u8 = 0x02;
/// GET APP CONFIGURATION.
pub const INS_GET_APP_CONFIGURATION: u8 = 0x06;
/// SIGN ETH PERSONAL MESSAGE.
pub const INS_SIGN_PERSONAL_MESSAGE: u8 = 0x08;
/// P1 of the first personal-message chunk.
pub const P1_FIRST_CHUNK: u8 = 0x00;
/// P1 of the following personal-message chunks.
pub const P1_MORE_CHUNK: u8 = 0x80;
/// Deepest path the app accepts.
pub const MAX_PATH_DEPTH: usize = 10;

/// The first app version that shows a personal message's text ("Message"); earlier ones
/// show "Message hash", the SHA-256 of the message (app-ethereum 1.9.18's
/// `ui_flow_signMessage.c`; seen on 1.9.18 under Speculos, 2026-12-01).
pub const MESSAGE_TEXT_SINCE: (u32, u32, u32) = (1, 9, 19);

/// The "Message hash" the app at `version` shows for `message` (64 uppercase hex digits), or
/// `None` when it shows the text.
pub fn message_hash_screen(version: (u32, u32, u32), message: &[u8]) -> Option<String> {
    (version < MESSAGE_TEXT_SINCE)
        .then(|| crate::codec::upper_hex(&crate::bitcoin::sha256(message)))
}

/// A command to the Ethereum app, as the device sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EthCommand {
    /// Get the public key and address at a path.
    GetAddress(GetAddress),
    /// Get flags and version.
    GetAppConfiguration,
    /// One chunk of a personal message; assemble with [`PersonalMessageAssembler`].
    SignPersonalMessageChunk {
        /// True for the first chunk (P1 0x00).
        first: bool,
        /// The chunk data.
        data: Vec<u8>,
    },
}

impl EthCommand {
    /// Recognizes a command of the Ethereum app. Wrong P1/P2 is an
    /// [`DecodeError::Invalid`] with field `P1/P2` (the app answers 0x6B00).
    pub fn from_command(c: &Command) -> Result<Self, DecodeError> {
        if c.cla != CLA {
            return Err(DecodeError::UnexpectedCommand {
                cla: c.cla,
                ins: c.ins,
            });
        }
        match c.ins {
            INS_GET_ADDRESS => Ok(Self::GetAddress(GetAddress::from_command(c)?)),
            INS_GET_APP_CONFIGURATION => Ok(Self::GetAppConfiguration),
            INS_SIGN_PERSONAL_MESSAGE => {
                let first = match (c.p1, c.p2) {
                    (P1_FIRST_CHUNK, 0) => true,
                    (P1_MORE_CHUNK, 0) => false,
                    _ => return Err(DecodeError::invalid("P1/P2", "bad chunk flag")),
                };
                Ok(Self::SignPersonalMessageChunk {
                    first,
                    data: c.data.clone(),
                })
            }
            ins => Err(DecodeError::UnexpectedCommand { cla: c.cla, ins }),
        }
    }
}

/// GET ETH PUBLIC ADDRESS request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetAddress {
    /// Derivation path.
    pub path: Bip32Path,
    /// Show the address and wait for confirmation (P1 = 1).
    pub display: bool,
    /// Also return the chain code (P2 = 1).
    pub chain_code: bool,
    /// Optional chain id (8 bytes BE) appended to the data.
    pub chain_id: Option<u64>,
}

impl GetAddress {
    /// The APDU.
    pub fn to_command(&self) -> Command {
        let mut data = self.path.encode();
        if let Some(id) = self.chain_id {
            data.extend_from_slice(&id.to_be_bytes());
        }
        Command::new(
            CLA,
            INS_GET_ADDRESS,
            self.display as u8,
            self.chain_code as u8,
            data,
        )
    }

    /// Parses the APDU.
    pub fn from_command(c: &Command) -> Result<Self, DecodeError> {
        if c.p1 > 1 || c.p2 > 1 {
            return Err(DecodeError::invalid("P1/P2", "must be 0 or 1"));
        }
        let mut r = Reader::new(&c.data);
        let path = Bip32Path::read(&mut r, MAX_PATH_DEPTH)?;
        let chain_id = if r.remaining() > 0 {
            Some(r.u64_be("chain id")?)
        } else {
            None
        };
        r.finish()?;
        Ok(GetAddress {
            path,
            display: c.p1 == 1,
            chain_code: c.p2 == 1,
            chain_id,
        })
    }
}

/// GET ETH PUBLIC ADDRESS reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressResponse {
    /// Uncompressed public key (65 bytes, 0x04 prefix).
    pub public_key: Vec<u8>,
    /// Address as 40 ASCII hex characters, no `0x` (the app sends EIP-55 case).
    pub address: String,
    /// Chain code, when requested.
    pub chain_code: Option<[u8; 32]>,
}

impl AddressResponse {
    /// Wire form.
    pub fn encode(&self) -> Vec<u8> {
        key_address::encode(&self.public_key, &self.address, self.chain_code)
    }

    /// Parses the reply; a chain code is read if 32 bytes follow the address.
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let r = key_address::decode(data, |a| {
            if a.len() == 40 && a.bytes().all(|b| b.is_ascii_hexdigit()) {
                Ok(())
            } else {
                Err("expected 40 hex characters".into())
            }
        })?;
        Ok(AddressResponse {
            public_key: r.public_key,
            address: r.address,
            chain_code: r.chain_code,
        })
    }
}

pub use crate::app_configuration::AppConfiguration;

/// How the app frames a personal message: up to 255 data bytes per APDU.
pub const PERSONAL_MESSAGE_FRAMING: Framing = Framing {
    cla: CLA,
    ins: INS_SIGN_PERSONAL_MESSAGE,
    p1_first: P1_FIRST_CHUNK,
    p1_more: P1_MORE_CHUNK,
    max_data: MAX_DATA,
};

/// Splits a personal message into the APDUs the app expects: the first carries the path,
/// the 4-byte BE message length and the start of the message; the rest carry up to 255
/// bytes each with P1 0x80.
pub fn sign_personal_message_commands(path: &Bip32Path, message: &[u8]) -> Vec<Command> {
    PERSONAL_MESSAGE_FRAMING.commands(path, message)
}

/// A recoverable signature as the Ethereum app returns it: v (27/28), r, s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signature {
    /// Recovery value, 27 + parity.
    pub v: u8,
    /// r, big-endian.
    pub r: [u8; 32],
    /// s, big-endian.
    pub s: [u8; 32],
}

impl Signature {
    /// Wire form v || r || s.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![self.v];
        out.extend_from_slice(&self.r);
        out.extend_from_slice(&self.s);
        out
    }

    /// Parses the 65-byte reply.
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut rd = Reader::new(data);
        let v = rd.u8("v")?;
        let r = rd.array("r")?;
        let s = rd.array("s")?;
        rd.finish()?;
        Ok(Signature { v, r, s })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn apps_before_1_9_19_show_the_messages_sha256() {
        assert_eq!(
            message_hash_screen((1, 9, 18), b"abc").as_deref(),
            Some("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD")
        );
        assert_eq!(message_hash_screen((1, 9, 19), b"abc"), None);
        assert_eq!(message_hash_screen((1, 10, 4), b"abc"), None);
    }

    #[test]
    fn golden_get_address() {
        // Ledger's ethereum client: e0 02 00 00 15 05 8000002c 8000003c 80000000 00000000 00000000
        let ga = GetAddress {
            path: "m/44'/60'/0'/0/0".parse().unwrap(),
            display: false,
            chain_code: false,
            chain_id: None,
        };
        let bytes = ga.to_command().encode().unwrap();
        assert_eq!(
            hex::encode(&bytes),
            "e002000015058000002c8000003c800000000000000000000000"
        );
        let back = EthCommand::from_command(&Command::decode(&bytes).unwrap()).unwrap();
        assert_eq!(back, EthCommand::GetAddress(ga));
        let bad = Command::new(CLA, INS_GET_ADDRESS, 2, 0, vec![0]);
        assert!(EthCommand::from_command(&bad).is_err());
    }

    #[test]
    fn personal_message_chunks() {
        let path: Bip32Path = "m/44'/60'/0'/0/0".parse().unwrap();
        let msg: Vec<u8> = (0..600u32).map(|i| (i % 251) as u8).collect();
        let cmds = sign_personal_message_commands(&path, &msg);
        assert_eq!(cmds.len(), 3);
        assert_eq!(cmds[0].p1, 0x00);
        assert_eq!(cmds[1].p1, 0x80);
        assert_eq!(
            &cmds[0].data[..26],
            &hex::decode("058000002c8000003c8000000000000000000000000000025800").unwrap()[..26]
        );
        let mut a = PersonalMessageAssembler::default();
        assert_eq!(a.feed(true, &cmds[0].data).unwrap(), Assembly::NeedMore);
        assert_eq!(a.feed(false, &cmds[1].data).unwrap(), Assembly::NeedMore);
        assert_eq!(
            a.feed(false, &cmds[2].data).unwrap(),
            Assembly::Complete { path, message: msg }
        );
        assert!(a.feed(false, &[1]).is_err());
    }

    proptest! {
        #[test]
        fn chunk_roundtrip(msg in proptest::collection::vec(any::<u8>(), 0..1000), steps in proptest::collection::vec(any::<u32>(), 0..=10)) {
            let path = Bip32Path(steps);
            let mut a = PersonalMessageAssembler::default();
            let cmds = sign_personal_message_commands(&path, &msg);
            let mut last = None;
            for (i, c) in cmds.iter().enumerate() {
                prop_assert!(c.data.len() <= 255);
                let EthCommand::SignPersonalMessageChunk { first, data } = EthCommand::from_command(c).unwrap() else { panic!() };
                prop_assert_eq!(first, i == 0);
                last = Some(a.feed(first, &data).unwrap());
            }
            prop_assert_eq!(last.unwrap(), Assembly::Complete { path, message: msg });
        }

        #[test]
        fn address_roundtrip(pk in proptest::collection::vec(any::<u8>(), 64), addr in "[0-9a-fA-F]{40}", cc: Option<[u8; 32]>) {
            let mut public_key = vec![4u8];
            public_key.extend(pk);
            let a = AddressResponse { public_key, address: addr, chain_code: cc };
            prop_assert_eq!(AddressResponse::decode(&a.encode()).unwrap(), a);
        }

        #[test]
        fn garbage(b in proptest::collection::vec(any::<u8>(), 0..300), ins: u8, p1: u8, p2: u8) {
            let _ = AddressResponse::decode(&b);
            let _ = Signature::decode(&b);
            let _ = AppConfiguration::decode(&b);
            let _ = EthCommand::from_command(&Command::new(CLA, ins, p1, p2, b.clone()));
            let mut a = PersonalMessageAssembler::default();
            let _ = a.feed(p1 == 0, &b);
            let _ = a.feed(false, &b);
        }
    }
}
