//! The one verification pipeline of exchange files: a reader thread cuts the file into row
//! texts, worker threads split and check them ([`RowCheck`]), and the calling thread hands
//! the checked rows to a [`Collect`] in file order. Batches in flight are bounded, so memory
//! stays flat whatever the file's size; errors come out in file order too (the first
//! unreadable row wins, wherever it was found).

use super::lines::{RawRow, RawRows};
use super::ExchangeOptions;
use crate::error::InputError;
use crate::report::{Outcome, Report};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
use std::path::Path;
use std::sync::{mpsc, Arc};

/// Rows per batch handed to a worker.
const BATCH: usize = 512;

/// One row after a worker checked it.
#[derive(Debug, Clone)]
pub struct Checked<X> {
    /// 0-based index among the address rows.
    pub index: u64,
    /// 1-based line number where the row starts.
    pub line: u64,
    /// What the report counts the row under (its coin).
    pub label: String,
    /// The row's address.
    pub address: String,
    /// The row's outcome as the worker saw it (the collector may still change it).
    pub outcome: Outcome,
    /// What the format's collector needs besides (amounts, row kinds).
    pub extra: X,
}

/// What a format does on the worker threads: a raw row to a checked row, or why the row
/// cannot be read (an input error, exit status 2).
pub trait RowCheck: Send + Sync + 'static {
    /// The format's own per-row data for its collector.
    type Extra: Send + 'static;
    /// Splits and checks one row.
    fn check(&self, raw: &RawRow) -> Result<Checked<Self::Extra>, InputError>;
}

/// What a format does with its checked rows, in file order, on the calling thread.
pub trait Collect<X> {
    /// Records one row (usually into `report`).
    fn collect(&mut self, row: Checked<X>, report: &mut Report);
    /// Called once after the last row.
    fn end(&mut self, _report: &mut Report) {}
}

/// Duplicate detection over a key of strings, 16 bytes of SHA-256 per distinct key.
#[derive(Default)]
pub struct Seen {
    first: HashMap<u128, u64, std::hash::BuildHasherDefault<crate::verify::KeyHasher>>,
}

impl Seen {
    /// The line that first had `parts`, or `None` (and `line` is remembered) if none did.
    pub fn first_line(&mut self, parts: &[&str], line: u64) -> Option<u64> {
        let mut h = Sha256::new();
        for p in parts {
            h.update(p.as_bytes());
            h.update([0]);
        }
        let key = u128::from_le_bytes(h.finalize()[..16].try_into().expect("16 bytes"));
        match self.first.entry(key) {
            std::collections::hash_map::Entry::Occupied(e) => Some(*e.get()),
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(line);
                None
            }
        }
    }
}

type BatchResult<X> = Result<Vec<Checked<X>>, InputError>;

enum Out<X> {
    /// Batch number, and its rows (or the first row that could not be read).
    Batch(u64, BatchResult<X>),
    /// The number of batches sent, and how the reading ended.
    End(u64, Result<(), InputError>),
}

fn check_batch<C: RowCheck>(check: &C, raw: &[RawRow]) -> BatchResult<C::Extra> {
    raw.iter().map(|r| check.check(r)).collect()
}

/// Runs `rows` through `check` on worker threads and `collect` in file order; the report is
/// named after `path` and `format`, and is not finished (the caller adds file-level checks
/// and calls [`Report::finish`]).
pub fn run<R, C, K>(
    path: &Path,
    format: &str,
    mut rows: RawRows<R>,
    check: C,
    collect: &mut K,
    opts: &ExchangeOptions,
) -> Result<Report, InputError>
where
    R: BufRead + Send + 'static,
    C: RowCheck,
    K: Collect<C::Extra>,
{
    let check = Arc::new(check);
    let pool = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(opts.threads)
            .thread_name(|i| format!("exchange-verify-{i}"))
            .build()
            .map_err(|e| InputError::new(path, format!("cannot start worker threads: {e}")))?,
    );
    // Batches in flight are bounded by tokens: memory stays flat whatever the file's size.
    let in_flight = pool.current_num_threads() * 4 + 2;
    let (token_tx, token_rx) = mpsc::sync_channel::<()>(in_flight);
    let (out_tx, out_rx) = mpsc::channel::<Out<C::Extra>>();
    let reader_pool = pool.clone();
    let reader_thread = std::thread::Builder::new()
        .name("exchange-read".into())
        .spawn(move || {
            let mut seq = 0u64;
            let mut batch = Vec::with_capacity(BATCH);
            let send = |batch: Vec<RawRow>, seq: &mut u64| -> bool {
                if token_tx.send(()).is_err() {
                    return false;
                }
                let tx = out_tx.clone();
                let check = check.clone();
                let n = *seq;
                reader_pool.spawn(move || {
                    let _ = tx.send(Out::Batch(n, check_batch(&*check, &batch)));
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

    let mut report = Report::new(&path.display().to_string(), format);
    let mut pending: BTreeMap<u64, BatchResult<C::Extra>> = BTreeMap::new();
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
                    match b {
                        Ok(rows) => {
                            for c in rows {
                                collect.collect(c, &mut report);
                            }
                        }
                        Err(e) => {
                            failure = Some(e);
                            break 'collect;
                        }
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
    if let Some(e) = failure {
        return Err(e);
    }
    joined.map_err(|_| InputError::new(path, "reader thread panicked"))?;
    if let Some((_, Err(e))) = end {
        return Err(e);
    }
    collect.end(&mut report);
    Ok(report)
}
