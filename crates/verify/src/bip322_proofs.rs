//! `export --format bip322-proofs`: a snapshot's Bitcoin proofs as the proofs documents PyPI's
//! `bip322-audit` reads (`bip322 audit verify FILE --offline` checks their signatures; with a
//! node it also checks listed outputs, which a por-attest snapshot does not list).
//!
//! A proofs document carries one signed message and, per address, `address`, `signature`,
//! `variant`, `utxos` and `total_sat`; besides them `tool`, `chain`, `stamp`, `message`,
//! `message_hex`, `policy`, `finalized_utc`, `total_sat`, `total_btc`, `spends`, `spends_utc`
//! (the fields bip322-audit documents). Our messages name their address, so each address gets
//! its own document (entries that share one message share a document). Exported: Bitcoin
//! entries proven by one BIP-322 signature (`smp` / `ful`), and P2PKH entries proven by one
//! legacy signed message (which the BIP allows there). Skipped, with the reason: legacy
//! signed messages on other address types and per-cosigner legacy multisig signatures (no
//! BIP-322 verifier accepts them), and entries of other chains. No UTXOs are listed: the
//! snapshot states balances, not outputs.

use crate::chains::{Scheme, ScriptType};
use crate::okx::Skipped;
use crate::snapshot::{Entry, Snapshot};
use serde_json::{json, Value};

/// One proofs document and the file name it is written under.
#[derive(Debug, Clone, PartialEq)]
pub struct ProofsDocument {
    /// `<address>-proofs.json`, or `<snapshot id>-<n>-proofs.json` for a shared message.
    pub file_name: String,
    /// The document.
    pub document: Value,
}

/// What the export produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bip322Export {
    /// The documents, in the order of their first entry.
    pub documents: Vec<ProofsDocument>,
    /// Bitcoin entries left out, and why.
    pub skipped: Vec<Skipped>,
}

/// The proof an entry exports as (`signature`, `variant`), or why it cannot.
fn proof_of(e: &Entry) -> Result<(String, &'static str), String> {
    let [s] = &e.signatures[..] else {
        return Err(format!(
            "{} signatures (legacy per-cosigner signatures): a BIP-322 proof is one signature",
            e.signatures.len()
        ));
    };
    let variant = match s.scheme.known() {
        Some(Scheme::Bip322Simple) => "smp",
        Some(Scheme::Bip322Full) => "ful",
        Some(Scheme::Bip137) if e.script_type == Some(ScriptType::P2pkh) => "legacy",
        _ => {
            return Err(format!(
                "a {} signature on a {} address is no BIP-322 proof (BIP-322 allows the legacy \
                 format for P2PKH only)",
                s.scheme,
                e.script_type.map(|t| t.as_str()).unwrap_or("-")
            ))
        }
    };
    Ok((s.signature.clone(), variant))
}

/// bip322-audit's `chain` for a network.
fn chain_name(e: &Entry) -> &'static str {
    match e.network.bitcoin() {
        bitcoin::Network::Bitcoin => "main",
        bitcoin::Network::Testnet => "test",
        bitcoin::Network::Testnet4 => "testnet4",
        bitcoin::Network::Signet => "signet",
        _ => "regtest",
    }
}

/// The snapshot's Bitcoin entries as bip322-audit proofs documents; `finalized_utc` is the
/// snapshot's `created_at`, so the same snapshot gives the same documents.
pub fn export_bip322_proofs(snap: &Snapshot) -> Bip322Export {
    let mut out = Bip322Export::default();
    // (message, chain) → index of its document
    let mut groups: Vec<(String, &'static str, Vec<Value>, Vec<String>)> = Vec::new();
    for (i, e) in snap.entries.iter().enumerate() {
        if e.chain != "BTC" {
            continue;
        }
        let (signature, variant) = match proof_of(e) {
            Ok(p) => p,
            Err(reason) => {
                out.skipped.push(Skipped {
                    entry: i,
                    chain: e.chain.clone(),
                    address: e.address.clone(),
                    reason,
                });
                continue;
            }
        };
        let chain = chain_name(e);
        let policy = match (e.threshold, &e.script) {
            (Some(t), Some(script)) => {
                crate::schemes::multisig::parse_multisig(&hex::decode(script).unwrap_or_default())
                    .ok()
                    .map(|ms| format!("{t} of {}", ms.keys.len()))
            }
            _ => None,
        };
        let proof = json!({
            "address": e.address,
            "signature": signature,
            "variant": variant,
            "utxos": [],
            "total_sat": 0,
        });
        match groups
            .iter_mut()
            .find(|(m, c, _, _)| *m == e.message && *c == chain)
        {
            Some((_, _, proofs, policies)) => {
                proofs.push(proof);
                policies.extend(policy);
            }
            None => groups.push((
                e.message.clone(),
                chain,
                vec![proof],
                policy.into_iter().collect(),
            )),
        }
    }
    let many = groups.len() > 1;
    for (n, (message, chain, mut proofs, policies)) in groups.into_iter().enumerate() {
        proofs.sort_by(|a, b| a["address"].as_str().cmp(&b["address"].as_str()));
        let file_name = match (&proofs[..], many) {
            ([one], _) => format!("{}-proofs.json", one["address"].as_str().unwrap_or("")),
            (_, true) => format!("{}-{}-proofs.json", snap.header.snapshot_id, n + 1),
            (_, false) => format!("{}-proofs.json", snap.header.snapshot_id),
        };
        // One policy for the document when all its multisig proofs share it.
        let policy = match policies.split_first() {
            Some((p, rest)) if rest.iter().all(|q| q == p) && policies.len() == proofs.len() => {
                Some(p.clone())
            }
            _ => None,
        };
        let document = json!({
            "tool": format!("por-attest {}", env!("CARGO_PKG_VERSION")),
            "chain": chain,
            "stamp": null,
            "message": message,
            "message_hex": hex::encode(message.as_bytes()),
            "policy": policy,
            "finalized_utc": snap.header.created_at,
            "proofs": proofs,
            "total_sat": 0,
            "total_btc": "0.00000000",
            "spends": null,
            "spends_utc": null,
        });
        out.documents.push(ProofsDocument {
            file_name,
            document,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_proofs_on_segwit_addresses_are_skipped_with_their_reason() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/snapshot.json");
        let snap = Snapshot::read(std::path::Path::new(path)).unwrap();
        let out = export_bip322_proofs(&snap);
        assert!(out.skipped.is_empty(), "{:?}", out.skipped);
        assert_eq!(out.documents.len(), 11, "one per Bitcoin address");
        let mut legacy = snap.clone();
        let e = legacy
            .entries
            .iter_mut()
            .find(|e| e.script_type == Some(ScriptType::P2wpkh))
            .unwrap();
        e.signatures[0].scheme = Scheme::Bip137.into();
        let out = export_bip322_proofs(&legacy);
        assert_eq!(out.skipped.len(), 1);
        assert!(
            out.skipped[0].reason.contains("P2PKH only"),
            "{:?}",
            out.skipped
        );
    }
}
