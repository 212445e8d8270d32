//! The BIP-322 `to_sign` PSBT a hardware signer is given for a manifest address, with what
//! such signers expect (BIP-174 version 0): `to_spend` as `NON_WITNESS_UTXO` and, for segwit
//! inputs, its output as `WITNESS_UTXO` (never for a legacy P2SH input: the Bitcoin app
//! refuses that), the message in `PSBT_GLOBAL_GENERIC_SIGNED_MESSAGE`, `SIGHASH_TYPE` ALL for
//! ECDSA inputs, the redeem / witness script, the BIP-32 derivation of every key the manifest
//! can place, and the cosigners' xpubs (`PSBT_GLOBAL_XPUB`). A device adds what only it knows
//! (the single key's derivation, read from its own account key) in
//! [`crate::signer::Signer::sign_psbt`].

use crate::manifest::{AddressSpec, Manifest};
use bitcoin::psbt::PsbtSighashType;
use bitcoin::{EcdsaSighashType, Psbt, ScriptBuf};
use por_attest_verify::chains::ScriptType;
use por_attest_verify::schemes;

/// The `to_sign` PSBT of `message` for the manifest address `spec`.
pub fn bip322_psbt(manifest: &Manifest, spec: &AddressSpec, spk: &ScriptBuf, msg: &[u8]) -> Psbt {
    let mut psbt = schemes::to_sign_psbt(spk, msg);
    let st = spec.script_type;
    let input = &mut psbt.inputs[0];
    if st != Some(ScriptType::P2tr) {
        input.sighash_type = Some(PsbtSighashType::from(EcdsaSighashType::All));
    }
    let Some(ms) = &spec.multisig else {
        return psbt;
    };
    let script = ms.script.clone();
    match st {
        Some(ScriptType::P2sh) => {
            // A legacy input: the Bitcoin app refuses one that has a witness UTXO (0x6A80,
            // "legacy inputs must have the non-witness utxo, but no witness utxo").
            input.witness_utxo = None;
            input.redeem_script = Some(script);
        }
        Some(ScriptType::P2wsh) => input.witness_script = Some(script),
        Some(ScriptType::P2shP2wsh) => {
            input.redeem_script = Some(ScriptBuf::new_p2wsh(&script.wscript_hash()));
            input.witness_script = Some(script);
        }
        _ => {}
    }
    for c in &ms.cosigners {
        let fingerprint = c
            .signer
            .as_ref()
            .and_then(|id| manifest.signer(id))
            .and_then(|s| s.fingerprint);
        let Some(fp) = fingerprint else { continue };
        if let Some(path) = &c.full_path {
            input
                .bip32_derivation
                .insert(c.pubkey.inner, (fp, path.clone()));
        }
        if let (Some(xpub), Some(origin)) = (c.xpub, &c.origin_path) {
            psbt.xpub.insert(xpub, (fp, origin.clone()));
        }
    }
    psbt
}

/// Adds a single-key signer's key to input 0 of a `to_sign` PSBT, the way devices find their
/// key: its origin (master fingerprint and path) as the input's BIP-32 derivation (for P2TR
/// the internal key with its `TAP_BIP32` origin), and the P2SH-P2WPKH redeem script. `false`
/// when the PSBT has no input.
pub fn add_single_key_origin(
    psbt: &mut Psbt,
    st: ScriptType,
    key: bitcoin::secp256k1::PublicKey,
    origin: (bitcoin::bip32::Fingerprint, bitcoin::bip32::DerivationPath),
) -> bool {
    let Some(input) = psbt.inputs.first_mut() else {
        return false;
    };
    if st == ScriptType::P2tr {
        let (internal, _) = key.x_only_public_key();
        input.tap_internal_key = Some(internal);
        input.tap_key_origins.insert(internal, (vec![], origin));
    } else {
        input.bip32_derivation.insert(key, origin);
        if st == ScriptType::P2shP2wpkh {
            let ck = bitcoin::CompressedPublicKey(key);
            input.redeem_script = Some(ScriptBuf::new_p2wpkh(&ck.wpubkey_hash()));
        }
    }
    true
}
