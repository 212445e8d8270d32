//! SIGN_PSBT on the simulated Bitcoin app, driven in-process by our host flow: a PSBT from
//! LedgerHQ's client test data must give the signature the real app gave (same seed,
//! deterministic ECDSA); BIP-322 `to_sign` PSBTs for `tr(@0/**)` and `wpkh(@0/**)` give
//! signatures our BIP-322 verifier accepts; bad or foreign PSBTs are refused with the real
//! status words.

use bitcoin::bip32::{DerivationPath, Fingerprint, Xpriv, Xpub};
use bitcoin::secp256k1::Secp256k1;
use bitcoin::{Address, CompressedPublicKey, Network, Psbt, Witness};
use firmware_messages::bitcoin::host::{run, HostFlow, HostFlowError, RunError};
use firmware_messages::bitcoin::policy::{DefaultPolicy, KeyInfo, PolicyVersion, WalletPolicy};
use firmware_messages::bitcoin::psbt::{parse_yielded_signatures, PartialSignature, PsbtV2Maps};
use firmware_messages::dashboard::DashboardCommand;
use firmware_messages::StatusWord;
use por_attest::schemes::{encode_bip322_signature, to_sign_psbt, verify_bip322, Bip322Format};
use por_attest::simulator::*;
use por_attest::transport::{Exchange, InProcessTransport};
use proptest::prelude::*;
use std::str::FromStr;

const MSG: &[u8] =
    b"Acme proof of reserves snap-1: I control BTC address bc1p... at 812345:0000abcd";

fn device(config: SimulatorConfig) -> (SimulatedLedger, InProcessTransport) {
    let sim = SimulatedLedger::new(config).unwrap();
    let mut t = sim.transport();
    let name = sim.bitcoin_app_name();
    let r = t
        .send(&DashboardCommand::OpenApp(name.into()).to_command())
        .unwrap();
    assert_eq!(r.status, StatusWord::OK);
    (sim, t)
}

fn master(network: Network) -> Xpriv {
    let seed = bip39::Mnemonic::parse(SPECULOS_MNEMONIC)
        .unwrap()
        .to_seed("");
    Xpriv::new_master(network, &seed).unwrap()
}

/// Runs SIGN_PSBT; returns the partial signatures or the device's status.
fn sign(
    t: &mut InProcessTransport,
    psbt: &[u8],
    policy: &WalletPolicy,
    hmac: Option<[u8; 32]>,
) -> Result<Vec<(u64, PartialSignature)>, StatusWord> {
    let maps = PsbtV2Maps::from_psbt(psbt).unwrap();
    let mut flow = HostFlow::sign_psbt(&maps, policy, hmac);
    match run(&mut flow, |c| t.send(c)) {
        Ok(done) => {
            assert!(done.is_empty());
            Ok(parse_yielded_signatures(flow.interpreter().yielded()).unwrap())
        }
        Err(RunError::Flow(HostFlowError::Device { status, .. })) => Err(status),
        Err(e) => panic!("{e}"),
    }
}

/// The default wallet of `kind` for account 0 and the key at `change/index`.
fn wallet(
    kind: DefaultPolicy,
    network: Network,
    version: PolicyVersion,
    change: u32,
    index: u32,
) -> (WalletPolicy, DerivationPath, Xpriv) {
    let secp = Secp256k1::new();
    let m = master(network);
    let coin = if network == Network::Bitcoin { 0 } else { 1 };
    let account = DerivationPath::from_str(&format!("m/{}'/{coin}'/0'", kind.purpose())).unwrap();
    let xpub = Xpub::from_priv(&secp, &m.derive_priv(&secp, &account).unwrap());
    let key = KeyInfo::from_str(&format!(
        "[{}/{}'/{coin}'/0']{xpub}",
        m.fingerprint(&secp),
        kind.purpose()
    ))
    .unwrap();
    let path = account.extend([change.into(), index.into()]);
    let xpriv = m.derive_priv(&secp, &path).unwrap();
    (kind.policy(version, key), path, xpriv)
}

/// The BIP-322 `to_sign` PSBT of `MSG` for the address of `xpriv` under `kind`, with the
/// derivation fields a wallet adds.
fn bip322_psbt(kind: DefaultPolicy, path: &DerivationPath, xpriv: &Xpriv) -> (Psbt, Address) {
    let secp = Secp256k1::new();
    let fpr = master(Network::Bitcoin).fingerprint(&secp);
    let pk = xpriv.private_key.public_key(&secp);
    let (xonly, _) = pk.x_only_public_key();
    let address = match kind {
        DefaultPolicy::Tr => Address::p2tr(&secp, xonly, None, Network::Bitcoin),
        _ => Address::p2wpkh(&CompressedPublicKey(pk), Network::Bitcoin),
    };
    let mut psbt = to_sign_psbt(&address.script_pubkey(), MSG);
    let origin = (fpr, path.clone());
    if kind == DefaultPolicy::Tr {
        psbt.inputs[0].tap_internal_key = Some(xonly);
        psbt.inputs[0]
            .tap_key_origins
            .insert(xonly, (vec![], origin));
    } else {
        psbt.inputs[0].bip32_derivation.insert(pk, origin);
    }
    (psbt, address)
}

#[test]
fn ledger_recorded_psbt_gives_the_real_apps_signature() {
    // LedgerHQ's Rust client test data (sign_psbt.json, first case): a P2SH-P2WPKH spend
    // signed by the real app with the Speculos seed on testnet, and the item it yielded.
    // ECDSA is deterministic (RFC 6979), so the same sighash and key give the same bytes.
    let (sim, mut t) = device(SimulatorConfig {
        bitcoin_network: Network::Testnet,
        ..Default::default()
    });
    let policy = WalletPolicy {
        version: PolicyVersion::V2,
        name: String::new(),
        descriptor_template: "sh(wpkh(@0/**))".into(),
        keys: vec!["[f5acc2fd/49'/1'/0']tpubDC871vGLAiKPcwAw22EjhKVLk5L98UGXBEcGR8gpcigLQVDDfgcYW24QBEyTHTSFEjgJgbaHU8CdRi9vmG4cPm1kPLmZhJEP17FMBdNheh3".into()],
    };
    let psbt = Psbt::from_str("cHNidP8BAHICAAAAAXT0yaTajRSLu1boaayjaQ3aDOOsvPgWCcyUbRtvFkrOAQAAAAD9////AlDUEgAAAAAAFgAUMxjgT65sEq/LAJxpzVflslBK5rT1cQgAAAAAABepFG1IUtrzpUCfdyFtu46j1ZIxLX7phwAAAAAAAQCMAgAAAAHQ47WR3EhO23HqtmoOmUcxAH/rfQgqUMdC8CPqCQFNHgEAAAAXFgAU4xDQRPiNqxtCdp5KhMrwg2P57MH9////AmDqAAAAAAAAGXapFEWIHtDTWHVQ95SEe3yLn6A+3Qo8iKx/ZhsAAAAAABepFPBGTZ+g6kLYDk1fFFeIOYLiO47shwAAAAABASB/ZhsAAAAAABepFPBGTZ+g6kLYDk1fFFeIOYLiO47shwEEFgAUyweAh+/0haqiJg6UpT19bRxd0VEiBgJLo7d9kz3p+j+VgzSMQPPKry7/rVtuJE7Oirv8xyRPZxj1rML9MQAAgAEAAIAAAACAAQAAAAAAAAAAAAEAFgAUTLRHxTu3NSNPKxOQ1F2dhksVdtMiAgOKsR70a0i1XwDFPv3fOM3f+dYzW8r1L6n5k4R/LM0vVxj1rML9MQAAgAEAAIAAAACAAQAAAAIAAAAA").unwrap();
    let sigs = sign(&mut t, &psbt.serialize(), &policy, None).unwrap();
    assert_eq!(sigs.len(), 1);
    assert_eq!(
        hex::encode(sigs[0].1.to_yielded(sigs[0].0).encode()),
        "0021024ba3b77d933de9fa3f9583348c40f3caaf2effad5b6e244ece8abbfcc7244f6730440220720722b08489c2a50d10edea8e21880086c8e8f22889a16815e306daeea4665b02203fcf453fa490b76cf4f929714065fc90a519b7b97ab18914f9451b5a4b45241201"
    );
    // One prompt, the transaction's, with its outputs and fee.
    let prompts = sim.prompts();
    assert_eq!(prompts.len(), 1);
    assert_eq!(prompts[0].kind, PromptKind::BitcoinSignPsbt);
    assert!(prompts[0].details.iter().any(|(k, _)| k == "Fees"));
}

#[test]
fn bip322_to_sign_is_signed_for_tr_and_wpkh() {
    for kind in [DefaultPolicy::Tr, DefaultPolicy::Wpkh] {
        let (sim, mut t) = device(SimulatorConfig::default());
        let (policy, path, xpriv) = wallet(kind, Network::Bitcoin, PolicyVersion::V2, 0, 7);
        let (psbt, address) = bip322_psbt(kind, &path, &xpriv);
        let sigs = sign(&mut t, &psbt.serialize(), &policy, None).unwrap();
        assert_eq!(sigs.len(), 1, "{kind:?}");
        let witness = match &sigs[0] {
            (0, PartialSignature::TaprootKeyPath { key, signature }) => {
                assert_eq!(signature.len(), 64, "SIGHASH_DEFAULT has no sighash byte");
                // The yielded key is the tweaked output key, the one in the address.
                assert_eq!(&address.script_pubkey().as_bytes()[2..], key);
                Witness::from_slice(&[signature])
            }
            (0, PartialSignature::Ecdsa { pubkey, signature }) => {
                Witness::from_slice(&[&signature[..], &pubkey[..]])
            }
            other => panic!("{other:?}"),
        };
        let mut tx = psbt.unsigned_tx.clone();
        tx.input[0].witness = witness;
        let sig = encode_bip322_signature(&tx, Bip322Format::Simple);
        verify_bip322(&address, MSG, &sig).unwrap();
        assert!(verify_bip322(&address, b"another message", &sig).is_err());
        // One prompt despite the replays of the interrupt loop. Like the released apps
        // (2.4.1 under Speculos), it reviews a zero-value transaction to OP_RETURN with no fee;
        // the message is not shown.
        let prompts = sim.prompts();
        assert_eq!(prompts.len(), 1, "{kind:?}");
        assert_eq!(prompts[0].kind, PromptKind::BitcoinSignPsbt);
        assert_eq!(prompts[0].message, None);
        assert_eq!(
            prompts[0].details,
            vec![
                ("Output 1".to_string(), "OP_RETURN 0 BTC".to_string()),
                ("Fees".to_string(), "0 BTC".to_string())
            ],
            "{kind:?}"
        );
    }
}

/// A plain P2TR spend from the address of `xpriv` (see `fixtures::p2tr_key_spend_psbt`).
fn p2tr_spend_psbt(path: &DerivationPath, xpriv: &Xpriv) -> (Psbt, bitcoin::TxOut) {
    let secp = Secp256k1::new();
    por_attest::fixtures::p2tr_key_spend_psbt(
        &xpriv.private_key.public_key(&secp),
        master(Network::Bitcoin).fingerprint(&secp),
        path,
        Network::Bitcoin,
    )
}

#[test]
fn version_1_policies_on_app_2_0() {
    let (_, mut t) = device(SimulatorConfig {
        bitcoin_app_version: "2.0.6".into(),
        ..Default::default()
    });
    let (v1, path, xpriv) = wallet(DefaultPolicy::Tr, Network::Bitcoin, PolicyVersion::V1, 1, 3);
    // A plain spend is signed under the version-1 policy, through our host driver: 2.0.x
    // yields `<input> <signature>` (no key) and signs a taproot input with SIGHASH_ALL (a
    // 65th byte 0x01), as the real 2.0.6 did under Speculos. The signature verifies against
    // the BIP-341 key-path sighash and the tweaked output key the driver attaches.
    let (spend, spent) = p2tr_spend_psbt(&path, &xpriv);
    let sigs = por_attest::signers::BitcoinApp::for_app_version(&mut t, "2.0.6")
        .sign_psbt(&spend, &v1, None)
        .unwrap();
    let (0, PartialSignature::TaprootKeyPath { key, signature }) = &sigs[0] else {
        panic!("{sigs:?}")
    };
    assert_eq!(signature.len(), 65);
    assert_eq!(signature[64], 0x01);
    assert_eq!(
        por_attest::fixtures::verify_p2tr_key_spend(&spend, &spent, key, signature),
        Ok(bitcoin::TapSighashType::All)
    );
    // The BIP-322 `to_sign` is refused as the real 2.0.6 refuses it (seen under Speculos):
    // its bare OP_RETURN output is not supported before 2.1.3.
    let (to_sign, _) = bip322_psbt(DefaultPolicy::Tr, &path, &xpriv);
    assert_eq!(
        sign(&mut t, &to_sign.serialize(), &v1, None).unwrap_err(),
        StatusWord::NOT_SUPPORTED
    );
    let (v2, _, _) = wallet(DefaultPolicy::Tr, Network::Bitcoin, PolicyVersion::V2, 1, 3);
    assert_eq!(
        sign(&mut t, &spend.serialize(), &v2, None).unwrap_err(),
        StatusWord::INCORRECT_DATA
    );
}

#[test]
fn bare_op_return_is_signed_from_app_2_1_3() {
    for (version, signs) in [("2.1.2", false), ("2.1.3", true)] {
        let (_, mut t) = device(SimulatorConfig {
            bitcoin_app_version: version.into(),
            ..Default::default()
        });
        let (v2, path, xpriv) =
            wallet(DefaultPolicy::Tr, Network::Bitcoin, PolicyVersion::V2, 0, 1);
        let (to_sign, _) = bip322_psbt(DefaultPolicy::Tr, &path, &xpriv);
        let got = sign(&mut t, &to_sign.serialize(), &v2, None);
        if signs {
            assert_eq!(got.unwrap().len(), 1, "{version}");
        } else {
            assert_eq!(got.unwrap_err(), StatusWord::NOT_SUPPORTED, "{version}");
        }
    }
}

#[test]
fn rejection_and_refusals() {
    let (sim, mut t) = device(SimulatorConfig::default());
    let (policy, path, xpriv) =
        wallet(DefaultPolicy::Tr, Network::Bitcoin, PolicyVersion::V2, 0, 1);
    let (psbt, _) = bip322_psbt(DefaultPolicy::Tr, &path, &xpriv);

    sim.set_approval(ApprovalPolicy::RejectAll);
    assert_eq!(
        sign(&mut t, &psbt.serialize(), &policy, None).unwrap_err(),
        StatusWord::DENY
    );
    assert_eq!(sim.prompts().len(), 1);
    sim.set_approval(ApprovalPolicy::ApproveAll);

    // A derivation with another fingerprint: no input is the wallet's.
    let mut foreign = psbt.clone();
    for (_, (_, (f, _))) in foreign.inputs[0].tap_key_origins.iter_mut() {
        *f = Fingerprint::from([1, 2, 3, 4]);
    }
    assert_eq!(
        sign(&mut t, &foreign.serialize(), &policy, None).unwrap_err(),
        StatusWord::INCORRECT_DATA
    );
    // A path of the wallet whose script is not the spent one.
    let (_, path2, xpriv2) = wallet(DefaultPolicy::Tr, Network::Bitcoin, PolicyVersion::V2, 0, 2);
    let (moved, _) = bip322_psbt(DefaultPolicy::Tr, &path2, &xpriv2);
    let mut mixed = psbt.clone();
    mixed.inputs[0].tap_key_origins = moved.inputs[0].tap_key_origins.clone();
    mixed.inputs[0].tap_internal_key = moved.inputs[0].tap_internal_key;
    assert_eq!(
        sign(&mut t, &mixed.serialize(), &policy, None).unwrap_err(),
        StatusWord::INCORRECT_DATA
    );
    // A wpkh wallet does not own a taproot input.
    let (wpkh, _, _) = wallet(
        DefaultPolicy::Wpkh,
        Network::Bitcoin,
        PolicyVersion::V2,
        0,
        1,
    );
    assert_eq!(
        sign(&mut t, &psbt.serialize(), &wpkh, None).unwrap_err(),
        StatusWord::INCORRECT_DATA
    );
    // A registered wallet's HMAC must be the device's (this is a default policy's id with
    // a made-up HMAC); pkh is not simulated for SIGN_PSBT.
    assert_eq!(
        sign(&mut t, &psbt.serialize(), &policy, Some([1; 32])).unwrap_err(),
        StatusWord::SIGNATURE_FAIL
    );
    let (pkh, _, _) = wallet(
        DefaultPolicy::Pkh,
        Network::Bitcoin,
        PolicyVersion::V2,
        0,
        1,
    );
    assert_eq!(
        sign(&mut t, &psbt.serialize(), &pkh, None).unwrap_err(),
        StatusWord::NOT_SUPPORTED
    );
    // No prompt for any of the refused ones.
    assert_eq!(sim.prompts().len(), 1);
}

fn garbage_session(answers: &[Vec<u8>]) -> Vec<StatusWord> {
    let (_, mut t) = device(SimulatorConfig::default());
    let (policy, path, xpriv) =
        wallet(DefaultPolicy::Tr, Network::Bitcoin, PolicyVersion::V2, 0, 1);
    let (psbt, _) = bip322_psbt(DefaultPolicy::Tr, &path, &xpriv);
    let maps = PsbtV2Maps::from_psbt(&psbt.serialize()).unwrap();
    let flow = HostFlow::sign_psbt(&maps, &policy, None);
    let mut statuses = vec![t.send(flow.first_command()).unwrap().status];
    for a in answers {
        let c = firmware_messages::bitcoin::client_commands::continue_command(a.clone());
        statuses.push(t.send(&c).unwrap().status);
    }
    statuses
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn lying_host_gets_6a80_never_a_panic(answers in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..80), 1..6)) {
        let statuses = garbage_session(&answers);
        prop_assert_eq!(statuses[0], StatusWord::INTERRUPTED_EXECUTION);
        let first_error = statuses.iter().position(|s| *s != StatusWord::INTERRUPTED_EXECUTION);
        if let Some(i) = first_error {
            prop_assert_eq!(statuses[i], StatusWord::INCORRECT_DATA);
        }
    }
}
