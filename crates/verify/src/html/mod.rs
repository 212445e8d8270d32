//! The HTML report: one self-contained page (inline CSS and SVG, no script, no external
//! resource) that a person reads in a browser, on a phone or on paper.
//!
//! A page is a verdict banner, then sections, then how to reproduce the check. The sections of
//! a reserves report ([`crate::report::Report`]) are in [`reserves`]; another kind of report (a
//! liabilities bundle, a solvency result) adds its own [`Section`]s to the same [`Page`]. The
//! renderer only presents what the report holds: it never checks or recomputes anything.
//!
//! Everything here is pure (a page is a `String`); [`PageFile`] is the one part that touches
//! the file system.

pub mod charts;
#[cfg(feature = "liabilities")]
pub mod liabilities;
pub mod reserves;

use crate::error::InputError;
use std::fmt::{self, Write};
use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};

#[cfg(feature = "liabilities")]
pub use liabilities::{render_liabilities, render_solvency};
pub use reserves::{render_report, report_page};

/// The stylesheet, inlined into every page.
const STYLE: &str = include_str!("style.css");

/// What the page says about how it was made.
#[derive(Debug, Clone, Default)]
pub struct PageMeta {
    /// The tool and its version (`por-attest 0.1.0`).
    pub tool: String,
    /// The command line that reproduces the check (without `--html`).
    pub command: String,
}

/// The verdict banner: the result and why, in words.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// `verified`, `failed` or `incomplete` (the report's result; the banner shows it upper case).
    pub result: &'static str,
    /// One sentence under the verdict.
    pub headline: String,
    /// The reasons behind it, one per line.
    pub why: Vec<String>,
}

/// One section of a page: a heading and its body.
pub trait Section {
    /// The section's anchor (`id` attribute), unique on the page.
    fn id(&self) -> &str;
    /// Its heading.
    fn title(&self) -> &str;
    /// Writes its body (HTML) to `out`.
    fn render(&self, out: &mut Html);
}

/// A page being assembled: a title, the verdict, the sections in order.
pub struct Page<'a> {
    title: String,
    verdict: Verdict,
    sections: Vec<Box<dyn Section + 'a>>,
    meta: PageMeta,
}

impl<'a> Page<'a> {
    /// An empty page with its title and verdict.
    pub fn new(title: impl Into<String>, verdict: Verdict, meta: PageMeta) -> Page<'a> {
        Page {
            title: title.into(),
            verdict,
            sections: Vec::new(),
            meta,
        }
    }

    /// Adds a section after the others.
    pub fn push(&mut self, section: impl Section + 'a) {
        self.sections.push(Box::new(section));
    }

    /// The whole document.
    pub fn render(&self) -> String {
        let mut h = Html::default();
        h.raw("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
        h.raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
        h.raw("<meta name=\"color-scheme\" content=\"light\">");
        // Nothing may be fetched: no script, no frame, no remote image, font or style.
        h.raw(
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
             style-src 'unsafe-inline'; img-src data:\">",
        );
        let _ = write!(h, "<title>{}</title>", Esc(&self.title));
        let _ = write!(h, "<style>{STYLE}</style></head><body><main>");
        let v = &self.verdict;
        let _ = write!(
            h,
            "<header class=\"verdict {r}\" id=\"verdict\"><p class=\"title\">{t}</p>\
             <h1><span class=\"badge\">{R}</span></h1><p class=\"headline\">{hl}</p>",
            r = v.result,
            t = Esc(&self.title),
            R = v.result.to_ascii_uppercase(),
            hl = Esc(&v.headline)
        );
        if !v.why.is_empty() {
            h.raw("<ul class=\"why\">");
            for w in &v.why {
                let _ = write!(h, "<li>{}</li>", Esc(w));
            }
            h.raw("</ul>");
        }
        h.raw("</header>");
        if self.sections.len() > 2 {
            h.raw("<nav><ul>");
            for s in &self.sections {
                let _ = write!(
                    h,
                    "<li><a href=\"#{}\">{}</a></li>",
                    Esc(s.id()),
                    Esc(s.title())
                );
            }
            h.raw("</ul></nav>");
        }
        for s in &self.sections {
            let _ = write!(
                h,
                "<section id=\"{}\"><h2>{}</h2>",
                Esc(s.id()),
                Esc(s.title())
            );
            s.render(&mut h);
            h.raw("</section>");
        }
        h.raw("<footer id=\"reproduce\"><h2>Reproduce this check</h2>");
        let _ = write!(
            h,
            "<p>Made by <b>{}</b>, offline, from the file alone (and the nodes named on the \
             command line). Anyone can run the same check:</p><pre class=\"cmd\">{}</pre>\
             <p>Add <code>--json</code> for the machine-readable report: every failure with its \
             code, without the cap this page applies.</p></footer>",
            Esc(&self.meta.tool),
            Esc(&self.meta.command)
        );
        h.raw("</main></body></html>\n");
        h.0
    }
}

/// HTML text being written; `write!` into it with [`Esc`] around anything that is not markup.
#[derive(Debug, Default)]
pub struct Html(String);

impl Html {
    /// Appends markup as is.
    pub fn raw(&mut self, s: &str) {
        self.0.push_str(s);
    }

    /// Appends text, escaped.
    pub fn text(&mut self, s: &str) {
        let _ = write!(self.0, "{}", Esc(s));
    }

    /// Starts a table (in a scrolling wrapper, for narrow screens) with these column heads;
    /// `numeric` columns are right-aligned.
    pub fn table_start(&mut self, class: &str, heads: &[(&str, bool)]) {
        let _ = write!(
            self.0,
            "<div class=\"scroll\"><table class=\"{class}\"><thead><tr>"
        );
        for (head, numeric) in heads {
            let _ = write!(
                self.0,
                "<th{}>{}</th>",
                if *numeric { " class=\"n\"" } else { "" },
                Esc(head)
            );
        }
        self.0.push_str("</tr></thead><tbody>");
    }

    /// Ends a table started with [`Html::table_start`].
    pub fn table_end(&mut self) {
        self.0.push_str("</tbody></table></div>");
    }

    /// A row of cells: text (escaped) with its class (`""` for none).
    pub fn row(&mut self, cells: &[(&str, &str)]) {
        self.row_of_class("", cells);
    }

    /// A row of cells, the row itself of class `class` (`""` for none).
    pub fn row_of_class(&mut self, class: &str, cells: &[(&str, &str)]) {
        if class.is_empty() {
            self.0.push_str("<tr>");
        } else {
            let _ = write!(self.0, "<tr class=\"{class}\">");
        }
        for (class, text) in cells {
            if class.is_empty() {
                let _ = write!(self.0, "<td>{}</td>", Esc(text));
            } else {
                let _ = write!(self.0, "<td class=\"{class}\">{}</td>", Esc(text));
            }
        }
        self.0.push_str("</tr>");
    }
}

impl fmt::Write for Html {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.push_str(s);
        Ok(())
    }
}

/// Text escaped for HTML content and attribute values.
pub struct Esc<'a>(pub &'a str);

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(i) = rest.find(['<', '>', '&', '"', '\'']) {
            f.write_str(&rest[..i])?;
            f.write_str(match rest.as_bytes()[i] {
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'&' => "&amp;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[i + 1..];
        }
        f.write_str(rest)
    }
}

/// The command line `args` (program first) as a shell would take it back, without the
/// `--html FILE` (or `--html=FILE`) that asked for the page: the command that reproduces the
/// check. The program is named by its file name alone.
pub fn reproduce_command(args: impl IntoIterator<Item = String>) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut args = args.into_iter();
    if let Some(program) = args.next() {
        let name = Path::new(&program)
            .file_name()
            .map_or(program.clone(), |n| n.to_string_lossy().into_owned());
        out.push(shell_word(&name));
    }
    while let Some(a) = args.next() {
        if a == "--html" {
            args.next();
            continue;
        }
        if a.starts_with("--html=") {
            continue;
        }
        out.push(shell_word(&a));
    }
    out.join(" ")
}

/// `word` quoted for a POSIX shell when it needs it.
fn shell_word(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// The file a page goes to, opened before the verification starts (so a path that cannot be
/// written fails at once, not after an hour of checking) and written whole or not at all: a
/// temporary file beside it, renamed over it once complete, removed if never written.
#[derive(Debug)]
pub struct PageFile {
    path: PathBuf,
    tmp: PathBuf,
    file: Option<File>,
}

impl PageFile {
    /// Opens the temporary file beside `path`.
    pub fn create(path: &Path) -> Result<PageFile, InputError> {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let file = File::create(&tmp)
            .map_err(|e| InputError::new(path, format!("cannot write the HTML report: {e}")))?;
        Ok(PageFile {
            path: path.to_path_buf(),
            tmp,
            file: Some(file),
        })
    }

    /// Writes the page of `report`, made by `tool` (`por-attest 0.1.0`), with the command
    /// line `args` (program first; `--html` is left out of the command shown).
    pub fn write_report(
        self,
        report: &crate::report::Report,
        tool: &str,
        args: impl IntoIterator<Item = String>,
    ) -> Result<(), InputError> {
        let meta = PageMeta {
            tool: tool.to_string(),
            command: reproduce_command(args),
        };
        self.write(&render_report(report, &meta))
    }

    /// Writes `page` and puts it in place.
    pub fn write(mut self, page: &str) -> Result<(), InputError> {
        let err = |e: std::io::Error| {
            InputError::new(&self.path, format!("cannot write the HTML report: {e}"))
        };
        let mut file = self.file.take().expect("written once");
        file.write_all(page.as_bytes()).map_err(err)?;
        file.sync_all().map_err(err)?;
        drop(file);
        std::fs::rename(&self.tmp, &self.path).map_err(err)
    }
}

impl Drop for PageFile {
    fn drop(&mut self) {
        if self.file.is_some() || self.tmp.exists() {
            self.file = None;
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// `n` with thousands separators (`1,234,567`).
pub fn grouped(n: u64) -> String {
    group_digits(&n.to_string())
}

/// A plain decimal (`-1234567.891`) with thousands separators in its whole part
/// (`-1,234,567.891`); the digits stay exact.
pub fn group_digits(decimal: &str) -> String {
    let (sign, rest) = match decimal.strip_prefix('-') {
        Some(r) => ("-", r),
        None => ("", decimal),
    };
    let (int, frac) = match rest.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (rest, None),
    };
    if !int.bytes().all(|b| b.is_ascii_digit()) {
        return decimal.to_string();
    }
    let mut out = String::with_capacity(decimal.len() + int.len() / 3);
    out.push_str(sign);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(
            Esc("<a href=\"x\">&'</a>").to_string(),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(Esc("plain ünïcode").to_string(), "plain ünïcode");
    }

    #[test]
    fn the_command_without_html() {
        let args = [
            "/usr/bin/por-attest",
            "verify",
            "my file.csv",
            "--html",
            "out.html",
            "--node",
            "ETH=http://127.0.0.1:8545",
            "--html=x.html",
            "it's",
        ]
        .map(String::from);
        assert_eq!(
            reproduce_command(args),
            "por-attest verify 'my file.csv' --node ETH=http://127.0.0.1:8545 'it'\\''s'"
        );
    }

    #[test]
    fn digit_groups() {
        assert_eq!(group_digits("1234567.891"), "1,234,567.891");
        assert_eq!(group_digits("-123"), "-123");
        assert_eq!(group_digits("1000"), "1,000");
        assert_eq!(group_digits("0.00000001"), "0.00000001");
        assert_eq!(group_digits("-"), "-");
        assert_eq!(grouped(1_000_000), "1,000,000");
    }

    #[test]
    fn a_page_has_its_sections_and_no_script() {
        struct S;
        impl Section for S {
            fn id(&self) -> &str {
                "s"
            }
            fn title(&self) -> &str {
                "A <section>"
            }
            fn render(&self, out: &mut Html) {
                out.text("body & soul");
            }
        }
        let mut p = Page::new(
            "T",
            Verdict {
                result: "failed",
                headline: "h".into(),
                why: vec!["because <x>".into()],
            },
            PageMeta {
                tool: "t 1".into(),
                command: "t verify f".into(),
            },
        );
        p.push(S);
        let html = p.render();
        assert!(html.contains("<span class=\"badge\">FAILED</span>"));
        assert!(html.contains("<li>because &lt;x&gt;</li>"));
        assert!(html.contains("<h2>A &lt;section&gt;</h2>body &amp; soul"));
        assert!(html.contains("<pre class=\"cmd\">t verify f</pre>"));
        assert!(!html.contains("<script"));
    }
}
