//! In-process transport to a simulated device.

use crate::{DeviceOutput, SimulatedLedger};
use por_attest_ceremony::transport::{Exchange, TransportError};

/// Exchanges APDUs with a [`SimulatedLedger`] in the same process.
#[derive(Debug, Clone)]
pub struct InProcessTransport {
    device: SimulatedLedger,
}

impl InProcessTransport {
    /// A transport to `device`.
    pub fn new(device: SimulatedLedger) -> Self {
        InProcessTransport { device }
    }

    /// The device behind this transport.
    pub fn device(&self) -> &SimulatedLedger {
        &self.device
    }
}

impl Exchange for InProcessTransport {
    fn exchange(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        match self.device.process(apdu) {
            DeviceOutput::Reply(r) => Ok(r),
            DeviceOutput::Garbage(g) => Err(TransportError::Malformed(format!(
                "reply of {} byte(s) has no status word",
                g.len()
            ))),
            DeviceOutput::Disconnect => Err(TransportError::Disconnected),
        }
    }
}
