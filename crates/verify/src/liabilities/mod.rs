//! Liabilities: an exchange's published zk-SNARK proof of liabilities (Gate's
//! `zkmerkle-proof-of-solvency` bundles: Groth16 over BN254, Poseidon, gnark encodings), verified
//! offline, and joined with verified reserves asset by asset ([`solvency`]).
//!
//! Modules, one concept each: [`bundle`] reads the files, [`encoding`] decodes gnark's points,
//! proofs and keys, [`poseidon`] is the fork's hash, [`commitment`] recomputes what the proofs
//! commit to, [`groth16`] checks proofs (one by one or all at once), [`batch`] checks the chain of
//! batches, [`user`] a user's inclusion proof, [`mapping`] the symbol and unit table, [`report`]
//! the report and [`solvency`] the join with reserves.

pub mod batch;
pub mod bundle;
pub mod commitment;
pub mod encoding;
pub mod groth16;
pub mod mapping;
pub mod poseidon;
pub mod report;
pub mod solvency;
pub mod user;

use crate::balance::plain;
use crate::error::InputError;
use crate::report::verdict;
use batch::{check_batches, Method};
use bigdecimal::BigDecimal;
use bundle::{parse_cex_config, parse_proof_csv, BundleFiles, PublishedAsset};
use mapping::Mapping;
use report::{code, AssetLiability, LiabilitiesReport, LiabilityFailure, UserInclusion};
use sha2::{Digest, Sha256};
use std::path::Path;

pub use bundle::looks_like_bundle;

/// How to verify a bundle.
#[derive(Debug, Clone, Copy)]
pub struct BundleOptions {
    /// Worker threads; 0 means one per core.
    pub threads: usize,
    /// How the proofs are checked.
    pub method: Method,
}

impl Default for BundleOptions {
    fn default() -> Self {
        BundleOptions {
            threads: 0,
            method: Method::Batch,
        }
    }
}

/// Verifies the bundle at `path` (`.tar.gz` or folder).
pub fn verify_bundle(path: &Path, opts: &BundleOptions) -> Result<LiabilitiesReport, InputError> {
    let files = bundle::read_bundle(path)?;
    verify_bundle_files(&files, opts, &Mapping::built_in())
}

/// The date a bundle's name states (`zkmerkle_cex_20240929` → `2024-09-29`).
pub fn snapshot_date(name: &str) -> Option<String> {
    let digits: String = name
        .rsplit(|c: char| !c.is_ascii_digit())
        .find(|s| s.len() == 8)?
        .to_string();
    let (y, m, d) = (&digits[..4], &digits[4..6], &digits[6..]);
    let ok =
        (1..=12).contains(&m.parse::<u32>().ok()?) && (1..=31).contains(&d.parse::<u32>().ok()?);
    ok.then(|| format!("{y}-{m}-{d}"))
}

/// A fixed-point integer with `decimals` decimals, as plain decimal text.
pub fn fixed(value: u128, decimals: u32) -> BigDecimal {
    BigDecimal::new(value.into(), i64::from(decimals))
}

/// One asset's line of the report.
pub fn asset_line(a: &PublishedAsset, mapping: &Mapping) -> AssetLiability {
    let unit = mapping.liability_unit(&a.symbol);
    let net = a.total_equity.saturating_sub(a.total_debt);
    let value = u128::from(net) * u128::from(a.base_price);
    AssetLiability {
        index: a.index,
        symbol: a.symbol.clone(),
        equity: plain(&fixed(a.total_equity.into(), unit.amount_decimals)),
        debt: plain(&fixed(a.total_debt.into(), unit.amount_decimals)),
        net_liability: plain(&fixed(net.into(), unit.amount_decimals)),
        price: plain(&fixed(a.base_price.into(), unit.price_decimals)),
        value: plain(&fixed(value, unit.amount_decimals + unit.price_decimals).round(2)),
        raw: [a.total_equity, a.total_debt, a.base_price],
        decimals: [unit.amount_decimals, unit.price_decimals],
    }
}

fn pool(threads: usize) -> Result<rayon::ThreadPool, InputError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("liabilities-{i}"))
        .build()
        .map_err(|e| InputError::new("threads", format!("cannot start the thread pool: {e}")))
}

/// Verifies a bundle's files; amounts in the report use `mapping`'s units.
pub fn verify_bundle_files(
    files: &BundleFiles,
    opts: &BundleOptions,
    mapping: &Mapping,
) -> Result<LiabilitiesReport, InputError> {
    let at = |f: &str| format!("{}: {f}", files.source);
    let assets = parse_cex_config(&files.cex_config, &at("config/cex_config.json"))?;
    let rows = parse_proof_csv(&files.proof_csv, &at("config/proof.csv"))?;
    let key = encoding::verifying_key(&files.verifying_key)
        .map_err(|e| InputError::new(at(&files.verifying_key_name), e.to_string()))?;
    let verifier = groth16::Verifier::new(key)
        .map_err(|e| InputError::new(at(&files.verifying_key_name), e.to_string()))?;
    let outcome =
        pool(opts.threads)?.install(|| check_batches(&rows, &assets, &verifier, opts.method));
    let mut sorted: Vec<&PublishedAsset> = assets.iter().collect();
    sorted.sort_by_key(|a| a.index);
    let lines: Vec<AssetLiability> = sorted.iter().map(|a| asset_line(a, mapping)).collect();
    let total: BigDecimal = lines
        .iter()
        .map(|l| l.value.parse::<BigDecimal>().unwrap_or_default())
        .sum();
    let mut report = LiabilitiesReport {
        file: files.source.clone(),
        format: "gate-zkmerkle",
        bundle: files.name.clone(),
        snapshot_date: snapshot_date(&files.name),
        verifying_key: files.verifying_key_name.clone(),
        verifying_key_sha256: hex::encode(Sha256::digest(&files.verifying_key)),
        method: opts.method.name(),
        batches: rows.len() as u64,
        batches_verified: outcome.verified,
        asset_slots: outcome.slots.map(|s| s as u64),
        start_account_root: outcome.start_root.as_ref().map(user::hex_of),
        final_account_root: outcome.final_root.as_ref().map(user::hex_of),
        final_asset_commitment: outcome.final_assets.as_ref().map(user::hex_of),
        assets: lines,
        total_value: plain(&total),
        user: None,
        failures: outcome.failures,
        result: verdict::FAILED,
    };
    report.finish();
    Ok(report)
}

/// Verifies the bundle at `path` with `mapping`'s units, and the user's inclusion file
/// `user` against it when given: what both binaries run for `verify BUNDLE [--user FILE]`.
pub fn verify_bundle_and_user(
    path: &Path,
    user: Option<&Path>,
    opts: &BundleOptions,
    mapping: &Mapping,
) -> Result<LiabilitiesReport, InputError> {
    let files = bundle::read_bundle(path)?;
    let mut report = verify_bundle_files(&files, opts, mapping)?;
    if let Some(u) = user {
        check_user_file(&mut report, u)?;
    }
    Ok(report)
}

/// Checks the user file at `path` against the report's final root and records the outcome
/// (a failure when it is not included).
pub fn check_user_file(report: &mut LiabilitiesReport, path: &Path) -> Result<(), InputError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| InputError::new(&file, format!("cannot read: {e}")))?;
    let slots = report
        .asset_slots
        .map_or(commitment::KNOWN_SLOTS[0], |s| s as usize);
    let u = user::parse_user(&text, &file, slots)?;
    let leaf = u.leaf(slots);
    let root = commitment::root_of_path(leaf, u.index, &u.siblings);
    let final_root = report.final_account_root.clone();
    let included = final_root.as_deref() == Some(user::hex_of(&root).as_str());
    if final_root.as_deref() != Some(user::hex_of(&u.root).as_str()) {
        report.failures.push(LiabilityFailure::bundle(
            code::USER_ROOT_MISMATCH,
            format!(
                "{file}: TreeRootHash {} is not the bundle's final account root {}",
                user::hex_of(&u.root),
                final_root
                    .as_deref()
                    .unwrap_or("(unknown: the bundle did not verify)")
            ),
        ));
    }
    if !included {
        report.failures.push(LiabilityFailure::bundle(
            code::USER_NOT_INCLUDED,
            format!(
                "{file}: the user's leaf {} at position {} leads to root {}, not the bundle's final account root",
                user::hex_of(&leaf),
                u.index,
                user::hex_of(&root)
            ),
        ));
    }
    report.user = Some(UserInclusion {
        file,
        index: u.index,
        leaf: user::hex_of(&leaf),
        root: user::hex_of(&root),
        included,
    });
    report.finish();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_fixed_point() {
        assert_eq!(
            snapshot_date("zkmerkle_cex_20240929").as_deref(),
            Some("2024-09-29")
        );
        assert_eq!(snapshot_date("bundle"), None);
        assert_eq!(snapshot_date("x_20241399"), None);
        assert_eq!(plain(&fixed(1749754962109, 8)), "17497.54962109");
        let btc = PublishedAsset {
            total_equity: 1749754962109,
            total_debt: 70865543582,
            base_price: 6585480000000,
            symbol: "btc".into(),
            index: 112,
        };
        let l = asset_line(&btc, &Mapping::built_in());
        assert_eq!(l.net_liability, "16788.89418527");
        assert_eq!(l.price, "65854.8");
        assert_eq!(l.value, "1105629268.79");
    }
}
