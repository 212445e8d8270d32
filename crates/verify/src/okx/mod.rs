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

mod cashaddr;
mod check;
mod eos;
mod export;
mod reader;
mod utxo;

pub use export::{export_okx_csv, ExportSummary, Skipped, OKX_11_HEADER};
pub use reader::{looks_like_okx, Layout, OkxReader, RawRow, Row, RowParser};

use crate::error::InputError;
use crate::report::{Outcome, Report};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
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

/// Rows per batch handed to a worker.
const BATCH: usize = 512;

/// One checked row, as the collector needs it.
struct Checked {
    index: u64,
    line: u64,
    label: String,
    address: String,
    outcome: Outcome,
    /// Duplicate-detection key of (label, address).
    key: u128,
}

enum Out {
    /// Batch number, and its rows (or the first row that could not be split).
    Batch(u64, Result<Vec<Checked>, InputError>),
    /// The number of batches sent, and how the reading ended.
    End(u64, Result<(), InputError>),
}

fn check_batch(parser: &RowParser, raw: &[RawRow]) -> Result<Vec<Checked>, InputError> {
    let mut out = Vec::with_capacity(raw.len());
    for r in raw {
        let row = parser.parse(r)?;
        let label = check::label_of(&row);
        let outcome = check::check_row(&row);
        let mut h = Sha256::new();
        h.update(label.as_bytes());
        h.update([0]);
        h.update(row.address.as_bytes());
        let key = u128::from_le_bytes(h.finalize()[..16].try_into().expect("16 bytes"));
        out.push(Checked {
            index: row.index,
            line: row.line,
            label,
            address: row.address,
            outcome,
            key,
        });
    }
    Ok(out)
}

/// Verifies the OKX file at `path`. `Err` means the file could not be read or understood
/// (exit status 2: no header, a row with the wrong number of columns, bad CSV, …); otherwise
/// the report has one outcome per row, per coin, failures with their line numbers.
///
/// The reader thread only cuts the file into row texts; worker threads split, check and
/// label the rows; this thread records them in file order. Errors are reported in file
/// order too: the first unreadable row wins, wherever it was found.
pub fn verify_okx_file(path: &Path, opts: &OkxOptions) -> Result<Report, InputError> {
    let name = path.display().to_string();
    let (reader, bar) = crate::verify::open_with_progress(path, opts.progress)?;
    let reader = std::io::BufReader::with_capacity(1 << 20, reader);
    let mut rows = OkxReader::new(&name, reader)?;
    let parser = std::sync::Arc::new(rows.row_parser());
    let pool = std::sync::Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(opts.threads)
            .thread_name(|i| format!("okx-verify-{i}"))
            .build()
            .map_err(|e| InputError::new(path, format!("cannot start worker threads: {e}")))?,
    );
    // Batches in flight are bounded by tokens: memory stays flat whatever the file's size.
    let in_flight = pool.current_num_threads() * 4 + 2;
    let (token_tx, token_rx) = mpsc::sync_channel::<()>(in_flight);
    let (out_tx, out_rx) = mpsc::channel::<Out>();
    let reader_pool = pool.clone();
    let reader_thread = std::thread::Builder::new()
        .name("okx-read".into())
        .spawn(move || {
            let mut seq = 0u64;
            let mut batch = Vec::with_capacity(BATCH);
            let send = |batch: Vec<RawRow>, seq: &mut u64| -> bool {
                if token_tx.send(()).is_err() {
                    return false;
                }
                let tx = out_tx.clone();
                let parser = parser.clone();
                let n = *seq;
                reader_pool.spawn(move || {
                    let _ = tx.send(Out::Batch(n, check_batch(&parser, &batch)));
                });
                *seq += 1;
                true
            };
            let end = loop {
                match rows.next_raw() {
                    Some(Ok(raw)) => {
                        batch.push(raw);
                        if batch.len() == BATCH {
                            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                            if !send(full, &mut seq) {
                                return;
                            }
                        }
                    }
                    Some(Err(e)) => break Err(e),
                    None => break Ok(()),
                }
            };
            if !batch.is_empty() && !send(batch, &mut seq) {
                return;
            }
            let _ = out_tx.send(Out::End(seq, end));
        })
        .map_err(|e| InputError::new(path, format!("cannot start the reader thread: {e}")))?;

    let mut report = Report::new(&name, FORMAT);
    let mut seen: HashMap<u128, u64, std::hash::BuildHasherDefault<crate::verify::KeyHasher>> =
        HashMap::default();
    let mut pending: BTreeMap<u64, Result<Vec<Checked>, InputError>> = BTreeMap::new();
    let mut next = 0u64;
    let mut end: Option<(u64, Result<(), InputError>)> = None;
    let mut failure: Option<InputError> = None;
    'collect: while !matches!(&end, Some((total, _)) if next >= *total) {
        let Ok(msg) = out_rx.recv() else {
            failure = Some(InputError::new(path, "reader thread stopped"));
            break;
        };
        match msg {
            Out::Batch(n, b) => {
                pending.insert(n, b);
                while let Some(b) = pending.remove(&next) {
                    let rows = match b {
                        Ok(rows) => rows,
                        Err(e) => {
                            failure = Some(e);
                            break 'collect;
                        }
                    };
                    for c in rows {
                        let mut outcome = c.outcome;
                        if let Some(first) = seen.insert(c.key, c.line) {
                            seen.insert(c.key, first);
                            outcome = Outcome::Failed(format!(
                                "duplicate row: line {first} already lists {} for {}",
                                c.address, c.label
                            ));
                        }
                        report.record(c.index, Some(c.line), &c.label, &c.address, outcome);
                    }
                    next += 1;
                    let _ = token_rx.recv();
                }
            }
            Out::End(total, r) => end = Some((total, r)),
        }
    }
    drop(token_rx);
    drop(out_rx);
    let joined = reader_thread.join();
    bar.finish_and_clear();
    if let Some(e) = failure {
        return Err(e);
    }
    joined.map_err(|_| InputError::new(path, "reader thread panicked"))?;
    if let Some((_, Err(e))) = end {
        return Err(e);
    }
    report.finish(opts.allow_unsupported);
    Ok(report)
}
