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
mod totals;

pub use export::{export_okx_csv, ExportSummary, Skipped, OKX_11_HEADER};
pub use reader::{looks_like_okx, Layout, OkxReader, RawRow, Row, RowParser};
pub use totals::row_amount;

use crate::claim::Claim;
use crate::error::InputError;
use crate::exchange::{pipeline, Checked, Collect, RowCheck, Seen};
use crate::htx::SummaryLine;
use crate::report::{FailureCode, FileFailure, Outcome, Report};
use bigdecimal::BigDecimal;
use std::path::Path;
use totals::CoinSums;

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

/// The chain a row's balance is on (what a node serves) and its asset: `USDT-ERC20` is USDT
/// on ETH, `ETH-OPTIMISM` ETH on OPTIMISM, `USDT` with network `ETH` USDT on ETH, `BTC` BTC.
pub fn chain_and_asset(row: &Row) -> (String, String) {
    let coin = row.coin.trim().to_ascii_uppercase();
    let (asset, suffix) = match coin.split_once('-') {
        Some((a, s)) => (a.to_string(), Some(s.to_string())),
        None => (coin.clone(), None),
    };
    let net = row.network.trim().to_ascii_uppercase();
    let chain = if !net.is_empty() {
        net
    } else {
        match suffix.as_deref() {
            Some("ERC20") => "ETH".to_string(),
            Some("TRC20") => "TRX".to_string(),
            Some("BEP20") => "BSC".to_string(),
            Some("POLY") => "POLYGON".to_string(),
            Some(s) => s.to_string(),
            None => coin.clone(),
        }
    };
    (chain, asset)
}

/// What the OKX collector needs of a row besides its outcome.
pub struct RowExtra {
    /// The amount in whole coins, or why it is refused.
    amount: Result<Option<BigDecimal>, String>,
    /// The row's `Snapshot Height`.
    height: Option<u64>,
    /// The chain and asset of its balance.
    chain_asset: (String, String),
    /// A contract wallet's owners whose signatures verified.
    owners: Vec<String>,
}

impl RowCheck for RowParser {
    type Extra = RowExtra;

    fn check(&self, raw: &RawRow) -> Result<Checked<RowExtra>, InputError> {
        let row = self.parse(raw)?;
        let outcome = check::check_row(&row);
        let owners = check::contract_owners(&row, &outcome);
        Ok(Checked {
            index: row.index,
            line: row.line,
            label: check::label_of(&row),
            outcome,
            extra: RowExtra {
                amount: row_amount(&row).map_err(|e| format!("amount: {e}")),
                height: row.height.trim().parse().ok(),
                chain_asset: chain_and_asset(&row),
                owners,
            },
            address: row.address,
        })
    }
}

/// Records OKX rows in file order; a row repeating an earlier row's coin and address fails.
#[derive(Default)]
struct OkxCollect {
    seen: Seen,
    sums: CoinSums,
    /// `Some(summary)` when claims are collected (the summary block gives the 7-column
    /// generation's heights).
    claims: Option<Vec<SummaryLine>>,
}

impl Collect<RowExtra> for OkxCollect {
    fn collect(&mut self, c: Checked<RowExtra>, report: &mut Report) {
        let mut outcome = c.outcome;
        let dup = self.seen.first_line(&[&c.label, &c.address], c.line);
        if let Some(first) = dup {
            outcome = Outcome::failed(
                crate::report::FailureCode::DuplicateAddress,
                format!(
                    "duplicate row: line {first} already lists {} for {}",
                    c.address, c.label
                ),
            );
        }
        let amount = match c.extra.amount {
            Ok(a) => a,
            Err(why) => {
                if !matches!(outcome, Outcome::Failed(_)) {
                    outcome = Outcome::failed(crate::report::FailureCode::InvalidBalance, why);
                }
                None
            }
        };
        let verified = outcome == Outcome::Verified;
        let (chain, asset) = c.extra.chain_asset;
        if let (Some(a), None) = (&amount, dup) {
            totals::add_row(&mut self.sums, &c.label, a, verified);
            report.add_balance(&chain, &asset, a, verified);
        }
        if let Some(summary) = &self.claims {
            let height = c.extra.height.or_else(|| {
                summary
                    .iter()
                    .find(|l| l.coin.trim().eq_ignore_ascii_case(c.label.trim()))
                    .and_then(|l| l.height.trim().parse().ok())
            });
            report.claims.push(Claim {
                entry: Some(c.index),
                line: Some(c.line),
                account: None,
                path: None,
                chain: c.label.clone(),
                node_chain: chain,
                asset,
                token: None,
                address: c.address.clone(),
                balance: amount,
                rounding: None,
                height,
                status: crate::verify::status_of(&outcome),
                owners: c.extra.owners,
                coins: Vec::new(),
            });
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
    let summary = rows.summary().to_vec();
    let mut collect = OkxCollect {
        claims: opts.claims.then(|| summary.clone()),
        ..OkxCollect::default()
    };
    let result = pipeline::run(path, FORMAT, rows.into_rows(), parser, &mut collect, opts);
    bar.finish_and_clear();
    let mut report = result?;
    if !summary.is_empty() {
        report.totals = totals::check_totals(&summary, &collect.sums);
        for t in &report.totals {
            if t.status == "mismatch" {
                report.file_failures.push(
                    FileFailure::new(FailureCode::TotalMismatch, crate::htx::mismatch_text(t))
                        .at_line(t.line),
                );
            }
        }
    }
    report.finish(opts.allow_unsupported);
    Ok(report)
}
