//! HTX's (Huobi's) real published address files (`tests/data/htx/`, four generations):
//! every signed row verifies and every unsigned row is counted as unsigned; one changed
//! character in a signature, an address or a message fails that row only; a stated total
//! that does not match its rows fails the file, naming the coin and both amounts; the real
//! discrepancies in HTX's own files are reported; `verify` names the format it read and, for
//! a file of no known format, the formats it knows.

use por_attest::exchange::ExchangeOptions;
use por_attest::htx::{check_row, verify_htx_file, HtxReader, HtxRow};
use por_attest::report::{Outcome, Report};
use std::path::{Path, PathBuf};
use std::process::Command;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/htx")
        .join(name)
}

fn opts() -> ExchangeOptions {
    ExchangeOptions {
        threads: 2,
        progress: false,
        allow_unsupported: false,
        claims: false,
    }
}

fn verify(path: &Path) -> Report {
    verify_htx_file(path, &opts()).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The files that verify, one per generation (see `tests/data/htx/README.md`).
const VERIFYING: [&str; 4] = [
    "huobi_por_20221201_part_9c076d8.csv",
    "huobi_por_20230701_207dbd8.csv",
    "huobi_por_20240301_c7b3511.csv",
    "huobi_por_20251201_9a5a9f1.csv",
];

fn rows_of(path: &Path) -> Vec<HtxRow> {
    let f = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let mut r = HtxReader::new(&path.display().to_string(), f).unwrap();
    let mut rows = Vec::new();
    while let Some(row) = r.next_row() {
        rows.push(row.unwrap());
    }
    rows
}

/// The rows HTX signed, read from the text itself (a signature cell neither empty nor `-`).
fn signed_lines(path: &Path) -> Vec<u64> {
    let text = std::fs::read_to_string(path).unwrap();
    let header = text
        .lines()
        .position(|l| l.starts_with("coin,address,"))
        .expect("address header");
    text.lines()
        .enumerate()
        .skip(header + 1)
        .filter(|(_, l)| {
            let sig = l.rsplit(',').next().unwrap_or("").trim();
            !l.trim().is_empty() && !sig.is_empty() && sig != "-"
        })
        .map(|(i, _)| i as u64 + 1)
        .collect()
}

#[test]
fn published_files_of_every_generation_verify() {
    for name in VERIFYING {
        let path = data(name);
        let r = verify(&path);
        let signed = signed_lines(&path);
        let rows = rows_of(&path).len() as u64;
        assert_eq!(r.format, "htx-csv");
        assert_eq!(r.entries, rows, "{name}");
        assert_eq!(r.verified, signed.len() as u64, "{name}:\n{}", r.to_human());
        assert_eq!(r.unsigned, rows - signed.len() as u64, "{name}");
        assert_eq!(
            (r.failed, r.unsupported),
            (0, 0),
            "{name}:\n{}",
            r.to_human()
        );
        assert!(r.file_failures.is_empty(), "{name}: {:?}", r.file_failures);
        assert!(
            !r.totals.is_empty() && r.totals.iter().all(|t| t.status == "ok"),
            "{name}:\n{}",
            r.to_human()
        );
        // Unsigned rows leave the verdict incomplete (exit 3), never verified.
        let (verdict, code) = if r.unsigned > 0 {
            ("incomplete", 3)
        } else {
            ("verified", 0)
        };
        assert_eq!((r.result, r.exit_code()), (verdict, code), "{name}");
        // Every unsigned row is listed as such, with its line; no signed row is.
        let unsigned: Vec<u64> = r
            .problems
            .iter()
            .filter(|p| p.status == "unsigned")
            .map(|p| p.line.unwrap())
            .collect();
        assert_eq!(unsigned.len() as u64, r.unsigned);
        assert!(unsigned.iter().all(|l| !signed.contains(l)), "{name}");
    }
}

#[test]
fn what_each_generation_brings_is_read() {
    // 2022-12: most unsigned rows are empty signature cells (HTX's own verifier counts those
    // 25 as failed), three are `-`; the signed rows sign `King will be back!`.
    let r = verify(&data(VERIFYING[0]));
    assert_eq!((r.verified, r.unsigned), (39, 28));
    let empty = r
        .problems
        .iter()
        .filter(|p| p.reason.contains("empty signature cell"))
        .count();
    assert_eq!(empty, 25);
    // 2023-07: ed25519 rows, SOL (base58 key) and ALGO (base32 key + checksum).
    let r = verify(&data(VERIFYING[1]));
    assert_eq!(r.chains["USDT-ALGO"].verified, 1);
    assert_eq!(r.chains["USDT-SOL"].verified, 1);
    // 2024-03: a contract wallet's row (balance, no signature) followed by the owner rows
    // that signed for it (balance `-`), the same owners again under the next wallet row.
    let r = verify(&data(VERIFYING[2]));
    let wallet = r
        .problems
        .iter()
        .find(|p| p.line == Some(36))
        .expect("line 36 is unsigned");
    assert_eq!(wallet.address, "0x4fb312915b779b1339388e14b6d079741ca83128");
    assert!(wallet.reason.contains("from line 37"), "{}", wallet.reason);
    assert!(
        wallet.reason.contains("on-chain state"),
        "{}",
        wallet.reason
    );
    // 2025-12: two-decimal figures, `(All)` groups, the summary's `USDT-ERC20` for the rows'
    // `USDT-ETH`, DOGE / SOL / XRP published unsigned.
    let r = verify(&data(VERIFYING[3]));
    let erc20 = r.totals.iter().find(|t| t.coin == "USDT-ERC20").unwrap();
    assert_eq!(
        (erc20.covers.as_slice(), erc20.status),
        (&["USDT-ETH".to_string()][..], "ok")
    );
    assert_eq!(r.chains["DOGE"].unsigned, 25);
    let doge = r.totals.iter().find(|t| t.coin == "DOGE(All)").unwrap();
    assert_eq!(doge.on_verified, "0");
}

/// Replaces the character at the middle of `s` by another one of the same kind.
fn flip_middle(s: &str) -> String {
    let mut b = s.as_bytes().to_vec();
    let i = b.len() / 2;
    b[i] = match b[i] {
        b'0' => b'1',
        b'a' => b'b',
        b'A' => b'B',
        c if c.is_ascii_digit() => b'0',
        c if c.is_ascii_lowercase() => b'a',
        c if c.is_ascii_uppercase() => b'A',
        _ => b'A',
    };
    String::from_utf8(b).unwrap()
}

/// The file with line `line`'s field `col` (0-based) changed by `f`.
fn with_field(path: &Path, line: u64, col: usize, f: impl Fn(&str) -> String) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = String::new();
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i as u64 + 1 == line {
            let body = l.trim_end_matches(['\r', '\n']);
            let mut fields: Vec<String> = body.split(',').map(str::to_string).collect();
            fields[col] = f(&fields[col]);
            out.push_str(&fields.join(","));
            out.push_str(&l[body.len()..]);
        } else {
            out.push_str(l);
        }
    }
    out
}

#[test]
fn one_character_changed_fails_that_row_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut runs = 0;
    for name in VERIFYING {
        let path = data(name);
        let base = verify(&path);
        let rows = rows_of(&path);
        for (k, line) in signed_lines(&path).into_iter().enumerate() {
            let row = rows.iter().find(|r| r.line == line).unwrap();
            // Every signed row, each field, on its own.
            for (what, changed) in [
                ("signature", {
                    let mut r = row.clone();
                    r.signature = r.signature.as_deref().map(flip_middle);
                    r
                }),
                ("address", {
                    let mut r = row.clone();
                    r.address = flip_middle(&r.address);
                    r
                }),
                ("message", {
                    let mut r = row.clone();
                    r.message = r.message.as_deref().map(flip_middle);
                    r
                }),
            ] {
                assert_eq!(check_row(row), Outcome::Verified, "{name} line {line}");
                assert!(
                    matches!(check_row(&changed), Outcome::Failed(_)),
                    "{name} line {line}: changed {what} must fail: {:?}",
                    check_row(&changed)
                );
            }
            // Every fourth signed row, through the whole file: that row alone fails.
            if k % 4 != 0 {
                continue;
            }
            for (col, what) in [(5, "signature"), (1, "address"), (4, "message")] {
                let p = dir.path().join(format!("t{runs}.csv"));
                runs += 1;
                std::fs::write(&p, with_field(&path, line, col, flip_middle)).unwrap();
                let r = verify(&p);
                let new: Vec<_> = r
                    .problems
                    .iter()
                    .filter(|p| !base.problems.iter().any(|b| b.line == p.line))
                    .collect();
                assert_eq!(new.len(), 1, "{name} line {line} {what}:\n{}", r.to_human());
                assert_eq!((new[0].line, new[0].status), (Some(line), "failed"));
                assert_eq!(r.failed, 1, "{name} line {line} {what}");
                assert_eq!(r.verified, base.verified - 1);
                assert_eq!(r.unsigned, base.unsigned);
                assert_eq!(r.exit_code(), 1);
            }
        }
    }
    assert!(runs > 30, "{runs} whole-file runs");
}

#[test]
fn a_total_that_does_not_match_fails_the_file_naming_the_coin() {
    let dir = tempfile::tempdir().unwrap();
    let path = data(VERIFYING[3]);
    // Line 4 states BTC-TRC20's total: 10951.93. Two cents more is beyond the rounding.
    let p = dir.path().join("total.csv");
    std::fs::write(&p, with_field(&path, 4, 2, |_| "10951.95".into())).unwrap();
    let r = verify(&p);
    assert_eq!(r.exit_code(), 1);
    assert_eq!(r.failed, 0, "no row failed: the file did");
    assert_eq!(r.verified, verify(&path).verified);
    let f = &r.file_failures;
    assert!(
        f.iter().any(|m| m.code.as_str() == "total_mismatch" && m.line == Some(4) && m.reason.starts_with(
            "summary line 4: BTC-TRC20 states a total of 10951.95, but BTC-TRC20 adds up to 10951.93 (2 rows)"
        )),
        "{f:?}"
    );
    assert_eq!(f.len(), 1, "the group line still matches the rows: {f:?}");
    // The group line changed: compared with the rows of its lines.
    let p = dir.path().join("group.csv");
    std::fs::write(&p, with_field(&path, 2, 2, |_| "20321.69".into())).unwrap();
    let f: Vec<String> = verify(&p)
        .file_failures
        .into_iter()
        .map(|f| f.reason)
        .collect();
    assert_eq!(
        f,
        [
            "summary line 2: BTC(ALL) states a total of 20321.69, but the rows of the lines after \
          it (BTC, BTC-TRC20) add up to 20320.69 (8 rows); the two differ by 1.00, more than \
          the 0.045 the printed figures' rounding allows"
        ]
    );
    // A row's balance changed instead: the coin's total and its group fail.
    let p = dir.path().join("row.csv");
    let line = rows_of(&path)
        .iter()
        .find(|r| r.coin == "TRX" && r.balance.is_some())
        .unwrap()
        .line;
    std::fs::write(&p, with_field(&path, line, 3, |b| format!("1{b}"))).unwrap();
    let r = verify(&p);
    let coins: Vec<&str> = r
        .totals
        .iter()
        .filter(|t| t.status == "mismatch")
        .map(|t| t.coin.as_str())
        .collect();
    assert_eq!(coins, ["TRX(ALL)", "TRX"], "{}", r.to_human());
    assert_eq!(r.failed, 0);
    // Within the printed rounding (the rows' cents): still verified.
    let p = dir.path().join("rounding.csv");
    std::fs::write(&p, with_field(&path, 4, 2, |_| "10951.94".into())).unwrap();
    let r = verify(&p);
    let t = r.totals.iter().find(|t| t.coin == "BTC-TRC20").unwrap();
    assert_eq!((t.status, t.tolerance.as_str()), ("ok", "0.015"));
}

#[test]
fn real_discrepancies_in_htx_files_are_reported() {
    // February 2023: USDT-TRC20's total lost its leading 4 (64050721.54 for 464050722.34).
    let r = verify(&data("huobi_por_20230201_05b215d.csv"));
    assert_eq!((r.failed, r.exit_code()), (0, 1));
    assert!(r.file_failures.iter().any(|m| m.reason.starts_with(
        "summary line 9: USDT-TRC20 states a total of 64050721.54, but USDT-TRC20 adds up to 464050722.34"
    )), "{:?}", r.file_failures);
    // August 2023: USDT held as T-Bills is in the totals, with no address row: the line and
    // its group USDT(ALL) fail.
    let r = verify(&data("huobi_por_20230801_73334f9.csv"));
    assert_eq!(r.file_failures.len(), 2, "{:?}", r.file_failures);
    assert!(r.file_failures[0]
        .reason
        .starts_with("summary line 12: USDT(ALL) states a total of 662404586.3"));
    assert!(r.file_failures[1].reason.contains(
        "USDT-T-Bills states a total of 90010000, but no address row of that coin has a balance"
    ));
    assert_eq!(
        r.verified,
        signed_lines(&data("huobi_por_20230801_73334f9.csv")).len() as u64
    );
    // January 2025: two DOGE rows listed twice (counted once, failed as duplicates).
    let r = verify(&data("huobi_por_20250101_65f9b4a.csv"));
    let dups: Vec<(u64, u64)> = r
        .problems
        .iter()
        .filter(|p| p.reason.starts_with("duplicate row"))
        .map(|p| {
            let first = p.reason.split_whitespace().nth(3).unwrap();
            (p.line.unwrap(), first.parse().unwrap())
        })
        .collect();
    assert_eq!(dups, [(120, 104), (122, 95)], "{}", r.to_human());
}

#[test]
fn line_endings_do_not_change_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let path = data(VERIFYING[2]);
    let crlf = std::fs::read_to_string(&path)
        .unwrap()
        .replace('\n', "\r\n");
    let p = dir.path().join("crlf.csv");
    std::fs::write(&p, crlf).unwrap();
    let (a, mut b) = (verify(&path), verify(&p));
    b.file = a.file.clone();
    assert_eq!(a, b);
}

fn cli(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_por-attest"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn cli_detects_htx_names_the_format_and_knows_what_it_does_not_read() {
    let file = data(VERIFYING[1]);
    let f = file.to_str().unwrap();
    let (code, out, err) = cli(&["verify", f]);
    assert_eq!(code, 3, "unsigned rows: incomplete\n{out}{err}");
    assert!(out.contains("htx-csv format"), "{out}");
    assert!(out.contains("stated totals"), "{out}");
    assert!(out.ends_with(": INCOMPLETE\n"), "{out}");
    assert!(out.contains(", 3 unsigned\n"), "{out}");
    let (code, out, _) = cli(&[
        "verify",
        "--format",
        "htx-csv",
        "--json",
        "--allow-unsupported",
        f,
    ]);
    assert_eq!(code, 0);
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["format"], "htx-csv");
    assert_eq!(j["totals"][0]["coin"], "BTC(ALL)");
    // Forced to another format: an input error, exit 2.
    let (code, _, err) = cli(&["verify", "--format", "okx-csv", f]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not an OKX address file"), "{err}");
    // A CSV of no known format: the formats named, and why this is none of them.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("other.csv");
    std::fs::write(&p, "name,amount\nalice,3\n").unwrap();
    let (code, _, err) = cli(&["verify", p.to_str().unwrap()]);
    assert_eq!(code, 2);
    for needle in [
        "other.csv",
        "`snapshot`",
        "`okx-csv`",
        "`htx-csv`",
        "line 1 reads `name,amount`",
    ] {
        assert!(err.contains(needle), "{needle}: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}
