//! Our own timeout around a transport whose exchange can block for hours (USB HID through
//! `ledger-transport-hid` reads with a timeout of about three hours).
//!
//! [`TimeoutTransport`] owns the inner transport on a helper thread and waits for each reply
//! at most the configured time. After a timeout the helper may still be blocked in the old
//! exchange (and its late reply would be taken for the answer to the next command), so the
//! transport is unusable from then on: every later exchange fails at once, telling the user
//! to reconnect the device and run the command again.

use super::{Exchange, TransportError};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

/// A transport run on a helper thread with a per-exchange timeout.
pub struct TimeoutTransport {
    requests: Option<Sender<Vec<u8>>>,
    replies: Receiver<Result<Vec<u8>, TransportError>>,
    timeout: Duration,
    broken: Option<&'static str>,
    label: String,
}

impl std::fmt::Debug for TimeoutTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimeoutTransport")
            .field("label", &self.label)
            .field("timeout", &self.timeout)
            .field("broken", &self.broken)
            .finish()
    }
}

impl TimeoutTransport {
    /// Moves `inner` to a helper thread; each exchange waits at most `timeout` for its reply.
    /// `label` names the device in messages (e.g. the HID path).
    pub fn spawn<E>(inner: E, timeout: Duration, label: impl Into<String>) -> Self
    where
        E: Exchange + Send + 'static,
    {
        let (req_tx, req_rx) = mpsc::channel::<Vec<u8>>();
        let (rep_tx, rep_rx) = mpsc::channel();
        let mut inner = inner;
        std::thread::Builder::new()
            .name("device-exchange".into())
            .spawn(move || {
                for apdu in req_rx {
                    let reply = inner.exchange(&apdu);
                    if rep_tx.send(reply).is_err() {
                        break;
                    }
                }
            })
            .expect("spawn the device exchange thread");
        TimeoutTransport {
            requests: Some(req_tx),
            replies: rep_rx,
            timeout,
            broken: None,
            label: label.into(),
        }
    }

    /// The per-exchange timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// True once an exchange timed out or the helper thread ended: the transport is unusable.
    pub fn is_broken(&self) -> bool {
        self.broken.is_some()
    }
}

impl Exchange for TimeoutTransport {
    fn exchange(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        if let Some(why) = self.broken {
            return Err(TransportError::Io(std::io::Error::other(format!(
                "the connection to {} is unusable after {why}: reconnect the device and run the command again",
                self.label
            ))));
        }
        let sent = self
            .requests
            .as_ref()
            .is_some_and(|tx| tx.send(apdu.to_vec()).is_ok());
        if !sent {
            self.broken = Some("its exchange thread ended");
            return Err(TransportError::Disconnected);
        }
        match self.replies.recv_timeout(self.timeout) {
            Ok(reply) => reply,
            Err(RecvTimeoutError::Timeout) => {
                self.broken = Some("a timeout");
                Err(TransportError::Timeout)
            }
            Err(RecvTimeoutError::Disconnected) => {
                self.broken = Some("its exchange thread ended");
                Err(TransportError::Disconnected)
            }
        }
    }
}

impl Drop for TimeoutTransport {
    fn drop(&mut self) {
        // Closing the request channel ends the helper once its current exchange returns; a
        // helper stuck in a dead exchange is left to finish (or to end with the process).
        self.requests.take();
    }
}
