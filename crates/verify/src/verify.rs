//! `por-attest verify` for snapshots: every entry checked against its address, message and
//! signatures, every account against its key, message and signatures and each of its
//! addresses against the derivation at its path, in parallel, streaming, with the report kept
//! in file order.

use crate::account::{self, Account, AccountAddress, AccountKeys, AccountTally};
use crate::chains::ChainFamily;
use crate::claim::{Claim, ClaimToken};
use crate::error::InputError;
use crate::report::{DigestCheck, FailureCode, FileFailure, Outcome, Report};
use crate::snapshot::{self, AccountUnit, Anchor, Entry, Header};
use bigdecimal::BigDecimal;
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{mpsc, Arc};

mod entry;
mod progress;

pub use entry::{
    contract_wallet_owners, entry_balance, entry_tokens, is_legacy_proof, repeated_token,
    token_problem, verify_entry, SnapshotContext,
};
pub use progress::{open_with_progress, progress_bar, styled_bar, ProgressReader};

/// How to run a verification.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Worker threads; 0 means one per core.
    pub threads: usize,
    /// Show a progress bar on stderr (only drawn on a terminal).
    pub progress: bool,
    /// Collect a [`crate::claim::Claim`] per address in the report, for a node to check.
    pub claims: bool,
}

const BATCH: usize = 2048;

/// Entries per batch of the parallel path: small enough to keep all workers busy and memory
/// flat, large enough that handing a batch over costs nothing next to verifying it.
const FAST_BATCH: usize = 512;
const FAST_BATCH_BYTES: usize = 1 << 20;

/// Account addresses per batch: an address costs a derivation, about what an entry's
/// signature costs, so the same size.
const ADDRESS_BATCH: usize = 512;

enum Msg {
    Header(Box<Header>),
    Batch(Vec<(u64, Entry)>),
    Account(u64, Box<Account>),
}

/// Verifies the snapshot file at `path`. An `Err` means the file could not be read or
/// understood (exit status 2); otherwise the report says what verified.
///
/// Well-formed files take the parallel path: the file is read in large blocks and split at
/// the entry boundaries of the top-level array (and at the address boundaries inside each
/// account); worker threads parse, verify and re-serialize (for the digest) the entries and
/// addresses; this thread hashes and records the results in file order. Anything the splitter
/// does not take (bad JSON, bad fields, another layout) is read again by the streaming parser,
/// whose errors name the line, entry and field.
pub fn verify_snapshot_file(path: &Path, opts: &VerifyOptions) -> Result<Report, InputError> {
    match verify_parallel(path, opts)? {
        Some(report) => Ok(report),
        None => verify_streaming(path, opts),
    }
}

/// One verified entry, as the collector needs it.
struct Checked {
    chain: String,
    address: String,
    outcome: Outcome,
    /// Proven by legacy signed messages only on an address that is not P2PKH.
    legacy: bool,
    /// Duplicate-detection key of (chain, address).
    key: u128,
    /// The stated balance, when well-formed.
    balance: Option<BigDecimal>,
    /// Bitcoin: the coins listed at the anchor.
    coins: Vec<snapshot::Coin>,
    /// EVM: the well-formed token balances (asset, contract, balance).
    tokens: Vec<(String, ClaimToken, BigDecimal)>,
    /// A contract wallet left unsupported offline: the owners whose signatures verified.
    owners: Vec<String>,
}

impl Checked {
    /// Entry `e` checked against `ctx`, with what the collector needs of it.
    fn new(ctx: &SnapshotContext, e: &Entry) -> Checked {
        let outcome = verify_entry(ctx, e);
        Checked {
            chain: e.chain.clone(),
            address: e.address.clone(),
            key: address_key(&e.chain, &e.address),
            balance: entry_balance(e),
            legacy: is_legacy_proof(e),
            coins: e.coins.clone(),
            tokens: entry_tokens(e)
                .into_iter()
                .map(|(t, b)| {
                    let token = ClaimToken {
                        contract: t.contract.clone(),
                        decimals: t.decimals,
                    };
                    (t.asset.trim().to_string(), token, b)
                })
                .collect(),
            owners: contract_wallet_owners(e, &outcome),
            outcome,
        }
    }
}

/// What the collector keeps beside the report while recording in file order: the addresses
/// seen (duplicates), and when claims are collected, the anchors.
#[derive(Default)]
struct Sink {
    seen: SeenAddresses,
    /// `Some` when claims are collected.
    anchors: Option<BTreeMap<String, Anchor>>,
}

impl Sink {
    fn new(claims: bool) -> Sink {
        Sink {
            seen: SeenAddresses::default(),
            anchors: claims.then(BTreeMap::new),
        }
    }

    fn header(&mut self, h: &Header) {
        if let Some(a) = &mut self.anchors {
            *a = h.anchors.clone();
        }
    }

    /// Records entry `index`: duplicate detection, its balance in the totals, its claim.
    fn entry(&mut self, report: &mut Report, index: u64, c: Checked) {
        let mut outcome = c.outcome;
        let first = self.seen.insert(c.key, Location::Entry(index));
        if let Some(first) = first {
            outcome = Outcome::failed(
                crate::report::FailureCode::DuplicateAddress,
                format!(
                    "duplicate address: {first} already lists {} on {}",
                    c.address, c.chain
                ),
            );
        }
        let verified = outcome == Outcome::Verified;
        if verified && c.legacy {
            report.note_legacy(index);
        }
        if first.is_none() {
            if let Some(b) = &c.balance {
                report.add_balance(&c.chain, &c.chain, b, verified);
            }
            for (asset, _, b) in &c.tokens {
                report.add_balance(&c.chain, asset, b, verified);
            }
        }
        if let Some(anchors) = &self.anchors {
            let claim = |asset: &str, token, balance| Claim {
                entry: Some(index),
                line: None,
                account: None,
                path: None,
                chain: c.chain.clone(),
                node_chain: c.chain.clone(),
                asset: asset.to_string(),
                token,
                address: c.address.clone(),
                balance,
                rounding: None,
                height: anchors.get(&c.chain).map(|a| a.height),
                status: status_of(&outcome),
                owners: c.owners.clone(),
                coins: Vec::new(),
            };
            let mut native = claim(&c.chain, None, c.balance.clone());
            native.coins = c.coins;
            report.claims.push(native);
            for (asset, token, b) in c.tokens {
                report.claims.push(claim(&asset, Some(token), Some(b)));
            }
        }
        report.record(index, None, &c.chain, &c.address, outcome);
    }

    /// Has an account's tally collect its claims, when asked.
    fn account(&self, t: &mut AccountTally) {
        if let Some(anchors) = &self.anchors {
            t.collect_claims(anchors.get(t.chain()).map(|x| x.height));
        }
    }
}

/// The report status of an outcome.
pub(crate) fn status_of(o: &Outcome) -> &'static str {
    match o {
        Outcome::Verified => "verified",
        Outcome::Failed(_) => "failed",
        Outcome::Unsupported(_) => "unsupported",
        Outcome::Unsigned(_) => "unsigned",
    }
}

/// A batch after the workers: its entries' outcomes and canonical JSON (joined by commas).
struct CheckedBatch {
    first_index: u64,
    items: Vec<Checked>,
    canonical: Vec<u8>,
}

/// A piece of work after the workers, in file order.
enum CheckedUnit {
    /// A batch of entries.
    Entries(CheckedBatch),
    /// An account's own check, and its canonical head.
    AccountHead {
        tally: Box<AccountTally>,
        canonical_head: Vec<u8>,
    },
    /// Consecutive addresses of the current account, and their canonical JSON (joined).
    Addresses {
        first: u64,
        items: Vec<account::CheckedAddress>,
        canonical: Vec<u8>,
    },
    /// The end of the current account.
    AccountEnd,
}

enum Out {
    Header(Box<Header>),
    /// Unit number, and its result (`Err` when something does not parse).
    Unit(u64, Result<CheckedUnit, ()>),
    /// The number of units sent, and the stated digest (`Err`: the splitter gave up).
    End(u64, Result<String, snapshot::SplitBail>),
}

fn check_batch(ctx: &SnapshotContext, raw: &snapshot::RawBatch) -> Result<CheckedBatch, ()> {
    // Parsing and serializing first, then verifying: the curve arithmetic runs back to back,
    // its tables staying in cache rather than sharing it with the JSON work entry by entry.
    let mut entries = Vec::with_capacity(raw.len());
    let mut canonical = Vec::with_capacity(raw.data.len() + raw.len());
    for i in 0..raw.len() {
        let e: Entry = serde_json::from_slice(raw.get(i)).map_err(|_| ())?;
        if i > 0 {
            canonical.push(b',');
        }
        serde_json::to_writer(&mut canonical, &e).map_err(|_| ())?;
        entries.push(e);
    }
    let items = entries.iter().map(|e| Checked::new(ctx, e)).collect();
    Ok(CheckedBatch {
        first_index: raw.first_index,
        items,
        canonical,
    })
}

/// The account being split: what its address batches are checked with.
struct OpenAccount {
    chain: String,
    /// The chain's anchor height.
    anchor: Option<u64>,
    keys: Option<Arc<AccountKeys>>,
}

/// Parses and checks a batch of an account's addresses (on a worker thread).
fn check_address_batch(acct: &OpenAccount, raw: &snapshot::RawBatch) -> Result<CheckedUnit, ()> {
    let mut items: Vec<AccountAddress> = Vec::with_capacity(raw.len());
    let mut canonical = Vec::with_capacity(raw.data.len() + raw.len());
    for i in 0..raw.len() {
        let a: AccountAddress = serde_json::from_slice(raw.get(i)).map_err(|_| ())?;
        if i > 0 {
            canonical.push(b',');
        }
        serde_json::to_writer(&mut canonical, &a).map_err(|_| ())?;
        items.push(a);
    }
    Ok(CheckedUnit::Addresses {
        first: raw.first_index,
        items: account::check_addresses(acct.keys.as_deref(), &acct.chain, acct.anchor, items),
        canonical,
    })
}

/// The parallel path alone; `Ok(None)` when the file is to be read by the streaming parser.
/// [`verify_snapshot_file`] tries it first; it is public so that tests and the fuzz targets
/// can check that both paths give the same report on every file this one takes.
pub fn verify_parallel(path: &Path, opts: &VerifyOptions) -> Result<Option<Report>, InputError> {
    let (reader, bar) = open_with_progress(path, opts.progress)?;
    let size = reader.inner.metadata().map(|m| m.len()).unwrap_or(0);
    let pool = Arc::new(thread_pool(opts.threads));
    // Units in flight (read, being verified, or waiting to be recorded) are bounded by
    // tokens: memory stays flat whatever the size of the file.
    let in_flight = pool.current_num_threads() * 4 + 2;
    let (token_tx, token_rx) = mpsc::sync_channel::<()>(in_flight);
    let (out_tx, out_rx) = mpsc::channel::<Out>();
    let reader_pool = pool.clone();
    let reader_thread = std::thread::Builder::new()
        .name("verify-read".into())
        .spawn(move || {
            let mut split = match snapshot::EntrySplitter::new(reader) {
                Ok(s) => s,
                Err(b) => {
                    let _ = out_tx.send(Out::End(0, Err(b)));
                    return;
                }
            };
            let header = split.header().clone();
            let ctx = Arc::new(SnapshotContext::new(&header));
            if out_tx.send(Out::Header(Box::new(header))).is_err() {
                return;
            }
            let mut seq = 0u64;
            // Hands a unit's work to the pool (or, when `work` is None, its result straight
            // to the collector), in sequence.
            let mut send = |work: Box<dyn FnOnce() -> Result<CheckedUnit, ()> + Send>| {
                if token_tx.send(()).is_err() {
                    return false;
                }
                let tx = out_tx.clone();
                let n = seq;
                reader_pool.spawn(move || {
                    let _ = tx.send(Out::Unit(n, work()));
                });
                seq += 1;
                true
            };
            loop {
                match split.next_batch(FAST_BATCH, FAST_BATCH_BYTES) {
                    Ok(Some(raw)) => {
                        let ctx = ctx.clone();
                        if !send(Box::new(move || {
                            check_batch(&ctx, &raw).map(CheckedUnit::Entries)
                        })) {
                            return;
                        }
                    }
                    Ok(None) => break,
                    Err(b) => {
                        let _ = out_tx.send(Out::End(seq, Err(b)));
                        return;
                    }
                }
            }
            let mut open: Option<Arc<OpenAccount>> = None;
            loop {
                let unit = match split.next_account_unit(ADDRESS_BATCH, FAST_BATCH_BYTES) {
                    Ok(Some(u)) => u,
                    Ok(None) => break,
                    Err(b) => {
                        let _ = out_tx.send(Out::End(seq, Err(b)));
                        return;
                    }
                };
                let sent = match unit {
                    AccountUnit::Head { index, json } => {
                        // Parsed here (it is small): its address batches need its keys.
                        let Ok(a) = serde_json::from_slice::<Account>(&json) else {
                            let _ = out_tx.send(Out::End(
                                seq,
                                Err(snapshot::SplitBail("an account head does not parse".into())),
                            ));
                            return;
                        };
                        let keys = a.keys();
                        open = Some(Arc::new(OpenAccount {
                            chain: a.chain.clone(),
                            anchor: ctx.anchors.get(&a.chain).map(|x| x.height),
                            keys: keys.as_ref().ok().cloned().map(Arc::new),
                        }));
                        let ctx = ctx.clone();
                        send(Box::new(move || {
                            let outcome = account::verify_account(&ctx, &a, &keys);
                            Ok(CheckedUnit::AccountHead {
                                canonical_head: a.canonical_head(),
                                tally: Box::new(AccountTally::new(index, &a, outcome)),
                            })
                        }))
                    }
                    AccountUnit::Addresses { batch, .. } => {
                        let acct = open.clone().expect("a head comes before its addresses");
                        send(Box::new(move || check_address_batch(&acct, &batch)))
                    }
                    AccountUnit::End { .. } => {
                        open = None;
                        send(Box::new(|| Ok(CheckedUnit::AccountEnd)))
                    }
                };
                if !sent {
                    return;
                }
            }
            let _ = out_tx.send(Out::End(seq, split.finish()));
        })
        .map_err(|e| InputError::new(path, format!("cannot start the reader thread: {e}")))?;

    let mut report = Report::new(&path.display().to_string(), snapshot::FORMAT_TAG);
    let mut hasher: Option<snapshot::CanonicalHasher> = None;
    let mut sink = Sink::new(opts.claims);
    let mut reserved = false;
    let mut tally: Option<AccountTally> = None;
    let mut pending: BTreeMap<u64, CheckedUnit> = BTreeMap::new();
    let mut next = 0u64;
    let mut end: Option<(u64, String)> = None;
    let mut gave_up = false;
    while !matches!(&end, Some((total, _)) if next >= *total) {
        let Ok(msg) = out_rx.recv() else {
            gave_up = true; // the reader stopped without saying why
            break;
        };
        match msg {
            Out::Header(h) => {
                report.entity = Some(h.entity.clone());
                report.snapshot_id = Some(h.snapshot_id.clone());
                report.file_failures = SnapshotContext::new(&h).header_failures();
                hasher = Some(snapshot::CanonicalHasher::new(&h));
                sink.header(&h);
                report.stated_anchors = h.anchors.clone();
            }
            Out::Unit(n, Ok(u)) => {
                if !reserved {
                    // Size the duplicate map once from the file size and the first items'
                    // size, rather than doubling it (and the peak memory) as it fills.
                    let (bytes, items) = match &u {
                        CheckedUnit::Entries(b) => (b.canonical.len(), b.items.len()),
                        CheckedUnit::Addresses {
                            canonical, items, ..
                        } => (canonical.len(), items.len()),
                        _ => (0, 0),
                    };
                    if let Some(per_item) = bytes.checked_div(items) {
                        let per_item = per_item as u64 + 6;
                        sink.seen.0.reserve((size / per_item).min(1 << 26) as usize);
                        reserved = true;
                    }
                }
                pending.insert(n, u);
                while let Some(u) = pending.remove(&next) {
                    let h = hasher.as_mut().expect("the header comes before entries");
                    match u {
                        CheckedUnit::Entries(b) => {
                            h.add_serialized_joined(&b.canonical, b.items.len() as u64);
                            for (i, c) in b.items.into_iter().enumerate() {
                                sink.entry(&mut report, b.first_index + i as u64, c);
                            }
                        }
                        CheckedUnit::AccountHead {
                            tally: t,
                            canonical_head,
                        } => {
                            h.add_account_head(&canonical_head);
                            let mut t = *t;
                            sink.account(&mut t);
                            tally = Some(t);
                        }
                        CheckedUnit::Addresses {
                            first,
                            items,
                            canonical,
                        } => {
                            h.add_account_addresses_joined(&canonical, items.len() as u64);
                            let t = tally.as_mut().expect("a head comes before its addresses");
                            add_addresses(t, &mut sink.seen, first, items);
                        }
                        CheckedUnit::AccountEnd => {
                            h.end_account();
                            if let Some(t) = tally.take() {
                                t.finish(&mut report);
                            }
                        }
                    }
                    next += 1;
                    let _ = token_rx.recv();
                }
            }
            Out::Unit(_, Err(())) | Out::End(_, Err(_)) => {
                gave_up = true;
                break;
            }
            Out::End(total, Ok(digest)) => end = Some((total, digest)),
        }
    }
    drop(token_rx);
    drop(out_rx);
    let _ = reader_thread.join();
    bar.finish_and_clear();
    let (Some((_, stated)), Some(hasher), false) = (end, hasher, gave_up) else {
        return Ok(None);
    };
    finish_report(
        &mut report,
        stated,
        snapshot::format_digest(&hasher.finish()),
    );
    Ok(Some(report))
}

/// Adds checked addresses of the current account to its tally, catching duplicates.
fn add_addresses(
    t: &mut AccountTally,
    seen: &mut SeenAddresses,
    first: u64,
    items: Vec<account::CheckedAddress>,
) {
    let account = t.index();
    for (i, c) in items.into_iter().enumerate() {
        let position = first + i as u64;
        let dup = seen
            .insert(c.key, Location::Account { account, position })
            .map(|l| l.to_string());
        t.add(c, dup);
    }
}

/// The digest check and the result.
fn finish_report(report: &mut Report, stated: String, computed: String) {
    let ok = stated == computed;
    if !ok {
        report.file_failures.push(FileFailure::new(
            FailureCode::DigestMismatch,
            format!("digest mismatch: the file states {stated}, its content hashes to {computed}"),
        ));
    }
    report.digest = Some(DigestCheck {
        stated,
        computed,
        ok,
    });
    report.finish(false);
}

/// The streaming path alone: serde_json over the whole file (exact error locations); what
/// [`verify_snapshot_file`] falls back to. An account is read whole (its addresses in memory,
/// one account at a time) and its addresses checked in parallel.
pub fn verify_streaming(path: &Path, opts: &VerifyOptions) -> Result<Report, InputError> {
    let (reader, bar) = open_with_progress(path, opts.progress)?;
    let reader = std::io::BufReader::with_capacity(1 << 20, reader);
    let pool = thread_pool(opts.threads);
    let (tx, rx) = mpsc::sync_channel::<Msg>(4);
    let path_buf = path.to_path_buf();
    let reader_thread = std::thread::spawn(move || {
        // Entries are sent in batches; the last batch goes before the first account.
        let batch = std::cell::RefCell::new(Vec::with_capacity(BATCH));
        let flush = |tx: &mpsc::SyncSender<Msg>| -> Result<(), String> {
            let b = std::mem::take(&mut *batch.borrow_mut());
            if b.is_empty() {
                return Ok(());
            }
            tx.send(Msg::Batch(b))
                .map_err(|_| "verification stopped".to_string())
        };
        let end = snapshot::read_stream_accounts(
            &path_buf,
            reader,
            |h| {
                tx.send(Msg::Header(Box::new(h.clone())))
                    .map_err(|_| "verification stopped".to_string())
            },
            |i, e| {
                let full = {
                    let mut b = batch.borrow_mut();
                    b.push((i, e));
                    b.len() == BATCH
                };
                if full {
                    flush(&tx)?;
                }
                Ok(())
            },
            |i, a| {
                flush(&tx)?;
                tx.send(Msg::Account(i, Box::new(a)))
                    .map_err(|_| "verification stopped".to_string())
            },
        );
        if end.is_ok() {
            let _ = flush(&tx);
        }
        end
    });

    let mut report = Report::new(&path.display().to_string(), snapshot::FORMAT_TAG);
    let mut ctx: Option<SnapshotContext> = None;
    let mut sink = Sink::new(opts.claims);
    for msg in rx {
        match msg {
            Msg::Header(h) => {
                report.entity = Some(h.entity.clone());
                report.snapshot_id = Some(h.snapshot_id.clone());
                let c = SnapshotContext::new(&h);
                report.file_failures = c.header_failures();
                ctx = Some(c);
                sink.header(&h);
                report.stated_anchors = h.anchors.clone();
            }
            Msg::Batch(batch) => {
                let c = ctx.as_ref().expect("the header comes before entries");
                let checked: Vec<Checked> =
                    pool.install(|| batch.par_iter().map(|(_, e)| Checked::new(c, e)).collect());
                for ((i, _), c) in batch.iter().zip(checked) {
                    sink.entry(&mut report, *i, c);
                }
            }
            Msg::Account(index, mut a) => {
                let c = ctx.as_ref().expect("the header comes before accounts");
                let keys = a.keys();
                let outcome = account::verify_account(c, &a, &keys);
                let mut t = AccountTally::new(index, &a, outcome);
                sink.account(&mut t);
                let addresses = std::mem::take(&mut a.addresses);
                let keys = keys.ok();
                let chain = a.chain.as_str();
                let anchor = c.anchors.get(chain).map(|x| x.height);
                let checked: Vec<Vec<account::CheckedAddress>> = pool.install(|| {
                    addresses
                        .par_chunks(ADDRESS_BATCH)
                        .map(|chunk| {
                            account::check_addresses(keys.as_ref(), chain, anchor, chunk.to_vec())
                        })
                        .collect()
                });
                let mut first = 0u64;
                for items in checked {
                    let n = items.len() as u64;
                    add_addresses(&mut t, &mut sink.seen, first, items);
                    first += n;
                }
                t.finish(&mut report);
            }
        }
    }
    let end = reader_thread
        .join()
        .map_err(|_| InputError::new(path, "reader thread panicked"))??;
    bar.finish_and_clear();
    let computed = snapshot::format_digest(&end.computed_digest);
    finish_report(&mut report, end.stated_digest, computed);
    Ok(report)
}

/// The duplicate-detection key of an address on a chain: the first 128 bits of
/// SHA-256(upper-case chain ‖ 0 ‖ address), the address lower-cased on EVM chains (their
/// case is only a checksum). Computed on the worker threads.
pub(crate) fn address_key(chain: &str, address: &str) -> u128 {
    let mut h = Sha256::new();
    let chain = chain.trim();
    let mut up = [0u8; 32];
    if chain.len() <= up.len() {
        up[..chain.len()].copy_from_slice(chain.as_bytes());
        up[..chain.len()].make_ascii_uppercase();
        h.update(&up[..chain.len()]);
    } else {
        h.update(chain.to_ascii_uppercase().as_bytes());
    }
    h.update([0]);
    let case_insensitive =
        ChainFamily::of(chain).is_some_and(|f| f.info().case_insensitive_addresses);
    match case_insensitive {
        true if address.len() <= 64 => {
            let mut low = [0u8; 64];
            low[..address.len()].copy_from_slice(address.as_bytes());
            low[..address.len()].make_ascii_lowercase();
            h.update(&low[..address.len()]);
        }
        true => h.update(address.to_ascii_lowercase().as_bytes()),
        false => h.update(address.as_bytes()),
    }
    let d = h.finalize();
    u128::from_le_bytes(d[..16].try_into().expect("16 bytes"))
}

/// Hashes a key that is already a uniform hash (a truncated SHA-256): its low 64 bits.
#[derive(Default, Clone, Copy)]
pub(crate) struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u128(&mut self, n: u128) {
        self.0 = n as u64;
    }
}

/// Where an address was listed: an entry, or a position in an account's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Location {
    Entry(u64),
    Account { account: u64, position: u64 },
}

/// Marks an account location in its 64-bit form: account (23 bits) and position (40 bits).
const ACCOUNT_BIT: u64 = 1 << 63;

impl Location {
    fn pack(self) -> u64 {
        match self {
            Location::Entry(i) => i & !ACCOUNT_BIT,
            Location::Account { account, position } => {
                ACCOUNT_BIT | ((account & ((1 << 23) - 1)) << 40) | (position & ((1 << 40) - 1))
            }
        }
    }

    fn unpack(v: u64) -> Location {
        if v & ACCOUNT_BIT == 0 {
            Location::Entry(v)
        } else {
            Location::Account {
                account: (v >> 40) & ((1 << 23) - 1),
                position: v & ((1 << 40) - 1),
            }
        }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Entry(i) => write!(f, "entry {i}"),
            Location::Account { account, position } => {
                write!(f, "account {account} (its address number {position})")
            }
        }
    }
}

/// Addresses already listed, to catch duplicates in flat memory (about 24 bytes per address).
#[derive(Default)]
struct SeenAddresses(HashMap<u128, u64, std::hash::BuildHasherDefault<KeyHasher>>);

impl SeenAddresses {
    /// Records `key` at `at`; where an earlier listing of the same key was, if any.
    fn insert(&mut self, key: u128, at: Location) -> Option<Location> {
        match self.0.entry(key) {
            std::collections::hash_map::Entry::Occupied(o) => Some(Location::unpack(*o.get())),
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(at.pack());
                None
            }
        }
    }
}

fn thread_pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("verify-{i}"))
        .build()
        .expect("thread pool")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{EntrySplitter, Snapshot};
    use std::io::Read;

    fn opts() -> VerifyOptions {
        VerifyOptions {
            threads: 2,
            progress: false,
            claims: true,
        }
    }

    /// Both paths on the same file: the parallel one (when it takes the file) must give the
    /// streaming one's report.
    fn both(path: &Path) -> (Option<Report>, Report) {
        (
            verify_parallel(path, &opts()).unwrap(),
            verify_streaming(path, &opts()).unwrap(),
        )
    }

    fn sample() -> Snapshot {
        // The simulator crate's synthetic snapshot, read back through this crate's types.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("synthetic.json");
        let bytes = por_attest_simulator::synthetic::synthetic_snapshot(30).to_file_bytes();
        std::fs::write(&file, bytes).unwrap();
        let mut s = Snapshot::read(&file).unwrap();
        // One failing entry of each kind, and a duplicate.
        s.entries[3].message.push('!');
        s.entries[7].signatures[0].signature = s.entries[8].signatures[0].signature.clone();
        s.entries[12].chain = "XYZ".into();
        let dup = s.entries[5].clone();
        s.entries.push(dup);
        s
    }

    /// The file of `s` in several layouts the parallel path takes: as written, compact, pretty,
    /// the digest after the entries (and accounts), one content change, no entries.
    fn layouts(s: &Snapshot) -> Vec<(&'static str, Vec<u8>)> {
        let bytes = s.to_file_bytes();
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        let digest_line = text.lines().find(|l| l.contains("\"digest\"")).unwrap();
        let moved = text.replacen(&format!("{digest_line}\n"), "", 1).replacen(
            "\n  ]\n}",
            &format!("\n  ],\n{}\n}}", digest_line.trim_end_matches(',')),
            1,
        );
        let mut no_entries = s.clone();
        no_entries.entries.clear();
        vec![
            ("file.json", bytes.clone()),
            ("compact.json", serde_json::to_vec(&value).unwrap()),
            ("pretty.json", serde_json::to_vec_pretty(&value).unwrap()),
            ("digest-last.json", moved.into_bytes()),
            (
                "tampered.json",
                text.replacen("\"cold\"", "\"warm\"", 1).into_bytes(),
            ),
            ("no-entries.json", no_entries.to_file_bytes()),
        ]
    }

    /// Every layout of `s` verifies to the same report on both paths.
    fn paths_agree(dir: &Path, s: &Snapshot) {
        for (name, b) in layouts(s) {
            let p = dir.join(name);
            std::fs::write(&p, &b).unwrap();
            let (fast, slow) = both(&p);
            let fast = fast.unwrap_or_else(|| panic!("{name}: the parallel path gave up"));
            assert_eq!(fast, slow, "{name}");
        }
    }

    #[test]
    fn parallel_path_reports_exactly_what_the_streaming_path_reports() {
        let dir = tempfile::tempdir().unwrap();
        paths_agree(dir.path(), &sample());
        let p = dir.path().join("file.json");
        let r = verify_snapshot_file(&p, &opts()).unwrap();
        assert_eq!((r.entries, r.failed), (31, 4), "{}", r.to_human());
        assert!(r.problems[3].reason.contains("duplicate address: entry 5"));
        assert!(r.digest.unwrap().ok);
    }

    /// Stated balances add up per chain, exactly, on both paths; a negative balance or one
    /// finer than the chain's smallest unit fails its entry and adds to no total; claims carry
    /// the anchor height and the offline status.
    #[test]
    fn balances_add_up_per_chain_and_bad_ones_fail_their_entry() {
        use std::str::FromStr;
        let dir = tempfile::tempdir().unwrap();
        let mut s = sample();
        s.entries[0].balance = Some("-1.5".into());
        s.entries[1].balance = Some("0.000000001".into());
        let chain1 = s.entries[1].chain.clone();
        paths_agree(dir.path(), &s);
        let p = dir.path().join("file.json");
        let r = verify_snapshot_file(&p, &opts()).unwrap();
        let reason = |i: u64| {
            r.problems
                .iter()
                .find(|p| p.entry == Some(i))
                .map(|p| p.reason.clone())
                .unwrap_or_default()
        };
        assert_eq!(reason(0), "field `balance`: balance `-1.5` is negative");
        assert!(
            reason(1).starts_with("field `balance`: balance `0.000000001` has 9 decimals, but "),
            "{}",
            reason(1)
        );
        assert!(reason(1).ends_with(&format!(
            "{chain1} has {}",
            if chain1 == "TRX" {
                6
            } else if chain1 == "BTC" {
                8
            } else {
                18
            }
        )));
        // The oracle: every other well-formed, first listing's balance, summed per chain.
        let mut want: BTreeMap<String, (u64, BigDecimal)> = BTreeMap::new();
        let mut seen = std::collections::HashSet::new();
        for (i, e) in s.entries.iter().enumerate() {
            if i < 2 || !seen.insert((e.chain.clone(), e.address.to_ascii_lowercase())) {
                continue;
            }
            // An unknown chain has no precision: its balance adds to no total.
            if ChainFamily::of(&e.chain).is_none() {
                continue;
            }
            if let Some(b) = &e.balance {
                let w = want.entry(e.chain.clone()).or_default();
                w.0 += 1;
                w.1 += BigDecimal::from_str(b).unwrap();
            }
        }
        let got: BTreeMap<String, (u64, BigDecimal)> = r
            .balances
            .iter()
            .map(|(k, t)| (k.clone(), (t.addresses, t.stated.clone())))
            .collect();
        assert_eq!(got, want);
        assert!(r.balances.values().all(|t| t.on_verified <= t.stated));
        assert_eq!(r.claims.len(), s.entries.len());
        let c = &r.claims[2];
        assert_eq!(c.height, Some(s.header.anchors[&c.chain].height));
        assert_eq!(c.status, "verified");
        assert_eq!(r.claims[0].status, "failed");
        let j: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        let k = r.balances.keys().next().unwrap();
        assert_eq!(
            j["balances"][k]["stated"],
            crate::balance::plain(&want[k].1)
        );
    }

    /// A Bitcoin entry's coins at the anchor: adding up to its balance, created at or below
    /// the anchor, each once; they reach the claims.
    #[test]
    fn bitcoin_coins_add_up_to_the_balance() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = sample();
        let i = s.entries.iter().position(|e| e.chain == "BTC").unwrap();
        let anchor = s.header.anchors["BTC"].height;
        let coin = |sat: u64, height: u64| snapshot::Coin {
            txid: "4a".repeat(32),
            vout: sat as u32,
            amount_sat: sat,
            height,
            block_hash: "00".repeat(32),
            spent: None,
        };
        let run = |s: &Snapshot| {
            let p = dir.path().join("coins.json");
            std::fs::write(&p, s.to_file_bytes()).unwrap();
            let (fast, slow) = both(&p);
            assert_eq!(fast.as_ref(), Some(&slow));
            slow
        };
        s.entries[i].balance = Some("1.5".into());
        s.entries[i].coins = vec![coin(100_000_000, anchor), coin(50_000_000, anchor - 5)];
        let r = run(&s);
        assert!(
            r.problems.iter().all(|p| p.entry != Some(i as u64)),
            "{}",
            r.to_human()
        );
        assert_eq!(r.claims[i].coins.len(), 2);
        let reason = |r: &Report| {
            r.problems
                .iter()
                .find(|p| p.entry == Some(i as u64))
                .map(|p| p.reason.clone())
                .unwrap_or_default()
        };
        s.entries[i].coins[1].amount_sat += 1;
        assert_eq!(
            reason(&run(&s)),
            "field `coins`: the coins add up to 1.50000001 BTC, the balance states 1.5"
        );
        s.entries[i].coins[1] = coin(50_000_000, anchor + 1);
        assert!(
            reason(&run(&s)).contains("after the anchor"),
            "{}",
            reason(&run(&s))
        );
        s.entries[i].coins[1] = coin(100_000_000, anchor);
        s.entries[i].balance = Some("2".into());
        assert!(reason(&run(&s)).contains("is listed twice"));
    }

    /// Entries and accounts of the benchmark mix (several address batches per account), with
    /// failures of each kind: a wrong address, a hardened path, a bad account signature, a
    /// duplicate across an entry and an account, and one across two accounts.
    fn account_sample() -> Snapshot {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("accounts.json");
        let mut g = por_attest_simulator::synthetic_accounts::synthetic_account_snapshot(6000, 10);
        g.entries = por_attest_simulator::synthetic::synthetic_snapshot(20).entries;
        std::fs::write(&file, g.to_file_bytes()).unwrap();
        let mut s = Snapshot::read(&file).unwrap();
        s.accounts[0].addresses[500].address = s.accounts[0].addresses[3].address.clone();
        s.accounts[1].addresses[599].path = "0/599h".into();
        s.accounts[2].signatures[0].signature = s.accounts[3].signatures[0].signature.clone();
        s.accounts[3].addresses[1].address = s.accounts[0].addresses[10].address.clone();
        let dup = s.accounts[0].addresses[11].clone();
        let dup_entry = s.entries[2].address.clone();
        s.accounts[3].addresses.push(dup);
        s.accounts[3].addresses[5].address = dup_entry;
        s
    }

    #[test]
    fn with_accounts_the_parallel_path_reports_what_the_streaming_path_reports() {
        let dir = tempfile::tempdir().unwrap();
        let s = account_sample();
        paths_agree(dir.path(), &s);
        let value: serde_json::Value = serde_json::from_slice(&s.to_file_bytes()).unwrap();
        let p = dir.path().join("file.json");
        let r = verify_snapshot_file(&p, &opts()).unwrap();
        assert!(r.digest.as_ref().unwrap().ok);
        assert_eq!(
            (r.entries, r.accounts, r.addresses),
            (20, 10, 20 + 6001),
            "{}",
            r.to_human()
        );
        // Account 1 (hardened path) and 2 (signature) fail whole: 1,200 addresses.
        assert_eq!(r.accounts_failed, 2, "{}", r.to_human());
        assert_eq!(r.failed, 1200 + 4, "{}", r.to_human());
        let reasons: Vec<String> = r
            .problems
            .iter()
            .map(|p| {
                format!(
                    "{:?} {:?} {:?}: {}",
                    p.account, p.path, p.addresses, p.reason
                )
            })
            .collect();
        let has = |needle: &str| reasons.iter().any(|r| r.contains(needle));
        assert!(
            has("Some(0) Some(\"0/500\") None: the account's key gives"),
            "{reasons:#?}"
        );
        assert!(has("Some(1) None Some(600): address"), "{reasons:#?}");
        assert!(has("`0/599h` has a hardened step"), "{reasons:#?}");
        assert!(
            has("Some(2) None Some(600): signature 0 recovers"),
            "{reasons:#?}"
        );
        assert!(
            has("duplicate address: account 0 (its address number 10)"),
            "{reasons:#?}"
        );
        assert!(
            has("Some(3) Some(\"0/5\") None: the account's key gives"),
            "{reasons:#?}"
        );
        assert!(has("duplicate address: entry 2"), "{reasons:#?}");
        assert!(
            has("Some(3) Some(\"0/11\") None: the account's key gives"),
            "{reasons:#?}"
        );
        // Another field order inside the accounts: only the streaming parser takes it, and it
        // says the same (the digest is of the content, not the layout).
        let mut v = value.clone();
        for a in v["accounts"].as_array_mut().unwrap() {
            let o = a.as_object_mut().unwrap();
            let addresses = o.shift_remove("addresses").unwrap();
            o.shift_insert(0, "addresses".into(), addresses);
        }
        let p2 = dir.path().join("reordered.json");
        std::fs::write(&p2, serde_json::to_vec(&v).unwrap()).unwrap();
        assert!(verify_parallel(&p2, &opts()).unwrap().is_none());
        let mut slow = verify_streaming(&p2, &opts()).unwrap();
        slow.file = r.file.clone();
        assert_eq!(slow, r);
    }

    /// An account address's malformed balance fails that address (`invalid_balance`) and adds
    /// to no total; the account's other balances do.
    #[test]
    fn an_account_address_with_a_bad_balance_fails_alone() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = account_sample();
        s.accounts.truncate(1);
        s.accounts[0].addresses.truncate(20);
        s.accounts[0].addresses[4].balance = Some("-2".into());
        s.accounts[0].addresses[5].balance = Some("0.25".into());
        paths_agree(dir.path(), &s);
        let p = dir.path().join("file.json");
        let r = verify_snapshot_file(&p, &opts()).unwrap();
        let bad: Vec<_> = r
            .problems
            .iter()
            .filter(|p| p.code == "invalid_balance")
            .map(|p| (p.path.clone(), p.reason.clone()))
            .collect();
        assert_eq!(
            bad,
            [(
                Some(s.accounts[0].addresses[4].path.clone()),
                "field `balance`: balance `-2` is negative".to_string()
            )]
        );
        let t = &r.balances[&s.accounts[0].chain];
        assert!(t.stated >= "0.25".parse::<BigDecimal>().unwrap(), "{t:?}");
    }

    #[test]
    fn bad_account_files_are_errors_naming_the_account_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let s = account_sample();
        let text = String::from_utf8(s.to_file_bytes()).unwrap();
        let cases = [
            (
                text.replacen("\"version\": 2", "\"version\": 1", 1),
                "`account_template` needs format version 2",
            ),
            (
                text.replacen("  \"account_template\"", "  \"account_templat\"", 1),
                "unknown field `account_templat`",
            ),
            (
                text.replacen("\"path\":\"0/1\"", "\"paht\":\"0/1\"", 1),
                "account 0",
            ),
            (
                text.replacen("\"descriptor\"", "\"descripter\"", 1),
                "account 4",
            ),
            (
                text.replacen("\"accounts\": [", "\"acounts\": [", 1),
                "acounts",
            ),
        ];
        for (i, (t, want)) in cases.iter().enumerate() {
            let p = dir.path().join(format!("bad{i}.json"));
            std::fs::write(&p, t).unwrap();
            assert!(verify_parallel(&p, &opts()).unwrap().is_none(), "case {i}");
            let e = verify_snapshot_file(&p, &opts()).unwrap_err().to_string();
            assert!(e.contains(want) && e.contains("line"), "case {i}: {e}");
        }
        // Version 1 without accounts still reads as it always did.
        let mut v1 = s.clone();
        v1.accounts.clear();
        v1.header.version = snapshot::FORMAT_VERSION;
        v1.header.account_template = None;
        let p = dir.path().join("v1.json");
        std::fs::write(&p, v1.to_file_bytes()).unwrap();
        let (fast, slow) = both(&p);
        assert_eq!(fast.unwrap(), slow);
        assert!(!String::from_utf8(v1.to_file_bytes())
            .unwrap()
            .contains("accounts"));
    }

    #[test]
    fn the_parallel_path_leaves_bad_input_to_the_streaming_parser() {
        let dir = tempfile::tempdir().unwrap();
        let text = String::from_utf8(sample().to_file_bytes()).unwrap();
        let cases = [
            text.replacen("\"p2wpkh\"", "\"p2xx\"", 1),
            text.replacen("\"message\"", "\"mesage\"", 1),
            text.replacen("\"entity\"", "\"entity2\"", 1),
            text.replacen("\"version\": 1", "\"version\": 2", 1),
            text.replacen("\"digest\"", "\"dig\\u0065st\"", 1),
            text[..text.len() / 2].to_string(),
            text.replacen("},\n", "}\n", 1),
            format!("{text}x"),
            "[1,2]".to_string(),
            String::new(),
        ];
        for (i, t) in cases.iter().enumerate() {
            let p = dir.path().join(format!("bad{i}.json"));
            std::fs::write(&p, t).unwrap();
            let (fast, _) = (verify_parallel(&p, &opts()).unwrap(), ());
            assert!(fast.is_none(), "case {i} taken by the parallel path");
            let streaming = verify_streaming(&p, &opts());
            let public = verify_snapshot_file(&p, &opts());
            match (streaming, public) {
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
                (Ok(a), Ok(b)) => assert_eq!(a, b),
                (a, b) => panic!("case {i}: {a:?} vs {b:?}"),
            }
        }
    }

    /// A reader that hands out a few bytes at a time: every value straddles a read.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.1.min(buf.len()).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn splitter_gives_the_entries_whatever_the_read_sizes() {
        let s = sample();
        let bytes = s.to_file_bytes();
        let want: Vec<Vec<u8>> = s
            .entries
            .iter()
            .map(|e| serde_json::to_vec(e).unwrap())
            .collect();
        for step in [1, 7, 300, 1 << 20] {
            let mut sp = EntrySplitter::new(Trickle(&bytes, step)).unwrap();
            assert_eq!(sp.header(), &s.header);
            let mut got = Vec::new();
            while let Some(b) = sp.next_batch(4, 1 << 20).unwrap() {
                assert_eq!(b.first_index, got.len() as u64);
                for i in 0..b.len() {
                    got.push(b.get(i).to_vec());
                }
            }
            assert_eq!(got, want, "step {step}");
            assert_eq!(sp.finish().unwrap(), snapshot::format_digest(&s.digest()));
        }
    }

    #[test]
    fn splitter_gives_the_accounts_whatever_the_read_sizes() {
        let mut s = account_sample();
        s.accounts.truncate(5);
        let bytes = s.to_file_bytes();
        for step in [1, 13, 4096, 1 << 20] {
            let mut sp = EntrySplitter::new(Trickle(&bytes, step)).unwrap();
            while sp.next_batch(64, 1 << 20).unwrap().is_some() {}
            let mut accounts: Vec<Account> = Vec::new();
            while let Some(u) = sp.next_account_unit(100, 1 << 20).unwrap() {
                match u {
                    AccountUnit::Head { index, json } => {
                        assert_eq!(index, accounts.len() as u64);
                        accounts.push(serde_json::from_slice(&json).unwrap());
                    }
                    AccountUnit::Addresses { account, batch } => {
                        let a = &mut accounts[account as usize];
                        assert_eq!(batch.first_index, a.addresses.len() as u64);
                        assert!(batch.len() <= 100);
                        for i in 0..batch.len() {
                            a.addresses
                                .push(serde_json::from_slice(batch.get(i)).unwrap());
                        }
                    }
                    AccountUnit::End { account, addresses } => {
                        assert_eq!(addresses, accounts[account as usize].addresses.len() as u64);
                    }
                }
            }
            assert_eq!(accounts, s.accounts, "step {step}");
            assert_eq!(sp.finish().unwrap(), snapshot::format_digest(&s.digest()));
        }
    }
}
