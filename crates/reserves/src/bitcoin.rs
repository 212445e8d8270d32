//! Bitcoin at the anchor, on a plain Bitcoin Core node (no address index, no txindex) or an
//! Esplora REST endpoint: the anchor block's hash. Balances need the snapshot to list each
//! address's coins (see `docs/snapshot-format.md`); without them an address is "not checked
//! on chain".

use crate::endpoints::NodeKind;
use crate::rpc::{Client, NodeError};
use bigdecimal::BigDecimal;
use por_attest_verify::claim::OnchainOutcome;
use por_attest_verify::report::Report;
use serde_json::{json, Value};

fn garbage(client: &Client, detail: impl Into<String>) -> NodeError {
    NodeError::Garbage {
        endpoint: client.endpoint().into(),
        detail: detail.into(),
    }
}

/// A block hash as both backends write it: 64 hex digits.
pub fn parse_block_hash(v: &Value) -> Result<String, String> {
    let s = v
        .as_str()
        .ok_or_else(|| format!("expected a block hash, got {v}"))?
        .trim();
    if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("`{s}` is not a block hash (64 hex digits)"));
    }
    Ok(s.to_ascii_lowercase())
}

/// The hash of the main-chain block at `height`; `None` when the node has none there.
/// Bitcoin Core: `getblockhash HEIGHT` (error -8 "Block height out of range" when beyond the
/// tip). Esplora: `GET /block-height/HEIGHT` (404 beyond the tip).
pub async fn block_hash(
    kind: NodeKind,
    client: &Client,
    height: u64,
) -> Result<Option<String>, NodeError> {
    match kind {
        NodeKind::Esplora => match client.get(&format!("block-height/{height}")).await? {
            None => Ok(None),
            Some(text) => parse_block_hash(&Value::String(text))
                .map(Some)
                .map_err(|d| garbage(client, d)),
        },
        _ => match client.call("getblockhash", json!([height])).await? {
            Ok(v) => parse_block_hash(&v)
                .map(Some)
                .map_err(|d| garbage(client, d)),
            Err(e) if e.0.contains("out of range") => Ok(None),
            Err(e) => Err(garbage(client, format!("getblockhash {height}: {e}"))),
        },
    }
}

/// What the node says of each Bitcoin claim (indices into `report.claims`): the outcome, and
/// the on-chain balance with whether it matches the stated one.
pub async fn check_claims(
    _kind: NodeKind,
    _client: &Client,
    report: &Report,
    claims: &[usize],
) -> Result<Vec<(usize, OnchainOutcome, Option<(BigDecimal, bool)>)>, NodeError> {
    Ok(claims
        .iter()
        .map(|&i| {
            let c = &report.claims[i];
            (
                i,
                OnchainOutcome::NotChecked(format!(
                    "the file lists no coins of {} at the anchor: a node without an address \
                     index cannot give an address's balance",
                    c.address
                )),
                None,
            )
        })
        .collect())
}
