//! The simulated TRON app (app-tron 0.7.1): get address, get app configuration, sign
//! personal message. It hashes what the real app hashes (Keccak-256 of the TIP-191 preimage
//! from [`firmware_messages::tron::signed_preimage`]), shows what the real app shows (the
//! message hash and the signing address, never the text) and answers with its status words
//! (see [`firmware_messages::tron`]). Like the real app before 0.8, it loses the hash of a
//! message that takes more than one APDU: it then hashes only the bytes after the first APDU
//! (a stand-in for the real app's garbage state), so the signature does not verify.

use super::device::{version_before, Keys, Prompt, PromptKind, Ui, TRON_APP_VERSION};
use firmware_messages::tron::{
    hash_screen_text, signed_preimage, status_for, AddressResponse, AppConfiguration, Assembly,
    PersonalMessageAssembler, Signature, TronCommand, KEEPS_MULTI_CHUNK_HASH_SINCE,
};
use firmware_messages::{Bip32Path, Command, Response, StatusWord};
use por_attest_verify::schemes::evm::keccak256;
use por_attest_verify::schemes::tron::tron_address_of;

/// App state: the personal message being received.
#[derive(Debug, Default)]
pub(crate) struct TronApp {
    message: PersonalMessageAssembler,
    /// The personal message's bytes after its first APDU (what the app hashes when it has lost
    /// the hash state between APDUs).
    after_first: Option<Vec<u8>>,
}

/// The uncompressed key and `T…` address at `path`.
fn address_of(keys: &Keys, path: &Bip32Path) -> (Vec<u8>, String) {
    let pk = keys.derive(path).private_key.public_key(&keys.secp);
    (pk.serialize_uncompressed().to_vec(), tron_address_of(&pk))
}

impl TronApp {
    pub fn reset(&mut self) {
        self.message = PersonalMessageAssembler::default();
        self.after_first = None;
    }

    pub fn handle(&mut self, keys: &Keys, ui: &mut Ui<'_>, c: &Command) -> Response {
        let cmd = match TronCommand::from_command(c) {
            Ok(cmd) => cmd,
            Err(e) => {
                if c.ins == firmware_messages::tron::INS_SIGN_PERSONAL_MESSAGE {
                    self.reset();
                }
                return Response::error(status_for(&e));
            }
        };
        match cmd {
            TronCommand::GetAppConfiguration => {
                let mut v = TRON_APP_VERSION
                    .split('.')
                    .map(|x| x.parse::<u8>().unwrap_or(0));
                Response::ok(
                    AppConfiguration {
                        flags: 0,
                        major: v.next().unwrap_or(0),
                        minor: v.next().unwrap_or(0),
                        patch: v.next().unwrap_or(0),
                    }
                    .encode(),
                )
            }
            TronCommand::GetAddress(req) => {
                let (public_key, address) = address_of(keys, &req.path);
                if req.display {
                    let mut p = Prompt::new(PromptKind::TronAddress);
                    p.path = Some(req.path.to_string());
                    p.address = Some(address.clone());
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
            TronCommand::SignPersonalMessageChunk { first, data } => {
                if !first && !self.message.in_progress() {
                    return Response::error(StatusWord::INCORRECT_P1P2);
                }
                match self.message.feed(first, &data) {
                    Err(e) => {
                        self.after_first = None;
                        Response::error(status_for(&e))
                    }
                    Ok(r) => {
                        let later = self.after_first.get_or_insert_with(Vec::new);
                        if first {
                            later.clear();
                        } else {
                            later.extend_from_slice(&data);
                        }
                        self.finish(keys, ui, r)
                    }
                }
            }
        }
    }

    fn finish(&mut self, keys: &Keys, ui: &mut Ui<'_>, r: Assembly) -> Response {
        match r {
            Assembly::NeedMore => Response::ok(Vec::new()),
            Assembly::Complete { path, message } => {
                let later = self.after_first.take().unwrap_or_default();
                let hash = if later.is_empty()
                    || !version_before(TRON_APP_VERSION, KEEPS_MULTI_CHUNK_HASH_SINCE)
                {
                    keccak256(&signed_preimage(&message))
                } else {
                    keccak256(&later)
                };
                let (_, address) = address_of(keys, &path);
                let mut p = Prompt::new(PromptKind::TronSignMessage);
                p.path = Some(path.to_string());
                p.address = Some(address);
                p.message = Some(hash_screen_text(&hash, false));
                p.details
                    .push(("Message hash".into(), hash_screen_text(&hash, true)));
                if !ui.confirm(p) {
                    return Response::error(StatusWord::DENY);
                }
                let (r, s, parity) = keys.sign_digest(&path, hash);
                Response::ok(Signature { r, s, v: parity }.encode())
            }
        }
    }
}
