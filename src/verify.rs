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

enum Msg {
    Header(Box<Header>),
    Batch(Vec<(u64, Entry)>),
}

/// Verifies the snapshot file at `path`. An `Err` means the file could not be read or
/// understood (exit status 2); otherwise the report says what verified.
pub fn verify_snapshot_file(path: &Path, opts: &VerifyOptions) -> Result<Report, InputError> {
    let file = std::fs::File::open(path)
        .map_err(|e| InputError::new(path, format!("cannot open: {e}")))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = progress_bar(opts.progress, size);
    let reader = std::io::BufReader::with_capacity(
        1 << 20,
        ProgressReader {
            inner: file,
            bar: bar.clone(),
        },
    );
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
                let outcomes: Vec<Outcome> =
                    pool.install(|| batch.par_iter().map(|(_, e)| verify_entry(c, e)).collect());
                for ((i, e), mut outcome) in batch.iter().zip(outcomes) {
                    if let Some(first) = seen.check(*i, e) {
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

/// Addresses already listed, to catch duplicates in flat memory (16 bytes per entry).
#[derive(Default)]
struct SeenAddresses(HashMap<u128, u64>);

impl SeenAddresses {
    /// The index of an earlier entry with the same chain and address, if any.
    fn check(&mut self, index: u64, e: &Entry) -> Option<u64> {
        let mut h = Sha256::new();
        h.update(e.chain.trim().to_ascii_uppercase().as_bytes());
        h.update([0]);
        match ChainFamily::of(&e.chain) {
            // EVM addresses are case-insensitive (the case is only a checksum).
            Some(ChainFamily::Evm) => h.update(e.address.to_ascii_lowercase().as_bytes()),
            _ => h.update(e.address.as_bytes()),
        }
        let d = h.finalize();
        let key = u128::from_le_bytes(d[..16].try_into().expect("16 bytes"));
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
    let fields = MessageFields {
        entity: &ctx.entity,
        snapshot: &ctx.snapshot_id,
        chain: &e.chain,
        address: &e.address,
        height: anchor.height,
        block_hash: &anchor.block_hash,
    };
    if !template.matches(&fields, &e.message) {
        return fail(format!(
            "message is not the snapshot's template rendered for this entry; expected {:?}",
            template.render(&fields)
        ));
    }
    if e.signatures.is_empty() {
        return fail("no signatures");
    }
    let msg = e.message.as_bytes();
    match family {
        ChainFamily::Bitcoin => check_bitcoin(e, msg),
        ChainFamily::Evm | ChainFamily::Tron => {
            if e.script_type.is_some() || e.script.is_some() || e.threshold.is_some() {
                return fail(format!(
                    "field `script_type`/`script`/`threshold` applies only to Bitcoin, not {}",
                    e.chain
                ));
            }
            let expected = if family == ChainFamily::Evm {
                Scheme::Eip191
            } else {
                Scheme::TronTip191
            };
            for (i, s) in e.signatures.iter().enumerate() {
                if s.scheme != expected {
                    return fail(format!(
                        "signature {i}: scheme {} does not apply to {} (expected {expected})",
                        s.scheme, e.chain
                    ));
                }
                let r = if family == ChainFamily::Evm {
                    schemes::evm::verify_eip191(&e.address, msg, &s.signature)
                } else {
                    schemes::tron::verify_tron(
                        &e.address,
                        msg,
                        &s.signature,
                        schemes::tron::TronVersion::V2,
                    )
                };
                r.map_err(|err| scheme_problem(i, err))?;
            }
            Ok(())
        }
    }
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
        .filter(|s| matches!(s.scheme, Scheme::Bip322Simple | Scheme::Bip322Full))
        .count();
    for (i, s) in e.signatures.iter().enumerate() {
        if !matches!(
            s.scheme,
            Scheme::Bip137 | Scheme::Bip322Simple | Scheme::Bip322Full
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
            if bip322 != e.signatures.len() {
                return fail("a multisig entry must not mix BIP-322 and legacy signatures");
            }
            // The entry's script must still be the address's script.
            schemes::multisig::check_script_hash(&address, st, &script)
                .map_err(|err| Problem::Failed(format!("field `script`: {err}")))?;
            return check_bip322_all(e, &address, msg);
        }
        let sigs: Vec<&str> = e.signatures.iter().map(|s| s.signature.as_str()).collect();
        schemes::multisig::verify_multisig(&address, st, &script, msg, &sigs)
            .map_err(|err| Problem::Failed(err.to_string()))?;
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
        let full = match s.scheme {
            Scheme::Bip322Simple => false,
            Scheme::Bip322Full => true,
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
    let m = schemes::multisig::threshold_of(&script)
        .map_err(|err| Problem::Failed(format!("field `script`: {err}")))?;
    if m != threshold as usize {
        return fail(format!(
            "field `threshold` says {threshold} but the script requires {m}"
        ));
    }
    Ok(script)
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

/// A reader that advances a progress bar.
pub struct ProgressReader<R> {
    pub inner: R,
    pub bar: indicatif::ProgressBar,
}

impl<R: Read> Read for ProgressReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}
