//! OKX's published Proof-of-Reserves address files: read and verify them (every header
//! generation), and export our snapshots in their 11-column layout.
//!
//! * [`verify_okx_file`]: stream a file, check every row in parallel, report per coin with
//!   line numbers. Exactly one outcome per row: verified, failed (why) or unsupported (what).
//! * [`looks_like_okx`]: format detection from the first bytes of a file.
//! * [`export_okx_csv`]: a snapshot as an OKX 11-column file.
//!
//! What is checked per coin, and where we are stricter than OKX's own verifier, is in
//! `docs/okx.md`.

mod check;
mod export;
mod reader;
mod utxo;

pub use export::{export_okx_csv, ExportSummary, Skipped, OKX_11_HEADER};
pub use reader::{looks_like_okx, Layout, OkxReader, Row};

use crate::error::InputError;
use crate::report::{Outcome, Report};
use crate::verify::{progress_bar, ProgressReader};
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;
use std::sync::mpsc;

/// The report's format name for OKX files.
pub const FORMAT: &str = "okx-csv";

/// How to run an OKX verification.
#[derive(Debug, Clone, Default)]
pub struct OkxOptions {
    /// Worker threads; 0 means one per core.
    pub threads: usize,
    /// Show a progress bar on stderr (only for large files on a terminal).
    pub progress: bool,
    /// Let unsupported rows alone leave the result `verified` (they are still reported).
    pub allow_unsupported: bool,
}

/// Checks one row on its own (no duplicate detection): verified, failed or unsupported.
pub fn check_row(row: &Row) -> Outcome {
    check::check_row(row)
}

/// The label a row is counted under in the report (`BTC`, `USDT-TRC20`, `USDT/ETH`, …).
pub fn row_label(row: &Row) -> String {
    check::label_of(row)
}

const BATCH: usize = 2048;

/// Verifies the OKX file at `path`. `Err` means the file could not be read or understood
/// (exit status 2: no header, a row with the wrong number of columns, bad CSV, …); otherwise
/// the report has one outcome per row, per coin, failures with their line numbers.
pub fn verify_okx_file(path: &Path, opts: &OkxOptions) -> Result<Report, InputError> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path)
        .map_err(|e| InputError::new(path, format!("cannot open: {e}")))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = progress_bar(opts.progress, size);
    let reader = std::io::BufReader::with_capacity(
        1 << 20,
        ProgressReader {
            inner: file,
            bar: bar.clone(),
        },
    );
    let mut rows = OkxReader::new(&name, reader)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads)
        .thread_name(|i| format!("okx-verify-{i}"))
        .build()
        .map_err(|e| InputError::new(path, format!("cannot start worker threads: {e}")))?;
    let (tx, rx) = mpsc::sync_channel::<Vec<Row>>(4);
    let reader_thread = std::thread::spawn(move || -> Result<(), InputError> {
        let mut batch = Vec::with_capacity(BATCH);
        while let Some(row) = rows.next_row() {
            batch.push(row?);
            if batch.len() == BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                if tx.send(full).is_err() {
                    return Ok(());
                }
            }
        }
        if !batch.is_empty() {
            let _ = tx.send(batch);
        }
        Ok(())
    });

    let mut report = Report::new(&name, FORMAT);
    let mut seen: HashMap<u128, u64> = HashMap::new();
    for batch in rx {
        let outcomes: Vec<(String, Outcome)> = pool.install(|| {
            batch
                .par_iter()
                .map(|r| (check::label_of(r), check::check_row(r)))
                .collect()
        });
        for (row, (label, mut outcome)) in batch.iter().zip(outcomes) {
            let mut h = Sha256::new();
            h.update(label.as_bytes());
            h.update([0]);
            h.update(row.address.as_bytes());
            let key = u128::from_le_bytes(h.finalize()[..16].try_into().expect("16 bytes"));
            if let Some(first) = seen.insert(key, row.line) {
                seen.insert(key, first);
                outcome = Outcome::Failed(format!(
                    "duplicate row: line {first} already lists {} for {label}",
                    row.address
                ));
            }
            report.record(row.index, Some(row.line), &label, &row.address, outcome);
        }
    }
    reader_thread
        .join()
        .map_err(|_| InputError::new(path, "reader thread panicked"))??;
    bar.finish_and_clear();
    report.finish(opts.allow_unsupported);
    Ok(report)
}
