//! The Bitcoin app's client-command interrupt loop, host side: [`HostFlow`] fed whatever a
//! device may send (status words, client commands, yielded items) for SIGN_PSBT (a P2TR
//! BIP-322 `to_sign`), SIGN_MESSAGE, REGISTER_WALLET and GET_WALLET_ADDRESS.

use crate::input::{Input, InputWriter};
use bitcoin::bip32::{DerivationPath, Xpub};
use firmware_messages::bitcoin::host::{HostFlow, HostFlowError, HostStep};
use firmware_messages::bitcoin::policy::{DefaultPolicy, KeyInfo, PolicyVersion, WalletPolicy};
use firmware_messages::bitcoin::psbt::{parse_yielded_signatures, PsbtV2Maps};
use firmware_messages::{Bip32Path, Response, StatusWord};
use por_attest::fixtures::master_key;
use por_attest::schemes;
use por_attest::simulator::SPECULOS_MNEMONIC;
use std::str::FromStr;
use std::sync::OnceLock;

/// The flows the target drives, built once (the seeds record a simulator's replies to these
/// very flows, so the host's answers match what the device asks).
pub struct Fixtures {
    /// The default `tr(@0/**)` wallet of the simulator's seed, account 0.
    pub tr_policy: WalletPolicy,
    /// The BIP-322 `to_sign` PSBT of its first address, as the ceremony builds it.
    pub psbt: PsbtV2Maps,
    /// A 2-of-2 `wsh(sortedmulti)` policy over two of its accounts.
    pub multisig: WalletPolicy,
    /// The message SIGN_MESSAGE signs (two 64-byte chunks and a bit).
    pub message: Vec<u8>,
    /// The P2TR address of `m/86'/0'/0'/0/0` that the PSBT proves.
    pub p2tr_address: String,
}

/// The P2TR address of the simulator's seed at `m/86'/0'/0'/0/0`.
pub fn p2tr_address() -> String {
    fixtures().p2tr_address.clone()
}

fn account(path: &str) -> (Xpub, [u8; 4]) {
    let secp = bitcoin::secp256k1::Secp256k1::new();
    let master = master_key(SPECULOS_MNEMONIC);
    let xpriv = master
        .derive_priv(&secp, &DerivationPath::from_str(path).expect("path"))
        .expect("derive");
    (
        Xpub::from_priv(&secp, &xpriv),
        master.fingerprint(&secp).to_bytes(),
    )
}

/// The fixtures.
pub fn fixtures() -> &'static Fixtures {
    static F: OnceLock<Fixtures> = OnceLock::new();
    F.get_or_init(|| {
        let secp = bitcoin::secp256k1::Secp256k1::new();
        let (tr_xpub, fpr) = account("m/86'/0'/0'");
        let key = KeyInfo {
            origin: Some((fpr, Bip32Path::from_str("m/86'/0'/0'").expect("path"))),
            xpub: tr_xpub.to_string(),
            suffix: String::new(),
        };
        let tr_policy = DefaultPolicy::Tr.policy(PolicyVersion::V2, key);
        let child = tr_xpub
            .derive_pub(&secp, &DerivationPath::from_str("m/0/0").expect("path"))
            .expect("derive")
            .public_key;
        let (internal, _) = child.x_only_public_key();
        let address = bitcoin::Address::p2tr(&secp, internal, None, bitcoin::Network::Bitcoin);
        let message = b"Fuzz proof of reserves: I control this address at 0000".repeat(3);
        let mut psbt = schemes::to_sign_psbt(&address.script_pubkey(), &message);
        psbt.inputs[0].tap_internal_key = Some(internal);
        psbt.inputs[0].tap_key_origins.insert(
            internal,
            (
                vec![],
                (
                    bitcoin::bip32::Fingerprint::from(fpr),
                    DerivationPath::from_str("m/86'/0'/0'/0/0").expect("path"),
                ),
            ),
        );
        let psbt = PsbtV2Maps::from_psbt(&psbt.serialize()).expect("our PSBT splits");
        let keys: Vec<String> = ["m/48'/0'/0'/2'", "m/48'/0'/1'/2'"]
            .iter()
            .map(|p| {
                let (x, f) = account(p);
                KeyInfo {
                    origin: Some((f, Bip32Path::from_str(p).expect("path"))),
                    xpub: x.to_string(),
                    suffix: String::new(),
                }
                .to_string()
            })
            .collect();
        let multisig = WalletPolicy {
            version: PolicyVersion::V2,
            name: "Fuzz 2of2".into(),
            descriptor_template: "wsh(sortedmulti(2,@0/**,@1/**))".into(),
            keys,
        };
        Fixtures {
            p2tr_address: address.to_string(),
            tr_policy,
            psbt,
            multisig,
            message,
        }
    })
}

/// The flows, by number: the number of flows is their count.
pub const FLOWS: u8 = 4;

/// Flow number `which` (modulo [`FLOWS`]), with the registered multisig's HMAC where it
/// needs one.
pub fn flow(which: u8, hmac: [u8; 32]) -> HostFlow {
    let f = fixtures();
    match which % FLOWS {
        0 => HostFlow::sign_psbt(&f.psbt, &f.tr_policy, None),
        1 => HostFlow::sign_message(
            &Bip32Path::from_str("m/44'/0'/0'/0/0").expect("path"),
            &f.message,
        ),
        2 => HostFlow::register_wallet(&f.multisig),
        _ => HostFlow::get_wallet_address(&f.multisig, Some(hmac), false, 3, true),
    }
}

/// Writes a target input: the flow, the HMAC, then the device's replies (data and status).
pub fn encode_input(which: u8, hmac: [u8; 32], replies: &[Response]) -> Vec<u8> {
    let mut w = InputWriter::default();
    w.u8(which).raw(&hmac);
    for r in replies {
        w.piece(&r.data).raw(&r.status.to_bytes());
    }
    w.0
}

/// First byte: the flow; 32 bytes: an HMAC; then replies (one-byte length, data, status
/// word). The flow never panics; every APDU it asks to send encodes; once it fails or
/// finishes it refuses further replies; a SIGN_PSBT that completes has yielded items that
/// either all parse or fail to parse as a whole.
pub fn interrupt_loop(data: &[u8]) {
    let mut input = Input::new(data);
    let which = input.u8();
    let hmac: [u8; 32] = input.array();
    let mut flow = flow(which, hmac);
    flow.first_command()
        .encode()
        .expect("the first APDU encodes");
    loop {
        let reply = input.piece().to_vec();
        let status = StatusWord(input.u16());
        match flow.on_response(Response::new(reply, status)) {
            Ok(HostStep::Send(c)) => {
                c.encode().expect("a CONTINUE encodes");
            }
            Ok(HostStep::Done(_)) => {
                if which.is_multiple_of(FLOWS) {
                    let _ = parse_yielded_signatures(flow.interpreter().yielded());
                }
                break;
            }
            Err(_) => break,
        }
        if input.is_empty() {
            return;
        }
    }
    assert!(
        matches!(
            flow.on_response(Response::new(vec![], StatusWord::OK)),
            Err(HostFlowError::Finished)
        ),
        "a finished flow takes another reply"
    );
}
