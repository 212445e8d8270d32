//! The device-agnostic signer interface the ceremony drives.
//!
//! The ceremony (`crate::ceremony`) keeps only the generic loop: which tasks, the journal,
//! resume, the reject policy and the local check of every signature. Everything a particular
//! kind of device needs (which app to open, how it spells a wallet, how it shows an address,
//! which commands sign) sits behind [`Signer`]. A new kind of device is one module in
//! `crate::signers` implementing this trait, and one `--device` spelling.

use crate::manifest::{AccountMultisig, Manifest, SigningTask};
use crate::pkcs11::KeyRef;
use crate::signers::DeviceError;
use bitcoin::bip32::{DerivationPath, Fingerprint, Xpub};
use bitcoin::Psbt;
use por_attest_verify::chains::{ChainFamily, ScriptType};

/// The key a signature is asked of: the chain family's message scheme decides what is signed
/// (legacy Bitcoin message hash, EIP-191, TIP-191).
#[derive(Debug, Clone, Copy)]
pub struct SigningKey<'a> {
    /// The chain family whose message scheme the signature follows.
    pub family: ChainFamily,
    /// Bitcoin only: the script type of the address the key stands for.
    pub script_type: Option<ScriptType>,
    /// The key's derivation path below the signer's master key (empty for signers without
    /// BIP-32, such as HSM keys).
    pub path: &'a DerivationPath,
    /// The key's name on a signer that holds keys one by one (an HSM: `id:…` / `label:…`).
    pub key: Option<&'a KeyRef>,
}

impl<'a> SigningKey<'a> {
    /// The key of a manifest task.
    pub fn of_task(task: &SigningTask<'a>) -> SigningKey<'a> {
        SigningKey {
            family: task.spec.family,
            script_type: task.spec.script_type,
            path: task.path,
            key: task.spec.key.as_ref(),
        }
    }
}

/// An address of an account entry, for a device to derive and show: the signer's account key
/// (or cosigner key) at `account_path`, and the address's relative path below it.
#[derive(Debug, Clone, Copy)]
pub struct AccountAddressRef<'a> {
    /// The chain family.
    pub family: ChainFamily,
    /// Bitcoin only: the account's script type.
    pub script_type: Option<ScriptType>,
    /// The path of this signer's account key (its cosigner key for a multisig wallet).
    pub account_path: &'a DerivationPath,
    /// A multisig wallet: its cosigners, threshold and order.
    pub multisig: Option<&'a AccountMultisig>,
    /// The unhardened steps below the account key.
    pub relative: &'a [u32],
}

/// A device that holds keys and signs for them: a Ledger with its apps, an HSM, ...
///
/// Every method may ask a person to confirm on the device; a refusal is
/// [`DeviceError::Rejected`]. Methods are called in the order the ceremony needs them, one task
/// at a time: [`Signer::cannot_sign`], [`Signer::derive_address`], then [`Signer::sign_message`]
/// or [`Signer::sign_psbt`].
pub trait Signer {
    /// The master fingerprint of the signer's BIP-32 seed, checked against the manifest before
    /// anything is signed; `None` for a signer without one (keys held one by one).
    fn master_fingerprint(&mut self) -> Result<Option<Fingerprint>, DeviceError>;

    /// Why this signer cannot sign `task` at all (a too-old app, a scheme the device lacks),
    /// asked before any prompt for it; `None` when it can.
    fn cannot_sign(&mut self, task: &SigningTask<'_>) -> Result<Option<String>, DeviceError>;

    /// Why this signer would not sign `message` at `path` for `family` correctly (the Tron app
    /// before 0.8 loses the hash of a message longer than one APDU), asked before any prompt
    /// for it; `None` when it can.
    fn cannot_sign_message(
        &mut self,
        family: ChainFamily,
        path: &DerivationPath,
        message: &[u8],
    ) -> Result<Option<String>, DeviceError> {
        let _ = (family, path, message);
        Ok(None)
    }

    /// The extended public key at `path` for `family`'s app or key store, shown on the device
    /// for the user to confirm when `display` is set.
    fn extended_pubkey(
        &mut self,
        family: ChainFamily,
        path: &DerivationPath,
        display: bool,
    ) -> Result<Xpub, DeviceError>;

    /// The task's address as the device itself derives it (and shows it, for the user to
    /// compare, when `display` is set); `None` when this device cannot derive such an address
    /// (a multisig address whose cosigners are bare keys: the ceremony then relies on the
    /// device's key at the task's path).
    fn derive_address(
        &mut self,
        manifest: &Manifest,
        task: &SigningTask<'_>,
        display: bool,
    ) -> Result<Option<String>, DeviceError>;

    /// Sign `message` with `key` in its family's message scheme: Bitcoin's legacy signed
    /// message (65-byte compact signature, base64), EIP-191 or TIP-191 (0x-hex r‖s‖v).
    fn sign_message(&mut self, key: &SigningKey<'_>, message: &[u8])
        -> Result<String, DeviceError>;

    /// Whether this signer signs `task`'s BIP-322 `to_sign` PSBT (a P2WPKH or P2SH-P2WPKH
    /// address, or a multisig cosigner's share): then the ceremony proves the address with a
    /// BIP-322 signature; otherwise it signs the legacy message and the snapshot records the
    /// entry as legacy (`bip137`). P2TR is always a PSBT (see [`Signer::cannot_sign`]).
    fn signs_bip322(
        &mut self,
        manifest: &Manifest,
        task: &SigningTask<'_>,
    ) -> Result<bool, DeviceError> {
        let _ = (manifest, task);
        Ok(false)
    }

    /// Sign input 0 of a BIP-322 `to_sign` PSBT for `task`'s address: the signer adds what it
    /// needs to find its key (derivations) and puts its signature in the PSBT (`tap_key_sig` for
    /// a taproot key path, `partial_sigs` for ECDSA).
    fn sign_psbt(
        &mut self,
        manifest: &Manifest,
        task: &SigningTask<'_>,
        psbt: &mut Psbt,
    ) -> Result<(), DeviceError>;

    /// An account's address as the device itself derives it, shown on the device for the user
    /// to compare (an address review); `None` when this device cannot show such an address
    /// (the ceremony then relies on the extended key it exported, compared on the host).
    fn show_account_address(
        &mut self,
        address: &AccountAddressRef<'_>,
    ) -> Result<Option<String>, DeviceError> {
        let _ = address;
        Ok(None)
    }

    /// How many times this signer has waited for a person so far: address reviews, message
    /// reviews, wallet registrations, key export reviews (a signer without a screen: 0).
    fn confirmations(&self) -> u64 {
        0
    }

    /// `count` more signers on the same device that sign at the same time as one another (one
    /// per worker thread, `sign --parallel N`), each with its own session; `None` for a device
    /// that signs one task at a time (a Ledger).
    fn parallel_sessions(
        &mut self,
        count: usize,
    ) -> Result<Option<Vec<Box<dyn Signer + Send>>>, DeviceError> {
        let _ = count;
        Ok(None)
    }

    /// What the operator should compare with the device's screen when the device shows
    /// something other than the message's text for `family` (the TRON app shows a hash; the
    /// Bitcoin app before 2.2.2 and the Ethereum app before 1.9.19 show its SHA-256).
    fn message_display_hint(&self, family: ChainFamily, message: &[u8]) -> Option<String> {
        let _ = (family, message);
        None
    }
}
