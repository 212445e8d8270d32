//! Verifying an account entry: its message is the snapshot's account template rendered for
//! its key, its signature(s) recover to the account key (or to a threshold of distinct
//! cosigner keys), and each listed address is the one derived at its path. Duplicates and the
//! report are the caller's ([`AccountTally`] keeps one account's results in file order).

use super::derive::{check_address, AddressCheck, Deriver};
use super::keys::AccountKeys;
use super::{Account, AccountAddress, AccountKeyError};
use crate::balance::parse_balance;
use crate::chains::ChainFamily;
use crate::claim::Claim;
use crate::coins::check_coins;
use crate::message::MessageFields;
use crate::report::{AccountRecord, AddressFailure, Failure, FailureCode as C, Outcome, Report};
use crate::schemes::{self, SchemeError};
use crate::snapshot::{Coin, SignatureRecord};
use crate::verify::SnapshotContext;
use bigdecimal::BigDecimal;
use bitcoin::secp256k1::PublicKey;

fn fail<T>(code: C, reason: impl Into<String>) -> Result<T, Outcome> {
    Err(Outcome::Failed(Failure::new(code, reason)))
}

fn scheme_problem(i: usize, err: SchemeError) -> Outcome {
    match err {
        SchemeError::Unsupported(r) => {
            Outcome::Unsupported(format!("signature {i}: unsupported: {r}"))
        }
        other => Outcome::Failed(Failure::from(other).context(format_args!("signature {i}"))),
    }
}

/// Checks an account entry's own claims against the snapshot header: chain, anchor, key or
/// descriptor (`keys`, as [`Account::keys`] parsed them), message and signatures. Its
/// addresses are checked apart ([`check_addresses`]).
pub fn verify_account(
    ctx: &SnapshotContext,
    a: &Account,
    keys: &Result<AccountKeys, AccountKeyError>,
) -> Outcome {
    match check_account(ctx, a, keys) {
        Ok(()) => Outcome::Verified,
        Err(o) => o,
    }
}

fn check_account(
    ctx: &SnapshotContext,
    a: &Account,
    keys: &Result<AccountKeys, AccountKeyError>,
) -> Result<(), Outcome> {
    let Some(family) = ChainFamily::of(&a.chain) else {
        return fail(C::UnknownChain, format!("unknown chain `{}`", a.chain));
    };
    let Some(anchor) = ctx.anchors.get(&a.chain) else {
        return fail(
            C::NoAnchor,
            format!("no anchor for chain `{}` in the snapshot header", a.chain),
        );
    };
    let template = match &ctx.account_template {
        Some(Ok(t)) => t,
        Some(Err(err)) => {
            return fail(
                C::InvalidTemplate,
                format!("the snapshot's account template is rejected: {err}"),
            )
        }
        None => return fail(C::InvalidTemplate, "the snapshot has no `account_template`"),
    };
    let keys = match keys {
        Ok(k) => k,
        Err(e) if e.is_unsupported() => return Err(Outcome::Unsupported(e.to_string())),
        Err(e) => return fail(C::InvalidField, e.to_string()),
    };
    let account_text = keys.account_text();
    let fields = MessageFields::new(
        &ctx.entity,
        &ctx.snapshot_id,
        &a.chain,
        &account_text,
        anchor,
    );
    if !template.matches(&fields, &a.message) {
        return fail(
            C::MessageMismatch,
            format!(
            "message is not the snapshot's account template rendered for this account; expected {:?}",
            template.render(&fields)
        ));
    }
    if a.signatures.is_empty() {
        return fail(C::NoSignature, "no signatures");
    }
    let mut signed = vec![false; keys.signing_keys().len()];
    let msg = a.message.as_bytes();
    for (i, s) in a.signatures.iter().enumerate() {
        signed[signer_of(family, keys, &a.chain, msg, i, s)?] = true;
    }
    let distinct = signed.iter().filter(|s| **s).count();
    let threshold = keys.threshold();
    if distinct < threshold {
        return fail(
            C::BelowThreshold,
            format!(
                "only {distinct} distinct cosigner signature{}, threshold {threshold}",
                if distinct == 1 { "" } else { "s" }
            ),
        );
    }
    Ok(())
}

/// Which of the account's signing keys made signature `i` (`s`) over `msg`: its position among
/// [`AccountKeys::signing_keys`], or why none did (another scheme, another key).
pub fn signer_of(
    family: ChainFamily,
    keys: &AccountKeys,
    chain: &str,
    msg: &[u8],
    i: usize,
    s: &SignatureRecord,
) -> Result<usize, Outcome> {
    let expected = family.info().message_scheme;
    let signing_keys = keys.signing_keys();
    if s.scheme.known().is_none() {
        return fail(
            C::UnknownScheme,
            format!("signature {i}: unknown scheme `{}`", s.scheme),
        );
    }
    if s.scheme != expected {
        return fail(
            C::SchemeNotApplicable,
            format!(
            "signature {i}: scheme {} does not apply to a {chain} account (expected {expected}: the account key signs the account message)",
            s.scheme
        ));
    }
    match family {
        ChainFamily::Bitcoin => {
            let (key, _) = schemes::bip137::recover_bip137(msg, &s.signature)
                .map_err(|e| scheme_problem(i, e))?;
            signing_keys
                .iter()
                .position(|k| *k == key)
                .ok_or_else(|| not_the_key(i, &key.serialize(), keys, &signing_keys))
        }
        ChainFamily::Evm | ChainFamily::Tron => {
            let sig =
                schemes::evm::decode_sig_hex(&s.signature).map_err(|e| scheme_problem(i, e))?;
            let digest = if family == ChainFamily::Evm {
                schemes::evm::eip191_hash(msg)
            } else {
                schemes::tron::tron_message_hash(msg, schemes::tron::TronVersion::V2)
            };
            let account = schemes::evm::recover_evm_prehash(&digest, &sig)
                .map_err(|e| scheme_problem(i, e))?;
            signing_keys
                .iter()
                .position(|k| schemes::evm::evm_address_of(k) == account)
                .ok_or_else(|| {
                    Outcome::Failed(Failure::new(
                        C::WrongKey,
                        format!(
                            "signature {i} is from the address {}, not the account key's",
                            if family == ChainFamily::Evm {
                                schemes::evm::to_checksum_address(&account)
                            } else {
                                schemes::tron::format_tron_address(&account)
                            }
                        ),
                    ))
                })
        }
    }
}

fn not_the_key(i: usize, got: &[u8], keys: &AccountKeys, signing: &[PublicKey]) -> Outcome {
    let got = hex::encode(got);
    Outcome::Failed(Failure::new(C::WrongKey, match keys {
        AccountKeys::Single { .. } => format!(
            "signature {i} recovers to the key {got}, not the account key {}",
            signing[0]
        ),
        AccountKeys::Multisig { .. } => format!(
            "signature {i} recovers to the key {got}, which is not one of the descriptor's cosigner keys"
        ),
    }))
}

/// One listed address checked, with what duplicate detection needs.
#[derive(Debug, Clone)]
pub struct CheckedAddress {
    /// The relative path as listed.
    pub path: String,
    /// The address as listed.
    pub address: String,
    /// The outcome.
    pub check: AddressCheck,
    /// The duplicate-detection key of (chain, address).
    pub key: u128,
    /// The stated balance, when there is one and it is well-formed.
    pub balance: Option<BigDecimal>,
    /// Why the stated balance (or the coins that make it) is refused (the address then
    /// fails, `invalid_balance`).
    pub balance_error: Option<String>,
    /// Bitcoin: the coins listed at the anchor.
    pub coins: Vec<Coin>,
}

/// Checks consecutive addresses of one account (on a worker thread), anchored at
/// `anchor_height` (their coins must be created at or below it). Without usable keys the
/// account fails as a whole ([`verify_account`] says why), so no address is derived.
pub fn check_addresses(
    keys: Option<&AccountKeys>,
    chain: &str,
    anchor_height: Option<u64>,
    items: Vec<AccountAddress>,
) -> Vec<CheckedAddress> {
    let mut deriver = keys.map(Deriver::new);
    let decimals = ChainFamily::of(chain).map(|f| f.info().decimals);
    items
        .into_iter()
        .map(|a| {
            let mut balance_error = None;
            let check = match &mut deriver {
                Some(d) => check_address(d, &a),
                None => AddressCheck::Failed("the account's key is not usable".into()),
            };
            let balance = match a
                .balance
                .as_deref()
                .map(|b| parse_balance(b, chain, decimals))
            {
                Some(Ok(v)) => Some(v),
                Some(Err(e)) => {
                    if check == AddressCheck::Verified {
                        balance_error = Some(format!("field `balance`: {e}"));
                    }
                    None
                }
                None => None,
            };
            if !a.coins.is_empty() && check == AddressCheck::Verified && balance_error.is_none() {
                // Without an anchor the account fails as a whole; its height bounds nothing.
                let anchor = anchor_height.unwrap_or(u64::MAX);
                balance_error = check_coins(&a.coins, chain, a.balance.as_deref(), anchor).err();
            }
            CheckedAddress {
                key: crate::verify::address_key(chain, &a.address),
                path: a.path,
                address: a.address,
                check,
                balance,
                balance_error,
                coins: a.coins,
            }
        })
        .collect()
}

/// One account's results as they arrive in file order: its own outcome, then its addresses
/// (after duplicate detection), then its end, when it goes into the report.
pub struct AccountTally {
    record: AccountRecord,
    failures: Vec<AddressFailure>,
    fails_account: Option<String>,
    /// Stated balances: all of them (duplicates left out), those on addresses that verified.
    balances: (u64, BigDecimal, BigDecimal),
    /// When collecting claims: the anchor height, and one claim per address.
    claims: Option<(Option<u64>, Vec<Claim>)>,
}

impl AccountTally {
    /// Starts account `index` with its own outcome.
    pub fn new(index: u64, a: &Account, outcome: Outcome) -> AccountTally {
        AccountTally {
            record: AccountRecord {
                index,
                chain: a.chain.clone(),
                key: a.key_text().to_string(),
                addresses: 0,
                outcome,
            },
            failures: Vec::new(),
            fails_account: None,
            balances: (0, BigDecimal::default(), BigDecimal::default()),
            claims: None,
        }
    }

    /// Collects a claim per address (for a node), at the chain's anchor `height`.
    pub fn collect_claims(&mut self, height: Option<u64>) {
        self.claims = Some((height, Vec::new()));
    }

    /// The account's chain.
    pub fn chain(&self) -> &str {
        &self.record.chain
    }

    /// The account's index.
    pub fn index(&self) -> u64 {
        self.record.index
    }

    /// Adds the next address; `duplicate_of` says where the same address was listed before.
    pub fn add(&mut self, mut c: CheckedAddress, duplicate_of: Option<String>) {
        self.record.addresses += 1;
        let ok = duplicate_of.is_none()
            && c.check == AddressCheck::Verified
            && c.balance_error.is_none();
        if let (Some(b), None) = (&c.balance, &duplicate_of) {
            self.balances.0 += 1;
            self.balances.1 += b;
            if ok {
                self.balances.2 += b;
            }
        }
        if let Some((height, claims)) = &mut self.claims {
            claims.push(Claim {
                entry: None,
                line: None,
                account: Some(self.record.index),
                path: Some(c.path.clone()),
                chain: self.record.chain.clone(),
                node_chain: self.record.chain.clone(),
                asset: self.record.chain.clone(),
                token: None,
                address: c.address.clone(),
                balance: c.balance.clone(),
                rounding: None,
                height: *height,
                status: if ok { "verified" } else { "failed" },
                owners: Vec::new(),
                coins: std::mem::take(&mut c.coins),
            });
        }
        let failure = match (duplicate_of, c.check) {
            (_, AddressCheck::FailsAccount(r)) => {
                self.fails_account.get_or_insert(r);
                return;
            }
            (None, AddressCheck::Verified) => match c.balance_error {
                Some(r) => Failure::new(C::InvalidBalance, r),
                None => return,
            },
            (None, AddressCheck::Failed(r)) => Failure::new(C::DerivedAddressMismatch, r),
            (Some(first), AddressCheck::Verified) => Failure::new(
                C::DuplicateAddress,
                format!(
                    "duplicate address: {first} already lists {} on {}",
                    c.address, self.record.chain
                ),
            ),
            (Some(first), AddressCheck::Failed(r)) => Failure::new(
                C::DerivedAddressMismatch,
                format!("{r}; and a duplicate address: {first} already lists it"),
            ),
        };
        self.failures.push(AddressFailure {
            path: c.path,
            address: c.address,
            failure,
        });
    }

    /// Records the account in the report.
    pub fn finish(mut self, report: &mut Report) {
        if self.record.outcome == Outcome::Verified {
            if let Some(r) = self.fails_account.take() {
                self.record.outcome = Outcome::Failed(Failure::new(C::InvalidPath, r));
            } else if self.record.addresses == 0 {
                self.record.outcome = Outcome::Failed(Failure::new(
                    C::NoAddresses,
                    "the account lists no addresses",
                ));
            }
        }
        let verified = self.record.outcome == Outcome::Verified;
        let (n, all, ok) = &self.balances;
        let none = BigDecimal::default();
        let chain = self.record.chain.clone();
        report.add_balances(&chain, &chain, *n, all, if verified { ok } else { &none });
        if let Some((_, mut claims)) = self.claims.take() {
            if !verified {
                let status = match self.record.outcome {
                    Outcome::Unsupported(_) => "unsupported",
                    _ => "failed",
                };
                claims.iter_mut().for_each(|c| c.status = status);
            }
            report.claims.extend(claims);
        }
        report.record_account(&self.record, self.failures);
    }
}
