//! Reading a published liabilities bundle (Gate's `zkmerkle_cex_*`): its `.tar.gz` or the
//! folder it unpacks to, with `config/proof.csv` (one row per batch proof),
//! `config/cex_config.json` (the published per-asset totals and prices) and the Groth16
//! verifying key (`*.vk.save`, named by the config's `ZkKeyVKDirectoryAndPrefix`).
//!
//! Only reading and parsing live here: a row that cannot be parsed is kept with its error so the
//! report names its line and batch; a bundle whose files are missing or unreadable is an
//! [`InputError`].

use crate::error::InputError;
use base64::Engine;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The most bytes read from one file of a bundle (a guard against decompression bombs).
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// The raw files of a bundle.
#[derive(Debug, Clone)]
pub struct BundleFiles {
    /// What was read (the path given).
    pub source: String,
    /// The bundle's name: the folder (or archive) name, e.g. `zkmerkle_cex_20240929`.
    pub name: String,
    /// `config/proof.csv`.
    pub proof_csv: Vec<u8>,
    /// `config/cex_config.json`.
    pub cex_config: Vec<u8>,
    /// The verifying key's bytes.
    pub verifying_key: Vec<u8>,
    /// The verifying key's file name inside the bundle.
    pub verifying_key_name: String,
}

/// Whether `path` looks like a liabilities bundle: a gzip file, or a folder holding
/// `config/cex_config.json` (itself or in its only sub-folder).
pub fn looks_like_bundle(path: &Path) -> bool {
    if path.is_dir() {
        return bundle_root(path).is_some();
    }
    crate::input::is_bundle_path(path)
}

fn bundle_root(dir: &Path) -> Option<PathBuf> {
    if dir.join("config/cex_config.json").is_file() {
        return Some(dir.to_path_buf());
    }
    let subdirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    match subdirs.as_slice() {
        [only] if only.join("config/cex_config.json").is_file() => Some(only.clone()),
        _ => None,
    }
}

/// The verifying key's file name from the config's `ZkKeyVKDirectoryAndPrefix` (`./zkpor864`
/// → `zkpor864.vk.save`); `config` is named in the error.
fn vk_name(bytes: &[u8], config: &str) -> Result<String, InputError> {
    let v: Option<serde_json::Value> = serde_json::from_slice(bytes).ok();
    let prefix = v
        .as_ref()
        .and_then(|v| v.get("ZkKeyVKDirectoryAndPrefix")?.as_str())
        .ok_or_else(|| {
            InputError::new(
                config,
                "no `ZkKeyVKDirectoryAndPrefix` naming the verifying key",
            )
        })?;
    Ok(format!("{}.vk.save", prefix.trim_start_matches("./")))
}

fn read_capped(r: impl Read, what: &str) -> Result<Vec<u8>, InputError> {
    let mut out = Vec::new();
    r.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| InputError::new(what, format!("cannot read: {e}")))?;
    if out.len() as u64 > MAX_FILE_BYTES {
        return Err(InputError::new(
            what,
            format!("larger than {MAX_FILE_BYTES} bytes"),
        ));
    }
    Ok(out)
}

/// Reads the bundle at `path` (a `.tar.gz` or a folder).
pub fn read_bundle(path: &Path) -> Result<BundleFiles, InputError> {
    let source = path.display().to_string();
    if path.is_dir() {
        let root = bundle_root(path).ok_or_else(|| {
            InputError::new(
                &source,
                "not a liabilities bundle: no config/cex_config.json in this folder or its only sub-folder",
            )
        })?;
        let read = |rel: &str| {
            let p = root.join(rel);
            let what = p.display().to_string();
            std::fs::File::open(&p)
                .map_err(|e| InputError::new(&what, format!("cannot open: {e}")))
                .and_then(|f| read_capped(f, &what))
        };
        let cex_config = read("config/cex_config.json")?;
        let proof_csv = read("config/proof.csv")?;
        let vk = vk_name(&cex_config, &format!("{source}: config/cex_config.json"))?;
        let verifying_key = read(&vk)?;
        let name = root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        return Ok(BundleFiles {
            source,
            name,
            proof_csv,
            cex_config,
            verifying_key,
            verifying_key_name: vk,
        });
    }
    let file = std::fs::File::open(path)
        .map_err(|e| InputError::new(&source, format!("cannot open: {e}")))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut found: Vec<(String, Vec<u8>)> = Vec::new();
    let entries = archive
        .entries()
        .map_err(|e| InputError::new(&source, format!("not a readable .tar.gz: {e}")))?;
    for entry in entries {
        let entry =
            entry.map_err(|e| InputError::new(&source, format!("not a readable .tar.gz: {e}")))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry
            .path()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let wanted = name.ends_with("config/proof.csv")
            || name.ends_with("config/cex_config.json")
            || name.ends_with(".vk.save");
        if wanted {
            let bytes = read_capped(entry, &format!("{source}: {name}"))?;
            found.push((name, bytes));
        }
    }
    let take = |suffix: &str, found: &mut Vec<(String, Vec<u8>)>| {
        let at = found.iter().position(|(n, _)| n.ends_with(suffix));
        at.map(|i| found.swap_remove(i))
    };
    let missing = |what: &str| InputError::new(&source, format!("the archive has no {what}"));
    let (config_path, cex_config) = take("config/cex_config.json", &mut found)
        .ok_or_else(|| missing("config/cex_config.json"))?;
    let (_, proof_csv) =
        take("config/proof.csv", &mut found).ok_or_else(|| missing("config/proof.csv"))?;
    let vk = vk_name(&cex_config, &format!("{source}: {config_path}"))?;
    let (_, verifying_key) = take(&format!("/{vk}"), &mut found)
        .or_else(|| take(&vk, &mut found))
        .ok_or_else(|| missing(&format!("verifying key {vk}")))?;
    let name = config_path
        .trim_end_matches("config/cex_config.json")
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|n| !n.is_empty() && *n != ".")
        .map(str::to_string)
        .unwrap_or_else(|| {
            path.file_name()
                .map(|n| n.to_string_lossy().trim_end_matches(".tar.gz").to_string())
                .unwrap_or_default()
        });
    Ok(BundleFiles {
        source,
        name,
        proof_csv,
        cex_config,
        verifying_key,
        verifying_key_name: vk,
    })
}

/// One published asset: its totals over all users and its price, as `cex_config.json`
/// states them (fixed-point integers).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct PublishedAsset {
    /// Sum of the users' equity.
    #[serde(rename = "TotalEquity")]
    pub total_equity: u64,
    /// Sum of the users' debt.
    #[serde(rename = "TotalDebt")]
    pub total_debt: u64,
    /// The price the snapshot values the asset at.
    #[serde(rename = "BasePrice")]
    pub base_price: u64,
    /// The exchange's symbol (`btc`, `usdt`).
    #[serde(rename = "Symbol")]
    pub symbol: String,
    /// Its slot in the asset list.
    #[serde(rename = "Index")]
    pub index: u32,
}

#[derive(serde::Deserialize)]
struct CexConfig {
    #[serde(rename = "CexAssetsInfo")]
    assets: Vec<PublishedAsset>,
}

/// The published assets of `cex_config.json`, or why they cannot be read (file, line and
/// column of bad JSON; a field of the wrong type names the field).
pub fn parse_cex_config(bytes: &[u8], file: &str) -> Result<Vec<PublishedAsset>, InputError> {
    let c: CexConfig = serde_json::from_slice(bytes)
        .map_err(|e| InputError::new(file, format!("not the published asset list: {e}")))?;
    Ok(c.assets)
}

/// One row of `proof.csv`, decoded as far as it could be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchRow {
    /// Line of the CSV file (1-based; the header is line 1).
    pub line: u64,
    /// `batch_number`.
    pub batch: u64,
    /// The decoded fields, or the first field that could not be decoded and why.
    pub fields: Result<BatchFields, RowError>,
}

/// The decoded fields of a batch row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchFields {
    /// The proof's bytes (`proof_info`).
    pub proof: Vec<u8>,
    /// Account tree root before and after the batch (32 bytes each).
    pub roots: [[u8; 32]; 2],
    /// Asset-list commitment before and after the batch.
    pub cex: [[u8; 32]; 2],
    /// The batch commitment (the proof's public input).
    pub commitment: [u8; 32],
}

/// A field of a row that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// The CSV column.
    pub field: &'static str,
    /// Why.
    pub reason: String,
}

/// The columns `proof.csv` must have.
pub const COLUMNS: [&str; 5] = [
    "proof_info",
    "cex_asset_list_commitments",
    "account_tree_roots",
    "batch_commitment",
    "batch_number",
];

fn b64(text: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| format!("not base64: {e}"))
}

fn b64_32(text: &str) -> Result<[u8; 32], String> {
    let b = b64(text)?;
    <[u8; 32]>::try_from(b.as_slice()).map_err(|_| format!("{} bytes, expected 32", b.len()))
}

fn pair(text: &str) -> Result<[[u8; 32]; 2], String> {
    let list: Vec<String> =
        serde_json::from_str(text).map_err(|e| format!("not a JSON list of strings: {e}"))?;
    if list.len() != 2 {
        return Err(format!("{} values, expected 2 (before, after)", list.len()));
    }
    let before = b64_32(&list[0]).map_err(|e| format!("[0] (before): {e}"))?;
    let after = b64_32(&list[1]).map_err(|e| format!("[1] (after): {e}"))?;
    Ok([before, after])
}

fn fields(record: &csv::StringRecord, at: &[usize; 5]) -> Result<BatchFields, RowError> {
    let get = |i: usize| record.get(at[i]).unwrap_or("");
    let err = |i: usize| {
        move |reason: String| RowError {
            field: COLUMNS[i],
            reason,
        }
    };
    Ok(BatchFields {
        proof: b64(get(0)).map_err(err(0))?,
        cex: pair(get(1)).map_err(err(1))?,
        roots: pair(get(2)).map_err(err(2))?,
        commitment: b64_32(get(3)).map_err(err(3))?,
    })
}

/// The rows of `proof.csv` in file order, or why the file is not one (no header, a missing
/// column, a batch number that is not a number).
pub fn parse_proof_csv(bytes: &[u8], file: &str) -> Result<Vec<BatchRow>, InputError> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let header = reader
        .headers()
        .map_err(|e| InputError::new(file, format!("line 1: not a CSV header: {e}")))?
        .clone();
    let mut at = [0usize; 5];
    for (i, name) in COLUMNS.iter().enumerate() {
        at[i] = header
            .iter()
            .position(|h| h.trim() == *name)
            .ok_or_else(|| {
                InputError::new(
                    file,
                    format!(
                        "line 1: no `{name}` column (the header must name {})",
                        COLUMNS.join(", ")
                    ),
                )
            })?;
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            InputError::new(file, format!("line {line}: not CSV: {e}"))
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let batch_text = record.get(at[4]).unwrap_or("").trim();
        let batch: u64 = batch_text.parse().map_err(|_| {
            InputError::new(
                file,
                format!("line {line}: batch_number `{batch_text}` is not a whole number"),
            )
        })?;
        rows.push(BatchRow {
            line,
            batch,
            fields: fields(&record, &at),
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "id,proof_info,cex_asset_list_commitments,account_tree_roots,batch_commitment,batch_number\n";

    fn a32(byte: u8) -> String {
        base64::engine::general_purpose::STANDARD.encode([byte; 32])
    }

    #[test]
    fn rows_and_their_errors() {
        let good = format!(
            "1,AAEC,\"[\"\"{}\"\",\"\"{}\"\"]\",\"[\"\"{}\"\",\"\"{}\"\"]\",{},7\n",
            a32(1),
            a32(2),
            a32(3),
            a32(4),
            a32(5)
        );
        let bad_b64 = good.replace("AAEC", "A*EC").replace(",7\n", ",8\n");
        let bad_json = format!("3,AAEC,[oops,\"[]\",{},9\n", a32(5));
        let text = format!("{HEADER}{good}{bad_b64}{bad_json}");
        let rows = parse_proof_csv(text.as_bytes(), "proof.csv").unwrap();
        assert_eq!(rows.len(), 3);
        let f = rows[0].fields.as_ref().unwrap();
        assert_eq!((rows[0].line, rows[0].batch), (2, 7));
        assert_eq!(f.proof, vec![0, 1, 2]);
        assert_eq!(f.cex, [[1; 32], [2; 32]]);
        assert_eq!(f.roots, [[3; 32], [4; 32]]);
        assert_eq!(f.commitment, [5; 32]);
        let e = rows[1].fields.as_ref().unwrap_err();
        assert_eq!((rows[1].line, e.field), (3, "proof_info"));
        assert!(e.reason.starts_with("not base64"), "{}", e.reason);
        let e = rows[2].fields.as_ref().unwrap_err();
        assert_eq!(e.field, "cex_asset_list_commitments");
        assert!(e.reason.contains("not a JSON list"), "{}", e.reason);

        let e = parse_proof_csv(b"id,proof_info\n", "p.csv")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("p.csv: line 1: no `cex_asset_list_commitments` column"),
            "{e}"
        );
        let e = parse_proof_csv(format!("{HEADER}1,a,b,c,d,x\n").as_bytes(), "p.csv")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 2: batch_number `x` is not a whole number"),
            "{e}"
        );
    }

    #[test]
    fn the_config_and_its_errors() {
        let ok = br#"{"CexAssetsInfo":[{"TotalEquity":5,"TotalDebt":1,"BasePrice":2,"Symbol":"btc","Index":0}]}"#;
        let a = parse_cex_config(ok, "c.json").unwrap();
        assert_eq!(a[0].symbol, "btc");
        assert_eq!(a[0].total_equity, 5);
        let e = parse_cex_config(br#"{"CexAssetsInfo":[{"TotalEquity":-5}]}"#, "c.json")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("c.json: not the published asset list"), "{e}");
        let e = parse_cex_config(b"{", "c.json").unwrap_err().to_string();
        assert!(e.contains("line 1"), "{e}");
    }
}
