//! Reading and validating a manifest: the TOML (and its CSV), every address rebuilt and checked
//! for its network, script type, path and cosigners before the ceremony may start.

use super::raw::{self, RawAddress, RawManifest};
use super::*;
use bitcoin::address::{AddressType, NetworkUnchecked};
use bitcoin::bip32::{ChildNumber, DerivationPath, Fingerprint, Xpub};
use bitcoin::secp256k1::Secp256k1;
use bitcoin::{Address, NetworkKind, PublicKey, ScriptBuf};
use por_attest_verify::chains::{ChainFamily, Network, ScriptType};
use por_attest_verify::error::InputError;
use por_attest_verify::message::{Template, DEFAULT_ACCOUNT_TEMPLATE, DEFAULT_TEMPLATE};
use por_attest_verify::verify::{repeated_token, token_problem};
use std::collections::HashMap;
use std::fmt;
use std::path::Path;

pub(super) fn script_keys(keys: impl Iterator<Item = PublicKey>, sorted: bool) -> Vec<PublicKey> {
    let mut keys: Vec<PublicKey> = keys.collect();
    if sorted {
        keys.sort_by_key(|k| k.to_bytes());
    }
    keys
}

/// `OP_m <keys> OP_n OP_CHECKMULTISIG` (the verifier's builder), or why these keys make none.
pub(super) fn multisig_script(
    threshold: u32,
    keys: &[PublicKey],
) -> Result<ScriptBuf, por_attest_verify::schemes::SchemeError> {
    por_attest_verify::schemes::multisig_script(threshold as usize, keys).map(ScriptBuf::from_bytes)
}

/// What two listings of the same address have in common: the chain and the address in its
/// canonical form (Bitcoin re-encoded, EVM lower case).
pub(super) fn address_key(chain: &str, family: ChainFamily, address: &str) -> (String, String) {
    let norm = match family {
        ChainFamily::Bitcoin => address
            .parse::<Address<NetworkUnchecked>>()
            .map(|a| a.assume_checked().to_string())
            .unwrap_or_else(|_| address.to_string()),
        f if f.info().case_insensitive_addresses => address.to_ascii_lowercase(),
        _ => address.to_string(),
    };
    (chain.to_ascii_uppercase(), norm)
}

pub(super) fn is_printable_line(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| (' '..='~').contains(&c))
}

pub(super) fn is_decimal(s: &str) -> bool {
    let all_digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    match s.split_once('.') {
        Some((int, frac)) => all_digits(int) && all_digits(frac),
        None => all_digits(s),
    }
}

/// Names an entry in errors.
pub(super) struct Ctx<'a> {
    pub(super) file: &'a Path,
    pub(super) label: String,
}

impl Ctx<'_> {
    pub(super) fn err(&self, field: &str, msg: impl fmt::Display) -> InputError {
        InputError::new(self.file, format!("{}: field `{field}`: {msg}", self.label))
    }
}

impl Manifest {
    /// Reads and validates a manifest file (and the CSV it points to, relative to it).
    pub fn load(path: impl AsRef<Path>) -> Result<Manifest, InputError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| InputError::new(path, format!("cannot read the manifest: {e}")))?;
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        Manifest::from_str(&text, path, base)
    }

    /// Parses and validates manifest text; `file` names it in errors and `base_dir` resolves
    /// `addresses_csv`.
    pub fn from_str(
        text: &str,
        file: impl AsRef<Path>,
        base_dir: impl AsRef<Path>,
    ) -> Result<Manifest, InputError> {
        let file = file.as_ref();
        let raw: RawManifest = toml::from_str(text)
            .map_err(|e| InputError::new(file, e.to_string().trim_end().to_string()))?;
        let top =
            |field: &str, msg: String| InputError::new(file, format!("field `{field}`: {msg}"));
        if !is_printable_line(&raw.entity) {
            return Err(top(
                "entity",
                "must be non-empty printable ASCII on one line (it is part of every message)"
                    .into(),
            ));
        }
        if !is_printable_line(&raw.snapshot_id) {
            return Err(top(
                "snapshot_id",
                "must be non-empty printable ASCII on one line (it is part of every message)"
                    .into(),
            ));
        }
        let template = Template::parse(raw.message_template.as_deref().unwrap_or(DEFAULT_TEMPLATE))
            .map_err(|e| top("message_template", e.to_string()))?;
        let account_template = Template::parse_account(
            raw.account_template
                .as_deref()
                .unwrap_or(DEFAULT_ACCOUNT_TEMPLATE),
        )
        .map_err(|e| top("account_template", e.to_string()))?;
        if let Some(c) = &raw.created_at {
            if !is_rfc3339(c) {
                return Err(top(
                    "created_at",
                    format!("`{c}` is not an RFC 3339 time such as 2026-11-30T00:00:00Z"),
                ));
            }
        }
        for (chain, a) in &raw.anchors {
            let f = format!("anchors.{chain}");
            if ChainFamily::of(chain).is_none() {
                return Err(top(&f, format!("unknown chain `{chain}`")));
            }
            if !is_printable_line(&a.block_hash) || a.block_hash.contains(' ') {
                return Err(top(
                    &format!("{f}.block_hash"),
                    "must be non-empty printable ASCII without spaces".into(),
                ));
            }
        }
        let mut signers: Vec<Signer> = Vec::with_capacity(raw.signers.len());
        for (i, s) in raw.signers.iter().enumerate() {
            let f = |name: &str| format!("signers[{i}].{name}");
            if !is_printable_line(&s.id) || s.id.contains([' ', ':', ';']) {
                return Err(top(
                    &f("id"),
                    format!(
                        "`{}` must be non-empty printable ASCII without spaces, `:` or `;`",
                        s.id
                    ),
                ));
            }
            if signers.iter().any(|o| o.id == s.id) {
                return Err(top(&f("id"), format!("signer id `{}` appears twice", s.id)));
            }
            let fingerprint = match &s.fingerprint {
                None => None,
                Some(fp) => {
                    if fp.len() != 8 || !fp.bytes().all(|b| b.is_ascii_hexdigit()) {
                        return Err(top(
                            &f("fingerprint"),
                            format!("`{fp}` must be 8 hex digits (the BIP-32 master fingerprint)"),
                        ));
                    }
                    Some(
                        fp.parse::<Fingerprint>()
                            .map_err(|e| top(&f("fingerprint"), e.to_string()))?,
                    )
                }
            };
            if s.kind == SignerKind::Simulator && !raw.test {
                return Err(top(
                    &f("kind"),
                    format!(
                        "signer `{}` is a simulator, but the manifest does not say `test = true`; a real ceremony never uses a simulator",
                        s.id
                    ),
                ));
            }
            let pkcs11 =
                hsm::signer_config(s, base_dir.as_ref(), |field, msg| top(&f(field), msg))?;
            let hwi = hwi::signer_config(s, base_dir.as_ref(), |field, msg| top(&f(field), msg))?;
            let service =
                service::signer_config(s, base_dir.as_ref(), |field, msg| top(&f(field), msg))?;
            signers.push(Signer {
                id: s.id.clone(),
                kind: s.kind,
                fingerprint,
                pkcs11,
                hwi,
                service,
            });
        }
        let mut m = Manifest {
            file: file.to_path_buf(),
            entity: raw.entity.clone(),
            snapshot_id: raw.snapshot_id.clone(),
            test: raw.test,
            template,
            created_at: raw.created_at.clone(),
            anchors: raw.anchors.clone(),
            signers,
            addresses: Vec::new(),
            account_template,
            accounts: Vec::new(),
        };
        let mut seen: HashMap<(String, String), usize> = HashMap::new();
        for (i, a) in raw.addresses.iter().enumerate() {
            let label = format!(
                "entry {} ([[addresses]] #{}{})",
                i + 1,
                i + 1,
                a.address
                    .as_deref()
                    .map(|s| format!(", `{s}`"))
                    .unwrap_or_default()
            );
            let ctx = Ctx { file, label };
            let spec = m.build_address(a, m.addresses.len(), Origin::Inline, &ctx)?;
            m.push_unique(spec, &mut seen, &ctx)?;
        }
        if let Some(csv_name) = &raw.addresses_csv {
            let csv_path = base_dir.as_ref().join(csv_name);
            let text = std::fs::read_to_string(&csv_path).map_err(|e| {
                top(
                    "addresses_csv",
                    format!("cannot read `{}`: {e}", csv_path.display()),
                )
            })?;
            for row in raw::read_csv(&text, &csv_path)? {
                let n = m.addresses.len() + 1;
                let label = format!(
                    "line {} (entry {n}{})",
                    row.line,
                    row.raw
                        .address
                        .as_deref()
                        .map(|s| format!(", `{s}`"))
                        .unwrap_or_default()
                );
                let ctx = Ctx {
                    file: &csv_path,
                    label,
                };
                let origin = Origin::Csv {
                    file: csv_path.clone(),
                    line: row.line,
                };
                let spec = m.build_address(&row.raw, n - 1, origin, &ctx)?;
                m.push_unique(spec, &mut seen, &ctx)?;
            }
        }
        let mut in_accounts: HashMap<(String, String), String> = HashMap::new();
        for (i, a) in raw.accounts.iter().enumerate() {
            let ctx = Ctx {
                file,
                label: format!("account {i} ([[accounts]] #{})", i + 1),
            };
            let spec = m.build_account(a, i, base_dir.as_ref(), &ctx)?;
            for x in &spec.addresses {
                let Some(address) = &x.address else { continue };
                let key = address_key(&spec.chain, spec.family, address);
                let here = format!("{} at {}", spec.label(), x.path);
                if let Some(first) = seen.get(&key) {
                    return Err(ctx.err(
                        "addresses",
                        format!(
                            "{} address `{address}` at {} is also entry {}",
                            spec.chain,
                            x.path,
                            first + 1
                        ),
                    ));
                }
                if let Some(first) = in_accounts.insert(key, here) {
                    return Err(ctx.err(
                        "addresses",
                        format!(
                            "{} address `{address}` at {} is also listed by {first}",
                            spec.chain, x.path
                        ),
                    ));
                }
            }
            m.accounts.push(spec);
        }
        Ok(m)
    }

    fn push_unique(
        &mut self,
        spec: AddressSpec,
        seen: &mut HashMap<(String, String), usize>,
        ctx: &Ctx<'_>,
    ) -> Result<(), InputError> {
        let key = address_key(&spec.chain, spec.family, &spec.address);
        if let Some(first) = seen.get(&key) {
            return Err(ctx.err(
                "address",
                format!(
                    "{} address `{}` is listed twice (also entry {})",
                    spec.chain,
                    spec.address,
                    first + 1
                ),
            ));
        }
        seen.insert(key, spec.index);
        self.addresses.push(spec);
        Ok(())
    }

    pub(super) fn signer_ref(
        &self,
        ctx: &Ctx<'_>,
        field: &str,
        id: &str,
        bitcoin: bool,
    ) -> Result<(), InputError> {
        let Some(s) = self.signer(id) else {
            let known: Vec<&str> = self.signers.iter().map(|s| s.id.as_str()).collect();
            return Err(ctx.err(
                field,
                format!("unknown signer `{id}` (signers: {})", known.join(", ")),
            ));
        };
        // Single-key addresses of an HSM are checked apart; nothing else may name one.
        if s.kind.keys_by_name() {
            return Err(hsm::hsm_not_single_key(ctx, field, s));
        }
        if s.kind == SignerKind::Hwi && !bitcoin {
            return Err(ctx.err(field, hwi::hwi_not_bitcoin(id)));
        }
        if bitcoin && s.fingerprint.is_none() {
            return Err(ctx.err(
                field,
                format!(
                    "signer `{id}` holds a Bitcoin key, so its `fingerprint` (expected master fingerprint) is required"
                ),
            ));
        }
        Ok(())
    }

    fn build_address(
        &self,
        a: &RawAddress,
        index: usize,
        origin: Origin,
        ctx: &Ctx<'_>,
    ) -> Result<AddressSpec, InputError> {
        let chain = a
            .chain
            .clone()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| ctx.err("chain", "required"))?;
        let family = ChainFamily::of(&chain)
            .ok_or_else(|| ctx.err("chain", format!("unknown chain `{chain}`")))?;
        if !self.anchors.contains_key(&chain) {
            let known: Vec<&str> = self.anchors.keys().map(String::as_str).collect();
            return Err(ctx.err(
                "chain",
                format!(
                    "chain `{chain}` has no anchor; add [anchors.{chain}] (anchors: {})",
                    known.join(", ")
                ),
            ));
        }
        let address = a
            .address
            .clone()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ctx.err("address", "required"))?;
        if !is_printable_line(&address) || address.contains(' ') {
            return Err(ctx.err("address", "must be printable ASCII without spaces"));
        }
        let network = a.network.unwrap_or(Network::Mainnet);
        if let Some(b) = &a.balance {
            if !is_decimal(b) {
                return Err(ctx.err(
                    "balance",
                    format!("`{b}` is not a decimal number such as 12.5"),
                ));
            }
        }
        if let Some(w) = &a.wallet {
            if !is_printable_line(w) {
                return Err(ctx.err("wallet", "must be non-empty printable ASCII on one line"));
            }
        }
        let allow_nonstandard_path = a.allow_nonstandard_path.unwrap_or(false);
        let mut spec = AddressSpec {
            index,
            chain,
            family,
            network,
            address,
            script_type: a.script_type,
            path: None,
            signer: None,
            key: None,
            wallet: a.wallet.clone(),
            balance: a.balance.clone(),
            allow_nonstandard_path,
            multisig: None,
            tokens: self.tokens(a, family, ctx)?,
            contract_wallet: None,
            origin,
        };
        if a.owners.is_some() && a.contract_wallet.is_none() {
            return Err(ctx.err(
                "owners",
                "only for a contract wallet (contract_wallet = \"safe\")",
            ));
        }
        let is_multisig = a.script_type.is_some_and(ScriptType::is_multisig);
        if !is_multisig {
            for (field, present) in [
                ("threshold", a.threshold.is_some()),
                ("sorted", a.sorted.is_some()),
                ("child", a.child.is_some()),
                ("cosigners", a.cosigners.is_some()),
            ] {
                if present {
                    return Err(ctx.err(
                        field,
                        "only for multisig addresses (script_type p2sh, p2wsh or p2sh-p2wsh)",
                    ));
                }
            }
        }
        match family {
            ChainFamily::Bitcoin => {
                let st = a.script_type.ok_or_else(|| {
                    ctx.err(
                        "script_type",
                        "required for Bitcoin (p2pkh, p2sh-p2wpkh, p2wpkh, p2tr, p2sh, p2wsh, p2sh-p2wsh)",
                    )
                })?;
                let parsed = spec
                    .address
                    .parse::<Address<NetworkUnchecked>>()
                    .map_err(|e| ctx.err("address", format!("not a Bitcoin address: {e}")))?;
                let parsed = parsed.require_network(network.bitcoin()).map_err(|_| {
                    ctx.err(
                        "address",
                        format!(
                            "`{}` is not a {network} address (field `network`)",
                            spec.address
                        ),
                    )
                })?;
                let want = match st {
                    ScriptType::P2pkh => AddressType::P2pkh,
                    ScriptType::P2shP2wpkh | ScriptType::P2sh | ScriptType::P2shP2wsh => {
                        AddressType::P2sh
                    }
                    ScriptType::P2wpkh => AddressType::P2wpkh,
                    ScriptType::P2tr => AddressType::P2tr,
                    ScriptType::P2wsh => AddressType::P2wsh,
                };
                let got = parsed.address_type();
                if got != Some(want) {
                    return Err(ctx.err(
                        "script_type",
                        format!(
                            "script type {st} does not match the address, which is {}",
                            got.map(|t| t.to_string())
                                .unwrap_or_else(|| "of another kind".into())
                        ),
                    ));
                }
                if is_multisig {
                    for (field, present) in
                        [("path", a.path.is_some()), ("signer", a.signer.is_some())]
                    {
                        if present {
                            return Err(ctx.err(
                                field,
                                "a multisig address gives a path and signer on each cosigner instead",
                            ));
                        }
                    }
                    spec.multisig = Some(self.build_multisig(a, st, network, &parsed, ctx)?);
                } else if let Some(path) = self.single_key(a, &mut spec, true, ctx)? {
                    if !allow_nonstandard_path {
                        check_bitcoin_path(&path, st, network).map_err(|m| ctx.err("path", m))?;
                    }
                }
            }
            _ => {
                if let Some(st) = a.script_type {
                    return Err(ctx.err(
                        "script_type",
                        format!("`{st}` is for Bitcoin addresses only"),
                    ));
                }
                let info = family.info();
                if let Some(parse) = info.parse_address {
                    parse(&spec.address).map_err(|m| ctx.err("address", m.to_string()))?;
                }
                if let Some(kind) = a.contract_wallet {
                    spec.contract_wallet = Some(self.contract_wallet(a, kind, family, ctx)?);
                    return Ok(spec);
                }
                let Some(path) = self.single_key(a, &mut spec, false, ctx)? else {
                    return Ok(spec);
                };
                check_account_path(family, &path, allow_nonstandard_path)
                    .map_err(|m| ctx.err("path", m))?;
            }
        }
        Ok(spec)
    }

    /// The token balances of an address (EVM only), checked as the verifier checks them.
    fn tokens(
        &self,
        a: &RawAddress,
        family: ChainFamily,
        ctx: &Ctx<'_>,
    ) -> Result<Vec<TokenHolding>, InputError> {
        let Some(tokens) = &a.tokens else {
            return Ok(Vec::new());
        };
        if family != ChainFamily::Evm {
            return Err(ctx.err("tokens", "token balances are for EVM chains only"));
        }
        let chain = a.chain.as_deref().unwrap_or_default();
        let found = tokens
            .iter()
            .enumerate()
            .find_map(|(i, t)| token_problem(chain, t).map(|(f, why)| (i, f, why)))
            .or_else(|| repeated_token(tokens));
        match found {
            Some((i, field, why)) => Err(ctx.err(&format!("tokens[{i}].{field}"), why)),
            None => Ok(tokens.clone()),
        }
    }

    /// A contract wallet's owners: each an EVM address with (when its key is in this
    /// ceremony) a signer and a standard path; no single key of its own.
    fn contract_wallet(
        &self,
        a: &RawAddress,
        kind: ContractWallet,
        family: ChainFamily,
        ctx: &Ctx<'_>,
    ) -> Result<ContractWalletSpec, InputError> {
        if family != ChainFamily::Evm {
            return Err(ctx.err(
                "contract_wallet",
                "contract wallets are for EVM chains only",
            ));
        }
        for (field, present) in [
            ("path", a.path.is_some()),
            ("signer", a.signer.is_some()),
            ("key", a.key.is_some()),
        ] {
            if present {
                return Err(ctx.err(
                    field,
                    "a contract wallet has no key of its own: its owners sign (field `owners`)",
                ));
            }
        }
        let raw = a.owners.as_deref().unwrap_or_default();
        if raw.is_empty() {
            return Err(ctx.err("owners", "a contract wallet needs at least one owner"));
        }
        let parse = family.info().parse_address.expect("EVM parses addresses");
        let mut owners: Vec<WalletOwner> = Vec::new();
        for (i, o) in raw.iter().enumerate() {
            let field = |f: &str| format!("owners[{i}].{f}");
            let address = o
                .address
                .clone()
                .ok_or_else(|| ctx.err(&field("address"), "required"))?;
            parse(&address).map_err(|m| ctx.err(&field("address"), m.to_string()))?;
            if owners
                .iter()
                .any(|w| w.address.eq_ignore_ascii_case(&address))
            {
                return Err(ctx.err(&field("address"), format!("{address} is listed twice")));
            }
            let path = match (&o.signer, &o.path) {
                (None, None) => None,
                (Some(sid), Some(p)) => {
                    self.signer_ref(ctx, &field("signer"), sid, false)?;
                    let path = parse_path(p).map_err(|m| ctx.err(&field("path"), m.to_string()))?;
                    check_account_path(family, &path, a.allow_nonstandard_path.unwrap_or(false))
                        .map_err(|m| ctx.err(&field("path"), m))?;
                    Some(path)
                }
                (Some(_), None) => return Err(ctx.err(&field("path"), "required with a signer")),
                (None, Some(_)) => return Err(ctx.err(&field("signer"), "required with a path")),
            };
            owners.push(WalletOwner {
                address,
                signer: o.signer.clone(),
                path,
            });
        }
        if owners.iter().all(|o| o.signer.is_none()) {
            return Err(ctx.err(
                "owners",
                "no owner's key is in this ceremony (give one a signer and path)",
            ));
        }
        Ok(ContractWalletSpec { kind, owners })
    }

    /// Checks `path` and `signer` of a single-key entry and stores them in `spec`; for a key
    /// on a pkcs11 signer, checks and stores its `key` instead (and returns no path).
    fn single_key(
        &self,
        a: &RawAddress,
        spec: &mut AddressSpec,
        bitcoin: bool,
        ctx: &Ctx<'_>,
    ) -> Result<Option<DerivationPath>, InputError> {
        let hsm_signer = a
            .signer
            .as_deref()
            .and_then(|id| self.signer(id))
            .filter(|s| s.kind.keys_by_name());
        if let Some(signer) = hsm_signer {
            hsm::hsm_address(a, spec, signer, ctx)?;
            return Ok(None);
        }
        if a.key.is_some() {
            return Err(hsm::key_without_hsm(ctx));
        }
        let p = a
            .path
            .as_deref()
            .ok_or_else(|| ctx.err("path", "required"))?;
        let path = parse_path(p).map_err(|m| ctx.err("path", m.to_string()))?;
        if path.is_empty() {
            return Err(ctx.err("path", "the master key itself (m) cannot be a reserve key"));
        }
        let signer = a
            .signer
            .as_deref()
            .ok_or_else(|| ctx.err("signer", "required"))?;
        self.signer_ref(ctx, "signer", signer, bitcoin)?;
        spec.path = Some(path.clone());
        spec.signer = Some(signer.to_string());
        Ok(Some(path))
    }

    fn build_multisig(
        &self,
        a: &RawAddress,
        st: ScriptType,
        network: Network,
        address: &Address,
        ctx: &Ctx<'_>,
    ) -> Result<MultisigSpec, InputError> {
        let raw_cosigners = a
            .cosigners
            .as_deref()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| ctx.err("cosigners", "required for a multisig address"))?;
        let n = raw_cosigners.len();
        let max = if st == ScriptType::P2sh { 15 } else { 20 };
        if n > max {
            return Err(ctx.err(
                "cosigners",
                format!("{n} keys; a {st} multisig holds at most {max}"),
            ));
        }
        let threshold = a
            .threshold
            .ok_or_else(|| ctx.err("threshold", "required for a multisig address"))?;
        if threshold == 0 || threshold as usize > n {
            return Err(ctx.err(
                "threshold",
                format!("{threshold} is not between 1 and the number of cosigners ({n})"),
            ));
        }
        let sorted = a.sorted.unwrap_or(true);
        let needs_child = raw_cosigners.iter().any(|c| c.xpub.is_some());
        let child = match &a.child {
            None if needs_child => return Err(ctx.err(
                "child",
                "required when a cosigner gives an xpub (the unhardened steps below it, e.g. 0/5)",
            )),
            None => None,
            Some(_) if !needs_child => {
                return Err(ctx.err("child", "no cosigner gives an xpub, so `child` has no use"))
            }
            Some(c) => {
                let p = parse_path(c).map_err(|m| ctx.err("child", m.to_string()))?;
                if p.is_empty() || p.into_iter().any(|s| s.is_hardened()) {
                    return Err(ctx.err(
                        "child",
                        format!("`{c}` must be one or more unhardened steps such as 0/5"),
                    ));
                }
                Some(p)
            }
        };
        let secp = Secp256k1::verification_only();
        let segwit = st != ScriptType::P2sh;
        let mut cosigners = Vec::with_capacity(n);
        for (j, c) in raw_cosigners.iter().enumerate() {
            let f = |name: &str| format!("cosigners[{j}].{name}");
            if let Some(s) = &c.signer {
                self.signer_ref(ctx, &f("signer"), s, true)?;
            }
            let cos = match (&c.xpub, &c.pubkey) {
                (Some(_), Some(_)) | (None, None) => {
                    return Err(ctx.err(&f("xpub"), "give exactly one of `xpub` and `pubkey`"))
                }
                (Some(x), None) => {
                    let xpub: Xpub = x.parse().map_err(|e| {
                        ctx.err(&f("xpub"), format!("not an extended public key: {e}"))
                    })?;
                    let want = NetworkKind::from(network.bitcoin());
                    if xpub.network != want {
                        return Err(ctx.err(
                            &f("xpub"),
                            format!(
                                "a {} key on a {network} address",
                                if xpub.network.is_mainnet() {
                                    "mainnet (xpub)"
                                } else {
                                    "test-network (tpub)"
                                }
                            ),
                        ));
                    }
                    let op = c.path.as_deref().ok_or_else(|| {
                        ctx.err(
                            &f("path"),
                            "required: the xpub's origin path, e.g. m/48'/0'/0'/2'",
                        )
                    })?;
                    let origin = parse_path(op).map_err(|m| ctx.err(&f("path"), m.to_string()))?;
                    let steps: &[ChildNumber] = origin.as_ref();
                    if usize::from(xpub.depth) != steps.len()
                        || steps.last().is_some_and(|last| *last != xpub.child_number)
                    {
                        return Err(ctx.err(
                            &f("path"),
                            format!(
                                "origin path {} does not fit the xpub (depth {}, child {})",
                                path_string(&origin),
                                xpub.depth,
                                xpub.child_number
                            ),
                        ));
                    }
                    let child = child.as_ref().expect("child is required with an xpub");
                    let derived = xpub
                        .derive_pub(&secp, child)
                        .map_err(|e| ctx.err(&f("xpub"), format!("cannot derive {child}: {e}")))?;
                    Cosigner {
                        signer: c.signer.clone(),
                        full_path: Some(origin.extend(child)),
                        origin_path: Some(origin),
                        xpub: Some(xpub),
                        pubkey: PublicKey::new(derived.public_key),
                    }
                }
                (None, Some(pk)) => {
                    let pubkey: PublicKey = pk
                        .parse()
                        .map_err(|e| ctx.err(&f("pubkey"), format!("not a public key: {e}")))?;
                    let full_path = match &c.path {
                        Some(p) => {
                            Some(parse_path(p).map_err(|m| ctx.err(&f("path"), m.to_string()))?)
                        }
                        None if c.signer.is_some() => {
                            return Err(ctx.err(
                                &f("path"),
                                "required: the key's full derivation path on its signer",
                            ))
                        }
                        None => None,
                    };
                    Cosigner {
                        signer: c.signer.clone(),
                        origin_path: None,
                        xpub: None,
                        pubkey,
                        full_path,
                    }
                }
            };
            if segwit && !cos.pubkey.compressed {
                return Err(ctx.err(&f("pubkey"), format!("{st} requires compressed keys")));
            }
            if let Some(k) = cosigners
                .iter()
                .position(|o: &Cosigner| o.pubkey == cos.pubkey)
            {
                return Err(ctx.err(
                    &f("pubkey"),
                    format!("the same key as cosigners[{k}] ({})", cos.pubkey),
                ));
            }
            cosigners.push(cos);
        }
        let held = cosigners.iter().filter(|c| c.signer.is_some()).count();
        if held < threshold as usize {
            return Err(ctx.err(
                "cosigners",
                format!(
                    "only {held} of the {n} cosigners name a signer of this ceremony; threshold {threshold} cannot be met"
                ),
            ));
        }
        let keys = script_keys(cosigners.iter().map(|c| c.pubkey), sorted);
        let script =
            multisig_script(threshold, &keys).map_err(|e| ctx.err("cosigners", e.to_string()))?;
        let kind = NetworkKind::from(network.bitcoin());
        let computed = match st {
            ScriptType::P2sh => Address::p2sh(&script, kind)
                .map_err(|e| ctx.err("cosigners", format!("cannot build the P2SH address: {e}")))?,
            ScriptType::P2wsh => Address::p2wsh(&script, network.bitcoin()),
            ScriptType::P2shP2wsh => Address::p2shwsh(&script, kind),
            _ => unreachable!("build_multisig is called for multisig script types only"),
        };
        if &computed != address {
            return Err(ctx.err(
                "cosigners",
                format!(
                    "the {threshold}-of-{n} {}multisig of these keys is {computed}, not {address} (check keys, child, threshold, sorted and script_type)",
                    if sorted { "sorted " } else { "" }
                ),
            ));
        }
        Ok(MultisigSpec {
            threshold,
            sorted,
            child,
            cosigners,
            script,
        })
    }
}

/// Checks a single-key Bitcoin path against the standard for its script type: purpose
/// 44'/49'/84'/86', coin type 0' on mainnet or 1' elsewhere, hardened account, then unhardened
/// change and index.
/// Whether `path` is a standard BIP-44 path of an account-model family (`m/44'/60'/…`), or
/// allowed to depart from it.
fn check_account_path(
    family: ChainFamily,
    path: &DerivationPath,
    allow: bool,
) -> Result<(), String> {
    let info = family.info();
    let coin = info.coin_type;
    let steps: &[ChildNumber] = path.as_ref();
    let standard = steps.len() >= 3
        && steps[0] == ChildNumber::Hardened { index: 44 }
        && steps[1] == ChildNumber::Hardened { index: coin };
    if standard || allow {
        return Ok(());
    }
    Err(format!(
        "path {} is not a standard {} (m/44'/{coin}'/…) path; set allow_nonstandard_path = true if it is intended",
        path_string(path),
        info.name
    ))
}

pub(super) fn check_bitcoin_path(
    path: &DerivationPath,
    st: ScriptType,
    network: Network,
) -> Result<(), String> {
    let purpose = match st {
        ScriptType::P2pkh => 44,
        ScriptType::P2shP2wpkh => 49,
        ScriptType::P2wpkh => 84,
        ScriptType::P2tr => 86,
        _ => return Ok(()),
    };
    let coin = if network == Network::Mainnet { 0 } else { 1 };
    let s: &[ChildNumber] = path.as_ref();
    let ok = s.len() == 5
        && s[0] == ChildNumber::Hardened { index: purpose }
        && s[1] == ChildNumber::Hardened { index: coin }
        && s[2].is_hardened()
        && s[3].is_normal()
        && s[4].is_normal();
    if ok {
        Ok(())
    } else {
        Err(format!(
            "path {} does not follow BIP-{purpose} (m/{purpose}'/{coin}'/account'/change/index) for {st} on {network}; set allow_nonstandard_path = true if it is intended",
            path_string(path)
        ))
    }
}
