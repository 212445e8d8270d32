//! Accounts in the manifest: an HD account (one signer's extended key at a path) or a
//! multisig wallet (cosigner xpubs, as for multisig addresses), with the addresses claimed
//! below it as relative paths (listed one by one, from a CSV, or as ranges such as
//! `0/0-999`). Validated on load like addresses: when the manifest gives the account's keys
//! (a multisig wallet always does, a single key may), every listed address is derived and
//! compared before any prompt. Each account costs one signature per signer in the ceremony.

use super::raw::{RawAccount, RawAccountAddress};
use super::{
    is_decimal, is_printable_line, parse_path, path_string, Ctx, Manifest, Signer, TaskKey,
};
use bitcoin::bip32::{ChildNumber, DerivationPath, Fingerprint, Xpub};
use bitcoin::NetworkKind;
use por_attest_verify::account::keys::multisig_descriptor;
use por_attest_verify::account::{
    parse_relative_path, AccountKey, AccountKeys, Deriver, RelativePath,
};
use por_attest_verify::chains::{ChainFamily, Network, ScriptType};
use por_attest_verify::error::InputError;
use por_attest_verify::message::{MessageFields, MAX_DISPLAYED_MESSAGE};
use std::path::Path;

/// The most addresses one account may claim (ranges included).
pub const MAX_ACCOUNT_ADDRESSES: usize = 10_000_000;

/// The fingerprint written in a key origin when the master fingerprint is not known
/// (`00000000`, as wallets write it).
pub fn unknown_fingerprint() -> Fingerprint {
    Fingerprint::from([0; 4])
}

/// One cosigner of a multisig account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountCosigner {
    /// The signer holding the key; `None` for a key held outside this ceremony.
    pub signer: Option<String>,
    /// The origin path of the cosigner's account key (e.g. `m/48'/0'/0'/2'`).
    pub origin_path: DerivationPath,
    /// The cosigner's account key.
    pub xpub: Xpub,
    /// The master fingerprint of the key's origin (the signer's, or unknown).
    pub fingerprint: Fingerprint,
}

impl AccountCosigner {
    /// The key with its origin, as a descriptor writes it.
    pub fn account_key(&self) -> AccountKey {
        AccountKey {
            origin: Some((self.fingerprint, self.origin_path.clone())),
            xpub: self.xpub,
        }
    }
}

/// A multisig wallet: `threshold`-of-`cosigners.len()` over the cosigners' account keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountMultisig {
    /// Signatures required.
    pub threshold: u32,
    /// `sortedmulti` (BIP-67) rather than the cosigners' order.
    pub sorted: bool,
    /// The cosigners, in manifest order.
    pub cosigners: Vec<AccountCosigner>,
    /// The wallet's descriptor (`/<0;1>/*` keys, with its checksum).
    pub descriptor: String,
}

/// One address an account claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountAddressSpec {
    /// The relative path as written (`0/17`).
    pub path: String,
    /// The parsed relative path.
    pub relative: RelativePath,
    /// The address, when the manifest lists it or its keys give it; otherwise derived from
    /// the key the device exports.
    pub address: Option<String>,
    /// Balance as a decimal string in the chain's main unit.
    pub balance: Option<String>,
}

/// An account of the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSpec {
    /// 0-based position among the manifest's accounts.
    pub index: usize,
    /// Chain ticker; has an anchor.
    pub chain: String,
    /// The chain's family.
    pub family: ChainFamily,
    /// Network of the addresses.
    pub network: Network,
    /// Bitcoin only: the script type.
    pub script_type: Option<ScriptType>,
    /// Wallet label.
    pub wallet: Option<String>,
    /// Single key: the signer holding it.
    pub signer: Option<String>,
    /// Single key: the account key's path.
    pub path: Option<DerivationPath>,
    /// Single key: the expected account key, when the manifest gives it.
    pub xpub: Option<Xpub>,
    /// Multisig: the wallet.
    pub multisig: Option<AccountMultisig>,
    /// The addresses, listed ones first, then the ranges' in order.
    pub addresses: Vec<AccountAddressSpec>,
    /// The ranges as written (`0/0-999`).
    pub ranges: Vec<String>,
    /// How many of `addresses` were listed (the rest come from `ranges`).
    pub listed: usize,
}

impl AccountSpec {
    /// How reports and errors name the account: `account 2 (BTC p2wpkh m/84'/0'/0')`.
    pub fn label(&self) -> String {
        let kind = self
            .script_type
            .map(|s| s.to_string())
            .unwrap_or_else(|| self.family.info().name.to_string());
        match (&self.path, &self.multisig) {
            (Some(p), _) => format!(
                "account {} ({} {kind} {})",
                self.index,
                self.chain,
                path_string(p)
            ),
            (_, Some(m)) => format!(
                "account {} ({} {kind} {}-of-{} wallet)",
                self.index,
                self.chain,
                m.threshold,
                m.cosigners.len()
            ),
            _ => format!("account {} ({} {kind})", self.index, self.chain),
        }
    }

    /// What the journal keys this account's signatures by, in place of an address.
    pub fn journal_name(&self) -> String {
        let kind = self
            .script_type
            .map(|s| s.to_string())
            .unwrap_or_else(|| self.family.info().name.to_ascii_lowercase());
        match &self.multisig {
            Some(m) => format!("account {kind} {}", m.descriptor),
            None => format!("account {kind}"),
        }
    }

    /// The account's keys for a single-key account whose key is `xpub` (with `fingerprint` as
    /// its origin's), or for the multisig wallet.
    pub fn keys(&self, xpub: Option<(Fingerprint, Xpub)>) -> Result<AccountKeys, String> {
        match &self.multisig {
            Some(m) => {
                AccountKeys::multisig(self.family, self.script_type, self.network, &m.descriptor)
                    .map_err(|e| e.to_string())
            }
            None => {
                let (fp, xpub) = xpub
                    .or_else(|| self.xpub.map(|x| (unknown_fingerprint(), x)))
                    .ok_or("the account's key is not known yet")?;
                let key = self.key_text(fp, xpub);
                AccountKeys::single(self.family, self.script_type, self.network, &key)
                    .map_err(|e| e.to_string())
            }
        }
    }

    /// `[fingerprint/path]xpub` of a single-key account whose key is `xpub`.
    pub fn key_text(&self, fingerprint: Fingerprint, xpub: Xpub) -> String {
        AccountKey {
            origin: self.path.clone().map(|p| (fingerprint, p)),
            xpub,
        }
        .to_string()
    }

    /// Every address, those not yet known derived with `keys`; the first whose listed address
    /// is not the derived one is an error: its path, what is listed and what is derived.
    pub fn derive_addresses(
        &self,
        keys: &AccountKeys,
    ) -> Result<Vec<String>, (String, String, String)> {
        let mut d = Deriver::new(keys);
        let mut out = Vec::with_capacity(self.addresses.len());
        for a in &self.addresses {
            let derived = d.address(&a.relative).map_err(|e| {
                (
                    a.path.clone(),
                    a.address.clone().unwrap_or_default(),
                    e.to_string(),
                )
            })?;
            match &a.address {
                Some(listed) if !derived.matches(listed) => {
                    return Err((a.path.clone(), listed.clone(), derived.to_text()))
                }
                Some(listed) => out.push(listed.clone()),
                None => out.push(derived.to_text()),
            }
        }
        Ok(out)
    }
}

/// One signature the ceremony must obtain for an account: one signer's account key signs the
/// account message.
#[derive(Debug, Clone, Copy)]
pub struct AccountTask<'a> {
    /// The account.
    pub account: &'a AccountSpec,
    /// The signer that must sign.
    pub signer: &'a Signer,
    /// The signer's account key path (its cosigner key for a multisig wallet).
    pub path: &'a DerivationPath,
    /// Multisig: the cosigner's position in the manifest.
    pub cosigner: Option<usize>,
}

impl AccountTask<'_> {
    /// The journal key of this task.
    pub fn key(&self) -> TaskKey {
        TaskKey {
            chain: self.account.chain.clone(),
            address: self.account.journal_name(),
            signer: self.signer.id.clone(),
            path: path_string(self.path),
        }
    }
}

/// Expands a range `PREFIX/A-B` (or `A-B`) into relative paths.
fn expand_range(range: &str) -> Result<Vec<String>, String> {
    let (prefix, span) = match range.rsplit_once('/') {
        Some((p, s)) => (format!("{p}/"), s),
        None => (String::new(), range),
    };
    let (a, b) = span
        .split_once('-')
        .ok_or_else(|| format!("`{range}` is not a range such as 0/0-999"))?;
    let (a, b): (u32, u32) = match (a.parse(), b.parse()) {
        (Ok(a), Ok(b)) if a <= b && b < (1 << 31) => (a, b),
        _ => {
            return Err(format!(
                "`{range}`: the range must be FIRST-LAST with FIRST ≤ LAST < 2^31"
            ))
        }
    };
    if (b - a) as usize >= MAX_ACCOUNT_ADDRESSES {
        return Err(format!(
            "`{range}` is more than {MAX_ACCOUNT_ADDRESSES} addresses"
        ));
    }
    Ok((a..=b).map(|i| format!("{prefix}{i}")).collect())
}

/// Reads an account's address CSV: columns `path`, `address`, `balance` (`address` and
/// `balance` optional), `#` comments.
pub(crate) fn read_account_csv(file: &Path) -> Result<Vec<RawAccountAddress>, InputError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| InputError::new(file, format!("cannot read: {e}")))?;
    let mut rdr = csv::ReaderBuilder::new()
        .comment(Some(b'#'))
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut out = Vec::new();
    for r in rdr.deserialize::<RawAccountAddress>() {
        out.push(r.map_err(|e| {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            InputError::new(file, format!("line {line}: {e}"))
        })?);
    }
    Ok(out)
}

impl Manifest {
    /// Validates one `[[accounts]]` table.
    pub(super) fn build_account(
        &self,
        a: &RawAccount,
        index: usize,
        base_dir: &Path,
        ctx: &Ctx<'_>,
    ) -> Result<AccountSpec, InputError> {
        let chain = a
            .chain
            .clone()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| ctx.err("chain", "required"))?;
        let family = ChainFamily::of(&chain)
            .ok_or_else(|| ctx.err("chain", format!("unknown chain `{chain}`")))?;
        if !self.anchors.contains_key(&chain) {
            return Err(ctx.err(
                "chain",
                format!("chain `{chain}` has no anchor; add [anchors.{chain}]"),
            ));
        }
        let network = a.network.unwrap_or(Network::Mainnet);
        if let Some(w) = &a.wallet {
            if !is_printable_line(w) {
                return Err(ctx.err("wallet", "must be non-empty printable ASCII on one line"));
            }
        }
        let is_bitcoin = family == ChainFamily::Bitcoin;
        match (is_bitcoin, a.script_type) {
            (true, None) => return Err(ctx.err("script_type", "required for a Bitcoin account")),
            (false, Some(st)) => {
                return Err(ctx.err(
                    "script_type",
                    format!("`{st}` is for Bitcoin accounts only"),
                ))
            }
            _ => {}
        }
        let multisig = a.script_type.is_some_and(ScriptType::is_multisig);
        let mut spec = AccountSpec {
            index,
            chain,
            family,
            network,
            script_type: a.script_type,
            wallet: a.wallet.clone(),
            signer: None,
            path: None,
            xpub: None,
            multisig: None,
            addresses: Vec::new(),
            ranges: a.ranges.clone().unwrap_or_default(),
            listed: 0,
        };
        if multisig {
            for (field, present) in [
                ("signer", a.signer.is_some()),
                ("path", a.path.is_some()),
                ("xpub", a.xpub.is_some()),
            ] {
                if present {
                    return Err(ctx.err(
                        field,
                        "a multisig account gives a signer, path and xpub on each cosigner instead",
                    ));
                }
            }
            spec.multisig = Some(self.build_account_multisig(a, &spec, ctx)?);
        } else {
            for (field, present) in [
                ("threshold", a.threshold.is_some()),
                ("sorted", a.sorted.is_some()),
                ("cosigners", a.cosigners.is_some()),
            ] {
                if present {
                    return Err(ctx.err(
                        field,
                        "only for multisig accounts (script_type p2sh, p2wsh or p2sh-p2wsh)",
                    ));
                }
            }
            let signer = a
                .signer
                .as_deref()
                .ok_or_else(|| ctx.err("signer", "required"))?;
            self.signer_ref(ctx, "signer", signer, is_bitcoin)?;
            let p = a
                .path
                .as_deref()
                .ok_or_else(|| ctx.err("path", "required"))?;
            let path = parse_path(p).map_err(|m| ctx.err("path", m.to_string()))?;
            check_account_path(&path, family, a.script_type, network)
                .map_err(|m| ctx.err("path", m))?;
            if let Some(x) = &a.xpub {
                let xpub: Xpub = x
                    .parse()
                    .map_err(|e| ctx.err("xpub", format!("not an extended public key: {e}")))?;
                check_xpub(&xpub, &path, network).map_err(|m| ctx.err("xpub", m))?;
                spec.xpub = Some(xpub);
            }
            spec.signer = Some(signer.to_string());
            spec.path = Some(path);
        }
        // The addresses: listed (inline or CSV), then the ranges.
        let mut listed: Vec<RawAccountAddress> = a.addresses.clone().unwrap_or_default();
        if let Some(csv) = &a.addresses_csv {
            listed.extend(read_account_csv(&base_dir.join(csv))?);
        }
        spec.listed = listed.len();
        let mut raw_paths: Vec<(String, Option<String>, Option<String>)> = listed
            .into_iter()
            .map(|x| (x.path, x.address, x.balance))
            .collect();
        for r in &spec.ranges {
            for p in expand_range(r).map_err(|m| ctx.err("ranges", m))? {
                raw_paths.push((p, None, None));
            }
        }
        if raw_paths.is_empty() {
            return Err(ctx.err(
                "addresses",
                "an account lists at least one address (`addresses`, `addresses_csv` or `ranges`)",
            ));
        }
        if raw_paths.len() > MAX_ACCOUNT_ADDRESSES {
            return Err(ctx.err(
                "addresses",
                format!("more than {MAX_ACCOUNT_ADDRESSES} addresses"),
            ));
        }
        let mut seen = std::collections::HashSet::with_capacity(raw_paths.len());
        for (i, (path, address, balance)) in raw_paths.into_iter().enumerate() {
            let field = format!("addresses[{i}]");
            let relative = parse_relative_path(&path)
                .map_err(|e| ctx.err(&format!("{field}.path"), e.to_string()))?;
            if !seen.insert(relative) {
                return Err(ctx.err(
                    &format!("{field}.path"),
                    format!("`{path}` is listed twice"),
                ));
            }
            if let Some(b) = &balance {
                if !is_decimal(b) {
                    return Err(ctx.err(
                        &format!("{field}.balance"),
                        format!("`{b}` is not a decimal number such as 12.5"),
                    ));
                }
            }
            if let Some(addr) = &address {
                if !is_printable_line(addr) || addr.contains(' ') {
                    return Err(ctx.err(
                        &format!("{field}.address"),
                        "must be printable ASCII without spaces",
                    ));
                }
            }
            spec.addresses.push(AccountAddressSpec {
                path,
                relative,
                address,
                balance,
            });
        }
        // With the keys known, every address is checked (and the ranges' derived) now.
        if spec.multisig.is_some() || spec.xpub.is_some() {
            let keys = spec.keys(None).map_err(|m| ctx.err("xpub", m))?;
            for a in &spec.addresses {
                keys.check_path(&a.relative, &a.path)
                    .map_err(|e| ctx.err("addresses", e.to_string()))?;
            }
            let derived = spec.derive_addresses(&keys).map_err(|(path, listed, derived)| {
                ctx.err(
                    "addresses",
                    format!("the address at {path} is {derived}, not {listed} (check the keys, the paths and the script type)"),
                )
            })?;
            for (a, d) in spec.addresses.iter_mut().zip(derived) {
                a.address = Some(d);
            }
            let message = self.render_account_message(&spec, &keys.account_text());
            if is_bitcoin && message.len() > MAX_DISPLAYED_MESSAGE {
                return Err(ctx.err(
                    "account_template",
                    format!(
                        "the account message is {} bytes; the Bitcoin app shows at most {MAX_DISPLAYED_MESSAGE} as text",
                        message.len()
                    ),
                ));
            }
        }
        Ok(spec)
    }

    fn build_account_multisig(
        &self,
        a: &RawAccount,
        spec: &AccountSpec,
        ctx: &Ctx<'_>,
    ) -> Result<AccountMultisig, InputError> {
        let raw = a
            .cosigners
            .as_deref()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| ctx.err("cosigners", "required for a multisig account"))?;
        let n = raw.len();
        let threshold = a
            .threshold
            .ok_or_else(|| ctx.err("threshold", "required for a multisig account"))?;
        if threshold == 0 || threshold as usize > n || n > 16 {
            return Err(ctx.err(
                "threshold",
                format!("{threshold}-of-{n} is not a multisig of 1 to 16 keys"),
            ));
        }
        let mut cosigners: Vec<AccountCosigner> = Vec::with_capacity(n);
        for (j, c) in raw.iter().enumerate() {
            let f = |name: &str| format!("cosigners[{j}].{name}");
            if c.pubkey.is_some() {
                return Err(ctx.err(
                    &f("pubkey"),
                    "an account's cosigners give their account xpub, not a public key",
                ));
            }
            let x = c
                .xpub
                .as_deref()
                .ok_or_else(|| ctx.err(&f("xpub"), "required"))?;
            let xpub: Xpub = x
                .parse()
                .map_err(|e| ctx.err(&f("xpub"), format!("not an extended public key: {e}")))?;
            let p = c.path.as_deref().ok_or_else(|| {
                ctx.err(
                    &f("path"),
                    "required: the xpub's origin path, e.g. m/48'/0'/0'/2'",
                )
            })?;
            let origin = parse_path(p).map_err(|m| ctx.err(&f("path"), m.to_string()))?;
            check_xpub(&xpub, &origin, spec.network).map_err(|m| ctx.err(&f("xpub"), m))?;
            let mut fingerprint = unknown_fingerprint();
            if let Some(s) = &c.signer {
                self.signer_ref(ctx, &f("signer"), s, true)?;
                fingerprint = self
                    .signer(s)
                    .and_then(|s| s.fingerprint)
                    .unwrap_or(unknown_fingerprint());
            }
            if let Some(k) = cosigners
                .iter()
                .position(|o| o.xpub.public_key == xpub.public_key)
            {
                return Err(ctx.err(&f("xpub"), format!("the same key as cosigners[{k}]")));
            }
            cosigners.push(AccountCosigner {
                signer: c.signer.clone(),
                origin_path: origin,
                xpub,
                fingerprint,
            });
        }
        let held = cosigners.iter().filter(|c| c.signer.is_some()).count();
        if held < threshold as usize {
            return Err(ctx.err(
                "cosigners",
                format!("only {held} of the {n} cosigners name a signer of this ceremony; threshold {threshold} cannot be met"),
            ));
        }
        let sorted = a.sorted.unwrap_or(true);
        let st = spec
            .script_type
            .expect("a multisig account has a script type");
        let keys: Vec<AccountKey> = cosigners.iter().map(AccountCosigner::account_key).collect();
        let descriptor = multisig_descriptor(st, threshold as usize, sorted, &keys)
            .map_err(|e| ctx.err("cosigners", e.to_string()))?;
        Ok(AccountMultisig {
            threshold,
            sorted,
            cosigners,
            descriptor,
        })
    }

    /// The message an account signs, `{account}` being `account_text` (the xpub, or the
    /// descriptor's hash).
    pub fn render_account_message(&self, spec: &AccountSpec, account_text: &str) -> String {
        let anchor = self
            .anchors
            .get(&spec.chain)
            .expect("every account's chain has an anchor (checked on load)");
        self.account_template.render(&MessageFields::new(
            &self.entity,
            &self.snapshot_id,
            &spec.chain,
            account_text,
            anchor,
        ))
    }

    /// Every account signature the ceremony must obtain: one per single-key account, one per
    /// cosigner held by a signer of this ceremony for a multisig wallet.
    pub fn account_tasks(&self) -> impl Iterator<Item = AccountTask<'_>> + '_ {
        self.accounts.iter().flat_map(move |account| {
            let mut out = Vec::new();
            if let (Some(sid), Some(path)) = (&account.signer, &account.path) {
                out.push(AccountTask {
                    account,
                    signer: self.signer(sid).expect("signer checked on load"),
                    path,
                    cosigner: None,
                });
            }
            if let Some(m) = &account.multisig {
                for (i, c) in m.cosigners.iter().enumerate() {
                    if let Some(sid) = &c.signer {
                        out.push(AccountTask {
                            account,
                            signer: self.signer(sid).expect("signer checked on load"),
                            path: &c.origin_path,
                            cosigner: Some(i),
                        });
                    }
                }
            }
            out
        })
    }

    /// The account tasks of one signer.
    pub fn account_tasks_for<'a>(
        &'a self,
        signer: &'a str,
    ) -> impl Iterator<Item = AccountTask<'a>> + 'a {
        self.account_tasks().filter(move |t| t.signer.id == signer)
    }

    /// The raw form of the accounts (for the identity digest and TOML).
    pub(super) fn accounts_to_raw(&self) -> Vec<RawAccount> {
        self.accounts
            .iter()
            .map(|a| RawAccount {
                chain: Some(a.chain.clone()),
                network: Some(a.network),
                script_type: a.script_type,
                signer: a.signer.clone(),
                path: a.path.as_ref().map(path_string),
                xpub: a.xpub.map(|x| x.to_string()),
                wallet: a.wallet.clone(),
                threshold: a.multisig.as_ref().map(|m| m.threshold),
                sorted: a.multisig.as_ref().map(|m| m.sorted),
                cosigners: a.multisig.as_ref().map(|m| {
                    m.cosigners
                        .iter()
                        .map(|c| super::raw::RawCosigner {
                            signer: c.signer.clone(),
                            xpub: Some(c.xpub.to_string()),
                            pubkey: None,
                            path: Some(path_string(&c.origin_path)),
                        })
                        .collect()
                }),
                ranges: (!a.ranges.is_empty()).then(|| a.ranges.clone()),
                addresses: (a.listed > 0).then(|| {
                    a.addresses[..a.listed]
                        .iter()
                        .map(|x| RawAccountAddress {
                            path: x.path.clone(),
                            address: x.address.clone(),
                            balance: x.balance.clone(),
                        })
                        .collect()
                }),
                addresses_csv: None,
            })
            .collect()
    }
}

/// The account key's path: `m/purpose'/coin'/account'` of the script type (`m/48'/coin'/…'/…'`
/// and `m/45'/…` for cosigners are checked by the device), `m/44'/coin'/…` for EVM and TRON.
fn check_account_path(
    path: &DerivationPath,
    family: ChainFamily,
    st: Option<ScriptType>,
    network: Network,
) -> Result<(), String> {
    let s: &[ChildNumber] = path.as_ref();
    let h = |i: u32| ChildNumber::Hardened { index: i };
    match family {
        ChainFamily::Bitcoin => {
            let purpose = match st {
                Some(ScriptType::P2pkh) => 44,
                Some(ScriptType::P2shP2wpkh) => 49,
                Some(ScriptType::P2wpkh) => 84,
                _ => 86,
            };
            let coin = if network == Network::Mainnet { 0 } else { 1 };
            if s.len() == 3 && s[0] == h(purpose) && s[1] == h(coin) && s[2].is_hardened() {
                Ok(())
            } else {
                Err(format!(
                    "an account key of {} sits at m/{purpose}'/{coin}'/account', not {}",
                    st.map(|t| t.to_string()).unwrap_or_default(),
                    path_string(path)
                ))
            }
        }
        _ => {
            let coin = family.info().coin_type;
            if s.len() >= 3 && s[0] == h(44) && s[1] == h(coin) {
                Ok(())
            } else {
                Err(format!(
                    "an account key of {} sits below m/44'/{coin}'/ (e.g. m/44'/{coin}'/0'/0), not {}",
                    family.info().name,
                    path_string(path)
                ))
            }
        }
    }
}

/// The xpub must belong to the network and sit at `path` (its depth and child number).
fn check_xpub(xpub: &Xpub, path: &DerivationPath, network: Network) -> Result<(), String> {
    if (xpub.network == NetworkKind::Main) != (network == Network::Mainnet) {
        return Err(format!(
            "the key is not for {network} (xpub for mainnet, tpub otherwise)"
        ));
    }
    let steps: &[ChildNumber] = path.as_ref();
    if usize::from(xpub.depth) != steps.len()
        || steps.last().is_some_and(|l| *l != xpub.child_number)
    {
        return Err(format!(
            "the key (depth {}, child {}) is not at {}",
            xpub.depth,
            xpub.child_number,
            path_string(path)
        ));
    }
    Ok(())
}
