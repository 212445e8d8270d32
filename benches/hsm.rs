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

use bitcoin::secp256k1::PublicKey;
use por_attest::chains::{ChainFamily, Network, ScriptType};
use por_attest::pkcs11::{address_of, KeyRef, PinSource, Token, TokenRef};
use por_attest::simulator::softhsm::{self, SoftHsm, USER_PIN};
use std::fmt::Write;
use std::path::Path;
use std::process::Stdio;
use std::time::Instant;

const TOKEN: &str = "bench";
const NAMED_EVM: [&str; 10] = [
    "ETH", "ARB", "OP", "BASE", "POLYGON", "BSC", "AVAXC", "LINEA", "ZKSYNC", "SCROLL",
];

/// The chains and script types of each key's 50 addresses.
fn rows() -> Vec<(String, Option<ScriptType>)> {
    let mut rows: Vec<(String, Option<ScriptType>)> = [
        ScriptType::P2wpkh,
        ScriptType::P2shP2wpkh,
        ScriptType::P2pkh,
    ]
    .into_iter()
    .map(|st| ("BTC".to_string(), Some(st)))
    .collect();
    rows.push(("TRX".into(), None));
    rows.extend(NAMED_EVM.iter().map(|c| (c.to_string(), None)));
    rows.extend((1..=36).map(|i| (format!("EVM-{i}"), None)));
    rows
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists benches; there are no tests here.
    }
    if let Some(why) = softhsm::missing() {
        println!("hsm bench skipped: {why}");
        return;
    }
    let addresses = common::env_num("POR_ATTEST_BENCH_HSM_ADDRESSES").unwrap_or(10_000) as usize;
    let rows = rows();
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
    let manifest = write_manifest(dir.path(), &hsm, &publics, &rows, addresses);

    let mut ceremony = Vec::new();
    for sessions in [1, 2] {
        let journal = dir.path().join(format!("journal-{sessions}.jsonl"));
        let started = Instant::now();
        let out = hsm
            .command(env!("CARGO_BIN_EXE_por-attest"))
            .env("POR_ATTEST_PIN", USER_PIN)
            .arg("sign")
            .arg("--manifest")
            .arg(&manifest)
            .args(["--signer", "hsm-1", "--parallel", &sessions.to_string()])
            .arg("--journal")
            .arg(&journal)
            .stdin(Stdio::null())
            .output()
            .expect("por-attest sign");
        let secs = started.elapsed().as_secs_f64();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let rate = addresses as f64 / secs;
        println!(
            "ceremony, {sessions} session(s): {addresses} addresses signed, verified and journaled in {secs:.2} s = {rate:.0} signatures/s"
        );
        ceremony.push(rate);
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

fn write_manifest(
    dir: &Path,
    hsm: &SoftHsm,
    publics: &[PublicKey],
    rows: &[(String, Option<ScriptType>)],
    addresses: usize,
) -> std::path::PathBuf {
    let mut toml = format!(
        "entity = \"Bench Exchange\"\nsnapshot_id = \"bench\"\naddresses_csv = \"addresses.csv\"\n\n[[signers]]\nid = \"hsm-1\"\nkind = \"pkcs11\"\nmodule = \"{}\"\ntoken = \"{TOKEN}\"\npin_env = \"POR_ATTEST_PIN\"\n",
        hsm.module().display()
    );
    let mut chains: Vec<&str> = rows.iter().map(|(c, _)| c.as_str()).collect();
    chains.dedup();
    for (i, chain) in chains.iter().enumerate() {
        let _ = write!(
            toml,
            "\n[anchors.{chain}]\nheight = {}\nblock_hash = \"{:064x}\"\n",
            1000 + i,
            i + 1
        );
    }
    let mut csv = String::from("chain,address,script_type,path,signer,key\n");
    let mut n = 0;
    'keys: for (i, pk) in publics.iter().enumerate() {
        for (chain, st) in rows {
            if n == addresses {
                break 'keys;
            }
            let family = ChainFamily::of(chain).expect("known chain");
            let a = address_of(pk, family, *st, Network::Mainnet).expect("an address");
            let st = st.map(|t| t.to_string()).unwrap_or_default();
            let _ = writeln!(csv, "{chain},{a},{st},,hsm-1,id:{:04x}", i + 1);
            n += 1;
        }
    }
    std::fs::write(dir.join("addresses.csv"), csv).expect("write the CSV");
    let path = dir.join("manifest.toml");
    std::fs::write(&path, toml).expect("write the manifest");
    path
}
