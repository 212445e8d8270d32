//! `por-attest verify FILE --html OUT.html` rendered in a real headless Chromium (Debian's
//! `chromium`, installed by `scripts/setup`): for a failing OKX file, a failing HTX file and a
//! failing snapshot, the rendered DOM holds the verdict, the totals and every failure's code
//! and place; a screenshot on a wide and on a narrow window is a real page, not a blank one;
//! and the file names no external resource. Skipped, saying why, without Chromium.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use por_attest::html::{group_digits, grouped};
use serde_json::Value;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// The Chromium binary, or why there is none.
fn chromium() -> Result<PathBuf, String> {
    let name = std::env::var("POR_ATTEST_CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(&name))
            .find(|p| p.is_file())
    });
    found.ok_or_else(|| {
        format!("`{name}` is not installed (scripts/setup installs Debian's chromium)")
    })
}

/// Runs headless Chromium on `page` with `extra` flags (a fresh profile, nothing fetched in
/// the background); its stdout. Stopped (by its PID) after 90 s.
fn run_chromium(bin: &Path, profile: &Path, extra: &[String], page: &Path) -> String {
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    let err = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish in 90 s on {}", page.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    assert!(status.success(), "chromium failed ({status}): {err}");
    out
}

/// `por-attest verify FILE --json --html OUT`: exit status, the JSON report, the page's text.
fn verify_html(file: &Path, out: &Path) -> (i32, Value, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_por-attest"))
        .arg("verify")
        .arg(file)
        .arg("--json")
        .arg("--html")
        .arg(out)
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&o.stderr));
    });
    let html = std::fs::read_to_string(out).expect("the page was written");
    (o.status.code().unwrap(), json, html)
}

/// No resource outside the file: no script, no link, no frame, no `src`, no remote `href`,
/// no CSS `url(` or `@import`.
fn assert_self_contained(html: &str) {
    let lower = html.to_ascii_lowercase();
    for bad in [
        "<script",
        "<link",
        "<iframe",
        "<img",
        "<object",
        "<embed",
        " src=",
        "url(",
        "@import",
        "xlink:href",
    ] {
        assert!(!lower.contains(bad), "the page has `{bad}`");
    }
    for (i, _) in lower.match_indices("href=\"") {
        let target = &lower[i + 6..];
        assert!(
            target.starts_with('#'),
            "a link out of the page: {}",
            &target[..40.min(target.len())]
        );
    }
    assert!(
        lower.contains("content-security-policy"),
        "the page forbids fetching"
    );
}

/// Where a failure is, as the page shows it.
fn places(json: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for f in json["file_failures"].as_array().unwrap() {
        let place = match (f["line"].as_u64(), f["chain"].as_str()) {
            (Some(l), _) => format!("summary line {l}"),
            (None, Some(c)) => format!("anchor {c}"),
            _ => "file".into(),
        };
        out.push((f["code"].as_str().unwrap().to_string(), place));
    }
    for p in json["problems"].as_array().unwrap() {
        let place = match (p["line"].as_u64(), p["entry"].as_u64()) {
            (Some(l), Some(e)) => format!("line {l} (row {e})"),
            (None, Some(e)) => format!("entry {e}"),
            _ => panic!("a problem with no entry: {p}"),
        };
        out.push((p["code"].as_str().unwrap().to_string(), place));
    }
    out
}

/// Counts the colours of a PNG and its pixels that are not white.
fn png_stats(path: &Path) -> (usize, usize, usize) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let pixels = &buf[..info.buffer_size()];
    let mut colours = std::collections::HashSet::new();
    let mut not_white = 0;
    for px in pixels.chunks(channels) {
        colours.insert(px[..3.min(channels)].to_vec());
        if px[..3.min(channels)].iter().any(|&c| c < 240) {
            not_white += 1;
        }
    }
    (colours.len(), not_white, pixels.len() / channels)
}

/// Renders `page` in Chromium: its DOM, and screenshots on a wide and a narrow window
/// (kept in `shots` as NAME-wide.png / NAME-narrow.png) checked not to be blank.
fn render(bin: &Path, dir: &Path, page: &Path, name: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let dom = run_chromium(bin, profile.path(), &["--dump-dom".into()], page);
    for (kind, size) in [("wide", "1280,1800"), ("narrow", "390,1800")] {
        let shot = dir.join(format!("{name}-{kind}.png"));
        let profile = tempfile::tempdir().unwrap();
        run_chromium(
            bin,
            profile.path(),
            &[
                format!("--screenshot={}", shot.display()),
                format!("--window-size={size}"),
            ],
            page,
        );
        let (colours, not_white, all) = png_stats(&shot);
        assert!(
            colours >= 40,
            "{name} {kind}: {colours} colours: a blank page?"
        );
        assert!(
            not_white * 20 > all,
            "{name} {kind}: {not_white} of {all} pixels are not white: a blank page?"
        );
    }
    dom
}

/// `text` with one hex digit of its first `0x` signature (130 hex digits) changed.
fn tamper_signature(text: &str) -> String {
    let at = text
        .match_indices("0x")
        .map(|(i, _)| i)
        .find(|&i| {
            text[i + 2..]
                .bytes()
                .take_while(u8::is_ascii_hexdigit)
                .count()
                == 130
        })
        .expect("a signature");
    let i = at + 40;
    let c = if &text[i..=i] == "a" { "b" } else { "a" };
    format!("{}{c}{}", &text[..i], &text[i + 1..])
}

/// The DOM holds the verdict, and each failure's code and place.
fn assert_failures_shown(name: &str, dom: &str, json: &Value) {
    assert_eq!(json["result"], "failed", "{name}");
    assert!(dom.contains(">FAILED<"), "{name}: no verdict");
    let failures = places(json);
    assert!(
        failures.len() >= 2,
        "{name}: the test needs failures: {json}"
    );
    for (code, place) in failures {
        if code == "unsigned" || code == "unsupported" {
            continue;
        }
        assert!(
            dom.contains(&format!("<code>{code}</code>")),
            "{name}: {code} missing"
        );
        let cell = format!("<td class=\"place\">{place}</td>");
        assert!(dom.contains(&cell), "{name}: {cell} missing");
    }
}

#[test]
fn pages_render_in_chromium() {
    let bin = match chromium() {
        Ok(b) => b,
        Err(why) => {
            eprintln!("skipping: {why}");
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let shots = std::env::var_os("POR_ATTEST_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.path().to_path_buf());
    std::fs::create_dir_all(&shots).unwrap();
    // Writes `text` as `file_name`, verifies it with --html, renders the page: the JSON report
    // and the rendered DOM, the common checks done.
    let page = |name: &str, file_name: &str, text: String| {
        let file = dir.path().join(file_name);
        std::fs::write(&file, text).unwrap();
        let page = dir.path().join(format!("{name}.html"));
        let (code, json, html) = verify_html(&file, &page);
        assert_eq!(code, 1, "{json}");
        assert_self_contained(&html);
        let dom = render(&bin, &shots, &page, name);
        assert_failures_shown(name, &dom, &json);
        (json, dom)
    };
    let totals_shown = |name: &str, json: &Value, dom: &str| {
        for t in json["totals"].as_array().unwrap() {
            if let Some(s) = t["stated"].as_str() {
                assert!(dom.contains(&group_digits(s)), "{name}: stated total {s}");
            }
            let summed = group_digits(t["summed"].as_str().unwrap());
            assert!(dom.contains(&summed), "{name}: summed {summed}");
        }
        assert!(
            dom.contains(json["file_sha256"].as_str().unwrap()),
            "{name}: the file's hash"
        );
    };

    // OKX: one row's signature changed, one summary total changed.
    let okx = std::fs::read_to_string(repo(
        "tests/data/okx/okx_por_example_HEAD_11col_2962a89.csv",
    ))
    .unwrap();
    let okx = tamper_signature(&okx).replacen("ETH,16005122, 5.2834", "ETH,16005122, 7.2834", 1);
    let (json, dom) = page("okx", "okx.csv", okx);
    assert_eq!(json["file_failures"][0]["code"], "total_mismatch", "{json}");
    totals_shown("okx", &json, &dom);
    for b in json["balances"].as_object().unwrap().values() {
        assert!(dom.contains(&group_digits(b["stated"].as_str().unwrap())));
        assert!(dom.contains(&group_digits(b["on_verified"].as_str().unwrap())));
    }

    // HTX: the same two kinds of failure.
    let htx =
        std::fs::read_to_string(repo("tests/data/htx/huobi_por_20230701_207dbd8.csv")).unwrap();
    let htx =
        tamper_signature(&htx).replacen("BTC-TRC20,52506482,7507", "BTC-TRC20,52506482,7517", 1);
    let (json, dom) = page("htx", "htx.csv", htx);
    assert_eq!(json["file_failures"][0]["code"], "total_mismatch", "{json}");
    totals_shown("htx", &json, &dom);

    // Our snapshot: an EVM signature changed (the entry fails, and so does the digest).
    let snap = std::fs::read_to_string(repo("examples/snapshot.json")).unwrap();
    let (json, dom) = page("snapshot", "snapshot.json", tamper_signature(&snap));
    assert!(dom.contains("<code>digest_mismatch</code>"));
    assert!(dom.contains("Example Exchange"), "the entity");
    for (chain, a) in json["chains"].as_object().unwrap() {
        let row = format!(
            "<td>{chain}</td><td class=\"n\">{}</td>",
            grouped(a["entries"].as_u64().unwrap())
        );
        assert!(dom.contains(&row), "snapshot: {row} missing");
    }
    let total = format!(
        "<tr class=\"total\"><td>total</td><td class=\"n\">{}</td>",
        grouped(json["entries"].as_u64().unwrap())
    );
    assert!(dom.contains(&total), "snapshot: the total row");
    assert!(dom.contains("block hash"), "snapshot: the anchors");
    assert!(
        dom.contains("por-attest verify"),
        "the command that reproduces it"
    );
}
