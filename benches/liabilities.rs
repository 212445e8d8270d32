//! `cargo bench --bench liabilities`: Gate's 2024-09-29 liabilities bundle (4,726 Groth16
//! proofs, tests/data/gate) verified whole, the batch check (a random linear combination of the
//! proofs' pairing equations in one multi-pairing split over the threads) and one check per
//! proof side by side, on the same decoded proofs, then their parts.
//!
//! Prints wall times on all cores (or `POR_ATTEST_BENCH_THREADS`) and on one thread. The goal:
//! the whole bundle (read, decode, hash, chain, proofs) in at most 1.5 s wall on 2 cores.
//!
//! Environment: `POR_ATTEST_BENCH_THREADS` (default: one per core), `POR_ATTEST_BENCH_BUNDLE`
//! (another bundle).

mod common;
use common::{env_num, label};

use por_attest::liabilities::batch::Method;
use por_attest::liabilities::bundle::{parse_proof_csv, read_bundle};
use por_attest::liabilities::commitment::batch_commitment;
use por_attest::liabilities::encoding::{proof, verifying_key, Proof};
use por_attest::liabilities::groth16::Verifier;
use por_attest::liabilities::mapping::Mapping;
use por_attest::liabilities::poseidon::element_from_be_bytes;
use por_attest::liabilities::{verify_bundle_files, BundleOptions};
use rayon::prelude::*;
use std::path::PathBuf;
use std::time::Instant;

fn secs<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let t = Instant::now();
    let out = f();
    (out, t.elapsed().as_secs_f64())
}

fn main() {
    let path = std::env::var_os("POR_ATTEST_BENCH_BUNDLE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("tests/data/gate/zkmerkle_cex_20240929.tar.gz")
        });
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = env_num("POR_ATTEST_BENCH_THREADS").map_or(cores, |n| n as usize);
    println!(
        "liabilities bench: {} on {threads} thread(s) (of {cores} cores)",
        path.display()
    );

    // Whole bundle, end to end (read the .tar.gz, parse, decode, hash, chain, proofs).
    for (method, n) in [
        (Method::Batch, threads),
        (Method::Each, threads),
        (Method::Batch, 1),
    ] {
        let (report, t) = secs(|| {
            let files = read_bundle(&path).expect("the bundle reads");
            let opts = BundleOptions { threads: n, method };
            verify_bundle_files(&files, &opts, &Mapping::built_in()).expect("it verifies")
        });
        println!(
            "whole bundle, proofs checked {:<5} on {n} thread(s): {t:6.3} s wall  ({} batches, {})",
            method.name(),
            label(report.batches),
            report.result
        );
    }

    // The parts, on the same pool.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool");
    let (files, t_read) = secs(|| read_bundle(&path).expect("reads"));
    let (rows, t_parse) = secs(|| parse_proof_csv(&files.proof_csv, "proof.csv").expect("parses"));
    let verifier =
        Verifier::new(verifying_key(&files.verifying_key).expect("key")).expect("one input");
    pool.install(|| {
        let (proofs, t_decode): (Vec<Proof>, f64) = secs(|| {
            rows.par_iter()
                .map(|r| proof(&r.fields.as_ref().expect("row").proof).expect("proof"))
                .collect()
        });
        let (inputs, t_hash): (Vec<_>, f64) = secs(|| {
            rows.par_iter()
                .map(|r| {
                    let f = r.fields.as_ref().expect("row");
                    let e = |b: &[u8; 32]| element_from_be_bytes(b).expect("element");
                    batch_commitment(
                        [e(&f.roots[0]), e(&f.roots[1])],
                        [e(&f.cex[0]), e(&f.cex[1])],
                    )
                })
                .collect()
        });
        let items: Vec<_> = proofs.into_iter().zip(inputs).collect();
        let (ok, t_batch) = secs(|| verifier.verify_batch(&items));
        assert!(ok, "the batch check passes");
        let (each, t_each) = secs(|| verifier.verify_each(&items));
        assert!(each.iter().all(|b| *b), "every proof passes");
        println!("parts on {threads} thread(s):");
        println!("  read the .tar.gz          {t_read:6.3} s");
        println!("  parse proof.csv           {t_parse:6.3} s");
        println!(
            "  decode proofs (checked)   {t_decode:6.3} s  ({:.1} µs/proof)",
            t_decode * 1e6 / items.len() as f64
        );
        println!(
            "  batch commitments         {t_hash:6.3} s  ({:.1} µs/batch)",
            t_hash * 1e6 / items.len() as f64
        );
        println!(
            "  Groth16, all at once      {t_batch:6.3} s  ({:.1} µs/proof)",
            t_batch * 1e6 / items.len() as f64
        );
        println!(
            "  Groth16, one per proof    {t_each:6.3} s  ({:.1} µs/proof; {:.1}x the batch check)",
            t_each * 1e6 / items.len() as f64,
            t_each / t_batch
        );
    });
}
