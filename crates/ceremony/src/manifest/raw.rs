//! The manifest as written (TOML and CSV), before validation.

use por_attest_verify::chains::{Network, ScriptType};
use por_attest_verify::error::InputError;
use por_attest_verify::snapshot::{Anchor, ContractWallet, TokenHolding};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The top-level TOML document.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawManifest {
    pub entity: String,
    pub snapshot_id: String,
    #[serde(default)]
    pub test: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_template: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_template: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addresses_csv: Option<String>,
    pub anchors: BTreeMap<String, Anchor>,
    pub signers: Vec<RawSigner>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<RawAddress>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<RawAccount>,
}

/// One `[[accounts]]` table: every field optional here, so that a missing one is reported with
/// the account it belongs to.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAccount {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<Network>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script_type: Option<ScriptType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xpub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wallet: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sorted: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cosigners: Option<Vec<RawCosigner>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ranges: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addresses: Option<Vec<RawAccountAddress>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addresses_csv: Option<String>,
}

/// One address of an account: its relative path, and optionally the address and balance.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAccountAddress {
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance: Option<String>,
}

/// A signer's `command`: one program (`command = "hwi"`) or a program with its arguments
/// (`command = ["./adapter", "--project", "acme"]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum RawCommand {
    /// One program.
    Program(String),
    /// A program and its arguments.
    Argv(Vec<String>),
}

impl RawCommand {
    /// The program and its arguments.
    pub fn argv(&self) -> Vec<String> {
        match self {
            RawCommand::Program(p) => vec![p.clone()],
            RawCommand::Argv(v) => v.clone(),
        }
    }
}

/// One `[[signers]]` table.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSigner {
    pub id: String,
    pub kind: super::SignerKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_serial: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The HWI program of an `hwi` signer, or the adapter program and its arguments of a
    /// `command` signer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<RawCommand>,
    /// A PIN written in the manifest: read only to be refused with a clear message; its value
    /// is discarded unread and never written back.
    #[serde(default, skip_serializing)]
    pub pin: Option<serde::de::IgnoredAny>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bip322: Option<bool>,
}

/// One address, from an `[[addresses]]` table or a CSV row. Every field is optional here so
/// that a missing one is reported by the validator with the entry it belongs to.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAddress {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<Network>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script_type: Option<ScriptType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wallet: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_nonstandard_path: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sorted: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub child: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cosigners: Option<Vec<RawCosigner>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<Vec<TokenHolding>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contract_wallet: Option<ContractWallet>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owners: Option<Vec<RawOwner>>,
}

/// One owner of a contract wallet: the key (signer and path) behind an owner address.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOwner {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// One cosigner of a multisig address.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCosigner {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xpub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pubkey: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// The CSV columns, in the order the writer uses.
pub(crate) const CSV_COLUMNS: &[&str] = &[
    "chain",
    "network",
    "address",
    "script_type",
    "path",
    "signer",
    "wallet",
    "balance",
    "allow_nonstandard_path",
    "threshold",
    "sorted",
    "child",
    "cosigners",
    "key",
    "tokens",
    "contract_wallet",
    "owners",
];

/// Splits a CSV list cell into its `;`-separated items' `:`-separated parts, `n` each.
fn cell_items(cell: &str, n: usize, form: &str) -> Result<Vec<Vec<String>>, String> {
    let mut out = Vec::new();
    for (i, item) in cell.split(';').enumerate() {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let parts: Vec<String> = item.split(':').map(|p| p.trim().to_string()).collect();
        if parts.len() != n {
            return Err(format!("item {} `{item}` must be {form}", i + 1));
        }
        out.push(parts);
    }
    Ok(out)
}

/// Parses the CSV `tokens` cell: items separated by `;`, each `ASSET:CONTRACT:DECIMALS:BALANCE`.
pub(crate) fn parse_tokens_cell(cell: &str) -> Result<Vec<TokenHolding>, String> {
    cell_items(cell, 4, "ASSET:CONTRACT:DECIMALS:BALANCE")?
        .into_iter()
        .map(|p| {
            Ok(TokenHolding {
                asset: p[0].clone(),
                contract: p[1].clone(),
                decimals: p[2].parse().map_err(|_| {
                    format!(
                        "token {}: `{}` is not a whole number of decimals",
                        p[0], p[2]
                    )
                })?,
                balance: p[3].clone(),
            })
        })
        .collect()
}

/// Parses the CSV `owners` cell: items separated by `;`, each `SIGNER:PATH:ADDRESS` (SIGNER and
/// PATH empty for an owner whose key is not in this ceremony).
pub(crate) fn parse_owners_cell(cell: &str) -> Result<Vec<RawOwner>, String> {
    let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
    Ok(cell_items(cell, 3, "SIGNER:PATH:ADDRESS")?
        .into_iter()
        .map(|p| RawOwner {
            signer: opt(&p[0]),
            path: opt(&p[1]),
            address: opt(&p[2]),
        })
        .collect())
}

fn format_tokens_cell(tokens: &[TokenHolding]) -> String {
    tokens
        .iter()
        .map(|t| format!("{}:{}:{}:{}", t.asset, t.contract, t.decimals, t.balance))
        .collect::<Vec<_>>()
        .join(";")
}

fn format_owners_cell(owners: &[RawOwner]) -> String {
    let o = |s: &Option<String>| s.clone().unwrap_or_default();
    owners
        .iter()
        .map(|w| format!("{}:{}:{}", o(&w.signer), o(&w.path), o(&w.address)))
        .collect::<Vec<_>>()
        .join(";")
}

/// Parses the CSV `cosigners` cell: items separated by `;`, each `SIGNER:PATH:KEY` where KEY is
/// an xpub/tpub (PATH is then its origin path) or a hex public key (PATH is its full path), and
/// SIGNER or PATH may be empty.
pub(crate) fn parse_cosigners_cell(cell: &str) -> Result<Vec<RawCosigner>, String> {
    let mut out = Vec::new();
    for (i, item) in cell.split(';').enumerate() {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let parts: Vec<&str> = item.split(':').collect();
        let [signer, path, key] = parts[..] else {
            return Err(format!(
                "cosigner {} `{item}` must be SIGNER:PATH:KEY (SIGNER and PATH may be empty)",
                i + 1
            ));
        };
        let opt = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_string());
        let key = key.trim();
        let is_hex = !key.is_empty() && key.bytes().all(|b| b.is_ascii_hexdigit());
        out.push(RawCosigner {
            signer: opt(signer),
            path: opt(path),
            xpub: (!is_hex).then(|| key.to_string()).filter(|k| !k.is_empty()),
            pubkey: is_hex.then(|| key.to_string()),
        });
    }
    Ok(out)
}

/// Writes cosigners in the CSV cell syntax of [`parse_cosigners_cell`].
pub(crate) fn format_cosigners_cell(cosigners: &[RawCosigner]) -> String {
    cosigners
        .iter()
        .map(|c| {
            format!(
                "{}:{}:{}",
                c.signer.as_deref().unwrap_or(""),
                c.path.as_deref().unwrap_or(""),
                c.xpub.as_deref().or(c.pubkey.as_deref()).unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join(";")
}

/// One CSV row with its 1-based line number.
pub(crate) struct CsvRow {
    pub line: u64,
    pub raw: RawAddress,
}

fn parse_bool(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => Ok(true),
        "false" | "no" | "0" => Ok(false),
        _ => Err(format!("`{s}` is not a boolean (true/false)")),
    }
}

fn parse_network(s: &str) -> Result<Network, String> {
    match s.to_ascii_lowercase().as_str() {
        "mainnet" => Ok(Network::Mainnet),
        "testnet" => Ok(Network::Testnet),
        "signet" => Ok(Network::Signet),
        "regtest" => Ok(Network::Regtest),
        _ => Err(format!(
            "unknown network `{s}` (mainnet, testnet, signet, regtest)"
        )),
    }
}

/// Reads an address CSV: a header row naming columns from [`CSV_COLUMNS`] (`chain` and
/// `address` required), `#` comment lines, empty cells meaning "absent".
pub(crate) fn read_csv(text: &str, file: &Path) -> Result<Vec<CsvRow>, InputError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .comment(Some(b'#'))
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = rdr
        .headers()
        .map_err(|e| InputError::new(file, format!("cannot read the header row: {e}")))?
        .clone();
    let mut columns = Vec::with_capacity(headers.len());
    for (i, h) in headers.iter().enumerate() {
        let Some(c) = CSV_COLUMNS.iter().find(|c| **c == h) else {
            return Err(InputError::new(
                file,
                format!(
                    "header row: unknown column {} `{h}` (known: {})",
                    i + 1,
                    CSV_COLUMNS.join(", ")
                ),
            ));
        };
        if columns.contains(c) {
            return Err(InputError::new(
                file,
                format!("header row: column `{h}` appears twice"),
            ));
        }
        columns.push(*c);
    }
    for required in ["chain", "address"] {
        if !columns.contains(&required) {
            return Err(InputError::new(
                file,
                format!("header row: required column `{required}` is missing"),
            ));
        }
    }
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        let line_hint = rdr.position().line();
        match rdr.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(line_hint);
                return Err(InputError::new(file, format!("line {line}: {e}")));
            }
        }
        let line = record.position().map(|p| p.line()).unwrap_or(line_hint);
        let mut raw = RawAddress::default();
        for (col, cell) in columns.iter().zip(record.iter()) {
            if cell.is_empty() {
                continue;
            }
            let bad = |m: String| InputError::new(file, format!("line {line}: field `{col}`: {m}"));
            let s = Some(cell.to_string());
            match *col {
                "chain" => raw.chain = s,
                "network" => raw.network = Some(parse_network(cell).map_err(bad)?),
                "address" => raw.address = s,
                "script_type" => raw.script_type = Some(cell.parse().map_err(bad)?),
                "path" => raw.path = s,
                "signer" => raw.signer = s,
                "wallet" => raw.wallet = s,
                "balance" => raw.balance = s,
                "allow_nonstandard_path" => {
                    raw.allow_nonstandard_path = Some(parse_bool(cell).map_err(bad)?)
                }
                "threshold" => {
                    raw.threshold = Some(
                        cell.parse()
                            .map_err(|_| bad(format!("`{cell}` is not a whole number")))?,
                    )
                }
                "sorted" => raw.sorted = Some(parse_bool(cell).map_err(bad)?),
                "child" => raw.child = s,
                "cosigners" => raw.cosigners = Some(parse_cosigners_cell(cell).map_err(bad)?),
                "key" => raw.key = s,
                "tokens" => raw.tokens = Some(parse_tokens_cell(cell).map_err(bad)?),
                "contract_wallet" => {
                    raw.contract_wallet = Some(match cell.to_ascii_lowercase().as_str() {
                        "safe" => ContractWallet::Safe,
                        _ => {
                            return Err(bad(format!(
                                "`{cell}` is not a contract wallet kind (safe)"
                            )))
                        }
                    })
                }
                "owners" => raw.owners = Some(parse_owners_cell(cell).map_err(bad)?),
                other => unreachable!("column {other} is checked against CSV_COLUMNS"),
            }
        }
        rows.push(CsvRow { line, raw });
    }
    Ok(rows)
}

/// Writes addresses as CSV with every column of [`CSV_COLUMNS`].
pub(crate) fn write_csv(addresses: &[RawAddress]) -> String {
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    // The contract-wallet and token columns only when a row has them: other files keep the
    // columns they always had.
    let extended = addresses
        .iter()
        .any(|a| a.tokens.is_some() || a.contract_wallet.is_some() || a.owners.is_some());
    let columns = if extended {
        CSV_COLUMNS.len()
    } else {
        CSV_COLUMNS.len() - 3
    };
    w.write_record(&CSV_COLUMNS[..columns])
        .expect("write to Vec");
    let opt = |o: &Option<String>| o.clone().unwrap_or_default();
    let optb = |o: Option<bool>| o.map(|b| b.to_string()).unwrap_or_default();
    for a in addresses {
        let row = [
            opt(&a.chain),
            a.network.map(|n| n.to_string()).unwrap_or_default(),
            opt(&a.address),
            a.script_type.map(|t| t.to_string()).unwrap_or_default(),
            opt(&a.path),
            opt(&a.signer),
            opt(&a.wallet),
            opt(&a.balance),
            optb(a.allow_nonstandard_path),
            a.threshold.map(|t| t.to_string()).unwrap_or_default(),
            optb(a.sorted),
            opt(&a.child),
            a.cosigners
                .as_deref()
                .map(format_cosigners_cell)
                .unwrap_or_default(),
            opt(&a.key),
            a.tokens
                .as_deref()
                .map(format_tokens_cell)
                .unwrap_or_default(),
            a.contract_wallet
                .map(|_| "safe".to_string())
                .unwrap_or_default(),
            a.owners
                .as_deref()
                .map(format_owners_cell)
                .unwrap_or_default(),
        ];
        w.write_record(&row[..columns]).expect("write to Vec");
    }
    String::from_utf8(w.into_inner().expect("flush Vec")).expect("CSV of UTF-8 strings")
}
