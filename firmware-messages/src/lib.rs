#![warn(missing_docs)]
//! Sans-IO wire messages of the Ledger Bitcoin app (app-bitcoin-new, protocol of app 2.1+),
//! the Ledger Ethereum app, the Ledger TRON app and the Ledger dashboard.
//!
//! Every message has both directions: the host builds commands and parses responses, the
//! device (our simulator) parses commands and builds responses. Nothing here does I/O; every
//! decoder returns a typed [`DecodeError`] on bad input and never panics.
//!
//! Modules:
//! - [`apdu`]: short APDU commands and responses;
//! - [`status`]: status words with their meaning;
//! - [`path`]: BIP-32 derivation paths (text and wire form);
//! - [`dashboard`]: get app and version, open app, quit app;
//! - [`app_configuration`]: get app configuration, shared by the Ethereum and Tron apps;
//! - [`ethereum`]: get address, get app configuration, sign personal message (chunked);
//! - [`tron`]: the TRON app's get address, get app configuration, sign personal message;
//! - [`personal_message`]: the chunked personal-message layout both of those apps share;
//! - [`bitcoin`]: commands, client-command interrupt loop, merkle trees and maps, wallet
//!   policies, and the host-side and device-side drivers of the interrupt loop.

pub mod apdu;
pub mod app_configuration;
pub mod bitcoin;
pub mod codec;
pub mod dashboard;
pub mod ethereum;
mod key_address;
pub mod path;
pub mod personal_message;
pub mod status;
pub mod tron;

pub use apdu::{Command, Response};
pub use codec::DecodeError;
pub use path::Bip32Path;
pub use status::StatusWord;
