//! One account on one device: the device exports the account key (or its cosigner key), the
//! host derives every claimed address from it and compares (no prompt), the device shows a
//! few of them (first, last, random ones) for a person to compare, then signs the account
//! message once with the account key; the signature is checked before it is journaled.

use super::{CeremonyError, Step};
use crate::journal::SignedRecord;
use crate::manifest::{unknown_fingerprint, AccountTask, Manifest};
use crate::signer::{AccountAddressRef, Signer, SigningKey};
use por_attest_verify::account::signer_of;
use por_attest_verify::chains::ChainFamily;
use por_attest_verify::message::MAX_DISPLAYED_MESSAGE;
use por_attest_verify::snapshot::SignatureRecord;
use std::hash::{BuildHasher, Hasher};

/// The positions (0-based, ascending) of the addresses the device shows: the first, the last,
/// and random others, `show` in all (every address when there are no more).
pub fn shown_positions(n: usize, show: usize) -> Vec<usize> {
    if show >= n {
        return (0..n).collect();
    }
    let mut picks: Vec<usize> = Vec::with_capacity(show);
    for p in [0, n - 1] {
        if picks.len() < show && !picks.contains(&p) {
            picks.push(p);
        }
    }
    let random = std::collections::hash_map::RandomState::new();
    let mut counter = 0u64;
    while picks.len() < show {
        let mut h = random.build_hasher();
        h.write_u64(counter);
        counter += 1;
        let p = (h.finish() % n as u64) as usize;
        if !picks.contains(&p) {
            picks.push(p);
        }
    }
    picks.sort_unstable();
    picks
}

fn stop(e: CeremonyError) -> Step {
    Step::Stop(e)
}

/// Signs one account task (see the module documentation).
pub(super) fn sign_account(
    manifest: &Manifest,
    task: &AccountTask<'_>,
    device: &mut dyn Signer,
    show: usize,
    bar: &indicatif::ProgressBar,
) -> Result<SignedRecord, Step> {
    let a = task.account;
    let label = a.label();
    let xpub = device.extended_pubkey(a.family, task.path, false)?;
    let expected = match (task.cosigner, &a.multisig) {
        (Some(i), Some(m)) => Some(m.cosigners[i].xpub),
        _ => a.xpub,
    };
    if let Some(e) = expected {
        if e.public_key != xpub.public_key || e.chain_code != xpub.chain_code {
            return Err(stop(CeremonyError::AccountKeyMismatch {
                account: label,
                path: crate::manifest::path_string(task.path),
                expected: e.to_string(),
                device: xpub.to_string(),
            }));
        }
    }
    let fingerprint = task.signer.fingerprint.unwrap_or_else(unknown_fingerprint);
    let keys = a
        .keys(Some((fingerprint, xpub)))
        .map_err(|e| stop(CeremonyError::Refused(format!("{label}: {e}"))))?;
    // Every claimed address, derived on the host from the device's key.
    let addresses = a
        .derive_addresses(&keys)
        .map_err(|(path, listed, derived)| {
            stop(CeremonyError::AccountAddressMismatch {
                account: label.clone(),
                path,
                listed,
                derived,
            })
        })?;
    // The message is known now: refuse before any prompt what the device would sign wrongly.
    let message = manifest.render_account_message(a, &keys.account_text());
    if a.family == ChainFamily::Bitcoin && message.len() > MAX_DISPLAYED_MESSAGE {
        return Err(stop(CeremonyError::Refused(format!(
            "{label}: the account message is {} bytes; the Bitcoin app shows at most {MAX_DISPLAYED_MESSAGE} as text (shorten the entity, the snapshot id or the account template)",
            message.len()
        ))));
    }
    if let Some(why) = device.cannot_sign_message(a.family, task.path, message.as_bytes())? {
        return Err(stop(CeremonyError::Refused(format!(
            "{label}: {why} (shorten the entity, the snapshot id or the manifest's \
             `account_template`, e.g. leave out {{anchor}} or use {{height}}, or update the app)"
        ))));
    }
    if let Some(hint) = device.message_display_hint(a.family, message.as_bytes()) {
        bar.set_message(format!("{label} ({hint})"));
    }
    let same = |x: &str, y: &str| match a.family.info().case_insensitive_addresses {
        true => x.eq_ignore_ascii_case(y),
        false => x == y,
    };
    for i in shown_positions(addresses.len(), show) {
        let shown = device.show_account_address(&AccountAddressRef {
            family: a.family,
            script_type: a.script_type,
            account_path: task.path,
            multisig: a.multisig.as_ref(),
            relative: a.addresses[i].relative.steps(),
        })?;
        if let Some(d) = shown {
            if !same(&d, &addresses[i]) {
                return Err(stop(CeremonyError::AccountAddressMismatch {
                    account: label,
                    path: a.addresses[i].path.clone(),
                    listed: addresses[i].clone(),
                    derived: format!("{d} (shown by the device)"),
                }));
            }
        }
    }
    let key = SigningKey {
        family: a.family,
        script_type: a.script_type,
        path: task.path,
        key: None,
    };
    let signature = device.sign_message(&key, message.as_bytes())?;
    let scheme = a.family.info().message_scheme;
    let record = SignatureRecord {
        scheme: scheme.into(),
        signature: signature.clone(),
        signer: None,
        owner: None,
    };
    let want = task.cosigner.unwrap_or(0);
    match signer_of(a.family, &keys, &a.chain, message.as_bytes(), 0, &record) {
        Ok(p) if p == want => {}
        Ok(_) => {
            return Err(stop(CeremonyError::AccountBadSignature {
                account: label,
                reason: "it recovers to another cosigner's key".into(),
            }))
        }
        Err(e) => {
            let reason = e.reason().unwrap_or_default().to_string();
            return Err(stop(CeremonyError::AccountBadSignature {
                account: label,
                reason,
            }));
        }
    }
    let pubkey = match task.cosigner {
        None => a.key_text(fingerprint, xpub),
        Some(_) => xpub.to_string(),
    };
    Ok(SignedRecord::new(
        &task.key(),
        scheme,
        signature,
        Some(pubkey),
        &message,
    ))
}

#[cfg(test)]
mod tests {
    use super::shown_positions;

    #[test]
    fn shown_addresses_are_the_first_the_last_and_random_ones() {
        assert_eq!(shown_positions(5, 9), vec![0, 1, 2, 3, 4]);
        assert_eq!(shown_positions(1, 3), vec![0]);
        assert_eq!(shown_positions(100, 0), Vec::<usize>::new());
        assert_eq!(shown_positions(100, 1), vec![0]);
        assert_eq!(shown_positions(100, 2), vec![0, 99]);
        for _ in 0..50 {
            let p = shown_positions(1000, 5);
            assert_eq!(p.len(), 5);
            assert_eq!((p[0], p[4]), (0, 999));
            assert!(p.windows(2).all(|w| w[0] < w[1]), "{p:?}");
        }
    }
}
