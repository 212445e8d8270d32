//! The verification report: per-entry outcomes summarised per chain, the failures with their
//! reasons, human and JSON renderings, and the exit status scripts can trust.

use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

/// The outcome of checking one entry (or one row of an exchange file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every signature checked out for the stated address and message.
    Verified,
    /// Something did not check out; the reason says what.
    Failed(String),
    /// The coin or scheme is one this build cannot check; never counted as verified.
    Unsupported(String),
    /// The file publishes the row without a signature (exchange files); never counted as
    /// verified, and not a failure on its own.
    Unsigned(String),
}

/// Counts for one chain (or coin).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ChainSummary {
    /// Entries (rows) counted.
    pub entries: u64,
    /// Entries verified.
    pub verified: u64,
    /// Entries that failed.
    pub failed: u64,
    /// Entries this build cannot check.
    pub unsupported: u64,
    /// Rows published without a signature (exchange files).
    pub unsigned: u64,
}

/// One entry that did not verify.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Problem {
    /// Index of the entry in the file (0-based).
    pub entry: u64,
    /// Line number in the file, where the format has lines (CSV).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// The entry's chain.
    pub chain: String,
    /// The entry's address.
    pub address: String,
    /// `failed`, `unsupported` or `unsigned`.
    pub status: &'static str,
    /// Why it failed or is unsupported.
    pub reason: String,
}

/// The digest check of a snapshot.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DigestCheck {
    /// The digest the file states.
    pub stated: String,
    /// The digest of the file's canonical content.
    pub computed: String,
    /// True when they are equal.
    pub ok: bool,
}

/// A total an exchange file states (its summary block), checked against the balances of
/// the rows it covers with exact decimal arithmetic.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TotalCheck {
    /// Line of the summary block that states the total; `None` for rows of a coin that no
    /// summary line covers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// The coin as the summary line spells it (`BTC(ALL)`, `USDT-TRC20`).
    pub coin: String,
    /// What it was compared with: `rows` (the rows of the coins in `covers`) or `rows of its
    /// lines` (a group line: the rows of its member lines, named in `covers`).
    pub against: &'static str,
    /// The rows' coins, or the group's member lines.
    pub covers: Vec<String>,
    /// The stated total (`None`: not stated).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stated: Option<String>,
    /// What the covered rows (or member lines) add up to.
    pub summed: String,
    /// How far apart stated and summed may be from the rounding of the printed figures alone.
    pub tolerance: String,
    /// Address rows summed (for a group, the rows of its members).
    pub rows: u64,
    /// Of `summed`, the part on rows whose own signature verified.
    pub on_verified: String,
    /// Of `summed`, the part on rows published without a signature.
    pub on_unsigned: String,
    /// `ok`, `mismatch` or `not stated`.
    pub status: &'static str,
}

/// The whole report.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Report {
    /// The file that was checked.
    pub file: String,
    /// The format that was read: `por-attest-snapshot`, `okx-csv` or `htx-csv`.
    pub format: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The snapshot's entity (exchange files: none).
    pub entity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The snapshot's id (exchange files: none).
    pub snapshot_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The digest check (snapshots only).
    pub digest: Option<DigestCheck>,
    /// Entries (rows) in the file.
    pub entries: u64,
    /// Entries verified.
    pub verified: u64,
    /// Entries that failed.
    pub failed: u64,
    /// Entries this build cannot check.
    pub unsupported: u64,
    /// Rows published without a signature (exchange files).
    pub unsigned: u64,
    /// Per chain, in name order.
    pub chains: BTreeMap<String, ChainSummary>,
    /// Problems with the file as a whole (digest, header), apart from its entries.
    pub file_failures: Vec<String>,
    /// Entries that failed, are unsupported or unsigned, in file order.
    pub problems: Vec<Problem>,
    /// The file's stated totals against its rows (exchange files with a summary block).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub totals: Vec<TotalCheck>,
    /// `verified` or `failed`.
    pub result: &'static str,
}

impl Report {
    /// An empty report for `file` in `format`.
    pub fn new(file: &str, format: &str) -> Report {
        Report {
            file: file.to_string(),
            format: format.to_string(),
            entity: None,
            snapshot_id: None,
            digest: None,
            entries: 0,
            verified: 0,
            failed: 0,
            unsupported: 0,
            unsigned: 0,
            chains: BTreeMap::new(),
            file_failures: Vec::new(),
            problems: Vec::new(),
            totals: Vec::new(),
            result: "failed",
        }
    }

    /// Records one entry's outcome (call in file order).
    pub fn record(
        &mut self,
        entry: u64,
        line: Option<u64>,
        chain: &str,
        address: &str,
        outcome: Outcome,
    ) {
        self.entries += 1;
        let c = self.chains.entry(chain.to_string()).or_default();
        c.entries += 1;
        let (status, reason) = match outcome {
            Outcome::Verified => {
                c.verified += 1;
                self.verified += 1;
                return;
            }
            Outcome::Failed(r) => {
                c.failed += 1;
                self.failed += 1;
                ("failed", r)
            }
            Outcome::Unsupported(r) => {
                c.unsupported += 1;
                self.unsupported += 1;
                ("unsupported", r)
            }
            Outcome::Unsigned(r) => {
                c.unsigned += 1;
                self.unsigned += 1;
                ("unsigned", r)
            }
        };
        self.problems.push(Problem {
            entry,
            line,
            chain: chain.to_string(),
            address: address.to_string(),
            status,
            reason,
        });
    }

    /// Settles `result`: verified only when there is at least one entry that is not unsigned,
    /// no failure of the file or of an entry, and (unless allowed) no unsupported entry.
    /// Unsigned rows alone fail nothing: they are counted and listed, never verified.
    pub fn finish(&mut self, allow_unsupported: bool) {
        let ok = self.entries > self.unsigned
            && self.failed == 0
            && self.file_failures.is_empty()
            && (allow_unsupported || self.unsupported == 0);
        self.result = if ok { "verified" } else { "failed" };
    }

    /// The exit status: 0 verified, 1 failed.
    pub fn exit_code(&self) -> i32 {
        if self.result == "verified" {
            0
        } else {
            1
        }
    }

    /// The report as stable JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("report serializes")
    }

    /// The report for people: a line per problem, then a summary per chain.
    pub fn to_human(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}: {} format", self.file, self.format);
        for f in &self.file_failures {
            let _ = writeln!(out, "FAIL file {}: {f}", self.file);
        }
        for p in &self.problems {
            let place = match p.line {
                Some(l) => format!("line {l}"),
                None => format!("entry {}", p.entry),
            };
            let tag = match p.status {
                "failed" => "FAIL",
                "unsigned" => "UNSIGNED",
                _ => "UNSUPPORTED",
            };
            let _ = writeln!(out, "{tag} {place} {} {}: {}", p.chain, p.address, p.reason);
        }
        let width = self
            .chains
            .keys()
            .map(|k| k.chars().count())
            .max()
            .unwrap_or(0)
            .max(16);
        let row = |out: &mut String, name: &str, c: &ChainSummary| {
            let _ = write!(
                out,
                "{:<width$} {:>10} {:>10} {:>10} {:>12}",
                name, c.entries, c.verified, c.failed, c.unsupported
            );
            if self.unsigned > 0 {
                let _ = write!(out, " {:>10}", c.unsigned);
            }
            out.push('\n');
        };
        let _ = write!(
            out,
            "{:<width$} {:>10} {:>10} {:>10} {:>12}",
            "chain", "entries", "verified", "failed", "unsupported"
        );
        out.push_str(if self.unsigned > 0 {
            "   unsigned\n"
        } else {
            "\n"
        });
        for (name, c) in &self.chains {
            row(&mut out, name, c);
        }
        let total = ChainSummary {
            entries: self.entries,
            verified: self.verified,
            failed: self.failed,
            unsupported: self.unsupported,
            unsigned: self.unsigned,
        };
        row(&mut out, "total", &total);
        if !self.totals.is_empty() {
            let _ = writeln!(
                out,
                "stated totals (summary block) against the rows, exact decimals:"
            );
            for t in &self.totals {
                let place = t
                    .line
                    .map_or_else(|| "-".to_string(), |l| format!("line {l}"));
                let _ = writeln!(
                    out,
                    "  {:<9} {:<24} {:<10} stated {} summed {} ({}) over {} row{} (verified {}, unsigned {})",
                    place,
                    t.coin,
                    t.status.to_ascii_uppercase(),
                    t.stated.as_deref().unwrap_or("-"),
                    t.summed,
                    t.against,
                    t.rows,
                    if t.rows == 1 { "" } else { "s" },
                    t.on_verified,
                    t.on_unsigned
                );
            }
        }
        if let Some(d) = &self.digest {
            let _ = writeln!(
                out,
                "digest {}: {}",
                if d.ok { "ok" } else { "MISMATCH" },
                d.computed
            );
        }
        let _ = writeln!(
            out,
            "{}: {}",
            self.file,
            if self.result == "verified" {
                "VERIFIED"
            } else {
                "FAILED"
            }
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_result() {
        let mut r = Report::new("f", "x");
        r.finish(false);
        assert_eq!(r.exit_code(), 1, "an empty file proves nothing");
        r.record(0, None, "BTC", "a", Outcome::Verified);
        r.finish(false);
        assert_eq!(r.exit_code(), 0);
        r.record(1, Some(7), "ETH", "b", Outcome::Unsupported("x".into()));
        r.finish(false);
        assert_eq!(r.exit_code(), 1);
        r.finish(true);
        assert_eq!(r.exit_code(), 0);
        r.record(2, None, "ETH", "c", Outcome::Failed("bad".into()));
        r.finish(true);
        assert_eq!(r.exit_code(), 1);
        assert_eq!(r.chains["ETH"].entries, 2);
        let h = r.to_human();
        assert!(h.contains("FAIL entry 2 ETH c: bad"), "{h}");
        assert!(h.contains("UNSUPPORTED line 7 ETH b: x"), "{h}");
        let j: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(j["failed"], 1);
        assert_eq!(j["problems"][1]["reason"], "bad");
    }
}
