//! Gate's published liabilities bundle of 2024-09-29 (tests/data/gate): verified in part (the
//! first batches) in the fast tests and whole in one test, and each kind of damage FAILED or
//! refused with its reason.
#![cfg(feature = "liabilities")]

use ark_ec::AffineRepr;
use base64::Engine;
use por_attest_verify::liabilities::batch::{totals_failure, Method};
use por_attest_verify::liabilities::bundle::{parse_cex_config, read_bundle, BundleFiles};
use por_attest_verify::liabilities::encoding::{g1, g1_bytes, verifying_key};
use por_attest_verify::liabilities::mapping::Mapping;
use por_attest_verify::liabilities::poseidon::element_from_be_bytes;
use por_attest_verify::liabilities::report::{code, LiabilitiesReport};
use por_attest_verify::liabilities::solvency::{join, Liabilities, Reserves};
use por_attest_verify::liabilities::{verify_bundle_files, BundleOptions};
use por_attest_verify::report::Report;
use std::path::PathBuf;
use std::sync::OnceLock;

const FINAL_ROOT: &str = "171cfd97a75b5cdff1b511f6e447b1d35c8cca7a2172d11e1c145a89fbf23a99";

fn bundle_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/gate/zkmerkle_cex_20240929.tar.gz")
}

fn real() -> &'static BundleFiles {
    static FILES: OnceLock<BundleFiles> = OnceLock::new();
    FILES.get_or_init(|| read_bundle(&bundle_path()).expect("the real bundle reads"))
}

/// The CSV records of `proof.csv` by batch number, and its header.
fn records() -> &'static (csv::StringRecord, Vec<csv::StringRecord>) {
    static RECORDS: OnceLock<(csv::StringRecord, Vec<csv::StringRecord>)> = OnceLock::new();
    RECORDS.get_or_init(|| {
        let mut r = csv::Reader::from_reader(real().proof_csv.as_slice());
        let header = r.headers().unwrap().clone();
        let at = header.iter().position(|h| h == "batch_number").unwrap();
        let mut rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
        rows.sort_by_key(|r| r[at].parse::<u64>().unwrap());
        (header, rows)
    })
}

fn column(name: &str) -> usize {
    records().0.iter().position(|h| h == name).unwrap()
}

fn csv_of(rows: &[csv::StringRecord]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&records().0).unwrap();
    for r in rows {
        w.write_record(r).unwrap();
    }
    w.into_inner().unwrap()
}

/// The first `n` batches.
fn first(n: usize) -> Vec<csv::StringRecord> {
    records().1[..n].to_vec()
}

fn with_rows(rows: &[csv::StringRecord]) -> BundleFiles {
    BundleFiles {
        proof_csv: csv_of(rows),
        ..real().clone()
    }
}

fn verify(files: &BundleFiles) -> LiabilitiesReport {
    verify_bundle_files(files, &BundleOptions::default(), &Mapping::built_in()).unwrap()
}

fn codes(r: &LiabilitiesReport) -> Vec<(&'static str, Option<u64>)> {
    r.failures.iter().map(|f| (f.code, f.batch)).collect()
}

const SUBSET: usize = 6;

/// The first batches verify: proofs, commitments, the chain from the empty tree; only the end
/// (the published totals) cannot match a part of the bundle.
#[test]
fn the_first_batches_verify() {
    let r = verify(&with_rows(&first(SUBSET)));
    assert_eq!(r.batches, SUBSET as u64);
    assert_eq!(r.batches_verified, SUBSET as u64, "{}", r.to_human());
    assert_eq!(codes(&r), vec![(code::TOTALS_NOT_COMMITTED, None)]);
    assert!(r.failures[0]
        .reason
        .contains("the published totals (cex_config.json) are not what the proofs commit to"));
    assert_eq!(r.asset_slots, Some(350));
    assert!(r
        .start_account_root
        .as_deref()
        .unwrap()
        .starts_with("0118925954da"));
    assert_eq!(r.assets.len(), 209);
    let btc = r.assets.iter().find(|a| a.symbol == "btc").unwrap();
    assert_eq!(btc.equity, "17497.54962109");
    assert_eq!(btc.price, "65854.8");
    let doge = r.assets.iter().find(|a| a.symbol == "doge").unwrap();
    assert_eq!(
        doge.price, "0.128074",
        "two-digit assets' prices have 14 decimals"
    );
    assert_eq!(r.bundle, "zkmerkle_cex_20240929");
    assert_eq!(r.snapshot_date.as_deref(), Some("2024-09-29"));
    // One by one: the same verdicts.
    let each = verify_bundle_files(
        &with_rows(&first(SUBSET)),
        &BundleOptions {
            threads: 0,
            method: Method::Each,
        },
        &Mapping::built_in(),
    )
    .unwrap();
    assert_eq!(codes(&each), codes(&r));
    assert_eq!(each.method, "each");
}

/// The whole bundle: VERIFIED, and its final root the one Gate's verifier prints.
#[test]
fn the_whole_bundle_verifies() {
    let r = verify(real());
    assert_eq!(r.failures, vec![], "{}", r.to_human());
    assert_eq!(r.result, "verified");
    assert_eq!(r.exit_code(), 0);
    assert_eq!((r.batches, r.batches_verified), (4726, 4726));
    assert_eq!(r.final_account_root.as_deref(), Some(FINAL_ROOT));
    let human = r.to_human();
    assert!(human.contains("batches: 4726 of 4726 verified"), "{human}");
    assert!(human.ends_with("result: VERIFIED\n"), "{human}");

    // A changed total: only the commitment catches it (the check the run above passed).
    let end = hex::decode(r.final_asset_commitment.as_deref().unwrap()).unwrap();
    let end = element_from_be_bytes(&end).unwrap();
    let mut assets = parse_cex_config(&real().cex_config, "cex_config.json").unwrap();
    assert_eq!(totals_failure(&end, 4725, &assets, 350), None);
    let btc = assets.iter_mut().find(|a| a.symbol == "btc").unwrap();
    btc.total_equity += 1;
    let f = totals_failure(&end, 4725, &assets, 350).expect("a changed total fails");
    assert_eq!(f.code, code::TOTALS_NOT_COMMITTED);
    assert!(f.reason.starts_with(
        "the published totals (cex_config.json) are not what the proofs commit to: the last batch (4725)"
    ));

    // The solvency join on the verified bundle: reserves matched by symbol, valued at the
    // bundle's prices.
    let mut reserves = Report::new("reserves.json", "por-attest-snapshot");
    reserves.result = "verified";
    reserves.add_balance("BTC", "BTC", &"20000".parse().unwrap(), true);
    reserves.add_balance("BTC", "BTC", &"5".parse().unwrap(), false);
    reserves.add_balance("TRX", "USDT", &"100".parse().unwrap(), true);
    reserves.add_balance("SOL", "SOL", &"3".parse().unwrap(), true);
    let j = join(
        &[Reserves {
            report: &reserves,
            time: Some("2024-10-01T00:00:00Z".into()),
            node_checked: false,
        }],
        &Liabilities::Proven(&r),
        &Mapping::built_in(),
    );
    assert_eq!(j.liabilities_kind, "proven");
    assert_eq!(j.reserves[0].days_from_liabilities, Some(2));
    let by = |a: &str| j.assets.iter().find(|x| x.asset == a).unwrap();
    let btc = by("BTC");
    assert_eq!((btc.reserves.as_str(), btc.status), ("20000", "covered"));
    assert_eq!(btc.net_liabilities, "16788.89418527");
    assert_eq!(btc.ratio.as_deref(), Some("1.1913"));
    assert_eq!(btc.reserves_value.as_deref(), Some("1317096000"));
    assert_eq!(by("USDT").status, "short");
    assert_eq!(by("ETH").status, "no reserves");
    assert_eq!(j.result, "insolvent");
    assert_eq!(j.assets[0].asset, "BTC", "the largest liability first");
}

fn proof_bytes(r: &csv::StringRecord) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(&r[column("proof_info")])
        .unwrap()
}

fn set(r: &mut csv::StringRecord, name: &str, value: &str) {
    let at = column(name);
    let mut fields: Vec<String> = r.iter().map(str::to_string).collect();
    fields[at] = value.to_string();
    *r = csv::StringRecord::from(fields);
}

fn set_proof(r: &mut csv::StringRecord, bytes: &[u8]) {
    set(
        r,
        "proof_info",
        &base64::engine::general_purpose::STANDARD.encode(bytes),
    );
}

#[test]
fn a_flipped_proof_byte_and_a_moved_point() {
    let mut rows = first(SUBSET);
    let mut p = proof_bytes(&rows[2]);
    p[40] ^= 0x01;
    set_proof(&mut rows[2], &p);
    // Batch 4's Ar moved along the curve (A + G): still a valid point, a wrong proof.
    let mut p = proof_bytes(&rows[4]);
    let a = g1(&p[..64], "A").unwrap();
    let moved = (a + ark_bn254::G1Affine::generator()).into();
    p[..64].copy_from_slice(&g1_bytes(&moved));
    set_proof(&mut rows[4], &p);
    let r = verify(&with_rows(&rows));
    assert_eq!(
        codes(&r),
        vec![
            (code::PROOF_MALFORMED, Some(2)),
            (code::PROOF_INVALID, Some(4)),
            (code::TOTALS_NOT_COMMITTED, None)
        ],
        "{}",
        r.to_human()
    );
    assert_eq!(
        r.failures[0].reason,
        "proof_info: proof point Ar (G1): not on the curve"
    );
    assert_eq!(r.batches_verified, SUBSET as u64 - 2);
    let human = r.to_human();
    assert!(
        human.contains("FAILED batch 2 (line 4) [proof_malformed]"),
        "{human}"
    );
    assert!(human.ends_with("result: FAILED\n"));
    assert_eq!(r.exit_code(), 1);
}

#[test]
fn more_debt_than_equity() {
    let mut config: serde_json::Value = serde_json::from_slice(&real().cex_config).unwrap();
    let eth = config["CexAssetsInfo"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|a| a["Symbol"] == "eth")
        .unwrap();
    eth["TotalDebt"] = (eth["TotalEquity"].as_u64().unwrap() + 1).into();
    let files = BundleFiles {
        cex_config: serde_json::to_vec(&config).unwrap(),
        ..with_rows(&first(2))
    };
    let r = verify(&files);
    let f = r
        .failures
        .iter()
        .find(|f| f.code == code::DEBT_EXCEEDS_EQUITY)
        .expect("debt above equity fails");
    assert_eq!(f.asset.as_deref(), Some("eth"));
    assert!(f
        .reason
        .starts_with("total debt 23881444500228 exceeds total equity 23881444500227"));
    assert!(r
        .to_human()
        .contains("FAILED asset eth [debt_exceeds_equity]"));
}

#[test]
fn a_dropped_and_a_repeated_batch() {
    let mut rows = first(SUBSET);
    rows.remove(3);
    let r = verify(&with_rows(&rows));
    assert_eq!(
        codes(&r),
        vec![
            (code::BATCH_MISSING, Some(3)),
            (code::TOTALS_NOT_COMMITTED, None)
        ]
    );
    assert_eq!(
        r.failures[0].reason,
        "no row for batch 3 (batches run 0 to 5)"
    );

    let mut rows = first(SUBSET);
    let again = rows[1].clone();
    rows.push(again);
    let r = verify(&with_rows(&rows));
    let f = &r.failures[0];
    assert_eq!(
        (f.code, f.batch, f.line),
        (code::BATCH_REPEATED, Some(1), Some(8))
    );
    assert_eq!(f.reason, "batch 1 is also on line 3");

    // A batch out of its place in the chain: batch 2's row numbered 3 and 3's numbered 2.
    let mut rows = first(SUBSET);
    let n = column("batch_number");
    let (b2, b3) = (rows[2][n].to_string(), rows[3][n].to_string());
    set(&mut rows[2], "batch_number", &b3);
    set(&mut rows[3], "batch_number", &b2);
    let r = verify(&with_rows(&rows));
    let broken: Vec<Option<u64>> = r
        .failures
        .iter()
        .filter(|f| f.code == code::CHAIN_BROKEN)
        .map(|f| f.batch)
        .collect();
    assert_eq!(broken, vec![Some(2), Some(3), Some(4)], "{}", r.to_human());
}

#[test]
fn another_verifying_key() {
    let vk = &real().verifying_key;
    let key = verifying_key(vk).unwrap();
    // Another key of the same shape: α doubled (what a key for another circuit looks like to
    // these proofs).
    let alpha2: ark_bn254::G1Affine = (key.alpha + key.alpha).into();
    let mut other = vk.clone();
    other[..64].copy_from_slice(&g1_bytes(&alpha2));
    let files = BundleFiles {
        verifying_key: other,
        ..with_rows(&first(3))
    };
    let r = verify(&files);
    assert_eq!(
        codes(&r),
        vec![
            (code::PROOF_INVALID, Some(0)),
            (code::PROOF_INVALID, Some(1)),
            (code::PROOF_INVALID, Some(2)),
            (code::TOTALS_NOT_COMMITTED, None)
        ]
    );
    assert_ne!(
        r.verifying_key_sha256,
        verify(&with_rows(&first(1))).verifying_key_sha256
    );

    // A key for two public inputs is refused.
    let mut two = vk.clone();
    let count_at = vk.len() - 4 - 2 * 64;
    two[count_at..count_at + 4].copy_from_slice(&3u32.to_be_bytes());
    two.extend_from_slice(&vk[vk.len() - 64..]);
    let e = verify_bundle_files(
        &BundleFiles {
            verifying_key: two,
            ..with_rows(&first(1))
        },
        &BundleOptions::default(),
        &Mapping::built_in(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.ends_with("zkpor864.vk.save: the verifying key takes 2 public inputs; the bundle's proofs have exactly one (its K has 3 points, expected 2)"), "{e}");
    let e = verify_bundle_files(
        &BundleFiles {
            verifying_key: vk[..700].to_vec(),
            ..with_rows(&first(1))
        },
        &BundleOptions::default(),
        &Mapping::built_in(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("verifying key with 2 K points: 700 bytes, expected 708"),
        "{e}"
    );
}

#[test]
fn malformed_rows_and_files() {
    let mut rows = first(SUBSET);
    set(&mut rows[1], "proof_info", "not*base64");
    set(&mut rows[2], "account_tree_roots", "[\"AAAA\"]");
    set(
        &mut rows[3],
        "batch_commitment",
        &base64::engine::general_purpose::STANDARD.encode([0xff; 32]),
    );
    let mut p = proof_bytes(&rows[4]);
    p[64] |= 0x80; // Bs with the "compressed" flag
    set_proof(&mut rows[4], &p);
    let r = verify(&with_rows(&rows));
    let got: Vec<(&str, Option<u64>, &str)> = r
        .failures
        .iter()
        .map(|f| (f.code, f.batch, f.reason.as_str()))
        .collect();
    assert_eq!(got[0].0, code::ROW_MALFORMED);
    assert!(got[0].2.starts_with("proof_info: not base64"), "{got:?}");
    assert_eq!((got[1].0, got[1].1), (code::ROW_MALFORMED, Some(2)));
    assert_eq!(
        got[1].2,
        "account_tree_roots: 1 values, expected 2 (before, after)"
    );
    assert_eq!((got[2].0, got[2].1), (code::FIELD_OUT_OF_RANGE, Some(3)));
    assert!(got[2].2.starts_with("batch_commitment ffff"), "{got:?}");
    assert_eq!((got[3].0, got[3].1), (code::PROOF_MALFORMED, Some(4)));
    assert!(
        got[3].2.contains("proof point Bs (G2): flag bits 0b10"),
        "{got:?}"
    );

    // A changed commitment (valid field element): the row's commitment no longer hashes.
    let mut rows = first(2);
    let c = base64::engine::general_purpose::STANDARD
        .decode(&rows[1][column("batch_commitment")])
        .unwrap();
    let mut c2 = c.clone();
    c2[31] ^= 1;
    set(
        &mut rows[1],
        "batch_commitment",
        &base64::engine::general_purpose::STANDARD.encode(&c2),
    );
    let r = verify(&with_rows(&rows));
    assert_eq!(r.failures[0].code, code::BATCH_COMMITMENT_MISMATCH);

    // Files that are not what they should be are refused (exit 2) naming the file.
    let refuse = |f: BundleFiles| {
        verify_bundle_files(&f, &BundleOptions::default(), &Mapping::built_in())
            .unwrap_err()
            .to_string()
    };
    let e = refuse(BundleFiles {
        proof_csv: b"id,proof_info\n1,AAAA\n".to_vec(),
        ..real().clone()
    });
    assert!(
        e.contains("config/proof.csv: line 1: no `cex_asset_list_commitments` column"),
        "{e}"
    );
    let e = refuse(BundleFiles {
        cex_config: b"{\"CexAssetsInfo\": [ {\"Symbol\": 5} ]}".to_vec(),
        ..real().clone()
    });
    assert!(
        e.contains("config/cex_config.json: not the published asset list"),
        "{e}"
    );
    let mut vk = real().verifying_key.clone();
    vk[90] ^= 0x01; // G1.Beta's x
    let e = refuse(BundleFiles {
        verifying_key: vk,
        ..real().clone()
    });
    assert!(
        e.ends_with("zkpor864.vk.save: verifying key β (G1): not on the curve"),
        "{e}"
    );
}

/// The bundle read from its folder gives the same as from the archive.
#[test]
fn the_folder_and_missing_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("zkmerkle_cex_20240929");
    std::fs::create_dir_all(root.join("config")).unwrap();
    std::fs::write(root.join("config/proof.csv"), csv_of(&first(2))).unwrap();
    std::fs::write(root.join("config/cex_config.json"), &real().cex_config).unwrap();
    let e = read_bundle(dir.path()).unwrap_err().to_string();
    assert!(e.contains("zkpor864.vk.save: cannot open"), "{e}");
    std::fs::write(root.join("zkpor864.vk.save"), &real().verifying_key).unwrap();
    assert!(por_attest_verify::liabilities::looks_like_bundle(
        dir.path()
    ));
    assert!(por_attest_verify::liabilities::looks_like_bundle(
        &bundle_path()
    ));
    let files = read_bundle(dir.path()).unwrap();
    assert_eq!(files.name, "zkmerkle_cex_20240929");
    let r = verify(&files);
    assert_eq!(r.batches_verified, 2);
    let e = read_bundle(&PathBuf::from(env!("CARGO_MANIFEST_DIR"))).unwrap_err();
    assert!(e.to_string().contains("no config/cex_config.json"), "{e}");
}

/// The auditor's `por-attest-verify` reads a bundle (folder) too: report, JSON and exit status.
#[test]
fn the_auditors_binary_reads_a_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("zkmerkle_cex_20240929");
    std::fs::create_dir_all(root.join("config")).unwrap();
    std::fs::write(root.join("config/proof.csv"), csv_of(&first(2))).unwrap();
    std::fs::write(root.join("config/cex_config.json"), &real().cex_config).unwrap();
    std::fs::write(root.join("zkpor864.vk.save"), &real().verifying_key).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_por-attest-verify"))
        .arg(&root)
        .arg("--json")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["format"], "gate-zkmerkle");
    assert_eq!(r["batches_verified"], 2);
    assert_eq!(r["failures"][0]["code"], "totals_not_committed");
    std::fs::remove_file(root.join("config/proof.csv")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_por-attest-verify"))
        .arg(&root)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("config/proof.csv: cannot open"), "{stderr}");
}
