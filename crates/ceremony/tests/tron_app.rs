//! The Tron app driver against the simulated Tron app and against scripted raw replies.

use bitcoin::bip32::DerivationPath;
use por_attest_ceremony::signer::Signer;
use por_attest_ceremony::signers::{DeviceError, LedgerSigner, TronApp};
use por_attest_ceremony::transport::Exchange;
use por_attest_ceremony::transport::TransportError;
use por_attest_simulator::{RunningApp, SimulatedLedger, SimulatorConfig};
use por_attest_verify::chains::ChainFamily;
use por_attest_verify::schemes::tron::{verify_tron, TronVersion};

/// A device that answers every APDU with the same raw reply (data then status word).
struct Answers(Vec<u8>);
impl Exchange for Answers {
    fn exchange(&mut self, _apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        Ok(self.0.clone())
    }
}

fn path() -> DerivationPath {
    "m/44'/195'/0'/0/0".parse().unwrap()
}

#[test]
fn signs_what_the_verifier_accepts() {
    let sim = SimulatedLedger::new(SimulatorConfig {
        start_app: RunningApp::Tron,
        ..Default::default()
    })
    .unwrap();
    let mut app = TronApp::new(sim.transport());
    let address = app.address(&path(), false).unwrap();
    assert!(sim.prompts().is_empty(), "nothing shown without display");
    let msg = b"Acme proof of reserves: I control TRX address";
    let sig = app.sign_personal_message(&path(), msg).unwrap();
    let v = u8::from_str_radix(&sig[sig.len() - 2..], 16).unwrap();
    assert!(v == 27 || v == 28, "{sig}");
    verify_tron(&address, msg, &sig, TronVersion::V2).unwrap();
    assert!(verify_tron(&address, msg, &sig, TronVersion::V1).is_err());
    assert_eq!(app.configuration().unwrap().version(), "0.7.1");
}

#[test]
fn like_app_0_7_1_a_message_longer_than_one_apdu_is_signed_over_a_wrong_hash() {
    // Seen on the real Tron app 0.7.1 under Speculos: its Keccak state lives on the stack
    // between APDUs, so a message past the first APDU (229 bytes at m/44'/195'/0'/0) gets a
    // signature that recovers to an unrelated key. The simulator does the same, and the
    // Ledger signer refuses such a message before any prompt.
    let sim = SimulatedLedger::new(SimulatorConfig {
        start_app: RunningApp::Tron,
        ..Default::default()
    })
    .unwrap();
    let account: DerivationPath = "m/44'/195'/0'/0".parse().unwrap();
    let mut app = TronApp::new(sim.transport());
    let address = app.address(&account, false).unwrap();
    let fits = [b'a'; 229];
    let sig = app.sign_personal_message(&account, &fits).unwrap();
    verify_tron(&address, &fits, &sig, TronVersion::V2).unwrap();
    let longer = [b'a'; 230];
    let sig = app.sign_personal_message(&account, &longer).unwrap();
    assert!(verify_tron(&address, &longer, &sig, TronVersion::V2).is_err());
    // The Ledger signer says so before the device is asked anything.
    let before = sim.prompts().len();
    let mut signer = LedgerSigner::new(sim.transport());
    assert_eq!(
        signer
            .cannot_sign_message(ChainFamily::Tron, &account, &fits)
            .unwrap(),
        None
    );
    let why = signer
        .cannot_sign_message(ChainFamily::Tron, &account, &longer)
        .unwrap()
        .expect("refused");
    assert!(
        why.contains(
            "Tron app 0.7.1 signs a personal message correctly only when it fits one APDU"
        ) && why.contains("at most 229 bytes")
            && why.contains("this message is 230 bytes"),
        "{why}"
    );
    assert_eq!(sim.prompts().len(), before, "nothing prompted");
}

#[test]
fn sign_by_hash_setting_off_says_what_to_do() {
    let mut app = TronApp::new(Answers(vec![0x6A, 0x8C]));
    let e = app.sign_personal_message(&path(), b"m").unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("Sign by hash") && text.contains("Settings"),
        "{text}"
    );
    let mut app = TronApp::new(Answers(vec![0x69, 0x85]));
    assert!(matches!(
        app.address(&path(), true),
        Err(DeviceError::Rejected(_))
    ));
}

#[test]
fn garbled_replies_are_errors_naming_the_field() {
    // A well-formed reply whose address is not the key's.
    let mut reply = vec![65u8];
    reply.extend_from_slice(
        &bitcoin::secp256k1::PublicKey::from_secret_key(
            por_attest_verify::schemes::secp(),
            &bitcoin::secp256k1::SecretKey::from_slice(&[1u8; 32]).unwrap(),
        )
        .serialize_uncompressed(),
    );
    reply.push(34);
    reply.extend_from_slice(b"TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC");
    reply.extend_from_slice(&[0x90, 0x00]);
    let e = TronApp::new(Answers(reply)).address(&path(), false);
    let text = e.unwrap_err().to_string();
    assert!(
        text.contains("not the address of the returned key"),
        "{text}"
    );
    // A signature with an Ethereum-style v, a short one, a key that is not on the curve.
    let mut sig = vec![1u8; 64];
    sig.extend_from_slice(&[27, 0x90, 0x00]);
    let text = TronApp::new(Answers(sig))
        .sign_personal_message(&path(), b"m")
        .unwrap_err()
        .to_string();
    assert!(text.contains("invalid v"), "{text}");
    let text = TronApp::new(Answers(vec![1, 2, 0x90, 0x00]))
        .sign_personal_message(&path(), b"m")
        .unwrap_err()
        .to_string();
    assert!(text.contains("garbled reply"), "{text}");
    let mut bad_key = vec![65u8, 4];
    bad_key.extend_from_slice(&[0xFF; 64]);
    bad_key.push(34);
    bad_key.extend_from_slice(b"TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC");
    bad_key.extend_from_slice(&[0x90, 0x00]);
    let text = TronApp::new(Answers(bad_key))
        .address(&path(), false)
        .unwrap_err()
        .to_string();
    assert!(text.contains("public key"), "{text}");
}
