//! OKX's real published address files: every row verifies except the rows listed below,
//! each with the reason it cannot be checked offline; one-character changes fail exactly the
//! row they touch; our snapshot exports to OKX's layout and reads back verified; malformed
//! files are input errors naming file and line.

use por_attest::fixtures::{example_snapshot, legacy_snapshot};
use por_attest::okx::{
    check_row, export_okx_csv, looks_like_okx, verify_okx_file, OkxOptions, OkxReader, Row,
};
use por_attest::report::{Outcome, Report};
use std::path::{Path, PathBuf};

/// The data folder: `$POR_OKX_DATA`, else the copies in `tests/data/okx`.
fn data_dir() -> PathBuf {
    let dir = std::env::var_os("POR_OKX_DATA").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/okx"),
        PathBuf::from,
    );
    assert!(
        dir.join("README.md").is_file(),
        "OKX data folder {} not found (set POR_OKX_DATA)",
        dir.display()
    );
    dir
}

/// Why a real row is not verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Why {
    /// The signatures are checked, but the address is not bound to the signing keys offline:
    /// changing a signature, key, owner or the message fails the row; changing the address
    /// leaves it unsupported (never verified).
    AddressNotBound,
    /// Nothing in the row can be checked by this build: every change leaves it unsupported.
    SchemeUnsupported,
}

struct Expect {
    file: &'static str,
    /// The summary block's lines whose totals the rows do not add up to. OKX's 11-column
    /// example files carry the summary block of the 7-column one (ETH 5.2834, BTC 449.5140,
    /// ...) above three ETH rows: a file failure per mismatched line.
    mismatched: &'static [&'static str],
    verified: u64,
    /// (line, report label, words of the reason, why)
    unsupported: &'static [(u64, &'static str, &'static str, Why)],
}

const CONTRACT: (u64, &str, &str, Why) = (
    18,
    "ETH",
    "contract wallet: owner signatures valid",
    Why::AddressNotBound,
);
const STARKNET: (u64, &str, &str, Why) = (
    3,
    "ETH/STARKNET",
    "Starknet: STARK-curve signatures",
    Why::SchemeUnsupported,
);

const STALE_SUMMARY: &[&str] = &[
    "ETH(ALL)",
    "USDT(ALL)",
    "USDT-TRC20",
    "ETH",
    "ETH-ARBITRUM",
    "ETH-OPTIMISM",
    "USDT-OPTIMISM",
    "BTC",
];

const EXPECTED: &[Expect] = &[
    Expect {
        file: "okx_por_example_2022-11_to_2024-10_7col_23d31cf.csv",
        mismatched: &[],
        verified: 33,
        unsupported: &[],
    },
    Expect {
        file: "okx_por_example_2024-11_11col_f4c901d.csv",
        mismatched: STALE_SUMMARY,
        verified: 2,
        unsupported: &[CONTRACT],
    },
    Expect {
        file: "okx_por_example_2025-01_11col_745c30c.csv",
        mismatched: STALE_SUMMARY,
        // Line 19 (USDT-TON) is the highload v3 wallet of its key.
        verified: 3,
        unsupported: &[CONTRACT],
    },
    Expect {
        file: "okx_por_example_HEAD_11col_2962a89.csv",
        mismatched: STALE_SUMMARY,
        verified: 3,
        unsupported: &[
            CONTRACT,
            // The placeholder address 0xdeadbeef…: OKX's owner-key mode. The signature and
            // the key's authentication key (= eoa1) are checked; the account's rotated key
            // is on-chain state.
            (
                20,
                "APTOS",
                "APTOS owner-key mode: signature valid for key",
                Why::AddressNotBound,
            ),
        ],
    },
    Expect {
        file: "okx_por_staking_example_HEAD_12col_2962a89.csv",
        mismatched: &[],
        verified: 1,
        unsupported: &[
            (
                6,
                "ETH",
                "Native ETH Staking address: owner signature valid",
                Why::AddressNotBound,
            ),
            (
                7,
                "ETH",
                "Eigenlayer Staking address: owner signatures valid",
                Why::AddressNotBound,
            ),
        ],
    },
    Expect {
        file: "okx_test_2025-09_9col_12575b6.csv",
        mismatched: &[],
        verified: 7,
        unsupported: &[STARKNET],
    },
    Expect {
        file: "okx_test_HEAD_9col_2962a89.csv",
        mismatched: &[],
        verified: 7,
        unsupported: &[
            STARKNET,
            // The K1 signature is checked against the row's public key; the account
            // name's permissions are on-chain state.
            (
                10,
                "EOS/Vaulta",
                "EOS / Vaulta: signature valid for key",
                Why::AddressNotBound,
            ),
        ],
    },
];

fn verify(path: &Path) -> Report {
    verify_okx_file(
        path,
        &OkxOptions {
            threads: 2,
            ..OkxOptions::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn rows_of(path: &Path) -> Vec<Row> {
    let f = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let mut r = OkxReader::new(&path.display().to_string(), f).unwrap();
    let mut out = Vec::new();
    while let Some(row) = r.next_row() {
        out.push(row.unwrap());
    }
    out
}

fn expected_for(file: &str) -> &'static Expect {
    EXPECTED
        .iter()
        .find(|e| e.file == file)
        .unwrap_or_else(|| panic!("{file} is in the data folder but not in EXPECTED"))
}

#[test]
fn every_real_file_is_listed_and_verifies_as_expected() {
    let dir = data_dir();
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("csv") {
            continue;
        }
        seen += 1;
        let name = path.file_name().unwrap().to_str().unwrap();
        let exp = expected_for(name);
        let head = std::fs::read(&path).unwrap();
        assert!(looks_like_okx(&head[..head.len().min(512)]), "{name}");
        let report = verify(&path);
        assert_eq!(report.format, "okx-csv");
        assert_eq!(report.failed, 0, "{name}:\n{}", report.to_human());
        assert_eq!(
            report.verified,
            exp.verified,
            "{name}:\n{}",
            report.to_human()
        );
        assert_eq!(
            report.unsupported,
            exp.unsupported.len() as u64,
            "{name}:\n{}",
            report.to_human()
        );
        assert_eq!(report.entries, report.verified + report.unsupported);
        for (p, (line, label, reason, _)) in report.problems.iter().zip(exp.unsupported) {
            assert_eq!(p.status, "unsupported", "{name} {p:?}");
            assert_eq!(p.line, Some(*line), "{name} {p:?}");
            assert_eq!(p.chain, *label, "{name} {p:?}");
            assert!(p.reason.contains(reason), "{name}: {}", p.reason);
            if reason.contains("signature") && !reason.contains("STARK") {
                assert!(p.reason.contains("not bound"), "{name}: {}", p.reason);
            }
        }
        // The summary block against the rows: a file failure per mismatched line.
        let mismatched: Vec<&str> = report
            .totals
            .iter()
            .filter(|t| t.status == "mismatch")
            .map(|t| t.coin.as_str())
            .collect();
        assert_eq!(mismatched, exp.mismatched, "{name}:\n{}", report.to_human());
        assert_eq!(report.file_failures.len(), exp.mismatched.len(), "{name}");
        for (f, coin) in report.file_failures.iter().zip(exp.mismatched) {
            assert!(
                f.reason.contains(&format!(" {coin} states a total of ")),
                "{f}"
            );
            assert_eq!(f.code.as_str(), "total_mismatch");
        }
        // Unsupported rows alone leave the verdict incomplete (exit 3, 0 when allowed); a
        // mismatched total fails the file (exit 1) either way.
        let allowed = verify_okx_file(
            &path,
            &OkxOptions {
                allow_unsupported: true,
                ..OkxOptions::default()
            },
        )
        .unwrap();
        let (verdict, code, allowed_code) =
            match (exp.mismatched.is_empty(), exp.unsupported.is_empty()) {
                (false, _) => ("failed", 1, 1),
                (true, false) => ("incomplete", 3, 0),
                (true, true) => ("verified", 0, 0),
            };
        assert_eq!(allowed.exit_code(), allowed_code, "{name}");
        assert_eq!(
            (report.result, report.exit_code()),
            (verdict, code),
            "{name}"
        );
    }
    assert_eq!(seen, EXPECTED.len(), "files in {}", dir.display());
}

#[test]
fn reports_per_coin_with_line_numbers_and_json() {
    let path = data_dir().join("okx_test_HEAD_9col_2962a89.csv");
    let report = verify(&path);
    assert_eq!(report.chains["DOGE"].verified, 1);
    assert_eq!(report.chains["USDT/ETH"].verified, 1);
    assert_eq!(report.chains["ETC/OKC"].verified, 1);
    assert_eq!(report.chains["EOS/Vaulta"].unsupported, 1);
    let human = report.to_human();
    assert!(
        human.contains("UNSUPPORTED line 10 EOS/Vaulta okbwallet1tr"),
        "{human}"
    );
    let j: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(j["format"], "okx-csv");
    assert_eq!(j["verified"], 7);
    assert_eq!(j["problems"][0]["line"], 3);
    assert_eq!(j["result"], "incomplete");
}

const B64: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const HEX: &str = "0123456789abcdef";
const B58: &str = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
const BECH32: &str = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

/// `s` with the character at `pos` replaced by another of its alphabet (another value).
fn mutate(s: &str, pos: usize) -> String {
    let c = s.as_bytes()[pos] as char;
    let alphabet = if s.starts_with("0x") || s.bytes().all(|b| b.is_ascii_hexdigit()) {
        HEX
    } else if s.starts_with("bc1") || s.starts_with("addr1") {
        BECH32
    } else if s.len() == 88 && s.ends_with('=') {
        B64
    } else if B58.contains(c) && s.bytes().all(|b| B58.contains(b as char)) {
        B58
    } else if c.is_ascii_alphabetic() {
        "abcdefghijklmnopqrstuvwxyz"
    } else {
        "0123456789"
    };
    let lower = c.to_ascii_lowercase();
    let repl = alphabet
        .chars()
        .find(|&x| x != c && !(alphabet == HEX && x == lower))
        .unwrap();
    let mut out = s.to_string();
    out.replace_range(pos..pos + 1, &repl.to_string());
    out
}

/// Positions of `s` whose change must be detected: everything but a `0x` prefix, a legacy
/// signature's first character (header bits not covered by the signature, by design) and
/// base64 padding.
fn positions(s: &str, legacy_sig: bool) -> std::ops::Range<usize> {
    let start = if s.starts_with("0x") {
        2
    } else {
        usize::from(legacy_sig)
    };
    start..s.trim_end_matches('=').len()
}

type Field = (&'static str, fn(&mut Row) -> &mut String);

const FIELDS: &[Field] = &[
    ("signature1", |r| &mut r.sig1),
    ("signature2", |r| &mut r.sig2),
    ("address", |r| &mut r.address),
    ("script/public key", |r| &mut r.script),
    ("eoa1", |r| &mut r.eoa1),
    ("eoa2", |r| &mut r.eoa2),
    ("message", |r| &mut r.message),
];

/// Every character of every signature, address, script, key, owner and message of every
/// real row, changed one at a time: the row fails, except where the list above says the
/// field is not bound (then it stays unsupported, never verified).
#[test]
fn one_character_changes_fail_the_row() {
    let dir = data_dir();
    let mut checked = 0usize;
    for exp in EXPECTED {
        for row in rows_of(&dir.join(exp.file)) {
            let why = exp
                .unsupported
                .iter()
                .find(|u| u.0 == row.line)
                .map(|u| u.3);
            let legacy = row.sig1.len() == 88 && !row.sig1.starts_with("0x");
            for (name, field) in FIELDS {
                let mut probe = row.clone();
                let value = field(&mut probe).clone();
                if value.is_empty() {
                    continue;
                }
                let is_sig = name.starts_with("signature");
                for pos in positions(&value, legacy && is_sig) {
                    let mut m = row.clone();
                    *field(&mut m) = mutate(&value, pos);
                    let got = check_row(&m);
                    let ctx =
                        || format!("{} line {} {name} pos {pos}: {got:?}", exp.file, row.line);
                    let must_fail = match why {
                        None => true,
                        Some(Why::AddressNotBound) => *name != "address",
                        Some(Why::SchemeUnsupported) => false,
                    };
                    if must_fail {
                        assert!(matches!(got, Outcome::Failed(_)), "{}", ctx());
                    } else {
                        assert!(matches!(got, Outcome::Unsupported(_)), "{}", ctx());
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 10_000, "{checked} changes checked");
}

/// One change in the file itself (a middle character of each signature / address / script
/// column of each row): exactly that row's outcome changes.
#[test]
fn a_change_in_the_file_fails_exactly_that_row() {
    let dir = data_dir();
    let tmp = tempfile::tempdir().unwrap();
    for exp in EXPECTED {
        let path = dir.join(exp.file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains('"'), "real files have no quoted fields");
        let base = verify(&path);
        let lines: Vec<&str> = text.split('\n').collect();
        for row in rows_of(&path) {
            let raw = lines[row.line as usize - 1];
            let fields: Vec<&str> = raw.split(',').collect();
            for (i, f) in fields.iter().enumerate() {
                let v = f.trim();
                let is_target = !v.is_empty()
                    && [&row.sig1, &row.sig2, &row.address, &row.script].contains(&&v.to_string());
                if !is_target {
                    continue;
                }
                let legacy = v.len() == 88 && !v.starts_with("0x");
                let r = positions(v, legacy);
                let pos = (r.start + r.end) / 2;
                let mut new_fields: Vec<String> = fields.iter().map(|s| s.to_string()).collect();
                new_fields[i] = f.replacen(v, &mutate(v, pos), 1);
                let mut new_lines: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
                new_lines[row.line as usize - 1] = new_fields.join(",");
                let out = tmp.path().join(exp.file);
                std::fs::write(&out, new_lines.join("\n")).unwrap();
                let rep = verify(&out);
                let why = exp
                    .unsupported
                    .iter()
                    .find(|u| u.0 == row.line)
                    .map(|u| u.3);
                let undetectable = why == Some(Why::SchemeUnsupported)
                    || (why == Some(Why::AddressNotBound) && v == row.address);
                if undetectable {
                    assert_eq!(rep.failed, 0, "{} line {}", exp.file, row.line);
                    assert_eq!(rep.verified, base.verified);
                    continue;
                }
                let ctx = format!(
                    "{} line {} field {i}:\n{}",
                    exp.file,
                    row.line,
                    rep.to_human()
                );
                assert_eq!(rep.failed, 1, "{ctx}");
                let new: Vec<Option<u64>> = rep
                    .problems
                    .iter()
                    .filter(|p| !base.problems.contains(p))
                    .map(|p| p.line)
                    .collect();
                assert_eq!(new, vec![Some(row.line)], "{ctx}");
                assert!(
                    base.problems
                        .iter()
                        .filter(|p| p.line != Some(row.line))
                        .all(|p| rep.problems.contains(p)),
                    "{ctx}"
                );
                assert_eq!(rep.entries, base.entries);
            }
        }
    }
}

#[test]
fn example_snapshot_exports_and_verifies_back() {
    // The legacy form of the example (legacy signed messages on every Bitcoin address but
    // P2TR): BIP-322 signatures have no OKX form, so the example's own P2TR entry is skipped.
    let snap = legacy_snapshot();
    let mut buf = Vec::new();
    let summary = export_okx_csv(&snap, &mut buf).unwrap();
    assert_eq!(summary.skipped.len(), 1, "{:?}", summary.skipped);
    let all = export_okx_csv(&example_snapshot(), &mut Vec::new()).unwrap();
    assert_eq!(
        all.skipped.len(),
        10,
        "every BIP-322 entry: {:?}",
        all.skipped
    );
    assert!(summary
        .skipped
        .iter()
        .all(|s| s.reason.contains("bip322") && s.chain == "BTC"));
    assert_eq!(summary.written + summary.skipped.len(), snap.entries.len());
    assert!(looks_like_okx(&buf));
    let text = String::from_utf8(buf).unwrap();
    assert!(
        text.contains("\n\ncoin,Network,Snapshot Height,address,amount,message,signature1"),
        "{text}"
    );
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("export.csv");
    std::fs::write(&path, &text).unwrap();
    let report = verify(&path);
    assert_eq!(
        report.verified as usize,
        summary.written,
        "{}",
        report.to_human()
    );
    assert_eq!(report.exit_code(), 0, "{}", report.to_human());
    for chain in ["BTC", "ETH", "ARB", "TRX"] {
        assert!(report.chains[chain].verified > 0, "{chain}");
    }
    // Multisig rows (P2SH, P2WSH, P2SH-P2WSH) went out with their scripts and two signatures.
    let multisig = snap.entries.iter().filter(|e| e.script.is_some()).count();
    assert_eq!(
        rows_of(&path)
            .iter()
            .filter(|r| !r.script.is_empty())
            .count(),
        multisig
    );
    // A changed signature in the exported file fails exactly that row.
    let rows = rows_of(&path);
    let target = &rows[rows.len() / 2];
    let tampered = text.replacen(&target.sig1, &mutate(&target.sig1, 10), 1);
    std::fs::write(&path, tampered).unwrap();
    let rep = verify(&path);
    assert_eq!(rep.failed, 1);
    assert_eq!(rep.problems[0].line, Some(target.line));
}

fn input_error(text: &[u8]) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("bad.csv");
    std::fs::write(&path, text).unwrap();
    let e = verify_okx_file(&path, &OkxOptions::default()).unwrap_err();
    assert!(e.file.ends_with("bad.csv"), "{e}");
    e.detail
}

#[test]
fn malformed_files_are_input_errors_naming_file_and_line() {
    assert!(input_error(b"").contains("empty file"));
    let d = input_error(b"coin,snapshot height,amount\nETH,1,2\n");
    assert!(d.contains("summary block"), "{d}");
    let d = input_error(b"coin,snapshot height,amount\nETH,1,2\n\nETH,0xab,1\n");
    assert!(d.starts_with("line 4: expected the address header"), "{d}");
    // A real file with one row cut short.
    let path = data_dir().join("okx_por_example_HEAD_11col_2962a89.csv");
    let text = std::fs::read_to_string(path).unwrap();
    let cut: String = text
        .lines()
        .map(|l| {
            if l.starts_with("ETH,ETH,20914735,0x0cdc") {
                "ETH,ETH,20914735,0x0cdc"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let d = input_error(cut.as_bytes());
    assert!(
        d.starts_with("line 16: 4 columns where the header has 11"),
        "{d}"
    );
    let d = input_error(b"coin,address,message,signature1\nETH,0xab,m,s,x,y\n");
    assert!(d.starts_with("line 2: 6 columns"), "{d}");
    let d = input_error(b"not,a,known,file\n1,2,3,4\n");
    assert!(d.starts_with("line 1: not an OKX address file"), "{d}");
    let d = input_error(b"coin,address,message,signature1\nETH,0x\xffab,m,s\n");
    assert_eq!(d, "line 2: not UTF-8 text");
    let e = verify_okx_file(Path::new("/nonexistent/okx.csv"), &OkxOptions::default()).unwrap_err();
    assert!(e.detail.starts_with("cannot open"), "{e}");
}

#[test]
fn duplicate_rows_fail_the_repeat() {
    let path = data_dir().join("okx_por_example_2024-11_11col_f4c901d.csv");
    let mut text = std::fs::read_to_string(path).unwrap();
    let first_row = text.lines().nth(15).unwrap().to_string();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&first_row);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("dup.csv");
    std::fs::write(&out, text).unwrap();
    let rep = verify(&out);
    assert_eq!(rep.failed, 1, "{}", rep.to_human());
    let p = rep.problems.iter().find(|p| p.status == "failed").unwrap();
    assert_eq!(p.line, Some(19));
    assert!(p.reason.contains("duplicate row: line 16"), "{}", p.reason);
}

#[test]
fn demo_snapshot_exports_and_verifies_back() {
    // The ceremony's own output (signed on simulated devices): the BIP-322 entries (P2WPKH,
    // P2SH-P2WPKH, the 2-of-3 P2WSH) have no OKX form and are skipped; the rest is exported.
    let tmp = tempfile::tempdir().unwrap();
    let demo = por_attest::demo::run_demo(tmp.path(), 18, false).unwrap();
    assert_eq!(demo.report.exit_code(), 0);
    let snap = por_attest::snapshot::Snapshot::read(&demo.snapshot).unwrap();
    let path = tmp.path().join("demo-okx.csv");
    let summary = export_okx_csv(&snap, std::fs::File::create(&path).unwrap()).unwrap();
    assert_eq!(summary.skipped.len(), 9, "{:?}", summary.skipped);
    assert!(summary.skipped.iter().all(|s| s.reason.contains("bip322")));
    assert_eq!(summary.written, 9);
    let r = verify(&path);
    assert_eq!(r.exit_code(), 0, "{}", r.to_human());
    assert_eq!(r.verified, 9);
}

/// OKX's 7-column example with one row's amount changed: the rows no longer add up to the
/// summary (a file failure naming the coin, the stated and the summed amount); a negative
/// amount, or one finer than the coin's smallest unit, fails its row.
#[test]
fn amounts_that_do_not_add_up_or_are_malformed_fail() {
    let src = data_dir().join("okx_por_example_2022-11_to_2024-10_7col_23d31cf.csv");
    let text = std::fs::read_to_string(&src).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, t: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, t).unwrap();
        verify(&p)
    };
    // BTC row 3QVtn5… states 17263933 sat; one more BTC makes the BTC line 450.5140.
    let more = text.replacen(",17263933,", ",117263933,", 1);
    let r = write("more.csv", &more);
    assert_eq!(r.result, "failed");
    assert_eq!(r.failed, 0, "the rows themselves still verify");
    assert_eq!(r.file_failures.len(), 1, "{:?}", r.file_failures);
    assert_eq!(r.file_failures[0].line, Some(13));
    assert_eq!(
        r.file_failures[0].reason,
        "summary line 13: BTC states a total of 449.5140, but BTC adds up to 450.51400581 \
         (9 rows); the two differ by 1.00000581, more than the 0.0001 the printed figures' \
         rounding allows"
    );
    assert_eq!(r.balances["BTC"].stated.to_string(), "450.51400581");
    // Negative, and finer than a satoshi (the 7-column generation states smallest units).
    let bad =
        text.replacen(",17263933,", ",-17263933,", 1)
            .replacen(",8021581241,", ",8021581241.5,", 1);
    let r = write("bad.csv", &bad);
    let fails: Vec<(Option<u64>, &str)> = r
        .problems
        .iter()
        .map(|p| (p.line, p.reason.as_str()))
        .collect();
    assert_eq!(
        fails,
        [
            (Some(19), "amount: balance `-17263933` is negative"),
            (
                Some(39),
                "amount: balance `8021581241.5` has 1 decimals, but BTC (in its smallest unit) has 0"
            ),
        ],
        "{}",
        r.to_human()
    );
    assert_eq!(r.exit_code(), 1);
    // Whole-coin layouts: more decimals than the coin has fails the row.
    let src = data_dir().join("okx_por_example_2024-11_11col_f4c901d.csv");
    let text = std::fs::read_to_string(src).unwrap();
    let fine = text.replacen(",0.058959708849230328,", ",0.0589597088492303281,", 1);
    let r = write("fine.csv", &fine);
    assert!(
        r.problems.iter().any(|p| p.status == "failed"
            && p.reason
                == "amount: balance `0.0589597088492303281` has 19 decimals, but ETH has 18"),
        "{}",
        r.to_human()
    );
}
