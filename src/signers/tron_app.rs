//! Host driver for the Ledger TRON app (app name `Tron`, CLA 0xE0); the protocol is in
//! [`firmware_messages::tron`].

use super::{wire_path, DeviceError};
use crate::schemes::tron::tron_address_of;
use crate::transport::Exchange;
use bitcoin::bip32::DerivationPath;
use bitcoin::secp256k1::PublicKey;
use firmware_messages::tron::{
    sign_personal_message_commands, AddressResponse, AppConfiguration, GetAddress, Signature,
    APP_NAME,
};
use firmware_messages::StatusWord;

/// The TRON app on a device reached through `T`.
pub struct TronApp<T: Exchange> {
    transport: T,
}

/// The error for a non-OK status word, with the TRON app's own words where it has them.
fn status_error(status: StatusWord, what: &str) -> DeviceError {
    if status == StatusWord::MISSING_SETTING_SIGN_BY_HASH {
        return DeviceError::WrongApp(format!(
            "the Tron app answered 6A8C while {what}: this version signs messages only with its \
             \"Sign by hash\" setting on; enable it in the app's Settings on the device and run again"
        ));
    }
    DeviceError::from_status(status, what, APP_NAME)
}

impl<T: Exchange> TronApp<T> {
    /// A driver over `transport` (the app must be open: see [`super::ensure_app`]).
    pub fn new(transport: T) -> Self {
        TronApp { transport }
    }

    /// The transport back.
    pub fn into_inner(self) -> T {
        self.transport
    }

    /// The app's settings flags and version.
    pub fn configuration(&mut self) -> Result<AppConfiguration, DeviceError> {
        let what = "asking the Tron app for its configuration";
        let r = self.transport.send(&AppConfiguration::request())?;
        if r.status != StatusWord::OK {
            return Err(status_error(r.status, what));
        }
        AppConfiguration::decode(&r.data).map_err(|e| DeviceError::bad_reply(what, e))
    }

    /// The `T…` address at `path` (shown on the device when `display`). The address must be
    /// the one of the public key in the same reply.
    pub fn address(&mut self, path: &DerivationPath, display: bool) -> Result<String, DeviceError> {
        let what = format!("deriving the TRON address at {path}");
        let cmd = GetAddress {
            path: wire_path(path),
            display,
            chain_code: false,
        }
        .to_command();
        let r = self.transport.send(&cmd)?;
        if r.status != StatusWord::OK {
            return Err(status_error(r.status, &what));
        }
        let a = AddressResponse::decode(&r.data).map_err(|e| DeviceError::bad_reply(&what, e))?;
        let key = PublicKey::from_slice(&a.public_key)
            .map_err(|e| DeviceError::bad_reply(&what, format!("public key: {e}")))?;
        let of_key = tron_address_of(&key);
        if of_key != a.address {
            return Err(DeviceError::bad_reply(
                &what,
                format!(
                    "address: {} is not the address of the returned key ({of_key})",
                    a.address
                ),
            ));
        }
        Ok(a.address)
    }

    /// Signs `message` as a TIP-191 personal message at `path`; returns `0x` + r‖s‖v hex with
    /// v 27/28 (the app sends the parity 0/1; TronWeb's signatures use 27/28).
    pub fn sign_personal_message(
        &mut self,
        path: &DerivationPath,
        message: &[u8],
    ) -> Result<String, DeviceError> {
        let what = format!("signing the message with the TRON key at {path}");
        let cmds = sign_personal_message_commands(&wire_path(path), message);
        let mut last = Vec::new();
        for c in &cmds {
            let r = self.transport.send(c)?;
            if r.status != StatusWord::OK {
                return Err(status_error(r.status, &what));
            }
            last = r.data;
        }
        let s = Signature::decode(&last).map_err(|e| DeviceError::bad_reply(&what, e))?;
        let mut out = Vec::with_capacity(65);
        out.extend_from_slice(&s.r);
        out.extend_from_slice(&s.s);
        out.push(27 + s.v);
        Ok(format!("0x{}", hex::encode(out)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schemes::tron::{verify_tron, TronVersion};
    use crate::simulator::{RunningApp, SimulatedLedger, SimulatorConfig};
    use crate::transport::TransportError;

    /// A device that answers every APDU with the same raw reply (data then status word).
    struct Answers(Vec<u8>);
    impl Exchange for Answers {
        fn exchange(&mut self, _apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
            Ok(self.0.clone())
        }
    }

    fn path() -> DerivationPath {
        "m/44'/195'/0'/0/0".parse().unwrap()
    }

    #[test]
    fn signs_what_the_verifier_accepts() {
        let sim = SimulatedLedger::new(SimulatorConfig {
            start_app: RunningApp::Tron,
            ..Default::default()
        })
        .unwrap();
        let mut app = TronApp::new(sim.transport());
        let address = app.address(&path(), false).unwrap();
        assert!(sim.prompts().is_empty(), "nothing shown without display");
        let msg = b"Acme proof of reserves: I control TRX address";
        let sig = app.sign_personal_message(&path(), msg).unwrap();
        let v = u8::from_str_radix(&sig[sig.len() - 2..], 16).unwrap();
        assert!(v == 27 || v == 28, "{sig}");
        verify_tron(&address, msg, &sig, TronVersion::V2).unwrap();
        assert!(verify_tron(&address, msg, &sig, TronVersion::V1).is_err());
        assert_eq!(app.configuration().unwrap().version(), "0.7.1");
    }

    #[test]
    fn sign_by_hash_setting_off_says_what_to_do() {
        let mut app = TronApp::new(Answers(vec![0x6A, 0x8C]));
        let e = app.sign_personal_message(&path(), b"m").unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("Sign by hash") && text.contains("Settings"),
            "{text}"
        );
        let mut app = TronApp::new(Answers(vec![0x69, 0x85]));
        assert!(matches!(
            app.address(&path(), true),
            Err(DeviceError::Rejected(_))
        ));
    }

    #[test]
    fn garbled_replies_are_errors_naming_the_field() {
        // A well-formed reply whose address is not the key's.
        let mut reply = vec![65u8];
        reply.extend_from_slice(
            &bitcoin::secp256k1::PublicKey::from_secret_key(
                crate::schemes::secp(),
                &bitcoin::secp256k1::SecretKey::from_slice(&[1u8; 32]).unwrap(),
            )
            .serialize_uncompressed(),
        );
        reply.push(34);
        reply.extend_from_slice(b"TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC");
        reply.extend_from_slice(&[0x90, 0x00]);
        let e = TronApp::new(Answers(reply)).address(&path(), false);
        let text = e.unwrap_err().to_string();
        assert!(
            text.contains("not the address of the returned key"),
            "{text}"
        );
        // A signature with an Ethereum-style v, a short one, a key that is not on the curve.
        let mut sig = vec![1u8; 64];
        sig.extend_from_slice(&[27, 0x90, 0x00]);
        let text = TronApp::new(Answers(sig))
            .sign_personal_message(&path(), b"m")
            .unwrap_err()
            .to_string();
        assert!(text.contains("invalid v"), "{text}");
        let text = TronApp::new(Answers(vec![1, 2, 0x90, 0x00]))
            .sign_personal_message(&path(), b"m")
            .unwrap_err()
            .to_string();
        assert!(text.contains("garbled reply"), "{text}");
        let mut bad_key = vec![65u8, 4];
        bad_key.extend_from_slice(&[0xFF; 64]);
        bad_key.push(34);
        bad_key.extend_from_slice(b"TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC");
        bad_key.extend_from_slice(&[0x90, 0x00]);
        let text = TronApp::new(Answers(bad_key))
            .address(&path(), false)
            .unwrap_err()
            .to_string();
        assert!(text.contains("public key"), "{text}");
    }
}
