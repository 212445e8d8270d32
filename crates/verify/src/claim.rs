//! What a node can check of a file: one claim per address (its chain, asset, stated balance,
//! anchor height, offline status, and for a contract wallet the owners whose signatures
//! verified), collected while verifying when asked ([`crate::verify::VerifyOptions`],
//! [`crate::exchange::ExchangeOptions`]), and what a node said of it.
//!
//! The verifier itself never talks to a node: `por-attest-reserves` does, and hands its
//! results back through [`crate::report::Report::apply_onchain`].

use bigdecimal::BigDecimal;

/// One address a node can be asked about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The entry (or row) index, for a per-address entry.
    pub entry: Option<u64>,
    /// The file line (exchange files).
    pub line: Option<u64>,
    /// The account index, for an account's address.
    pub account: Option<u64>,
    /// The account address's relative path.
    pub path: Option<String>,
    /// The chain as the report labels it (`ETH`, `USDT-ERC20`, `ETH-OPTIMISM`).
    pub chain: String,
    /// The chain ticker the node serves (`ETH`, `BTC`); for an exchange coin label, the chain
    /// its suffix or network names.
    pub node_chain: String,
    /// The asset: the chain's native one (its ticker), or a token label (`USDT`).
    pub asset: String,
    /// The token contract the file names for a token asset (our entries' `tokens`); `None`
    /// for a native asset, or a token the node side finds in its token table (OKX coins).
    pub token: Option<ClaimToken>,
    /// The address.
    pub address: String,
    /// The stated balance, in the asset's main unit.
    pub balance: Option<BigDecimal>,
    /// How far the node's balance may be from a stated balance printed rounded (HTX's files:
    /// half a unit of its last printed digit); `None` when it is stated exactly.
    pub rounding: Option<BigDecimal>,
    /// The height the balance is stated at (the anchor, or the row's snapshot height).
    pub height: Option<u64>,
    /// The status after the offline checks (and then after the node's): `verified`,
    /// `failed`, `unsupported`, `unsigned` or `not checked on chain`.
    pub status: &'static str,
    /// A contract wallet's owners whose signatures verified (its control is then on-chain
    /// state: the node is asked who owns it).
    pub owners: Vec<String>,
    /// Bitcoin: the coins the file lists for the address at the anchor.
    pub coins: Vec<crate::snapshot::Coin>,
}

/// A token contract as the file names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimToken {
    /// The contract (0x-hex).
    pub contract: String,
    /// The decimals the file states (the contract's `decimals()` must agree).
    pub decimals: u32,
}

/// What a node said of one claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnchainOutcome {
    /// Balance (and, for a contract wallet, ownership) confirmed at the anchor.
    Verified,
    /// The node contradicts the file; the failure says how.
    Failed(crate::failure::Failure),
    /// The node could not answer (pruned history, no archive state, no endpoint).
    NotChecked(String),
}
