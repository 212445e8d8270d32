//! `por-attest devices`: which Ledgers are connected, which app each has open (and its
//! version), the master fingerprint when the Bitcoin app is open, and what the user must do
//! when a device is not ready (unlock it, open an app, update an app, fix USB permissions).

use crate::device::{connect_with, ConnectError, DeviceSpec};
use crate::signers::dashboard::app_and_version;
use crate::signers::{ensure_app, AppKind, BitcoinApp, DeviceError};
use crate::transport::Exchange;
use bitcoin::bip32::Fingerprint;
use firmware_messages::dashboard::DASHBOARD_NAME;
use std::fmt;
use std::time::Duration;

/// The state and guidance of a locked device.
fn locked() -> (DeviceState, bool, Option<String>) {
    (
        DeviceState::Locked,
        false,
        Some("the device is locked (0x5515): unlock it with its PIN, then run again".into()),
    )
}

/// How long a probe waits for each reply (nothing is shown on the device).
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a probe waits for each reply when it asks the dashboard to open an app (the user
/// confirms on the device).
pub const OPEN_TIMEOUT: Duration = Duration::from_secs(120);

/// What a device is doing, as far as the probe could tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceState {
    /// Locked (status 0x5515): the PIN must be entered.
    Locked,
    /// The dashboard is showing; no app is open.
    Dashboard {
        /// The OS version the dashboard reports.
        os_version: String,
    },
    /// The Bitcoin app (`Bitcoin`, or `Bitcoin Test` on test networks) is open.
    Bitcoin {
        /// The name the app reports.
        name: String,
        /// The app version.
        version: String,
        /// The BIP-32 master fingerprint (absent if it could not be read).
        fingerprint: Option<Fingerprint>,
    },
    /// The Ethereum app is open.
    Ethereum {
        /// The app version.
        version: String,
    },
    /// The TRON app is open.
    Tron {
        /// The app version.
        version: String,
    },
    /// Another app is open.
    OtherApp {
        /// The name the app reports.
        name: String,
        /// The app version.
        version: String,
    },
    /// The device could not be opened or did not answer like a Ledger.
    Unreachable {
        /// Why.
        reason: String,
    },
}

/// One device and what the probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// The `--device` value that names this device.
    pub device: String,
    /// The USB product string (USB devices only).
    pub product: Option<String>,
    /// The USB serial number (USB devices only).
    pub serial: Option<String>,
    /// The probe's finding.
    pub state: DeviceState,
    /// True when a ceremony can start on it now (Bitcoin, Ethereum or TRON app open, recent
    /// enough).
    pub ready: bool,
    /// What the user should do, when something is needed.
    pub guidance: Option<String>,
}

impl fmt::Display for DeviceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceState::Locked => write!(f, "locked"),
            DeviceState::Dashboard { os_version } => {
                write!(f, "dashboard open (OS {os_version}), no app")
            }
            DeviceState::Bitcoin {
                name,
                version,
                fingerprint,
            } => {
                write!(f, "{name} app {version}")?;
                match fingerprint {
                    Some(fp) => write!(f, ", master fingerprint {fp}"),
                    None => write!(f, ", master fingerprint unknown"),
                }
            }
            DeviceState::Ethereum { version } => write!(f, "Ethereum app {version}"),
            DeviceState::Tron { version } => write!(f, "Tron app {version}"),
            DeviceState::OtherApp { name, version } => write!(f, "{name} app {version}"),
            DeviceState::Unreachable { reason } => write!(f, "not usable: {reason}"),
        }
    }
}

impl DeviceInfo {
    /// A human report of a few lines.
    pub fn to_human(&self) -> String {
        let mut s = self.device.clone();
        if self.product.is_some() || self.serial.is_some() {
            s.push_str(&format!(
                "  [{}{}]",
                self.product.as_deref().unwrap_or("Ledger"),
                self.serial
                    .as_deref()
                    .map(|x| format!(", serial {x}"))
                    .unwrap_or_default()
            ));
        }
        s.push_str(&format!(
            "\n  {}{}\n",
            self.state,
            if self.ready { " — ready" } else { "" }
        ));
        if let Some(g) = &self.guidance {
            for line in g.lines() {
                s.push_str(&format!("  → {line}\n"));
            }
        }
        s
    }
}

fn open_hint(device: &str) -> String {
    format!(
        "open the Bitcoin app (Bitcoin addresses), the Ethereum app (Ethereum and EVM addresses) or the Tron app (TRON addresses) on the device, or run `por-attest devices --device {device} --open bitcoin` (or `--open ethereum`, `--open tron`) to have the dashboard open it (confirm on the device)"
    )
}

fn unreachable(e: &DeviceError) -> DeviceState {
    let reason = match e {
        DeviceError::BadReply { detail, .. } => {
            format!("the device sent a reply that is not a Ledger answer ({detail})")
        }
        other => other.to_string(),
    };
    DeviceState::Unreachable { reason }
}

fn unreachable_guidance(device: &str) -> String {
    format!(
        "check the connection to {device}: replug the Ledger (or restart Speculos / `por-attest simulator`), unlock it, and run again"
    )
}

/// Probes the device behind `t`: which app is open and its version, and the master
/// fingerprint when the Bitcoin app is open. With `open`, first asks the dashboard to open
/// that app (quitting another app; the user confirms on the device). `device` is the
/// `--device` value, used in the guidance.
pub fn probe(
    t: &mut (impl Exchange + ?Sized),
    device: &str,
    open: Option<AppKind>,
) -> (DeviceState, bool, Option<String>) {
    let mut open_failure = None;
    if let Some(app) = open {
        match ensure_app(t, app) {
            Ok(_) => {}
            Err(DeviceError::Locked) => {
                return (
                    DeviceState::Locked,
                    false,
                    Some("unlock the device with its PIN, then run again".into()),
                )
            }
            Err(e @ DeviceError::Transport(_)) | Err(e @ DeviceError::BadReply { .. }) => {
                return (unreachable(&e), false, Some(unreachable_guidance(device)))
            }
            Err(DeviceError::Rejected(_)) => {
                open_failure = Some(format!(
                    "opening the {} app was refused on the device",
                    app.name()
                ))
            }
            Err(e) => open_failure = Some(e.to_string()),
        }
    }
    let current = match app_and_version(t) {
        Ok(a) => a,
        Err(DeviceError::Locked) => return locked(),
        Err(e) => return (unreachable(&e), false, Some(unreachable_guidance(device))),
    };
    let join = |a: Option<String>, b: String| match a {
        Some(a) => format!("{a}\n{b}"),
        None => b,
    };
    if current.name == DASHBOARD_NAME {
        return (
            DeviceState::Dashboard {
                os_version: current.version,
            },
            false,
            Some(join(open_failure, open_hint(device))),
        );
    }
    let kind = match current.name.as_str() {
        "Bitcoin" | "Bitcoin Test" => AppKind::Bitcoin,
        "Ethereum" => AppKind::Ethereum,
        firmware_messages::tron::APP_NAME => AppKind::Tron,
        _ => {
            let hint = format!(
                "the {} app is open: quit it on the device, then {}",
                current.name,
                open_hint(device)
            );
            return (
                DeviceState::OtherApp {
                    name: current.name,
                    version: current.version,
                },
                false,
                Some(join(open_failure, hint)),
            );
        }
    };
    // With the right app open, `ensure_app` sends nothing but get-app-and-version and
    // applies the minimum versions the ceremony needs.
    let version_problem = match ensure_app(t, kind) {
        Ok(_) => None,
        Err(DeviceError::Locked) => return locked(),
        Err(e @ DeviceError::Transport(_)) | Err(e @ DeviceError::BadReply { .. }) => {
            return (unreachable(&e), false, Some(unreachable_guidance(device)))
        }
        Err(e) => Some(e.to_string()),
    };
    match kind {
        AppKind::Bitcoin => {
            let (fingerprint, fp_problem) =
                match BitcoinApp::new(&mut *t).master_fingerprint() {
                    Ok(f) => (Some(f), None),
                    Err(DeviceError::Locked) => return (
                        DeviceState::Locked,
                        false,
                        Some(
                            "the device is locked (0x5515): unlock it with its PIN, then run again"
                                .into(),
                        ),
                    ),
                    Err(e) => (
                        None,
                        Some(format!("cannot read the master fingerprint: {e}")),
                    ),
                };
            let guidance = match (version_problem.clone(), fp_problem.clone()) {
                (None, None) => open_failure,
                (a, b) => Some(
                    [open_failure, a, b]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join("\n"),
                ),
            };
            (
                DeviceState::Bitcoin {
                    name: current.name,
                    version: current.version,
                    fingerprint,
                },
                version_problem.is_none() && fp_problem.is_none(),
                guidance,
            )
        }
        AppKind::Ethereum | AppKind::Tron => {
            let ready = version_problem.is_none();
            let guidance = match version_problem {
                None => open_failure,
                Some(v) => Some(join(open_failure, v)),
            };
            let version = current.version;
            let state = if kind == AppKind::Tron {
                DeviceState::Tron { version }
            } else {
                DeviceState::Ethereum { version }
            };
            (state, ready, guidance)
        }
    }
}

/// Probes one device over an open transport and describes it.
pub fn describe(
    t: &mut (impl Exchange + ?Sized),
    device: &str,
    open: Option<AppKind>,
) -> DeviceInfo {
    let (state, ready, guidance) = probe(t, device, open);
    DeviceInfo {
        device: device.to_string(),
        product: None,
        serial: None,
        state,
        ready,
        guidance,
    }
}

/// Lists and probes devices: the one `spec` names, or (with `None`, or `hid` without a name)
/// every Ledger connected over USB. An error means no device could be reached at all.
pub fn list_devices(
    spec: Option<&DeviceSpec>,
    open: Option<AppKind>,
) -> Result<Vec<DeviceInfo>, ConnectError> {
    let timeout = if open.is_some() {
        OPEN_TIMEOUT
    } else {
        PROBE_TIMEOUT
    };
    match spec {
        None | Some(DeviceSpec::Hid { which: None }) => list_usb(open, timeout),
        #[cfg(feature = "hid")]
        Some(DeviceSpec::Hid { which: Some(w) }) => {
            let ledgers = crate::transport::hid::list_ledgers()?;
            let one = crate::transport::hid::select(&ledgers, Some(w))?.clone();
            Ok(vec![probe_usb(&one, open, timeout)])
        }
        Some(spec) => {
            let mut t = connect_with(spec, timeout)?;
            Ok(vec![describe(t.as_mut(), &spec.to_string(), open)])
        }
    }
}

#[cfg(feature = "hid")]
fn list_usb(open: Option<AppKind>, timeout: Duration) -> Result<Vec<DeviceInfo>, ConnectError> {
    let ledgers = crate::transport::hid::list_ledgers()?;
    if ledgers.is_empty() {
        return Err(crate::transport::hid::UsbError::NoLedger.into());
    }
    Ok(ledgers
        .iter()
        .map(|l| probe_usb(l, open, timeout))
        .collect())
}

#[cfg(feature = "hid")]
fn probe_usb(
    l: &crate::transport::hid::LedgerUsb,
    open: Option<AppKind>,
    timeout: Duration,
) -> DeviceInfo {
    let device = format!("hid:{}", l.path);
    let mut info = match crate::transport::hid::open(Some(&l.path), timeout) {
        Ok(mut t) => describe(&mut t, &device, open),
        Err(e) => {
            let e = e.to_string();
            let (reason, guidance) = match e.split_once('\n') {
                Some((first, rest)) => (first.to_string(), Some(rest.to_string())),
                None => (e, None),
            };
            DeviceInfo {
                device: device.clone(),
                product: None,
                serial: None,
                state: DeviceState::Unreachable { reason },
                ready: false,
                guidance,
            }
        }
    };
    info.product = l.product.clone();
    info.serial = l.serial.clone();
    info
}

#[cfg(not(feature = "hid"))]
fn list_usb(_open: Option<AppKind>, _timeout: Duration) -> Result<Vec<DeviceInfo>, ConnectError> {
    Err(ConnectError::NoUsbSupport)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulator::{Fault, RunningApp, SimulatedLedger, SimulatorConfig, TcpServer};
    use crate::transport::TransportError;
    use firmware_messages::dashboard::AppAndVersion;

    fn sim(config: SimulatorConfig) -> SimulatedLedger {
        SimulatedLedger::new(config).unwrap()
    }

    /// Runs `check` on the in-process transport and again over TCP.
    fn both(config: SimulatorConfig, open: Option<AppKind>, check: impl Fn(&DeviceInfo)) {
        let s = sim(config.clone());
        let info = describe(&mut s.transport(), "sim", open);
        check(&info);
        let server = TcpServer::spawn("127.0.0.1:0".parse().unwrap(), sim(config)).unwrap();
        let spec: DeviceSpec = format!("tcp:{}", server.addr()).parse().unwrap();
        let infos = list_devices(Some(&spec), open).unwrap();
        assert_eq!(infos.len(), 1);
        assert_eq!(infos[0].device, spec.to_string());
        check(&infos[0]);
    }

    #[test]
    fn locked() {
        both(
            SimulatorConfig {
                locked: true,
                ..Default::default()
            },
            None,
            |i| {
                assert_eq!(i.state, DeviceState::Locked);
                assert!(!i.ready);
                assert!(i.guidance.as_deref().unwrap().contains("PIN"));
            },
        );
    }

    #[test]
    fn dashboard_tells_which_app_to_open() {
        both(SimulatorConfig::default(), None, |i| {
            assert!(matches!(i.state, DeviceState::Dashboard { .. }), "{i:?}");
            assert!(!i.ready);
            let g = i.guidance.as_deref().unwrap();
            assert!(
                g.contains("Bitcoin app") && g.contains("--open bitcoin"),
                "{g}"
            );
            assert!(g.contains(&i.device), "{g}");
        });
    }

    #[test]
    fn bitcoin_app_gives_fingerprint() {
        let expected = Fingerprint::from(SimulatedLedger::speculos_default().master_fingerprint());
        both(
            SimulatorConfig {
                start_app: RunningApp::Bitcoin,
                ..Default::default()
            },
            None,
            |i| {
                assert_eq!(
                    i.state,
                    DeviceState::Bitcoin {
                        name: "Bitcoin".into(),
                        version: crate::simulator::BITCOIN_APP_VERSION.into(),
                        fingerprint: Some(expected),
                    }
                );
                assert!(i.ready);
                assert_eq!(i.guidance, None);
                assert!(i.to_human().contains(&expected.to_string()));
            },
        );
    }

    #[test]
    fn ethereum_app() {
        both(
            SimulatorConfig {
                start_app: RunningApp::Ethereum,
                ..Default::default()
            },
            None,
            |i| {
                assert_eq!(
                    i.state,
                    DeviceState::Ethereum {
                        version: crate::simulator::ETHEREUM_APP_VERSION.into()
                    }
                );
                assert!(i.ready);
            },
        );
    }

    #[test]
    fn tron_app() {
        both(SimulatorConfig::default(), Some(AppKind::Tron), |i| {
            assert_eq!(
                i.state,
                DeviceState::Tron {
                    version: crate::simulator::TRON_APP_VERSION.into()
                }
            );
            assert!(i.ready);
            assert!(i.to_human().contains("Tron app 0.7.1"));
        });
        let i = describe(&mut FixedApp("Tron", "0.4.5"), "x", None);
        assert!(!i.ready);
        assert!(i.guidance.unwrap().contains("0.4.6 or later"));
    }

    #[test]
    fn open_asks_the_dashboard() {
        both(SimulatorConfig::default(), Some(AppKind::Bitcoin), |i| {
            assert!(
                matches!(
                    i.state,
                    DeviceState::Bitcoin {
                        fingerprint: Some(_),
                        ..
                    }
                ),
                "{i:?}"
            );
            assert!(i.ready);
        });
        // From another app: quits it first.
        both(
            SimulatorConfig {
                start_app: RunningApp::Bitcoin,
                ..Default::default()
            },
            Some(AppKind::Ethereum),
            |i| {
                assert!(matches!(i.state, DeviceState::Ethereum { .. }), "{i:?}");
            },
        );
    }

    #[test]
    fn garbage_reply() {
        both(
            SimulatorConfig {
                faults: vec![Fault::GarbageAt(1)],
                ..Default::default()
            },
            None,
            |i| {
                assert!(matches!(i.state, DeviceState::Unreachable { .. }), "{i:?}");
                assert!(!i.ready);
                assert!(i.guidance.as_deref().unwrap().contains("replug"));
            },
        );
    }

    #[test]
    fn unreachable_tcp_is_an_error() {
        // Bind then drop to get a port nobody listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let spec: DeviceSpec = format!("tcp:127.0.0.1:{port}").parse().unwrap();
        let e = list_devices(Some(&spec), None).unwrap_err();
        assert!(matches!(e, ConnectError::Tcp { .. }), "{e}");
        assert!(e.to_string().contains("cannot reach"), "{e}");
    }

    /// A device that reports a fixed app and answers 0x6D00 to anything else.
    struct FixedApp(&'static str, &'static str);
    impl Exchange for FixedApp {
        fn exchange(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
            if apdu.starts_with(&[0xB0, 0x01]) {
                let mut r = AppAndVersion {
                    name: self.0.into(),
                    version: self.1.into(),
                    flags: vec![0x02],
                }
                .encode();
                r.extend_from_slice(&[0x90, 0x00]);
                Ok(r)
            } else {
                Ok(vec![0x6D, 0x00])
            }
        }
    }

    #[test]
    fn old_app_version_is_reported() {
        let i = describe(&mut FixedApp("Ethereum", "1.8.5"), "x", None);
        assert!(!i.ready);
        let g = i.guidance.unwrap();
        assert!(g.contains("1.8.5") && g.contains("or later"), "{g}");
        let i = describe(&mut FixedApp("Bitcoin", "2.0.1"), "x", None);
        assert!(!i.ready);
        assert!(i.guidance.unwrap().contains("2.0.2 or later"));
    }

    #[test]
    fn other_app_names_the_apps_to_open() {
        let i = describe(&mut FixedApp("Solana", "1.4.0"), "tcp:h:1", None);
        assert!(matches!(i.state, DeviceState::OtherApp { .. }));
        assert!(!i.ready);
        let g = i.guidance.unwrap();
        assert!(
            g.contains("Solana app is open") && g.contains("Ethereum app"),
            "{g}"
        );
    }
}
