//! The signers behind [`crate::signer::Signer`]: [`LedgerSigner`] with the host drivers of the
//! Ledger apps it uses over any [`Exchange`] transport (the dashboard: which app is open, open
//! another; the Bitcoin, Ethereum and TRON apps; they build commands and parse replies with
//! `firmware-messages`, the transport only moves bytes), and the single-key stores behind the
//! digest-signer core ([`digest`]): [`Pkcs11Signer`] for HSMs, [`KmsSigner`] for AWS KMS (feature
//! `aws-kms`) and [`CommandSigner`] for any service an adapter program speaks for.

pub mod bitcoin_app;
pub mod command;
pub mod dashboard;
pub mod digest;
pub mod ethereum_app;
pub mod hwi;
#[cfg(feature = "aws-kms")]
pub mod kms;
pub mod ledger;
pub mod pkcs11;
pub mod tron_app;

pub use bitcoin_app::BitcoinApp;
pub use command::CommandSigner;
pub use dashboard::{ensure_app, AppKind};
pub use ethereum_app::EthereumApp;
pub use hwi::HwiSigner;
#[cfg(feature = "aws-kms")]
pub use kms::KmsSigner;
pub use ledger::LedgerSigner;
pub use pkcs11::Pkcs11Signer;
pub use tron_app::TronApp;

use crate::transport::TransportError;
use firmware_messages::{Bip32Path, StatusWord};
use thiserror::Error;

/// Why a device operation failed.
#[derive(Debug, Error)]
pub enum DeviceError {
    /// The device went away, timed out or sent something that is not an APDU reply.
    #[error("{0}")]
    Transport(#[from] TransportError),
    /// The user rejected the prompt on the device (0x6985).
    #[error("rejected on the device (0x6985) while {0}")]
    Rejected(String),
    /// The device is locked (0x5515): unlock it with the PIN.
    #[error("the device is locked (0x5515): unlock it with its PIN and run again")]
    Locked,
    /// Another app (or the dashboard) is open.
    #[error(
        "the {expected} app is not open on the device (status {status:04X}): open it and run again"
    )]
    AppNotOpen {
        /// The app that should be open.
        expected: String,
        /// The status word the device answered.
        status: u16,
    },
    /// The wrong app or an unusable version is open.
    #[error("{0}")]
    WrongApp(String),
    /// Any other status word.
    #[error("device answered {status:04X} ({meaning}) while {what}")]
    Status {
        /// The status word.
        status: u16,
        /// What the status word means.
        meaning: &'static str,
        /// What the device was asked to do.
        what: String,
    },
    /// The device cannot do this at all (a scheme or command it lacks).
    #[error("this device cannot do {0}")]
    Unsupported(String),
    /// A PKCS#11 token (HSM) failed or lacks what the task needs (boxed: it is large).
    #[error(transparent)]
    Pkcs11(Box<crate::pkcs11::HsmError>),
    /// HWI failed, timed out or gave no usable answer (boxed: it is large).
    #[error(transparent)]
    Hwi(Box<hwi::HwiError>),
    /// A key service (AWS KMS, a `command` signer's adapter) refused or failed; the message
    /// names the key.
    #[error(transparent)]
    KeyService(Box<dyn std::error::Error + Send + Sync>),
    /// The reply did not parse.
    #[error("garbled reply from the device while {what}: {detail}")]
    BadReply {
        /// What the device was asked to do.
        what: String,
        /// What is wrong with the reply.
        detail: String,
    },
}

impl From<crate::pkcs11::HsmError> for DeviceError {
    fn from(e: crate::pkcs11::HsmError) -> DeviceError {
        DeviceError::Pkcs11(Box::new(e))
    }
}

impl DeviceError {
    /// The error for a non-OK status word during `what`.
    pub fn from_status(status: StatusWord, what: &str, app: &str) -> DeviceError {
        match status {
            StatusWord::DENY => DeviceError::Rejected(what.to_string()),
            StatusWord::LOCKED => DeviceError::Locked,
            StatusWord::CLA_NOT_SUPPORTED
            | StatusWord::APP_NOT_OPEN
            | StatusWord::APP_NOT_OPEN_LEGACY => DeviceError::AppNotOpen {
                expected: app.to_string(),
                status: status.0,
            },
            s => DeviceError::Status {
                status: s.0,
                meaning: s.meaning(),
                what: what.to_string(),
            },
        }
    }

    /// True when the device (or its connection) went away: the run must stop and resume.
    pub fn is_disconnect(&self) -> bool {
        matches!(self, DeviceError::Transport(_))
    }

    pub(crate) fn bad_reply(what: &str, detail: impl std::fmt::Display) -> DeviceError {
        DeviceError::BadReply {
            what: what.to_string(),
            detail: detail.to_string(),
        }
    }
}

/// Our derivation path type as the wire's.
pub fn wire_path(path: &bitcoin::bip32::DerivationPath) -> Bip32Path {
    Bip32Path(path.into_iter().map(|c| u32::from(*c)).collect())
}
