//! Status words (SW1 SW2) returned by the Ledger OS, dashboard and apps, with their meaning.

use std::fmt;

/// A two-byte status word, as named values with their meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatusWord(pub u16);

impl StatusWord {
    /// Success.
    pub const OK: StatusWord = StatusWord(0x9000);
    /// Rejected by the user on the device (both apps; Ethereum calls it "condition not satisfied").
    pub const DENY: StatusWord = StatusWord(0x6985);
    /// Security status not satisfied (Ethereum doc: canceled by user).
    pub const SECURITY_STATUS_NOT_SATISFIED: StatusWord = StatusWord(0x6982);
    /// Wrong data length (Ethereum).
    pub const WRONG_LENGTH: StatusWord = StatusWord(0x6983);
    /// Wrong length (ISO 7816; the TRON app's `E_INCORRECT_LENGTH`).
    pub const INCORRECT_LENGTH: StatusWord = StatusWord(0x6700);
    /// Incorrect data.
    pub const INCORRECT_DATA: StatusWord = StatusWord(0x6A80);
    /// Not supported (Bitcoin app: e.g. non-standard path without display).
    pub const NOT_SUPPORTED: StatusWord = StatusWord(0x6A82);
    /// TRON app: the BIP-32 path is malformed (no step, more than 10, truncated).
    pub const INCORRECT_BIP32_PATH: StatusWord = StatusWord(0x6A8A);
    /// TRON app 0.8+: the "Sign by hash" setting is off (needed for personal messages).
    pub const MISSING_SETTING_SIGN_BY_HASH: StatusWord = StatusWord(0x6A8C);
    /// Wrong P1 or P2 (Bitcoin app).
    pub const WRONG_P1P2: StatusWord = StatusWord(0x6A86);
    /// Wrong data length (Bitcoin app).
    pub const WRONG_DATA_LENGTH: StatusWord = StatusWord(0x6A87);
    /// Incorrect parameter P1 or P2 (Ethereum app).
    pub const INCORRECT_P1P2: StatusWord = StatusWord(0x6B00);
    /// Instruction not supported.
    pub const INS_NOT_SUPPORTED: StatusWord = StatusWord(0x6D00);
    /// Class not supported (the running app does not use this CLA).
    pub const CLA_NOT_SUPPORTED: StatusWord = StatusWord(0x6E00);
    /// Dashboard: no app is open to take this command.
    pub const APP_NOT_OPEN: StatusWord = StatusWord(0x6E01);
    /// Dashboard: unknown APDU.
    pub const UNKNOWN_APDU: StatusWord = StatusWord(0x6D02);
    /// Older firmware: the app is not open.
    pub const APP_NOT_OPEN_LEGACY: StatusWord = StatusWord(0x6511);
    /// Dashboard open-app: no app of that name is installed.
    pub const APP_NOT_FOUND: StatusWord = StatusWord(0x6807);
    /// The device is locked (PIN not entered).
    pub const LOCKED: StatusWord = StatusWord(0x5515);
    /// Bitcoin app: wrong response length.
    pub const WRONG_RESPONSE_LENGTH: StatusWord = StatusWord(0xB000);
    /// Bitcoin app: unexpected state reached.
    pub const BAD_STATE: StatusWord = StatusWord(0xB007);
    /// Bitcoin app: invalid signature or HMAC.
    pub const SIGNATURE_FAIL: StatusWord = StatusWord(0xB008);
    /// Bitcoin app: the command is interrupted and waits for a client-command answer.
    pub const INTERRUPTED_EXECUTION: StatusWord = StatusWord(0xE000);

    /// Builds a status word from its two bytes.
    pub fn from_bytes(sw1: u8, sw2: u8) -> Self {
        StatusWord(u16::from_be_bytes([sw1, sw2]))
    }

    /// The two bytes, SW1 first.
    pub fn to_bytes(self) -> [u8; 2] {
        self.0.to_be_bytes()
    }

    /// True for 0x9000.
    pub fn is_ok(self) -> bool {
        self == Self::OK
    }

    /// The symbolic name, if the word is known.
    pub fn name(self) -> Option<&'static str> {
        Some(self.describe()?.0)
    }

    /// What the word means, in words.
    pub fn meaning(self) -> &'static str {
        match self.describe() {
            Some((_, m)) => m,
            None if self.0 & 0xFF00 == 0x6800 => "internal error",
            None if self.0 & 0xFF00 == 0x6F00 => "technical problem",
            None => "unknown status word",
        }
    }

    fn describe(self) -> Option<(&'static str, &'static str)> {
        Some(match self {
            Self::OK => ("OK", "success"),
            Self::DENY => ("DENY", "rejected by the user"),
            Self::SECURITY_STATUS_NOT_SATISFIED => (
                "SECURITY_STATUS_NOT_SATISFIED",
                "security status not satisfied",
            ),
            Self::WRONG_LENGTH => ("WRONG_LENGTH", "wrong data length"),
            Self::INCORRECT_LENGTH => ("INCORRECT_LENGTH", "wrong length"),
            Self::INCORRECT_DATA => ("INCORRECT_DATA", "incorrect data"),
            Self::INCORRECT_BIP32_PATH => ("INCORRECT_BIP32_PATH", "incorrect BIP-32 path"),
            Self::MISSING_SETTING_SIGN_BY_HASH => (
                "MISSING_SETTING_SIGN_BY_HASH",
                "the app's \"Sign by hash\" setting is off",
            ),
            Self::NOT_SUPPORTED => ("NOT_SUPPORTED", "not supported"),
            Self::WRONG_P1P2 => ("WRONG_P1P2", "wrong P1 or P2"),
            Self::WRONG_DATA_LENGTH => ("WRONG_DATA_LENGTH", "wrong data length"),
            Self::INCORRECT_P1P2 => ("INCORRECT_P1P2", "incorrect parameter P1 or P2"),
            Self::INS_NOT_SUPPORTED => ("INS_NOT_SUPPORTED", "instruction not supported"),
            Self::CLA_NOT_SUPPORTED => {
                ("CLA_NOT_SUPPORTED", "class not supported (wrong app open?)")
            }
            Self::APP_NOT_OPEN => ("APP_NOT_OPEN", "no app is open (dashboard)"),
            Self::UNKNOWN_APDU => ("UNKNOWN_APDU", "unknown APDU (dashboard)"),
            Self::APP_NOT_OPEN_LEGACY => ("APP_NOT_OPEN_LEGACY", "the app is not open"),
            Self::APP_NOT_FOUND => ("APP_NOT_FOUND", "no installed app has that name"),
            Self::LOCKED => ("LOCKED", "the device is locked"),
            Self::WRONG_RESPONSE_LENGTH => ("WRONG_RESPONSE_LENGTH", "wrong response length"),
            Self::BAD_STATE => ("BAD_STATE", "aborted: unexpected state"),
            Self::SIGNATURE_FAIL => ("SIGNATURE_FAIL", "invalid signature or HMAC"),
            Self::INTERRUPTED_EXECUTION => (
                "INTERRUPTED_EXECUTION",
                "interrupted: the device waits for a client command answer",
            ),
            _ => return None,
        })
    }
}

impl fmt::Display for StatusWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#06x} ({})", self.0, self.meaning())
    }
}

impl From<u16> for StatusWord {
    fn from(v: u16) -> Self {
        StatusWord(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_display() {
        assert_eq!(StatusWord::from_bytes(0x69, 0x85), StatusWord::DENY);
        assert_eq!(StatusWord::LOCKED.name(), Some("LOCKED"));
        assert_eq!(StatusWord(0x6F42).meaning(), "technical problem");
        assert_eq!(StatusWord(0x1234).name(), None);
        assert_eq!(
            StatusWord::DENY.to_string(),
            "0x6985 (rejected by the user)"
        );
    }
}
