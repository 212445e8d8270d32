//! The page of a liabilities bundle's report ([`LiabilitiesReport`]): the verdict, the bundle,
//! the assets' equity, debt and net liability, the user's inclusion and every failure with its
//! code and place. It renders the report as it is; nothing is recomputed.

use super::{Esc, Html, Page, PageMeta, Section, Verdict};
use crate::liabilities::report::{LiabilitiesReport, LiabilityFailure};
use crate::liabilities::solvency::SolvencyReport;
use std::fmt::Write as _;

/// The largest number of failures listed on the page (the rest are counted).
const MAX_FAILURES: usize = 2_000;

/// The whole page of `report`.
pub fn render_liabilities(report: &LiabilitiesReport, meta: &PageMeta) -> String {
    let verified = report.failures.is_empty();
    let verdict = Verdict {
        result: if verified { "verified" } else { "failed" },
        headline: if verified {
            format!(
                "All {} batch proofs verify, the batches chain from the empty tree, and the \
                 published totals are what the proofs commit to.",
                super::grouped(report.batches)
            )
        } else {
            format!(
                "{} problem(s): {} of {} batches verified.",
                super::grouped(report.failures.len() as u64),
                super::grouped(report.batches_verified),
                super::grouped(report.batches)
            )
        },
        why: report
            .failures
            .iter()
            .take(5)
            .map(|f| format!("{}: {}", f.code, f.reason))
            .collect(),
    };
    let mut page = Page::new(
        format!("Liabilities: {}", report.file),
        verdict,
        meta.clone(),
    );
    page.push(Bundle(report));
    page.push(Assets(report));
    if !report.failures.is_empty() {
        page.push(Failures(&report.failures));
    }
    page.render()
}

struct Bundle<'a>(&'a LiabilitiesReport);

impl Section for Bundle<'_> {
    fn id(&self) -> &str {
        "bundle"
    }
    fn title(&self) -> &str {
        "The bundle"
    }
    fn render(&self, out: &mut Html) {
        let r = self.0;
        out.raw("<dl class=\"facts\">");
        let rows: [(&str, Option<String>); 10] = [
            ("file", Some(r.file.clone())),
            ("format", Some(r.format.to_string())),
            ("snapshot", r.snapshot_date.clone()),
            ("verifying key", Some(r.verifying_key.clone())),
            ("its SHA-256", Some(r.verifying_key_sha256.clone())),
            ("proof check", Some(r.method.to_string())),
            (
                "batches verified",
                Some(format!(
                    "{} of {}",
                    super::grouped(r.batches_verified),
                    super::grouped(r.batches)
                )),
            ),
            ("final account root", r.final_account_root.clone()),
            ("final asset commitment", r.final_asset_commitment.clone()),
            ("total value", Some(r.total_value.clone())),
        ];
        for (k, v) in rows {
            if let Some(v) = v {
                fact(out, k, &v);
            }
        }
        if let Some(u) = &r.user {
            let state = if u.included {
                "included"
            } else {
                "NOT included"
            };
            let line = format!(
                "{} (account {}): {state} under root {}",
                u.file, u.index, u.root
            );
            fact(out, "user", &line);
        }
        out.raw("</dl>");
    }
}

struct Assets<'a>(&'a LiabilitiesReport);

impl Section for Assets<'_> {
    fn id(&self) -> &str {
        "assets"
    }
    fn title(&self) -> &str {
        "Liabilities per asset"
    }
    fn render(&self, out: &mut Html) {
        let listed: Vec<_> = self
            .0
            .assets
            .iter()
            .filter(|a| a.equity != "0" || a.debt != "0")
            .collect();
        let _ = write!(
            out,
            "<p>{} asset(s) with user balances (of {} in the bundle).</p>",
            super::grouped(listed.len() as u64),
            super::grouped(self.0.assets.len() as u64)
        );
        out.table_start(
            "assets",
            &[
                ("asset", false),
                ("equity", true),
                ("debt", true),
                ("net liability", true),
                ("price", true),
                ("value", true),
            ],
        );
        for a in listed {
            out.row(&[
                ("", &a.symbol),
                ("n", &super::group_digits(&a.equity)),
                ("n", &super::group_digits(&a.debt)),
                ("n", &super::group_digits(&a.net_liability)),
                ("n", &a.price),
                ("n", &super::group_digits(&a.value)),
            ]);
        }
        out.table_end();
    }
}

struct Failures<'a>(&'a [LiabilityFailure]);

impl Section for Failures<'_> {
    fn id(&self) -> &str {
        "failures"
    }
    fn title(&self) -> &str {
        "Failures"
    }
    fn render(&self, out: &mut Html) {
        out.table_start(
            "problems",
            &[("code", false), ("where", false), ("reason", false)],
        );
        for f in self.0.iter().take(MAX_FAILURES) {
            let mut place = Vec::new();
            if let Some(b) = f.batch {
                place.push(format!("batch {b}"));
            }
            if let Some(l) = f.line {
                place.push(format!("line {l}"));
            }
            if let Some(a) = &f.asset {
                place.push(format!("asset {a}"));
            }
            out.row(&[("mono", f.code), ("", &place.join(", ")), ("", &f.reason)]);
        }
        out.table_end();
        if self.0.len() > MAX_FAILURES {
            let _ = write!(
                out,
                "<p>and {} more (see <code>--json</code>).</p>",
                Esc(&super::grouped((self.0.len() - MAX_FAILURES) as u64))
            );
        }
    }
}

/// One `<dt>`/`<dd>` pair of a facts list.
fn fact(out: &mut Html, name: &str, value: &str) {
    let _ = write!(
        out,
        "<dt>{}</dt><dd class=\"mono\">{}</dd>",
        Esc(name),
        Esc(value)
    );
}

/// The whole page of a solvency join ([`SolvencyReport`]): the verdict, the sources on both
/// sides and every asset's reserves against its net liabilities.
pub fn render_solvency(report: &SolvencyReport, meta: &PageMeta) -> String {
    use crate::liabilities::solvency::status;
    let result = match report.result {
        status::SOLVENT => "verified",
        status::UNPROVEN => "incomplete",
        _ => "failed",
    };
    let verdict = Verdict {
        result,
        headline: format!(
            "{}: {} asset(s) covered, {} short; liabilities {}.",
            report.result.to_ascii_uppercase(),
            super::grouped(report.covered),
            super::grouped(report.short),
            report.liabilities_kind
        ),
        why: Vec::new(),
    };
    let mut page = Page::new(
        format!("Solvency: {}", report.liabilities),
        verdict,
        meta.clone(),
    );
    page.push(Sources(report));
    page.push(Join(report));
    page.render()
}

struct Sources<'a>(&'a SolvencyReport);

impl Section for Sources<'_> {
    fn id(&self) -> &str {
        "sources"
    }
    fn title(&self) -> &str {
        "Liabilities and reserves"
    }
    fn render(&self, out: &mut Html) {
        let r = self.0;
        out.raw("<dl class=\"facts\">");
        fact(out, "liabilities", &r.liabilities);
        fact(out, "they are", r.liabilities_kind);
        if let Some(v) = r.liabilities_result {
            fact(out, "the bundle", v);
        }
        if let Some(d) = &r.liabilities_date {
            fact(out, "liabilities snapshot", d);
        }
        for s in &r.reserves {
            let mut line = format!("{} ({}): {}, {}", s.file, s.format, s.result, s.basis);
            if let Some(d) = s.days_from_liabilities {
                let _ = write!(line, ", {d} day(s) from the liabilities");
            }
            fact(out, "reserves", &line);
        }
        if let Some(v) = &r.reserves_value {
            fact(out, "reserves value (USD)", v);
        }
        if let Some(v) = &r.liabilities_value {
            fact(out, "liabilities value (USD)", v);
        }
        out.raw("</dl>");
    }
}

struct Join<'a>(&'a SolvencyReport);

impl Section for Join<'_> {
    fn id(&self) -> &str {
        "assets"
    }
    fn title(&self) -> &str {
        "Reserves against liabilities, per asset"
    }
    fn render(&self, out: &mut Html) {
        out.table_start(
            "assets",
            &[
                ("asset", false),
                ("status", false),
                ("reserves", true),
                ("net liabilities", true),
                ("ratio", true),
                ("reserves value", true),
                ("liabilities value", true),
            ],
        );
        let opt = |v: &Option<String>| v.as_deref().map(super::group_digits).unwrap_or_default();
        for a in &self.0.assets {
            out.row(&[
                ("", &a.asset),
                ("", a.status),
                ("n", &super::group_digits(&a.reserves)),
                ("n", &super::group_digits(&a.net_liabilities)),
                ("n", a.ratio.as_deref().unwrap_or("")),
                ("n", &opt(&a.reserves_value)),
                ("n", &opt(&a.liabilities_value)),
            ]);
        }
        out.table_end();
    }
}
