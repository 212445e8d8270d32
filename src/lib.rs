//! por-attest: prove that an exchange controls the reserve addresses of its Proof-of-Reserves
//! snapshot. Sign on Ledger devices during the ceremony; verify offline.
//!
//! This package is the command-line tool. Its library re-exports the workspace's crates under
//! one name: the verifier ([`por_attest_verify`]), the ceremony ([`por_attest_ceremony`]) and
//! the simulated Ledger with test fixtures ([`por_attest_simulator`]); it adds what joins them:
//! the `--device` spellings, the device listing and the demo.

pub use por_attest_ceremony::{
    air_gapped, ceremony, journal, manifest, package, pkcs11, signer, signers,
};
pub use por_attest_reserves as reserves;
pub use por_attest_simulator as simulator;
pub use por_attest_simulator::{fixtures, synthetic, synthetic_accounts};
pub use por_attest_verify::{
    account, balance, bip322_proofs, chains, claim, error, exchange, html, htx, input, liabilities,
    message, okx, report, schemes, snapshot, verify,
};

pub mod air_gapped_commands;
pub mod demo;
pub mod device;
pub mod devices;
pub mod hsm;
pub mod hwi_demo;
pub mod key_services;
#[cfg(feature = "aws-kms")]
pub mod kms;
pub mod solvency;

/// Transports: the ceremony's ([`por_attest_ceremony::transport`]) and the simulator's
/// in-process one.
pub mod transport {
    pub use por_attest_ceremony::transport::*;
    pub use por_attest_simulator::InProcessTransport;
}
