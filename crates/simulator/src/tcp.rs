//! Serving a simulated device over TCP in Speculos framing, one client after another.

use super::{DeviceOutput, SimulatedLedger, SimulatorConfig, SimulatorError};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Largest APDU frame a client may send.
const MAX_REQUEST: usize = 64 * 1024;
/// How often an idle connection checks whether the server is stopping.
const IDLE_POLL: Duration = Duration::from_millis(100);
/// How long the rest of a started request may take to arrive.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves `device` on `listen` until the process ends (the `por-attest simulator` command).
/// `on_listening` is told the bound address (the port chosen when `listen` asks for port 0)
/// once the socket accepts connections.
pub fn serve_tcp(
    listen: SocketAddr,
    config: SimulatorConfig,
    on_listening: impl FnOnce(SocketAddr),
) -> Result<(), SimulatorError> {
    let device = SimulatedLedger::new(config)?;
    let listener = TcpListener::bind(listen).map_err(SimulatorError::Io)?;
    on_listening(listener.local_addr().map_err(SimulatorError::Io)?);
    serve_listener(&listener, &device, &AtomicBool::new(false)).map_err(SimulatorError::Io)
}

/// A server running on a background thread.
#[derive(Debug)]
pub struct TcpServer {
    addr: SocketAddr,
    device: SimulatedLedger,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl TcpServer {
    /// Binds `listen` (port 0 picks a free port) and serves `device` in the background.
    pub fn spawn(listen: SocketAddr, device: SimulatedLedger) -> io::Result<Self> {
        let listener = TcpListener::bind(listen)?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let (d, s) = (device.clone(), stop.clone());
        let thread = std::thread::spawn(move || serve_listener(&listener, &d, &s));
        Ok(TcpServer {
            addr,
            device,
            stop,
            thread: Some(thread),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The device served.
    pub fn device(&self) -> &SimulatedLedger {
        &self.device
    }

    /// Stops accepting clients and waits for the server thread (after the current client).
    pub fn stop(mut self) -> io::Result<()> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> io::Result<()> {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept.
        let _ = TcpStream::connect(self.addr);
        match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| io::Error::other("simulator server thread panicked"))?,
            None => Ok(()),
        }
    }
}

impl Drop for TcpServer {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

fn serve_listener(
    listener: &TcpListener,
    device: &SimulatedLedger,
    stop: &AtomicBool,
) -> io::Result<()> {
    for conn in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        match conn {
            Ok(stream) => {
                // A client's I/O error ends that client only.
                let _ = serve_client(stream, device, stop);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn serve_client(
    mut stream: TcpStream,
    device: &SimulatedLedger,
    stop: &AtomicBool,
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    loop {
        // Wait for the next request, polling the stop flag while the client is idle.
        let mut len = [0u8; 4];
        stream.set_read_timeout(Some(IDLE_POLL))?;
        loop {
            if stop.load(Ordering::SeqCst) {
                return Ok(());
            }
            match stream.read(&mut len[..1]) {
                Ok(0) => return Ok(()),
                Ok(_) => break,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) =>
                {
                    continue
                }
                Err(e) => return Err(e),
            }
        }
        stream.set_read_timeout(Some(REQUEST_TIMEOUT))?;
        stream.read_exact(&mut len[1..])?;
        let n = u32::from_be_bytes(len) as usize;
        if n > MAX_REQUEST {
            return Ok(());
        }
        let mut apdu = vec![0u8; n];
        stream.read_exact(&mut apdu)?;
        match device.process(&apdu) {
            DeviceOutput::Reply(reply) => {
                let data_len = reply.len().saturating_sub(2) as u32;
                let mut frame = data_len.to_be_bytes().to_vec();
                frame.extend_from_slice(&reply);
                stream.write_all(&frame)?;
            }
            DeviceOutput::Garbage(_) => {
                // A length no client accepts, then hang up.
                stream.write_all(&u32::MAX.to_be_bytes())?;
                return Ok(());
            }
            DeviceOutput::Disconnect => return Ok(()),
        }
    }
}
