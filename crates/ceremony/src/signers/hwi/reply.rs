//! HWI's answers, read without I/O: HWI prints one JSON value per command and reports failures
//! as `{"error": ..., "code": N}` **with exit status 0**, so every answer is checked here for an
//! error, for the fields the command must give, and (for `signtx`) for `"signed": true`.

use serde_json::Value;
use thiserror::Error;

/// HWI's code for an action the user canceled on the device (`ACTION_CANCELED`).
pub const ACTION_CANCELED: i64 = -14;

/// Why an HWI call gave no usable answer. `command` names the call as run (program, device
/// options and subcommand; never the message or PSBT it carried).
#[derive(Debug, Error)]
pub enum HwiError {
    /// The program does not exist (or is not executable).
    #[error("`{command}`: cannot run the HWI program: {detail} (install HWI, e.g. `pip install hwi==3.2.0`, or set the signer's `command`)")]
    Missing {
        /// The call.
        command: String,
        /// What the system said.
        detail: String,
    },
    /// No answer in time: the process was killed.
    #[error("`{command}`: no answer after {seconds} s; the HWI process was killed (is the device waiting for a confirmation, or unplugged?)")]
    Timeout {
        /// The call.
        command: String,
        /// The timeout.
        seconds: u64,
    },
    /// HWI answered with an error object.
    #[error("`{command}`: HWI reports error {code}: {message}")]
    Failed {
        /// The call.
        command: String,
        /// HWI's error code.
        code: i64,
        /// HWI's message.
        message: String,
    },
    /// `signtx` came back unsigned.
    #[error("`{command}`: HWI answered \"signed\": false: the device signed nothing (does it hold the key at this path, and does it sign this kind of transaction?)")]
    NotSigned {
        /// The call.
        command: String,
    },
    /// The answer is not the JSON the command gives.
    #[error("`{command}`: unexpected answer from HWI ({detail}): {excerpt}")]
    Garbage {
        /// The call.
        command: String,
        /// What is wrong with it.
        detail: String,
        /// The start of what was printed (stdout, then stderr).
        excerpt: String,
    },
}

impl HwiError {
    /// True when the user refused the action on the device: HWI's `ACTION_CANCELED`, or (HWI
    /// 3.2.0's Ledger driver, which reports a refused address display as an unknown error) the
    /// Ledger status 0x6985 in the message.
    pub fn is_rejection(&self) -> bool {
        matches!(self, HwiError::Failed { code, message, .. }
            if *code == ACTION_CANCELED || message.contains("0x6985"))
    }
}

/// At most 300 characters of `text`, on one line.
pub fn excerpt(text: &str) -> String {
    let one_line: String = text
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    match one_line.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &one_line[..i]),
        None if one_line.is_empty() => "(nothing)".into(),
        None => one_line,
    }
}

/// The JSON value HWI printed on `stdout` (its last non-empty line: HWI prints one), or why it
/// is not one; `stderr` goes into the error's excerpt.
pub fn parse_output(command: &str, stdout: &str, stderr: &str) -> Result<Value, HwiError> {
    let garbage = |detail: String| HwiError::Garbage {
        command: command.to_string(),
        detail,
        excerpt: excerpt(&format!("{stdout} {stderr}")),
    };
    let line = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .ok_or_else(|| garbage("no output".into()))?;
    let value: Value =
        serde_json::from_str(line.trim()).map_err(|e| garbage(format!("not JSON: {e}")))?;
    check_error(command, value)
}

/// `value` unless it is HWI's error object.
pub fn check_error(command: &str, value: Value) -> Result<Value, HwiError> {
    if let Some(e) = value.get("error") {
        let message = match e {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let code = value.get("code").and_then(Value::as_i64).unwrap_or(0);
        return Err(HwiError::Failed {
            command: command.to_string(),
            code,
            message,
        });
    }
    Ok(value)
}

/// The string field `field` of an answer.
pub fn string_field(command: &str, value: &Value, field: &str) -> Result<String, HwiError> {
    value
        .get(field)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| HwiError::Garbage {
            command: command.to_string(),
            detail: format!("no string field `{field}`"),
            excerpt: excerpt(&value.to_string()),
        })
}

/// The PSBT of a `signtx` answer, refusing `"signed": false`.
pub fn signed_psbt(command: &str, value: &Value) -> Result<String, HwiError> {
    match value.get("signed") {
        Some(Value::Bool(true)) => string_field(command, value, "psbt"),
        Some(Value::Bool(false)) => Err(HwiError::NotSigned {
            command: command.to_string(),
        }),
        _ => Err(HwiError::Garbage {
            command: command.to_string(),
            detail: "no boolean field `signed`".into(),
            excerpt: excerpt(&value.to_string()),
        }),
    }
}

/// The master fingerprint (8 hex digits) in a descriptor's key origin `[f5acc2fd/84h/0h/0h]…`.
pub fn descriptor_fingerprint(desc: &str) -> Option<String> {
    let start = desc.find('[')? + 1;
    let fp = desc.get(start..start + 8)?;
    (fp.bytes().all(|b| b.is_ascii_hexdigit()) && desc[start + 8..].starts_with(['/', ']']))
        .then(|| fp.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_with_exit_status_zero_are_errors() {
        let e = parse_output(
            "hwi signtx",
            "{\"error\": \"sign_tx canceled\", \"code\": -14}\n",
            "",
        )
        .unwrap_err();
        assert!(e.is_rejection(), "{e}");
        let e = parse_output(
            "hwi getxpub",
            "{\"error\": \"Bad argument\", \"code\": -7}",
            "",
        )
        .unwrap_err();
        assert!(!e.is_rejection());
        assert!(e
            .to_string()
            .contains("`hwi getxpub`: HWI reports error -7: Bad argument"));
        let e = parse_output(
            "hwi displayaddress",
            "{\"error\": \"('0x6985', 'Error in GET_WALLET_ADDRESS command', '')\", \"code\": -13}",
            "",
        )
        .unwrap_err();
        assert!(e.is_rejection(), "{e}");
    }

    #[test]
    fn garbage_and_silence_are_named() {
        for (out, err, want) in [
            ("", "Traceback: boom", "no output"),
            ("hello world\n", "", "not JSON"),
            ("{\"xpub\": ", "", "not JSON"),
        ] {
            let e = parse_output("hwi getxpub m/84h", out, err).unwrap_err();
            let text = e.to_string();
            assert!(text.contains(want), "{text}");
            assert!(text.starts_with("`hwi getxpub m/84h`"), "{text}");
        }
        let long = "x".repeat(1000);
        assert!(excerpt(&long).chars().count() <= 301);
    }

    #[test]
    fn unsigned_psbts_are_refused() {
        let v: Value = serde_json::from_str("{\"psbt\": \"cHNidP8=\", \"signed\": false}").unwrap();
        assert!(matches!(
            signed_psbt("hwi signtx", &v),
            Err(HwiError::NotSigned { .. })
        ));
        let v: Value = serde_json::from_str("{\"psbt\": \"cHNidP8=\", \"signed\": true}").unwrap();
        assert_eq!(signed_psbt("hwi signtx", &v).unwrap(), "cHNidP8=");
        let v: Value = serde_json::from_str("{\"psbt\": \"cHNidP8=\"}").unwrap();
        assert!(signed_psbt("hwi signtx", &v).is_err());
        assert!(string_field("hwi getxpub", &v, "xpub").is_err());
    }

    #[test]
    fn fingerprints_come_from_key_origins() {
        assert_eq!(
            descriptor_fingerprint("wpkh([F5ACC2FD/84h/0h/0h]xpub6C/0/*)#abc").as_deref(),
            Some("f5acc2fd")
        );
        assert_eq!(descriptor_fingerprint("wpkh(xpub6C/0/*)"), None);
        assert_eq!(descriptor_fingerprint("wpkh([f5acc2/84h]x)"), None);
    }
}
