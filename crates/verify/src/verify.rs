//! `por-attest verify` for snapshots: every entry checked against its address, message and
//! signatures, in parallel, streaming, with the report kept in file order.

use crate::chains::{ChainFamily, Scheme, ScriptType};
use crate::error::InputError;
use crate::message::{MessageFields, Template};
use crate::report::{DigestCheck, Outcome, Report};
use crate::schemes;
use crate::snapshot::{self, Anchor, Entry, Header};
use bitcoin::address::NetworkUnchecked;
use bitcoin::{Address, AddressType};
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::Path;
use std::sync::mpsc;

/// How to run a verification.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Worker threads; 0 means one per core.
    pub threads: usize,
    /// Show a progress bar on stderr (only drawn on a terminal).
    pub progress: bool,
}

/// What every entry is checked against: the snapshot header.
pub struct SnapshotContext {
    entity: String,
    snapshot_id: String,
    anchors: BTreeMap<String, Anchor>,
    template: Result<Template, String>,
}

impl SnapshotContext {
    /// The context of a header.
    pub fn new(h: &Header) -> SnapshotContext {
        SnapshotContext {
            entity: h.entity.clone(),
            snapshot_id: h.snapshot_id.clone(),
            anchors: h.anchors.clone(),
            template: Template::parse(&h.message_template).map_err(|e| e.to_string()),
        }
    }
}

const BATCH: usize = 2048;

/// Entries per batch of the parallel path: small enough to keep all workers busy and memory
/// flat, large enough that handing a batch over costs nothing next to verifying it.
const FAST_BATCH: usize = 512;
const FAST_BATCH_BYTES: usize = 1 << 20;

enum Msg {
    Header(Box<Header>),
    Batch(Vec<(u64, Entry)>),
}

/// Verifies the snapshot file at `path`. An `Err` means the file could not be read or
/// understood (exit status 2); otherwise the report says what verified.
///
/// Well-formed files take the parallel path: the file is read in large blocks and split at
/// the entry boundaries of the top-level array; worker threads parse, verify and re-serialize
/// (for the digest) the entries; this thread hashes and records the results in file order.
/// Anything the splitter does not take (bad JSON, bad fields, another layout) is read again by
/// the streaming parser, whose errors name the line, entry and field.
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
    /// Duplicate-detection key of (chain, address).
    key: u128,
}

/// A batch after the workers: its entries' outcomes and canonical JSON (joined by commas).
struct CheckedBatch {
    first_index: u64,
    items: Vec<Checked>,
    canonical: Vec<u8>,
}

enum Out {
    Header(Box<Header>),
    /// Batch number, and its result (`Err` when an entry does not parse).
    Batch(u64, Result<CheckedBatch, ()>),
    /// The number of batches sent, and the stated digest (`Err`: the splitter gave up).
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
    let outcomes: Vec<Outcome> = entries.iter().map(|e| verify_entry(ctx, e)).collect();
    let items = entries
        .into_iter()
        .zip(outcomes)
        .map(|(e, outcome)| Checked {
            key: address_key(&e.chain, &e.address),
            chain: e.chain,
            address: e.address,
            outcome,
        })
        .collect();
    Ok(CheckedBatch {
        first_index: raw.first_index,
        items,
        canonical,
    })
}

/// The parallel path; `Ok(None)` when the file is to be read by the streaming parser.
fn verify_parallel(path: &Path, opts: &VerifyOptions) -> Result<Option<Report>, InputError> {
    let (reader, bar) = open_with_progress(path, opts.progress)?;
    let size = reader.inner.metadata().map(|m| m.len()).unwrap_or(0);
    let pool = std::sync::Arc::new(thread_pool(opts.threads));
    // Batches in flight (read, being verified, or waiting to be recorded) are bounded by
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
            let ctx = std::sync::Arc::new(SnapshotContext::new(&header));
            if out_tx.send(Out::Header(Box::new(header))).is_err() {
                return;
            }
            let mut seq = 0u64;
            loop {
                match split.next_batch(FAST_BATCH, FAST_BATCH_BYTES) {
                    Ok(Some(raw)) => {
                        if token_tx.send(()).is_err() {
                            return;
                        }
                        let tx = out_tx.clone();
                        let ctx = ctx.clone();
                        let n = seq;
                        reader_pool.spawn(move || {
                            let _ = tx.send(Out::Batch(n, check_batch(&ctx, &raw)));
                        });
                        seq += 1;
                    }
                    Ok(None) => break,
                    Err(b) => {
                        let _ = out_tx.send(Out::End(seq, Err(b)));
                        return;
                    }
                }
            }
            let _ = out_tx.send(Out::End(seq, split.finish()));
        })
        .map_err(|e| InputError::new(path, format!("cannot start the reader thread: {e}")))?;

    let mut report = Report::new(&path.display().to_string(), snapshot::FORMAT_TAG);
    let mut hasher: Option<snapshot::CanonicalHasher> = None;
    let mut seen = SeenAddresses::default();
    let mut pending: BTreeMap<u64, CheckedBatch> = BTreeMap::new();
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
                if let Err(e) = Template::parse(&h.message_template) {
                    report
                        .file_failures
                        .push(format!("field `message_template`: {e}"));
                }
                hasher = Some(snapshot::CanonicalHasher::new(&h));
            }
            Out::Batch(n, Ok(b)) => {
                if n == 0 && !b.items.is_empty() {
                    // Size the duplicate map once from the file size and the first entries'
                    // size, rather than doubling it (and the peak memory) as it fills.
                    let per_entry = (b.canonical.len() / b.items.len()) as u64 + 6;
                    seen.0.reserve((size / per_entry).min(1 << 26) as usize);
                }
                pending.insert(n, b);
                while let Some(b) = pending.remove(&next) {
                    let h = hasher.as_mut().expect("the header comes before entries");
                    h.add_serialized_joined(&b.canonical, b.items.len() as u64);
                    for (i, c) in b.items.into_iter().enumerate() {
                        let index = b.first_index + i as u64;
                        let mut outcome = c.outcome;
                        if let Some(first) = seen.insert(c.key, index) {
                            outcome = Outcome::Failed(format!(
                                "duplicate address: entry {first} already lists {} on {}",
                                c.address, c.chain
                            ));
                        }
                        report.record(index, None, &c.chain, &c.address, outcome);
                    }
                    next += 1;
                    let _ = token_rx.recv();
                }
            }
            Out::Batch(_, Err(())) | Out::End(_, Err(_)) => {
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
    let computed = snapshot::format_digest(&hasher.finish());
    let ok = stated == computed;
    if !ok {
        report.file_failures.push(format!(
            "digest mismatch: the file states {stated}, its content hashes to {computed}"
        ));
    }
    report.digest = Some(DigestCheck {
        stated,
        computed,
        ok,
    });
    report.finish(false);
    Ok(Some(report))
}

/// The streaming path: serde_json over the whole file (exact error locations).
fn verify_streaming(path: &Path, opts: &VerifyOptions) -> Result<Report, InputError> {
    let (reader, bar) = open_with_progress(path, opts.progress)?;
    let reader = std::io::BufReader::with_capacity(1 << 20, reader);
    let pool = thread_pool(opts.threads);
    let (tx, rx) = mpsc::sync_channel::<Msg>(4);
    let path_buf = path.to_path_buf();
    let reader_thread = std::thread::spawn(move || {
        let mut batch = Vec::with_capacity(BATCH);
        let htx = tx.clone();
        let end = snapshot::read_stream(
            &path_buf,
            reader,
            |h| {
                htx.send(Msg::Header(Box::new(h.clone())))
                    .map_err(|_| "verification stopped".to_string())
            },
            |i, e| {
                batch.push((i, e));
                if batch.len() == BATCH {
                    tx.send(Msg::Batch(std::mem::replace(
                        &mut batch,
                        Vec::with_capacity(BATCH),
                    )))
                    .map_err(|_| "verification stopped".to_string())?;
                }
                Ok(())
            },
        );
        if end.is_ok() && !batch.is_empty() {
            let _ = tx.send(Msg::Batch(batch));
        }
        end
    });

    let mut report = Report::new(&path.display().to_string(), snapshot::FORMAT_TAG);
    let mut ctx: Option<SnapshotContext> = None;
    let mut seen = SeenAddresses::default();
    for msg in rx {
        match msg {
            Msg::Header(h) => {
                report.entity = Some(h.entity.clone());
                report.snapshot_id = Some(h.snapshot_id.clone());
                let c = SnapshotContext::new(&h);
                if let Err(e) = &c.template {
                    report
                        .file_failures
                        .push(format!("field `message_template`: {e}"));
                }
                ctx = Some(c);
            }
            Msg::Batch(batch) => {
                let c = ctx.as_ref().expect("the header comes before entries");
                let outcomes: Vec<(Outcome, u128)> = pool.install(|| {
                    batch
                        .par_iter()
                        .map(|(_, e)| (verify_entry(c, e), address_key(&e.chain, &e.address)))
                        .collect()
                });
                for ((i, e), (mut outcome, key)) in batch.iter().zip(outcomes) {
                    if let Some(first) = seen.insert(key, *i) {
                        outcome = Outcome::Failed(format!(
                            "duplicate address: entry {first} already lists {} on {}",
                            e.address, e.chain
                        ));
                    }
                    report.record(*i, None, &e.chain, &e.address, outcome);
                }
            }
        }
    }
    let end = reader_thread
        .join()
        .map_err(|_| InputError::new(path, "reader thread panicked"))??;
    bar.finish_and_clear();
    let computed = snapshot::format_digest(&end.computed_digest);
    let ok = end.digest_matches();
    if !ok {
        report.file_failures.push(format!(
            "digest mismatch: the file states {}, its content hashes to {computed}",
            end.stated_digest
        ));
    }
    report.digest = Some(DigestCheck {
        stated: end.stated_digest,
        computed,
        ok,
    });
    report.finish(false);
    Ok(report)
}

/// The duplicate-detection key of an address on a chain: the first 128 bits of
/// SHA-256(upper-case chain ‖ 0 ‖ address), the address lower-cased on EVM chains (their
/// case is only a checksum). Computed on the worker threads.
fn address_key(chain: &str, address: &str) -> u128 {
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

/// Addresses already listed, to catch duplicates in flat memory (about 24 bytes per entry).
#[derive(Default)]
struct SeenAddresses(HashMap<u128, u64, std::hash::BuildHasherDefault<KeyHasher>>);

impl SeenAddresses {
    /// Records `key` at `index`; the index of an earlier entry with the same key, if any.
    fn insert(&mut self, key: u128, index: u64) -> Option<u64> {
        match self.0.entry(key) {
            std::collections::hash_map::Entry::Occupied(o) => Some(*o.get()),
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(index);
                None
            }
        }
    }
}

/// Checks one entry against the snapshot header: address, network, message, signatures.
pub fn verify_entry(ctx: &SnapshotContext, e: &Entry) -> Outcome {
    match check_entry(ctx, e) {
        Ok(()) => Outcome::Verified,
        Err(Problem::Failed(r)) => Outcome::Failed(r),
        Err(Problem::Unsupported(r)) => Outcome::Unsupported(r),
    }
}

enum Problem {
    Failed(String),
    Unsupported(String),
}

/// A scheme error on signature `i`: unsupported stays unsupported, anything else failed.
fn scheme_problem(i: usize, err: schemes::SchemeError) -> Problem {
    match err {
        schemes::SchemeError::Unsupported(r) => {
            Problem::Unsupported(format!("signature {i}: unsupported: {r}"))
        }
        other => Problem::Failed(format!("signature {i}: {other}")),
    }
}

fn fail<T>(reason: impl Into<String>) -> Result<T, Problem> {
    Err(Problem::Failed(reason.into()))
}

fn check_entry(ctx: &SnapshotContext, e: &Entry) -> Result<(), Problem> {
    let Some(family) = ChainFamily::of(&e.chain) else {
        return fail(format!("unknown chain `{}`", e.chain));
    };
    let Some(anchor) = ctx.anchors.get(&e.chain) else {
        return fail(format!(
            "no anchor for chain `{}` in the snapshot header",
            e.chain
        ));
    };
    let template = match &ctx.template {
        Ok(t) => t,
        Err(err) => {
            return fail(format!(
                "the snapshot's message template is rejected: {err}"
            ))
        }
    };
    let fields = MessageFields::new(&ctx.entity, &ctx.snapshot_id, &e.chain, &e.address, anchor);
    if !template.matches(&fields, &e.message) {
        return fail(format!(
            "message is not the snapshot's template rendered for this entry; expected {:?}",
            template.render(&fields)
        ));
    }
    if e.signatures.is_empty() {
        return fail("no signatures");
    }
    if let Some((i, s)) = e
        .signatures
        .iter()
        .enumerate()
        .find(|(_, s)| s.scheme.known().is_none())
    {
        return fail(format!("signature {i}: unknown scheme `{}`", s.scheme));
    }
    let msg = e.message.as_bytes();
    let info = family.info();
    let Some(verify_message) = info.verify_message else {
        return check_bitcoin(e, msg);
    };
    // An account-model family: one key per address, the family's message scheme.
    if e.script_type.is_some() || e.script.is_some() || e.threshold.is_some() {
        return fail(format!(
            "field `script_type`/`script`/`threshold` applies only to Bitcoin, not {}",
            e.chain
        ));
    }
    let expected = info.message_scheme;
    for (i, s) in e.signatures.iter().enumerate() {
        if s.scheme != expected {
            return fail(format!(
                "signature {i}: scheme {} does not apply to {} (expected {expected})",
                s.scheme, e.chain
            ));
        }
        verify_message(&e.address, msg, &s.signature).map_err(|err| scheme_problem(i, err))?;
    }
    Ok(())
}

/// The script types an address of this kind can be.
fn script_type_fits(kind: Option<AddressType>, st: ScriptType) -> bool {
    matches!(
        (kind, st),
        (Some(AddressType::P2pkh), ScriptType::P2pkh)
            | (
                Some(AddressType::P2sh),
                ScriptType::P2shP2wpkh | ScriptType::P2sh | ScriptType::P2shP2wsh
            )
            | (Some(AddressType::P2wpkh), ScriptType::P2wpkh)
            | (Some(AddressType::P2wsh), ScriptType::P2wsh)
            | (Some(AddressType::P2tr), ScriptType::P2tr)
    )
}

fn check_bitcoin(e: &Entry, msg: &[u8]) -> Result<(), Problem> {
    let unchecked: Address<NetworkUnchecked> = match e.address.parse() {
        Ok(a) => a,
        Err(err) => return fail(format!("address does not parse: {err}")),
    };
    let net = e.network;
    let address = match unchecked.require_network(net.bitcoin()) {
        Ok(a) => a,
        Err(_) => {
            return fail(format!(
                "network mismatch: {} is not a {net} address",
                e.address
            ))
        }
    };
    let Some(st) = e.script_type else {
        return fail("field `script_type` is missing for a Bitcoin address");
    };
    let kind = address.address_type();
    if !script_type_fits(kind, st) {
        return fail(format!(
            "field `script_type` says {st} but the address is {}",
            kind.map(|k| k.to_string())
                .unwrap_or_else(|| "of another kind".into())
        ));
    }
    let bip322 = e
        .signatures
        .iter()
        .filter(|s| {
            matches!(
                s.scheme.known(),
                Some(Scheme::Bip322Simple | Scheme::Bip322Full)
            )
        })
        .count();
    for (i, s) in e.signatures.iter().enumerate() {
        if !matches!(
            s.scheme.known(),
            Some(Scheme::Bip137 | Scheme::Bip322Simple | Scheme::Bip322Full)
        ) {
            return fail(format!(
                "signature {i}: scheme {} does not apply to a Bitcoin address",
                s.scheme
            ));
        }
    }
    if st.is_multisig() {
        let script = multisig_script(e)?;
        if bip322 > 0 {
            script_in_full(&script)?;
            if bip322 != e.signatures.len() {
                return fail("a multisig entry must not mix BIP-322 and legacy signatures");
            }
            // The entry's script must still be the address's script.
            schemes::multisig::check_script_hash(&address, st, &script)
                .map_err(|err| Problem::Failed(format!("field `script`: {err}")))?;
            return check_bip322_all(e, &address, msg);
        }
        let sigs: Vec<&str> = e.signatures.iter().map(|s| s.signature.as_str()).collect();
        schemes::multisig::verify_multisig(&address, st, &script, msg, &sigs).map_err(|err| {
            match script_in_full(&script) {
                Err(p) => p,
                Ok(_) => Problem::Failed(err.to_string()),
            }
        })?;
        return Ok(());
    }
    if e.script.is_some() || e.threshold.is_some() {
        return fail(format!(
            "field `script`/`threshold` applies only to multisig, not {st}"
        ));
    }
    if bip322 > 0 {
        if bip322 != e.signatures.len() {
            // Legacy signatures may sit beside BIP-322 ones; each must hold on its own.
            for (i, s) in e.signatures.iter().enumerate() {
                if s.scheme == Scheme::Bip137 {
                    check_bip137(st, &address, msg, i, &s.signature)?;
                }
            }
        }
        return check_bip322_all(e, &address, msg);
    }
    for (i, s) in e.signatures.iter().enumerate() {
        check_bip137(st, &address, msg, i, &s.signature)?;
    }
    Ok(())
}

fn check_bip137(
    st: ScriptType,
    address: &Address,
    msg: &[u8],
    i: usize,
    sig: &str,
) -> Result<(), Problem> {
    if st == ScriptType::P2tr {
        return fail(format!(
            "signature {i}: a legacy signed message cannot prove a P2TR address (use BIP-322)"
        ));
    }
    schemes::bip137::verify_bip137(address, msg, sig)
        .map(|_| ())
        .map_err(|err| scheme_problem(i, err))
}

fn check_bip322_all(e: &Entry, address: &Address, msg: &[u8]) -> Result<(), Problem> {
    for (i, s) in e.signatures.iter().enumerate() {
        let full = match s.scheme.known() {
            Some(Scheme::Bip322Simple) => false,
            Some(Scheme::Bip322Full) => true,
            _ => continue,
        };
        let kind = schemes::bip322::verify_bip322(address, msg, &s.signature)
            .map_err(|err| scheme_problem(i, err))?;
        let is_full = matches!(kind, schemes::bip322::Bip322Kind::Full { .. });
        let is_simple = matches!(kind, schemes::bip322::Bip322Kind::Simple);
        if (full && !is_full) || (!full && !is_simple) {
            return fail(format!(
                "signature {i}: scheme says {} but the signature is {kind:?}",
                s.scheme
            ));
        }
    }
    Ok(())
}

fn multisig_script(e: &Entry) -> Result<Vec<u8>, Problem> {
    let Some(hex_script) = &e.script else {
        return fail("field `script` is missing for a multisig address");
    };
    let script = hex::decode(hex_script)
        .map_err(|err| Problem::Failed(format!("field `script` is not hex: {err}")))?;
    let Some(threshold) = e.threshold else {
        return fail("field `threshold` is missing for a multisig address");
    };
    // The shape gives the threshold without decompressing the keys (verify_multisig checks
    // them); on any doubt the full parse says what is wrong, as it always did.
    let m = match schemes::multisig::threshold_of_shape(&script) {
        Some(m) => m,
        None => script_in_full(&script)?,
    };
    if m != threshold as usize {
        script_in_full(&script)?;
        return fail(format!(
            "field `threshold` says {threshold} but the script requires {m}"
        ));
    }
    Ok(script)
}

/// The threshold of a multisig script, every key checked; the error as a `script` problem.
fn script_in_full(script: &[u8]) -> Result<usize, Problem> {
    schemes::multisig::threshold_of(script)
        .map_err(|err| Problem::Failed(format!("field `script`: {err}")))
}

fn thread_pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("verify-{i}"))
        .build()
        .expect("thread pool")
}

/// A progress bar over the bytes of the input (hidden when not asked or not a terminal).
pub fn progress_bar(show: bool, total_bytes: u64) -> indicatif::ProgressBar {
    if !show || total_bytes < (4 << 20) {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(total_bytes),
        indicatif::ProgressDrawTarget::stderr(),
    );
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "verifying {bar:40} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} ETA {eta}",
        )
        .expect("valid template"),
    );
    bar
}

/// Opens `path` for reading with a progress bar over its bytes (shown when `progress` is set,
/// stderr is a terminal and the file is large).
pub fn open_with_progress(
    path: &Path,
    progress: bool,
) -> Result<(ProgressReader<std::fs::File>, indicatif::ProgressBar), InputError> {
    let file = std::fs::File::open(path)
        .map_err(|e| InputError::new(path, format!("cannot open: {e}")))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = progress_bar(progress, size);
    let reader = ProgressReader {
        inner: file,
        bar: bar.clone(),
    };
    Ok((reader, bar))
}

/// A reader that advances a progress bar.
pub struct ProgressReader<R> {
    /// The reader being counted.
    pub inner: R,
    /// The bar its progress is drawn on.
    pub bar: indicatif::ProgressBar,
}

impl<R: Read> Read for ProgressReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{EntrySplitter, Snapshot};

    fn opts() -> VerifyOptions {
        VerifyOptions {
            threads: 2,
            progress: false,
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

    #[test]
    fn parallel_path_reports_exactly_what_the_streaming_path_reports() {
        let dir = tempfile::tempdir().unwrap();
        let s = sample();
        let bytes = s.to_file_bytes();
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        // The digest after the entries, and the whole file on one line.
        let text = String::from_utf8(bytes.clone()).unwrap();
        let digest_line = text.lines().find(|l| l.contains("\"digest\"")).unwrap();
        let moved = text.replacen(&format!("{digest_line}\n"), "", 1).replacen(
            "\n  ]\n}",
            &format!("\n  ],\n{}\n}}", digest_line.trim_end_matches(',')),
            1,
        );
        let variants: Vec<(&str, Vec<u8>)> = vec![
            ("file.json", bytes.clone()),
            ("compact.json", serde_json::to_vec(&value).unwrap()),
            ("pretty.json", serde_json::to_vec_pretty(&value).unwrap()),
            ("digest-last.json", moved.into_bytes()),
            (
                "tampered.json",
                text.replacen("\"cold\"", "\"warm\"", 1).into_bytes(),
            ),
            ("empty-entries.json", {
                let mut e = s.clone();
                e.entries.clear();
                e.to_file_bytes()
            }),
        ];
        for (name, b) in variants {
            let p = dir.path().join(name);
            std::fs::write(&p, &b).unwrap();
            let (fast, slow) = both(&p);
            let fast = fast.unwrap_or_else(|| panic!("{name}: the parallel path gave up"));
            assert_eq!(fast, slow, "{name}");
        }
        let p = dir.path().join("file.json");
        let r = verify_snapshot_file(&p, &opts()).unwrap();
        assert_eq!((r.entries, r.failed), (31, 4), "{}", r.to_human());
        assert!(r.problems[3].reason.contains("duplicate address: entry 5"));
        assert!(r.digest.unwrap().ok);
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
}
