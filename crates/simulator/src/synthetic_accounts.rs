//! Deterministic synthetic account entries (snapshot format version 2) for the verification
//! benchmark and the account tests: HD accounts and 2-of-3 multisig wallets of test keys,
//! their account messages signed, their addresses derived with the `bitcoin` crate's BIP-32
//! (`ckd_pub`) and address code, independently of the verifier's fast derivation.
//!
//! Test keys only: the master key of account `a`'s cosigner `k` is BIP-32's master of
//! `sha256(seed ‖ a ‖ k)`. A real ceremony never holds a private key on the host.
//!
//! The benchmark's mix ([`bench_kind`]) is the per-address synthetic snapshot's, account by
//! account: by `index % 10`, 0–3 BTC single key (P2PKH, P2SH-P2WPKH, P2WPKH in turn), 4 BTC
//! 2-of-3 P2WSH, 5–8 EVM (ETH), 9 TRON.

use crate::synthetic::{synthetic_header, Generated, DEFAULT_SEED};
use bitcoin::bip32::{ChildNumber, DerivationPath, Xpriv, Xpub};
use bitcoin::key::CompressedPublicKey;
use bitcoin::secp256k1::SecretKey;
use bitcoin::Address;
use por_attest_verify::account::keys::multisig_descriptor;
use por_attest_verify::account::{Account, AccountAddress, AccountKey};
use por_attest_verify::chains::{Network, Scheme, ScriptType};
use por_attest_verify::message::{MessageFields, Template, DEFAULT_ACCOUNT_TEMPLATE};
use por_attest_verify::schemes::bip137::{sign_bip137, Bip137Kind};
use por_attest_verify::schemes::evm::{evm_address_of, sign_eip191, to_checksum_address};
use por_attest_verify::schemes::multisig::{multisig_address, multisig_script};
use por_attest_verify::schemes::secp;
use por_attest_verify::schemes::tron::{sign_tron_v2, tron_address_of};
use por_attest_verify::snapshot::{
    write_file_account, write_file_entries_end, write_file_head, write_file_tail, CanonicalHasher,
    Header, SignatureRecord, Snapshot, ACCOUNTS_FORMAT_VERSION,
};
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Version of this generator's output; part of cache file names.
pub const ACCOUNT_GENERATOR_VERSION: u32 = 1;

/// The kinds of synthetic account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccountKind {
    /// A BIP-32 account of one single-key Bitcoin script type (addresses at `0/i`).
    Bitcoin(ScriptType),
    /// A 2-of-3 Bitcoin multisig wallet of this script type (addresses at `0/i`).
    Multisig(ScriptType),
    /// An EVM key at `m/44'/60'/0'/0` (addresses at `i`).
    Evm,
    /// A TRON key at `m/44'/195'/0'/0` (addresses at `i`).
    Tron,
}

impl AccountKind {
    /// The chain ticker of the account.
    pub fn chain(self) -> &'static str {
        match self {
            AccountKind::Bitcoin(_) | AccountKind::Multisig(_) => "BTC",
            AccountKind::Evm => "ETH",
            AccountKind::Tron => "TRX",
        }
    }

    /// The path of cosigner `k`'s account key (the standard one for the kind).
    pub fn key_path(self) -> DerivationPath {
        let p = match self {
            AccountKind::Bitcoin(ScriptType::P2pkh) => "m/44'/0'/0'",
            AccountKind::Bitcoin(ScriptType::P2shP2wpkh) => "m/49'/0'/0'",
            AccountKind::Bitcoin(ScriptType::P2wpkh) => "m/84'/0'/0'",
            AccountKind::Bitcoin(_) => "m/86'/0'/0'",
            AccountKind::Multisig(ScriptType::P2shP2wsh) => "m/48'/0'/0'/1'",
            AccountKind::Multisig(ScriptType::P2sh) => "m/45'/0'/0'",
            AccountKind::Multisig(_) => "m/48'/0'/0'/2'",
            AccountKind::Evm => "m/44'/60'/0'/0",
            AccountKind::Tron => "m/44'/195'/0'/0",
        };
        DerivationPath::from_str(p).expect("valid path")
    }

    /// The keys: three cosigners for multisig, one otherwise.
    pub fn cosigners(self) -> u8 {
        if matches!(self, AccountKind::Multisig(_)) {
            3
        } else {
            1
        }
    }

    /// Public key derivations a verifier performs per address (one per key; a P2TR address
    /// adds its BIP-341 tweak, the same kind of operation).
    pub fn derivations_per_address(self) -> u64 {
        match self {
            AccountKind::Multisig(_) => 3,
            AccountKind::Bitcoin(ScriptType::P2tr) => 2,
            _ => 1,
        }
    }

    /// The relative path of address `i`.
    pub fn relative_path(self, i: u64) -> String {
        match self {
            AccountKind::Evm | AccountKind::Tron => i.to_string(),
            _ => format!("0/{i}"),
        }
    }
}

/// The benchmark's account kind of account `index` (see the module documentation).
pub fn bench_kind(index: u64) -> AccountKind {
    match index % 10 {
        0..=3 => AccountKind::Bitcoin(
            [
                ScriptType::P2pkh,
                ScriptType::P2shP2wpkh,
                ScriptType::P2wpkh,
            ][((index / 10 + index % 10) % 3) as usize],
        ),
        4 => AccountKind::Multisig(ScriptType::P2wsh),
        5..=8 => AccountKind::Evm,
        _ => AccountKind::Tron,
    }
}

/// The master key of cosigner `k` of account `index`.
pub fn account_master(seed: &[u8], index: u64, k: u8) -> Xpriv {
    let mut h = Sha256::new();
    h.update(seed);
    h.update(index.to_le_bytes());
    h.update([k]);
    Xpriv::new_master(bitcoin::Network::Bitcoin, &h.finalize()).expect("a 32-byte seed")
}

/// The account private key of cosigner `k` of account `index` of this kind.
pub fn account_xpriv(seed: &[u8], index: u64, k: u8, kind: AccountKind) -> Xpriv {
    account_master(seed, index, k)
        .derive_priv(secp(), &kind.key_path())
        .expect("derivable")
}

/// The account key (with its origin) of cosigner `k`.
pub fn account_key(seed: &[u8], index: u64, k: u8, kind: AccountKind) -> AccountKey {
    let master = account_master(seed, index, k);
    let xpriv = account_xpriv(seed, index, k, kind);
    AccountKey {
        origin: Some((master.fingerprint(secp()), kind.key_path())),
        xpub: Xpub::from_priv(secp(), &xpriv),
    }
}

/// The header of synthetic account snapshots: the per-address one, version 2.
pub fn synthetic_account_header() -> Header {
    let mut h = synthetic_header();
    h.version = ACCOUNTS_FORMAT_VERSION;
    h.account_template = Some(DEFAULT_ACCOUNT_TEMPLATE.to_string());
    h
}

/// Makes synthetic accounts for one header (parses its account template once).
pub struct AccountGenerator {
    header: Header,
    template: Template,
    seed: Vec<u8>,
}

impl AccountGenerator {
    /// A generator for `header` (which must have an account template) and key seed.
    pub fn new(header: Header, seed: &[u8]) -> AccountGenerator {
        let template = Template::parse_account(
            header
                .account_template
                .as_deref()
                .expect("an account snapshot header"),
        )
        .expect("valid account template");
        AccountGenerator {
            header,
            template,
            seed: seed.to_vec(),
        }
    }

    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The account message for an `{account}` text on `chain`.
    pub fn message(&self, chain: &str, account_text: &str) -> String {
        self.template.render(&MessageFields::new(
            &self.header.entity,
            &self.header.snapshot_id,
            chain,
            account_text,
            &self.header.anchors[chain],
        ))
    }

    /// Account `index` of `kind` with addresses `0..addresses` (derived in parallel), signed
    /// by its key (a multisig wallet by its first two cosigners).
    pub fn account(&self, index: u64, kind: AccountKind, addresses: u64) -> Account {
        let chain = kind.chain();
        let keys: Vec<AccountKey> = (0..kind.cosigners())
            .map(|k| account_key(&self.seed, index, k, kind))
            .collect();
        let (key, descriptor, account_text) = match kind {
            AccountKind::Multisig(st) => {
                let d = multisig_descriptor(st, 2, true, &keys).expect("multisig descriptor");
                let text = format!("sha256:{}", hex::encode(Sha256::digest(d.as_bytes())));
                (None, Some(d), text)
            }
            _ => (Some(keys[0].to_string()), None, keys[0].xpub.to_string()),
        };
        let message = self.message(chain, &account_text);
        let signers = if kind.cosigners() == 3 { 2 } else { 1 };
        let signatures = (0..signers)
            .map(|k| {
                let sk = account_xpriv(&self.seed, index, k, kind).private_key;
                sign_account_message(
                    kind,
                    &sk,
                    &message,
                    (signers > 1).then(|| format!("cosigner-{k}")),
                )
            })
            .collect();
        let chains: Vec<Xpub> = keys
            .iter()
            .map(|k| match kind {
                AccountKind::Evm | AccountKind::Tron => k.xpub,
                _ => k
                    .xpub
                    .ckd_pub(secp(), ChildNumber::Normal { index: 0 })
                    .expect("derivable"),
            })
            .collect();
        let list = (0..addresses)
            .into_par_iter()
            .map(|i| AccountAddress {
                path: kind.relative_path(i),
                address: address_below(kind, &chains, i as u32),
                balance: (i % 5 == 0).then(|| format!("{}.{:03}", i % 7, i % 1000)),
                coins: Vec::new(),
            })
            .collect();
        Account {
            chain: chain.into(),
            network: Network::Mainnet,
            script_type: match kind {
                AccountKind::Bitcoin(st) | AccountKind::Multisig(st) => Some(st),
                _ => None,
            },
            wallet: Some("cold".into()),
            key,
            descriptor,
            message,
            signatures,
            addresses: list,
        }
    }
}

/// Signs an account message with an account private key, as the device app would.
pub fn sign_account_message(
    kind: AccountKind,
    sk: &SecretKey,
    message: &str,
    signer: Option<String>,
) -> SignatureRecord {
    let (scheme, signature) = match kind {
        // The Bitcoin app's header: compressed P2PKH, whatever the script type.
        AccountKind::Bitcoin(_) | AccountKind::Multisig(_) => (
            Scheme::Bip137,
            sign_bip137(sk, message.as_bytes(), Bip137Kind::P2pkhCompressed),
        ),
        AccountKind::Evm => (Scheme::Eip191, sign_eip191(sk, message.as_bytes())),
        AccountKind::Tron => (Scheme::TronTip191, sign_tron_v2(sk, message.as_bytes())),
    };
    SignatureRecord {
        scheme: scheme.into(),
        signature,
        signer,
        owner: None,
    }
}

/// The address at child `i` of the chain key(s), with the `bitcoin` crate's derivation.
pub fn address_below(kind: AccountKind, chains: &[Xpub], i: u32) -> String {
    let child = |x: &Xpub| {
        x.ckd_pub(secp(), ChildNumber::Normal { index: i })
            .expect("derivable")
            .public_key
    };
    let net = bitcoin::Network::Bitcoin;
    match kind {
        AccountKind::Bitcoin(st) => {
            let pk = CompressedPublicKey(child(&chains[0]));
            match st {
                ScriptType::P2pkh => Address::p2pkh(pk, net),
                ScriptType::P2shP2wpkh => Address::p2shwpkh(&pk, net),
                ScriptType::P2wpkh => Address::p2wpkh(&pk, net),
                _ => Address::p2tr(secp(), pk.0.x_only_public_key().0, None, net),
            }
            .to_string()
        }
        AccountKind::Multisig(st) => {
            let mut keys: Vec<bitcoin::PublicKey> = chains
                .iter()
                .map(|c| bitcoin::PublicKey::new(child(c)))
                .collect();
            keys.sort_by_key(|k| k.to_bytes());
            let script = multisig_script(2, &keys).expect("2-of-3");
            multisig_address(st, &script, net)
                .expect("multisig address")
                .to_string()
        }
        AccountKind::Evm => to_checksum_address(&evm_address_of(&child(&chains[0]))),
        AccountKind::Tron => tron_address_of(&child(&chains[0])),
    }
}

/// A synthetic account snapshot in memory: `accounts` accounts of the benchmark mix sharing
/// `addresses` addresses (as evenly as they go), no per-address entries.
pub fn synthetic_account_snapshot(addresses: u64, accounts: u64) -> Snapshot {
    let g = AccountGenerator::new(synthetic_account_header(), DEFAULT_SEED);
    let accounts = (0..accounts)
        .map(|a| g.account(a, bench_kind(a), share(addresses, accounts, a)))
        .collect();
    Snapshot {
        header: g.header.clone(),
        entries: Vec::new(),
        accounts,
    }
}

/// The addresses of account `a` when `addresses` are spread over `accounts`.
fn share(addresses: u64, accounts: u64, a: u64) -> u64 {
    addresses / accounts + u64::from(a < addresses % accounts)
}

/// Public key derivations a verifier performs for [`synthetic_account_snapshot`] (its
/// accounts' addresses by [`AccountKind::derivations_per_address`]).
pub fn synthetic_account_derivations(addresses: u64, accounts: u64) -> u64 {
    (0..accounts)
        .map(|a| share(addresses, accounts, a) * bench_kind(a).derivations_per_address())
        .sum()
}

/// Writes [`synthetic_account_snapshot`] to `path`, byte-identical to its
/// [`Snapshot::write_file`], one account in memory at a time: each account is hashed into the
/// digest and spooled to a temporary file, then the file is written (header, digest, the
/// spooled accounts) and renamed into place.
pub fn write_synthetic_account_snapshot(
    path: &Path,
    addresses: u64,
    accounts: u64,
) -> std::io::Result<Generated> {
    let g = AccountGenerator::new(synthetic_account_header(), DEFAULT_SEED);
    let with = |suffix: &str| {
        let mut s = path.as_os_str().to_owned();
        s.push(suffix);
        PathBuf::from(s)
    };
    let (spool_path, tmp_path) = (with(".accounts.tmp"), with(".tmp"));
    let mut hasher = CanonicalHasher::new(g.header());
    let mut signatures = 0u64;
    {
        let mut spool = BufWriter::with_capacity(1 << 20, std::fs::File::create(&spool_path)?);
        for a in 0..accounts {
            let account = g.account(a, bench_kind(a), share(addresses, accounts, a));
            hasher.add_account(&account);
            signatures += account.signatures.len() as u64;
            write_file_account(&mut spool, a, &account)?;
        }
        spool.flush()?;
    }
    let digest = hasher.finish();
    {
        let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp_path)?);
        write_file_head(&mut out, g.header(), &digest)?;
        write_file_entries_end(&mut out, 0)?;
        std::io::copy(&mut std::fs::File::open(&spool_path)?, &mut out)?;
        write_file_tail(&mut out, accounts)?;
        out.flush()?;
    }
    std::fs::remove_file(&spool_path)?;
    std::fs::rename(&tmp_path, path)?;
    Ok(Generated {
        entries: addresses,
        signatures,
        bytes: std::fs::metadata(path)?.len(),
    })
}

/// The cached synthetic account snapshot under `dir` (generated when absent). Returns the path
/// and whether it was generated now.
pub fn cached_account_snapshot(
    dir: &Path,
    addresses: u64,
    accounts: u64,
) -> std::io::Result<(PathBuf, bool)> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!(
        "accounts-v{ACCOUNT_GENERATOR_VERSION}-{addresses}-in-{accounts}.json"
    ));
    if path.exists() {
        return Ok((path, false));
    }
    write_synthetic_account_snapshot(&path, addresses, accounts)?;
    Ok((path, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_streamed_file_is_the_snapshot_s_own_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.json");
        let g = write_synthetic_account_snapshot(&p, 230, 11).unwrap();
        let want = synthetic_account_snapshot(230, 11).to_file_bytes();
        assert_eq!(std::fs::read(&p).unwrap(), want);
        assert_eq!((g.entries, g.bytes), (230, want.len() as u64));
        // 11 accounts: one 2-of-3 wallet (two signatures), ten single keys.
        assert_eq!(g.signatures, 12);
        assert_eq!(synthetic_account_derivations(230, 11), 230 + 2 * 21);
    }
}
