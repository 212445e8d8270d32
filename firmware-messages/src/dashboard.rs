//! Dashboard / OS commands: get app and version (B0 01), open app (E0 D8), quit app (B0 A7).

use crate::apdu::Command;
use crate::codec::{utf8, DecodeError, Reader};

/// Class of OS-level commands.
pub const CLA_OS: u8 = 0xB0;
/// Get app and version.
pub const INS_GET_APP_AND_VERSION: u8 = 0x01;
/// Quit the running app (back to the dashboard).
pub const INS_QUIT_APP: u8 = 0xA7;
/// Class of the dashboard's open-app command.
pub const CLA_OPEN_APP: u8 = 0xE0;
/// Open app.
pub const INS_OPEN_APP: u8 = 0xD8;
/// The name the OS reports when no app is running.
pub const DASHBOARD_NAME: &str = "BOLOS";

/// A dashboard / OS command, as the device sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DashboardCommand {
    /// Report the running app's name, version and flags.
    GetAppAndVersion,
    /// Open the app with this name (dashboard only).
    OpenApp(String),
    /// Quit the running app.
    QuitApp,
}

impl DashboardCommand {
    /// The APDU.
    pub fn to_command(&self) -> Command {
        match self {
            Self::GetAppAndVersion => Command::new(CLA_OS, INS_GET_APP_AND_VERSION, 0, 0, vec![]),
            Self::OpenApp(name) => {
                Command::new(CLA_OPEN_APP, INS_OPEN_APP, 0, 0, name.as_bytes().to_vec())
            }
            Self::QuitApp => Command::new(CLA_OS, INS_QUIT_APP, 0, 0, vec![]),
        }
    }

    /// Recognizes a dashboard command; other APDUs give [`DecodeError::UnexpectedCommand`].
    pub fn from_command(c: &Command) -> Result<Self, DecodeError> {
        match (c.cla, c.ins) {
            (CLA_OS, INS_GET_APP_AND_VERSION) => Ok(Self::GetAppAndVersion),
            (CLA_OS, INS_QUIT_APP) => Ok(Self::QuitApp),
            (CLA_OPEN_APP, INS_OPEN_APP) => {
                if c.data.is_empty() {
                    return Err(DecodeError::invalid("app name", "empty"));
                }
                Ok(Self::OpenApp(utf8(&c.data, "app name")?))
            }
            (cla, ins) => Err(DecodeError::UnexpectedCommand { cla, ins }),
        }
    }
}

/// Reply to get-app-and-version (format byte 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppAndVersion {
    /// App name (`BOLOS` on the dashboard).
    pub name: String,
    /// Version text.
    pub version: String,
    /// State flags.
    pub flags: Vec<u8>,
}

impl AppAndVersion {
    /// Wire form: 0x01, name len, name, version len, version, flags len, flags.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![0x01];
        for f in [self.name.as_bytes(), self.version.as_bytes(), &self.flags] {
            out.push(f.len().min(255) as u8);
            out.extend_from_slice(&f[..f.len().min(255)]);
        }
        out
    }

    /// Parses the reply. Flags may be absent (some firmware omits them).
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let format = r.u8("format")?;
        if format != 1 {
            return Err(DecodeError::invalid(
                "format",
                format!("{format}, expected 1"),
            ));
        }
        let name = utf8(r.u8_prefixed("app name")?, "app name")?;
        let version = utf8(r.u8_prefixed("app version")?, "app version")?;
        let flags = if r.remaining() > 0 {
            r.u8_prefixed("flags")?.to_vec()
        } else {
            Vec::new()
        };
        r.finish()?;
        Ok(AppAndVersion {
            name,
            version,
            flags,
        })
    }
}

/// Parses `major.minor.patch` (ignoring any suffix).
pub fn parse_version(v: &str) -> Option<(u32, u32, u32)> {
    let core = v.split(['-', '+']).next()?;
    let mut it = core.split('.').map(|p| p.parse::<u32>().ok());
    Some((it.next()??, it.next()??, it.next().flatten().unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn golden() {
        let open = DashboardCommand::OpenApp("Bitcoin".into()).to_command();
        assert_eq!(
            hex::encode(open.encode().unwrap()),
            "e0d8000007426974636f696e"
        );
        assert_eq!(
            hex::encode(
                DashboardCommand::GetAppAndVersion
                    .to_command()
                    .encode()
                    .unwrap()
            ),
            "b001000000"
        );
        let reply = hex::decode("0107426974636f696e05322e312e330102").unwrap();
        let v = AppAndVersion::decode(&reply).unwrap();
        assert_eq!((v.name.as_str(), v.version.as_str()), ("Bitcoin", "2.1.3"));
        assert_eq!(v.encode(), reply);
        assert!(AppAndVersion::decode(&[2]).is_err());
    }

    proptest! {
        #[test]
        fn roundtrip(name in "[ -~]{0,30}", version in "[0-9.]{0,10}", flags in proptest::collection::vec(any::<u8>(), 0..4)) {
            let v = AppAndVersion { name, version, flags };
            prop_assert_eq!(AppAndVersion::decode(&v.encode()).unwrap(), v);
        }

        #[test]
        fn garbage(b in proptest::collection::vec(any::<u8>(), 0..64), cla: u8, ins: u8) {
            let _ = AppAndVersion::decode(&b);
            let _ = DashboardCommand::from_command(&Command::new(cla, ins, 0, 0, b));
        }
    }
}
