//! `cargo bench --bench hsm`: HSM signing throughput against SoftHSM2.
//!
//! In one run:
//! 1. sets up a SoftHSM2 token in a temporary folder with 200 secp256k1 keys (`pkcs11-tool`)
//!    and a manifest of 10,000 hot-wallet addresses, 50 per key: BTC P2WPKH, P2SH-P2WPKH and
//!    P2PKH, TRX, and the key's EVM address on 46 EVM chains (ETH, ARB, OP, BASE, POLYGON, BSC,
//!    AVAXC, LINEA, ZKSYNC, SCROLL, EVM-1 … EVM-36). SoftHSM2's file store creates and searches
//!    in time proportional to the objects it holds, so 10,000 keys would take hours to make;
//!    the figure per signature does not depend on how many keys there are (the ceremony reads
//!    the token's key index once per run);
//! 2. runs the release `por-attest sign --signer hsm-1 --parallel N` as a child for N = 1 and 2
//!    (a fresh journal each time) and prints signatures/s of the whole ceremony: key lookup,
//!    address check, CKM_ECDSA on the token, low-s and recovery id, local verification,
//!    journaling (fsync'ed);
//! 3. measures the token alone on the same keys: `C_Sign` of digests, normalised and recovered,
//!    on 1 and 2 sessions in this process (the ceremony's ceiling);
//! 4. prints as its last line `hsm-10k: <1 session>/s, <2 sessions>/s`.
//!
//! Skipped, with the reason, when SoftHSM2 or OpenSC is not installed (`scripts/setup`).
//! Environment: `POR_ATTEST_BENCH_HSM_ADDRESSES` (default 10,000).

mod common;
#[path = "common/hot_wallets.rs"]
mod hot_wallets;

use bitcoin::secp256k1::PublicKey;
use por_attest::pkcs11::{KeyRef, PinSource, Token, TokenRef};
use por_attest::simulator::softhsm::{self, SoftHsm, USER_PIN};
use std::time::Instant;

const TOKEN: &str = "bench";
fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists benches; there are no tests here.
    }
    if let Some(why) = softhsm::missing() {
        println!("hsm bench skipped: {why}");
        return;
    }
    let addresses = common::env_num("POR_ATTEST_BENCH_HSM_ADDRESSES").unwrap_or(10_000) as usize;
    let rows = hot_wallets::rows();
    let keys = addresses.div_ceil(rows.len());
    let dir = tempfile::tempdir().expect("a temporary folder");
    let hsm = SoftHsm::new(dir.path()).expect("a SoftHSM2 store");
    hsm.init_token(TOKEN).expect("a token");
    let started = Instant::now();
    let mut publics = Vec::with_capacity(keys);
    for i in 0..keys {
        let pk = hsm
            .generate_key(
                TOKEN,
                &format!("{:04x}", i + 1),
                &format!("hot-{i}"),
                "EC:secp256k1",
            )
            .expect("pkcs11-tool --keypairgen")
            .expect("a secp256k1 key");
        publics.push(pk);
    }
    println!(
        "token: {keys} secp256k1 keys generated in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let signer = format!(
        "[[signers]]\nid = \"hsm-1\"\nkind = \"pkcs11\"\nmodule = \"{}\"\ntoken = \"{TOKEN}\"\npin_env = \"POR_ATTEST_PIN\"\n",
        hsm.module().display()
    );
    let named: Vec<(String, PublicKey)> = publics
        .iter()
        .enumerate()
        .map(|(i, pk)| (format!("id:{:04x}", i + 1), *pk))
        .collect();
    let manifest =
        hot_wallets::write_manifest(dir.path(), "hsm-1", &signer, &named, &rows, addresses);

    let mut ceremony = Vec::new();
    for sessions in [1, 2] {
        let journal = dir.path().join(format!("journal-{sessions}.jsonl"));
        let mut sign = hsm.command(env!("CARGO_BIN_EXE_por-attest"));
        sign.env("POR_ATTEST_PIN", USER_PIN)
            .arg("sign")
            .arg("--manifest")
            .arg(&manifest)
            .args(["--signer", "hsm-1", "--parallel", &sessions.to_string()])
            .arg("--journal")
            .arg(&journal);
        let what = format!("ceremony, {sessions} session(s)");
        ceremony.push(hot_wallets::time_sign(sign, addresses, &what));
    }

    // The token alone, in this process (SOFTHSM2_CONF must be set before the module loads).
    std::env::set_var("SOFTHSM2_CONF", hsm.conf());
    std::env::set_var("POR_ATTEST_PIN", USER_PIN);
    let token = Token::open(
        hsm.module(),
        &TokenRef::Label(TOKEN.into()),
        &PinSource::Env("POR_ATTEST_PIN".into()),
    )
    .expect("login");
    let login = token.login_session();
    let index = login.key_index().expect("the token's keys");
    let found: Vec<_> = (0..keys)
        .map(|i| {
            let id = KeyRef::Id(((i + 1) as u16).to_be_bytes().to_vec());
            login.find_key(&index, &id).expect("key")
        })
        .collect();
    for sessions in [1usize, 2] {
        let workers: Vec<_> = (0..sessions)
            .map(|_| token.session().expect("session"))
            .collect();
        let per = addresses / sessions;
        let started = Instant::now();
        std::thread::scope(|s| {
            for (w, session) in workers.into_iter().enumerate() {
                let found = &found;
                s.spawn(move || {
                    for i in 0..per {
                        let digest = [(w * per + i) as u8 ^ 0x5a; 32];
                        session
                            .sign_digest(&found[i % found.len()], &digest)
                            .expect("C_Sign");
                    }
                });
            }
        });
        let secs = started.elapsed().as_secs_f64();
        println!(
            "token alone, {sessions} session(s): {} C_Sign + low-s + recovery id in {secs:.2} s = {:.0}/s",
            per * sessions,
            (per * sessions) as f64 / secs
        );
    }
    println!(
        "hsm-{}: {:.0}/s with 1 session, {:.0}/s with 2 sessions",
        common::label(addresses as u64),
        ceremony[0],
        ceremony[1]
    );
}
