//! `cargo bench --bench kms`: signatures/s of a hot-wallet ceremony against a local AWS KMS API
//! server and against SoftHSM2, in the same run.
//!
//! 1. starts the local KMS server (`scripts/moto_kms.py`: moto's KMS with its DIGEST and
//!    key-state departures from AWS fixed; `.venv-kms` from scripts/setup) with K secp256k1 keys,
//!    and sets up a SoftHSM2 token with K keys, K = addresses / 50;
//! 2. writes for each a manifest of the same shape as `bench hsm`'s (50 addresses per key: BTC
//!    P2WPKH, P2SH-P2WPKH, P2PKH, TRX and 46 EVM chains; keys named by alias on KMS);
//! 3. runs the release `por-attest sign --parallel N` as a child, a fresh journal each time:
//!    N = 1, 4 and 8 requests in flight against KMS (GetPublicKey once per key, then Sign with
//!    MessageType=DIGEST per address, DER parsed, low-s, recovery id, local verification,
//!    fsync'ed journal), N = 1 and 2 sessions against SoftHSM2;
//! 4. prints as its last line `kms-<size>: local KMS a/s, b/s, c/s (1, 4, 8 in flight);
//!    SoftHSM2 x/s, y/s (1, 2 sessions)`.
//!
//! The local server is moto on Python (one process, its GIL): it measures the ceremony's own
//! cost per signature and how it overlaps requests, not AWS's latency or quota (README,
//! "Signing with AWS KMS"). Skips a part, saying why, when its software is missing.
//! Environment: `POR_ATTEST_BENCH_KMS_ADDRESSES` (default 2,000).

mod common;
#[path = "common/hot_wallets.rs"]
mod hot_wallets;
#[path = "../tests/support/moto_kms.rs"]
mod moto_kms;

use bitcoin::secp256k1::PublicKey;
use moto_kms::MotoKms;
use por_attest::simulator::softhsm::{self, SoftHsm, USER_PIN};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

fn sign_command(manifest: &Path, signer: &str, parallel: usize, journal: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_por-attest"));
    c.arg("sign").arg("--manifest").arg(manifest);
    c.args(["--signer", signer, "--parallel", &parallel.to_string()]);
    c.arg("--journal").arg(journal);
    c
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists benches; there are no tests here.
    }
    let addresses = common::env_num("POR_ATTEST_BENCH_KMS_ADDRESSES").unwrap_or(2_000) as usize;
    let rows = hot_wallets::rows();
    let keys = addresses.div_ceil(rows.len());
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mut summary = Vec::new();

    match moto_kms::missing() {
        Some(why) => println!("local KMS part skipped: {why}"),
        None => {
            let started = Instant::now();
            let kms = MotoKms::start("[]", keys, &[]);
            println!(
                "local KMS: {keys} secp256k1 keys, server up in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            let named: Vec<(String, PublicKey)> = (1..=keys)
                .map(|i| {
                    let alias = format!("alias/hot-{i}");
                    let pk = kms.key(&alias).public_key.expect("a secp256k1 key");
                    (alias, pk)
                })
                .collect();
            let manifest = hot_wallets::write_manifest(
                dir.path(),
                "kms-1",
                &kms.signer_toml("kms-1"),
                &named,
                &rows,
                addresses,
            );
            let mut rates = Vec::new();
            for parallel in [1, 4, 8] {
                let journal = dir.path().join(format!("journal-kms-{parallel}.jsonl"));
                let mut sign = sign_command(&manifest, "kms-1", parallel, &journal);
                MotoKms::credentials(&mut sign);
                let what = format!("local KMS, {parallel} request(s) in flight");
                rates.push(hot_wallets::time_sign(sign, addresses, &what));
            }
            summary.push(format!(
                "local KMS {:.0}/s, {:.0}/s, {:.0}/s (1, 4, 8 in flight)",
                rates[0], rates[1], rates[2]
            ));
        }
    }

    match softhsm::missing() {
        Some(why) => println!("SoftHSM2 part skipped: {why}"),
        None => {
            let hsm = SoftHsm::new(dir.path()).expect("a SoftHSM2 store");
            hsm.init_token("bench").expect("a token");
            let started = Instant::now();
            let named: Vec<(String, PublicKey)> = (1..=keys)
                .map(|i| {
                    let id = format!("{i:04x}");
                    let pk = hsm
                        .generate_key("bench", &id, &format!("hot-{i}"), "EC:secp256k1")
                        .expect("pkcs11-tool --keypairgen")
                        .expect("a secp256k1 key");
                    (format!("id:{id}"), pk)
                })
                .collect();
            println!(
                "SoftHSM2: {keys} secp256k1 keys generated in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            let signer = format!(
                "[[signers]]\nid = \"hsm-1\"\nkind = \"pkcs11\"\nmodule = \"{}\"\ntoken = \"bench\"\npin_env = \"POR_ATTEST_PIN\"\n",
                hsm.module().display()
            );
            let manifest =
                hot_wallets::write_manifest(dir.path(), "hsm-1", &signer, &named, &rows, addresses);
            let mut rates = Vec::new();
            for parallel in [1, 2] {
                let journal = dir.path().join(format!("journal-hsm-{parallel}.jsonl"));
                let mut sign = sign_command(&manifest, "hsm-1", parallel, &journal);
                sign.env("SOFTHSM2_CONF", hsm.conf())
                    .env("POR_ATTEST_PIN", USER_PIN);
                let what = format!("SoftHSM2, {parallel} session(s)");
                rates.push(hot_wallets::time_sign(sign, addresses, &what));
            }
            summary.push(format!(
                "SoftHSM2 {:.0}/s, {:.0}/s (1, 2 sessions)",
                rates[0], rates[1]
            ));
        }
    }
    println!(
        "kms-{}: {}",
        common::label(addresses as u64),
        summary.join("; ")
    );
}
