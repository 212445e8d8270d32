//! Deterministic synthetic inputs for the verification benchmark and scale tests: snapshots
//! of any number of entries, and OKX- and HTX-format address files, signed with real
//! signatures.
//!
//! Test keys only: the secret of entry `i` is `sha256(seed ‖ i ‖ k)` (`k` numbers the keys
//! of one entry), so a million keys cost a million hashes rather than BIP-32 derivations.
//! A real ceremony never holds a private key on the host.
//!
//! Snapshot mix, by `index % 10`: 0–3 BTC single key (P2PKH, P2SH-P2WPKH and P2WPKH in turn;
//! Ledger-style and strict BIP-137 headers alternately), 4 BTC P2WSH 2-of-3 (two signatures),
//! 5–8 EVM (ETH, ETH, ARB, BASE; EIP-191), 9 TRON (TIP-191 v2): 40 / 10 / 40 / 10 %.
//! The BIP-322 mix ([`EntryGenerator::new_bip322`], [`cached_bip322_snapshot`]) is what the
//! ceremony now writes: the same addresses, P2SH-P2WPKH proven by a BIP-322 full signature,
//! P2WPKH and the P2WSH 2-of-3 by BIP-322 simple ones (P2PKH keeps its legacy message).
//!
//! Files are generated in parallel and streamed to disk: entries are made in chunks, hashed
//! into the digest and spooled to a temporary file as compact JSON, then the snapshot file is
//! written (header, digest, entries), byte-identical to [`Snapshot::to_file_bytes`], in memory
//! bounded by the chunk size.

use bitcoin::key::CompressedPublicKey;
use bitcoin::secp256k1::SecretKey;
use bitcoin::Address;
use por_attest_verify::chains::{Network, Scheme, ScriptType};
use por_attest_verify::message::{MessageFields, Template};
use por_attest_verify::schemes::bip137::{sign_bip137, Bip137Kind};
use por_attest_verify::schemes::bip322::{sign_bip322, Bip322Format, Bip322Signer};
use por_attest_verify::schemes::ed25519;
use por_attest_verify::schemes::evm::{
    evm_address_of, keccak256, sign_digest, sign_eip191, to_checksum_address,
};
use por_attest_verify::schemes::multisig::{multisig_address, multisig_script};
use por_attest_verify::schemes::secp;
use por_attest_verify::schemes::tron::{
    sign_tron_v2, tron_address_of, tron_message_hash, TronVersion,
};
use por_attest_verify::snapshot::{
    write_file_entry, write_file_head, write_file_tail, CanonicalHasher, Entry, Header,
    SignatureRecord, Snapshot,
};
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Version of the generator's output; part of cache file names, bump it when output changes.
pub const GENERATOR_VERSION: u32 = 1;

/// Default seed of the synthetic keys.
pub const DEFAULT_SEED: &[u8] = b"por-attest synthetic v1";

/// Entries generated (and spooled) per parallel chunk.
const CHUNK: usize = 8192;

/// Makes items `0..n` in parallel chunks of [`CHUNK`] and hands them to `write` in order:
/// memory bounded by one chunk whatever `n`.
fn in_chunks<T: Send>(
    n: u64,
    make: impl Fn(u64) -> T + Sync,
    mut write: impl FnMut(&T) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut start = 0u64;
    while start < n {
        let end = (start + CHUNK as u64).min(n);
        let items: Vec<T> = (start..end).into_par_iter().map(&make).collect();
        for item in &items {
            write(item)?;
        }
        start = end;
    }
    Ok(())
}

/// The secret key number `k` of entry `index`: `sha256(seed ‖ index ‖ k ‖ counter)`, the first
/// counter giving a valid scalar (the first, but for a 2^-128 chance).
pub fn synthetic_secret(seed: &[u8], index: u64, k: u8) -> SecretKey {
    for counter in 0u32.. {
        let mut h = Sha256::new();
        h.update(seed);
        h.update(index.to_le_bytes());
        h.update([k]);
        h.update(counter.to_le_bytes());
        if let Ok(sk) = SecretKey::from_slice(&h.finalize()) {
            return sk;
        }
    }
    unreachable!("a valid scalar comes up long before the counter wraps")
}

/// The single-key Bitcoin address of `key` for a synthetic slot: P2PKH, P2SH-P2WPKH and
/// P2WPKH in turn.
fn single_key_address(key: &SecretKey, index: u64, slot: u64) -> (ScriptType, Address) {
    let st = [
        ScriptType::P2pkh,
        ScriptType::P2shP2wpkh,
        ScriptType::P2wpkh,
    ][((index / 10 + slot) % 3) as usize];
    let pk = CompressedPublicKey(key.public_key(secp()));
    let net = bitcoin::Network::Bitcoin;
    let address = match st {
        ScriptType::P2pkh => Address::p2pkh(pk, net),
        ScriptType::P2shP2wpkh => Address::p2shwpkh(&pk, net),
        _ => Address::p2wpkh(&pk, net),
    };
    (st, address)
}

/// The header of synthetic snapshots (fixed, so files are deterministic).
pub fn synthetic_header() -> Header {
    let anchors = [
        (
            "ARB",
            280_000_000u64,
            "0x5e1a7c0b3d9f2e4a6b8c0d1e2f3a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c",
        ),
        (
            "BASE",
            22_000_000,
            "0x0b1c2d3e4f5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff0",
        ),
        (
            "BTC",
            925_000,
            "000000000000000000017a3c5e7f9b1d3f5a7c9e1b3d5f7a9c1e3b5d7f9a1c3e",
        ),
        (
            "ETH",
            23_800_000,
            "0x7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a09f8e",
        ),
        (
            "TRX",
            77_000_000,
            "0000000004a6f2c0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718",
        ),
    ];
    crate::fixtures::test_header("Synthetic Exchange", "bench-2026-11", &anchors)
}

/// The number of signatures in the first `n` synthetic entries (a P2WSH entry has two).
pub fn synthetic_signatures(n: u64) -> u64 {
    let p2wsh = n / 10 + u64::from(n % 10 > 4);
    n + p2wsh
}

/// Makes synthetic entries for one header (parses its template once).
pub struct EntryGenerator {
    header: Header,
    template: Template,
    seed: Vec<u8>,
    bip322: bool,
}

const EVM_CHAINS: [&str; 4] = ["ETH", "ETH", "ARB", "BASE"];

impl EntryGenerator {
    /// A generator for `header` with keys from `seed`.
    pub fn new(header: Header, seed: &[u8]) -> EntryGenerator {
        let template = Template::parse(&header.message_template).expect("valid template");
        EntryGenerator {
            header,
            template,
            seed: seed.to_vec(),
            bip322: false,
        }
    }

    /// A generator of the BIP-322 mix (see the module documentation).
    pub fn new_bip322(header: Header, seed: &[u8]) -> EntryGenerator {
        EntryGenerator {
            bip322: true,
            ..EntryGenerator::new(header, seed)
        }
    }

    /// The header entries are made for.
    pub fn header(&self) -> &Header {
        &self.header
    }

    fn message(&self, chain: &str, address: &str) -> String {
        let a = &self.header.anchors[chain];
        self.template.render(&MessageFields::new(
            &self.header.entity,
            &self.header.snapshot_id,
            chain,
            address,
            a,
        ))
    }

    /// Entry number `index` (deterministic).
    pub fn entry(&self, index: u64) -> Entry {
        let slot = index % 10;
        let sk = |k: u8| synthetic_secret(&self.seed, index, k);
        let net = bitcoin::Network::Bitcoin;
        let sig = |scheme: Scheme, signature| SignatureRecord {
            scheme: scheme.into(),
            signature,
            signer: None,
            owner: None,
        };
        let mut e = Entry {
            chain: String::new(),
            network: Network::Mainnet,
            address: String::new(),
            script_type: None,
            wallet: Some(
                if index.is_multiple_of(7) {
                    "hot"
                } else {
                    "cold"
                }
                .into(),
            ),
            // Six decimals: within every chain's precision (TRX has 6).
            balance: Some(format!(
                "{}.{:06}",
                index % 1000,
                (index * 7919) % 1_000_000
            )),
            message: String::new(),
            signatures: Vec::new(),
            threshold: None,
            script: None,
            coins: Vec::new(),
            tokens: Vec::new(),
            contract_wallet: None,
        };
        match slot {
            0..=3 => {
                let key = sk(0);
                let (st, address) = single_key_address(&key, index, slot);
                // Half the Ledger way (compressed-P2PKH header), half strict BIP-137.
                let kind = if index.is_multiple_of(2) {
                    Bip137Kind::P2pkhCompressed
                } else {
                    Bip137Kind::for_script_type(st).expect("single-key type")
                };
                e.chain = "BTC".into();
                e.address = address.to_string();
                e.script_type = Some(st);
                e.message = self.message("BTC", &e.address);
                let msg = e.message.as_bytes();
                e.signatures.push(match (self.bip322, st) {
                    (true, ScriptType::P2wpkh) => sig(
                        Scheme::Bip322Simple,
                        sign_bip322(&Bip322Signer::P2wpkh(&key), msg, Bip322Format::Simple)
                            .expect("sign"),
                    ),
                    (true, ScriptType::P2shP2wpkh) => sig(
                        Scheme::Bip322Full,
                        sign_bip322(&Bip322Signer::P2shP2wpkh(&key), msg, Bip322Format::FULL)
                            .expect("sign"),
                    ),
                    _ => sig(Scheme::Bip137, sign_bip137(&key, msg, kind)),
                });
            }
            4 => {
                let keys: Vec<SecretKey> = (0..3).map(sk).collect();
                let pubs: Vec<bitcoin::PublicKey> = keys
                    .iter()
                    .map(|k| bitcoin::PublicKey::new(k.public_key(secp())))
                    .collect();
                let script = multisig_script(2, &pubs).expect("2-of-3 script");
                let address =
                    multisig_address(ScriptType::P2wsh, &script, net).expect("P2WSH address");
                e.chain = "BTC".into();
                e.address = address.to_string();
                e.script_type = Some(ScriptType::P2wsh);
                e.message = self.message("BTC", &e.address);
                e.threshold = Some(2);
                e.script = Some(hex::encode(&script));
                // Two of the three cosigners, a different pair in turn.
                let skip = (index / 10 % 3) as usize;
                if self.bip322 {
                    let pair: Vec<SecretKey> = keys
                        .iter()
                        .enumerate()
                        .filter(|(c, _)| *c != skip)
                        .map(|(_, k)| *k)
                        .collect();
                    let signer = Bip322Signer::Multisig {
                        script_type: ScriptType::P2wsh,
                        script: &script,
                        keys: &pair,
                    };
                    let proof = sign_bip322(&signer, e.message.as_bytes(), Bip322Format::Simple)
                        .expect("sign");
                    e.signatures.push(sig(Scheme::Bip322Simple, proof));
                    return e;
                }
                for (c, k) in keys.iter().enumerate().filter(|(c, _)| *c != skip) {
                    e.signatures.push(SignatureRecord {
                        scheme: Scheme::Bip137.into(),
                        signature: sign_bip137(
                            k,
                            e.message.as_bytes(),
                            Bip137Kind::P2pkhCompressed,
                        ),
                        signer: Some(format!("cosigner-{c}")),
                        owner: None,
                    });
                }
            }
            5..=8 => {
                let key = sk(0);
                let chain = EVM_CHAINS[(slot - 5) as usize];
                e.chain = chain.into();
                e.wallet = None;
                e.address = to_checksum_address(&evm_address_of(&key.public_key(secp())));
                e.message = self.message(chain, &e.address);
                e.signatures
                    .push(sig(Scheme::Eip191, sign_eip191(&key, e.message.as_bytes())));
            }
            _ => {
                let key = sk(0);
                e.chain = "TRX".into();
                e.address = tron_address_of(&key.public_key(secp()));
                e.message = self.message("TRX", &e.address);
                e.signatures.push(sig(
                    Scheme::TronTip191,
                    sign_tron_v2(&key, e.message.as_bytes()),
                ));
            }
        }
        e
    }
}

/// A whole synthetic snapshot of `n` entries in memory (for tests and small sizes).
pub fn synthetic_snapshot(n: u64) -> Snapshot {
    let g = EntryGenerator::new(synthetic_header(), DEFAULT_SEED);
    let entries = (0..n).into_par_iter().map(|i| g.entry(i)).collect();
    Snapshot {
        header: g.header.clone(),
        entries,
        accounts: Vec::new(),
    }
}

/// What a generator wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generated {
    /// Entries (or rows) written.
    pub entries: u64,
    /// Signatures that a verifier checks.
    pub signatures: u64,
    /// Bytes written.
    pub bytes: u64,
}

/// Writes a synthetic snapshot of `n` entries to `path`, generating in parallel (rayon's
/// global pool) and streaming: memory stays bounded by one chunk of entries whatever `n`.
/// The file is written next to `path` and renamed into place when complete.
pub fn write_synthetic_snapshot(path: &Path, n: u64) -> std::io::Result<Generated> {
    write_snapshot_of(
        path,
        n,
        &EntryGenerator::new(synthetic_header(), DEFAULT_SEED),
    )
}

/// [`write_synthetic_snapshot`] of the BIP-322 mix.
pub fn write_synthetic_bip322_snapshot(path: &Path, n: u64) -> std::io::Result<Generated> {
    write_snapshot_of(
        path,
        n,
        &EntryGenerator::new_bip322(synthetic_header(), DEFAULT_SEED),
    )
}

/// The cached synthetic snapshot of the BIP-322 mix (see [`cached_snapshot`]).
pub fn cached_bip322_snapshot(dir: &Path, n: u64) -> std::io::Result<(PathBuf, bool)> {
    cached(
        dir,
        format!("snapshot-bip322-v{GENERATOR_VERSION}-{n}.json"),
        n,
        write_synthetic_bip322_snapshot,
    )
}

fn write_snapshot_of(path: &Path, n: u64, g: &EntryGenerator) -> std::io::Result<Generated> {
    let spool_path = with_suffix(path, ".entries.tmp");
    let tmp_path = with_suffix(path, ".tmp");
    // Pass 1: entries in parallel chunks, hashed in order and spooled one per line.
    let mut hasher = CanonicalHasher::new(g.header());
    {
        let mut spool = BufWriter::with_capacity(1 << 20, std::fs::File::create(&spool_path)?);
        in_chunks(
            n,
            |i| serde_json::to_vec(&g.entry(i)).expect("entry serializes"),
            |line| {
                hasher.add_serialized(line);
                spool.write_all(line)?;
                spool.write_all(b"\n")
            },
        )?;
        spool.flush()?;
    }
    let digest = hasher.finish();
    // Pass 2: header, digest, then the spooled entries.
    let mut out = CountingWriter {
        inner: BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp_path)?),
        bytes: 0,
    };
    write_file_head(&mut out, g.header(), &digest)?;
    let mut spool = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&spool_path)?);
    let mut line = Vec::with_capacity(2048);
    let mut index = 0u64;
    loop {
        line.clear();
        if spool.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        write_file_entry(&mut out, index, &line)?;
        index += 1;
    }
    write_file_tail(&mut out, index)?;
    out.flush()?;
    drop(out);
    std::fs::remove_file(&spool_path)?;
    std::fs::rename(&tmp_path, path)?;
    let bytes = std::fs::metadata(path)?.len();
    Ok(Generated {
        entries: n,
        signatures: synthetic_signatures(n),
        bytes,
    })
}

/// The cached synthetic snapshot of `n` entries under `dir` (generated when absent), keyed by
/// `n` and [`GENERATOR_VERSION`]. Returns the path and whether it was generated now.
pub fn cached_snapshot(dir: &Path, n: u64) -> std::io::Result<(PathBuf, bool)> {
    cached(
        dir,
        format!("snapshot-v{GENERATOR_VERSION}-{n}.json"),
        n,
        write_synthetic_snapshot,
    )
}

/// `dir/name`, made by `write` unless it is already there; true when it was made now.
fn cached(
    dir: &Path,
    name: String,
    n: u64,
    write: fn(&Path, u64) -> std::io::Result<Generated>,
) -> std::io::Result<(PathBuf, bool)> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(name);
    if path.exists() {
        return Ok((path, false));
    }
    write(&path, n)?;
    Ok((path, true))
}

/// The fixed text OKX's own files sign.
pub const OKX_MESSAGE: &str = "I am an OKX address";

/// The signatures a verifier checks in the first `n` synthetic OKX rows (multisig rows: two;
/// single-key BTC rows carry OKX's constant `signature2`, which is not checked).
pub fn synthetic_okx_signatures(n: u64) -> u64 {
    let multisig = n / 10 + u64::from(n % 10 > 4);
    n + multisig
}

/// One synthetic OKX row, as the 11 column values.
fn okx_row(seed: &[u8], index: u64, constant_sig2: &str) -> [String; 11] {
    let slot = index % 10;
    let sk = |k: u8| synthetic_secret(seed, index, k);
    let net = bitcoin::Network::Bitcoin;
    let msg = OKX_MESSAGE.as_bytes();
    let amount = format!("{}.{:04}", index % 5000, index % 10_000);
    let (coin, network, height, address, sig1, sig2, script) = match slot {
        0..=3 => {
            let key = sk(0);
            let (_, address) = single_key_address(&key, index, slot);
            let s1 = sign_bip137(&key, msg, Bip137Kind::P2pkhCompressed);
            (
                "BTC",
                "BTC",
                "925000",
                address.to_string(),
                s1,
                constant_sig2.to_string(),
                String::new(),
            )
        }
        4 => {
            let st = if (index / 10).is_multiple_of(2) {
                ScriptType::P2wsh
            } else {
                ScriptType::P2sh
            };
            let keys: Vec<SecretKey> = (0..3).map(sk).collect();
            let pubs: Vec<bitcoin::PublicKey> = keys
                .iter()
                .map(|k| bitcoin::PublicKey::new(k.public_key(secp())))
                .collect();
            let script = multisig_script(2, &pubs).expect("2-of-3 script");
            let address = multisig_address(st, &script, net).expect("multisig address");
            let s1 = sign_bip137(&keys[0], msg, Bip137Kind::P2pkhCompressed);
            let s2 = sign_bip137(&keys[1], msg, Bip137Kind::P2pkhCompressed);
            (
                "BTC",
                "BTC",
                "925000",
                address.to_string(),
                s1,
                s2,
                hex::encode(&script),
            )
        }
        5..=8 => {
            let key = sk(0);
            let (coin, network) = [
                ("ETH", "ETH"),
                ("USDT", "ETH"),
                ("USDC", "ARB"),
                ("ETH", "ETH"),
            ][(slot - 5) as usize];
            // OKX's form: personal_sign over keccak256 of the text.
            let s1 = sign_eip191(&key, &keccak256(msg));
            (
                coin,
                network,
                "23800000",
                to_checksum_address(&evm_address_of(&key.public_key(secp()))).to_lowercase(),
                s1,
                String::new(),
                String::new(),
            )
        }
        _ => {
            let key = sk(0);
            // OKX's older TRON form: the signed message is keccak256 of the text.
            let s1 = sign_digest(&key, tron_message_hash(&keccak256(msg), TronVersion::V2));
            (
                "USDT-TRC20",
                "TRX",
                "77000000",
                tron_address_of(&key.public_key(secp())),
                s1,
                String::new(),
                String::new(),
            )
        }
    };
    [
        coin.to_string(),
        network.to_string(),
        height.to_string(),
        address,
        amount,
        OKX_MESSAGE.to_string(),
        sig1,
        sig2,
        script,
        String::new(),
        String::new(),
    ]
}

/// Writes a synthetic OKX 11-column address file of `n` rows (summary block, blank line,
/// header, rows: 40% BTC single key, 10% BTC 2-of-3 multisig alternately P2WSH and P2SH, 40%
/// EVM in OKX's keccak form, 10% TRON in OKX's keccak form), generated in parallel chunks.
pub fn write_synthetic_okx(path: &Path, n: u64) -> std::io::Result<Generated> {
    let seed: Vec<u8> = [DEFAULT_SEED, b" okx"].concat();
    let constant = synthetic_secret(&seed, u64::MAX, 0);
    let constant_sig2 = sign_bip137(
        &constant,
        OKX_MESSAGE.as_bytes(),
        Bip137Kind::P2pkhCompressed,
    );
    let tmp_path = with_suffix(path, ".tmp");
    let mut out = CountingWriter {
        inner: BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp_path)?),
        bytes: 0,
    };
    out.write_all(
        b"coin,snapshot height,amount\nBTC,925000,-\nETH,23800000,-\nUSDC,23800000,-\nUSDT,23800000,-\nUSDT-TRC20,77000000,-\n\n",
    )?;
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(out);
    w.write_record(por_attest_verify::okx::OKX_11_HEADER)?;
    in_chunks(
        n,
        |i| okx_row(&seed, i, &constant_sig2),
        |r| Ok(w.write_record(r)?),
    )?;
    let mut out = w.into_inner().map_err(|e| e.into_error())?;
    out.flush()?;
    drop(out);
    std::fs::rename(&tmp_path, path)?;
    Ok(Generated {
        entries: n,
        signatures: synthetic_okx_signatures(n),
        bytes: std::fs::metadata(path)?.len(),
    })
}

/// The cached synthetic OKX file of `n` rows under `dir` (generated when absent).
pub fn cached_okx(dir: &Path, n: u64) -> std::io::Result<(PathBuf, bool)> {
    cached(
        dir,
        format!("okx-v{GENERATOR_VERSION}-{n}.csv"),
        n,
        write_synthetic_okx,
    )
}

/// The fixed text the synthetic HTX rows sign (HTX's files sign `htx`, `huobi` or
/// `King will be back!`).
pub const HTX_MESSAGE: &str = "htx";

/// The coins of a synthetic HTX file: (coin, its group, snapshot height), in summary order.
const HTX_COINS: [(&str, &str, &str); 8] = [
    ("BTC", "BTC", "925000"),
    ("ETH", "ETH", "23800000"),
    ("TRX", "TRX", "77000000"),
    ("USDT-ETH", "USDT", "23800000"),
    ("USDT-TRC20", "USDT", "77000000"),
    ("USDT-SOL", "USDT", "380000000"),
    ("USDT-ALGO", "USDT", "52000000"),
    ("HT-ETH", "HT", "23800000"),
];

/// The signed rows among the first `n` synthetic HTX rows (one row in ten is unsigned).
pub fn synthetic_htx_signed(n: u64) -> u64 {
    n - n / 10
}

/// The coin (index into the coin table) and balance in cents of synthetic HTX row `index`.
fn htx_slot(index: u64) -> (usize, u64) {
    let mut h = Sha256::new();
    h.update(b"htx balance");
    h.update(index.to_le_bytes());
    let d = h.finalize();
    let cents = u64::from_le_bytes(d[..8].try_into().expect("8 bytes")) % 100_000_000;
    let coin = match index % 10 {
        0..=2 => 0,
        3 => 1,
        4 => 3,
        5 => 2,
        6 => 4,
        7 => 5,
        8 => 6,
        _ => [0, 1, 2, 7][((index / 10) % 4) as usize],
    };
    (coin, cents)
}

fn cents_text(c: u128) -> String {
    format!("{}.{:02}", c / 100, c % 100)
}

/// One synthetic HTX row (`coin,address,snapshot height,balance,message,signature`), in the
/// forms HTX's files use: BTC legacy signed messages (compressed P2PKH), ETH raw ECDSA over
/// keccak256(text) with a lowercase address, USDT-ETH EIP-191 over the text, TRX the v1 header
/// over the text with HTX's `00`/`01` tail and no `0x`, USDT-TRC20 the v1 header over
/// keccak256(text), USDT-SOL and USDT-ALGO ed25519 in base64; slot 9 unsigned (`-,-`).
fn htx_row(seed: &[u8], index: u64) -> String {
    let (coin, cents) = htx_slot(index);
    let (name, _, height) = HTX_COINS[coin];
    let key = synthetic_secret(seed, index, 0);
    let pk = key.public_key(secp());
    let msg = HTX_MESSAGE.as_bytes();
    let evm = || format!("0x{}", hex::encode(evm_address_of(&pk)));
    let signed = index % 10 != 9;
    let (address, sig) = match coin {
        0 => (
            Address::p2pkh(CompressedPublicKey(pk), bitcoin::Network::Bitcoin).to_string(),
            sign_bip137(&key, msg, Bip137Kind::P2pkhCompressed),
        ),
        1 | 7 => (evm(), sign_digest(&key, keccak256(msg))),
        3 => (evm(), sign_eip191(&key, msg)),
        2 => {
            let mut s = sign_digest(&key, tron_message_hash(msg, TronVersion::V1));
            let v = if s.ends_with("1b") { "00" } else { "01" };
            s.replace_range(s.len() - 2.., v);
            (tron_address_of(&pk), s.trim_start_matches("0x").to_string())
        }
        4 => (
            tron_address_of(&pk),
            sign_digest(&key, tron_message_hash(&keccak256(msg), TronVersion::V2)),
        ),
        c => {
            let (vk, sig) = ed25519::sign_ed25519_base64(&key.secret_bytes(), msg);
            let address = if c == 5 {
                ed25519::solana_address(&vk)
            } else {
                ed25519::algorand_address(&vk)
            };
            (address, sig)
        }
    };
    if signed {
        format!(
            "{name},{address},{height},{},{HTX_MESSAGE},{sig}\n",
            cents_text(cents.into())
        )
    } else {
        format!(
            "{name},{address},{height},{},-,-\n",
            cents_text(cents.into())
        )
    }
}

/// Writes a synthetic HTX address file of `n` rows: HTX's summary block (a group line and a
/// coin line per coin, the totals exactly the rows' sums, two decimals), a blank line, HTX's
/// header, then the rows (30% BTC, 10% each ETH, TRX, USDT-ETH, USDT-TRC20, USDT-SOL,
/// USDT-ALGO in the forms of [`htx_row`], 10% unsigned), with a UTF-8 BOM as HTX's files
/// have. Every coin is one HTX's own verifier knows, and every row's coin is named in the
/// summary, so that verifier checks every signed row too.
pub fn write_synthetic_htx(path: &Path, n: u64) -> std::io::Result<Generated> {
    let seed: Vec<u8> = [DEFAULT_SEED, b" htx"].concat();
    let mut totals = [0u128; HTX_COINS.len()];
    for i in 0..n {
        let (c, cents) = htx_slot(i);
        totals[c] += u128::from(cents);
    }
    let tmp_path = with_suffix(path, ".tmp");
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp_path)?);
    out.write_all("\u{feff}coin,snapshot height,balance\n".as_bytes())?;
    let mut group = "";
    for (i, (name, g, height)) in HTX_COINS.iter().enumerate() {
        if *g != group {
            group = g;
            let sum: u128 = HTX_COINS
                .iter()
                .zip(&totals)
                .filter(|((_, gg, _), _)| gg == g)
                .map(|(_, t)| t)
                .sum();
            writeln!(out, "{g}(ALL),-,{}", cents_text(sum))?;
        }
        writeln!(out, "{name},{height},{}", cents_text(totals[i]))?;
    }
    out.write_all(b"\ncoin,address,snapshot height,balance,message,signature\n")?;
    in_chunks(n, |i| htx_row(&seed, i), |r| out.write_all(r.as_bytes()))?;
    out.flush()?;
    drop(out);
    std::fs::rename(&tmp_path, path)?;
    Ok(Generated {
        entries: n,
        signatures: synthetic_htx_signed(n),
        bytes: std::fs::metadata(path)?.len(),
    })
}

/// The cached synthetic HTX file of `n` rows under `dir` (generated when absent). HTX's own
/// verifier reads its file from the working directory, so the name is a plain file name.
pub fn cached_htx(dir: &Path, n: u64) -> std::io::Result<(PathBuf, bool)> {
    cached(
        dir,
        format!("htx-v{GENERATOR_VERSION}-{n}.csv"),
        n,
        write_synthetic_htx,
    )
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

struct CountingWriter<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streamed_file_is_byte_identical_and_verifies() {
        let dir = tempfile::tempdir().unwrap();
        for n in [0u64, 1, 23] {
            let p = dir.path().join(format!("s{n}.json"));
            let g = write_synthetic_snapshot(&p, n).unwrap();
            let bytes = std::fs::read(&p).unwrap();
            assert_eq!(g.bytes, bytes.len() as u64);
            assert_eq!(bytes, synthetic_snapshot(n).to_file_bytes(), "n = {n}");
        }
        let p = dir.path().join("s23.json");
        let r = por_attest_verify::verify::verify_snapshot_file(
            &p,
            &por_attest_verify::verify::VerifyOptions {
                threads: 2,
                progress: false,
                claims: false,
            },
        )
        .unwrap();
        assert_eq!(r.entries, 23);
        assert_eq!(r.verified, 23, "{}", r.to_human());
        assert!(r.digest.as_ref().unwrap().ok);
        assert_eq!(synthetic_signatures(23), 23 + 2);
        let s = synthetic_snapshot(23);
        let sigs: usize = s.entries.iter().map(|e| e.signatures.len()).sum();
        assert_eq!(sigs as u64, synthetic_signatures(23));
        let kinds: std::collections::BTreeSet<_> = s
            .entries
            .iter()
            .map(|e| format!("{}:{:?}", e.chain, e.script_type))
            .collect();
        assert_eq!(kinds.len(), 8, "{kinds:?}");
    }

    #[test]
    fn htx_file_verifies_with_its_totals() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("htx.csv");
        let g = write_synthetic_htx(&p, 60).unwrap();
        assert_eq!(g.signatures, 54);
        let r = por_attest_verify::htx::verify_htx_file(
            &p,
            &por_attest_verify::exchange::ExchangeOptions {
                threads: 2,
                progress: false,
                allow_unsupported: false,
                claims: false,
            },
        )
        .unwrap();
        assert_eq!(
            (r.entries, r.verified, r.unsigned),
            (60, 54, 6),
            "{}",
            r.to_human()
        );
        assert_eq!(r.format, "htx-csv");
        assert!(!r.totals.is_empty());
        assert!(
            r.totals.iter().all(|t| t.status == "ok"),
            "{}",
            r.to_human()
        );
        // Its unsigned rows leave the verdict incomplete (exit 3).
        assert_eq!((r.result, r.exit_code()), ("incomplete", 3));
        let kinds: std::collections::BTreeSet<String> = r.chains.keys().cloned().collect();
        assert_eq!(kinds.len(), HTX_COINS.len(), "{kinds:?}");
    }

    #[test]
    fn okx_file_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("okx.csv");
        let g = write_synthetic_okx(&p, 40).unwrap();
        assert_eq!(g.signatures, 44);
        let r = por_attest_verify::okx::verify_okx_file(
            &p,
            &por_attest_verify::okx::OkxOptions {
                threads: 2,
                progress: false,
                allow_unsupported: false,
                claims: false,
            },
        )
        .unwrap();
        assert_eq!(r.entries, 40);
        assert_eq!(r.verified, 40, "{}", r.to_human());
        assert_eq!(r.exit_code(), 0);
    }
}
