//! What the apps show of a message, and what the Ledger signer tells the operator to compare:
//! found on the real firmware under Speculos (2026-12-01), the Bitcoin app 2.0.6 and the
//! Ethereum app 1.9.18 show "Message hash" (the message's SHA-256), never its text; Bitcoin
//! 2.4.1 shows the text. The simulator shows the same, and the signer's hint names the hash
//! the device shows exactly when it shows one.

use bitcoin::bip32::DerivationPath;
use por_attest_ceremony::signer::{Signer, SigningKey};
use por_attest_ceremony::signers::LedgerSigner;
use por_attest_simulator::{RunningApp, SimulatedLedger, SimulatorConfig};
use por_attest_verify::chains::{ChainFamily, ScriptType};

/// An account message of the length the hardware tests sign (one line, printable ASCII).
const MESSAGE: &[u8] = b"Hardware Test proof of reserves hw-test-2026-11: I control BTC account xpub6DUYn4moKgHkK2d7bXX3mHTPb6XQwRVFRMdZ6ZwLS5u3nonGVpJiFeZiQkHutwdFqxKP75jex8gvVm7ed4euYeDtMnoiF1Cz1z4CeBJYWin at 925000";

/// Signs [`MESSAGE`] on a simulated device whose apps report these versions; the signer's
/// hint and what the simulated device showed.
fn sign(family: ChainFamily, bitcoin: &str, ethereum: &str) -> (Option<String>, String) {
    let sim = SimulatedLedger::new(SimulatorConfig {
        start_app: match family {
            ChainFamily::Bitcoin => RunningApp::Bitcoin,
            _ => RunningApp::Ethereum,
        },
        bitcoin_app_version: bitcoin.into(),
        ethereum_app_version: ethereum.into(),
        ..Default::default()
    })
    .unwrap();
    let mut signer = LedgerSigner::new(sim.transport());
    let (path, script_type): (DerivationPath, _) = match family {
        ChainFamily::Bitcoin => ("m/84'/0'/0'".parse().unwrap(), Some(ScriptType::P2wpkh)),
        _ => ("m/44'/60'/0'/0".parse().unwrap(), None),
    };
    // What the ceremony asks first opens the app (and reads its version).
    signer.extended_pubkey(family, &path, false).unwrap();
    let hint = signer.message_display_hint(family, MESSAGE);
    let key = SigningKey {
        family,
        script_type,
        path: &path,
        key: None,
    };
    signer.sign_message(&key, MESSAGE).unwrap();
    let shown = sim.prompts().last().unwrap().message.clone().unwrap();
    (hint, shown)
}

fn sha256_upper(m: &[u8]) -> String {
    use sha2::Digest;
    hex::encode_upper(sha2::Sha256::digest(m))
}

#[test]
fn bitcoin_apps_before_2_2_2_show_the_hash_and_the_operator_is_told_it() {
    let hash = sha256_upper(MESSAGE);
    let (hint, shown) = sign(ChainFamily::Bitcoin, "2.0.6", "1.10.4");
    assert_eq!(shown, format!("SHA256: {hash}"));
    assert_eq!(hint, Some(format!("device shows message hash {hash}")));
    let (hint, shown) = sign(ChainFamily::Bitcoin, "2.4.1", "1.10.4");
    assert_eq!(shown.as_bytes(), MESSAGE);
    assert_eq!(hint, None);
}

#[test]
fn ethereum_apps_before_1_9_19_show_the_hash_and_the_operator_is_told_it() {
    let hash = sha256_upper(MESSAGE);
    let (hint, shown) = sign(ChainFamily::Evm, "2.4.1", "1.9.18");
    assert_eq!(shown, format!("SHA256: {hash}"));
    assert_eq!(hint, Some(format!("device shows message hash {hash}")));
    let (hint, shown) = sign(ChainFamily::Evm, "2.4.1", "1.10.4");
    assert_eq!(shown.as_bytes(), MESSAGE);
    assert_eq!(hint, None);
}
