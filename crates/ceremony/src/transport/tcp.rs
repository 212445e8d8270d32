//! TCP transport in Speculos framing: request = 4-byte BE length + APDU; reply = 4-byte BE
//! length N of the data, N data bytes, then the 2-byte status word.

use super::{Exchange, TransportError};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Default connect timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default read timeout (long: a user may take time to confirm on the device).
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(300);
/// Largest reply data accepted.
pub const MAX_FRAME: usize = 64 * 1024;

/// A connection to Speculos or `por-attest simulator`.
#[derive(Debug)]
pub struct TcpTransport {
    stream: TcpStream,
    peer: SocketAddr,
}

fn map_io(e: std::io::Error) -> TransportError {
    match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => TransportError::Timeout,
        ErrorKind::UnexpectedEof
        | ErrorKind::ConnectionReset
        | ErrorKind::ConnectionAborted
        | ErrorKind::BrokenPipe => TransportError::Disconnected,
        _ => TransportError::Io(e),
    }
}

impl TcpTransport {
    /// Connects with the default timeouts.
    pub fn connect(addr: impl ToSocketAddrs) -> Result<Self, TransportError> {
        Self::connect_with(addr, DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT)
    }

    /// Connects with explicit connect and read timeouts.
    pub fn connect_with(
        addr: impl ToSocketAddrs,
        connect_timeout: Duration,
        read_timeout: Duration,
    ) -> Result<Self, TransportError> {
        let mut last = None;
        for a in addr.to_socket_addrs()? {
            match TcpStream::connect_timeout(&a, connect_timeout) {
                Ok(stream) => {
                    stream.set_read_timeout(Some(read_timeout))?;
                    stream.set_write_timeout(Some(connect_timeout.max(read_timeout)))?;
                    stream.set_nodelay(true)?;
                    return Ok(TcpTransport { stream, peer: a });
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.map(map_io).unwrap_or(TransportError::Disconnected))
    }

    /// The address connected to.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }
}

impl Exchange for TcpTransport {
    fn exchange(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        let mut frame = (apdu.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(apdu);
        self.stream.write_all(&frame).map_err(map_io)?;
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len).map_err(map_io)?;
        let n = u32::from_be_bytes(len) as usize;
        if n > MAX_FRAME {
            return Err(TransportError::Malformed(format!(
                "reply length {n} too large"
            )));
        }
        let mut reply = vec![0u8; n + 2];
        self.stream.read_exact(&mut reply).map_err(map_io)?;
        Ok(reply)
    }
}
