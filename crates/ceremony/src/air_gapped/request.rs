//! Which request file a task gets, and what a file-based signer cannot sign:
//!
//! * a BIP-322 `to_sign` PSBT (`NAME.psbt`) for P2WPKH, P2SH-P2WPKH and P2TR addresses and for
//!   a multisig cosigner's share: the PSBT the Ledger path builds
//!   ([`crate::bip322_psbt::bip322_psbt`]), plus what the Ledger adds itself from its own key
//!   and a file signer must be given: the single key's BIP-32 derivation (TAP_BIP32 and the
//!   internal key for P2TR) and, for P2SH-P2WPKH, the redeem script;
//! * Coldcard's text-file message signing (`NAME.txt`) for P2PKH addresses and account
//!   messages, both legacy signed messages as on a Ledger.
//!
//! A `psbt` signer has no message signing: its P2PKH addresses and account messages are
//! unsupported, as is every non-Bitcoin address on either kind.

use super::coldcard::{message_refusal, text_format, text_request};
use super::keys::KeySet;
use super::FileKind;
use crate::bip322_psbt::bip322_psbt;
use crate::manifest::{path_string, AccountTask, Manifest, SigningTask};
use crate::pkcs11::address_of;
use bitcoin::bip32::{Fingerprint, Xpub};
use bitcoin::{Address, CompressedPublicKey, Psbt, ScriptBuf};
use por_attest_verify::chains::{ChainFamily, ScriptType};
use por_attest_verify::schemes::secp;

/// What a request file holds.
#[derive(Debug, Clone, PartialEq)]
pub enum RequestBody {
    /// A BIP-322 `to_sign` PSBT (written binary, as Coldcard prefers).
    Psbt(Box<Psbt>),
    /// Coldcard's text-file request: message, path, address format.
    Text(String),
}

/// One request: its base name (`NAME`) and content.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The base name; the file is `NAME.psbt` or `NAME.txt`, answers `NAME-signed.*`.
    pub name: String,
    /// The content.
    pub body: RequestBody,
}

impl Request {
    /// The request's file name.
    pub fn file_name(&self) -> String {
        match self.body {
            RequestBody::Psbt(_) => format!("{}.psbt", self.name),
            RequestBody::Text(_) => format!("{}.txt", self.name),
        }
    }

    /// The file's bytes.
    pub fn bytes(&self) -> Vec<u8> {
        match &self.body {
            RequestBody::Psbt(p) => p.serialize(),
            RequestBody::Text(t) => t.clone().into_bytes(),
        }
    }
}

/// What the ceremony does with a task on a file-based signer.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// Write this request (unless the journal holds the task).
    Request(Request),
    /// The signer cannot sign the task through files: why.
    Unsupported(String),
    /// The request needs a public key the key export does not hold: which.
    NeedsKey(String),
}

/// A signer id as a file-name part: letters, digits, `-` and `_` kept, anything else `_`.
pub fn file_part(id: &str) -> String {
    id.chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' => c,
            _ => '_',
        })
        .collect()
}

/// The base name of an address task's request: `SIGNER-eNNNN` (the entry's 0-based index),
/// `-kN` for the N-th cosigner of a multisig address.
pub fn address_request_name(task: &SigningTask<'_>) -> String {
    let mut name = format!("{}-e{:04}", file_part(&task.signer.id), task.spec.index);
    if let Some(ms) = &task.spec.multisig {
        let pos = ms.cosigners.iter().position(|c| {
            c.signer.as_deref() == Some(task.signer.id.as_str())
                && c.full_path.as_ref() == Some(task.path)
        });
        if let Some(p) = pos {
            name.push_str(&format!("-k{}", p + 1));
        }
    }
    name
}

/// The base name of an account task's request: `SIGNER-aNNN`, `-kN` for a wallet's N-th
/// cosigner.
pub fn account_request_name(task: &AccountTask<'_>) -> String {
    let mut name = format!("{}-a{:03}", file_part(&task.signer.id), task.account.index);
    if let Some(c) = task.cosigner {
        name.push_str(&format!("-k{}", c + 1));
    }
    name
}

fn bitcoin_only(kind: FileKind, chain: &str) -> Plan {
    Plan::Unsupported(format!(
        "a {} signer signs Bitcoin only, not {chain}",
        kind.name()
    ))
}

/// The plan for an address task of a file-based signer of `kind`; `Err` when the key export
/// contradicts the manifest (another address at the task's path: wrong path, signer or
/// export), which stops the run before anything is written.
pub fn address_plan(
    manifest: &Manifest,
    task: &SigningTask<'_>,
    kind: FileKind,
    keys: &KeySet,
) -> Result<Plan, String> {
    let spec = task.spec;
    if spec.family != ChainFamily::Bitcoin {
        return Ok(bitcoin_only(kind, &spec.chain));
    }
    let Some(st) = spec.script_type else {
        return Ok(Plan::Unsupported("no script type".into()));
    };
    let message = manifest.render_message(spec);
    let name = address_request_name(task);
    if st == ScriptType::P2pkh && task.expected_pubkey.is_none() {
        if kind == FileKind::Psbt {
            return Ok(Plan::Unsupported(
                "a P2PKH address is proven by a legacy signed message, which a psbt signer cannot make through files (use a coldcard or ledger signer)".into(),
            ));
        }
        if let Some(why) = message_refusal(&message, false) {
            return Ok(Plan::Unsupported(why));
        }
        return Ok(Plan::Request(Request {
            name,
            body: RequestBody::Text(text_request(&message, task.path, text_format(Some(st)))),
        }));
    }
    if kind == FileKind::Coldcard {
        if let Some(why) = message_refusal(&message, true) {
            return Ok(Plan::Unsupported(why));
        }
    }
    let address: Address = match spec.address.parse::<Address<_>>() {
        Ok(a) => a.assume_checked(),
        Err(e) => {
            return Ok(Plan::Unsupported(format!(
                "the address does not parse: {e}"
            )))
        }
    };
    let mut psbt = bip322_psbt(manifest, spec, &address.script_pubkey(), message.as_bytes());
    if task.expected_pubkey.is_none() {
        // A single key: the device finds its key by the derivation we give it.
        let Some(fp) = task.signer.fingerprint else {
            return Ok(Plan::Unsupported("the signer has no fingerprint".into()));
        };
        let Some(pk) = keys.pubkey_at(fp, task.path) else {
            return Ok(Plan::NeedsKey(format!(
                "[{fp}/{}]",
                path_string(task.path).trim_start_matches("m/")
            )));
        };
        let derived = if st == ScriptType::P2tr {
            let (internal, _) = pk.x_only_public_key();
            Some(Address::p2tr(secp(), internal, None, spec.network.bitcoin()).to_string())
        } else {
            address_of(&pk, ChainFamily::Bitcoin, Some(st), spec.network)
        };
        if derived.as_deref() != Some(spec.address.as_str()) {
            return Err(format!(
                "entry {} ({} {}): the exported key of signer `{}` at {} gives {}, not the manifest's address; nothing was written (check the path, the signer and the key export)",
                spec.index,
                spec.chain,
                spec.address,
                task.signer.id,
                path_string(task.path),
                derived.unwrap_or_else(|| "no such address".into())
            ));
        }
        let input = &mut psbt.inputs[0];
        match st {
            ScriptType::P2tr => {
                let (internal, _) = pk.x_only_public_key();
                input.tap_internal_key = Some(internal);
                input
                    .tap_key_origins
                    .insert(internal, (vec![], (fp, task.path.clone())));
            }
            ScriptType::P2shP2wpkh => {
                let ck = CompressedPublicKey(pk);
                input.redeem_script = Some(ScriptBuf::new_p2wpkh(&ck.wpubkey_hash()));
                input.bip32_derivation.insert(pk, (fp, task.path.clone()));
            }
            _ => {
                input.bip32_derivation.insert(pk, (fp, task.path.clone()));
            }
        }
    }
    Ok(Plan::Request(Request {
        name,
        body: RequestBody::Psbt(Box::new(psbt)),
    }))
}

/// The account key a file signer signs an account message with: the manifest's (the
/// account's xpub, or the wallet cosigner's) or else the key export's; `Err` when both are
/// given and differ.
pub fn account_xpub(
    task: &AccountTask<'_>,
    keys: &KeySet,
) -> Result<Option<(Fingerprint, Xpub)>, String> {
    let a = task.account;
    let fp = task
        .signer
        .fingerprint
        .unwrap_or_else(crate::manifest::unknown_fingerprint);
    let manifest_key = match (task.cosigner, &a.multisig) {
        (Some(i), Some(m)) => Some(m.cosigners[i].xpub),
        _ => a.xpub,
    };
    let exported = keys.xpub_at(fp, task.path);
    match (manifest_key, exported) {
        (Some(m), Some(e)) if m.public_key != e.public_key || m.chain_code != e.chain_code => {
            Err(format!(
                "{}: the key export of signer `{}` has {e} at {}, the manifest {m}; nothing was written (wrong device, seed or export)",
                a.label(),
                task.signer.id,
                path_string(task.path)
            ))
        }
        (Some(k), _) | (None, Some(k)) => Ok(Some((fp, k))),
        (None, None) => Ok(None),
    }
}

/// The plan for an account task (see [`address_plan`]).
pub fn account_plan(
    manifest: &Manifest,
    task: &AccountTask<'_>,
    kind: FileKind,
    keys: &KeySet,
) -> Result<Plan, String> {
    let a = task.account;
    if a.family != ChainFamily::Bitcoin {
        return Ok(bitcoin_only(kind, &a.chain));
    }
    if kind == FileKind::Psbt {
        return Ok(Plan::Unsupported(
            "an account is proven by a legacy signed message of its key, which a psbt signer cannot make through files (use a coldcard or ledger signer)".into(),
        ));
    }
    let Some((fp, xpub)) = account_xpub(task, keys)? else {
        return Ok(Plan::NeedsKey(format!(
            "[{}/{}]",
            task.signer.fingerprint.unwrap_or_default(),
            path_string(task.path).trim_start_matches("m/")
        )));
    };
    let account_keys = a
        .keys(Some((fp, xpub)))
        .map_err(|e| format!("{}: {e}", a.label()))?;
    // Every claimed address from the key, before anything is written (as on a Ledger).
    a.derive_addresses(&account_keys)
        .map_err(|(path, listed, derived)| {
            format!(
                "{}: at {path} the manifest lists {listed}, the account key gives {derived}; nothing was written",
                a.label()
            )
        })?;
    let message = manifest.render_account_message(a, &account_keys.account_text());
    if let Some(why) = message_refusal(&message, false) {
        return Ok(Plan::Unsupported(format!(
            "{why} (the account message; a template with {{height}} instead of {{anchor}} is shorter)"
        )));
    }
    let format = match (&a.multisig, a.script_type) {
        (None, st) => text_format(st),
        (Some(_), _) => "p2pkh",
    };
    Ok(Plan::Request(Request {
        name: account_request_name(task),
        body: RequestBody::Text(text_request(&message, task.path, format)),
    }))
}
