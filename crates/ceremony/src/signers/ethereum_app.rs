//! Host driver for the Ledger Ethereum app (CLA 0xE0).

use super::{wire_path, DeviceError};
use crate::transport::Exchange;
use bitcoin::bip32::DerivationPath;
use bitcoin::secp256k1::PublicKey;
use firmware_messages::ethereum::{
    sign_personal_message_commands, AddressResponse, GetAddress, Signature,
};
use firmware_messages::StatusWord;

/// The Ethereum app on a device reached through `T`.
pub struct EthereumApp<T: Exchange> {
    transport: T,
}

impl<T: Exchange> EthereumApp<T> {
    /// A driver over `transport` (the app must be open: see [`super::ensure_app`]).
    pub fn new(transport: T) -> Self {
        EthereumApp { transport }
    }

    /// The transport back.
    pub fn into_inner(self) -> T {
        self.transport
    }

    /// The address at `path` as `0x` + EIP-55 hex (shown on the device when `display`).
    pub fn address(&mut self, path: &DerivationPath, display: bool) -> Result<String, DeviceError> {
        let what = format!("deriving the Ethereum address at {path}");
        let a = self.get_address(path, display, false, &what)?;
        Ok(format!("0x{}", a.address))
    }

    fn get_address(
        &mut self,
        path: &DerivationPath,
        display: bool,
        chain_code: bool,
        what: &str,
    ) -> Result<AddressResponse, DeviceError> {
        let cmd = GetAddress {
            path: wire_path(path),
            display,
            chain_code,
            chain_id: None,
        }
        .to_command();
        let r = self.transport.send(&cmd)?;
        if r.status != StatusWord::OK {
            return Err(DeviceError::from_status(r.status, what, "Ethereum"));
        }
        AddressResponse::decode(&r.data).map_err(|e| DeviceError::bad_reply(what, e))
    }

    /// The public key at `path` and, when `chain_code`, its BIP-32 chain code (P2 = 1), nothing
    /// shown; the reply's address must be the key's.
    pub fn public_key(
        &mut self,
        path: &DerivationPath,
        chain_code: bool,
    ) -> Result<(PublicKey, Option<[u8; 32]>), DeviceError> {
        let what = format!("reading the Ethereum key at {path}");
        let a = self.get_address(path, false, chain_code, &what)?;
        let key = PublicKey::from_slice(&a.public_key)
            .map_err(|e| DeviceError::bad_reply(&what, format!("public key: {e}")))?;
        let of_key = por_attest_verify::schemes::evm::evm_address_of(&key);
        if !a.address.eq_ignore_ascii_case(&hex::encode(of_key)) {
            return Err(DeviceError::bad_reply(
                &what,
                format!(
                    "address: 0x{} is not the address of the returned key",
                    a.address
                ),
            ));
        }
        if chain_code && a.chain_code.is_none() {
            return Err(DeviceError::bad_reply(&what, "no chain code in the reply"));
        }
        Ok((key, a.chain_code))
    }

    /// Signs `message` with EIP-191 personal_sign at `path`; returns `0x` + r‖s‖v hex.
    pub fn sign_personal_message(
        &mut self,
        path: &DerivationPath,
        message: &[u8],
    ) -> Result<String, DeviceError> {
        let what = format!("signing the message with the Ethereum key at {path}");
        let cmds = sign_personal_message_commands(&wire_path(path), message);
        let last = cmds.len() - 1;
        for (i, c) in cmds.iter().enumerate() {
            let r = self.transport.send(c)?;
            if r.status != StatusWord::OK {
                return Err(DeviceError::from_status(r.status, &what, "Ethereum"));
            }
            if i == last {
                let s = Signature::decode(&r.data).map_err(|e| DeviceError::bad_reply(&what, e))?;
                let mut out = Vec::with_capacity(65);
                out.extend_from_slice(&s.r);
                out.extend_from_slice(&s.s);
                out.push(s.v);
                return Ok(format!("0x{}", hex::encode(out)));
            }
        }
        unreachable!("sign_personal_message_commands returns at least one command")
    }
}
