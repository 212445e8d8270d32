//! The rules one entry must meet, with no I/O: its chain and anchor, the message rendered
//! from the snapshot's template, the address, and the signatures in the family's schemes.

use crate::balance::parse_balance;
use crate::chains::{ChainFamily, Scheme, ScriptType};
use crate::message::{MessageFields, Template};
use crate::report::{Failure, FailureCode as C, FileFailure, Outcome};
use crate::schemes;
use crate::snapshot::{Anchor, Entry, Header, TokenHolding};
use bitcoin::address::NetworkUnchecked;
use bitcoin::{Address, AddressType};
use std::collections::BTreeMap;

/// What every entry and account is checked against: the snapshot header.
pub struct SnapshotContext {
    pub(crate) entity: String,
    pub(crate) snapshot_id: String,
    pub(crate) anchors: BTreeMap<String, Anchor>,
    template: Result<Template, String>,
    /// Version 2: the account template, or why it is rejected.
    pub(crate) account_template: Option<Result<Template, String>>,
}

impl SnapshotContext {
    /// The context of a header.
    pub fn new(h: &Header) -> SnapshotContext {
        SnapshotContext {
            entity: h.entity.clone(),
            snapshot_id: h.snapshot_id.clone(),
            anchors: h.anchors.clone(),
            template: Template::parse(&h.message_template).map_err(|e| e.to_string()),
            account_template: h
                .account_template
                .as_ref()
                .map(|t| Template::parse_account(t).map_err(|e| e.to_string())),
        }
    }

    /// The snapshot's message template, or why it is rejected.
    pub fn template(&self) -> Result<&Template, &str> {
        self.template.as_ref().map_err(String::as_str)
    }

    /// Problems of the header itself (its templates), for the report's file failures.
    pub fn header_failures(&self) -> Vec<FileFailure> {
        let mut out = Vec::new();
        let bad = |what: String| FileFailure::new(C::InvalidTemplate, what);
        if let Err(e) = &self.template {
            out.push(bad(format!("field `message_template`: {e}")));
        }
        if let Some(Err(e)) = &self.account_template {
            out.push(bad(format!("field `account_template`: {e}")));
        }
        out
    }
}

/// The well-formed stated balance of an entry, if any (a malformed one fails the entry in
/// [`verify_entry`] and adds to no total).
pub fn entry_balance(e: &Entry) -> Option<bigdecimal::BigDecimal> {
    let decimals = ChainFamily::of(&e.chain)?.info().decimals;
    parse_balance(e.balance.as_deref()?, &e.chain, Some(decimals)).ok()
}

/// The largest `decimals` a token may state (a uint256 holds 78 digits).
const MAX_TOKEN_DECIMALS: u32 = 77;

/// An entry's well-formed token balances (a malformed one fails the entry in
/// [`verify_entry`] and adds to no total), in file order.
pub fn entry_tokens(e: &Entry) -> Vec<(&TokenHolding, bigdecimal::BigDecimal)> {
    e.tokens
        .iter()
        .filter_map(|t| {
            (t.decimals <= MAX_TOKEN_DECIMALS)
                .then(|| parse_balance(&t.balance, &t.asset, Some(t.decimals)).ok())
                .flatten()
                .map(|b| (t, b))
        })
        .collect()
}

/// What is wrong with one token holding on `chain`, offline, as (field, why): a label that is
/// not the native asset, a contract address, decimals a uint256 can carry, a balance within
/// them. The manifest checks its tokens with the same rules.
pub fn token_problem(chain: &str, t: &TokenHolding) -> Option<(&'static str, String)> {
    let label = t.asset.trim();
    if label.is_empty() || !label.bytes().all(|b| b.is_ascii_graphic()) {
        return Some(("asset", format!("{:?} is not a token label", t.asset)));
    }
    if label.eq_ignore_ascii_case(chain) {
        return Some((
            "asset",
            format!("{label} is the chain's native asset, stated in `balance`"),
        ));
    }
    if let Err(err) = schemes::evm::parse_evm_address(&t.contract) {
        return Some(("contract", err.to_string()));
    }
    if t.decimals > MAX_TOKEN_DECIMALS {
        return Some((
            "decimals",
            format!(
                "{} is more than a uint256 carries ({MAX_TOKEN_DECIMALS})",
                t.decimals
            ),
        ));
    }
    if let Err(err) = parse_balance(&t.balance, label, Some(t.decimals)) {
        return Some(("balance", err.to_string()));
    }
    None
}

/// Which of `tokens` repeats an earlier one's asset or contract, as (index, field, why).
pub fn repeated_token(tokens: &[TokenHolding]) -> Option<(usize, &'static str, String)> {
    let mut assets = std::collections::BTreeSet::new();
    let mut contracts = std::collections::BTreeSet::new();
    for (i, t) in tokens.iter().enumerate() {
        if !assets.insert(t.asset.trim().to_ascii_uppercase()) {
            return Some((i, "asset", format!("{} is listed twice", t.asset.trim())));
        }
        if !contracts.insert(t.contract.to_ascii_lowercase()) {
            return Some((i, "contract", format!("{} is listed twice", t.contract)));
        }
    }
    None
}

/// An EVM entry's token holdings, offline ([`token_problem`], [`repeated_token`]).
fn check_tokens(e: &Entry, family: ChainFamily) -> Result<(), String> {
    if family != ChainFamily::Evm {
        return Err(format!(
            "field `tokens`: token balances are checked on EVM chains only, not {}",
            e.chain
        ));
    }
    let found = e
        .tokens
        .iter()
        .enumerate()
        .find_map(|(i, t)| token_problem(&e.chain, t).map(|(f, why)| (i, f, why)))
        .or_else(|| repeated_token(&e.tokens));
    match found {
        Some((i, field, why)) => Err(format!("field `tokens` [{i}] `{field}`: {why}")),
        None => Ok(()),
    }
}

/// The owners whose signatures verified for a contract-wallet entry left unsupported for want
/// of on-chain state (what a node is asked about); empty otherwise.
pub fn contract_wallet_owners(e: &Entry, outcome: &Outcome) -> Vec<String> {
    if e.contract_wallet.is_none() || !matches!(outcome, Outcome::Unsupported(_)) {
        return Vec::new();
    }
    e.signatures
        .iter()
        .filter_map(|s| s.owner.clone())
        .collect()
}

/// A contract wallet's owner signatures: each names its owner and is that owner's; what they
/// prove is left to the chain (who the contract's owners are, and its threshold).
fn check_contract_wallet(e: &Entry, family: ChainFamily, msg: &[u8]) -> Result<(), Problem> {
    let Some(kind) = e.contract_wallet else {
        return Ok(());
    };
    let info = family.info();
    let Some(verify_message) = info.verify_message.filter(|_| family == ChainFamily::Evm) else {
        return fail(
            C::InvalidField,
            format!(
                "field `contract_wallet` applies to EVM chains only, not {}",
                e.chain
            ),
        );
    };
    if let Err(err) = schemes::evm::parse_evm_address(&e.address) {
        return Err(Problem::Failed(Failure::from(err)));
    }
    let mut owners = std::collections::BTreeSet::new();
    for (i, s) in e.signatures.iter().enumerate() {
        let Some(owner) = &s.owner else {
            return fail(
                C::InvalidField,
                format!("signature {i}: field `owner` is missing (a contract wallet's signatures are its owners')"),
            );
        };
        if s.scheme != info.message_scheme {
            return fail(
                C::SchemeNotApplicable,
                format!(
                    "signature {i}: scheme {} does not apply to {} (expected {})",
                    s.scheme, e.chain, info.message_scheme
                ),
            );
        }
        if !owners.insert(owner.to_ascii_lowercase()) {
            return fail(
                C::DuplicateAddress,
                format!("signature {i}: owner {owner} signed twice"),
            );
        }
        verify_message(owner, msg, &s.signature).map_err(|err| match err {
            schemes::SchemeError::Unsupported(_) => scheme_problem(i, err),
            other => Problem::Failed(
                Failure::from(other).context(format_args!("signature {i} (owner {owner})")),
            ),
        })?;
    }
    let n = owners.len();
    let list: Vec<&str> = e
        .signatures
        .iter()
        .filter_map(|s| s.owner.as_deref())
        .collect();
    Err(Problem::Unsupported(format!(
        "{kind:?} contract wallet: owner signature{} valid for {}, but that {} control{} {} is \
         on-chain state (its owners and threshold at the anchor), not checked offline",
        if n == 1 { "" } else { "s" },
        list.join(", "),
        if n == 1 { "it" } else { "they" },
        if n == 1 { "s" } else { "" },
        e.address
    )))
}

/// Whether a (Bitcoin) entry's only proof is legacy signed messages on an address that is not
/// P2PKH: what the report lists as legacy (BIP-322 allows the legacy format for P2PKH only).
pub fn is_legacy_proof(e: &Entry) -> bool {
    e.script_type.is_some_and(|st| st != ScriptType::P2pkh)
        && !e.signatures.is_empty()
        && e.signatures.iter().all(|s| s.scheme == Scheme::Bip137)
}

/// Checks one entry against the snapshot header: address, network, message, signatures.
pub fn verify_entry(ctx: &SnapshotContext, e: &Entry) -> Outcome {
    match check_entry(ctx, e) {
        Ok(()) => Outcome::Verified,
        Err(Problem::Failed(r)) => Outcome::Failed(r),
        Err(Problem::Unsupported(r)) => Outcome::Unsupported(r),
    }
}

enum Problem {
    Failed(Failure),
    Unsupported(String),
}

/// A scheme error on signature `i`: unsupported stays unsupported, anything else failed.
fn scheme_problem(i: usize, err: schemes::SchemeError) -> Problem {
    match err {
        schemes::SchemeError::Unsupported(r) => {
            Problem::Unsupported(format!("signature {i}: unsupported: {r}"))
        }
        other => Problem::Failed(Failure::from(other).context(format_args!("signature {i}"))),
    }
}

fn fail<T>(code: C, reason: impl Into<String>) -> Result<T, Problem> {
    Err(Problem::Failed(Failure::new(code, reason)))
}

fn check_entry(ctx: &SnapshotContext, e: &Entry) -> Result<(), Problem> {
    let Some(family) = ChainFamily::of(&e.chain) else {
        return fail(C::UnknownChain, format!("unknown chain `{}`", e.chain));
    };
    let Some(anchor) = ctx.anchors.get(&e.chain) else {
        return fail(
            C::NoAnchor,
            format!("no anchor for chain `{}` in the snapshot header", e.chain),
        );
    };
    if let Some(b) = &e.balance {
        if let Err(err) = parse_balance(b, &e.chain, Some(family.info().decimals)) {
            return fail(C::InvalidBalance, format!("field `balance`: {err}"));
        }
    }
    if !e.coins.is_empty() {
        crate::coins::check_coins(&e.coins, &e.chain, e.balance.as_deref(), anchor.height)
            .map_err(|r| Problem::Failed(Failure::new(C::InvalidBalance, r)))?;
    }
    if !e.tokens.is_empty() {
        check_tokens(e, family).map_err(|r| Problem::Failed(Failure::new(C::InvalidBalance, r)))?;
    }
    if e.contract_wallet.is_none() {
        if let Some(i) = e.signatures.iter().position(|s| s.owner.is_some()) {
            return fail(
                C::InvalidField,
                format!("signature {i}: field `owner` applies to contract wallets only"),
            );
        }
    }
    let template = match &ctx.template {
        Ok(t) => t,
        Err(err) => {
            return fail(
                C::InvalidTemplate,
                format!("the snapshot's message template is rejected: {err}"),
            )
        }
    };
    let fields = MessageFields::new(&ctx.entity, &ctx.snapshot_id, &e.chain, &e.address, anchor);
    if !template.matches(&fields, &e.message) {
        return fail(
            C::MessageMismatch,
            format!(
                "message is not the snapshot's template rendered for this entry; expected {:?}",
                template.render(&fields)
            ),
        );
    }
    if e.signatures.is_empty() {
        return fail(C::NoSignature, "no signatures");
    }
    if let Some((i, s)) = e
        .signatures
        .iter()
        .enumerate()
        .find(|(_, s)| s.scheme.known().is_none())
    {
        return fail(
            C::UnknownScheme,
            format!("signature {i}: unknown scheme `{}`", s.scheme),
        );
    }
    let msg = e.message.as_bytes();
    check_contract_wallet(e, family, msg)?;
    let info = family.info();
    let Some(verify_message) = info.verify_message else {
        return check_bitcoin(e, msg);
    };
    // An account-model family: one key per address, the family's message scheme.
    if e.script_type.is_some() || e.script.is_some() || e.threshold.is_some() {
        return fail(
            C::InvalidField,
            format!(
                "field `script_type`/`script`/`threshold` applies only to Bitcoin, not {}",
                e.chain
            ),
        );
    }
    let expected = info.message_scheme;
    for (i, s) in e.signatures.iter().enumerate() {
        if s.scheme != expected {
            return fail(
                C::SchemeNotApplicable,
                format!(
                    "signature {i}: scheme {} does not apply to {} (expected {expected})",
                    s.scheme, e.chain
                ),
            );
        }
        verify_message(&e.address, msg, &s.signature).map_err(|err| scheme_problem(i, err))?;
    }
    Ok(())
}

/// The script types an address of this kind can be.
fn script_type_fits(kind: Option<AddressType>, st: ScriptType) -> bool {
    matches!(
        (kind, st),
        (Some(AddressType::P2pkh), ScriptType::P2pkh)
            | (
                Some(AddressType::P2sh),
                ScriptType::P2shP2wpkh | ScriptType::P2sh | ScriptType::P2shP2wsh
            )
            | (Some(AddressType::P2wpkh), ScriptType::P2wpkh)
            | (Some(AddressType::P2wsh), ScriptType::P2wsh)
            | (Some(AddressType::P2tr), ScriptType::P2tr)
    )
}

fn check_bitcoin(e: &Entry, msg: &[u8]) -> Result<(), Problem> {
    let unchecked: Address<NetworkUnchecked> = match e.address.parse() {
        Ok(a) => a,
        Err(err) => return fail(C::InvalidAddress, format!("address does not parse: {err}")),
    };
    let net = e.network;
    let address = match unchecked.require_network(net.bitcoin()) {
        Ok(a) => a,
        Err(_) => {
            return fail(
                C::NetworkMismatch,
                format!("network mismatch: {} is not a {net} address", e.address),
            )
        }
    };
    let Some(st) = e.script_type else {
        return fail(
            C::InvalidField,
            "field `script_type` is missing for a Bitcoin address",
        );
    };
    let kind = address.address_type();
    if !script_type_fits(kind, st) {
        return fail(
            C::ScriptTypeMismatch,
            format!(
                "field `script_type` says {st} but the address is {}",
                kind.map(|k| k.to_string())
                    .unwrap_or_else(|| "of another kind".into())
            ),
        );
    }
    let bip322 = e
        .signatures
        .iter()
        .filter(|s| {
            matches!(
                s.scheme.known(),
                Some(Scheme::Bip322Simple | Scheme::Bip322Full)
            )
        })
        .count();
    for (i, s) in e.signatures.iter().enumerate() {
        if s.scheme == Scheme::Bip322Partial {
            return fail(
                C::SchemeNotApplicable,
                format!(
                    "signature {i}: a bip322-partial signature is one cosigner's share of a \
                     BIP-322 proof, not a proof: `package` finalizes the shares into one signature"
                ),
            );
        }
        if !matches!(
            s.scheme.known(),
            Some(Scheme::Bip137 | Scheme::Bip322Simple | Scheme::Bip322Full)
        ) {
            return fail(
                C::SchemeNotApplicable,
                format!(
                    "signature {i}: scheme {} does not apply to a Bitcoin address",
                    s.scheme
                ),
            );
        }
    }
    if st.is_multisig() {
        let script = multisig_script(e)?;
        if bip322 > 0 {
            script_in_full(&script)?;
            if bip322 != e.signatures.len() {
                return fail(
                    C::SchemeNotApplicable,
                    "a multisig entry must not mix BIP-322 and legacy signatures",
                );
            }
            // The entry's script must still be the address's script.
            schemes::multisig::check_script_hash(&address, st, &script)
                .map_err(|err| Problem::Failed(Failure::from(err).context("field `script`")))?;
            return check_bip322_all(e, &address, msg);
        }
        let sigs: Vec<&str> = e.signatures.iter().map(|s| s.signature.as_str()).collect();
        schemes::multisig::verify_multisig(&address, st, &script, msg, &sigs).map_err(|err| {
            match script_in_full(&script) {
                Err(p) => p,
                Ok(_) => Problem::Failed(Failure::from(err)),
            }
        })?;
        return Ok(());
    }
    if e.script.is_some() || e.threshold.is_some() {
        return fail(
            C::InvalidField,
            format!("field `script`/`threshold` applies only to multisig, not {st}"),
        );
    }
    if bip322 > 0 {
        if bip322 != e.signatures.len() {
            // Legacy signatures may sit beside BIP-322 ones; each must hold on its own.
            for (i, s) in e.signatures.iter().enumerate() {
                if s.scheme == Scheme::Bip137 {
                    check_bip137(st, &address, msg, i, &s.signature)?;
                }
            }
        }
        return check_bip322_all(e, &address, msg);
    }
    for (i, s) in e.signatures.iter().enumerate() {
        check_bip137(st, &address, msg, i, &s.signature)?;
    }
    Ok(())
}

fn check_bip137(
    st: ScriptType,
    address: &Address,
    msg: &[u8],
    i: usize,
    sig: &str,
) -> Result<(), Problem> {
    if st == ScriptType::P2tr {
        return fail(
            C::SchemeNotApplicable,
            format!(
                "signature {i}: a legacy signed message cannot prove a P2TR address (use BIP-322)"
            ),
        );
    }
    schemes::bip137::verify_bip137(address, msg, sig)
        .map(|_| ())
        .map_err(|err| scheme_problem(i, err))
}

fn check_bip322_all(e: &Entry, address: &Address, msg: &[u8]) -> Result<(), Problem> {
    for (i, s) in e.signatures.iter().enumerate() {
        let full = match s.scheme.known() {
            Some(Scheme::Bip322Simple) => false,
            Some(Scheme::Bip322Full) => true,
            _ => continue,
        };
        let kind = schemes::bip322::verify_bip322(address, msg, &s.signature)
            .map_err(|err| scheme_problem(i, err))?;
        let is_full = matches!(kind, schemes::bip322::Bip322Kind::Full { .. });
        let is_simple = matches!(kind, schemes::bip322::Bip322Kind::Simple);
        if (full && !is_full) || (!full && !is_simple) {
            return fail(
                C::SchemeNotApplicable,
                format!(
                    "signature {i}: scheme says {} but the signature is {kind:?}",
                    s.scheme
                ),
            );
        }
    }
    Ok(())
}

fn multisig_script(e: &Entry) -> Result<Vec<u8>, Problem> {
    let Some(hex_script) = &e.script else {
        return fail(
            C::InvalidField,
            "field `script` is missing for a multisig address",
        );
    };
    let script = hex::decode(hex_script).map_err(|err| {
        Problem::Failed(Failure::new(
            C::InvalidScript,
            format!("field `script` is not hex: {err}"),
        ))
    })?;
    let Some(threshold) = e.threshold else {
        return fail(
            C::InvalidField,
            "field `threshold` is missing for a multisig address",
        );
    };
    // The shape gives the threshold without decompressing the keys (verify_multisig checks
    // them); on any doubt the full parse says what is wrong, as it always did.
    let m = match schemes::multisig::threshold_of_shape(&script) {
        Some(m) => m,
        None => script_in_full(&script)?,
    };
    if m != threshold as usize {
        script_in_full(&script)?;
        return fail(
            C::InvalidField,
            format!("field `threshold` says {threshold} but the script requires {m}"),
        );
    }
    Ok(script)
}

/// The threshold of a multisig script, every key checked; the error as a `script` problem.
fn script_in_full(script: &[u8]) -> Result<usize, Problem> {
    schemes::multisig::threshold_of(script)
        .map_err(|err| Problem::Failed(Failure::from(err).context("field `script`")))
}
