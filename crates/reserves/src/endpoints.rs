//! Which node serves which chain: `--node CHAIN=URL` on the command line (no credentials
//! there) and a TOML file of endpoints whose secrets are read from environment variables the
//! file names, plus the token table (asset on a chain → contract), overridable in the file.
//!
//! ```toml
//! [[node]]
//! chain = "ETH"
//! url = "https://eth.example/rpc"
//! bearer_env = "ETH_NODE_TOKEN"     # Authorization: Bearer $ETH_NODE_TOKEN
//!
//! [[node]]
//! chain = "BTC"
//! url = "http://127.0.0.1:8332"
//! kind = "bitcoin-core"             # or "esplora"; default by chain: evm, bitcoin-core
//! user_env = "BTC_RPC_USER"
//! password_env = "BTC_RPC_PASSWORD"
//!
//! [[token]]
//! chain = "ETH"
//! asset = "USDT"
//! contract = "0xdAC17F958D2ee523a2206206994597C13D831ec7"
//! decimals = 6
//! ```

use crate::rpc::{shown_url, Auth, NodeError};
use por_attest_verify::chains::ChainFamily;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The protocol a node speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeKind {
    /// Ethereum JSON-RPC (any EVM chain).
    Evm,
    /// Bitcoin Core's JSON-RPC.
    BitcoinCore,
    /// Esplora's REST API (Blockstream's, mempool.space's).
    Esplora,
}

/// One node.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The chain ticker it serves, upper case.
    pub chain: String,
    /// Its URL (may carry an API key in its path; shown without user information or query).
    pub url: String,
    /// Its protocol.
    pub kind: NodeKind,
    /// Its authentication.
    pub auth: Auth,
}

/// An ERC-20 token: which contract holds `asset` on `chain`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Token {
    /// The chain ticker (`ETH`).
    pub chain: String,
    /// The asset (`USDT`).
    pub asset: String,
    /// The contract address.
    pub contract: String,
    /// The token's decimals.
    pub decimals: u32,
}

/// Tokens on Ethereum mainnet that exchanges' files name (`USDT-ERC20`): the contracts of
/// Tether and Circle, with their decimals.
pub fn default_tokens() -> Vec<Token> {
    [
        ("USDT", "0xdAC17F958D2ee523a2206206994597C13D831ec7", 6),
        ("USDC", "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", 6),
    ]
    .into_iter()
    .map(|(asset, contract, decimals)| Token {
        chain: "ETH".into(),
        asset: asset.into(),
        contract: contract.into(),
        decimals,
    })
    .collect()
}

/// Every node, by chain, and the token table.
#[derive(Debug, Clone)]
pub struct Nodes {
    /// By chain ticker, upper case.
    pub endpoints: BTreeMap<String, Endpoint>,
    /// The token table (later rows override earlier ones for the same chain and asset).
    pub tokens: Vec<Token>,
}

impl Default for Nodes {
    fn default() -> Self {
        Nodes {
            endpoints: BTreeMap::new(),
            tokens: default_tokens(),
        }
    }
}

/// `--node BTC=esplora+URL`: an Esplora REST endpoint rather than Bitcoin Core's RPC.
pub const ESPLORA_PREFIX: &str = "esplora+";

fn default_kind(chain: &str) -> Result<NodeKind, NodeError> {
    match ChainFamily::of(chain) {
        Some(ChainFamily::Evm) => Ok(NodeKind::Evm),
        Some(ChainFamily::Bitcoin) => Ok(NodeKind::BitcoinCore),
        _ => Err(NodeError::Config(format!(
            "no node client for chain `{chain}` in this build (EVM chains and Bitcoin)"
        ))),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileNode {
    chain: String,
    url: String,
    kind: Option<NodeKind>,
    bearer_env: Option<String>,
    user_env: Option<String>,
    password_env: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    node: Vec<FileNode>,
    #[serde(default)]
    token: Vec<Token>,
}

fn env_secret(file: &str, var: &str) -> Result<String, NodeError> {
    std::env::var(var).map_err(|_| {
        NodeError::Config(format!(
            "{file}: the environment variable `{var}` it names is not set"
        ))
    })
}

impl Nodes {
    /// Adds `CHAIN=URL` from the command line (`BTC=esplora+https://…` for an Esplora REST
    /// endpoint). Credentials in the URL are refused: they belong in a `--nodes` file's
    /// environment variables.
    pub fn add_arg(&mut self, arg: &str) -> Result<(), NodeError> {
        let (chain, url) = arg.split_once('=').ok_or_else(|| {
            NodeError::Config(format!("--node `{}`: expected CHAIN=URL", shown_url(arg)))
        })?;
        let chain = chain.trim().to_ascii_uppercase();
        if let Ok(u) = reqwest::Url::parse(url) {
            if !u.username().is_empty() || u.password().is_some() {
                return Err(NodeError::Config(format!(
                    "--node {chain}={}: credentials do not go on the command line; name \
                     environment variables in a --nodes file (user_env, password_env, bearer_env)",
                    shown_url(url)
                )));
            }
        }
        let url = url.trim();
        let (kind, url) = match url.strip_prefix(ESPLORA_PREFIX) {
            Some(rest) if default_kind(&chain)? == NodeKind::BitcoinCore => {
                (NodeKind::Esplora, rest)
            }
            Some(_) => {
                return Err(NodeError::Config(format!(
                    "--node {chain}={}: Esplora serves Bitcoin only",
                    shown_url(url)
                )))
            }
            None => (default_kind(&chain)?, url),
        };
        self.insert(Endpoint {
            chain,
            url: url.to_string(),
            kind,
            auth: Auth::None,
        })
    }

    fn insert(&mut self, e: Endpoint) -> Result<(), NodeError> {
        if self.endpoints.contains_key(&e.chain) {
            return Err(NodeError::Config(format!(
                "two nodes for chain {}: give one per chain",
                e.chain
            )));
        }
        self.endpoints.insert(e.chain.clone(), e);
        Ok(())
    }

    /// Adds the nodes and tokens of the TOML file at `path`.
    pub fn add_file(&mut self, path: &Path) -> Result<(), NodeError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| NodeError::Config(format!("{name}: cannot read: {e}")))?;
        self.add_toml(&name, &text)
    }

    /// Adds the nodes and tokens of TOML `text` (named `name` in errors).
    pub fn add_toml(&mut self, name: &str, text: &str) -> Result<(), NodeError> {
        let f: File =
            toml::from_str(text).map_err(|e| NodeError::Config(format!("{name}: {e}")))?;
        for n in f.node {
            let chain = n.chain.trim().to_ascii_uppercase();
            let kind = match n.kind {
                Some(k) => k,
                None => default_kind(&chain)?,
            };
            let auth = match (&n.bearer_env, &n.user_env, &n.password_env) {
                (None, None, None) => Auth::None,
                (Some(b), None, None) => Auth::Bearer(env_secret(name, b)?),
                (None, Some(u), Some(p)) => Auth::Basic {
                    user: env_secret(name, u)?,
                    password: env_secret(name, p)?,
                },
                _ => {
                    return Err(NodeError::Config(format!(
                        "{name}: node {chain}: give either bearer_env, or user_env and password_env"
                    )))
                }
            };
            self.insert(Endpoint {
                chain,
                url: n.url,
                kind,
                auth,
            })?;
        }
        for t in f.token {
            let chain = t.chain.to_ascii_uppercase();
            let asset = t.asset.to_ascii_uppercase();
            self.tokens.retain(|x| {
                !(x.chain.eq_ignore_ascii_case(&chain) && x.asset.eq_ignore_ascii_case(&asset))
            });
            self.tokens.push(Token { chain, asset, ..t });
        }
        Ok(())
    }

    /// The token holding `asset` on `chain`.
    pub fn token(&self, chain: &str, asset: &str) -> Option<&Token> {
        self.tokens
            .iter()
            .rev()
            .find(|t| t.chain.eq_ignore_ascii_case(chain) && t.asset.eq_ignore_ascii_case(asset))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_files_tokens_and_secrets() {
        let mut n = Nodes::default();
        n.add_arg("eth=http://127.0.0.1:8545").unwrap();
        assert_eq!(n.endpoints["ETH"].kind, NodeKind::Evm);
        let e = n.add_arg("ETH=http://other").unwrap_err().to_string();
        assert!(e.contains("two nodes for chain ETH"), "{e}");
        let e = n
            .add_arg("ARB=https://me:hunter2@arb.example")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("credentials do not go on the command line"),
            "{e}"
        );
        assert!(!e.contains("hunter2"), "{e}");
        assert!(n.add_arg("DOGE=http://x").is_err());
        let mut e = Nodes::default();
        e.add_arg("btc=esplora+https://blockstream.info/api")
            .unwrap();
        assert_eq!(e.endpoints["BTC"].kind, NodeKind::Esplora);
        assert_eq!(e.endpoints["BTC"].url, "https://blockstream.info/api");
        let err = e.add_arg("ETH=esplora+http://x").unwrap_err().to_string();
        assert!(err.contains("Esplora serves Bitcoin only"), "{err}");
        assert!(n.add_arg("no-equals").is_err());

        std::env::set_var("POR_TEST_BTC_USER", "alice");
        std::env::set_var("POR_TEST_BTC_PASS", "s3cret");
        let toml = r#"
            [[node]]
            chain = "BTC"
            url = "http://127.0.0.1:8332"
            user_env = "POR_TEST_BTC_USER"
            password_env = "POR_TEST_BTC_PASS"

            [[token]]
            chain = "ETH"
            asset = "USDT"
            contract = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
            decimals = 6
        "#;
        n.add_toml("nodes.toml", toml).unwrap();
        let btc = &n.endpoints["BTC"];
        assert_eq!(btc.kind, NodeKind::BitcoinCore);
        assert!(matches!(&btc.auth, Auth::Basic { user, .. } if user == "alice"));
        assert!(!format!("{btc:?}").contains("s3cret"));
        assert_eq!(
            n.token("eth", "usdt").unwrap().contract,
            "0x5FbDB2315678afecb367f032d93F642f64180aa3"
        );
        assert_eq!(n.tokens.iter().filter(|t| t.asset == "USDT").count(), 1);
        let e = Nodes::default()
            .add_toml(
                "n.toml",
                "[[node]]\nchain='ETH'\nurl='http://x'\nbearer_env='POR_TEST_UNSET_VAR'\n",
            )
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "n.toml: the environment variable `POR_TEST_UNSET_VAR` it names is not set"
        );
        let e = Nodes::default()
            .add_toml(
                "n.toml",
                "[[node]]\nchain='ETH'\nurl='http://x'\npassword='p'\n",
            )
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `password`"), "{e}");
    }
}
