//! Deterministic snapshots signed with test keys: the example snapshot shipped in
//! `examples/snapshot.json` and the synthetic snapshots of the verification benchmark.
//! Test keys only: these functions hold private keys on the host, which a real ceremony never does.

use bitcoin::bip32::{DerivationPath, Xpriv};
use bitcoin::key::{CompressedPublicKey, Keypair};
use bitcoin::secp256k1::SecretKey;
use bitcoin::Address;
use por_attest_verify::chains::{Network, Scheme, ScriptType};
use por_attest_verify::message::{MessageFields, Template, DEFAULT_TEMPLATE};
use por_attest_verify::schemes::bip137::{sign_bip137, Bip137Kind};
use por_attest_verify::schemes::bip322::{sign_bip322, Bip322Format, Bip322Signer};
use por_attest_verify::schemes::evm::{evm_address_of, sign_eip191, to_checksum_address};
use por_attest_verify::schemes::multisig::{multisig_address, multisig_script};
use por_attest_verify::schemes::secp;
use por_attest_verify::schemes::tron::{sign_tron_v2, tron_address_of};
use por_attest_verify::snapshot::{
    Anchor, Entry, Header, SignatureRecord, Snapshot, FORMAT_TAG, FORMAT_VERSION,
};
use std::collections::BTreeMap;
use std::str::FromStr;

/// Speculos's well-known test mnemonic (also the simulator's default seed).
pub const TEST_MNEMONIC: &str = "glory promote mansion idle axis finger extra february uncover one trip resource lawn turtle enact monster seven myth punch hobby comfort wild raise skin";

/// The BIP-32 master key of a BIP-39 mnemonic (empty passphrase).
pub fn master_key(mnemonic: &str) -> Xpriv {
    let m = bip39::Mnemonic::parse(mnemonic).expect("valid test mnemonic");
    Xpriv::new_master(bitcoin::Network::Bitcoin, &m.to_seed("")).expect("valid seed")
}

/// The BIP-86 P2TR address (mainnet) of `mnemonic`'s key at `m/86'/0'/0'/0/index`.
pub fn p2tr_address(mnemonic: &str, index: u32) -> String {
    let sk = secret_at(&master_key(mnemonic), &format!("m/86'/0'/0'/0/{index}"));
    let (internal, _) = sk.public_key(secp()).x_only_public_key();
    Address::p2tr(secp(), internal, None, bitcoin::Network::Bitcoin).to_string()
}

/// The secret key at `path` below `master`.
pub fn secret_at(master: &Xpriv, path: &str) -> SecretKey {
    let p = DerivationPath::from_str(path).expect("valid path");
    master
        .derive_priv(secp(), &p)
        .expect("derivation")
        .private_key
}

/// The example anchors (`(chain, height, block hash)`) of the example snapshot and the demo.
pub const EXAMPLE_ANCHORS: [(&str, u64, &str); 4] = [
    (
        "ARB",
        280_000_000u64,
        "0x3f5d0c8a1b6e2f7a9c4d8e0b1a2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e",
    ),
    (
        "BTC",
        925_000,
        "00000000000000000001c5f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6e5f",
    ),
    (
        "ETH",
        23_800_000,
        "0x9a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9",
    ),
    (
        "TRX",
        77_000_000,
        "0000000004a6f2c0e5d4c3b2a1908f7e6d5c4b3a29180706f5e4d3c2b1a09f8e",
    ),
];

/// The header of the example snapshot.
fn example_header() -> Header {
    test_header("Example Exchange", "2026-11", &EXAMPLE_ANCHORS)
}

/// A header with the default template, created 2026-11-28, and these anchors
/// (`(chain, height, block hash)`).
pub fn test_header(entity: &str, snapshot_id: &str, anchors: &[(&str, u64, &str)]) -> Header {
    let anchors = anchors
        .iter()
        .map(|(c, height, hash)| {
            (
                c.to_string(),
                Anchor {
                    height: *height,
                    block_hash: hash.to_string(),
                },
            )
        })
        .collect::<BTreeMap<_, _>>();
    Header {
        format: FORMAT_TAG.into(),
        version: FORMAT_VERSION,
        entity: entity.into(),
        snapshot_id: snapshot_id.into(),
        created_at: "2026-11-28T00:00:00Z".into(),
        anchors,
        message_template: DEFAULT_TEMPLATE.into(),
        account_template: None,
    }
}

/// Renders the message of `address` on `chain` for a header.
pub fn render_for(header: &Header, chain: &str, address: &str) -> String {
    let t = Template::parse(&header.message_template).expect("valid template");
    let a = &header.anchors[chain];
    t.render(&MessageFields::new(
        &header.entity,
        &header.snapshot_id,
        chain,
        address,
        a,
    ))
}

fn sig(scheme: Scheme, signature: String) -> SignatureRecord {
    SignatureRecord {
        scheme: scheme.into(),
        signature,
        signer: None,
        owner: None,
    }
}

fn entry(header: &Header, chain: &str, address: String, st: Option<ScriptType>) -> Entry {
    Entry {
        message: render_for(header, chain, &address),
        chain: chain.into(),
        network: Network::Mainnet,
        address,
        script_type: st,
        wallet: Some("cold".into()),
        balance: None,
        signatures: vec![],
        threshold: None,
        script: None,
        coins: Vec::new(),
        tokens: Vec::new(),
        contract_wallet: None,
    }
}

/// An EIP-191 entry for `address` on EVM chain `chain` stating `balance`, signed by each of
/// `signers` (the key, and for a contract wallet the owner address it signs as).
pub fn eip191_entry(
    header: &Header,
    chain: &str,
    address: &str,
    balance: &str,
    signers: &[(SecretKey, Option<String>)],
) -> Entry {
    let mut e = entry(header, chain, address.to_string(), None);
    e.balance = Some(balance.to_string());
    e.signatures = signers
        .iter()
        .map(|(key, owner)| SignatureRecord {
            owner: owner.clone(),
            ..sig(Scheme::Eip191, sign_eip191(key, e.message.as_bytes()))
        })
        .collect();
    e
}

/// The example snapshot: one entry per scheme and script type, signed with keys derived
/// from [`TEST_MNEMONIC`]. Deterministic (RFC 6979 nonces, no auxiliary randomness).
pub fn example_snapshot() -> Snapshot {
    let header = example_header();
    let master = master_key(TEST_MNEMONIC);
    let net = bitcoin::Network::Bitcoin;
    let mut entries = Vec::new();
    let ckey = |sk: &SecretKey| CompressedPublicKey(sk.public_key(secp()));

    // P2PKH: the legacy signed message, the way the Ledger Bitcoin app signs it (BIP-322
    // allows the legacy format for P2PKH only).
    let sk = secret_at(&master, "m/44'/0'/0'/0/0");
    let mut e = entry(
        &header,
        "BTC",
        Address::p2pkh(ckey(&sk), net).to_string(),
        Some(ScriptType::P2pkh),
    );
    e.signatures.push(sig(
        Scheme::Bip137,
        sign_bip137(&sk, e.message.as_bytes(), Bip137Kind::P2pkhCompressed),
    ));
    entries.push(e);

    // Every other single-key type: BIP-322, simple for native segwit, full for P2SH-P2WPKH
    // (what the ceremony gets from the Bitcoin app's SIGN_PSBT).
    for path in [
        "m/49'/0'/0'/0/0",
        "m/84'/0'/0'/0/0",
        "m/84'/0'/0'/0/1",
        "m/84'/0'/0'/0/2",
        "m/49'/0'/0'/0/1",
    ] {
        let sk = secret_at(&master, path);
        let (address, signer, format, scheme) = if path.starts_with("m/49") {
            (
                Address::p2shwpkh(&ckey(&sk), net),
                Bip322Signer::P2shP2wpkh(&sk),
                Bip322Format::FULL,
                Scheme::Bip322Full,
            )
        } else {
            (
                Address::p2wpkh(&ckey(&sk), net),
                Bip322Signer::P2wpkh(&sk),
                Bip322Format::Simple,
                Scheme::Bip322Simple,
            )
        };
        let st = if path.starts_with("m/49") {
            ScriptType::P2shP2wpkh
        } else {
            ScriptType::P2wpkh
        };
        let mut e = entry(&header, "BTC", address.to_string(), Some(st));
        let s = sign_bip322(&signer, e.message.as_bytes(), format).expect("sign");
        e.signatures.push(sig(scheme, s));
        entries.push(e);
    }

    let sk = secret_at(&master, "m/86'/0'/0'/0/0");
    let kp = Keypair::from_secret_key(secp(), &sk);
    let (xonly, _) = kp.x_only_public_key();
    let mut e = entry(
        &header,
        "BTC",
        Address::p2tr(secp(), xonly, None, net).to_string(),
        Some(ScriptType::P2tr),
    );
    let s = sign_bip322(
        &Bip322Signer::P2tr(&kp),
        e.message.as_bytes(),
        Bip322Format::Simple,
    )
    .expect("sign");
    e.signatures.push(sig(Scheme::Bip322Simple, s));
    entries.push(e);

    // 2-of-3 multisig under P2SH, P2WSH and P2SH-P2WSH, each one BIP-322 signature of two
    // cosigners (simple for P2WSH, full otherwise); the last P2WSH by another pair.
    for (i, st) in [
        ScriptType::P2sh,
        ScriptType::P2wsh,
        ScriptType::P2shP2wsh,
        ScriptType::P2wsh,
    ]
    .into_iter()
    .enumerate()
    {
        let keys: Vec<SecretKey> = (0..3)
            .map(|c| secret_at(&master, &format!("m/48'/0'/{c}'/2'/0/{i}")))
            .collect();
        let pubs: Vec<bitcoin::PublicKey> = keys
            .iter()
            .map(|k| bitcoin::PublicKey::new(k.public_key(secp())))
            .collect();
        let script = multisig_script(2, &pubs).expect("script");
        let address = multisig_address(st, &script, net).expect("address");
        let mut e = entry(&header, "BTC", address.to_string(), Some(st));
        e.threshold = Some(2);
        e.script = Some(hex::encode(&script));
        let pair = if i < 3 {
            vec![keys[0], keys[2]]
        } else {
            keys[1..].to_vec()
        };
        let signer = Bip322Signer::Multisig {
            script_type: st,
            script: &script,
            keys: &pair,
        };
        let (format, scheme) = if st == ScriptType::P2wsh {
            (Bip322Format::Simple, Scheme::Bip322Simple)
        } else {
            (Bip322Format::FULL, Scheme::Bip322Full)
        };
        let s = sign_bip322(&signer, e.message.as_bytes(), format).expect("sign");
        e.signatures.push(sig(scheme, s));
        entries.push(e);
    }

    // Ethereum and an L2: EIP-191 personal_sign.
    for (chain, path) in [("ETH", "m/44'/60'/0'/0/0"), ("ARB", "m/44'/60'/0'/0/1")] {
        let sk = secret_at(&master, path);
        let address = to_checksum_address(&evm_address_of(&sk.public_key(secp())));
        let mut e = entry(&header, chain, address, None);
        e.signatures
            .push(sig(Scheme::Eip191, sign_eip191(&sk, e.message.as_bytes())));
        entries.push(e);
    }

    // TRON: TIP-191.
    let sk = secret_at(&master, "m/44'/195'/0'/0/0");
    let mut e = entry(
        &header,
        "TRX",
        tron_address_of(&sk.public_key(secp())),
        None,
    );
    e.signatures.push(sig(
        Scheme::TronTip191,
        sign_tron_v2(&sk, e.message.as_bytes()),
    ));
    entries.push(e);

    Snapshot {
        header,
        entries,
        accounts: Vec::new(),
    }
}

/// The example snapshot's Bitcoin entries proven the legacy way, as snapshots before BIP-322
/// through SIGN_PSBT (and Bitcoin apps before 2.1.3) were: a legacy signed message on every
/// single-key address but P2TR (the Ledger app's compressed-P2PKH header, and one strict
/// BIP-137 header), and one legacy signed message per cosigner (the first and third) on the
/// multisig addresses. Our verifier accepts them, reported as legacy; BIP-322 verifiers do not.
pub fn legacy_snapshot() -> Snapshot {
    let mut snap = example_snapshot();
    let master = master_key(TEST_MNEMONIC);
    let single = [
        "m/44'/0'/0'/0/0",
        "m/49'/0'/0'/0/0",
        "m/84'/0'/0'/0/0",
        "m/84'/0'/0'/0/1",
        "m/84'/0'/0'/0/2",
        "m/49'/0'/0'/0/1",
    ];
    let mut multisig = 0;
    for e in snap.entries.iter_mut().filter(|e| e.chain == "BTC") {
        let msg = e.message.clone().into_bytes();
        let st = e.script_type.expect("Bitcoin entries have a script type");
        if st.is_multisig() {
            e.signatures = [0, 2]
                .iter()
                .map(|c| {
                    let k = secret_at(&master, &format!("m/48'/0'/{c}'/2'/0/{multisig}"));
                    sig(
                        Scheme::Bip137,
                        sign_bip137(&k, &msg, Bip137Kind::P2pkhCompressed),
                    )
                })
                .collect();
            multisig += 1;
        } else if st != ScriptType::P2tr {
            let path = single
                .iter()
                .find(|p| {
                    let sk = secret_at(&master, p);
                    let ck = CompressedPublicKey(sk.public_key(secp()));
                    let net = bitcoin::Network::Bitcoin;
                    [
                        Address::p2pkh(ck, net),
                        Address::p2shwpkh(&ck, net),
                        Address::p2wpkh(&ck, net),
                    ]
                    .iter()
                    .any(|a| a.to_string() == e.address)
                })
                .expect("an example key");
            let kind = if *path == "m/84'/0'/0'/0/1" {
                Bip137Kind::P2wpkh
            } else {
                Bip137Kind::P2pkhCompressed
            };
            e.signatures = vec![sig(
                Scheme::Bip137,
                sign_bip137(&secret_at(&master, path), &msg, kind),
            )];
        }
    }
    snap
}

/// A plain P2TR key-path spend (BIP-86) of 10,000 sat from the address of `key` to the
/// P2WPKH address of the same key, 9,000 sat: a transaction, not a BIP-322 `to_sign`, with the
/// TAP_BIP32 derivation a wallet adds. Returns the PSBT and the spent output.
pub fn p2tr_key_spend_psbt(
    key: &bitcoin::secp256k1::PublicKey,
    fingerprint: bitcoin::bip32::Fingerprint,
    path: &DerivationPath,
    network: bitcoin::Network,
) -> (bitcoin::Psbt, bitcoin::TxOut) {
    use bitcoin::{absolute::LockTime, transaction::Version, Amount, OutPoint, Sequence};
    use bitcoin::{Transaction, TxIn, TxOut, Txid};
    let (internal, _) = key.x_only_public_key();
    let spent = TxOut {
        value: Amount::from_sat(10_000),
        script_pubkey: Address::p2tr(secp(), internal, None, network).script_pubkey(),
    };
    let tx = Transaction {
        version: Version::TWO,
        lock_time: LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint::new(Txid::from_str(&"ab".repeat(32)).expect("hex"), 1),
            sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
            ..TxIn::default()
        }],
        output: vec![TxOut {
            value: Amount::from_sat(9_000),
            script_pubkey: Address::p2wpkh(&CompressedPublicKey(*key), network).script_pubkey(),
        }],
    };
    let mut psbt = bitcoin::Psbt::from_unsigned_tx(tx).expect("unsigned");
    psbt.inputs[0].witness_utxo = Some(spent.clone());
    psbt.inputs[0].tap_internal_key = Some(internal);
    psbt.inputs[0]
        .tap_key_origins
        .insert(internal, (vec![], (fingerprint, path.clone())));
    (psbt, spent)
}

/// Checks a taproot key-path signature of input 0 of `psbt` (spending `spent`): `key` must be
/// the output key of the spent script and the 64/65-byte Schnorr signature must verify against
/// the BIP-341 sighash of its sighash type. Returns that type.
pub fn verify_p2tr_key_spend(
    psbt: &bitcoin::Psbt,
    spent: &bitcoin::TxOut,
    key: &[u8; 32],
    signature: &[u8],
) -> Result<bitcoin::TapSighashType, String> {
    use bitcoin::hashes::Hash;
    use bitcoin::sighash::{Prevouts, SighashCache};
    use bitcoin::TapSighashType;
    if spent.script_pubkey.as_bytes().get(2..) != Some(&key[..]) {
        return Err("the key is not the spent script's output key".into());
    }
    let ty = match signature.len() {
        64 => TapSighashType::Default,
        65 => TapSighashType::from_consensus_u8(signature[64]).map_err(|e| e.to_string())?,
        n => return Err(format!("a {n}-byte Schnorr signature")),
    };
    let sighash = SighashCache::new(&psbt.unsigned_tx)
        .taproot_key_spend_signature_hash(0, &Prevouts::All(std::slice::from_ref(spent)), ty)
        .map_err(|e| e.to_string())?;
    let sig = bitcoin::secp256k1::schnorr::Signature::from_slice(&signature[..64])
        .map_err(|e| e.to_string())?;
    let xonly = bitcoin::secp256k1::XOnlyPublicKey::from_slice(key).map_err(|e| e.to_string())?;
    secp()
        .verify_schnorr(
            &sig,
            &bitcoin::secp256k1::Message::from_digest(sighash.to_byte_array()),
            &xonly,
        )
        .map_err(|e| e.to_string())?;
    Ok(ty)
}
