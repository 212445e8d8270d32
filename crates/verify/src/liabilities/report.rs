//! The liabilities report: what was checked of a bundle, per asset what the proofs commit to,
//! every failure with a stable snake_case `code` and the batch, line or asset it concerns, the
//! verdict and the exit status. Serializable (`--json`) and printable.

use crate::report::{verdict, EXIT_FAILED};
use serde::Serialize;
use std::fmt::Write;

/// Failure codes (stable, snake_case).
pub mod code {
    /// A row's field is not base64, not a JSON list, or not 32 bytes.
    pub const ROW_MALFORMED: &str = "row_malformed";
    /// A root or commitment is not below the scalar field's modulus.
    pub const FIELD_OUT_OF_RANGE: &str = "field_out_of_range";
    /// A proof's point is off the curve, outside the subgroup, or badly encoded.
    pub const PROOF_MALFORMED: &str = "proof_malformed";
    /// The batch commitment is not the Poseidon hash of the row's roots and asset commitments.
    pub const BATCH_COMMITMENT_MISMATCH: &str = "batch_commitment_mismatch";
    /// The Groth16 proof does not verify for its batch commitment.
    pub const PROOF_INVALID: &str = "proof_invalid";
    /// A batch number below the highest one has no row.
    pub const BATCH_MISSING: &str = "batch_missing";
    /// A batch number has more than one row.
    pub const BATCH_REPEATED: &str = "batch_repeated";
    /// A batch does not start where the previous one ended.
    pub const CHAIN_BROKEN: &str = "chain_broken";
    /// The first batch does not start from the empty tree and the zero-balance asset list.
    pub const START_NOT_EMPTY: &str = "start_not_empty";
    /// The last batch's asset commitment is not the published totals'.
    pub const TOTALS_NOT_COMMITTED: &str = "totals_not_committed";
    /// A published asset's debt exceeds its equity.
    pub const DEBT_EXCEEDS_EQUITY: &str = "debt_exceeds_equity";
    /// The published asset list itself is inconsistent (slot twice, slot beyond the list).
    pub const ASSET_LIST_INVALID: &str = "asset_list_invalid";
    /// The bundle has no batch at all.
    pub const NO_BATCHES: &str = "no_batches";
    /// A user's inclusion proof does not lead to the bundle's final root.
    pub const USER_NOT_INCLUDED: &str = "user_not_included";
    /// A user file names another root than the bundle's final one.
    pub const USER_ROOT_MISMATCH: &str = "user_root_mismatch";
}

/// One thing that did not check out.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LiabilityFailure {
    /// Stable code ([`code`]).
    pub code: &'static str,
    /// The batch number, when it is about one batch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<u64>,
    /// The line of `proof.csv`, when it is about one row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// The asset's symbol, when it is about one asset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asset: Option<String>,
    /// What is wrong.
    pub reason: String,
}

impl LiabilityFailure {
    /// A failure of one batch row.
    pub fn batch(code: &'static str, batch: u64, line: u64, reason: impl Into<String>) -> Self {
        LiabilityFailure {
            code,
            batch: Some(batch),
            line: Some(line),
            asset: None,
            reason: reason.into(),
        }
    }

    /// A failure of one asset.
    pub fn asset(code: &'static str, symbol: &str, reason: impl Into<String>) -> Self {
        LiabilityFailure {
            code,
            batch: None,
            line: None,
            asset: Some(symbol.to_string()),
            reason: reason.into(),
        }
    }

    /// A failure of the bundle as a whole.
    pub fn bundle(code: &'static str, reason: impl Into<String>) -> Self {
        LiabilityFailure {
            code,
            batch: None,
            line: None,
            asset: None,
            reason: reason.into(),
        }
    }

    fn place(&self) -> String {
        match (&self.batch, &self.line, &self.asset) {
            (Some(b), Some(l), _) => format!("batch {b} (line {l})"),
            (Some(b), None, _) => format!("batch {b}"),
            (None, _, Some(a)) => format!("asset {a}"),
            _ => "bundle".to_string(),
        }
    }
}

/// One asset's liabilities as the proofs commit to them.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AssetLiability {
    /// Its slot in the asset list.
    pub index: u32,
    /// The bundle's symbol.
    pub symbol: String,
    /// Total user equity, in the asset's unit.
    pub equity: String,
    /// Total user debt.
    pub debt: String,
    /// Equity minus debt: what the exchange owes its users in this asset.
    pub net_liability: String,
    /// The snapshot's price in USD.
    pub price: String,
    /// The net liability at that price, USD.
    pub value: String,
    /// The fixed-point integers as published: equity, debt, price.
    pub raw: [u64; 3],
    /// Decimals of `raw` amounts and price ([`super::mapping`]).
    pub decimals: [u32; 2],
}

/// A user's inclusion proof against the bundle's final root.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct UserInclusion {
    /// The user file.
    pub file: String,
    /// The leaf's position (`Arrangement`).
    pub index: u64,
    /// The leaf hash recomputed from the user's id hash, totals and assets.
    pub leaf: String,
    /// The root the path leads to.
    pub root: String,
    /// True when that is the bundle's final root.
    pub included: bool,
}

/// What checking a liabilities bundle found.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LiabilitiesReport {
    /// The bundle given.
    pub file: String,
    /// `gate-zkmerkle` (Gate's zk-SNARK proof of liabilities).
    pub format: &'static str,
    /// The bundle's name (`zkmerkle_cex_20240929`).
    pub bundle: String,
    /// The snapshot date its name states (`2024-09-29`), if it states one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_date: Option<String>,
    /// The verifying key's file and its SHA-256 (hex): compare with the exchange's published key.
    pub verifying_key: String,
    /// SHA-256 of the verifying key file.
    pub verifying_key_sha256: String,
    /// How the proofs were checked: `batch` (random linear combination) or `each`.
    pub method: &'static str,
    /// Rows of `proof.csv`.
    pub batches: u64,
    /// Rows that passed every check.
    pub batches_verified: u64,
    /// Asset slots of the asset list the proofs commit to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asset_slots: Option<u64>,
    /// The empty account tree's root the first batch must start from (hex).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_account_root: Option<String>,
    /// The account tree's root after the last batch (hex): what users' inclusion proofs lead to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub final_account_root: Option<String>,
    /// The last batch's asset-list commitment (hex): the published totals must hash to it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub final_asset_commitment: Option<String>,
    /// Per asset, in slot order.
    pub assets: Vec<AssetLiability>,
    /// All net liabilities at the snapshot's prices, USD.
    pub total_value: String,
    /// A user's inclusion proof, when one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<UserInclusion>,
    /// Everything that did not check out.
    pub failures: Vec<LiabilityFailure>,
    /// [`verdict::VERIFIED`] or [`verdict::FAILED`].
    pub result: &'static str,
}

impl LiabilitiesReport {
    /// Sets the verdict from the failures.
    pub fn finish(&mut self) {
        self.result = if self.failures.is_empty() {
            verdict::VERIFIED
        } else {
            verdict::FAILED
        };
    }

    /// 0 when verified, 1 when anything failed.
    pub fn exit_code(&self) -> i32 {
        if self.result == verdict::VERIFIED {
            0
        } else {
            EXIT_FAILED
        }
    }

    /// The report as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("the report serializes")
    }

    /// The report for a person to read.
    pub fn to_human(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{}: liabilities bundle {} ({}){}",
            self.file,
            self.bundle,
            self.format,
            self.snapshot_date
                .as_deref()
                .map(|d| format!(", snapshot {d}"))
                .unwrap_or_default()
        );
        let _ = writeln!(
            s,
            "verifying key {} sha256 {}",
            self.verifying_key, self.verifying_key_sha256
        );
        let _ = writeln!(
            s,
            "batches: {} of {} verified (Groth16 over BN254, checked {}), asset slots {}",
            self.batches_verified,
            self.batches,
            if self.method == "batch" {
                "all at once"
            } else {
                "one by one"
            },
            self.asset_slots
                .map_or_else(|| "unknown".to_string(), |n| n.to_string())
        );
        if let Some(r) = &self.final_account_root {
            let _ = writeln!(s, "final account root {r}");
        }
        if !self.assets.is_empty() {
            let _ = writeln!(
                s,
                "{:<10} {:>26} {:>26} {:>26} {:>20} {:>20}",
                "asset", "equity", "debt", "net liability", "price USD", "value USD"
            );
            for a in &self.assets {
                let _ = writeln!(
                    s,
                    "{:<10} {:>26} {:>26} {:>26} {:>20} {:>20}",
                    a.symbol, a.equity, a.debt, a.net_liability, a.price, a.value
                );
            }
            let _ = writeln!(s, "total net liabilities {} USD", self.total_value);
        }
        if let Some(u) = &self.user {
            let _ = writeln!(
                s,
                "user {} (leaf {} at {}): {}",
                u.file,
                u.leaf,
                u.index,
                if u.included {
                    "included under the final root"
                } else {
                    "NOT included"
                }
            );
        }
        for f in &self.failures {
            let _ = writeln!(s, "FAILED {} [{}]: {}", f.place(), f.code, f.reason);
        }
        let _ = writeln!(s, "result: {}", self.result.to_ascii_uppercase());
        s
    }
}
