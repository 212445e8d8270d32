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

pub use export::{export_okx_csv, ExportSummary, Skipped, OKX_11_HEADER};
pub use reader::{looks_like_okx, Layout, OkxReader, RawRow, Row, RowParser};

use crate::error::InputError;
use crate::exchange::{pipeline, Checked, Collect, RowCheck, Seen};
use crate::report::{Outcome, Report};
use std::path::Path;

/// The report's format name for OKX files.
pub const FORMAT: &str = "okx-csv";

/// How to run an OKX verification (the options of every exchange format).
pub use crate::exchange::ExchangeOptions as OkxOptions;

/// Checks one row on its own (no duplicate detection): verified, failed or unsupported.
pub fn check_row(row: &Row) -> Outcome {
    check::check_row(row)
}

/// The label a row is counted under in the report (`BTC`, `USDT-TRC20`, `USDT/ETH`, …).
pub fn row_label(row: &Row) -> String {
    check::label_of(row)
}

impl RowCheck for RowParser {
    type Extra = ();

    fn check(&self, raw: &RawRow) -> Result<Checked<()>, InputError> {
        let row = self.parse(raw)?;
        Ok(Checked {
            index: row.index,
            line: row.line,
            label: check::label_of(&row),
            outcome: check::check_row(&row),
            address: row.address,
            extra: (),
        })
    }
}

/// Records OKX rows in file order; a row repeating an earlier row's coin and address fails.
#[derive(Default)]
struct OkxCollect {
    seen: Seen,
}

impl Collect<()> for OkxCollect {
    fn collect(&mut self, c: Checked<()>, report: &mut Report) {
        let mut outcome = c.outcome;
        if let Some(first) = self.seen.first_line(&[&c.label, &c.address], c.line) {
            outcome = Outcome::failed(
                crate::report::FailureCode::DuplicateAddress,
                format!(
                    "duplicate row: line {first} already lists {} for {}",
                    c.address, c.label
                ),
            );
        }
        report.record(c.index, Some(c.line), &c.label, &c.address, outcome);
    }
}

/// Verifies the OKX file at `path`. `Err` means the file could not be read or understood
/// (exit status 2: no header, a row with the wrong number of columns, bad CSV, …); otherwise
/// the report has one outcome per row, per coin, failures with their line numbers. The rows
/// go through the exchange-file pipeline ([`crate::exchange`]).
pub fn verify_okx_file(path: &Path, opts: &OkxOptions) -> Result<Report, InputError> {
    let name = path.display().to_string();
    let (reader, bar) = crate::verify::open_with_progress(path, opts.progress)?;
    let reader = std::io::BufReader::with_capacity(1 << 20, reader);
    let rows = OkxReader::new(&name, reader)?;
    let parser = rows.row_parser();
    let result = pipeline::run(
        path,
        FORMAT,
        rows.into_rows(),
        parser,
        &mut OkxCollect::default(),
        opts,
    );
    bar.finish_and_clear();
    let mut report = result?;
    report.finish(opts.allow_unsupported);
    Ok(report)
}
