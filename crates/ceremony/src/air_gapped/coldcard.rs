//! Coldcard's SD-card conventions, as its firmware reads and writes them (`shared/auth.py`
//! `sign_txt_file`, `shared/msgsign.py`, `shared/psbt.py`, `shared/multisig.py`, and its
//! `docs/proof-of-reserves-bip-322.md`, `docs/msg-signing.md`):
//!
//! * a text-file request `NAME.txt` is at most three lines: the message, the key's path
//!   (`m/...`), the address format (`p2pkh`, `p2sh-p2wpkh`, `p2wpkh`); no fourth line, so no
//!   newline after the last; the device writes `NAME-signed.txt`, a BIP-137 armored message;
//! * a message must be printable ASCII, 2 to 240 characters for text signing (330 in a
//!   proof-of-reserves PSBT, where tabs and newlines are allowed), no leading or trailing
//!   space and never three spaces in a row;
//! * a signed PSBT comes back as `NAME-signed.psbt`, or `NAME-part.psbt` while a multisig
//!   input lacks signatures (and a `NAME-final.txn`, which is of no use here); when the
//!   name is taken the device adds `-1`, `-2`, ...;
//! * a multisig wallet is registered from a text file: `Name:` (1 to 20 characters),
//!   `Policy: M of N`, `Format:` (`P2SH`, `P2WSH`, `P2SH-P2WSH`), `Derivation:` and one
//!   `XFP: xpub` line per cosigner (sorted multisig, BIP-67, only).

use crate::path::path_string;
use bitcoin::bip32::{DerivationPath, Fingerprint, Xpub};
use por_attest_verify::chains::ScriptType;

/// The longest message Coldcard signs as text (`MSG_SIGNING_MAX_LENGTH`).
pub const TEXT_MESSAGE_MAX: usize = 240;
/// The longest message of a proof-of-reserves PSBT Coldcard signs.
pub const POR_MESSAGE_MAX: usize = 330;

/// Why Coldcard would refuse `message` (the firmware's `validate_text_for_signing`), `None`
/// when it signs it. `in_psbt`: a proof-of-reserves PSBT's message (longer, tabs and
/// newlines allowed) rather than a text file's.
pub fn message_refusal(message: &str, in_psbt: bool) -> Option<String> {
    let max = if in_psbt {
        POR_MESSAGE_MAX
    } else {
        TEXT_MESSAGE_MAX
    };
    let allowed = |c: char| (' '..='~').contains(&c) || (in_psbt && (c == '\t' || c == '\n'));
    if let Some(c) = message.chars().find(|c| !allowed(*c)) {
        return Some(format!(
            "Coldcard signs printable ASCII only; the message has {c:?}"
        ));
    }
    let n = message.len();
    if n < 2 {
        return Some("Coldcard signs messages of 2 characters or more".into());
    }
    if n > max {
        return Some(format!(
            "the message is {n} characters; Coldcard signs at most {max} {} (shorten the entity, the snapshot id or the template)",
            if in_psbt { "in a proof-of-reserves PSBT" } else { "as a text file" }
        ));
    }
    if message.contains("   ") {
        return Some("Coldcard refuses a message with three spaces in a row".into());
    }
    if message.starts_with(' ') || message.ends_with(' ') {
        return Some("Coldcard refuses a message with a leading or trailing space".into());
    }
    None
}

/// Coldcard's name of the address format a text request signs for: the script type's for
/// single-key types it knows, else `p2pkh` (the key's own legacy address).
pub fn text_format(script_type: Option<ScriptType>) -> &'static str {
    match script_type {
        Some(ScriptType::P2wpkh) => "p2wpkh",
        Some(ScriptType::P2shP2wpkh) => "p2sh-p2wpkh",
        _ => "p2pkh",
    }
}

/// The text of a `NAME.txt` request: message, path, address format, with no newline after
/// the last line (the firmware refuses a fourth line).
pub fn text_request(message: &str, path: &DerivationPath, format: &str) -> String {
    format!("{message}\n{}\n{format}", path_string(path))
}

/// What a file in the answer folder is to Coldcard's naming: the request's base name and the
/// kind of answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerFile<'a> {
    /// `BASE-signed.psbt` / `BASE-part.psbt` (and numbered `-N` copies).
    Psbt(&'a str),
    /// `BASE-signed.txt` (and numbered copies).
    Text(&'a str),
}

/// Classifies a file name: an answer to request `BASE`, or `None` for anything else.
pub fn answer_file(name: &str) -> Option<AnswerFile<'_>> {
    let (stem, ext) = name.rsplit_once('.')?;
    // A numbered copy: `-signed-2`.
    let stem = match stem.rsplit_once('-') {
        Some((s, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => s,
        _ => stem,
    };
    let ext = ext.to_ascii_lowercase();
    match ext.as_str() {
        "psbt" => stem
            .strip_suffix("-signed")
            .or_else(|| stem.strip_suffix("-part"))
            .map(AnswerFile::Psbt),
        "txt" => stem.strip_suffix("-signed").map(AnswerFile::Text),
        _ => None,
    }
}

/// One cosigner line of a multisig wallet file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletKey {
    /// The cosigner's master fingerprint.
    pub fingerprint: Fingerprint,
    /// The xpub's origin path.
    pub path: DerivationPath,
    /// The cosigner's account xpub.
    pub xpub: Xpub,
}

/// Coldcard's multisig wallet file (its "simple text" import format) for a sorted
/// `threshold`-of-`keys.len()` wallet of `script_type`; the keys keep their order, with a
/// `Derivation:` line before each run of keys sharing a path. `Err` for what Coldcard's file
/// cannot hold.
pub fn multisig_wallet_file(
    name: &str,
    threshold: u32,
    script_type: ScriptType,
    keys: &[WalletKey],
    comment: &str,
) -> Result<String, String> {
    if name.is_empty() || name.len() > 20 || !name.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(format!(
            "wallet name `{name}`: Coldcard takes 1 to 20 printable ASCII characters"
        ));
    }
    let format = match script_type {
        ScriptType::P2sh => "P2SH",
        ScriptType::P2wsh => "P2WSH",
        ScriptType::P2shP2wsh => "P2SH-P2WSH",
        other => return Err(format!("{other} is not a multisig script type")),
    };
    let n = keys.len();
    if threshold == 0 || threshold as usize > n || n > 15 {
        return Err(format!(
            "a {threshold}-of-{n} policy: Coldcard takes 1 <= M <= N <= 15"
        ));
    }
    let mut out = format!(
        "# Coldcard Multisig setup file ({comment})\n#\nName: {name}\nPolicy: {threshold} of {n}\nFormat: {format}\n"
    );
    let mut last: Option<&DerivationPath> = None;
    for k in keys {
        if last != Some(&k.path) {
            out.push_str(&format!("\nDerivation: {}\n\n", path_string(&k.path)));
            last = Some(&k.path);
        }
        out.push_str(&format!(
            "{}: {}\n",
            k.fingerprint.to_string().to_ascii_uppercase(),
            k.xpub
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn messages_are_checked_as_the_firmware_checks_them() {
        assert_eq!(message_refusal("Acme proof of reserves", false), None);
        assert!(message_refusal(&"x".repeat(241), false)
            .unwrap()
            .contains("at most 240"));
        assert_eq!(message_refusal(&"x".repeat(241), true), None);
        assert!(message_refusal(&"x".repeat(331), true)
            .unwrap()
            .contains("at most 330"));
        assert!(message_refusal("a   b", false)
            .unwrap()
            .contains("three spaces"));
        assert_eq!(message_refusal("a  b", false), None);
        assert!(message_refusal(" ab", false).unwrap().contains("leading"));
        assert!(message_refusal("ab ", false).unwrap().contains("trailing"));
        assert!(message_refusal("a\tb", false)
            .unwrap()
            .contains("printable"));
        assert_eq!(message_refusal("a\tb", true), None);
        assert!(message_refusal("caf\u{e9}", true)
            .unwrap()
            .contains("ASCII"));
        assert!(message_refusal("a", false)
            .unwrap()
            .contains("2 characters"));
    }

    #[test]
    fn answer_names_follow_the_device() {
        assert_eq!(
            answer_file("cc-e0001-signed.psbt"),
            Some(AnswerFile::Psbt("cc-e0001"))
        );
        assert_eq!(
            answer_file("cc-e0001-part.psbt"),
            Some(AnswerFile::Psbt("cc-e0001"))
        );
        assert_eq!(
            answer_file("cc-e0001-signed-2.PSBT"),
            Some(AnswerFile::Psbt("cc-e0001"))
        );
        assert_eq!(
            answer_file("cc-a001-signed.txt"),
            Some(AnswerFile::Text("cc-a001"))
        );
        assert_eq!(answer_file("cc-e0001.psbt"), None);
        assert_eq!(answer_file("cc-e0001.txt"), None);
        assert_eq!(answer_file("cc-e0001-final.txn"), None);
        assert_eq!(answer_file("cc-e0001-part.txt"), None);
    }

    #[test]
    fn text_requests_have_three_lines_and_no_fourth() {
        let p = DerivationPath::from_str("m/44'/0'/0'/0/7").unwrap();
        assert_eq!(
            text_request("hello", &p, "p2pkh"),
            "hello\nm/44'/0'/0'/0/7\np2pkh"
        );
    }

    #[test]
    fn wallet_files_are_coldcards_format() {
        let xpub = Xpub::from_str("xpub6Dg9Y1YV8vKUJaBjWVXyNYcwEbj9cMu6SmnANQaKKPeP2qJoj7YLwc9f6BAhcRsWMU6EmgFRPqWA6imwftveyAYX3CwDBv99BjwgHTAPKbS").unwrap();
        let path = DerivationPath::from_str("m/48'/0'/0'/2'").unwrap();
        let k = |fp: &str| WalletKey {
            fingerprint: Fingerprint::from_str(fp).unwrap(),
            path: path.clone(),
            xpub,
        };
        let text = multisig_wallet_file(
            "por-wsh-2of2",
            2,
            ScriptType::P2wsh,
            &[k("f5acc2fd"), k("73c5da0a")],
            "por-attest",
        )
        .unwrap();
        assert!(text.contains("Name: por-wsh-2of2\nPolicy: 2 of 2\nFormat: P2WSH\n"));
        assert_eq!(text.matches("Derivation: m/48'/0'/0'/2'").count(), 1);
        assert!(text.contains(&format!("F5ACC2FD: {xpub}\n73C5DA0A: {xpub}\n")));
        assert!(multisig_wallet_file(
            "a-name-longer-than-20",
            2,
            ScriptType::P2wsh,
            &[k("f5acc2fd")],
            ""
        )
        .is_err());
        assert!(multisig_wallet_file("w", 2, ScriptType::P2wsh, &[k("f5acc2fd")], "").is_err());
        assert!(multisig_wallet_file("w", 1, ScriptType::P2wpkh, &[k("f5acc2fd")], "").is_err());
    }
}
