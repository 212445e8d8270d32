//! What the Bitcoin app shows of a message it signs (SIGN_MESSAGE), from app-bitcoin-new's
//! `src/handler/sign_message.c`: from 2.2.2 the text, in pages of 2 × 64 bytes, when it is at
//! most 10 chunks of 64 bytes (640) and every byte is printable ASCII (0x20 to 0x7E: a newline
//! is not); otherwise, and always before 2.2.2, "Message hash": the message's SHA-256 in
//! uppercase hex (seen on 2.0.6 under Speculos, 2026-12-01).

/// The first app version that shows a message's text.
pub const TEXT_SINCE: (u32, u32, u32) = (2, 2, 2);
/// The longest message shown as text.
pub const MAX_TEXT: usize = 640;

/// What the app's message review shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageScreen {
    /// The message text.
    Text(String),
    /// "Message hash": the SHA-256 of the message, 64 uppercase hex digits.
    Hash(String),
}

/// What the app at `version` shows of `message`.
pub fn message_screen(version: (u32, u32, u32), message: &[u8]) -> MessageScreen {
    let printable = message.iter().all(|b| (0x20..=0x7E).contains(b));
    if version >= TEXT_SINCE && printable && message.len() <= MAX_TEXT {
        MessageScreen::Text(String::from_utf8_lossy(message).into_owned())
    } else {
        MessageScreen::Hash(crate::codec::upper_hex(&super::sha256(message)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_from_2_2_2_when_short_and_printable_else_the_hash() {
        let m = b"Acme proof of reserves 2026-11: I control BTC account xpub6C at 870000:00";
        assert_eq!(
            message_screen((2, 4, 1), m),
            MessageScreen::Text(String::from_utf8_lossy(m).into_owned())
        );
        // SHA-256("abc"), as the app writes it.
        let MessageScreen::Hash(h) = message_screen((2, 0, 6), b"abc") else {
            panic!("2.0.6 shows the hash")
        };
        assert_eq!(
            h,
            "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"
        );
        assert!(matches!(
            message_screen((2, 2, 1), b"abc"),
            MessageScreen::Hash(_)
        ));
        assert!(matches!(
            message_screen((2, 2, 2), b"abc"),
            MessageScreen::Text(_)
        ));
        assert!(matches!(
            message_screen((2, 4, 1), b"two\nlines"),
            MessageScreen::Hash(_)
        ));
        assert!(matches!(
            message_screen((2, 4, 1), &[b'a'; 640]),
            MessageScreen::Text(_)
        ));
        assert!(matches!(
            message_screen((2, 4, 1), &[b'a'; 641]),
            MessageScreen::Hash(_)
        ));
    }
}
