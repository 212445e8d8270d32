//! Export of a por-attest snapshot in OKX's 11-column layout.
//!
//! Exported: BTC single-key entries signed with legacy signed messages, BTC multisig entries
//! with their script and at most two legacy signatures (OKX has two signature columns), EVM
//! entries (EIP-191 over the text) and TRON entries (TIP-191 v2 over the text). Our messages
//! are per-address rendered texts, not OKX's fixed text, and the signatures are over the text
//! itself, not over its keccak256: our OKX reader accepts both forms, OKX's own verifier only
//! its own. Skipped, with the reason: BIP-322 signatures (no OKX column form), multisig entries
//! with more than two signatures, and entries not on mainnet.

use crate::chains::{ChainFamily, Network};
use crate::snapshot::{Entry, Snapshot};
use std::collections::BTreeSet;
use std::io::Write;

/// The 11-column address header, spelled as OKX spells it.
pub const OKX_11_HEADER: [&str; 11] = [
    "coin",
    "Network",
    "Snapshot Height",
    "address",
    "amount",
    "message",
    "signature1",
    "signature2",
    "redeem script/ public key",
    "eoa1",
    "eoa2",
];

/// An entry that was not exported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Index of the entry in the snapshot (0-based).
    pub entry: usize,
    /// The entry's chain.
    pub chain: String,
    /// The entry's address.
    pub address: String,
    /// Why OKX's layout cannot express it.
    pub reason: String,
}

/// What an export wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportSummary {
    /// Address rows written.
    pub written: usize,
    /// Entries left out (print them as warnings).
    pub skipped: Vec<Skipped>,
    /// Account entries left out: OKX's layout has a signature per address, an account one
    /// signature for all its addresses (print it as a warning).
    pub accounts_skipped: usize,
}

/// The signatures an entry exports as (signature1, signature2), or why it cannot.
fn exportable(e: &Entry) -> Result<(String, String), String> {
    if e.network != Network::Mainnet {
        return Err(format!(
            "{} entries cannot be exported (OKX files are mainnet)",
            e.network
        ));
    }
    let family = ChainFamily::of(&e.chain).ok_or_else(|| format!("unknown chain `{}`", e.chain))?;
    let want = family.info().message_scheme;
    if let Some(s) = e.signatures.iter().find(|s| s.scheme != want) {
        return Err(format!(
            "{} signatures have no OKX column form (only {} is exported for {})",
            s.scheme, want, e.chain
        ));
    }
    // Multisig: OKX's layout has two signature columns. When the script needs at most two,
    // two signatures from distinct cosigners prove it, so extra ones are left out.
    let sigs = &e.signatures[..];
    let sigs = match e.threshold {
        Some(t) if e.script.is_some() && t <= 2 && sigs.len() > 2 => &sigs[..2],
        _ => sigs,
    };
    let max = if e.script.is_some() { 2 } else { 1 };
    match sigs {
        [] => Err("no signature".into()),
        s if s.len() > max => Err(format!(
            "{} signatures needed, OKX's layout has room for {max}",
            s.len()
        )),
        [a] => Ok((a.signature.clone(), String::new())),
        [a, b] => Ok((a.signature.clone(), b.signature.clone())),
        _ => unreachable!("at most two signatures here"),
    }
}

/// Writes `snap` as an OKX 11-column file: a summary block (chain, snapshot height, `-` for
/// the amount), a blank line, the address header and one row per exportable entry. Entries
/// that cannot be expressed in OKX's layout are listed in the summary, not written.
pub fn export_okx_csv<W: Write>(snap: &Snapshot, out: W) -> std::io::Result<ExportSummary> {
    let mut summary = ExportSummary {
        accounts_skipped: snap.accounts.len(),
        ..ExportSummary::default()
    };
    let mut rows = Vec::new();
    for (i, e) in snap.entries.iter().enumerate() {
        match exportable(e) {
            Ok(sigs) => rows.push((e, sigs)),
            Err(reason) => summary.skipped.push(Skipped {
                entry: i,
                chain: e.chain.clone(),
                address: e.address.clone(),
                reason,
            }),
        }
    }
    let height = |chain: &str| {
        snap.header
            .anchors
            .get(chain)
            .map_or_else(|| "-".to_string(), |a| a.height.to_string())
    };
    let mut w = csv::WriterBuilder::new()
        .flexible(true)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(out);
    w.write_record(["coin", "snapshot height", "amount"])?;
    let chains: BTreeSet<&str> = rows.iter().map(|(e, _)| e.chain.as_str()).collect();
    for c in &chains {
        w.write_record([*c, &height(c), "-"])?;
    }
    w.flush()?;
    let mut inner = w.into_inner().map_err(|e| e.into_error())?;
    inner.write_all(b"\n")?;
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(inner);
    w.write_record(OKX_11_HEADER)?;
    for (e, (s1, s2)) in rows {
        w.write_record([
            e.chain.as_str(),
            e.chain.as_str(),
            &height(&e.chain),
            &e.address,
            e.balance.as_deref().unwrap_or(""),
            &e.message,
            &s1,
            &s2,
            e.script.as_deref().unwrap_or(""),
            "",
            "",
        ])?;
        summary.written += 1;
    }
    w.flush()?;
    Ok(summary)
}
