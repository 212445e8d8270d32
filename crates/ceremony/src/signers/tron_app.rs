//! Host driver for the Ledger TRON app (app name `Tron`, CLA 0xE0); the protocol is in
//! [`firmware_messages::tron`].

use super::{wire_path, DeviceError};
use crate::transport::Exchange;
use bitcoin::bip32::DerivationPath;
use bitcoin::secp256k1::PublicKey;
use firmware_messages::tron::{
    sign_personal_message_commands, AddressResponse, AppConfiguration, GetAddress, Signature,
    APP_NAME,
};
use firmware_messages::StatusWord;
use por_attest_verify::schemes::tron::tron_address_of;

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
        self.get_address(path, display, false, &what)
            .map(|(_, address, _)| address)
    }

    /// The public key at `path` and, when `chain_code`, its BIP-32 chain code (P2 = 1), nothing
    /// shown.
    pub fn public_key(
        &mut self,
        path: &DerivationPath,
        chain_code: bool,
    ) -> Result<(PublicKey, Option<[u8; 32]>), DeviceError> {
        let what = format!("reading the TRON key at {path}");
        let (key, _, cc) = self.get_address(path, false, chain_code, &what)?;
        if chain_code && cc.is_none() {
            return Err(DeviceError::bad_reply(&what, "no chain code in the reply"));
        }
        Ok((key, cc))
    }

    fn get_address(
        &mut self,
        path: &DerivationPath,
        display: bool,
        chain_code: bool,
        what: &str,
    ) -> Result<(PublicKey, String, Option<[u8; 32]>), DeviceError> {
        let what = what.to_string();
        let cmd = GetAddress {
            path: wire_path(path),
            display,
            chain_code,
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
        Ok((key, a.address, a.chain_code))
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
