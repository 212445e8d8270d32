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
use ledger_bitcoin_client::{BitcoinClient, Transport, WalletPolicy, WalletPubKey};
use por_attest::simulator::{ApprovalPolicy, SimulatedLedger, TcpServer, SPECULOS_MNEMONIC};
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
    assert_eq!((name.as_str(), version.as_str()), ("Bitcoin", "2.1.3"));

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
