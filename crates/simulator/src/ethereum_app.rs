//! The simulated Ethereum app: get address, get app configuration, sign personal message.

use super::device::{Keys, Prompt, PromptKind, Ui};
use ethers_core::types::Address as EthAddress;
use ethers_core::utils::{hash_message, keccak256, to_checksum};
use firmware_messages::ethereum::{
    AddressResponse, AppConfiguration, Assembly, EthCommand, PersonalMessageAssembler, Signature,
    CLA,
};
use firmware_messages::{Bip32Path, Command, DecodeError, Response, StatusWord};

/// App state: the personal message being received.
#[derive(Debug, Default)]
pub(crate) struct EthereumApp {
    message: PersonalMessageAssembler,
}

/// The EIP-55 address (no `0x`) of a key.
fn address_of(keys: &Keys, path: &Bip32Path) -> (Vec<u8>, String) {
    let sk = keys.derive(path).private_key;
    let pk = sk.public_key(&keys.secp).serialize_uncompressed();
    let hash = keccak256(&pk[1..]);
    let addr = EthAddress::from_slice(&hash[12..]);
    (pk.to_vec(), to_checksum(&addr, None)[2..].to_string())
}

/// The message review's text: `SHA256: <HEX>` on apps before 1.9.19 (their "Message
/// hash"), else the message, or `0x<hex>` when it is not printable.
fn show(version: &str, msg: &[u8]) -> String {
    let v = firmware_messages::dashboard::parse_version(version).unwrap_or((u32::MAX, 0, 0));
    if let Some(h) = firmware_messages::ethereum::message_hash_screen(v, msg) {
        format!("SHA256: {h}")
    } else if msg.iter().all(|b| (0x20..=0x7E).contains(b) || *b == b'\n') {
        String::from_utf8_lossy(msg).into_owned()
    } else {
        format!("0x{}", hex::encode(msg))
    }
}

impl EthereumApp {
    pub fn reset(&mut self) {
        self.message = PersonalMessageAssembler::default();
    }

    pub fn handle(&mut self, keys: &Keys, version: &str, ui: &mut Ui<'_>, c: &Command) -> Response {
        if c.cla != CLA {
            return Response::error(StatusWord::CLA_NOT_SUPPORTED);
        }
        let cmd = match EthCommand::from_command(c) {
            Ok(cmd) => cmd,
            Err(DecodeError::UnexpectedCommand { .. }) => {
                return Response::error(StatusWord::INS_NOT_SUPPORTED)
            }
            Err(DecodeError::Invalid { field: "P1/P2", .. }) => {
                return Response::error(StatusWord::INCORRECT_P1P2)
            }
            Err(_) => return Response::error(StatusWord::INCORRECT_DATA),
        };
        match cmd {
            EthCommand::GetAppConfiguration => {
                let mut v = version.split('.').map(|x| x.parse::<u8>().unwrap_or(0));
                let (major, minor, patch) = (
                    v.next().unwrap_or(0),
                    v.next().unwrap_or(0),
                    v.next().unwrap_or(0),
                );
                Response::ok(
                    AppConfiguration {
                        flags: 0,
                        major,
                        minor,
                        patch,
                    }
                    .encode(),
                )
            }
            EthCommand::GetAddress(req) => {
                let (public_key, address) = address_of(keys, &req.path);
                if req.display {
                    let mut p = Prompt::new(PromptKind::EthereumAddress);
                    p.path = Some(req.path.to_string());
                    p.address = Some(format!("0x{address}"));
                    if !ui.confirm(p) {
                        return Response::error(StatusWord::DENY);
                    }
                }
                let chain_code = req
                    .chain_code
                    .then(|| keys.derive(&req.path).chain_code.to_bytes());
                Response::ok(
                    AddressResponse {
                        public_key,
                        address,
                        chain_code,
                    }
                    .encode(),
                )
            }
            EthCommand::SignPersonalMessageChunk { first, data } => {
                match self.message.feed(first, &data) {
                    Err(_) => Response::error(StatusWord::INCORRECT_DATA),
                    Ok(Assembly::NeedMore) => Response::ok(Vec::new()),
                    Ok(Assembly::Complete { path, message }) => {
                        let (_, address) = address_of(keys, &path);
                        let mut p = Prompt::new(PromptKind::EthereumSignMessage);
                        p.path = Some(path.to_string());
                        p.address = Some(format!("0x{address}"));
                        p.message = Some(show(version, &message));
                        if !ui.confirm(p) {
                            return Response::error(StatusWord::DENY);
                        }
                        let (r, s, parity) = keys.sign_digest(&path, hash_message(&message).0);
                        Response::ok(
                            Signature {
                                v: 27 + parity,
                                r,
                                s,
                            }
                            .encode(),
                        )
                    }
                }
            }
        }
    }
}
