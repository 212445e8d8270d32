//! The page of a reserves report ([`Report`]): the verdict and why, the input, the addresses
//! per chain, the reserves per chain and asset, an exchange file's stated totals, the failures
//! grouped by code, what is neither verified nor failed, and legacy proofs.
//!
//! Everything shown is read from the report; the only arithmetic is presentation (shares of a
//! total for the charts and their percentages).

use super::charts::{bar_chart, percent, Bar, Segment};
use super::{group_digits, grouped, Esc, Html, Page, PageMeta, Section, Verdict};
use crate::balance::plain;
use crate::report::{
    verdict, FailureCode, Problem, Report, NOT_CHECKED_ON_CHAIN, UNSIGNED, UNSUPPORTED,
};
use bigdecimal::{BigDecimal, ToPrimitive};
use std::collections::BTreeMap;
use std::fmt::Write;

/// How many failures (or other problems) the page lists under one code.
pub const LISTED_PER_CODE: usize = 200;
/// How many it lists in all, over every code (the rest are counted; `--json` has them all).
pub const LISTED_IN_ALL: usize = 2000;

/// The page of `report`, made by `meta`.
pub fn render_report(report: &Report, meta: &PageMeta) -> String {
    report_page(report, meta).render()
}

/// The page of `report` with its sections, to render or to add sections to.
pub fn report_page<'a>(report: &'a Report, meta: &PageMeta) -> Page<'a> {
    let groups = Groups::of(report);
    let mut page = Page::new(title(report), verdict_of(report, &groups), meta.clone());
    page.push(InputSection(report));
    page.push(ChainsSection(report));
    if !report.balances.is_empty() || report.totals.iter().any(|t| t.against == "rows") {
        page.push(ReservesSection(report));
    }
    if !report.totals.is_empty() {
        page.push(TotalsSection(report));
    }
    page.push(ProblemsSection {
        id: "failures",
        title: "Failures by code",
        empty: "Nothing failed.",
        groups: groups.failed,
    });
    if !groups.other.is_empty() {
        page.push(ProblemsSection {
            id: "not-verified",
            title: "Not verified, not failed",
            empty: "",
            groups: groups.other,
        });
    }
    if report.legacy > 0 {
        page.push(LegacySection(report));
    }
    page
}

fn title(r: &Report) -> String {
    match (&r.entity, &r.snapshot_id) {
        (Some(e), Some(s)) => format!("Proof of reserves: {e}, snapshot {s}"),
        _ => format!("Proof of reserves: {}", file_name(&r.file)),
    }
}

fn file_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{} {}", grouped(n), if n == 1 { one } else { many })
}

/// The verdict and why, in words, from the report's counts and failures.
fn verdict_of(r: &Report, groups: &Groups) -> Verdict {
    let mut why = Vec::new();
    why.push(format!(
        "{} of {} verified.",
        grouped(r.verified),
        plural(r.addresses, "address", "addresses")
    ));
    if r.addresses == 0 {
        why.push("The file lists no address: it proves nothing.".into());
    }
    if r.failed > 0 {
        let codes: Vec<String> = groups
            .failed
            .iter()
            .filter(|g| !g.file)
            .map(|g| format!("{} {}", grouped(g.count), g.code))
            .collect();
        why.push(format!(
            "{} failed ({}).",
            plural(r.failed, "address", "addresses"),
            codes.join(", ")
        ));
    }
    if r.accounts_failed > 0 {
        why.push(format!(
            "{} failed as a whole (every address they list counts as failed).",
            plural(r.accounts_failed, "account entry", "account entries")
        ));
    }
    // The file's own failures, one line per code: how many, and the first one's reason.
    for g in groups.failed.iter().filter(|g| g.file) {
        let first = g.listed.first().map_or("", |row| row[3].as_str());
        why.push(if g.count == 1 {
            format!("The file failed ({}): {first}", g.code)
        } else {
            format!(
                "The file failed {} times ({}); the first: {first}",
                grouped(g.count),
                g.code
            )
        });
    }
    if r.unsupported > 0 {
        why.push(format!(
            "{} this build cannot check (unsupported): not verified.",
            plural(r.unsupported, "address", "addresses")
        ));
    }
    if r.unsigned > 0 {
        why.push(format!(
            "{} published without a signature, so not proven.",
            plural(r.unsigned, "row is", "rows are")
        ));
    }
    if r.not_checked > 0 {
        why.push(format!(
            "{} could not be checked against the node at the anchor.",
            plural(r.not_checked, "address", "addresses")
        ));
    }
    if let Some(d) = &r.digest {
        if d.ok {
            why.push("The snapshot's digest matches its content.".into());
        }
    }
    if !r.anchors.is_empty() {
        let count = |status: &str| r.anchors.iter().filter(|a| a.status == status).count();
        let mut line = format!(
            "{} checked against the auditor's node: {} matched",
            plural(r.anchors.len() as u64, "anchor", "anchors"),
            count("ok")
        );
        if count("not stated") > 0 {
            let _ = write!(
                line,
                ", {} found at heights the file states without a block hash",
                count("not stated")
            );
        }
        line.push('.');
        why.push(line);
    }
    if r.result == verdict::INCOMPLETE && r.allow_incomplete {
        why.push("Accepted as incomplete with --allow-unsupported.".into());
    }
    why.push(format!("Exit status {}.", r.exit_code()));
    let headline = match r.result {
        verdict::VERIFIED => {
            "Every address in the file is proven controlled, and nothing failed.".to_string()
        }
        verdict::INCOMPLETE => {
            "Nothing failed, but not every address is proven: what is unproven proves nothing."
                .to_string()
        }
        _ => "Something failed: the file does not prove what it claims as it stands.".to_string(),
    };
    Verdict {
        result: r.result,
        headline,
        why,
    }
}

/// The failures (or the other problems) with one code.
struct Group<'a> {
    code: &'a str,
    /// A failure of the file as a whole rather than of entries.
    file: bool,
    count: u64,
    /// (place, chain, address, reason), up to the caps.
    listed: Vec<[String; 4]>,
}

/// The report's problems and file failures grouped by code, listed up to the caps.
struct Groups<'a> {
    failed: Vec<Group<'a>>,
    other: Vec<Group<'a>>,
}

impl<'a> Groups<'a> {
    fn of(r: &'a Report) -> Groups<'a> {
        let mut failed: BTreeMap<(bool, &str), Group> = BTreeMap::new();
        let mut other: BTreeMap<(bool, &str), Group> = BTreeMap::new();
        let mut listed = 0usize;
        let mut add = |map: &mut BTreeMap<(bool, &'a str), Group<'a>>,
                       file: bool,
                       code: &'a str,
                       row: &dyn Fn() -> [String; 4]| {
            let g = map.entry((!file, code)).or_insert_with(|| Group {
                code,
                file,
                count: 0,
                listed: Vec::new(),
            });
            g.count += 1;
            if g.listed.len() < LISTED_PER_CODE && listed < LISTED_IN_ALL {
                g.listed.push(row());
                listed += 1;
            }
        };
        for f in &r.file_failures {
            let place = match (&f.line, &f.chain) {
                (Some(l), _) => format!("summary line {l}"),
                (None, Some(c)) => format!("anchor {c}"),
                (None, None) => "file".into(),
            };
            let chain = f.chain.clone().unwrap_or_default();
            add(&mut failed, true, f.code.as_str(), &|| {
                [
                    place.clone(),
                    chain.clone(),
                    String::new(),
                    f.reason.clone(),
                ]
            });
        }
        for p in &r.problems {
            let map = if p.status == "failed" {
                &mut failed
            } else {
                &mut other
            };
            add(map, false, p.code, &|| problem_row(p));
        }
        Groups {
            failed: failed.into_values().collect(),
            other: other.into_values().collect(),
        }
    }
}

fn problem_row(p: &Problem) -> [String; 4] {
    let mut place = p.place();
    if let (Some(_), Some(e)) = (p.line, p.entry) {
        let _ = write!(place, " (row {e})");
    }
    [place, p.chain.clone(), p.address.clone(), p.reason.clone()]
}

/// What a code means, in words.
fn meaning(code: &str) -> String {
    let text = match FailureCode::from_code(code) {
        Some(c) => c.meaning(),
        None => match code {
            UNSUPPORTED => {
                "The coin or scheme is one this build cannot check; never counted as verified."
            }
            UNSIGNED => "The file publishes the row without a signature; it proves nothing.",
            NOT_CHECKED_ON_CHAIN => {
                "A node was asked about the address but could not answer for it at the anchor."
            }
            _ => "",
        },
    };
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A term and its value in the input's description list.
fn item(out: &mut Html, term: &str, value: &str, class: &str) {
    let _ = write!(
        out,
        "<dt>{}</dt><dd class=\"{class}\">{}</dd>",
        Esc(term),
        Esc(value)
    );
}

struct InputSection<'a>(&'a Report);

impl Section for InputSection<'_> {
    fn id(&self) -> &str {
        "input"
    }
    fn title(&self) -> &str {
        "The input"
    }
    fn render(&self, out: &mut Html) {
        let r = self.0;
        out.raw("<dl class=\"facts\">");
        item(out, "File", &r.file, "mono");
        let format = match r.format.as_str() {
            crate::snapshot::FORMAT_TAG => "por-attest snapshot (JSON)",
            crate::okx::FORMAT => "OKX proof-of-reserves address file (CSV)",
            crate::htx::FORMAT => "HTX proof-of-reserves address file (CSV)",
            other => other,
        };
        item(out, "Format", format, "");
        if let Some(d) = &r.digest {
            item(out, "Digest (stated)", &d.stated, "mono");
            if d.ok {
                item(
                    out,
                    "Digest check",
                    "matches the file's canonical content",
                    "ok",
                );
            } else {
                item(
                    out,
                    "Digest check",
                    &format!("MISMATCH: the content hashes to {}", d.computed),
                    "bad",
                );
            }
        }
        if let Some(h) = &r.file_sha256 {
            item(out, "SHA-256 of the file", h, "mono");
        }
        if let Some(e) = &r.entity {
            item(out, "Entity", e, "");
        }
        if let Some(s) = &r.snapshot_id {
            item(out, "Snapshot", s, "");
        }
        let mut counts = plural(r.entries, "entry", "entries");
        if r.accounts > 0 {
            let _ = write!(
                counts,
                ", {} listing {}",
                plural(r.accounts, "account", "accounts"),
                plural(
                    r.addresses - r.entries.min(r.addresses),
                    "address",
                    "addresses"
                )
            );
        }
        item(out, "Entries", &counts, "");
        item(
            out,
            "Checked against a node",
            if r.anchors.is_empty() {
                "no (offline: signatures and the file's own figures only)"
            } else {
                "yes (--node): anchors and balances at the anchor"
            },
            "",
        );
        item(
            out,
            "Signer kinds",
            "not stated by the file (the kind of each device, Ledger, HSM or file-based, is in \
             the ceremony's manifest, which is not published)",
            "",
        );
        out.raw("</dl>");
        self.anchors(out);
    }
}

impl InputSection<'_> {
    /// The anchors: the snapshot's per chain, or the heights an exchange file's summary states;
    /// with the node's answer where one was asked.
    fn anchors(&self, out: &mut Html) {
        let r = self.0;
        let node = |chain: &str, height: u64| {
            r.anchors
                .iter()
                .find(|a| a.chain.eq_ignore_ascii_case(chain) && a.height == height)
        };
        let mut rows: Vec<(String, u64, String)> = r
            .stated_anchors
            .iter()
            .map(|(c, a)| (c.clone(), a.height, a.block_hash.clone()))
            .collect();
        if rows.is_empty() {
            for t in &r.totals {
                if let Some(h) = t.height {
                    rows.push((t.coin.clone(), h, "(not stated)".into()));
                }
            }
            for a in &r.anchors {
                if !rows.iter().any(|(c, h, _)| *h == a.height && c == &a.chain) {
                    rows.push((a.chain.clone(), a.height, "(not stated)".into()));
                }
            }
        }
        if rows.is_empty() {
            out.raw("<p>The file states no anchor block.</p>");
            return;
        }
        out.raw("<h3>Anchors (the block each chain's snapshot was taken at)</h3>");
        let with_node = !r.anchors.is_empty();
        let mut heads = vec![("chain", false), ("height", true), ("block hash", false)];
        if with_node {
            heads.push(("the node's block", false));
            heads.push(("check", false));
        }
        out.table_start("anchors", &heads);
        for (chain, height, hash) in rows {
            let h = grouped(height);
            let mut cells = vec![
                ("", chain.as_str()),
                ("n", h.as_str()),
                ("mono", hash.as_str()),
            ];
            let checked = node(&chain, height);
            let status;
            if with_node {
                match checked {
                    Some(a) => {
                        status = a.status.to_ascii_uppercase();
                        cells.push(("mono", a.node.as_str()));
                        cells.push((
                            if a.status == "mismatch" { "bad" } else { "ok" },
                            status.as_str(),
                        ));
                    }
                    None => {
                        cells.push(("", "-"));
                        cells.push(("", "not asked"));
                    }
                }
            }
            out.row(&cells);
        }
        out.table_end();
    }
}

/// The status columns of the per-chain counts that apply to `r`: (heading, CSS class, count
/// in `c`). Unsigned rows exist only in exchange files, and "not checked on chain" only with a
/// node: their columns are left out otherwise (when they are all zero).
fn statuses(r: &Report, c: &crate::report::ChainSummary) -> Vec<(&'static str, &'static str, u64)> {
    let mut out = vec![
        ("verified", "verified", c.verified),
        ("failed", "failed", c.failed),
        ("unsupported", "unsupported", c.unsupported),
    ];
    if r.unsigned > 0 || r.format != crate::snapshot::FORMAT_TAG {
        out.push(("unsigned", "unsigned", c.unsigned));
    }
    if r.not_checked > 0 || !r.anchors.is_empty() {
        out.push(("not checked on chain", "notchecked", c.not_checked));
    }
    out
}

struct ChainsSection<'a>(&'a Report);

impl Section for ChainsSection<'_> {
    fn id(&self) -> &str {
        "chains"
    }
    fn title(&self) -> &str {
        "Addresses per chain"
    }
    fn render(&self, out: &mut Html) {
        let r = self.0;
        let bars: Vec<Bar> = r
            .chains
            .iter()
            .map(|(name, c)| Bar {
                label: name.clone(),
                note: format!(
                    "{}: {} verified, {} failed",
                    plural(c.addresses, "address", "addresses"),
                    grouped(c.verified),
                    grouped(c.failed)
                ),
                segments: statuses(r, c)
                    .iter()
                    .map(|(label, class, n)| Segment {
                        class: class.to_string(),
                        value: *n as f64,
                        title: format!("{} {label}", grouped(*n)),
                    })
                    .collect(),
            })
            .collect();
        let legend: Vec<(&str, &str)> = statuses(r, &Default::default())
            .iter()
            .map(|(label, class, _)| (*class, *label))
            .collect();
        bar_chart(out, "Each chain's addresses by status", &bars, &legend);
        let mut heads = vec![("chain", false), ("entries", true)];
        if r.accounts > 0 {
            heads.push(("accounts", true));
            heads.push(("addresses", true));
        }
        for (label, _, _) in statuses(r, &Default::default()) {
            heads.push((label, true));
        }
        out.table_start("counts", &heads);
        let total = crate::report::ChainSummary {
            entries: r.entries,
            accounts: r.accounts,
            addresses: r.addresses,
            verified: r.verified,
            failed: r.failed,
            unsupported: r.unsupported,
            unsigned: r.unsigned,
            not_checked: r.not_checked,
        };
        for (name, c) in r.chains.iter().chain([(&"total".to_string(), &total)]) {
            let mut cells: Vec<(&str, String)> =
                vec![("", name.clone()), ("n", grouped(c.entries))];
            if r.accounts > 0 {
                cells.push(("n", grouped(c.accounts)));
                cells.push(("n", grouped(c.addresses)));
            }
            for (_, class, n) in statuses(r, c) {
                let class = match (class, n) {
                    (_, 0) => "n",
                    ("verified", _) => "n ok",
                    ("failed", _) => "n bad",
                    _ => "n warn",
                };
                cells.push((class, grouped(n)));
            }
            let cells: Vec<(&str, &str)> = cells.iter().map(|(c, t)| (*c, t.as_str())).collect();
            let is_total = std::ptr::eq(c, &total);
            out.row_of_class(if is_total { "total" } else { "" }, &cells);
        }
        out.table_end();
    }
}

fn f64_of(d: &BigDecimal) -> f64 {
    d.to_f64().unwrap_or(0.0)
}

fn f64_of_text(s: &str) -> f64 {
    s.parse::<f64>().unwrap_or(0.0)
}

struct ReservesSection<'a>(&'a Report);

impl Section for ReservesSection<'_> {
    fn id(&self) -> &str {
        "reserves"
    }
    fn title(&self) -> &str {
        "Reserves per chain and asset"
    }
    fn render(&self, out: &mut Html) {
        let r = self.0;
        out.raw(
            "<p class=\"note\">Stated balances added up exactly (no rounding). Different assets \
             are never added together: the file gives no prices. A balance counts as proven only \
             on an address whose proof verified.</p>",
        );
        if r.balances.is_empty() {
            self.totals_chart(out);
            return;
        }
        // One bar per asset: each chain's share of it, the part on verified addresses solid.
        let mut assets: BTreeMap<&str, Vec<&crate::balance::BalanceTotal>> = BTreeMap::new();
        for t in r.balances.values() {
            assets.entry(t.asset.as_str()).or_default().push(t);
        }
        let bars: Vec<Bar> = assets
            .iter()
            .map(|(asset, totals)| {
                let stated: BigDecimal = totals.iter().map(|t| &t.stated).sum();
                let verified: BigDecimal = totals.iter().map(|t| &t.on_verified).sum();
                let mut segments = Vec::new();
                for (i, t) in totals.iter().enumerate() {
                    let color = format!("c{}", i % 8);
                    segments.push(Segment {
                        class: color.clone(),
                        value: f64_of(&t.on_verified),
                        title: format!(
                            "{} on {}: {} on verified addresses",
                            asset,
                            t.chain,
                            group_digits(&plain(&t.on_verified))
                        ),
                    });
                    segments.push(Segment {
                        class: format!("{color} part"),
                        value: f64_of(&(&t.stated - &t.on_verified)),
                        title: format!(
                            "{} on {}: {} on addresses not verified",
                            asset,
                            t.chain,
                            group_digits(&plain(&(&t.stated - &t.on_verified)))
                        ),
                    });
                }
                let chains: Vec<&str> = totals.iter().map(|t| t.chain.as_str()).collect();
                Bar {
                    label: asset.to_string(),
                    note: format!(
                        "{} stated on {}; {} on verified addresses",
                        group_digits(&plain(&stated)),
                        chains.join(", "),
                        percent(f64_of(&verified), f64_of(&stated))
                    ),
                    segments,
                }
            })
            .collect();
        bar_chart(
            out,
            "Each asset's stated reserves: the share on each chain, solid where the address \
             verified, pale where it did not",
            &bars,
            &[],
        );
        let node = r.balances.values().any(|t| t.onchain.is_some()) || !r.anchors.is_empty();
        let mut heads = vec![
            ("chain", false),
            ("asset", false),
            ("share verified", true),
            ("stated total", true),
            ("on verified addresses", true),
            ("addresses", true),
        ];
        if node {
            heads.push(("on chain at the anchor (node)", true));
            heads.push(("addresses checked", true));
            heads.push(("mismatches", true));
        }
        out.table_start("balances", &heads);
        for t in r.balances.values() {
            let stated = group_digits(&plain(&t.stated));
            let verified = group_digits(&plain(&t.on_verified));
            let share = percent(f64_of(&t.on_verified), f64_of(&t.stated));
            let addresses = grouped(t.addresses);
            let mut cells = vec![
                ("", t.chain.clone()),
                ("", t.asset.clone()),
                ("n", share),
                ("n", stated),
                ("n", verified),
                ("n", addresses),
            ];
            if node {
                cells.push((
                    "n",
                    t.onchain
                        .as_ref()
                        .map_or("not checked".into(), |o| group_digits(&plain(o))),
                ));
                cells.push(("n", grouped(t.onchain_addresses)));
                cells.push((
                    if t.mismatches > 0 { "n bad" } else { "n" },
                    grouped(t.mismatches),
                ));
            }
            let cells: Vec<(&str, &str)> = cells.iter().map(|(c, t)| (*c, t.as_str())).collect();
            out.row(&cells);
        }
        out.table_end();
    }
}

impl ReservesSection<'_> {
    /// Without per-address balances (HTX files): the summary's coins against their rows.
    fn totals_chart(&self, out: &mut Html) {
        let bars: Vec<Bar> = self
            .0
            .totals
            .iter()
            .filter(|t| t.against == "rows")
            .map(|t| {
                let summed = f64_of_text(&t.summed);
                let verified = f64_of_text(&t.on_verified);
                let unsigned = f64_of_text(&t.on_unsigned);
                Bar {
                    label: t.coin.clone(),
                    note: format!(
                        "{} over {}; {} on verified rows",
                        group_digits(&t.summed),
                        plural(t.rows, "row", "rows"),
                        percent(verified, summed)
                    ),
                    segments: vec![
                        Segment {
                            class: "verified".into(),
                            value: verified,
                            title: format!("{} on verified rows", group_digits(&t.on_verified)),
                        },
                        Segment {
                            class: "unsigned".into(),
                            value: unsigned,
                            title: format!("{} on unsigned rows", group_digits(&t.on_unsigned)),
                        },
                        Segment {
                            class: "failed".into(),
                            value: (summed - verified - unsigned).max(0.0),
                            title: "the rest: on rows that failed or are unsupported".into(),
                        },
                    ],
                }
            })
            .collect();
        bar_chart(
            out,
            "Each coin's balance over its rows, by the rows' status",
            &bars,
            &[
                ("verified", "on verified rows"),
                ("unsigned", "on unsigned rows"),
                ("failed", "on rows that failed or are unsupported"),
            ],
        );
    }
}

struct TotalsSection<'a>(&'a Report);

impl Section for TotalsSection<'_> {
    fn id(&self) -> &str {
        "totals"
    }
    fn title(&self) -> &str {
        "Stated totals against the rows"
    }
    fn render(&self, out: &mut Html) {
        out.raw(
            "<p class=\"note\">The file's summary block states a total per coin; the rows it \
             covers are added up exactly and compared, allowing only the rounding of the printed \
             figures.</p>",
        );
        // Unsigned rows exist in some files only: their column only where there are some.
        let unsigned = self.0.unsigned > 0;
        let mut heads = vec![
            ("line", true),
            ("coin", false),
            ("check", false),
            ("stated", true),
            ("rows add up to", true),
            ("rounding allowed", true),
            ("rows", true),
            ("on verified rows", true),
        ];
        if unsigned {
            heads.push(("on unsigned rows", true));
        }
        heads.push(("height", true));
        out.table_start("totals", &heads);
        for t in &self.0.totals {
            let line = t.line.map_or("-".into(), |l| l.to_string());
            let (class, status) = match t.status {
                "ok" => ("ok", "OK".to_string()),
                "mismatch" => ("bad", "MISMATCH".to_string()),
                other => ("", other.to_string()),
            };
            let mut coin = t.coin.clone();
            if t.against != "rows" {
                let _ = write!(coin, " (lines {})", t.covers.join(", "));
            }
            let mut cells = vec![
                ("n", line),
                ("coin", coin),
                (class, status),
                ("n", t.stated.as_deref().map_or("-".into(), group_digits)),
                ("n", group_digits(&t.summed)),
                ("n", t.tolerance.clone()),
                ("n", grouped(t.rows)),
                ("n", group_digits(&t.on_verified)),
            ];
            if unsigned {
                cells.push(("n", group_digits(&t.on_unsigned)));
            }
            cells.push(("n", t.height.map_or("-".into(), grouped)));
            let cells: Vec<(&str, &str)> = cells.iter().map(|(c, t)| (*c, t.as_str())).collect();
            out.row(&cells);
        }
        out.table_end();
    }
}

struct ProblemsSection<'a> {
    id: &'static str,
    title: &'static str,
    empty: &'static str,
    groups: Vec<Group<'a>>,
}

impl Section for ProblemsSection<'_> {
    fn id(&self) -> &str {
        self.id
    }
    fn title(&self) -> &str {
        self.title
    }
    fn render(&self, out: &mut Html) {
        if self.groups.is_empty() {
            let _ = write!(out, "<p class=\"ok\">{}</p>", Esc(self.empty));
            return;
        }
        out.raw("<ul class=\"codes\">");
        for g in &self.groups {
            let _ = write!(
                out,
                "<li><a href=\"#{p}-{c}\"><code>{c}</code></a> {n}</li>",
                p = self.id,
                c = Esc(g.code),
                n = grouped(g.count)
            );
        }
        out.raw("</ul>");
        for g in &self.groups {
            let _ = write!(
                out,
                "<div class=\"group\" id=\"{p}-{c}\"><h3><code>{c}</code> <span class=\"count\">\
                 {n}</span></h3><p class=\"meaning\">{m}</p>",
                p = self.id,
                c = Esc(g.code),
                n = if g.file {
                    plural(g.count, "failure of the file", "failures of the file")
                } else {
                    plural(g.count, "problem", "problems")
                },
                m = Esc(&meaning(g.code))
            );
            out.table_start(
                "problems",
                &[
                    ("where", false),
                    ("chain", false),
                    ("address", false),
                    ("reason", false),
                ],
            );
            for [place, chain, address, reason] in &g.listed {
                out.row(&[
                    ("place", place),
                    ("", chain),
                    ("mono addr", address),
                    ("", reason),
                ]);
            }
            out.table_end();
            let rest = g.count - g.listed.len() as u64;
            if rest > 0 {
                let _ = write!(
                    out,
                    "<p class=\"more\">… and {} more with this code, not listed here \
                     (<code>--json</code> lists every one).</p>",
                    grouped(rest)
                );
            }
            out.raw("</div>");
        }
    }
}

struct LegacySection<'a>(&'a Report);

impl Section for LegacySection<'_> {
    fn id(&self) -> &str {
        "legacy"
    }
    fn title(&self) -> &str {
        "Legacy proofs"
    }
    fn render(&self, out: &mut Html) {
        let r = self.0;
        let listed: Vec<String> = r.legacy_entries.iter().map(u64::to_string).collect();
        let _ = write!(
            out,
            "<p>{} verified only by legacy signed messages on addresses that are not P2PKH: \
             valid here (wallets and older snapshots sign so), but BIP-322 verifiers reject \
             them. Entries {}{}.</p>",
            Esc(&plural(r.legacy, "Bitcoin entry is", "Bitcoin entries are")),
            Esc(&listed.join(", ")),
            if r.legacy > listed.len() as u64 {
                ", …"
            } else {
                ""
            }
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{FileFailure, Outcome};

    fn meta() -> PageMeta {
        PageMeta {
            tool: "por-attest-verify 0.1.0".into(),
            command: "por-attest-verify f.json".into(),
        }
    }

    #[test]
    fn failures_are_grouped_by_code_and_capped() {
        let mut r = Report::new("dir/f.csv", crate::okx::FORMAT);
        for i in 0..(LISTED_PER_CODE as u64 + 5) {
            r.record(
                i,
                Some(i + 10),
                "ETH",
                &format!("0xabc{i}"),
                Outcome::failed(FailureCode::WrongKey, format!("bad {i}")),
            );
        }
        r.record(
            999,
            Some(2000),
            "BTC",
            "bc1q<x>",
            Outcome::Unsigned("no sig".into()),
        );
        r.file_failures.push(
            FileFailure::new(FailureCode::TotalMismatch, "summary line 3: ETH states 5")
                .at_line(Some(3)),
        );
        r.finish(false);
        let html = render_report(&r, &meta());
        assert!(html.contains("<span class=\"badge\">FAILED</span>"));
        assert!(html.contains("205 addresses failed (205 wrong_key)."));
        assert!(html.contains("id=\"failures-wrong_key\""));
        assert!(html.contains("id=\"failures-total_mismatch\""));
        assert!(html.contains("<td class=\"place\">summary line 3</td>"));
        assert!(html.contains("<td class=\"place\">line 10 (row 0)</td>"));
        assert!(html.contains("… and 5 more with this code"));
        assert!(!html.contains(">bad 200<"), "capped");
        assert!(html.contains("id=\"not-verified-unsigned\""));
        assert!(html.contains("bc1q&lt;x&gt;"), "escaped");
        assert!(
            html.contains("A valid signature by another key"),
            "the code's meaning"
        );
        assert!(html.contains("Proof of reserves: f.csv"));
    }

    /// A large report that failed nearly everywhere, under every code: the page stays small
    /// (aggregates, the capped lists and a count of the rest).
    #[test]
    fn a_large_failing_report_gives_a_small_page() {
        let mut r = Report::new("big.json", crate::snapshot::FORMAT_TAG);
        let codes = FailureCode::ALL;
        let n = 200_000u64;
        for i in 0..n {
            let code = codes[i as usize % codes.len()];
            let chain = ["BTC", "ETH", "TRX"][i as usize % 3];
            let outcome = if i % 10 == 0 {
                Outcome::Verified
            } else {
                Outcome::failed(
                    code,
                    format!("signature 0: a reason of typical length for entry {i}, naming it"),
                )
            };
            r.record(
                i,
                None,
                chain,
                "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
                outcome,
            );
        }
        r.finish(false);
        let html = render_report(&r, &meta());
        eprintln!(
            "{n} entries, {} failed: a page of {} bytes",
            r.failed,
            html.len()
        );
        assert!(html.len() < 1_500_000, "{} bytes", html.len());
        assert_eq!(
            html.matches("<td class=\"place\">").count(),
            LISTED_IN_ALL,
            "the lists stop at the cap"
        );
        assert!(html.contains(&format!("{} addresses failed", grouped(n - n / 10))));
        assert!(html.contains("more with this code, not listed here"));
    }

    /// With --node: the anchors' node blocks and checks, the on-chain totals and mismatches,
    /// an anchor failure under its code and chain.
    #[test]
    fn what_the_node_said_is_shown() {
        let mut r = Report::new("s.json", crate::snapshot::FORMAT_TAG);
        r.stated_anchors.insert(
            "ETH".into(),
            crate::snapshot::Anchor {
                height: 23_800_000,
                block_hash: "0xaaaa".into(),
            },
        );
        r.anchors.push(crate::report::AnchorCheck {
            chain: "ETH".into(),
            height: 23_800_000,
            stated: Some("0xaaaa".into()),
            node: "0xbbbb".into(),
            endpoint: "http://127.0.0.1:8545".into(),
            status: "mismatch",
        });
        r.file_failures.push(
            FileFailure::new(
                FailureCode::AnchorMismatch,
                "anchor ETH at height 23800000: …",
            )
            .of_chain("ETH"),
        );
        r.record(0, None, "ETH", "0x01", Outcome::Verified);
        r.add_balance("ETH", "ETH", &"2.5".parse().unwrap(), true);
        r.balance_total("ETH", "ETH")
            .add_onchain(&"2.4".parse().unwrap(), false);
        r.finish(false);
        let html = render_report(&r, &meta());
        for needle in [
            "<th class=\"n\">on chain at the anchor (node)</th>",
            "<td class=\"n\">2.4</td>",
            "<td class=\"n bad\">1</td>",
            "<td class=\"mono\">0xbbbb</td><td class=\"bad\">MISMATCH</td>",
            "<td class=\"place\">anchor ETH</td>",
            "<code>anchor_mismatch</code>",
            "1 anchor checked against the auditor&#39;s node: 0 matched.",
            "yes (--node)",
        ] {
            assert!(html.contains(needle), "{needle}");
        }
    }

    #[test]
    fn a_verified_report_says_so() {
        let mut r = Report::new("s.json", crate::snapshot::FORMAT_TAG);
        r.entity = Some("Example".into());
        r.snapshot_id = Some("2026-11".into());
        r.record(0, None, "BTC", "1abc", Outcome::Verified);
        r.add_balance("BTC", "BTC", &"1.5".parse().unwrap(), true);
        r.finish(false);
        let html = render_report(&r, &meta());
        assert!(html.contains("<span class=\"badge\">VERIFIED</span>"));
        assert!(html.contains("1 of 1 address verified."));
        assert!(html.contains("Proof of reserves: Example, snapshot 2026-11"));
        assert!(html.contains("<p class=\"ok\">Nothing failed.</p>"));
        assert!(html.contains("1.5 stated on BTC; 100.0% on verified addresses"));
        assert!(!html.contains("id=\"not-verified\""));
    }
}
