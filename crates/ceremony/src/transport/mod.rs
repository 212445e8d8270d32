//! Transports move raw APDU bytes to a device and back; they know nothing of the protocol
//! (that lives in `firmware-messages`).
//!
//! The contract is [`Exchange`]: one APDU out, one reply in, where the reply is the response
//! data followed by the two status-word bytes (exactly what a Ledger returns over USB).
//! Exchanges are synchronous; callers that need async run them on a blocking thread.
//!
//! - the simulator crate's in-process transport: straight into a simulated Ledger;
//! - [`TcpTransport`]: Speculos framing over TCP (also what `por-attest simulator` serves);
//! - `hid` (feature `hid`): a Ledger over USB, run through [`TimeoutTransport`] (our own
//!   per-exchange timeout around a transport that would otherwise block for hours).

#[cfg(feature = "hid")]
pub mod hid;
mod tcp;
mod timeout;

pub use tcp::{TcpTransport, DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT, MAX_FRAME};
pub use timeout::TimeoutTransport;

use firmware_messages::{Command, Response};
use thiserror::Error;

/// Why an exchange failed.
#[derive(Debug, Error)]
pub enum TransportError {
    /// The device went away (connection closed or reset, simulated unplug).
    #[error("device disconnected")]
    Disconnected,
    /// No answer in time.
    #[error("timed out waiting for the device")]
    Timeout,
    /// The reply does not follow the framing or is not an APDU response.
    #[error("malformed reply: {0}")]
    Malformed(String),
    /// The command could not be encoded.
    #[error("cannot encode command: {0}")]
    Encode(#[from] firmware_messages::apdu::EncodeError),
    /// Other I/O failure.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// One raw APDU exchange with a device.
pub trait Exchange {
    /// Sends `apdu`; returns the reply as data followed by SW1 SW2 (at least 2 bytes).
    fn exchange(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError>;

    /// Sends a typed command and parses the reply.
    fn send(&mut self, command: &Command) -> Result<Response, TransportError> {
        let raw = self.exchange(&command.encode()?)?;
        Response::decode(&raw).map_err(|e| TransportError::Malformed(e.to_string()))
    }
}

impl<T: Exchange + ?Sized> Exchange for &mut T {
    fn exchange(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        (**self).exchange(apdu)
    }
}

impl<T: Exchange + ?Sized> Exchange for Box<T> {
    fn exchange(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        (**self).exchange(apdu)
    }
}
