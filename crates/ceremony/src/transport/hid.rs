//! USB HID transport to a Ledger (through `ledger-transport-hid` and `hidapi`).
//!
//! `ledger-transport-hid` blocks on each read for hours, so [`open`] returns the device
//! wrapped in a [`TimeoutTransport`]: every exchange waits at most the given timeout; after a
//! timeout the connection is unusable (reconnect the device and run again).

use super::{Exchange, TimeoutTransport, TransportError};
use ledger_transport_hid::hidapi::{DeviceInfo, HidApi};
use ledger_transport_hid::{LedgerHIDError, TransportNativeHID};
use std::time::Duration;
use thiserror::Error;

/// Why a Ledger on USB could not be listed, chosen or opened; the text says what to do.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UsbError {
    /// hidapi could not enumerate the bus.
    #[error("cannot list USB HID devices: {0}")]
    Hidapi(String),
    /// No Ledger is connected (or the system hides it).
    #[error("{}", no_ledger_message())]
    NoLedger,
    /// Several are connected and none was named.
    #[error("{count} Ledgers are connected; name one with --device hid:SERIAL_OR_PATH:\n{list}")]
    Several {
        /// How many.
        count: usize,
        /// One line per device.
        list: String,
    },
    /// None has the path or serial named.
    #[error("no connected Ledger has the path or serial `{which}`; connected:\n{list}")]
    NoMatch {
        /// The path or serial named.
        which: String,
        /// One line per device.
        list: String,
    },
    /// Several report the serial named.
    #[error("several Ledgers report the serial `{which}`; name one by path:\n{list}")]
    SerialAmbiguous {
        /// The serial named.
        which: String,
        /// One line per device.
        list: String,
    },
    /// The device was found but could not be opened (with the guidance for the cause).
    #[error("{0}")]
    Open(String),
}

/// Ledger's USB vendor id.
pub const LEDGER_VENDOR_ID: u16 = 0x2c97;

/// Where the udev rules file lives in the source tree, and how to install it.
pub const UDEV_GUIDANCE: &str = "On Linux, allow your user to open Ledger devices: install the udev rules shipped with por-attest:\n  sudo cp udev/20-ledger.rules /etc/udev/rules.d/\n  sudo udevadm control --reload-rules && sudo udevadm trigger\nthen unplug and replug the Ledger.";

/// One Ledger seen on the USB bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerUsb {
    /// The OS path of the HID interface (e.g. `/dev/hidraw3`): unique per connected device.
    pub path: String,
    /// The USB serial number (Ledger Nano devices often all report the same one).
    pub serial: Option<String>,
    /// The USB product string (e.g. `Nano S Plus`).
    pub product: Option<String>,
    /// The USB product id.
    pub product_id: u16,
}

impl LedgerUsb {
    fn from_info(d: &DeviceInfo) -> Self {
        LedgerUsb {
            path: d.path().to_string_lossy().into_owned(),
            serial: d
                .serial_number()
                .map(str::to_string)
                .filter(|s| !s.is_empty()),
            product: d
                .product_string()
                .map(str::to_string)
                .filter(|s| !s.is_empty()),
            product_id: d.product_id(),
        }
    }

    /// A one-line description: product, serial and path.
    pub fn describe(&self) -> String {
        format!(
            "{} (serial {}, path {})",
            self.product.as_deref().unwrap_or("Ledger"),
            self.serial.as_deref().unwrap_or("-"),
            self.path
        )
    }
}

fn hidapi() -> Result<HidApi, UsbError> {
    HidApi::new().map_err(|e| UsbError::Hidapi(e.to_string()))
}

/// The Ledgers connected over USB.
pub fn list_ledgers() -> Result<Vec<LedgerUsb>, UsbError> {
    let api = hidapi()?;
    let mut out: Vec<LedgerUsb> = TransportNativeHID::list_ledgers(&api)
        .map(LedgerUsb::from_info)
        .collect();
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out.dedup_by(|a, b| a.path == b.path);
    Ok(out)
}

/// The guidance when no Ledger is found.
pub fn no_ledger_message() -> String {
    format!(
        "no Ledger found on USB: connect the device, unlock it with its PIN and close Ledger Live (it holds the device). If the device is connected and unlocked, the system may hide it from your user.\n{UDEV_GUIDANCE}"
    )
}

/// Picks the device named by `which` (a path or a serial), or the only one when `None`.
pub fn select<'a>(
    ledgers: &'a [LedgerUsb],
    which: Option<&str>,
) -> Result<&'a LedgerUsb, UsbError> {
    let list = || {
        ledgers
            .iter()
            .map(|l| format!("  hid:{}  {}", l.path, l.describe()))
            .collect::<Vec<_>>()
            .join("\n")
    };
    match which {
        None => match ledgers {
            [] => Err(UsbError::NoLedger),
            [one] => Ok(one),
            _ => Err(UsbError::Several {
                count: ledgers.len(),
                list: list(),
            }),
        },
        Some(w) => {
            if let Some(l) = ledgers.iter().find(|l| l.path == w) {
                return Ok(l);
            }
            let by_serial: Vec<&LedgerUsb> = ledgers
                .iter()
                .filter(|l| l.serial.as_deref() == Some(w))
                .collect();
            match by_serial.as_slice() {
                [one] => Ok(one),
                [] if ledgers.is_empty() => Err(UsbError::NoLedger),
                [] => Err(UsbError::NoMatch {
                    which: w.to_string(),
                    list: list(),
                }),
                _ => Err(UsbError::SerialAmbiguous {
                    which: w.to_string(),
                    list: list(),
                }),
            }
        }
    }
}

/// Adds the udev guidance when opening failed for lack of permission.
pub fn open_error_message(device: &LedgerUsb, error: &str) -> String {
    let denied = error.contains("Permission denied") || error.contains("EACCES");
    if denied {
        format!(
            "cannot open {}: permission denied.\n{UDEV_GUIDANCE}",
            device.describe()
        )
    } else {
        format!(
            "cannot open {}: {error} (is Ledger Live or another program using the device?)",
            device.describe()
        )
    }
}

/// Opens the Ledger named by `which` (or the only one); each exchange times out after
/// `timeout`.
pub fn open(which: Option<&str>, timeout: Duration) -> Result<TimeoutTransport, UsbError> {
    let api = hidapi()?;
    let ledgers: Vec<LedgerUsb> = TransportNativeHID::list_ledgers(&api)
        .map(LedgerUsb::from_info)
        .collect();
    let chosen = select(&ledgers, which)?.clone();
    let info = TransportNativeHID::list_ledgers(&api)
        .find(|d| d.path().to_string_lossy() == chosen.path)
        .ok_or(UsbError::NoLedger)?;
    let device = TransportNativeHID::open_device(&api, info)
        .map_err(|e| UsbError::Open(open_error_message(&chosen, &hid_error_text(&e))))?;
    Ok(TimeoutTransport::spawn(
        HidExchange { device },
        timeout,
        chosen.describe(),
    ))
}

fn hid_error_text(e: &LedgerHIDError) -> String {
    match e {
        LedgerHIDError::Hid(h) => h.to_string(),
        other => other.to_string(),
    }
}

/// Raw APDU exchange over `TransportNativeHID` (blocking; use it through [`open`]).
pub struct HidExchange {
    device: TransportNativeHID,
}

impl Exchange for HidExchange {
    fn exchange(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        let command = to_apdu_command(apdu)?;
        let answer = self.device.exchange(&command).map_err(|e| match e {
            LedgerHIDError::Comm(what) => TransportError::Malformed(what.to_string()),
            LedgerHIDError::Io(io) => TransportError::Io(io),
            other => TransportError::Io(std::io::Error::other(format!(
                "USB: {} (was the device unplugged?)",
                hid_error_text(&other)
            ))),
        })?;
        let mut reply = answer.apdu_data().to_vec();
        reply.extend_from_slice(&answer.retcode().to_be_bytes());
        Ok(reply)
    }
}

/// Splits raw APDU bytes (header, optional Lc, data) into `ledger-transport`'s command.
fn to_apdu_command(apdu: &[u8]) -> Result<ledger_transport::APDUCommand<Vec<u8>>, TransportError> {
    let bad = |why: &str| TransportError::Malformed(format!("cannot send APDU: {why}"));
    let (header, rest) = apdu
        .split_first_chunk::<4>()
        .ok_or_else(|| bad("shorter than its 4-byte header"))?;
    let data = match rest.split_first() {
        None => Vec::new(),
        Some((&lc, data)) if data.len() == lc as usize => data.to_vec(),
        Some(_) => return Err(bad("Lc does not match the data length")),
    };
    Ok(ledger_transport::APDUCommand {
        cla: header[0],
        ins: header[1],
        p1: header[2],
        p2: header[3],
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger(path: &str, serial: &str) -> LedgerUsb {
        LedgerUsb {
            path: path.into(),
            serial: Some(serial.into()),
            product: Some("Nano S Plus".into()),
            product_id: 0x5011,
        }
    }

    #[test]
    fn picks_the_only_ledger_or_asks() {
        let e = select(&[], None).unwrap_err().to_string();
        assert!(
            e.contains("no Ledger found") && e.contains("udevadm"),
            "{e}"
        );
        let one = [ledger("/dev/hidraw1", "0001")];
        assert_eq!(select(&one, None).unwrap().path, "/dev/hidraw1");
        let two = [
            ledger("/dev/hidraw1", "0001"),
            ledger("/dev/hidraw4", "0001"),
        ];
        let e = select(&two, None).unwrap_err().to_string();
        assert!(
            e.contains("hid:SERIAL_OR_PATH")
                && e.contains("hid:/dev/hidraw1")
                && e.contains("hid:/dev/hidraw4"),
            "{e}"
        );
    }

    #[test]
    fn picks_by_path_or_unique_serial() {
        let two = [
            ledger("/dev/hidraw1", "0001"),
            ledger("/dev/hidraw4", "0002"),
        ];
        assert_eq!(
            select(&two, Some("/dev/hidraw4"))
                .unwrap()
                .serial
                .as_deref(),
            Some("0002")
        );
        assert_eq!(select(&two, Some("0001")).unwrap().path, "/dev/hidraw1");
        assert!(select(&two, Some("/dev/hidraw9"))
            .unwrap_err()
            .to_string()
            .contains("no connected Ledger"));
        let same = [
            ledger("/dev/hidraw1", "0001"),
            ledger("/dev/hidraw4", "0001"),
        ];
        assert!(select(&same, Some("0001"))
            .unwrap_err()
            .to_string()
            .contains("by path"));
    }

    #[test]
    fn permission_denied_points_to_udev_rules() {
        let l = ledger("/dev/hidraw1", "0001");
        let m = open_error_message(
            &l,
            "hidapi error: Failed to open a device with path '/dev/hidraw1': Permission denied",
        );
        assert!(
            m.contains("udev/20-ledger.rules") && m.contains("udevadm trigger"),
            "{m}"
        );
        assert!(!open_error_message(&l, "Device or resource busy").contains("udevadm"));
    }

    #[test]
    fn apdu_bytes_split_into_a_command() {
        let c = to_apdu_command(&[0xE1, 0x05, 0, 0, 2, 0xAA, 0xBB]).unwrap();
        assert_eq!(c.serialize(), vec![0xE1, 0x05, 0, 0, 2, 0xAA, 0xBB]);
        let c = to_apdu_command(&[0xB0, 0x01, 0, 0]).unwrap();
        assert_eq!(c.serialize(), vec![0xB0, 0x01, 0, 0, 0]);
        assert!(to_apdu_command(&[0xB0, 0x01]).is_err());
        assert!(to_apdu_command(&[0xE1, 0x05, 0, 0, 3, 0xAA]).is_err());
    }
}
