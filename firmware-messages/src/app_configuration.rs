//! GET APP CONFIGURATION (`E0 06 00 00`, no data), the same command in the Ethereum and Tron
//! apps: the reply is a flags byte and the app's version.

use crate::apdu::Command;
use crate::codec::{DecodeError, Reader};

/// Class byte of the command.
pub const CLA: u8 = 0xE0;
/// Instruction byte of the command.
pub const INS: u8 = 0x06;

/// GET APP CONFIGURATION reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppConfiguration {
    /// App-specific settings flags (Ethereum: 0x01 blind signing enabled, 0x02 ERC-20 info
    /// external, …; Tron: see `tron::FLAG_SIGN_BY_HASH`).
    pub flags: u8,
    /// Major version.
    pub major: u8,
    /// Minor version.
    pub minor: u8,
    /// Patch version.
    pub patch: u8,
}

impl AppConfiguration {
    /// The request APDU.
    pub fn request() -> Command {
        Command::new(CLA, INS, 0, 0, vec![])
    }

    /// Wire form.
    pub fn encode(&self) -> Vec<u8> {
        vec![self.flags, self.major, self.minor, self.patch]
    }

    /// Parses the reply (4 bytes; newer apps may append more, which is ignored).
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let [flags, major, minor, patch] = r.array::<4>("app configuration")?;
        Ok(AppConfiguration {
            flags,
            major,
            minor,
            patch,
        })
    }

    /// `major.minor.patch`.
    pub fn version(&self) -> String {
        format!("{}.{}.{}", self.major, self.minor, self.patch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_reply_and_short_replies() {
        assert_eq!(
            hex::encode(AppConfiguration::request().encode().unwrap()),
            "e006000000"
        );
        let c = AppConfiguration::decode(&[0x01, 1, 9, 18, 0xff]).unwrap();
        assert_eq!((c.flags, c.version()), (0x01, "1.9.18".to_string()));
        assert_eq!(c.encode(), vec![0x01, 1, 9, 18]);
        assert!(AppConfiguration::decode(&[1, 2, 3]).is_err());
    }
}
