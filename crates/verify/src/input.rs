//! Verifying a file whatever its format: a por-attest snapshot or an exchange's published
//! address file (OKX, HTX), told apart by its first bytes unless the caller names the format.

use crate::error::InputError;
use crate::exchange::lines::first_line;
use crate::exchange::ExchangeOptions;
use crate::htx::{sniff_htx, verify_htx_file};
use crate::okx::{looks_like_okx, verify_okx_file};
use crate::report::Report;
use crate::verify::{verify_snapshot_file, VerifyOptions};
use std::io::Read;
use std::path::Path;

/// The formats `verify` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    /// Detect from the content.
    Auto,
    /// A por-attest snapshot (JSON).
    Snapshot,
    /// An OKX proof-of-reserves address file (CSV).
    OkxCsv,
    /// An HTX (Huobi) proof-of-reserves address file (CSV).
    HtxCsv,
}

impl InputFormat {
    /// The formats a file can be, with their `--format` names.
    pub const KNOWN: [(InputFormat, &'static str); 3] = [
        (InputFormat::Snapshot, "snapshot"),
        (InputFormat::OkxCsv, "okx-csv"),
        (InputFormat::HtxCsv, "htx-csv"),
    ];

    /// The format named `name` on the command line (`auto`, `snapshot`, `okx-csv`,
    /// `htx-csv`).
    pub fn from_name(name: &str) -> Option<InputFormat> {
        if name == "auto" {
            return Some(InputFormat::Auto);
        }
        Self::KNOWN
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(f, _)| *f)
    }
}

/// How to verify a file.
#[derive(Debug, Clone, Copy)]
pub struct FileOptions {
    /// The file's format, or [`InputFormat::Auto`].
    pub format: InputFormat,
    /// Worker threads; 0 means one per core.
    pub threads: usize,
    /// Show a progress bar on stderr (only drawn on a terminal).
    pub progress: bool,
    /// An incomplete verdict (unsupported, unsigned or not checked on chain, nothing failed)
    /// exits 0 rather than 3.
    pub allow_unsupported: bool,
    /// Collect a claim per address in the report, for a node to check.
    pub claims: bool,
}

/// The format of a file from its first bytes, or why it is none of the formats this tool
/// reads. Text that starts like JSON (`{`, `[`), and an empty file, are left to the snapshot
/// reader, whose errors say what is wrong with them.
pub fn detect_format_of(file: &str, head: &[u8]) -> Result<InputFormat, InputError> {
    let text = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    match text.iter().find(|b| !b.is_ascii_whitespace()) {
        None | Some(b'{') | Some(b'[') => return Ok(InputFormat::Snapshot),
        _ => {}
    }
    if looks_like_okx(head) {
        return Ok(InputFormat::OkxCsv);
    }
    let htx = match sniff_htx(head) {
        Ok(()) => return Ok(InputFormat::HtxCsv),
        Err(why) => why,
    };
    let shown = first_line(head).map_or_else(
        || "line 1 is not UTF-8 text".to_string(),
        |l| {
            let cut: String = l.chars().take(80).collect();
            format!(
                "line 1 reads `{cut}`{}",
                if cut.len() < l.len() { "…" } else { "" }
            )
        },
    );
    Err(InputError::new(
        file,
        format!(
            "not a format this tool reads ({shown}): not a por-attest snapshot (`snapshot`: \
             JSON starting with `{{`; this is not valid JSON), not an OKX address file \
             (`okx-csv`: line 1 is neither its summary header `coin,…,amount` nor an address \
             header with `address` and `signature1` columns), not an HTX address file \
             (`htx-csv`: {htx}); `--format` forces one"
        ),
    ))
}

/// The format of the file at `path`, from its first 4 KiB (an unreadable file is left to the
/// snapshot reader to report).
pub fn detect_format(path: &Path) -> Result<InputFormat, InputError> {
    let mut head = vec![0u8; 4096];
    let n = match std::fs::File::open(path).and_then(|mut f| f.read(&mut head)) {
        Ok(n) => n,
        Err(_) => return Ok(InputFormat::Snapshot),
    };
    detect_format_of(&path.display().to_string(), &head[..n])
}

/// Whether `path` is a liabilities bundle rather than an address file: a folder, or a gzip
/// archive (`.tar.gz`). Such input is checked by `liabilities` (feature `liabilities`), not
/// [`verify_file`].
pub fn is_bundle_path(path: &Path) -> bool {
    let mut head = [0u8; 2];
    path.is_dir()
        || std::fs::File::open(path)
            .and_then(|mut f| f.read_exact(&mut head))
            .is_ok_and(|()| head == [0x1f, 0x8b])
}

/// Verifies the file at `path` in its format: the report (which names the format read), or
/// why the file could not be read.
pub fn verify_file(path: &Path, opts: &FileOptions) -> Result<Report, InputError> {
    let format = match opts.format {
        InputFormat::Auto => detect_format(path)?,
        f => f,
    };
    let exchange = ExchangeOptions {
        threads: opts.threads,
        progress: opts.progress,
        allow_unsupported: opts.allow_unsupported,
        claims: opts.claims,
    };
    let mut report = match format {
        InputFormat::OkxCsv => verify_okx_file(path, &exchange),
        InputFormat::HtxCsv => verify_htx_file(path, &exchange),
        InputFormat::Snapshot | InputFormat::Auto => verify_snapshot_file(
            path,
            &VerifyOptions {
                threads: opts.threads,
                progress: opts.progress,
                claims: opts.claims,
            },
        ),
    }?;
    report.allow_incomplete = opts.allow_unsupported;
    if matches!(format, InputFormat::OkxCsv | InputFormat::HtxCsv) {
        report.file_sha256 = Some(crate::file_hash::file_sha256(path)?);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_and_the_unknown_file() {
        let d = |b: &[u8]| detect_format_of("f", b);
        assert_eq!(d(b"  {\"format\"").unwrap(), InputFormat::Snapshot);
        assert_eq!(d(b"[1,2]").unwrap(), InputFormat::Snapshot);
        assert_eq!(d(b"").unwrap(), InputFormat::Snapshot);
        assert_eq!(
            d(b"coin,snapshot height,amount\n").unwrap(),
            InputFormat::OkxCsv
        );
        assert_eq!(
            d(b"\xef\xbb\xbfcoin,snapshot height,balance\r\n").unwrap(),
            InputFormat::HtxCsv
        );
        let e = d(b"name,amount\nalice,3\n").unwrap_err().to_string();
        for needle in [
            "f: not a format this tool reads (line 1 reads `name,amount`)",
            "`snapshot`",
            "`okx-csv`",
            "`htx-csv`: line 1 is neither HTX's summary header",
            "not valid JSON",
        ] {
            assert!(e.contains(needle), "{needle}: {e}");
        }
        assert!(d(b"\xff\xfe")
            .unwrap_err()
            .to_string()
            .contains("not UTF-8"));
        assert_eq!(InputFormat::from_name("htx-csv"), Some(InputFormat::HtxCsv));
        assert_eq!(InputFormat::from_name("auto"), Some(InputFormat::Auto));
        assert_eq!(InputFormat::from_name("xls"), None);
    }
}
