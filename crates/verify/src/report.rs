//! The verification report: per-entry outcomes summarised per chain, the failures with their
//! reasons, human and JSON renderings, and the exit status scripts can trust.
//!
//! `verified`, `failed` and `unsupported` count addresses: an entry is one address, an account
//! entry counts each address it lists (all of them failed when the account itself fails).

use crate::balance::{plain, BalanceTotal};
use crate::claim::{Claim, OnchainOutcome};
pub use crate::failure::{Failure, FailureCode};
use bigdecimal::BigDecimal;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write;

/// The outcome of checking one entry (or one row of an exchange file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every signature checked out for the stated address and message.
    Verified,
    /// Something did not check out; the failure says what (its code and reason).
    Failed(Failure),
    /// The coin or scheme is one this build cannot check; never counted as verified.
    Unsupported(String),
    /// The file publishes the row without a signature (exchange files); never counted as
    /// verified, and not a failure on its own.
    Unsigned(String),
}

impl Outcome {
    /// A failure of this kind with this reason.
    pub fn failed(code: FailureCode, reason: impl Into<String>) -> Outcome {
        Outcome::Failed(Failure::new(code, reason))
    }

    /// Why it is not verified (a failure's reason, or what is unsupported or unsigned);
    /// `None` when verified.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Outcome::Verified => None,
            Outcome::Failed(f) => Some(&f.reason),
            Outcome::Unsupported(r) | Outcome::Unsigned(r) => Some(r),
        }
    }

    /// The failure, when it is one.
    pub fn failure(&self) -> Option<&Failure> {
        match self {
            Outcome::Failed(f) => Some(f),
            _ => None,
        }
    }
}

/// Counts for one chain (or coin).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ChainSummary {
    /// Per-address entries (rows of an exchange file).
    pub entries: u64,
    /// Account entries.
    pub accounts: u64,
    /// Addresses: the entries' and the accounts' (what `verified`, `failed`, `unsupported` count).
    pub addresses: u64,
    /// Addresses verified.
    pub verified: u64,
    /// Addresses that failed.
    pub failed: u64,
    /// Addresses this build cannot check.
    pub unsupported: u64,
    /// Rows published without a signature (exchange files).
    pub unsigned: u64,
    /// Addresses a node was asked about but that could not be checked on chain.
    pub not_checked: u64,
}

/// The verdict of a verification.
pub mod verdict {
    /// Everything checked out: every address verified (and, with nodes, on chain).
    pub const VERIFIED: &str = "verified";
    /// Something failed: an entry, an account, a total, an anchor or the file.
    pub const FAILED: &str = "failed";
    /// Nothing failed, but some addresses are unsupported, unsigned or not checked on chain.
    pub const INCOMPLETE: &str = "incomplete";
}

/// The codes of problems that are not failures: an unsupported address, an unsigned row, an
/// address a node could not answer for (`Problem::code` beside [`FailureCode`]s).
pub const STATUS_CODES: [&str; 3] = [UNSUPPORTED, UNSIGNED, NOT_CHECKED_ON_CHAIN];
/// The code of an unsupported address.
pub const UNSUPPORTED: &str = "unsupported";
/// The code of a row published without a signature.
pub const UNSIGNED: &str = "unsigned";
/// The code of an address a node was asked about but could not answer for.
pub const NOT_CHECKED_ON_CHAIN: &str = "not_checked_on_chain";

/// A failure of the file as a whole (its digest, its header, a stated total, an anchor),
/// apart from its entries.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FileFailure {
    /// What kind of failure.
    pub code: FailureCode,
    /// What exactly is wrong, for a person.
    pub reason: String,
    /// The line of the file it is about (an exchange file's summary line).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// The chain it is about (an anchor).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain: Option<String>,
}

impl FileFailure {
    /// A failure of the file with this code and reason.
    pub fn new(code: FailureCode, reason: impl Into<String>) -> FileFailure {
        FileFailure {
            code,
            reason: reason.into(),
            line: None,
            chain: None,
        }
    }

    /// The same failure, about line `line`.
    pub fn at_line(self, line: Option<u64>) -> FileFailure {
        FileFailure { line, ..self }
    }

    /// The same failure, about chain `chain`.
    pub fn of_chain(self, chain: &str) -> FileFailure {
        FileFailure {
            chain: Some(chain.to_string()),
            ..self
        }
    }
}

impl std::fmt::Display for FileFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

/// Exit status of a verification that failed.
pub const EXIT_FAILED: i32 = 1;
/// Exit status of an input that could not be read or understood, or a node that could not be
/// used.
pub const EXIT_INPUT: i32 = 2;
/// Exit status of an incomplete verification (unless allowed, then 0).
pub const EXIT_INCOMPLETE: i32 = 3;

/// A chain's anchor block checked against a node.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AnchorCheck {
    /// The chain.
    pub chain: String,
    /// The anchor height.
    pub height: u64,
    /// The block hash the file states (absent: the file states none, e.g. OKX).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stated: Option<String>,
    /// The hash of the node's block at that height.
    pub node: String,
    /// The node's endpoint (without credentials).
    pub endpoint: String,
    /// `ok`, `mismatch` or `not stated`.
    pub status: &'static str,
}

/// One entry, account or account address that did not verify.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Problem {
    /// Index of the entry in the file (0-based); absent for an account's problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<u64>,
    /// Index of the account entry (0-based), for a problem of an account or of its address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<u64>,
    /// An account address's relative path below the account key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// A whole account's problem: how many addresses it takes down.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addresses: Option<u64>,
    /// Line number in the file, where the format has lines (CSV).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// The entry's chain.
    pub chain: String,
    /// The address; for a whole account's problem, the account's key or descriptor.
    pub address: String,
    /// `failed`, `unsupported`, `unsigned` or `not checked on chain`.
    pub status: &'static str,
    /// A failure's [`FailureCode`]; for the other statuses one of [`STATUS_CODES`].
    pub code: &'static str,
    /// Why it failed or is unsupported.
    pub reason: String,
}

impl Problem {
    /// Where it is, for a person: `line 14` (exchange files), `entry 3`, `account 0 path 0/7`,
    /// `account 1 (10 addresses)`.
    pub fn place(&self) -> String {
        match (self.line, self.entry, self.account, &self.path) {
            (Some(l), _, _, _) => format!("line {l}"),
            (None, Some(e), _, _) => format!("entry {e}"),
            (None, None, Some(a), Some(path)) => format!("account {a} path {path}"),
            (None, None, Some(a), None) => match self.addresses {
                Some(n) => format!("account {a} ({n} addresses)"),
                None => format!("account {a}"),
            },
            (None, None, None, _) => "file".to_string(),
        }
    }
}

/// An account entry as the report records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRecord {
    /// Its index (0-based) among the snapshot's accounts.
    pub index: u64,
    /// Its chain.
    pub chain: String,
    /// Its key or descriptor text.
    pub key: String,
    /// How many addresses it lists.
    pub addresses: u64,
    /// The account's own outcome: its message, signatures, key and paths.
    pub outcome: Outcome,
}

/// One address of a (verified) account that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressFailure {
    /// Its relative path.
    pub path: String,
    /// The address as listed.
    pub address: String,
    /// Why it failed.
    pub failure: Failure,
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
    /// The snapshot height the summary line states (absent: `-`, or no line).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u64>,
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

/// How many legacy entries the report lists by index.
pub const LEGACY_LISTED: usize = 20;

fn is_zero(n: &u64) -> bool {
    *n == 0
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
    /// The SHA-256 of the file's bytes, `sha256:…` (exchange files, which state no digest).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_sha256: Option<String>,
    /// Per-address entries (rows of an exchange file).
    pub entries: u64,
    /// Account entries.
    pub accounts: u64,
    /// Account entries that failed as a whole (signature, message, key, a path).
    pub accounts_failed: u64,
    /// Addresses checked: one per entry, and each address of each account.
    pub addresses: u64,
    /// Addresses verified.
    pub verified: u64,
    /// Addresses that failed.
    pub failed: u64,
    /// Addresses this build cannot check.
    pub unsupported: u64,
    /// Rows published without a signature (exchange files).
    pub unsigned: u64,
    /// Addresses a node was asked about but that could not be checked on chain.
    pub not_checked: u64,
    /// Per chain, in name order.
    pub chains: BTreeMap<String, ChainSummary>,
    /// Failures of the file as a whole (digest, header, stated totals, anchors), apart from
    /// its entries, each with its code.
    pub file_failures: Vec<FileFailure>,
    /// Entries that failed, are unsupported or unsigned, in file order.
    pub problems: Vec<Problem>,
    /// The file's stated totals against its rows (exchange files with a summary block).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub totals: Vec<TotalCheck>,
    /// Stated balances per chain and asset (and what nodes said of them), keyed by
    /// [`BalanceTotal::key`].
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub balances: BTreeMap<String, BalanceTotal>,
    /// The anchors checked against nodes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub anchors: Vec<AnchorCheck>,
    /// Verified Bitcoin entries whose only proof is a legacy signed message on an address
    /// that is not P2PKH: valid by our rules (as wallets and older snapshots sign), but no
    /// BIP-322 proof, which other verifiers would reject.
    #[serde(skip_serializing_if = "is_zero")]
    pub legacy: u64,
    /// The first [`LEGACY_LISTED`] of those entries' indices.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub legacy_entries: Vec<u64>,
    /// The verdict: [`verdict::VERIFIED`], [`verdict::FAILED`] or [`verdict::INCOMPLETE`].
    pub result: &'static str,
    /// What a node can check, one per address, when the verification was asked to collect
    /// them (not part of the printed report).
    #[serde(skip)]
    pub claims: Vec<Claim>,
    /// An incomplete verdict exits 0 (`--allow-unsupported`).
    #[serde(skip)]
    pub allow_incomplete: bool,
    /// The anchors the file states (snapshots), for a node to check.
    #[serde(skip)]
    pub stated_anchors: BTreeMap<String, crate::snapshot::Anchor>,
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
            file_sha256: None,
            entries: 0,
            accounts: 0,
            accounts_failed: 0,
            addresses: 0,
            verified: 0,
            failed: 0,
            unsupported: 0,
            unsigned: 0,
            not_checked: 0,
            chains: BTreeMap::new(),
            file_failures: Vec::new(),
            problems: Vec::new(),
            totals: Vec::new(),
            balances: BTreeMap::new(),
            anchors: Vec::new(),
            legacy: 0,
            legacy_entries: Vec::new(),
            result: verdict::FAILED,
            claims: Vec::new(),
            allow_incomplete: false,
            stated_anchors: BTreeMap::new(),
        }
    }

    /// Adds a stated balance of `asset` on `chain` to its total; `verified` says whether its
    /// address verified.
    pub fn add_balance(&mut self, chain: &str, asset: &str, value: &BigDecimal, verified: bool) {
        let t = self.balance_total(chain, asset);
        t.addresses += 1;
        t.stated += value;
        if verified {
            t.on_verified += value;
        }
    }

    /// Adds `count` stated balances adding up to `all` (of which `verified` on addresses that
    /// verified) to the total of `asset` on `chain`.
    pub fn add_balances(
        &mut self,
        chain: &str,
        asset: &str,
        count: u64,
        all: &BigDecimal,
        verified: &BigDecimal,
    ) {
        if count == 0 {
            return;
        }
        let t = self.balance_total(chain, asset);
        t.addresses += count;
        t.stated += all;
        t.on_verified += verified;
    }

    /// The total of `asset` on `chain`, created on first use.
    pub fn balance_total(&mut self, chain: &str, asset: &str) -> &mut BalanceTotal {
        self.balances
            .entry(BalanceTotal::key(chain, asset))
            .or_insert_with(|| BalanceTotal {
                chain: chain.to_string(),
                asset: asset.to_string(),
                ..BalanceTotal::default()
            })
    }

    fn count(&mut self, chain: &str, status: &str, up: bool) {
        let c = self.chains.entry(chain.to_string()).or_default();
        let (a, b) = match status {
            "verified" => (&mut self.verified, &mut c.verified),
            "failed" => (&mut self.failed, &mut c.failed),
            "unsupported" => (&mut self.unsupported, &mut c.unsupported),
            "unsigned" => (&mut self.unsigned, &mut c.unsigned),
            _ => (&mut self.not_checked, &mut c.not_checked),
        };
        if up {
            *a += 1;
            *b += 1;
        } else {
            *a = a.saturating_sub(1);
            *b = b.saturating_sub(1);
        }
    }

    /// Applies what nodes said of claims (indices into [`Report::claims`]): each address
    /// leaves its offline status for the new one (verified, failed with the reason, or not
    /// checked on chain with the reason), its problem replaced. An address with several claims
    /// (its native balance and its tokens) takes the worst of them: failed, then not checked,
    /// then verified. Problems stay in file order.
    pub fn apply_onchain(&mut self, updates: Vec<(usize, OnchainOutcome)>) {
        type Key = (Option<u64>, Option<u64>, Option<String>);
        let mut merged: Vec<(Key, Vec<usize>, OnchainOutcome)> = Vec::new();
        let mut at: HashMap<Key, usize> = HashMap::new();
        for (i, to) in updates {
            let c = &self.claims[i];
            let key = (c.entry, c.account, c.path.clone());
            match at.get(&key) {
                None => {
                    at.insert(key.clone(), merged.len());
                    merged.push((key, vec![i], to));
                }
                Some(&k) => {
                    let (_, claims, was) = &mut merged[k];
                    claims.push(i);
                    *was = worse(std::mem::replace(was, OnchainOutcome::Verified), to);
                }
            }
        }
        let mut changed: HashSet<Key> = HashSet::new();
        let mut added = Vec::new();
        for (key, claims, to) in merged {
            let c = self.claims[claims[0]].clone();
            let (status, code, reason) = match to {
                OnchainOutcome::Verified => ("verified", "verified", None),
                OnchainOutcome::Failed(f) => ("failed", f.code.as_str(), Some(f.reason)),
                OnchainOutcome::NotChecked(r) => {
                    ("not checked on chain", NOT_CHECKED_ON_CHAIN, Some(r))
                }
            };
            if status == c.status && reason.is_none() {
                continue;
            }
            self.count(&c.chain, c.status, false);
            self.count(&c.chain, status, true);
            for i in claims {
                self.claims[i].status = status;
            }
            changed.insert(key);
            if let Some(reason) = reason {
                added.push(Problem {
                    entry: c.entry,
                    account: c.account,
                    path: c.path.clone(),
                    addresses: None,
                    line: c.line,
                    chain: c.chain.clone(),
                    address: c.address.clone(),
                    status,
                    code,
                    reason,
                });
            }
        }
        if changed.is_empty() {
            return;
        }
        self.problems.retain(|p| {
            p.addresses.is_some() || !changed.contains(&(p.entry, p.account, p.path.clone()))
        });
        self.problems.extend(added);
        self.problems
            .sort_by_key(|p| (p.account.is_some(), p.account, p.entry));
    }

    /// Notes that verified entry `entry` is proven by legacy signed messages only (see
    /// [`Report::legacy`]).
    pub fn note_legacy(&mut self, entry: u64) {
        self.legacy += 1;
        if self.legacy_entries.len() < LEGACY_LISTED {
            self.legacy_entries.push(entry);
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
        self.addresses += 1;
        let c = self.chains.entry(chain.to_string()).or_default();
        c.entries += 1;
        c.addresses += 1;
        let (status, code, reason) = match outcome {
            Outcome::Verified => {
                c.verified += 1;
                self.verified += 1;
                return;
            }
            Outcome::Failed(f) => {
                c.failed += 1;
                self.failed += 1;
                ("failed", f.code.as_str(), f.reason)
            }
            Outcome::Unsupported(r) => {
                c.unsupported += 1;
                self.unsupported += 1;
                ("unsupported", UNSUPPORTED, r)
            }
            Outcome::Unsigned(r) => {
                c.unsigned += 1;
                self.unsigned += 1;
                ("unsigned", UNSIGNED, r)
            }
        };
        self.problems.push(Problem {
            entry: Some(entry),
            account: None,
            path: None,
            addresses: None,
            line,
            chain: chain.to_string(),
            address: address.to_string(),
            status,
            code,
            reason,
        });
    }

    /// Records one account entry (call in file order, after the entries): `outcome` is the
    /// account's own (message, signatures, key, paths); when it is not verified, every one of its
    /// `addresses` counts as failed (or unsupported) under one problem. Otherwise `failures`
    /// are its addresses that failed, each with its position, path, address and reason.
    pub fn record_account(&mut self, account: &AccountRecord, failures: Vec<AddressFailure>) {
        self.accounts += 1;
        self.addresses += account.addresses;
        let c = self.chains.entry(account.chain.clone()).or_default();
        c.accounts += 1;
        c.addresses += account.addresses;
        let whole = |status, code, reason: &String| Problem {
            entry: None,
            account: Some(account.index),
            path: None,
            addresses: Some(account.addresses),
            line: None,
            chain: account.chain.clone(),
            address: account.key.clone(),
            status,
            code,
            reason: reason.clone(),
        };
        match &account.outcome {
            Outcome::Failed(f) => {
                self.accounts_failed += 1;
                c.failed += account.addresses;
                self.failed += account.addresses;
                self.problems
                    .push(whole("failed", f.code.as_str(), &f.reason));
            }
            // An account is signed or it fails: never an unsigned row.
            Outcome::Unsigned(r) => {
                self.accounts_failed += 1;
                c.failed += account.addresses;
                self.failed += account.addresses;
                self.problems
                    .push(whole("failed", FailureCode::NoSignature.as_str(), r));
            }
            Outcome::Unsupported(r) => {
                self.accounts_failed += 1;
                c.unsupported += account.addresses;
                self.unsupported += account.addresses;
                self.problems.push(whole("unsupported", UNSUPPORTED, r));
            }
            Outcome::Verified => {
                let failed = failures.len() as u64;
                c.failed += failed;
                self.failed += failed;
                c.verified += account.addresses - failed;
                self.verified += account.addresses - failed;
                for f in failures {
                    self.problems.push(Problem {
                        entry: None,
                        account: Some(account.index),
                        path: Some(f.path),
                        addresses: None,
                        line: None,
                        chain: account.chain.clone(),
                        address: f.address,
                        status: "failed",
                        code: f.failure.code.as_str(),
                        reason: f.failure.reason,
                    });
                }
            }
        }
    }

    /// Settles `result`: failed when the file, an entry, an account, a total or an anchor
    /// failed, or when there is no address at all; else incomplete when some addresses are
    /// unsupported, unsigned or not checked on chain; else verified. `allow_incomplete`
    /// (`--allow-unsupported`) lets an incomplete verdict exit 0; the verdict still says
    /// incomplete.
    pub fn finish(&mut self, allow_incomplete: bool) {
        self.allow_incomplete = allow_incomplete;
        let failed = self.addresses == 0
            || self.failed > 0
            || self.accounts_failed > 0
            || !self.file_failures.is_empty();
        self.result = if failed {
            verdict::FAILED
        } else if self.unsupported + self.unsigned + self.not_checked > 0 {
            verdict::INCOMPLETE
        } else {
            verdict::VERIFIED
        };
    }

    /// The exit status: 0 verified, 1 failed, 3 incomplete (0 when allowed).
    pub fn exit_code(&self) -> i32 {
        match self.result {
            verdict::VERIFIED => 0,
            verdict::INCOMPLETE if self.allow_incomplete => 0,
            verdict::INCOMPLETE => EXIT_INCOMPLETE,
            _ => EXIT_FAILED,
        }
    }

    /// The counts behind the verdict: `12 verified, 0 failed, 1 unsupported, …`.
    pub fn verdict_counts(&self) -> String {
        let mut counts = format!(
            "{} verified, {} failed, {} unsupported",
            self.verified, self.failed, self.unsupported
        );
        if self.unsigned > 0 {
            let _ = write!(counts, ", {} unsigned", self.unsigned);
        }
        if self.not_checked > 0 || !self.anchors.is_empty() {
            let _ = write!(counts, ", {} not checked on chain", self.not_checked);
        }
        if !self.file_failures.is_empty() {
            let n = self.file_failures.len();
            let _ = write!(
                counts,
                ", {n} file failure{}",
                if n == 1 { "" } else { "s" }
            );
        }
        counts
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
        if self.legacy > 0 {
            let listed: Vec<String> = self.legacy_entries.iter().map(u64::to_string).collect();
            let _ = writeln!(
                out,
                "LEGACY {} Bitcoin entr{} proven by legacy signed messages on addresses that \
                 are not P2PKH (valid here; BIP-322 verifiers reject them: re-sign through the \
                 Bitcoin app's SIGN_PSBT, app 2.1.3 or later): entries {}{}",
                self.legacy,
                if self.legacy == 1 { "y" } else { "ies" },
                listed.join(", "),
                if self.legacy > listed.len() as u64 {
                    ", ..."
                } else {
                    ""
                }
            );
        }
        for p in &self.problems {
            let place = p.place();
            let tag = match p.status {
                "failed" => "FAIL",
                "unsigned" => "UNSIGNED",
                "unsupported" => "UNSUPPORTED",
                _ => "NOT-CHECKED",
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
        // With accounts, the accounts and their addresses are counted too.
        let with_accounts = self.accounts > 0;
        let row = |out: &mut String, name: &str, c: &ChainSummary| {
            let _ = write!(out, "{:<width$} {:>10}", name, c.entries);
            if with_accounts {
                let _ = write!(out, " {:>10} {:>10}", c.accounts, c.addresses);
            }
            let _ = write!(
                out,
                " {:>10} {:>10} {:>12}",
                c.verified, c.failed, c.unsupported
            );
            if self.unsigned > 0 {
                let _ = write!(out, " {:>10}", c.unsigned);
            }
            if self.not_checked > 0 {
                let _ = write!(out, " {:>12}", c.not_checked);
            }
            out.push('\n');
        };
        let _ = write!(out, "{:<width$} {:>10}", "chain", "entries");
        if with_accounts {
            let _ = write!(out, " {:>10} {:>10}", "accounts", "addresses");
        }
        let _ = write!(
            out,
            " {:>10} {:>10} {:>12}",
            "verified", "failed", "unsupported"
        );
        if self.unsigned > 0 {
            out.push_str("   unsigned");
        }
        if self.not_checked > 0 {
            out.push_str("  not checked");
        }
        out.push('\n');
        for (name, c) in &self.chains {
            row(&mut out, name, c);
        }
        let total = ChainSummary {
            entries: self.entries,
            accounts: self.accounts,
            addresses: self.addresses,
            verified: self.verified,
            failed: self.failed,
            unsupported: self.unsupported,
            unsigned: self.unsigned,
            not_checked: self.not_checked,
        };
        row(&mut out, "total", &total);
        if !self.balances.is_empty() {
            let _ = writeln!(out, "stated balances per chain and asset, exact decimals:");
            for t in self.balances.values() {
                let _ = write!(
                    out,
                    "  {:<24} {:>28} over {} address{} ({} on verified addresses)",
                    format!("{} {}", t.chain, t.asset),
                    plain(&t.stated),
                    t.addresses,
                    if t.addresses == 1 { "" } else { "es" },
                    plain(&t.on_verified)
                );
                if let Some(on) = &t.onchain {
                    let _ = write!(
                        out,
                        "; on chain {} over {} address{}, {} mismatch{}",
                        plain(on),
                        t.onchain_addresses,
                        if t.onchain_addresses == 1 { "" } else { "es" },
                        t.mismatches,
                        if t.mismatches == 1 { "" } else { "es" }
                    );
                }
                out.push('\n');
            }
        }
        for a in &self.anchors {
            let _ = writeln!(
                out,
                "anchor {} {} at height {}: node {} says {}{}",
                a.chain,
                a.status.to_ascii_uppercase(),
                a.height,
                a.endpoint,
                a.node,
                a.stated
                    .as_ref()
                    .map_or_else(String::new, |s| format!(", the file states {s}"))
            );
        }
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
        // The last line is the verdict alone (scripts read it); the counts come just before.
        let _ = writeln!(out, "addresses: {}", self.verdict_counts());
        let _ = writeln!(out, "{}: {}", self.file, self.result.to_ascii_uppercase());
        out
    }
}

/// The worse of two on-chain outcomes of one address: failed (both reasons when both
/// failed), then not checked on chain, then verified.
fn worse(a: OnchainOutcome, b: OnchainOutcome) -> OnchainOutcome {
    use OnchainOutcome as O;
    match (a, b) {
        (O::Failed(mut x), O::Failed(y)) => {
            x.reason = format!("{}; {}", x.reason, y.reason);
            O::Failed(x)
        }
        (f @ O::Failed(_), _) | (_, f @ O::Failed(_)) => f,
        (O::NotChecked(x), O::NotChecked(y)) => O::NotChecked(format!("{x}; {y}")),
        (n @ O::NotChecked(_), _) | (_, n @ O::NotChecked(_)) => n,
        (O::Verified, O::Verified) => O::Verified,
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
        assert_eq!(r.result, verdict::VERIFIED);
        r.record(1, Some(7), "ETH", "b", Outcome::Unsupported("x".into()));
        r.finish(false);
        assert_eq!(
            (r.result, r.exit_code()),
            (verdict::INCOMPLETE, EXIT_INCOMPLETE)
        );
        assert!(r
            .to_human()
            .ends_with("addresses: 1 verified, 0 failed, 1 unsupported\nf: INCOMPLETE\n"));
        r.finish(true);
        assert_eq!((r.result, r.exit_code()), (verdict::INCOMPLETE, 0));
        r.record(
            3,
            None,
            "ETH",
            "d",
            Outcome::Unsigned("no signature".into()),
        );
        r.finish(false);
        assert_eq!(
            (r.result, r.exit_code()),
            (verdict::INCOMPLETE, 3),
            "unsigned"
        );
        r.record(
            2,
            None,
            "ETH",
            "c",
            Outcome::Failed(Failure::new(FailureCode::InvalidSignature, "bad")),
        );
        r.finish(true);
        assert_eq!((r.result, r.exit_code()), (verdict::FAILED, 1));
        let j: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(j["result"], "failed");
        assert_eq!(r.chains["ETH"].entries, 3);
        let h = r.to_human();
        assert!(h.contains("FAIL entry 2 ETH c: bad"), "{h}");
        assert!(h.contains("UNSUPPORTED line 7 ETH b: x"), "{h}");
        let j: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(j["failed"], 1);
        assert_eq!(j["problems"][2]["reason"], "bad");
        assert_eq!(j["problems"][2]["code"], "invalid_signature");
    }

    #[test]
    fn accounts_count_their_addresses() {
        let mut r = Report::new("f", "x");
        r.record(0, None, "BTC", "a", Outcome::Verified);
        let acct = |index, outcome| AccountRecord {
            index,
            chain: "BTC".into(),
            key: "xpubA".into(),
            addresses: 10,
            outcome,
        };
        r.record_account(
            &acct(0, Outcome::Verified),
            vec![AddressFailure {
                path: "0/3".into(),
                address: "bc1qx".into(),
                failure: Failure::new(FailureCode::DerivedAddressMismatch, "wrong"),
            }],
        );
        r.finish(false);
        assert_eq!(
            (r.entries, r.accounts, r.addresses, r.verified, r.failed),
            (1, 1, 11, 10, 1)
        );
        assert_eq!(r.exit_code(), 1);
        r.record_account(
            &acct(
                1,
                Outcome::Failed(Failure::new(FailureCode::WrongKey, "bad signature")),
            ),
            vec![],
        );
        r.finish(false);
        assert_eq!((r.addresses, r.failed, r.accounts_failed), (21, 11, 1));
        let c = &r.chains["BTC"];
        assert_eq!(
            (c.entries, c.accounts, c.addresses, c.verified),
            (1, 2, 21, 10)
        );
        let h = r.to_human();
        assert!(
            h.contains("FAIL account 0 path 0/3 BTC bc1qx: wrong"),
            "{h}"
        );
        assert!(
            h.contains("FAIL account 1 (10 addresses) BTC xpubA: bad signature"),
            "{h}"
        );
        assert!(h.contains("addresses"), "{h}");
        let j: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(j["problems"][0]["account"], 0);
        assert_eq!(j["problems"][0]["path"], "0/3");
        assert!(j["problems"][0].get("entry").is_none());
        assert_eq!(j["problems"][1]["addresses"], 10);
        assert_eq!(j["problems"][0]["code"], "derived_address_mismatch");
        assert_eq!(j["problems"][1]["code"], "wrong_key");
        // An account that fails with no addresses still fails the report.
        let mut r = Report::new("f", "x");
        r.record(0, None, "BTC", "a", Outcome::Verified);
        r.record_account(
            &AccountRecord {
                addresses: 0,
                ..acct(
                    0,
                    Outcome::Failed(Failure::new(FailureCode::NoAddresses, "lists no addresses")),
                )
            },
            vec![],
        );
        r.finish(false);
        assert_eq!(r.exit_code(), 1);
    }
}
