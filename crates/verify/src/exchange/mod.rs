//! What every exchange's published address file shares: the text layer (counted lines, CSV
//! fields, row texts), one parallel pipeline (reader → workers → ordered report), the
//! per-scheme rules rows map onto (UTXO coins with CashAddr, EVM and TRON signing forms,
//! ed25519 chains, EOS), exact decimal amounts, and format detection.
//!
//! A format is a reader (its header and, for HTX, its summary block), a [`RowCheck`] that
//! maps a row onto the rules, and a [`Collect`] that records rows in file order: see
//! [`crate::okx`] and [`crate::htx`].

pub mod amount;
pub(crate) mod cashaddr;
pub(crate) mod eos;
pub mod lines;
pub(crate) mod pipeline;
pub(crate) mod rules;
pub(crate) mod utxo;

pub(crate) use pipeline::{Checked, Collect, RowCheck, Seen};

/// How to run an exchange-file verification.
#[derive(Debug, Clone, Default)]
pub struct ExchangeOptions {
    /// Worker threads; 0 means one per core.
    pub threads: usize,
    /// Show a progress bar on stderr (only for large files on a terminal).
    pub progress: bool,
    /// Let an incomplete verdict (unsupported or unsigned rows, nothing failed) exit 0.
    pub allow_unsupported: bool,
    /// Collect a claim per row in the report, for a node to check.
    pub claims: bool,
}
