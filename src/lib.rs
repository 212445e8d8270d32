//! por-attest: prove that an exchange controls the reserve addresses of its Proof-of-Reserves
//! snapshot. Sign on Ledger devices during the ceremony; verify offline.

pub mod ceremony;
pub mod chains;
pub mod demo;
pub mod device;
pub mod devices;
pub mod error;
pub mod fixtures;
pub mod journal;
pub mod manifest;
pub mod message;
pub mod okx;
pub mod package;
pub mod report;
pub mod schemes;
pub mod signers;
pub mod simulator;
pub mod snapshot;
pub mod synthetic;
pub mod transport;
pub mod verify;
