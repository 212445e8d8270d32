#![warn(missing_docs)]
//! por-attest's reserves check: a report the verifier made (with its claims collected) checked
//! against the auditor's own nodes. Each chain's anchor block must be the node's block at that
//! height; every address's stated balance must be the node's balance at that block (native
//! coins, ERC-20 tokens through `balanceOf`); a contract wallet whose owners signed becomes
//! verified when the node says those owners reach its Safe threshold at the block.
//!
//! The verifier crate (`por-attest-verify`) stays free of async runtimes and HTTP: the node
//! clients live here, on tokio and reqwest.

pub mod bitcoin;
pub mod blocks;
pub mod check;
pub mod coins;
pub mod endpoints;
pub mod evm;
pub mod rpc;
pub mod watch;

pub use check::{check_on_chain, NodeOptions};
pub use endpoints::{Endpoint, NodeKind, Nodes, Token};
pub use rpc::{NodeError, Policy};
