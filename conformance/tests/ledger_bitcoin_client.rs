//! Conformance: LedgerHQ's `ledger_bitcoin_client` (a client we did not write) drives our
//! simulated Ledger, in-process and over TCP.

use bitcoin::bip32::{DerivationPath, Fingerprint, Xpriv};
use bitcoin::secp256k1::{ecdsa, Message, Secp256k1};
use bitcoin::{Address, AddressType, CompressedPublicKey, Network};
use firmware_messages::bitcoin::signed_message_hash;
use firmware_messages::dashboard::DashboardCommand;
use ledger_bitcoin_client::apdu::{APDUCommand, StatusWord};
use ledger_bitcoin_client::error::BitcoinClientError;
use ledger_bitcoin_client::wallet::Version;
use ledger_bitcoin_client::{
    BitcoinClient, PartialSignature, SignPsbtYieldedObject, Transport, WalletPolicy, WalletPubKey,
};
use por_attest::simulator::{
    ApprovalPolicy, PromptKind, SimulatedLedger, TcpServer, SPECULOS_MNEMONIC,
};
use por_attest::transport::{Exchange, TcpTransport, TransportError};
use std::cell::RefCell;
use std::str::FromStr;

/// Adapter: their `Transport` over our `Exchange`.
struct Adapter<E: Exchange>(RefCell<E>);

#[derive(Debug)]
#[allow(dead_code)]
enum AdapterError {
    Transport(TransportError),
    UnknownStatus(u16),
}

impl<E: Exchange> Transport for Adapter<E> {
    type Error = AdapterError;
    fn exchange(&self, command: &APDUCommand) -> Result<(StatusWord, Vec<u8>), AdapterError> {
        let mut raw = self
            .0
            .borrow_mut()
            .exchange(&command.encode())
            .map_err(AdapterError::Transport)?;
        if raw.len() < 2 {
            return Err(AdapterError::Transport(TransportError::Malformed(
                "short".into(),
            )));
        }
        let sw = u16::from_be_bytes([raw[raw.len() - 2], raw[raw.len() - 1]]);
        raw.truncate(raw.len() - 2);
        let sw = StatusWord::try_from(sw).map_err(|_| AdapterError::UnknownStatus(sw))?;
        Ok((sw, raw))
    }
}

fn open_bitcoin(t: &mut impl Exchange) {
    let r = t
        .send(&DashboardCommand::OpenApp("Bitcoin".into()).to_command())
        .unwrap();
    assert!(r.status.is_ok());
}

fn master() -> Xpriv {
    let seed = bip39_seed();
    Xpriv::new_master(Network::Bitcoin, &seed).unwrap()
}

fn bip39_seed() -> [u8; 64] {
    // BIP-39 seed computed here with PBKDF2 from rust-bitcoin's hashes, independent of
    // the simulator's bip39 crate.
    use bitcoin::hashes::{hmac, sha512, Hash, HashEngine};
    let password = SPECULOS_MNEMONIC.as_bytes();
    let salt = b"mnemonic";
    let mut out = [0u8; 64];
    let mut e = hmac::HmacEngine::<sha512::Hash>::new(password);
    e.input(salt);
    e.input(&1u32.to_be_bytes());
    let mut u = hmac::Hmac::<sha512::Hash>::from_engine(e).to_byte_array();
    out.copy_from_slice(&u);
    for _ in 1..2048 {
        let mut e = hmac::HmacEngine::<sha512::Hash>::new(password);
        e.input(&u);
        u = hmac::Hmac::<sha512::Hash>::from_engine(e).to_byte_array();
        for (o, b) in out.iter_mut().zip(u.iter()) {
            *o ^= b;
        }
    }
    out
}

fn exercise<E: Exchange>(client: &BitcoinClient<Adapter<E>>) {
    let secp = Secp256k1::new();
    let master = master();

    let (name, version, _) = client.get_version().unwrap();
    assert_eq!((name.as_str(), version.as_str()), ("Bitcoin", "2.4.1"));

    let fpr = client.get_master_fingerprint().unwrap();
    assert_eq!(fpr, master.fingerprint(&secp));
    assert_eq!(fpr, Fingerprint::from_str("f5acc2fd").unwrap());

    for (template, purpose) in [
        ("pkh(@0/**)", 44),
        ("sh(wpkh(@0/**))", 49),
        ("wpkh(@0/**)", 84),
        ("tr(@0/**)", 86),
    ] {
        let path = DerivationPath::from_str(&format!("m/{purpose}'/0'/0'")).unwrap();
        let xpub = client.get_extended_pubkey(&path, false).unwrap();
        assert_eq!(
            xpub,
            bitcoin::bip32::Xpub::from_priv(&secp, &master.derive_priv(&secp, &path).unwrap())
        );
        let key = WalletPubKey::from_str(&format!("[{fpr}/{purpose}'/0'/0']{xpub}")).unwrap();
        let policy = WalletPolicy::new(String::new(), Version::V2, template.into(), vec![key]);
        // paranoid_client re-derives the address with rust-miniscript and errors on mismatch.
        for (change, index) in [(false, 0), (true, 5), (false, 42)] {
            let addr = client
                .get_wallet_address(&policy, None, change, index, true)
                .unwrap();
            let addr = addr.require_network(Network::Bitcoin).unwrap();
            let want = match purpose {
                44 => AddressType::P2pkh,
                49 => AddressType::P2sh,
                84 => AddressType::P2wpkh,
                _ => AddressType::P2tr,
            };
            assert_eq!(addr.address_type(), Some(want), "{template}");
        }
    }

    // Sign message over several chunks; the signature recovers the key of the path.
    let path = DerivationPath::from_str("m/84'/0'/0'/0/3").unwrap();
    let msg = "Acme proof of reserves snap-2026-11: I control bitcoin address bc1q... at 812345:00000000000000000001c0ffee";
    let (header, sig) = client.sign_message(msg.as_bytes(), &path).unwrap();
    assert!((31..=34).contains(&header));
    let rec = ecdsa::RecoverableSignature::from_compact(
        &sig.serialize_compact(),
        ecdsa::RecoveryId::from_i32((header - 31) as i32).unwrap(),
    )
    .unwrap();
    let pk = secp
        .recover_ecdsa(
            &Message::from_digest(signed_message_hash(msg.as_bytes())),
            &rec,
        )
        .unwrap();
    let expect = master
        .derive_priv(&secp, &path)
        .unwrap()
        .private_key
        .public_key(&secp);
    assert_eq!(pk, expect);
    let mut bytes = vec![header];
    bytes.extend_from_slice(&sig.serialize_compact());
    let ms = bitcoin::sign_message::MessageSignature::from_slice(&bytes).unwrap();
    let p2pkh = Address::p2pkh(CompressedPublicKey(expect), Network::Bitcoin);
    assert!(ms
        .is_signed_by_address(&secp, &p2pkh, bitcoin::sign_message::signed_msg_hash(msg))
        .unwrap());
}

#[test]
fn ledger_client_in_process() {
    let sim = SimulatedLedger::speculos_default();
    let mut t = sim.transport();
    open_bitcoin(&mut t);
    let client = BitcoinClient::new(Adapter(RefCell::new(t)));
    exercise(&client);
    assert!(sim.prompts().iter().any(|p| p
        .message
        .as_deref()
        .is_some_and(|m| m.starts_with("Acme proof"))));

    // Rejection surfaces as the client's typed device error.
    sim.set_approval(ApprovalPolicy::RejectAll);
    let path = DerivationPath::from_str("m/84'/0'/0'/0/0").unwrap();
    match client.sign_message(b"no", &path) {
        Err(BitcoinClientError::Device {
            status: StatusWord::Deny,
            ..
        }) => {}
        other => panic!("expected Deny, got {other:?}"),
    }
}

#[test]
fn ledger_client_over_tcp() {
    let srv = TcpServer::spawn(
        "127.0.0.1:0".parse().unwrap(),
        SimulatedLedger::speculos_default(),
    )
    .unwrap();
    let mut t = TcpTransport::connect(srv.addr()).unwrap();
    open_bitcoin(&mut t);
    let client = BitcoinClient::new(Adapter(RefCell::new(t)));
    exercise(&client);
    drop(client);
    srv.stop().unwrap();
}

/// LedgerHQ's client signs the BIP-322 `to_sign` PSBT of a message with our simulated app,
/// for the default `tr(@0/**)` (BIP-86 key path) and `wpkh(@0/**)` wallets; the signature it
/// returns, put in the witness, must pass our BIP-322 verifier for the address.
fn bip322_through_sign_psbt<E: Exchange>(client: &BitcoinClient<Adapter<E>>) {
    use por_attest::schemes::{encode_bip322_signature, to_sign_psbt, verify_bip322, Bip322Format};
    let secp = Secp256k1::new();
    let master = master();
    let fpr = client.get_master_fingerprint().unwrap();
    let msg =
        b"Acme proof of reserves snap-2026-11: I control BTC address bc1p... at 925000:00000000";
    for (template, purpose) in [("tr(@0/**)", 86), ("wpkh(@0/**)", 84)] {
        let account = DerivationPath::from_str(&format!("m/{purpose}'/0'/0'")).unwrap();
        let xpub = client.get_extended_pubkey(&account, false).unwrap();
        let key = WalletPubKey::from_str(&format!("[{fpr}/{purpose}'/0'/0']{xpub}")).unwrap();
        let policy = WalletPolicy::new(String::new(), Version::V2, template.into(), vec![key]);
        let path = DerivationPath::from_str(&format!("m/{purpose}'/0'/0'/0/4")).unwrap();
        let pk = master
            .derive_priv(&secp, &path)
            .unwrap()
            .private_key
            .public_key(&secp);
        let (xonly, _) = pk.x_only_public_key();
        let address = if purpose == 86 {
            Address::p2tr(&secp, xonly, None, Network::Bitcoin)
        } else {
            Address::p2wpkh(&CompressedPublicKey(pk), Network::Bitcoin)
        };
        // The client re-derives the address through the device and its own miniscript.
        let shown = client
            .get_wallet_address(&policy, None, false, 4, true)
            .unwrap();
        assert_eq!(shown.assume_checked(), address);
        let mut psbt = to_sign_psbt(&address.script_pubkey(), msg);
        if purpose == 86 {
            psbt.inputs[0].tap_internal_key = Some(xonly);
            psbt.inputs[0]
                .tap_key_origins
                .insert(xonly, (vec![], (fpr, path.clone())));
        } else {
            psbt.inputs[0]
                .bip32_derivation
                .insert(pk, (fpr, path.clone()));
        }
        let yielded = client.sign_psbt(&psbt, &policy, None).unwrap();
        assert_eq!(yielded.len(), 1, "{template}");
        let witness: Vec<Vec<u8>> = match &yielded[0] {
            (0, SignPsbtYieldedObject::Partial(PartialSignature::TapScriptSig(k, None, sig))) => {
                // The yielded key is the BIP-86 output key, the one in the address.
                assert_eq!(&address.script_pubkey().as_bytes()[2..], &k.serialize());
                vec![sig.to_vec()]
            }
            (0, SignPsbtYieldedObject::Partial(PartialSignature::Sig(k, sig))) => {
                assert_eq!(k.inner, pk);
                vec![sig.to_vec(), k.to_bytes()]
            }
            (i, _) => panic!("{template}: unexpected item for input {i}"),
        };
        let mut tx = psbt.unsigned_tx.clone();
        tx.input[0].witness = bitcoin::Witness::from_slice(&witness);
        let sig = encode_bip322_signature(&tx, Bip322Format::Simple);
        verify_bip322(&address, msg, &sig).unwrap();
        assert!(verify_bip322(&address, b"another message", &sig).is_err());
    }
}

#[test]
fn ledger_client_signs_bip322_psbts() {
    let sim = SimulatedLedger::speculos_default();
    let mut t = sim.transport();
    open_bitcoin(&mut t);
    let client = BitcoinClient::new(Adapter(RefCell::new(t)));
    bip322_through_sign_psbt(&client);
    // Like the released apps, the device reviewed each `to_sign` as a zero-value transaction
    // to OP_RETURN (no BIP-322 message display).
    let psbt_prompts: Vec<_> = sim
        .prompts()
        .into_iter()
        .filter(|p| p.kind == PromptKind::BitcoinSignPsbt)
        .collect();
    assert!(!psbt_prompts.is_empty());
    for p in &psbt_prompts {
        assert!(
            p.details
                .iter()
                .any(|(k, v)| k == "Output 1" && v == "OP_RETURN 0 BTC"),
            "{p:?}"
        );
    }

    // A rejected PSBT prompt surfaces as the client's Deny.
    sim.set_approval(ApprovalPolicy::RejectAll);
    let account = DerivationPath::from_str("m/86'/0'/0'").unwrap();
    let xpub = client.get_extended_pubkey(&account, false).unwrap();
    let fpr = client.get_master_fingerprint().unwrap();
    let key = WalletPubKey::from_str(&format!("[{fpr}/86'/0'/0']{xpub}")).unwrap();
    let policy = WalletPolicy::new(String::new(), Version::V2, "tr(@0/**)".into(), vec![key]);
    let secp = Secp256k1::new();
    let path = DerivationPath::from_str("m/86'/0'/0'/0/0").unwrap();
    let pk = master()
        .derive_priv(&secp, &path)
        .unwrap()
        .private_key
        .public_key(&secp);
    let (xonly, _) = pk.x_only_public_key();
    let address = Address::p2tr(&secp, xonly, None, Network::Bitcoin);
    let mut psbt = por_attest::schemes::to_sign_psbt(&address.script_pubkey(), b"no");
    psbt.inputs[0]
        .tap_key_origins
        .insert(xonly, (vec![], (fpr, path)));
    match client.sign_psbt(&psbt, &policy, None) {
        Err(BitcoinClientError::Device {
            status: StatusWord::Deny,
            ..
        }) => {}
        other => panic!("expected Deny, got {other:?}"),
    }
}

#[test]
fn ledger_client_signs_bip322_psbts_over_tcp() {
    let srv = TcpServer::spawn(
        "127.0.0.1:0".parse().unwrap(),
        SimulatedLedger::speculos_default(),
    )
    .unwrap();
    let mut t = TcpTransport::connect(srv.addr()).unwrap();
    open_bitcoin(&mut t);
    let client = BitcoinClient::new(Adapter(RefCell::new(t)));
    bip322_through_sign_psbt(&client);
    drop(client);
    srv.stop().unwrap();
}
