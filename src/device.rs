//! Which device a command talks to: `sim` (the built-in simulator, in-process),
//! `tcp:HOST:PORT` (Speculos, or `por-attest simulator`), `hid` / `hid:SERIAL_OR_PATH` (a
//! Ledger over USB).

use crate::signer::Signer;
use crate::signers::LedgerSigner;
use crate::simulator::{SimulatedLedger, SimulatorConfig};
use crate::transport::{Exchange, TcpTransport, DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;
use thiserror::Error;

/// Why the device a spelling names could not be reached.
#[derive(Debug, Error)]
pub enum ConnectError {
    /// The built-in simulator could not start (a bad mnemonic).
    #[error("simulator: {0}")]
    Simulator(#[from] crate::simulator::SimulatorError),
    /// Nothing answers at the TCP address.
    #[error(
        "cannot reach tcp:{addr}: {source} (is Speculos or `por-attest simulator` running and listening there?)"
    )]
    Tcp {
        /// The address tried.
        addr: String,
        /// What the connection said.
        source: crate::transport::TransportError,
    },
    /// No Ledger on USB could be listed, chosen or opened.
    #[cfg(feature = "hid")]
    #[error(transparent)]
    Usb(#[from] crate::transport::hid::UsbError),
    /// This build has no USB transport.
    #[error("this build has no USB support (built without the `hid` feature): rebuild with default features, or use tcp:HOST:PORT")]
    NoUsbSupport,
}

/// A device named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceSpec {
    /// The built-in simulator, in-process, with this mnemonic (default: Speculos's).
    Sim { mnemonic: Option<String> },
    /// Speculos framing over TCP.
    Tcp { addr: String },
    /// A Ledger over USB HID: the only one connected, or the one with this serial or path.
    Hid { which: Option<String> },
}

impl DeviceSpec {
    /// True for the built-in simulator (which a release ceremony refuses).
    pub fn is_simulator(&self) -> bool {
        matches!(self, DeviceSpec::Sim { .. })
    }
}

impl FromStr for DeviceSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s == "sim" {
            return Ok(DeviceSpec::Sim { mnemonic: None });
        }
        if let Some(words) = s.strip_prefix("sim:") {
            return Ok(DeviceSpec::Sim {
                mnemonic: Some(words.to_string()),
            });
        }
        if let Some(addr) = s.strip_prefix("tcp:") {
            if !addr.contains(':') {
                return Err(format!("`{s}`: expected tcp:HOST:PORT"));
            }
            return Ok(DeviceSpec::Tcp {
                addr: addr.to_string(),
            });
        }
        if s == "hid" {
            return Ok(DeviceSpec::Hid { which: None });
        }
        if let Some(which) = s.strip_prefix("hid:") {
            return Ok(DeviceSpec::Hid {
                which: Some(which.to_string()),
            });
        }
        Err(format!(
            "unknown device `{s}`: use sim, tcp:HOST:PORT, hid or hid:SERIAL_OR_PATH"
        ))
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceSpec::Sim { mnemonic: None } => write!(f, "sim"),
            DeviceSpec::Sim { mnemonic: Some(_) } => write!(f, "sim:<mnemonic>"),
            DeviceSpec::Tcp { addr } => write!(f, "tcp:{addr}"),
            DeviceSpec::Hid { which: None } => write!(f, "hid"),
            DeviceSpec::Hid { which: Some(w) } => write!(f, "hid:{w}"),
        }
    }
}

/// Opens the signer the spelling names: every spelling today reaches a Ledger (or the
/// simulated one), driven through its apps. A new kind of device adds its spelling here.
pub fn open_signer(spec: &DeviceSpec) -> Result<Box<dyn Signer>, ConnectError> {
    Ok(Box::new(LedgerSigner::new(connect(spec)?)))
}

/// Opens a transport to the device, with the default timeouts (a reply may take up to
/// [`DEFAULT_READ_TIMEOUT`]: the user may be reading the device's screen).
pub fn connect(spec: &DeviceSpec) -> Result<Box<dyn Exchange + Send>, ConnectError> {
    connect_with(spec, DEFAULT_READ_TIMEOUT)
}

/// Opens a transport to the device; each exchange fails with
/// [`crate::transport::TransportError::Timeout`] after `timeout` without a reply (the
/// built-in in-process simulator answers at once and has no timeout).
pub fn connect_with(
    spec: &DeviceSpec,
    timeout: Duration,
) -> Result<Box<dyn Exchange + Send>, ConnectError> {
    match spec {
        DeviceSpec::Sim { mnemonic } => {
            let config = match mnemonic {
                Some(m) => SimulatorConfig::with_mnemonic(m),
                None => SimulatorConfig::default(),
            };
            let sim = SimulatedLedger::new(config)?;
            Ok(Box::new(sim.transport()))
        }
        DeviceSpec::Tcp { addr } => {
            TcpTransport::connect_with(addr, DEFAULT_CONNECT_TIMEOUT, timeout)
                .map(|t| Box::new(t) as Box<dyn Exchange + Send>)
                .map_err(|source| ConnectError::Tcp {
                    addr: addr.clone(),
                    source,
                })
        }
        #[cfg(feature = "hid")]
        DeviceSpec::Hid { which } => crate::transport::hid::open(which.as_deref(), timeout)
            .map(|t| Box::new(t) as Box<dyn Exchange + Send>)
            .map_err(ConnectError::from),
        #[cfg(not(feature = "hid"))]
        DeviceSpec::Hid { .. } => Err(ConnectError::NoUsbSupport),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_device_names() {
        assert_eq!("sim".parse(), Ok(DeviceSpec::Sim { mnemonic: None }));
        assert_eq!(
            "tcp:127.0.0.1:9999".parse(),
            Ok(DeviceSpec::Tcp {
                addr: "127.0.0.1:9999".into()
            })
        );
        assert_eq!("hid".parse(), Ok(DeviceSpec::Hid { which: None }));
        assert!("tcp:nohost".parse::<DeviceSpec>().is_err());
        assert!("usb".parse::<DeviceSpec>().is_err());
    }
}
