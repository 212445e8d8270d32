//! HTX address files: the reader (summary block, header, rows), the row checks, and the
//! whole-file verifier (pipeline, owner rows, duplicate rows, summary totals in exact
//! decimals).

use por_attest::exchange::ExchangeOptions;
use por_attest::htx::{check_row, looks_like_htx, verify_htx_file, HtxReader};
use por_attest::report::Outcome;

/// Any bytes: detection, reading and verifying never panic; `next_row` reads what the
/// whole-file verifier counts; an unsigned row is never verified; a file that verifies has no
/// stated total out of line with its rows.
pub fn htx_csv(data: &[u8]) {
    let _ = looks_like_htx(data);
    let Ok(mut r) = HtxReader::new("fuzz.csv", data) else {
        return;
    };
    let mut rows = 0u64;
    while let Some(row) = r.next_row() {
        let Ok(row) = row else { break };
        let outcome = check_row(&row);
        if matches!(row.signature.as_deref(), None | Some("")) {
            assert!(
                matches!(outcome, Outcome::Unsigned(_)),
                "{row:?}: {outcome:?}"
            );
        }
        rows += 1;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("fuzz.csv");
    std::fs::write(&path, data).expect("write the input");
    let opts = ExchangeOptions {
        threads: 1,
        progress: false,
        allow_unsupported: false,
        claims: false,
    };
    if let Ok(report) = verify_htx_file(&path, &opts) {
        assert_eq!(
            report.entries, rows,
            "the verifier and the reader count rows alike"
        );
        if report.result == "verified" {
            assert!(report.totals.iter().all(|t| t.status != "mismatch"));
            assert!(report.file_failures.is_empty());
        }
    }
}
