//! `por-attest package`: manifest + journals → the snapshot file. Refuses while any address
//! lacks the signatures it needs (listing them) unless told to publish them unsigned; checks
//! every signature again before writing.

use crate::journal::{load_records, JournalError, MergedRecords};
use crate::manifest::{AccountSpec, AddressSpec, Manifest, TaskKey};
use por_attest_verify::account::{check_addresses, verify_account, Account, AccountAddress};
use por_attest_verify::chains::{Scheme, ScriptType};
use por_attest_verify::report::Outcome;
use por_attest_verify::schemes;
use por_attest_verify::snapshot::{
    version_for, Entry, Header, SignatureRecord, Snapshot, FORMAT_TAG,
};
use por_attest_verify::verify::{contract_wallet_owners, verify_entry, SnapshotContext};
use std::path::Path;
use thiserror::Error;

/// Why packaging refused.
#[derive(Debug, Error)]
pub enum PackageError {
    /// A journal could not be read.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// Some addresses lack signatures.
    #[error("{} address(es) lack signatures (package with --allow-unsigned to publish them unsigned):\n{}", .0.len(), .0.join("\n"))]
    Missing(Vec<String>),
    /// A journaled signature does not verify in the snapshot (a corrupt or foreign journal).
    #[error("entry {entry} ({address}) does not verify: {reason}")]
    Invalid {
        /// The entry's index in the manifest.
        entry: usize,
        /// The entry's address.
        address: String,
        /// Why it has no usable signature.
        reason: String,
    },
    /// The coins file names an address that is neither an entry's nor an account's.
    #[error("--coins: address {0} is not in the manifest (neither an entry nor an address derived for an account)")]
    UnknownCoins(String),
}

/// Options of `package`.
#[derive(Debug, Clone, Default)]
pub struct PackageOptions {
    /// Publish addresses that lack signatures (they will fail verification).
    pub allow_unsigned: bool,
    /// The snapshot's `created_at` when the manifest has none (default: now).
    pub created_at: Option<String>,
    /// Bitcoin addresses' coins at the anchor (from the custody team's node or a file, see
    /// [`read_coins_file`]), by address: an entry's, or an account's derived address's.
    pub coins: std::collections::BTreeMap<String, Vec<por_attest_verify::snapshot::Coin>>,
}

/// Reads a coins file: a JSON object from Bitcoin address to its coins at the anchor, each
/// `{ "txid", "vout", "amount_sat", "height", "block_hash", "spent"? }` as the snapshot writes
/// them (`docs/snapshot-format.md`).
pub fn read_coins_file(
    path: &Path,
) -> Result<std::collections::BTreeMap<String, Vec<por_attest_verify::snapshot::Coin>>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The result of packaging.
#[derive(Debug, Clone)]
pub struct Packaged {
    /// The snapshot.
    pub snapshot: Snapshot,
    /// Addresses published without (enough) signatures.
    pub unsigned: Vec<String>,
    /// Journal warnings.
    pub warnings: Vec<String>,
}

/// Builds the snapshot from the manifest and the journals of every device run.
pub fn package(
    manifest: &Manifest,
    journals: &[impl AsRef<Path>],
    opts: &PackageOptions,
) -> Result<Packaged, PackageError> {
    let merged = load_records(journals, &manifest.identity())?;
    let has_accounts = !manifest.accounts.is_empty();
    let header = Header {
        format: FORMAT_TAG.into(),
        version: version_for(has_accounts),
        entity: manifest.entity.clone(),
        snapshot_id: manifest.snapshot_id.clone(),
        created_at: manifest
            .created_at
            .clone()
            .or_else(|| opts.created_at.clone())
            .unwrap_or_else(crate::journal::now_rfc3339),
        anchors: manifest.anchors.clone(),
        message_template: manifest.template().as_str().to_string(),
        account_template: has_accounts.then(|| manifest.account_template().as_str().to_string()),
    };
    let ctx = SnapshotContext::new(&header);
    let mut entries = Vec::with_capacity(manifest.addresses.len());
    let mut missing = Vec::new();
    for spec in &manifest.addresses {
        let message = manifest.render_message(spec);
        let (signatures, lacking) =
            signatures_for(spec, &merged, &message).map_err(|reason| PackageError::Invalid {
                entry: spec.index,
                address: spec.address.clone(),
                reason,
            })?;
        let complete = lacking.is_none();
        if let Some(l) = lacking {
            missing.push(format!(
                "  entry {} {} {}: {l}",
                spec.index, spec.chain, spec.address
            ));
        }
        let ms = spec.multisig.as_ref();
        let entry = Entry {
            chain: spec.chain.clone(),
            network: spec.network,
            address: spec.address.clone(),
            script_type: spec.script_type,
            wallet: spec.wallet.clone(),
            balance: spec.balance.clone(),
            message,
            signatures,
            threshold: ms.map(|m| m.threshold),
            script: ms.map(|m| hex::encode(m.script.as_bytes())),
            coins: opts.coins.get(&spec.address).cloned().unwrap_or_default(),
            tokens: spec.tokens.clone(),
            contract_wallet: spec.contract_wallet.as_ref().map(|w| w.kind),
        };
        if complete {
            let outcome = verify_entry(&ctx, &entry);
            // A contract wallet's owners verified offline leave it unsupported until a node
            // says who owns it: that is its expected outcome here.
            let owners_only = !contract_wallet_owners(&entry, &outcome).is_empty();
            if let (Outcome::Failed(_) | Outcome::Unsupported(_), Some(reason), false) =
                (&outcome, outcome.reason(), owners_only)
            {
                return Err(PackageError::Invalid {
                    entry: spec.index,
                    address: spec.address.clone(),
                    reason: reason.to_string(),
                });
            }
        }
        entries.push(entry);
    }
    let mut accounts = Vec::with_capacity(manifest.accounts.len());
    for spec in &manifest.accounts {
        let (account, lacking) = match account_for(manifest, spec, &merged, &opts.coins) {
            Ok(x) => x,
            Err(why) => {
                missing.push(format!("  {}: {why}", spec.label()));
                continue;
            }
        };
        match lacking {
            Some(l) => missing.push(format!("  {}: {l}", spec.label())),
            None => {
                let keys = account.keys();
                let outcome = verify_account(&ctx, &account, &keys);
                let anchor = header.anchors.get(&account.chain).map(|a| a.height);
                let bad_address = keys.as_ref().ok().and_then(|k| {
                    check_addresses(Some(k), &account.chain, anchor, account.addresses.clone())
                        .into_iter()
                        .find(|c| {
                            c.check != por_attest_verify::account::AddressCheck::Verified
                                || c.balance_error.is_some()
                        })
                });
                let reason = match (outcome.reason(), bad_address) {
                    (Some(r), _) => Some(r.to_string()),
                    (None, Some(c)) => Some(match c.balance_error {
                        Some(e) => format!("address at {} ({}): {e}", c.path, c.address),
                        None => format!("address at {}: {:?}", c.path, c.check),
                    }),
                    (None, None) => None,
                };
                if let Some(reason) = reason {
                    return Err(PackageError::Invalid {
                        entry: spec.index,
                        address: spec.label(),
                        reason,
                    });
                }
            }
        }
        accounts.push(account);
    }
    if !missing.is_empty() && !opts.allow_unsigned {
        return Err(PackageError::Missing(missing));
    }
    let listed: std::collections::BTreeSet<&str> = entries
        .iter()
        .map(|e| e.address.as_str())
        .chain(
            accounts
                .iter()
                .flat_map(|a| a.addresses.iter().map(|x| x.address.as_str())),
        )
        .collect();
    if let Some(a) = opts.coins.keys().find(|a| !listed.contains(a.as_str())) {
        return Err(PackageError::UnknownCoins(a.clone()));
    }
    Ok(Packaged {
        snapshot: Snapshot {
            header,
            entries,
            accounts,
        },
        unsigned: missing,
        warnings: merged.warnings.clone(),
    })
}

/// An account entry from the journals: its key (the manifest's, or the one its device
/// exported), its signatures in the manifest's order and its addresses (the ranges derived),
/// with what is lacking, if anything; `Err` when not even the key is known yet.
fn account_for(
    manifest: &Manifest,
    spec: &AccountSpec,
    merged: &MergedRecords,
    coins: &std::collections::BTreeMap<String, Vec<por_attest_verify::snapshot::Coin>>,
) -> Result<(Account, Option<String>), String> {
    let record = |signer: &str, path: &bitcoin::bip32::DerivationPath| {
        merged
            .signed(&TaskKey {
                chain: spec.chain.clone(),
                address: spec.journal_name(),
                signer: signer.to_string(),
                path: crate::manifest::path_string(path),
            })
            .cloned()
    };
    let mut signatures = Vec::new();
    let mut lacking = None;
    let (key, descriptor, keys) = match &spec.multisig {
        Some(m) => {
            let keys = spec.keys(None)?;
            let message = manifest.render_account_message(spec, &keys.account_text());
            let mut not_yet = Vec::new();
            for c in &m.cosigners {
                let Some(sid) = &c.signer else { continue };
                match record(sid, &c.origin_path).filter(|r| r.is_over(&message)) {
                    Some(r) => signatures.push(SignatureRecord {
                        scheme: r.scheme.into(),
                        signature: r.signature,
                        signer: Some(sid.clone()),
                        owner: None,
                    }),
                    None => not_yet.push(sid.clone()),
                }
            }
            if (signatures.len() as u32) < m.threshold {
                lacking = Some(format!(
                    "{} of {} signatures; not yet signed by: {}",
                    signatures.len(),
                    m.threshold,
                    not_yet.join(", ")
                ));
            }
            (None, Some(m.descriptor.clone()), keys)
        }
        None => {
            let (sid, path) = spec
                .signer
                .as_ref()
                .zip(spec.path.as_ref())
                .ok_or("no signer in the manifest")?;
            let r = record(sid, path);
            // The key: the one the device exported (journaled with its signature), which must
            // be the manifest's when the manifest has one.
            let key_text = match (&r, spec.xpub) {
                (Some(r), _) => r.pubkey.clone().ok_or("the journal's record has no key")?,
                (None, Some(x)) => {
                    let fp = manifest
                        .signer(sid)
                        .and_then(|s| s.fingerprint)
                        .unwrap_or_else(crate::manifest::unknown_fingerprint);
                    spec.key_text(fp, x)
                }
                (None, None) => {
                    return Err(format!(
                        "not yet signed by {sid} at {} (its key is not known before)",
                        crate::manifest::path_string(path)
                    ))
                }
            };
            let keys = por_attest_verify::account::AccountKeys::single(
                spec.family,
                spec.script_type,
                spec.network,
                &key_text,
            )
            .map_err(|e| format!("the journaled key: {e}"))?;
            if let (por_attest_verify::account::AccountKeys::Single { key, .. }, Some(x)) =
                (&keys, spec.xpub)
            {
                if key.xpub != x {
                    return Err("the journaled key is not the manifest's".into());
                }
            }
            let message = manifest.render_account_message(spec, &keys.account_text());
            match r.filter(|r| r.is_over(&message)) {
                Some(r) => signatures.push(SignatureRecord {
                    scheme: r.scheme.into(),
                    signature: r.signature,
                    signer: None,
                    owner: None,
                }),
                None => {
                    lacking = Some(format!(
                        "not yet signed by {sid} at {}",
                        crate::manifest::path_string(path)
                    ))
                }
            }
            (Some(key_text), None, keys)
        }
    };
    let message = manifest.render_account_message(spec, &keys.account_text());
    let derived = spec
        .derive_addresses(&keys)
        .map_err(|(path, listed, derived)| {
            format!("the address at {path} is {derived}, not {listed}")
        })?;
    let addresses = spec
        .addresses
        .iter()
        .zip(derived)
        .map(|(a, address)| AccountAddress {
            path: a.path.clone(),
            coins: coins.get(&address).cloned().unwrap_or_default(),
            address,
            balance: a.balance.clone(),
        })
        .collect();
    Ok((
        Account {
            chain: spec.chain.clone(),
            network: spec.network,
            script_type: spec.script_type,
            wallet: spec.wallet.clone(),
            key,
            descriptor,
            message,
            signatures,
            addresses,
        },
        lacking,
    ))
}

/// The signatures the journals hold for one address, in the manifest's order, and what is
/// lacking, if anything; `Err` when the journaled shares of a BIP-322 multisig proof cannot
/// be finalized (a bad partial signature).
fn signatures_for(
    spec: &AddressSpec,
    merged: &MergedRecords,
    message: &str,
) -> Result<(Vec<SignatureRecord>, Option<String>), String> {
    let mut out = Vec::new();
    let record = |signer: &str, key_name: String| {
        let key = TaskKey {
            chain: spec.chain.clone(),
            address: spec.address.clone(),
            signer: signer.to_string(),
            path: key_name,
        };
        merged.signed(&key).filter(|r| r.is_over(message)).cloned()
    };
    if let Some(w) = &spec.contract_wallet {
        let mut lacking = Vec::new();
        for o in &w.owners {
            let (Some(sid), Some(path)) = (&o.signer, &o.path) else {
                continue;
            };
            match record(sid, crate::manifest::path_string(path)) {
                Some(r) => out.push(SignatureRecord {
                    scheme: r.scheme.into(),
                    signature: r.signature,
                    signer: Some(sid.clone()),
                    owner: Some(o.address.clone()),
                }),
                None => lacking.push(format!("{sid} (owner {})", o.address)),
            }
        }
        let lacking =
            (!lacking.is_empty()).then(|| format!("not yet signed by: {}", lacking.join(", ")));
        return Ok((out, lacking));
    }
    if let Some(ms) = &spec.multisig {
        let mut lacking = Vec::new();
        let mut shares = Vec::new();
        for c in &ms.cosigners {
            let (Some(sid), Some(path)) = (&c.signer, &c.full_path) else {
                continue;
            };
            match record(sid, crate::manifest::path_string(path)) {
                Some(r) if r.scheme == Scheme::Bip322Partial => {
                    let sig = hex::decode(&r.signature).map_err(|e| {
                        format!("the BIP-322 partial signature journaled by {sid} is not hex: {e}")
                    })?;
                    shares.push((sid.clone(), c.pubkey, sig));
                }
                Some(r) => out.push(SignatureRecord {
                    scheme: r.scheme.into(),
                    signature: r.signature,
                    signer: Some(sid.clone()),
                    owner: None,
                }),
                None => lacking.push(sid.clone()),
            }
        }
        let threshold = ms.threshold as usize;
        if !shares.is_empty() && (shares.len() >= threshold || out.len() < threshold) {
            // BIP-322: the cosigners' shares of one `to_sign`, finalized into one signature.
            let st = spec.script_type.unwrap_or(ScriptType::P2wsh);
            let spend = schemes::Bip322Spend::Multisig {
                script_type: st,
                script: ms.script.as_bytes(),
            };
            let partials: Vec<_> = shares.iter().map(|(_, k, s)| (*k, s.clone())).collect();
            return match schemes::finalize_bip322(&spend, message.as_bytes(), &partials) {
                Ok(proof) => {
                    let scheme = match spend.format() {
                        schemes::Bip322Format::Simple => Scheme::Bip322Simple,
                        schemes::Bip322Format::Full { .. } => Scheme::Bip322Full,
                    };
                    let record = SignatureRecord {
                        scheme: scheme.into(),
                        signature: proof,
                        signer: None,
                        owner: None,
                    };
                    Ok((vec![record], None))
                }
                Err(schemes::PartialSigError::BelowThreshold { have, need }) => {
                    let legacy: Vec<_> = out.iter().filter_map(|r| r.signer.clone()).collect();
                    let mut why = format!(
                        "{have} of {need} BIP-322 partial signatures; not yet signed by: {}",
                        lacking.join(", ")
                    );
                    if !legacy.is_empty() {
                        why.push_str(&format!(
                            " (legacy signed messages, which cannot complete a BIP-322 proof, \
                             from: {})",
                            legacy.join(", ")
                        ));
                    }
                    Ok((Vec::new(), Some(why)))
                }
                Err(e) => Err(format!("finalizing the BIP-322 signature: {e}")),
            };
        }
        let have = out.len() as u32;
        let lacking = (have < ms.threshold).then(|| {
            format!(
                "{have} of {} signatures; not yet signed by: {}",
                ms.threshold,
                lacking.join(", ")
            )
        });
        return Ok((out, lacking));
    }
    let (Some(sid), Some(key_name)) = (&spec.signer, spec.key_name()) else {
        return Ok((out, Some("no signer in the manifest".into())));
    };
    match record(sid, key_name.clone()) {
        Some(r) => {
            let signature = match (r.scheme, spec.script_type) {
                // Strict BIP-137 verifiers want the header of the address type; the header
                // is not covered by the signature, so setting it changes nothing else.
                (Scheme::Bip137, Some(st @ (ScriptType::P2wpkh | ScriptType::P2shP2wpkh))) => {
                    schemes::bip137::normalize_bip137_header(&r.signature, st)
                        .unwrap_or(r.signature)
                }
                _ => r.signature,
            };
            out.push(SignatureRecord {
                scheme: r.scheme.into(),
                signature,
                signer: None,
                owner: None,
            });
            Ok((out, None))
        }
        None => Ok((
            out,
            Some(format!(
                "not yet signed by {sid} {} {key_name}",
                if spec.key.is_some() { "with" } else { "at" }
            )),
        )),
    }
}
