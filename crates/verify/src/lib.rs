#![warn(missing_docs)]
//! por-attest's verifier: the snapshot format, the signature schemes and the checks an auditor
//! runs on a published Proof-of-Reserves snapshot or on an exchange's published address file.
//!
//! This crate is what an auditor builds alone: it signs nothing, opens no device and runs no
//! async runtime.

pub mod account;
pub mod balance;
pub mod bip322_proofs;
pub mod chains;
pub mod claim;
pub mod coins;
pub mod error;
pub mod exchange;
pub mod failure;
pub mod file_hash;
pub mod html;
pub mod htx;
pub mod input;
#[cfg(feature = "liabilities")]
pub mod liabilities;
pub mod message;
pub mod okx;
pub mod report;
pub mod schemes;
pub mod snapshot;
pub mod verify;
