//! HTX's (Huobi's) published Proof-of-Reserves address files, every generation since
//! December 2022: read and verify them on the shared exchange-file pipeline.
//!
//! * [`verify_htx_file`]: stream a file, check every row in parallel, report per coin with
//!   line numbers, then check the summary block's totals against the rows' balances.
//!   Exactly one outcome per row: verified, failed (why), unsupported (what) or unsigned
//!   (HTX publishes many rows without a signature; they are counted, never verified, and do
//!   not fail the file alone).
//! * [`looks_like_htx`] / [`sniff_htx`]: format detection from the first bytes of a file.
//!
//! A row whose balance is `-` holds nothing of its own: HTX lists, after a contract wallet's
//! row, the owner addresses that signed for it. Such rows are checked against their own
//! address; the wallet row itself stays unsigned, with a note that its owners' control of it
//! is on-chain state. What is checked per coin is in `docs/htx.md`.

mod check;
mod reader;
mod totals;

pub(crate) use reader::summary_line;
pub use reader::{
    looks_like_htx, sniff_htx, HtxParser, HtxReader, HtxRow, SummaryLine, HTX_HEADER,
};
pub(crate) use totals::mismatch_text;
pub use totals::SUMMARY_ALIASES;

use crate::claim::Claim;
use crate::error::InputError;
use crate::exchange::amount::Amount;
use crate::exchange::lines::RawRow;
use crate::exchange::{pipeline, Checked, Collect, ExchangeOptions, RowCheck, Seen};
use crate::report::{FailureCode, FileFailure, Outcome, Report};
use std::path::Path;
use totals::{add_row, check_totals, Tallies};

/// The report's format name for HTX files.
pub const FORMAT: &str = "htx-csv";

/// Checks one row on its own (no duplicate detection, no totals).
pub fn check_row(row: &HtxRow) -> Outcome {
    check::check_row(row)
}

/// What the HTX collector needs of a row besides its outcome.
pub struct HtxExtra {
    /// The balance, `None` for an owner row (`-`).
    balance: Option<Amount>,
    /// The snapshot height, when it is a number.
    height: Option<u64>,
}

impl RowCheck for HtxParser {
    type Extra = HtxExtra;

    fn check(&self, raw: &RawRow) -> Result<Checked<HtxExtra>, InputError> {
        let row = self.parse(raw)?;
        Ok(Checked {
            index: row.index,
            line: row.line,
            outcome: check::check_row(&row),
            label: row.coin,
            address: row.address,
            extra: HtxExtra {
                balance: row.balance,
                height: row.height.and_then(|h| h.trim().parse().ok()),
            },
        })
    }
}

/// Records HTX rows in file order: duplicates, owner rows, the per-coin balance tallies.
#[derive(Default)]
struct HtxCollect {
    seen: Seen,
    /// The last row with a balance, not yet recorded: owner rows may follow it.
    holder: Option<Checked<HtxExtra>>,
    /// The line of the last row with a balance (0 before the first).
    holder_line: u64,
    tallies: Tallies,
    /// Collect claims for a node.
    claims: bool,
    /// The claim of the last row with a balance (its verified owner rows become its owners).
    holder_claim: Option<usize>,
}

impl HtxCollect {
    fn flush(&mut self, report: &mut Report) {
        if let Some(h) = self.holder.take() {
            if self.claims {
                self.holder_claim = Some(report.claims.len());
                report.claims.push(claim_of(&h));
            }
            report.record(h.index, Some(h.line), &h.label, &h.address, h.outcome);
        }
    }
}

/// The claim of a row with a balance: its chain and asset from HTX's coin table, its balance
/// as printed (rounded: the node's may differ by half a unit of the last digit).
fn claim_of(h: &Checked<HtxExtra>) -> Claim {
    let (node_chain, asset) = check::chain_and_asset(&h.label);
    let balance = h.extra.balance.as_ref();
    Claim {
        entry: Some(h.index),
        line: Some(h.line),
        account: None,
        path: None,
        chain: h.label.clone(),
        node_chain,
        asset,
        token: None,
        address: h.address.clone(),
        balance: balance.map(|b| b.value().clone()),
        rounding: balance.map(|b| b.half_unit().clone()),
        height: h.extra.height,
        status: crate::verify::status_of(&h.outcome),
        owners: Vec::new(),
        coins: Vec::new(),
    }
}

impl Collect<HtxExtra> for HtxCollect {
    fn collect(&mut self, mut c: Checked<HtxExtra>, report: &mut Report) {
        match &c.extra.balance {
            Some(balance) => {
                self.holder_claim = None;
                self.flush(report);
                if let Some(first) = self.seen.first_line(&["row", &c.label, &c.address], c.line) {
                    // Counted once: a repeated balance would be added twice.
                    c.outcome = Outcome::failed(
                        crate::report::FailureCode::DuplicateAddress,
                        format!(
                            "duplicate row: line {first} already lists {} for {}",
                            c.address, c.label
                        ),
                    );
                } else {
                    add_row(
                        &mut self.tallies,
                        &c.label,
                        balance,
                        c.outcome == Outcome::Verified,
                        matches!(c.outcome, Outcome::Unsigned(_)),
                    );
                }
                self.holder_line = c.line;
                self.holder = Some(c);
            }
            None => {
                // An owner row: it belongs to the row with a balance before it.
                if let Some(h) = self.holder.as_mut() {
                    if let Outcome::Unsigned(why) = &mut h.outcome {
                        why.push_str(&format!(
                            "; the rows after it with balance `-` (from line {}) are signed by \
                             other addresses, presumably its owners: that they control it is \
                             on-chain state, not checked offline",
                            c.line
                        ));
                    }
                }
                self.flush(report);
                let scope = self.holder_line.to_string();
                if let Some(first) = self
                    .seen
                    .first_line(&["owner", &scope, &c.label, &c.address], c.line)
                {
                    c.outcome = Outcome::failed(
                        crate::report::FailureCode::DuplicateAddress,
                        format!(
                        "duplicate row: line {first} already lists {} for {} under the same row",
                        c.address, c.label
                    ),
                    );
                }
                // A verified owner of an unsigned wallet row: a node may say it owns it.
                if let (Some(i), Outcome::Verified) = (self.holder_claim, &c.outcome) {
                    if report.claims[i].status == "unsigned" {
                        report.claims[i].owners.push(c.address.clone());
                    }
                }
                report.record(c.index, Some(c.line), &c.label, &c.address, c.outcome);
            }
        }
    }

    fn end(&mut self, report: &mut Report) {
        self.flush(report);
    }
}

/// Verifies the HTX file at `path`. `Err` means the file could not be read or understood
/// (exit status 2: no header, a row with the wrong number of columns, a balance that is not
/// a decimal amount, …); otherwise the report has one outcome per row, per coin, problems
/// with their line numbers, and the summary block's totals against the rows (a total that
/// does not match fails the file, naming the coin and both amounts).
pub fn verify_htx_file(path: &Path, opts: &ExchangeOptions) -> Result<Report, InputError> {
    let name = path.display().to_string();
    let (reader, bar) = crate::verify::open_with_progress(path, opts.progress)?;
    let reader = std::io::BufReader::with_capacity(1 << 20, reader);
    let (summary, parser, rows) = HtxReader::new(&name, reader)?.into_parts();
    let mut collect = HtxCollect {
        claims: opts.claims,
        ..HtxCollect::default()
    };
    let result = pipeline::run(path, FORMAT, rows, parser, &mut collect, opts);
    bar.finish_and_clear();
    let mut report = result?;
    if !summary.is_empty() {
        report.totals = check_totals(&summary, &collect.tallies);
        for t in &report.totals {
            if t.status == "mismatch" {
                report.file_failures.push(
                    FileFailure::new(FailureCode::TotalMismatch, mismatch_text(t)).at_line(t.line),
                );
            }
        }
    }
    report.finish(opts.allow_unsupported);
    Ok(report)
}
