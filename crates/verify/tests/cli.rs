//! The auditor's `por-attest-verify` binary: exit status and report on a good, a tampered and
//! an unreadable file.

use std::path::{Path, PathBuf};
use std::process::Command;

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/snapshot.json")
}

fn run(args: &[&std::ffi::OsStr]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_por-attest-verify"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn verifies_the_example_snapshot() {
    let (code, stdout, _) = run(&[example().as_os_str(), "--json".as_ref()]);
    assert_eq!(code, 0, "{stdout}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["result"], "verified", "{report}");
    assert_eq!(report["verified"], report["entries"], "{report}");
}

#[test]
fn a_tampered_entry_fails_with_exit_1_and_bad_input_is_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(example()).unwrap();
    let tampered = text.replacen("proof of reserves", "proof of reservez", 1);
    assert_ne!(text, tampered);
    let file = dir.path().join("tampered.json");
    std::fs::write(&file, tampered).unwrap();
    let (code, stdout, _) = run(&[file.as_os_str()]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("FAILED"), "{stdout}");

    let garbage = dir.path().join("garbage.json");
    std::fs::write(&garbage, "{ not json").unwrap();
    let (code, _, stderr) = run(&[garbage.as_os_str()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("garbage.json"), "{stderr}");
    let (code, _, stderr) = run(&["--format".as_ref(), "xml".as_ref()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("unknown format `xml`"), "{stderr}");
}

#[test]
fn reads_htx_files_and_names_the_formats_it_knows() {
    let htx = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data/htx/huobi_por_20240301_c7b3511.csv");
    // Unsigned rows, nothing failed: INCOMPLETE, exit 3 (0 when allowed).
    let (code, stdout, stderr) = run(&[htx.as_os_str(), "--json".as_ref()]);
    assert_eq!(code, 3, "{stdout}{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["format"], "htx-csv");
    assert_eq!(report["unsigned"], 4, "{report}");
    assert_eq!(report["result"], "incomplete", "{report}");
    let (code, stdout, _) = run(&[htx.as_os_str(), "--allow-unsupported".as_ref()]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.ends_with(": INCOMPLETE\n"), "{stdout}");
    let (code, _, stderr) = run(&["--format".as_ref(), "xml".as_ref()]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("auto, snapshot, okx-csv or htx-csv"),
        "{stderr}"
    );
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other.csv");
    std::fs::write(&other, "a,b\n1,2\n").unwrap();
    let (code, _, stderr) = run(&[other.as_os_str()]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("`htx-csv`") && stderr.contains("`okx-csv`"),
        "{stderr}"
    );
}

#[test]
fn writes_the_html_page_beside_the_usual_output() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    let (code, stdout, _) = run(&[
        example().as_os_str(),
        "--json".as_ref(),
        "--html".as_ref(),
        page.as_os_str(),
    ]);
    assert_eq!(code, 0, "{stdout}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["result"], "verified");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("<span class=\"badge\">VERIFIED</span>"));
    assert!(html.contains("Example Exchange"));
    assert!(
        html.contains("<pre class=\"cmd\">por-attest-verify "),
        "the command"
    );
    assert!(
        !html.contains("report.html"),
        "the command leaves --html out"
    );
    assert!(!dir.path().join("report.html.tmp").exists());

    // A tampered file: the page says FAILED, with the failures' codes; the exit status is 1.
    let text = std::fs::read_to_string(example()).unwrap();
    let file = dir.path().join("tampered.json");
    std::fs::write(
        &file,
        text.replacen("proof of reserves", "proof of reservez", 1),
    )
    .unwrap();
    let (code, stdout, _) = run(&[file.as_os_str(), "--html".as_ref(), page.as_os_str()]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.ends_with("FAILED\n"), "the text report as before");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("<span class=\"badge\">FAILED</span>"));
    assert!(html.contains("<code>message_mismatch</code>"));
    assert!(html.contains("<code>digest_mismatch</code>"));

    // A page that cannot be written fails at once (exit 2, naming it), before verifying.
    let nowhere = dir.path().join("no-such-dir").join("r.html");
    let (code, stdout, stderr) = run(&[
        example().as_os_str(),
        "--html".as_ref(),
        nowhere.as_os_str(),
    ]);
    assert_eq!(code, 2);
    assert!(stdout.is_empty(), "nothing verified: {stdout}");
    assert!(
        stderr.contains("no-such-dir") && stderr.contains("cannot write the HTML report"),
        "{stderr}"
    );
}
