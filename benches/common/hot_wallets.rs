//! What the hot-wallet benches (`hsm`, `kms`) share: each key's addresses on many chains, the
//! manifest of a key store's addresses, and timing a release `por-attest sign` run.

use bitcoin::secp256k1::PublicKey;
use por_attest::chains::{ChainFamily, Network, ScriptType};
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

const NAMED_EVM: [&str; 10] = [
    "ETH", "ARB", "OP", "BASE", "POLYGON", "BSC", "AVAXC", "LINEA", "ZKSYNC", "SCROLL",
];

/// The chains and script types of each key's 50 addresses: BTC P2WPKH, P2SH-P2WPKH and P2PKH,
/// TRX, and the key's EVM address on 46 EVM chains.
pub fn rows() -> Vec<(String, Option<ScriptType>)> {
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

/// Writes `manifest-ID.toml` and `addresses-ID.csv` in `dir`: signer `signer_toml` (id `id`)
/// holding the first `addresses` rows of `keys` (manifest key name, public key) × `rows`.
pub fn write_manifest(
    dir: &Path,
    id: &str,
    signer_toml: &str,
    keys: &[(String, PublicKey)],
    rows: &[(String, Option<ScriptType>)],
    addresses: usize,
) -> PathBuf {
    let mut toml = format!(
        "entity = \"Bench Exchange\"\nsnapshot_id = \"bench\"\naddresses_csv = \"addresses-{id}.csv\"\n\n{signer_toml}"
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
    'keys: for (name, pk) in keys {
        for (chain, st) in rows {
            if n == addresses {
                break 'keys;
            }
            let family = ChainFamily::of(chain).expect("known chain");
            let a = por_attest::pkcs11::address_of(pk, family, *st, Network::Mainnet)
                .expect("an address");
            let st = st.map(|t| t.to_string()).unwrap_or_default();
            let _ = writeln!(csv, "{chain},{a},{st},,{id},{name}");
            n += 1;
        }
    }
    std::fs::write(dir.join(format!("addresses-{id}.csv")), csv).expect("write the CSV");
    let path = dir.join(format!("manifest-{id}.toml"));
    std::fs::write(&path, toml).expect("write the manifest");
    path
}

/// Runs `sign` (a `por-attest sign` command, its journal fresh) to the end: signatures/s for
/// `addresses` addresses, printed as `what`.
pub fn time_sign(mut sign: Command, addresses: usize, what: &str) -> f64 {
    let started = Instant::now();
    let out = sign.stdin(Stdio::null()).output().expect("por-attest sign");
    let secs = started.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rate = addresses as f64 / secs;
    println!(
        "{what}: {addresses} addresses signed, verified and journaled in {secs:.2} s = {rate:.0} signatures/s"
    );
    rate
}
