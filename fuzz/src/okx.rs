//! OKX address files: the streaming reader and the row parser, every row checked.

use por_attest::okx::{check_row, looks_like_okx, row_label, OkxReader, Row};

/// The columns a re-written file uses: every column a [`Row`] keeps.
const HEADER: [&str; 10] = [
    "coin",
    "type",
    "network",
    "address",
    "message",
    "signature1",
    "signature2",
    "redeem script/public key",
    "eoa1",
    "eoa2",
];

fn fields(r: &Row) -> [&str; 10] {
    [
        &r.coin, &r.kind, &r.network, &r.address, &r.message, &r.sig1, &r.sig2, &r.script, &r.eoa1,
        &r.eoa2,
    ]
}

/// Reads every row until the first error, checking each (no panic, one outcome per row).
fn read_rows(data: &[u8]) -> Option<Vec<Row>> {
    let mut r = OkxReader::new("fuzz.csv", data).ok()?;
    let parser = r.row_parser();
    let mut rows = Vec::new();
    while let Some(raw) = r.next_raw() {
        let Ok(raw) = raw else { break };
        let Ok(row) = parser.parse(&raw) else { break };
        let _ = check_row(&row);
        let _ = row_label(&row);
        rows.push(row);
    }
    Some(rows)
}

/// Any bytes: detection and reading never panic; `next_row` and `next_raw` + the row parser
/// read the same rows; the rows written back as CSV (quoted where needed) read back the same.
pub fn okx_csv(data: &[u8]) {
    let _ = looks_like_okx(data);
    let Some(rows) = read_rows(data) else {
        return;
    };
    let mut direct = Vec::new();
    let mut r = OkxReader::new("fuzz.csv", data).expect("it opened once");
    while let Some(Ok(row)) = r.next_row() {
        direct.push(row);
    }
    assert_eq!(direct, rows, "next_row and next_raw + parse differ");
    if rows.is_empty() {
        return;
    }
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    w.write_record(HEADER).expect("write to memory");
    for row in &rows {
        w.write_record(fields(row)).expect("write to memory");
    }
    let text = w.into_inner().expect("flush to memory");
    let back = read_rows(&text).expect("the re-written file has its header");
    assert_eq!(
        back.len(),
        rows.len(),
        "rows lost in the re-written file:\n{}",
        String::from_utf8_lossy(&text)
    );
    for (a, b) in rows.iter().zip(&back) {
        assert_eq!(fields(a), fields(b), "a row changed when written back");
    }
}
