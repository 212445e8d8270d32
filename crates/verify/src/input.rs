//! Verifying a file whatever its format: a por-attest snapshot or an exchange's published
//! address file, told apart by its first bytes unless the caller names the format.

use crate::error::InputError;
use crate::okx::{looks_like_okx, verify_okx_file, OkxOptions};
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
    /// Exchange files: rows this build cannot check do not, alone, fail the file.
    pub allow_unsupported: bool,
}

/// The format of the file at `path`, from its first 4 KiB (a snapshot unless it looks like
/// an exchange file; an unreadable file is left to the snapshot reader to report).
pub fn detect_format(path: &Path) -> InputFormat {
    let mut head = vec![0u8; 4096];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    if looks_like_okx(&head[..n]) {
        InputFormat::OkxCsv
    } else {
        InputFormat::Snapshot
    }
}

/// Verifies the file at `path` in its format: the report, or why the file could not be read.
pub fn verify_file(path: &Path, opts: &FileOptions) -> Result<Report, InputError> {
    let format = match opts.format {
        InputFormat::Auto => detect_format(path),
        f => f,
    };
    match format {
        InputFormat::OkxCsv => verify_okx_file(
            path,
            &OkxOptions {
                threads: opts.threads,
                progress: opts.progress,
                allow_unsupported: opts.allow_unsupported,
            },
        ),
        InputFormat::Snapshot | InputFormat::Auto => verify_snapshot_file(
            path,
            &VerifyOptions {
                threads: opts.threads,
                progress: opts.progress,
            },
        ),
    }
}
