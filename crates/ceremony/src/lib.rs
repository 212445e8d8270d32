#![warn(missing_docs)]
//! por-attest's ceremony: the manifest, the signing loop that drives the exchange's signers, the
//! journal that survives a crash, and packaging the journals into a snapshot.

pub mod air_gapped;
pub mod bip322_psbt;
pub mod ceremony;
pub mod journal;
#[cfg(feature = "aws-kms")]
pub mod kms;
pub mod manifest;
pub mod package;
pub mod path;
pub mod pkcs11;
pub mod signer;
pub mod signers;
pub mod time;
pub mod transport;
