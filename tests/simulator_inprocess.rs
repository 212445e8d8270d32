//! The simulated Ledger driven in-process through `firmware-messages` host flows; expected
//! values come from Speculos recordings (LedgerHQ client test data, same seed) or are
//! computed independently from the mnemonic.

use bitcoin::bip32::{DerivationPath, Xpriv, Xpub};
use bitcoin::secp256k1::{ecdsa, Message, Secp256k1};
use bitcoin::{Address, CompressedPublicKey, Network};
use firmware_messages::bitcoin::commands::{
    parse_extended_pubkey, parse_master_fingerprint, parse_wallet_address, MessageSignature,
    RegisteredWallet,
};
use firmware_messages::bitcoin::host::{run, HostFlow, HostFlowError, RunError};
use firmware_messages::bitcoin::policy::{DefaultPolicy, KeyInfo, PolicyVersion, WalletPolicy};
use firmware_messages::bitcoin::signed_message_hash;
use firmware_messages::dashboard::{AppAndVersion, DashboardCommand};
use firmware_messages::ethereum::{self, AddressResponse, GetAddress};
use firmware_messages::{Bip32Path, StatusWord};
use por_attest::simulator::*;
use por_attest::transport::{Exchange, InProcessTransport, TransportError};
use std::str::FromStr;

fn device(network: Network) -> (SimulatedLedger, InProcessTransport) {
    let sim = SimulatedLedger::new(SimulatorConfig {
        bitcoin_network: network,
        ..Default::default()
    })
    .unwrap();
    let t = sim.transport();
    (sim, t)
}

fn open(t: &mut InProcessTransport, name: &str) {
    let r = t
        .send(&DashboardCommand::OpenApp(name.into()).to_command())
        .unwrap();
    assert_eq!(r.status, StatusWord::OK);
}

fn drive(
    t: &mut InProcessTransport,
    mut flow: HostFlow,
) -> Result<Vec<u8>, RunError<TransportError>> {
    run(&mut flow, |c| t.send(c))
}

fn seed() -> [u8; 64] {
    bip39::Mnemonic::parse(SPECULOS_MNEMONIC)
        .unwrap()
        .to_seed("")
}

#[test]
fn dashboard_switches_apps() {
    let (sim, mut t) = device(Network::Bitcoin);
    let info = |t: &mut InProcessTransport| {
        let r = t
            .send(&DashboardCommand::GetAppAndVersion.to_command())
            .unwrap();
        AppAndVersion::decode(&r.data).unwrap()
    };
    assert_eq!(info(&mut t).name, "BOLOS");
    // App command on the dashboard.
    let r = t
        .send(&HostFlow::get_master_fingerprint().first_command().clone())
        .unwrap();
    assert_eq!(r.status, StatusWord::APP_NOT_OPEN);
    let r = t
        .send(&DashboardCommand::OpenApp("Dogecoin".into()).to_command())
        .unwrap();
    assert_eq!(r.status, StatusWord::APP_NOT_FOUND);
    open(&mut t, "Bitcoin");
    let v = info(&mut t);
    assert_eq!((v.name.as_str(), v.version.as_str()), ("Bitcoin", "2.4.1"));
    // Ethereum command while the Bitcoin app runs.
    let r = t.send(&ethereum::AppConfiguration::request()).unwrap();
    assert_eq!(r.status, StatusWord::CLA_NOT_SUPPORTED);
    assert_eq!(
        t.send(&DashboardCommand::QuitApp.to_command())
            .unwrap()
            .status,
        StatusWord::OK
    );
    open(&mut t, "Ethereum");
    assert_eq!(info(&mut t).name, "Ethereum");
    assert_eq!(sim.running_app(), RunningApp::Ethereum);
    let cfg = t.send(&ethereum::AppConfiguration::request()).unwrap();
    let cfg = ethereum::AppConfiguration::decode(&cfg.data).unwrap();
    assert_eq!((cfg.major, cfg.minor), (1, 10));
    // Unknown instruction.
    let r = t
        .send(&firmware_messages::Command::new(0xE0, 0x7F, 0, 0, vec![]))
        .unwrap();
    assert_eq!(r.status, StatusWord::INS_NOT_SUPPORTED);
}

#[test]
fn locked_device_answers_5515() {
    let (sim, mut t) = device(Network::Bitcoin);
    sim.set_locked(true);
    let r = t
        .send(&DashboardCommand::GetAppAndVersion.to_command())
        .unwrap();
    assert_eq!(r.status, StatusWord::LOCKED);
    sim.set_locked(false);
    open(&mut t, "Bitcoin");
    sim.set_locked(true);
    let err = drive(&mut t, HostFlow::get_master_fingerprint()).unwrap_err();
    assert!(matches!(
        err,
        RunError::Flow(HostFlowError::Device {
            status: StatusWord::LOCKED,
            ..
        })
    ));
}

#[test]
fn fingerprint_and_xpub_match_speculos() {
    let (_sim, mut t) = device(Network::Testnet);
    open(&mut t, "Bitcoin Test");
    let fp = parse_master_fingerprint(&drive(&mut t, HostFlow::get_master_fingerprint()).unwrap())
        .unwrap();
    assert_eq!(hex::encode(fp), "f5acc2fd");
    let xpub = |t: &mut InProcessTransport, p: &str| {
        parse_extended_pubkey(
            &drive(t, HostFlow::get_extended_pubkey(&p.parse().unwrap(), false)).unwrap(),
        )
        .unwrap()
    };
    // Values recorded from Speculos with its default seed.
    assert_eq!(xpub(&mut t, "m/84'/1'/0'"), "tpubDCtKfsNyRhULjZ9XMS4VKKtVcPdVDi8MKUbcSD9MJDyjRu1A2ND5MiipozyyspBT9bg8upEp7a8EAgFxNxXn1d7QkdbL52Ty5jiSLcxPt1P");
    assert_eq!(xpub(&mut t, "m/86'/1'/0'"), "tpubDDKYE6BREvDsSWMazgHoyQWiJwYaDDYPbCFjYxN3HFXJP5fokeiK4hwK5tTLBNEDBwrDXn8cQ4v9b2xdW62Xr5yxoQdMu1v6c7UDXYVH27U");
}

fn default_policy(t: &mut InProcessTransport, kind: DefaultPolicy, coin: u32) -> WalletPolicy {
    let path = kind.account_path(coin, 0);
    let xpub =
        parse_extended_pubkey(&drive(t, HostFlow::get_extended_pubkey(&path, false)).unwrap())
            .unwrap();
    let key = KeyInfo {
        origin: Some(([0xf5, 0xac, 0xc2, 0xfd], path)),
        xpub,
        suffix: String::new(),
    };
    kind.policy(PolicyVersion::V2, key)
}

#[test]
fn default_wallet_addresses() {
    // Recorded on Speculos: tr(@0/**) receive 0 on testnet.
    let (sim, mut t) = device(Network::Testnet);
    open(&mut t, "Bitcoin Test");
    let p = default_policy(&mut t, DefaultPolicy::Tr, 1);
    let a = parse_wallet_address(
        &drive(
            &mut t,
            HostFlow::get_wallet_address(&p, None, false, 0, true),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        a,
        "tb1pws8wvnj99ca6acf8kq7pjk7vyxknah0d9mexckh5s0vu2ccy68js9am6u7"
    );
    let shown = sim.prompts();
    assert_eq!(shown.len(), 1);
    assert_eq!(shown[0].kind, PromptKind::BitcoinAddress);
    assert_eq!(shown[0].address.as_deref(), Some(a.as_str()));
    assert_eq!(shown[0].path.as_deref(), Some("m/86'/1'/0'/0/0"));

    // Mainnet, computed independently from the seed with rust-bitcoin.
    let (_sim, mut t) = device(Network::Bitcoin);
    open(&mut t, "Bitcoin");
    let secp = Secp256k1::new();
    let master = Xpriv::new_master(Network::Bitcoin, &seed()).unwrap();
    for kind in DefaultPolicy::ALL {
        let p = default_policy(&mut t, kind, 0);
        for (change, index) in [(false, 0u32), (true, 7)] {
            let got = parse_wallet_address(
                &drive(
                    &mut t,
                    HostFlow::get_wallet_address(&p, None, change, index, false),
                )
                .unwrap(),
            )
            .unwrap();
            let dp = DerivationPath::from_str(&format!(
                "m/{}'/0'/0'/{}/{}",
                kind.purpose(),
                change as u8,
                index
            ))
            .unwrap();
            let pk = CompressedPublicKey(
                master
                    .derive_priv(&secp, &dp)
                    .unwrap()
                    .private_key
                    .public_key(&secp),
            );
            let want = match kind {
                DefaultPolicy::Pkh => Address::p2pkh(pk, Network::Bitcoin),
                DefaultPolicy::ShWpkh => Address::p2shwpkh(&pk, Network::Bitcoin),
                DefaultPolicy::Wpkh => Address::p2wpkh(&pk, Network::Bitcoin),
                DefaultPolicy::Tr => {
                    Address::p2tr(&secp, pk.0.x_only_public_key().0, None, Network::Bitcoin)
                }
            };
            assert_eq!(got, want.to_string(), "{kind:?} {change} {index}");
        }
    }
    // A default policy whose key is not ours is refused.
    let mut p = default_policy(&mut t, DefaultPolicy::Wpkh, 0);
    p.keys[0] = p.keys[0].replace("f5acc2fd", "00000000");
    let err = drive(
        &mut t,
        HostFlow::get_wallet_address(&p, None, false, 0, false),
    )
    .unwrap_err();
    assert!(matches!(
        err,
        RunError::Flow(HostFlowError::Device {
            status: StatusWord::INCORRECT_DATA,
            ..
        })
    ));
}

#[test]
fn register_multisig_matches_speculos_and_gives_addresses() {
    // Recorded on Speculos (LedgerHQ client test data): id and HMAC of this registration.
    let (sim, mut t) = device(Network::Testnet);
    open(&mut t, "Bitcoin Test");
    let policy = WalletPolicy {
        version: PolicyVersion::V2,
        name: "Cold storage".into(),
        descriptor_template: "wsh(sortedmulti(2,@0/**,@1/**))".into(),
        keys: vec![
            "[76223a6e/48'/1'/0'/2']tpubDE7NQymr4AFtewpAsWtnreyq9ghkzQBXpCZjWLFVRAvnbf7vya2eMTvT2fPapNqL8SuVvLQdbUbMfWLVDCZKnsEBqp6UK93QEzL8Ck23AwF".into(),
            "[f5acc2fd/48'/1'/0'/2']tpubDFAqEGNyad35aBCKUAXbQGDjdVhNueno5ZZVEn3sQbW5ci457gLR7HyTmHBg93oourBssgUxuWz1jX5uhc1qaqFo9VsybY1J5FuedLfm4dK".into(),
        ],
    };
    let reg = RegisteredWallet::decode(&drive(&mut t, HostFlow::register_wallet(&policy)).unwrap())
        .unwrap();
    assert_eq!(
        hex::encode(reg.wallet_id),
        "cd9474ae9e74403128477789789db43a215e996af80d60120f0d844f8404ac64"
    );
    assert_eq!(
        hex::encode(reg.hmac),
        "d7c7a60b4ab4a14c1bf8901ba627d72140b2fb907f2b4e35d2e693bce9fbb371"
    );
    let shown = sim.prompts();
    assert_eq!(shown[0].kind, PromptKind::BitcoinRegisterWallet);
    assert!(shown[0]
        .details
        .iter()
        .any(|(k, v)| k == "Wallet name" && v == "Cold storage"));

    // Address, checked against an independent P2WSH construction.
    let got = parse_wallet_address(
        &drive(
            &mut t,
            HostFlow::get_wallet_address(&policy, Some(reg.hmac), false, 3, false),
        )
        .unwrap(),
    )
    .unwrap();
    let secp = Secp256k1::verification_only();
    let mut pks: Vec<_> = policy
        .keys
        .iter()
        .map(|k| {
            let x = Xpub::from_str(&k[k.find(']').unwrap() + 1..]).unwrap();
            x.derive_pub(&secp, &DerivationPath::from_str("m/0/3").unwrap())
                .unwrap()
                .public_key
                .serialize()
        })
        .collect();
    pks.sort();
    let mut b = bitcoin::script::Builder::new().push_int(2);
    for pk in &pks {
        b = b.push_slice(pk);
    }
    let script = b
        .push_int(2)
        .push_opcode(bitcoin::opcodes::all::OP_CHECKMULTISIG)
        .into_script();
    assert_eq!(got, Address::p2wsh(&script, Network::Testnet).to_string());

    // A wrong HMAC is refused with SIGNATURE_FAIL.
    let err = drive(
        &mut t,
        HostFlow::get_wallet_address(&policy, Some([1; 32]), false, 3, false),
    )
    .unwrap_err();
    assert!(matches!(
        err,
        RunError::Flow(HostFlowError::Device {
            status: StatusWord::SIGNATURE_FAIL,
            ..
        })
    ));
}

#[test]
fn sign_message_like_the_real_app() {
    let (sim, mut t) = device(Network::Bitcoin);
    open(&mut t, "Bitcoin");
    let path: Bip32Path = "m/84'/0'/0'/0/0".parse().unwrap();
    // Long enough for several 64-byte chunks and a merkle proof.
    let msg = "Acme proof of reserves 2026-11: I control bitcoin address bc1qxyz at 00000000000000000002a7c4c1e48d76c5a37902165a270156b7a8d72728a054";
    let sig = MessageSignature::decode(
        &drive(&mut t, HostFlow::sign_message(&path, msg.as_bytes())).unwrap(),
    )
    .unwrap();
    assert!((31..=34).contains(&sig.header));
    let secp = Secp256k1::new();
    let rsig = ecdsa::RecoverableSignature::from_compact(
        &sig.rs,
        ecdsa::RecoveryId::from_i32(sig.recovery_id() as i32).unwrap(),
    )
    .unwrap();
    let pk = secp
        .recover_ecdsa(
            &Message::from_digest(signed_message_hash(msg.as_bytes())),
            &rsig,
        )
        .unwrap();
    let master = Xpriv::new_master(Network::Bitcoin, &seed()).unwrap();
    let expect = master
        .derive_priv(&secp, &DerivationPath::from_str("m/84'/0'/0'/0/0").unwrap())
        .unwrap()
        .private_key
        .public_key(&secp);
    assert_eq!(pk, expect);
    // rust-bitcoin's own verifier agrees (P2PKH of the recovered key).
    let ms = bitcoin::sign_message::MessageSignature::from_slice(&sig.encode()).unwrap();
    let addr = Address::p2pkh(CompressedPublicKey(expect), Network::Bitcoin);
    assert!(ms
        .is_signed_by_address(&secp, &addr, bitcoin::sign_message::signed_msg_hash(msg))
        .unwrap());
    let p = &sim.prompts()[0];
    assert_eq!(
        (p.kind, p.message.as_deref(), p.path.as_deref()),
        (
            PromptKind::BitcoinSignMessage,
            Some(msg),
            Some("m/84'/0'/0'/0/0")
        )
    );

    // Non-printable messages are shown as their SHA-256.
    drive(&mut t, HostFlow::sign_message(&path, &[0u8, 1, 2])).unwrap();
    assert!(sim.prompts()[1]
        .message
        .as_deref()
        .unwrap()
        .starts_with("SHA256: "));
}

#[test]
fn rejection_and_callback_approval() {
    let (sim, mut t) = device(Network::Bitcoin);
    open(&mut t, "Bitcoin");
    sim.set_approval(ApprovalPolicy::RejectAll);
    let path: Bip32Path = "m/44'/0'/0'/0/0".parse().unwrap();
    let err = drive(&mut t, HostFlow::sign_message(&path, b"hello")).unwrap_err();
    assert!(matches!(
        err,
        RunError::Flow(HostFlowError::Device {
            status: StatusWord::DENY,
            ..
        })
    ));
    assert!(!sim.prompts()[0].approved);
    sim.set_approval(ApprovalPolicy::callback(|p| {
        if p.message.as_deref() == Some("yes") {
            Approval::Approve
        } else {
            Approval::Reject
        }
    }));
    assert!(drive(&mut t, HostFlow::sign_message(&path, b"yes")).is_ok());
    assert!(drive(&mut t, HostFlow::sign_message(&path, b"no")).is_err());
}

#[test]
fn faults_surface_as_typed_errors() {
    let (sim, mut t) = device(Network::Bitcoin);
    open(&mut t, "Bitcoin"); // exchange 1
    sim.set_faults(vec![Fault::GarbageAt(2), Fault::DisconnectAfter(3)]);
    let garbage = drive(&mut t, HostFlow::get_master_fingerprint()).unwrap_err();
    assert!(
        matches!(garbage, RunError::Exchange(TransportError::Malformed(_))),
        "{garbage:?}"
    );
    // Exchange 3 fine, 4 drops (once), 5 fine again.
    assert!(drive(&mut t, HostFlow::get_master_fingerprint()).is_ok());
    let dropped = drive(&mut t, HostFlow::get_master_fingerprint()).unwrap_err();
    assert!(matches!(
        dropped,
        RunError::Exchange(TransportError::Disconnected)
    ));
    assert!(drive(&mut t, HostFlow::get_master_fingerprint()).is_ok());
    // Disconnect in the middle of an interrupt loop, then a clean retry.
    let n = sim.exchanges();
    sim.set_faults(vec![Fault::DisconnectAfter(n + 2)]);
    let path: Bip32Path = "m/84'/0'/0'/0/0".parse().unwrap();
    assert!(matches!(
        drive(&mut t, HostFlow::sign_message(&path, &[b'a'; 200])).unwrap_err(),
        RunError::Exchange(TransportError::Disconnected)
    ));
    assert!(drive(&mut t, HostFlow::sign_message(&path, &[b'a'; 200])).is_ok());
    // A stray CONTINUE is a bad state, garbage APDUs a length error.
    let r = t
        .send(&firmware_messages::bitcoin::client_commands::continue_command(vec![]))
        .unwrap();
    assert_eq!(r.status, StatusWord::BAD_STATE);
    let r = Exchange::exchange(&mut t, &[0xE1]).unwrap();
    assert_eq!(
        firmware_messages::Response::decode(&r).unwrap().status,
        StatusWord::WRONG_DATA_LENGTH
    );
}

fn eth_expected(path: &str) -> (String, k256::ecdsa::VerifyingKey) {
    // Independent route: rust-bitcoin derivation, k256 key, ethers keccak/checksum.
    let secp = Secp256k1::new();
    let master = Xpriv::new_master(Network::Bitcoin, &seed()).unwrap();
    let sk = master
        .derive_priv(&secp, &DerivationPath::from_str(path).unwrap())
        .unwrap()
        .private_key;
    let k = k256::ecdsa::SigningKey::from_slice(&sk.secret_bytes()).unwrap();
    let vk = *k.verifying_key();
    let addr = ethers_core::utils::public_key_to_address(&vk);
    (ethers_core::utils::to_checksum(&addr, None), vk)
}

#[test]
fn ethereum_address_and_personal_sign() {
    let (sim, mut t) = device(Network::Bitcoin);
    open(&mut t, "Ethereum");
    let path: Bip32Path = "m/44'/60'/0'/0/0".parse().unwrap();
    let (want, vk) = eth_expected("m/44'/60'/0'/0/0");
    let req = GetAddress {
        path: path.clone(),
        display: true,
        chain_code: true,
        chain_id: None,
    };
    let r =
        AddressResponse::decode(&t.send(&req.to_command()).unwrap().into_ok().unwrap()).unwrap();
    assert_eq!(format!("0x{}", r.address), want);
    assert_eq!(r.public_key, vk.to_encoded_point(false).as_bytes());
    assert!(r.chain_code.is_some());
    assert_eq!(sim.prompts()[0].address.as_deref(), Some(want.as_str()));

    let msg = "Acme proof of reserves: I control ethereum address ".repeat(8);
    let cmds = ethereum::sign_personal_message_commands(&path, msg.as_bytes());
    assert!(cmds.len() > 1);
    let mut last = None;
    for c in &cmds {
        last = Some(t.send(c).unwrap().into_ok().unwrap());
    }
    let s = ethereum::Signature::decode(&last.unwrap()).unwrap();
    assert!(s.v == 27 || s.v == 28);
    let sig = ethers_core::types::Signature {
        r: ethers_core::types::U256::from_big_endian(&s.r),
        s: ethers_core::types::U256::from_big_endian(&s.s),
        v: s.v as u64,
    };
    assert_eq!(
        format!("{:?}", sig.recover(msg.as_str()).unwrap()),
        want.to_lowercase()
    );
    // low-s
    let half = ethers_core::types::U256::from_str_radix(
        "7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0",
        16,
    )
    .unwrap();
    assert!(sig.s <= half);
    assert_eq!(sim.prompts()[1].message.as_deref(), Some(msg.as_str()));

    sim.set_approval(ApprovalPolicy::RejectAll);
    let r = t.send(&req.to_command()).unwrap();
    assert_eq!(r.status, StatusWord::DENY);
    let mut bad = req.to_command();
    bad.p1 = 7;
    assert_eq!(t.send(&bad).unwrap().status, StatusWord::INCORRECT_P1P2);
}

#[test]
fn tron_address_and_personal_sign_like_app_tron() {
    use firmware_messages::tron;
    let (sim, mut t) = device(Network::Bitcoin);
    // The dashboard opens the app by the name app-tron's Makefile gives it.
    open(&mut t, "Tron");
    let r = t
        .send(&DashboardCommand::GetAppAndVersion.to_command())
        .unwrap();
    let v = AppAndVersion::decode(&r.into_ok().unwrap()).unwrap();
    assert_eq!(
        (v.name.as_str(), v.version.as_str()),
        ("Tron", TRON_APP_VERSION)
    );
    let cfg = t.send(&tron::AppConfiguration::request()).unwrap();
    let cfg = tron::AppConfiguration::decode(&cfg.into_ok().unwrap()).unwrap();
    assert_eq!(cfg.version(), TRON_APP_VERSION);

    // Independent route to the address: k256 key, ethers keccak, base58check with 0x41.
    let (_, vk) = eth_expected("m/44'/195'/0'/0/0");
    let account = ethers_core::utils::public_key_to_address(&vk);
    let mut payload = vec![0x41];
    payload.extend_from_slice(account.as_bytes());
    let want = bitcoin::base58::encode_check(&payload);
    // The example manifest's TRX address is this one (Speculos seed, first TRON account).
    assert_eq!(want, "TMVkf58Mk6JiVHXFqScrFCCfy5cgMoKhN1");
    let path: Bip32Path = "m/44'/195'/0'/0/0".parse().unwrap();
    let req = tron::GetAddress {
        path: path.clone(),
        display: true,
        chain_code: true,
    };
    let r = tron::AddressResponse::decode(&t.send(&req.to_command()).unwrap().into_ok().unwrap())
        .unwrap();
    assert_eq!(r.address, want);
    assert_eq!(r.public_key, vk.to_encoded_point(false).as_bytes());
    assert!(r.chain_code.is_some());
    let shown = &sim.prompts()[0];
    assert_eq!(shown.kind, PromptKind::TronAddress);
    assert_eq!(shown.address.as_deref(), Some(want.as_str()));

    // A message in one APDU: the app hashes TIP-191 with the decimal length.
    let msg = "Acme proof of reserves: I control TRX address ".repeat(4);
    let one = tron::sign_personal_message_commands(&path, msg.as_bytes());
    assert_eq!(one.len(), 1);
    let s = tron::Signature::decode(&t.send(&one[0]).unwrap().into_ok().unwrap()).unwrap();
    let recover = |s: &tron::Signature, msg: &str| {
        let mut preimage = b"\x19TRON Signed Message:\n".to_vec();
        preimage.extend_from_slice(msg.len().to_string().as_bytes());
        preimage.extend_from_slice(msg.as_bytes());
        let digest = ethers_core::utils::keccak256(&preimage);
        let sig = ethers_core::types::Signature {
            r: ethers_core::types::U256::from_big_endian(&s.r),
            s: ethers_core::types::U256::from_big_endian(&s.s),
            v: 27 + s.v as u64,
        };
        let key = sig
            .recover(ethers_core::types::RecoveryMessage::Hash(digest.into()))
            .unwrap();
        (key, digest)
    };
    let (key, digest) = recover(&s, &msg);
    assert_eq!(key, account);
    // What the screen showed: the hash (never the text) and the signing address.
    let shown = &sim.prompts()[1];
    assert_eq!(shown.kind, PromptKind::TronSignMessage);
    assert_eq!(
        shown.message.as_deref(),
        Some(hex::encode_upper(digest).as_str())
    );
    assert_eq!(shown.address.as_deref(), Some(want.as_str()));

    // A message in two APDUs: like the real app 0.7.1 (its hash state lost between APDUs,
    // seen under Speculos), the signature is over another hash and recovers to another key.
    let msg = "Acme proof of reserves: I control TRX address ".repeat(6);
    let cmds = tron::sign_personal_message_commands(&path, msg.as_bytes());
    assert_eq!(cmds.len(), 2);
    assert_eq!(
        t.send(&cmds[0]).unwrap().into_ok().unwrap(),
        Vec::<u8>::new()
    );
    let s = tron::Signature::decode(&t.send(&cmds[1]).unwrap().into_ok().unwrap()).unwrap();
    assert_ne!(recover(&s, &msg).0, account);

    // The app's status words: a continuation with nothing started, a bad path, too many
    // bytes, a rejected prompt.
    assert_eq!(t.send(&cmds[1]).unwrap().status, StatusWord::INCORRECT_P1P2);
    let mut bad = cmds[0].clone();
    bad.data[0] = 0;
    assert_eq!(
        t.send(&bad).unwrap().status,
        StatusWord::INCORRECT_BIP32_PATH
    );
    t.send(&cmds[0]).unwrap().into_ok().unwrap();
    let mut long = cmds[1].clone();
    long.data.push(b'!');
    assert_eq!(t.send(&long).unwrap().status, StatusWord::INCORRECT_LENGTH);
    sim.set_approval(ApprovalPolicy::RejectAll);
    t.send(&cmds[0]).unwrap().into_ok().unwrap();
    assert_eq!(t.send(&cmds[1]).unwrap().status, StatusWord::DENY);
    assert_eq!(t.send(&req.to_command()).unwrap().status, StatusWord::DENY);
    // Other apps' instructions: 0x6D00; another class: 0x6E00.
    assert_eq!(
        t.send(&firmware_messages::Command::new(0xE0, 0x0A, 0, 1, vec![]))
            .unwrap()
            .status,
        StatusWord::INS_NOT_SUPPORTED
    );
    assert_eq!(
        t.send(&firmware_messages::Command::new(0xE1, 0x02, 0, 0, vec![]))
            .unwrap()
            .status,
        StatusWord::CLA_NOT_SUPPORTED
    );
}

/// The account flow's exports, as the real apps do them: the Bitcoin app exports standard
/// account keys without a prompt and any other key only with a key export review (0x6A82
/// otherwise, app-bitcoin-new `is_path_safe_for_pubkey_export`); the Ethereum and Tron apps
/// give a key's BIP-32 chain code when P2 asks for it (P2 = 1), nothing shown.
#[test]
fn extended_keys_are_exported_as_the_real_apps_export_them() {
    let master = Xpriv::new_master(Network::Bitcoin, &seed()).unwrap();
    let secp = Secp256k1::new();
    let at = |p: &str| {
        master
            .derive_priv(&secp, &DerivationPath::from_str(p).unwrap())
            .unwrap()
    };

    let (sim, mut t) = device(Network::Bitcoin);
    open(&mut t, "Bitcoin");
    for p in [
        "m/84'/0'/0'",
        "m/86'/0'/5'",
        "m/48'/0'/0'/2'",
        "m/44'/0'/100'",
    ] {
        let x = parse_extended_pubkey(
            &drive(
                &mut t,
                HostFlow::get_extended_pubkey(&p.parse().unwrap(), false),
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(x, Xpub::from_priv(&secp, &at(p)).to_string(), "{p}");
    }
    assert!(sim.prompts().is_empty(), "standard keys leave silently");
    for p in ["m/84'/0'/101'", "m/84'/1'/0'", "m/44'/60'/0'/0", "m/0'/5'"] {
        match drive(
            &mut t,
            HostFlow::get_extended_pubkey(&p.parse().unwrap(), false),
        ) {
            Err(RunError::Flow(HostFlowError::Device { status, .. })) => {
                assert_eq!(status, StatusWord::NOT_SUPPORTED, "{p}")
            }
            other => panic!("{p}: {other:?}"),
        }
        let x = parse_extended_pubkey(
            &drive(
                &mut t,
                HostFlow::get_extended_pubkey(&p.parse().unwrap(), true),
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(x, Xpub::from_priv(&secp, &at(p)).to_string(), "{p}");
    }
    let shown: Vec<_> = sim.prompts();
    assert_eq!(shown.len(), 4);
    assert!(shown
        .iter()
        .all(|p| p.kind == PromptKind::BitcoinExtendedPubkey));
    assert_eq!(shown[0].path.as_deref(), Some("m/84'/0'/101'"));

    // Ethereum: P2 = 1 gives the chain code; P2 = 0 none; anything else is refused (0x6B00).
    let (sim, mut t) = device(Network::Bitcoin);
    open(&mut t, "Ethereum");
    let path: Bip32Path = "m/44'/60'/0'/0".parse().unwrap();
    let ask = |t: &mut InProcessTransport, chain_code| {
        let req = GetAddress {
            path: path.clone(),
            display: false,
            chain_code,
            chain_id: None,
        };
        AddressResponse::decode(&t.send(&req.to_command()).unwrap().into_ok().unwrap()).unwrap()
    };
    let with = ask(&mut t, true);
    assert_eq!(
        with.chain_code,
        Some(at("m/44'/60'/0'/0").chain_code.to_bytes())
    );
    assert_eq!(ask(&mut t, false).chain_code, None);
    let mut bad = GetAddress {
        path: path.clone(),
        display: false,
        chain_code: true,
        chain_id: None,
    }
    .to_command();
    bad.p2 = 2;
    assert_eq!(t.send(&bad).unwrap().status, StatusWord::INCORRECT_P1P2);
    assert!(sim.prompts().is_empty());

    // Tron: the same flag.
    let (sim, mut t) = device(Network::Bitcoin);
    open(&mut t, "Tron");
    let req = firmware_messages::tron::GetAddress {
        path: "m/44'/195'/0'/0".parse().unwrap(),
        display: false,
        chain_code: true,
    };
    let r = firmware_messages::tron::AddressResponse::decode(
        &t.send(&req.to_command()).unwrap().into_ok().unwrap(),
    )
    .unwrap();
    assert_eq!(
        r.chain_code,
        Some(at("m/44'/195'/0'/0").chain_code.to_bytes())
    );
    assert!(sim.prompts().is_empty());
}

/// The host side of the same exports: the Ledger signer assembles the Ethereum and Tron apps'
/// key, chain code and parent key into the xpub BIP-32 gives at the path, and counts a key
/// export review as a confirmation.
#[test]
fn the_ledger_signer_exports_account_keys_of_every_app() {
    use por_attest::chains::ChainFamily;
    use por_attest::signer::Signer;
    use por_attest::signers::LedgerSigner;
    let master = Xpriv::new_master(Network::Bitcoin, &seed()).unwrap();
    let secp = Secp256k1::new();
    let (sim, t) = device(Network::Bitcoin);
    let mut ledger = LedgerSigner::new(t);
    for (family, p) in [
        (ChainFamily::Evm, "m/44'/60'/0'/0"),
        (ChainFamily::Tron, "m/44'/195'/3'/0"),
        (ChainFamily::Bitcoin, "m/84'/0'/0'"),
    ] {
        let path = DerivationPath::from_str(p).unwrap();
        let got = ledger.extended_pubkey(family, &path, false).unwrap();
        let want = Xpub::from_priv(&secp, &master.derive_priv(&secp, &path).unwrap());
        assert_eq!(got, want, "{p}");
    }
    assert_eq!(ledger.confirmations(), 0);
    let odd = DerivationPath::from_str("m/84'/0'/0'/0'").unwrap();
    ledger
        .extended_pubkey(ChainFamily::Bitcoin, &odd, false)
        .unwrap();
    assert_eq!(ledger.confirmations(), 1, "a key export review");
    assert_eq!(sim.prompts().len(), 1);
}
