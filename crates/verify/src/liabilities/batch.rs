//! Checking a bundle's batches: each row's fields and proof decoded, its batch commitment
//! recomputed from its roots and asset commitments, the batches numbered 0..n with none missing
//! or repeated, each starting where the previous one ended and the first from the empty account
//! tree and the zero-balance asset list, the last asset commitment against the published totals,
//! every asset's equity at least its debt, and every Groth16 proof against its commitment.

use super::bundle::{BatchRow, PublishedAsset};
use super::commitment::{
    asset_list_commitment, batch_commitment, empty_root, AssetTotals, KNOWN_SLOTS, TREE_DEPTH,
};
use super::encoding::{self, Proof};
use super::groth16::Verifier;
use super::poseidon::{element_from_be_bytes, element_to_be_bytes};
use super::report::{code, LiabilityFailure};
use ark_bn254::Fr;
use rayon::prelude::*;
use std::collections::BTreeMap;

/// How the proofs are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// All at once: a random linear combination in one multi-pairing (the default); when it
    /// fails, each proof on its own to name the failing batches.
    Batch,
    /// Each proof on its own.
    Each,
}

impl Method {
    /// Its name in the report.
    pub fn name(self) -> &'static str {
        match self {
            Method::Batch => "batch",
            Method::Each => "each",
        }
    }
}

/// One row after decoding: the values the chain and the proof checks need.
#[derive(Debug, Clone)]
struct Decoded {
    batch: u64,
    line: u64,
    roots: [Fr; 2],
    lists: [Fr; 2],
    /// The proof and its public input, when the row's commitment checked out.
    proof: Option<(Proof, Fr)>,
}

/// What the batch checks found.
#[derive(Debug, Clone, Default)]
pub struct BatchOutcome {
    /// Every failure, batches' first, in batch order.
    pub failures: Vec<LiabilityFailure>,
    /// Rows that passed every check.
    pub verified: u64,
    /// The asset slots the proofs commit to, when the first batch says.
    pub slots: Option<usize>,
    /// The empty tree's root.
    pub start_root: Option<Fr>,
    /// The last batch's account root.
    pub final_root: Option<Fr>,
    /// The last batch's asset commitment.
    pub final_assets: Option<Fr>,
}

fn element(bytes: &[u8; 32]) -> Option<Fr> {
    element_from_be_bytes(bytes)
}

/// Decodes one row: its values, or why not.
fn decode(row: &BatchRow) -> Result<Decoded, LiabilityFailure> {
    let fail = |code, reason: String| LiabilityFailure::batch(code, row.batch, row.line, reason);
    let f = row
        .fields
        .as_ref()
        .map_err(|e| fail(code::ROW_MALFORMED, format!("{}: {}", e.field, e.reason)))?;
    let named = |bytes: &[u8; 32], what: &str| {
        element(bytes).ok_or_else(|| {
            fail(
                code::FIELD_OUT_OF_RANGE,
                format!(
                    "{what} {} is not below the field modulus",
                    hex::encode(bytes)
                ),
            )
        })
    };
    let roots = [
        named(&f.roots[0], "account_tree_roots[0]")?,
        named(&f.roots[1], "account_tree_roots[1]")?,
    ];
    let lists = [
        named(&f.cex[0], "cex_asset_list_commitments[0]")?,
        named(&f.cex[1], "cex_asset_list_commitments[1]")?,
    ];
    let stated = named(&f.commitment, "batch_commitment")?;
    let proof = encoding::proof(&f.proof)
        .map_err(|e| fail(code::PROOF_MALFORMED, format!("proof_info: {e}")))?;
    let computed = batch_commitment(roots, lists);
    let proof = if computed == stated {
        Some((proof, computed))
    } else {
        return Err(fail(
            code::BATCH_COMMITMENT_MISMATCH,
            format!(
                "batch_commitment {} is not Poseidon(roots, asset commitments) = {}",
                hex::encode(f.commitment),
                hex::encode(element_to_be_bytes(&computed))
            ),
        ));
    };
    Ok(Decoded {
        batch: row.batch,
        line: row.line,
        roots,
        lists,
        proof,
    })
}

/// The published assets in their slots (`slots` of them), or the failures that stop it.
pub fn asset_slots(
    assets: &[PublishedAsset],
    slots: usize,
    zero_balances: bool,
) -> Result<Vec<AssetTotals>, Vec<LiabilityFailure>> {
    let mut out = vec![AssetTotals::default(); slots];
    let mut seen: BTreeMap<u32, &str> = BTreeMap::new();
    let mut failures = Vec::new();
    for a in assets {
        if a.index as usize >= slots {
            failures.push(LiabilityFailure::asset(
                code::ASSET_LIST_INVALID,
                &a.symbol,
                format!("Index {} is beyond the {slots} asset slots", a.index),
            ));
            continue;
        }
        if let Some(other) = seen.insert(a.index, &a.symbol) {
            failures.push(LiabilityFailure::asset(
                code::ASSET_LIST_INVALID,
                &a.symbol,
                format!("Index {} is also {other}'s", a.index),
            ));
            continue;
        }
        out[a.index as usize] = AssetTotals {
            equity: if zero_balances { 0 } else { a.total_equity },
            debt: if zero_balances { 0 } else { a.total_debt },
            price: a.base_price,
        };
    }
    if failures.is_empty() {
        Ok(out)
    } else {
        Err(failures)
    }
}

/// The failure when `end` (the last batch's asset commitment; `last` its number) is not the
/// commitment of the published `assets` in `slots` slots.
pub fn totals_failure(
    end: &Fr,
    last: u64,
    assets: &[PublishedAsset],
    slots: usize,
) -> Option<LiabilityFailure> {
    let list = asset_slots(assets, slots, false).ok()?;
    let published = asset_list_commitment(&list);
    (published != *end).then(|| {
        LiabilityFailure::bundle(
            code::TOTALS_NOT_COMMITTED,
            format!(
                "the published totals (cex_config.json) are not what the proofs commit to: the last batch ({last}) ends at asset commitment {}, the published assets' is {}",
                hex::encode(element_to_be_bytes(end)),
                hex::encode(element_to_be_bytes(&published))
            ),
        )
    })
}

/// Checks the batches of `rows` against the published `assets` with `verifier`, on the
/// current rayon pool.
pub fn check_batches(
    rows: &[BatchRow],
    assets: &[PublishedAsset],
    verifier: &Verifier,
    method: Method,
) -> BatchOutcome {
    let mut out = BatchOutcome::default();
    for a in assets {
        if a.total_debt > a.total_equity {
            out.failures.push(LiabilityFailure::asset(
                code::DEBT_EXCEEDS_EQUITY,
                &a.symbol,
                format!(
                    "total debt {} exceeds total equity {} (Index {})",
                    a.total_debt, a.total_equity, a.index
                ),
            ));
        }
    }
    if rows.is_empty() {
        out.failures.push(LiabilityFailure::bundle(
            code::NO_BATCHES,
            "proof.csv has no batch",
        ));
        return out;
    }
    let decoded: Vec<Result<Decoded, LiabilityFailure>> = rows.par_iter().map(decode).collect();

    // Numbering: 0..=max, each once (the first row of a number is the one checked).
    let mut by_batch: BTreeMap<u64, usize> = BTreeMap::new();
    let mut bad_rows = vec![false; rows.len()];
    for (i, row) in rows.iter().enumerate() {
        if let Some(&first) = by_batch.get(&row.batch) {
            bad_rows[i] = true;
            out.failures.push(LiabilityFailure::batch(
                code::BATCH_REPEATED,
                row.batch,
                row.line,
                format!("batch {} is also on line {}", row.batch, rows[first].line),
            ));
        } else {
            by_batch.insert(row.batch, i);
        }
    }
    let max = *by_batch.keys().next_back().expect("at least one row");
    let missing: Vec<u64> = (0..=max).filter(|b| !by_batch.contains_key(b)).collect();
    for b in &missing {
        out.failures.push(LiabilityFailure {
            code: code::BATCH_MISSING,
            batch: Some(*b),
            line: None,
            asset: None,
            reason: format!("no row for batch {b} (batches run 0 to {max})"),
        });
    }
    for (i, d) in decoded.iter().enumerate() {
        if let Err(f) = d {
            bad_rows[i] = true;
            out.failures.push(f.clone());
        }
    }

    // Where the chain starts: the empty tree and the zero-balance list, at the asset-list
    // size whose zero-balance commitment the first batch starts from.
    let first = by_batch.get(&0).and_then(|&i| decoded[i].as_ref().ok());
    if let Some(first) = first {
        let found = KNOWN_SLOTS.iter().copied().find(|&s| {
            asset_slots(assets, s, true)
                .map(|list| asset_list_commitment(&list) == first.lists[0])
                .unwrap_or(false)
        });
        match found {
            Some(s) => {
                out.slots = Some(s);
                let root = empty_root(s, TREE_DEPTH);
                out.start_root = Some(root);
                if first.roots[0] != root {
                    bad_rows[by_batch[&0]] = true;
                    out.failures.push(LiabilityFailure::batch(
                        code::START_NOT_EMPTY,
                        0,
                        first.line,
                        format!(
                            "the first batch starts from account root {}, not the empty tree's {}",
                            hex::encode(element_to_be_bytes(&first.roots[0])),
                            hex::encode(element_to_be_bytes(&root))
                        ),
                    ));
                }
            }
            None => {
                bad_rows[by_batch[&0]] = true;
                let why = match asset_slots(assets, KNOWN_SLOTS[0], true) {
                    Err(fs) => {
                        out.failures.extend(fs);
                        "the published asset list is invalid".to_string()
                    }
                    Ok(_) => format!(
                        "its asset commitment {} is not the published assets' with zero balances (tried {} slots)",
                        hex::encode(element_to_be_bytes(&first.lists[0])),
                        KNOWN_SLOTS.map(|s| s.to_string()).join(", ")
                    ),
                };
                out.failures.push(LiabilityFailure::batch(
                    code::START_NOT_EMPTY,
                    0,
                    first.line,
                    format!(
                        "the first batch does not start from the zero-balance asset list: {why}"
                    ),
                ));
            }
        }
    }

    // The chain: each batch starts where the previous one ended.
    let mut prev: Option<&Decoded> = None;
    for (&b, &i) in &by_batch {
        let Ok(d) = &decoded[i] else {
            prev = None;
            continue;
        };
        if let Some(p) = prev.filter(|p| p.batch + 1 == b) {
            let mut breaks = Vec::new();
            if d.roots[0] != p.roots[1] {
                breaks.push("account root");
            }
            if d.lists[0] != p.lists[1] {
                breaks.push("asset commitment");
            }
            if !breaks.is_empty() {
                bad_rows[i] = true;
                out.failures.push(LiabilityFailure::batch(
                    code::CHAIN_BROKEN,
                    b,
                    d.line,
                    format!(
                        "its {} before is not where batch {} ended",
                        breaks.join(" and "),
                        p.batch
                    ),
                ));
            }
        }
        prev = Some(d);
    }

    // The end: the last batch's asset commitment is the published totals'.
    let last = by_batch.get(&max).and_then(|&i| decoded[i].as_ref().ok());
    if let Some(last) = last {
        out.final_root = Some(last.roots[1]);
        out.final_assets = Some(last.lists[1]);
        if let Some(s) = out.slots {
            out.failures
                .extend(totals_failure(&last.lists[1], max, assets, s));
        }
    }

    // The proofs.
    let checked: Vec<(usize, (Proof, Fr))> = decoded
        .iter()
        .enumerate()
        .filter_map(|(i, d)| Some((i, d.as_ref().ok()?.proof?)))
        .collect();
    let items: Vec<(Proof, Fr)> = checked.iter().map(|(_, p)| *p).collect();
    let all_pass = method == Method::Batch && verifier.verify_batch(&items);
    if !all_pass {
        let verdicts = verifier.verify_each(&items);
        for ((i, _), ok) in checked.iter().zip(verdicts) {
            if !ok {
                bad_rows[*i] = true;
                out.failures.push(LiabilityFailure::batch(
                    code::PROOF_INVALID,
                    rows[*i].batch,
                    rows[*i].line,
                    "the Groth16 proof does not verify for its batch commitment under the verifying key",
                ));
            }
        }
    }
    out.verified = bad_rows.iter().filter(|b| !**b).count() as u64;
    out.failures
        .sort_by_key(|f| (f.batch.is_none(), f.batch, f.line));
    out
}
