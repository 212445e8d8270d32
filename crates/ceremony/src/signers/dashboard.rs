//! The dashboard: which app is open, and opening the one a task needs.

use super::DeviceError;
use crate::transport::Exchange;
use firmware_messages::dashboard::{AppAndVersion, DashboardCommand, DASHBOARD_NAME};
use firmware_messages::StatusWord;

/// The apps the ceremony uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppKind {
    /// The Bitcoin app (`Bitcoin`, or `Bitcoin Test` on test networks).
    Bitcoin,
    /// The Ethereum app.
    Ethereum,
    /// The Tron app.
    Tron,
}

impl AppKind {
    /// The name the app reports and the dashboard opens.
    pub fn name(self) -> &'static str {
        match self {
            AppKind::Bitcoin => "Bitcoin",
            AppKind::Ethereum => "Ethereum",
            AppKind::Tron => firmware_messages::tron::APP_NAME,
        }
    }

    /// The app a name from the chain family table stands for.
    pub fn of_name(name: &str) -> Option<AppKind> {
        [AppKind::Bitcoin, AppKind::Ethereum, AppKind::Tron]
            .into_iter()
            .find(|a| a.name() == name)
    }

    fn accepts(self, name: &str) -> bool {
        match self {
            AppKind::Bitcoin => name == "Bitcoin" || name == "Bitcoin Test",
            AppKind::Ethereum => name == "Ethereum",
            AppKind::Tron => name == firmware_messages::tron::APP_NAME,
        }
    }
}

/// Asks which app is open (0xB0 0x01; answered by the dashboard and by every app).
pub fn app_and_version(t: &mut (impl Exchange + ?Sized)) -> Result<AppAndVersion, DeviceError> {
    let what = "asking which app is open";
    let r = t.send(&DashboardCommand::GetAppAndVersion.to_command())?;
    if r.status != StatusWord::OK {
        return Err(DeviceError::from_status(r.status, what, "dashboard"));
    }
    AppAndVersion::decode(&r.data).map_err(|e| DeviceError::bad_reply(what, e))
}

pub use firmware_messages::dashboard::parse_version;

/// Makes sure `app` is open: if the dashboard is showing, asks it to open the app (the user
/// confirms on the device); if another app is open, quits it first. Returns the app's version.
pub fn ensure_app(t: &mut (impl Exchange + ?Sized), app: AppKind) -> Result<String, DeviceError> {
    let mut current = app_and_version(t)?;
    if app.accepts(&current.name) {
        return check_version(app, current.version);
    }
    if current.name != DASHBOARD_NAME {
        let r = t.send(&DashboardCommand::QuitApp.to_command())?;
        if r.status != StatusWord::OK {
            return Err(DeviceError::WrongApp(format!(
                "the {} app is open; quit it and open the {} app",
                current.name,
                app.name()
            )));
        }
        current = app_and_version(t)?;
        if current.name != DASHBOARD_NAME {
            return Err(DeviceError::WrongApp(format!(
                "the {} app is open; quit it and open the {} app",
                current.name,
                app.name()
            )));
        }
    }
    let what = format!("opening the {} app", app.name());
    let r = t.send(&DashboardCommand::OpenApp(app.name().to_string()).to_command())?;
    if r.status != StatusWord::OK {
        return Err(match r.status {
            StatusWord::APP_NOT_FOUND => DeviceError::WrongApp(format!(
                "the {} app is not installed on the device: install it with Ledger Live",
                app.name()
            )),
            s => DeviceError::from_status(s, &what, "dashboard"),
        });
    }
    let now = app_and_version(t)?;
    if !app.accepts(&now.name) {
        return Err(DeviceError::WrongApp(format!(
            "asked the dashboard to open {}, but {} is open",
            app.name(),
            now.name
        )));
    }
    check_version(app, now.version)
}

fn check_version(app: AppKind, version: String) -> Result<String, DeviceError> {
    let minimum = match app {
        // 2.0.2 brought SIGN_MESSAGE; before 2.1.0 wallet policies use version 1.
        AppKind::Bitcoin => (2, 0, 2),
        AppKind::Ethereum => (1, 9, 0),
        // Before 0.4.6 a signature whose r or s began with a zero byte came out malformed
        // (app-tron commit 6da2b94), and RFC 6979 would give it again on every retry.
        AppKind::Tron => (0, 4, 6),
    };
    match parse_version(&version) {
        Some(v) if v >= minimum => Ok(version),
        _ => Err(DeviceError::WrongApp(format!(
            "the {} app is version {version}; version {}.{}.{} or later is needed: update it with Ledger Live",
            app.name(),
            minimum.0,
            minimum.1,
            minimum.2
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(parse_version("2.1.3"), Some((2, 1, 3)));
        assert_eq!(parse_version("1.10.4-rc1"), Some((1, 10, 4)));
        assert_eq!(parse_version("x"), None);
        for f in &por_attest_verify::chains::FAMILIES {
            assert!(AppKind::of_name(f.ledger_app).is_some(), "{}", f.name);
        }
        assert!(check_version(AppKind::Bitcoin, "2.0.1".into()).is_err());
        assert!(check_version(AppKind::Bitcoin, "2.0.6".into()).is_ok());
        assert!(check_version(AppKind::Bitcoin, "2.1.0".into()).is_ok());
        assert!(check_version(AppKind::Tron, "0.4.5".into()).is_err());
        assert!(check_version(AppKind::Tron, "0.7.1".into()).is_ok());
    }
}
