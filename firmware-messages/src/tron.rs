//! Ledger TRON app (LedgerHQ/app-tron, app name `Tron`, class 0xE0): get address (0x02),
//! get app configuration (0x06), sign personal message (0x08, chunked).
//!
//! What the app does, read from its sources (app-tron `docs/APDU.md`, `Makefile`,
//! `src/handlers/handlers.h`, `get_public_key.c`, `get_app_configuration.c`,
//! `sign_personal_message.c`, `src/helpers.c`, `src/app_errors.h`, `src/ui/*`) and from
//! LedgerHQ's host library `@ledgerhq/hw-app-trx` (`Trx.ts`):
//!
//! * The dashboard knows the app as `Tron` (`APPNAME = Tron`); it derives under `44'/195'`.
//!   Released versions report 0.1.x to 0.7.1.
//! * Paths: a count byte (1 to 10 steps; 0 is refused) then 4-byte big-endian steps. A bad
//!   path is answered 0x6A8A.
//! * GET PUBLIC KEY (0x02): P1 0x00 silent, 0x01 show "Verify Address" and wait; P2 (low 6
//!   bits) 0x01 appends the chain code; other P1/P2 0x6B00. Reply: 0x41 (65), the uncompressed
//!   key, 0x22 (34), the base58check `T…` address in ASCII, then the 32-byte chain code when
//!   asked.
//! * GET APP CONFIGURATION (0x06): 4 bytes: settings flags (bit 0 data allowed, 1 custom
//!   contracts, 2 truncate addresses, 3 sign by hash), major, minor, patch.
//! * SIGN PERSONAL MESSAGE (0x08): first chunk P1 0x00 (or 0x10), following chunks P1 0x80,
//!   P2 0. The first carries the path, the message length as 4 bytes big-endian, then the
//!   start of the message; hw-app-trx puts at most 250 data bytes in each APDU. More bytes
//!   than announced: 0x6700; a first chunk without room for the length: 0x6700; a following
//!   chunk with nothing started (app 0.8): 0x6B00. Intermediate chunks answer 0x9000 with no
//!   data.
//! * What it hashes: Keccak-256 of `"\x19TRON Signed Message:\n"`, the announced length in
//!   decimal ASCII (`snprintf("%d")`), then the message bytes: TIP-191 exactly as TronWeb's
//!   `signMessageV2`, not the legacy form with a fixed `"32"`.
//! * Screens: "Sign message", "Message hash" (on Nano the first and last two bytes of the
//!   hash as uppercase hex around `...`; on Stax/Flex all 32 bytes), "Sign with" (the
//!   address). The message text itself is never shown.
//! * Reply: 65 bytes r ‖ s ‖ v with v the recovery parity, 0 or 1 (ECDSA RFC 6979 over the
//!   hash). Builds before 0.4.6 could send a malformed r or s when one began with a zero
//!   byte (app-tron commit 6da2b94, "Fix signature encoding").
//! * Builds before 0.8 kept the Keccak state of a multi-chunk message on the stack between
//!   APDUs (`cx_sha3_t sha3;` local to `handleSignPersonalMessage`; fixed in
//!   `sign_personal_message.c` for 0.8): a message longer than the first APDU is signed over
//!   a hash of garbage, whose signature recovers to an unrelated key. Seen on 0.7.1 under
//!   Speculos (2026-12-01: a 259-byte account message, shown hash `2A95...07D5` where TIP-191
//!   gives `0004...A1B8`). [`multi_chunk_problem`] says when a message is affected; 0.8 also
//!   refuses personal messages (0x6A8C) unless the "Sign by hash" setting is on.
//! * Any other class: 0x6E00; unknown instruction: 0x6D00; rejected on screen: 0x6985.

use crate::apdu::Command;
use crate::codec::{DecodeError, Reader};
use crate::key_address;
use crate::path::Bip32Path;
use crate::personal_message::Framing;
use crate::status::StatusWord;

pub use crate::personal_message::{Assembly, PersonalMessageAssembler};

/// The name the app reports to get-app-and-version and the dashboard opens.
pub const APP_NAME: &str = "Tron";
/// Class of the TRON app.
pub const CLA: u8 = 0xE0;
/// GET PUBLIC KEY (and address).
pub const INS_GET_ADDRESS: u8 = 0x02;
/// GET APP CONFIGURATION.
pub const INS_GET_APP_CONFIGURATION: u8 = 0x06;
/// SIGN PERSONAL MESSAGE.
pub const INS_SIGN_PERSONAL_MESSAGE: u8 = 0x08;
/// P1 of the first personal-message chunk.
pub const P1_FIRST: u8 = 0x00;
/// P1 of a message sent whole in one chunk (treated as a first chunk).
pub const P1_SIGN: u8 = 0x10;
/// P1 of the following personal-message chunks.
pub const P1_MORE: u8 = 0x80;
/// Deepest path the app accepts.
pub const MAX_PATH_DEPTH: usize = 10;
/// Most data bytes hw-app-trx puts in one APDU ("compatible with old and new protocol").
pub const CHUNK_SIZE: usize = 250;
/// Length of a base58check TRON address.
pub const ADDRESS_LEN: usize = 34;
/// The TIP-191 prefix the app hashes before the decimal length and the message.
pub const SIGN_MAGIC: &[u8] = b"\x19TRON Signed Message:\n";
/// Settings flag: the "Sign by hash" setting is on.
pub const FLAG_SIGN_BY_HASH: u8 = 0x08;

/// How the host frames a personal message for the app (what hw-app-trx sends).
pub const PERSONAL_MESSAGE_FRAMING: Framing = Framing {
    cla: CLA,
    ins: INS_SIGN_PERSONAL_MESSAGE,
    p1_first: P1_FIRST,
    p1_more: P1_MORE,
    max_data: CHUNK_SIZE,
};

/// A command to the TRON app, as the device sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TronCommand {
    /// Get the public key and address at a path.
    GetAddress(GetAddress),
    /// Get settings flags and version.
    GetAppConfiguration,
    /// One chunk of a personal message; assemble with [`PersonalMessageAssembler`]. A first
    /// chunk's path has already been checked.
    SignPersonalMessageChunk {
        /// True for a first chunk (P1 0x00 or 0x10).
        first: bool,
        /// The chunk data.
        data: Vec<u8>,
    },
}

impl TronCommand {
    /// Recognizes a command of the TRON app; [`status_for`] gives the app's answer to an error.
    pub fn from_command(c: &Command) -> Result<Self, DecodeError> {
        if c.cla != CLA {
            return Err(DecodeError::UnexpectedCommand {
                cla: c.cla,
                ins: c.ins,
            });
        }
        match c.ins {
            INS_GET_ADDRESS => Ok(Self::GetAddress(GetAddress::from_command(c)?)),
            INS_GET_APP_CONFIGURATION => Ok(Self::GetAppConfiguration),
            INS_SIGN_PERSONAL_MESSAGE => {
                let first = match c.p1 {
                    P1_FIRST | P1_SIGN => true,
                    P1_MORE => false,
                    _ => return Err(DecodeError::invalid("P1/P2", "bad chunk flag")),
                };
                if first {
                    let mut r = Reader::new(&c.data);
                    read_path(&mut r)?;
                    if r.remaining() < 4 {
                        return Err(DecodeError::invalid(
                            "message length",
                            "no room for the 4-byte length",
                        ));
                    }
                }
                if c.p2 != 0 {
                    return Err(DecodeError::invalid("P1/P2", "P2 must be 0"));
                }
                Ok(Self::SignPersonalMessageChunk {
                    first,
                    data: c.data.clone(),
                })
            }
            ins => Err(DecodeError::UnexpectedCommand { cla: c.cla, ins }),
        }
    }
}

/// The status word the app answers to a command that [`TronCommand::from_command`] or the
/// [`PersonalMessageAssembler`] refused.
pub fn status_for(e: &DecodeError) -> StatusWord {
    match e {
        DecodeError::UnexpectedCommand { cla, .. } if *cla != CLA => StatusWord::CLA_NOT_SUPPORTED,
        DecodeError::UnexpectedCommand { .. } => StatusWord::INS_NOT_SUPPORTED,
        DecodeError::Invalid { field: "P1/P2", .. } => StatusWord::INCORRECT_P1P2,
        DecodeError::Invalid { field: "path", .. } => StatusWord::INCORRECT_BIP32_PATH,
        DecodeError::Invalid {
            field: "message length" | "chunk",
            ..
        } => StatusWord::INCORRECT_LENGTH,
        _ => StatusWord::INCORRECT_DATA,
    }
}

/// Reads a path as the app does: 1 to 10 steps, all present; anything else is field `path`.
fn read_path(r: &mut Reader<'_>) -> Result<Bip32Path, DecodeError> {
    let path = Bip32Path::read(r, MAX_PATH_DEPTH)
        .map_err(|e| DecodeError::invalid("path", e.to_string()))?;
    if path.0.is_empty() {
        return Err(DecodeError::invalid("path", "no derivation step"));
    }
    Ok(path)
}

/// GET PUBLIC KEY request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetAddress {
    /// Derivation path.
    pub path: Bip32Path,
    /// Show the address and wait for confirmation (P1 = 1).
    pub display: bool,
    /// Also return the chain code (P2 = 1).
    pub chain_code: bool,
}

impl GetAddress {
    /// The APDU.
    pub fn to_command(&self) -> Command {
        Command::new(
            CLA,
            INS_GET_ADDRESS,
            self.display as u8,
            self.chain_code as u8,
            self.path.encode(),
        )
    }

    /// Parses the APDU (P2's top two bits are ignored, as the app does).
    pub fn from_command(c: &Command) -> Result<Self, DecodeError> {
        let p2 = c.p2 & 0x3F;
        if c.p1 > 1 || p2 > 1 {
            return Err(DecodeError::invalid("P1/P2", "must be 0 or 1"));
        }
        let mut r = Reader::new(&c.data);
        let path = read_path(&mut r)?;
        Ok(GetAddress {
            path,
            display: c.p1 == 1,
            chain_code: p2 == 1,
        })
    }
}

/// GET PUBLIC KEY reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressResponse {
    /// Uncompressed public key (65 bytes, 0x04 prefix).
    pub public_key: Vec<u8>,
    /// Base58check `T…` address (34 characters).
    pub address: String,
    /// Chain code, when requested.
    pub chain_code: Option<[u8; 32]>,
}

impl AddressResponse {
    /// Wire form.
    pub fn encode(&self) -> Vec<u8> {
        key_address::encode(&self.public_key, &self.address, self.chain_code)
    }

    /// Parses the reply; a chain code is read if 32 bytes follow the address. Checks the
    /// shapes (65-byte key, 34 base58 characters starting with `T`), not the checksum.
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let r = key_address::decode(data, |a| {
            let base58 = |c: char| c.is_ascii_alphanumeric() && !"0OIl".contains(c);
            if a.len() == ADDRESS_LEN && a.starts_with('T') && a.chars().all(base58) {
                Ok(())
            } else {
                Err(format!(
                    "expected 34 base58 characters starting with T, got {a:?}"
                ))
            }
        })?;
        Ok(AddressResponse {
            public_key: r.public_key,
            address: r.address,
            chain_code: r.chain_code,
        })
    }
}

pub use crate::app_configuration::AppConfiguration;

impl AppConfiguration {
    /// True when the Tron app's "Sign by hash" setting is on.
    pub fn sign_by_hash(&self) -> bool {
        self.flags & FLAG_SIGN_BY_HASH != 0
    }
}

/// The first app version that keeps a multi-chunk personal message's hash between APDUs.
pub const KEEPS_MULTI_CHUNK_HASH_SINCE: (u32, u32, u32) = (0, 8, 0);

/// How many message bytes the first APDU of a personal message carries at `path` (what is
/// left of [`CHUNK_SIZE`] after the path and the 4-byte length): 229 at a 4-step path.
pub fn first_chunk_room(path: &Bip32Path) -> usize {
    CHUNK_SIZE.saturating_sub(path.encode().len() + 4)
}

/// Why the app at `version` would sign a `len`-byte personal message at `path` over a wrong
/// hash (apps before [`KEEPS_MULTI_CHUNK_HASH_SINCE`] lose the hash of a message that takes
/// more than one APDU), or `None` when it signs it correctly.
pub fn multi_chunk_problem(
    version: (u32, u32, u32),
    path: &Bip32Path,
    len: usize,
) -> Option<String> {
    let room = first_chunk_room(path);
    (version < KEEPS_MULTI_CHUNK_HASH_SINCE && len > room).then(|| {
        format!(
            "the Tron app {}.{}.{} signs a personal message correctly only when it fits one APDU \
             (at most {room} bytes at this path; before 0.8 the app loses the message hash \
             between APDUs); this message is {len} bytes",
            version.0, version.1, version.2
        )
    })
}

/// Splits a personal message into the APDUs hw-app-trx sends (P1 0x00 then 0x80, at most
/// 250 data bytes each).
pub fn sign_personal_message_commands(path: &Bip32Path, message: &[u8]) -> Vec<Command> {
    PERSONAL_MESSAGE_FRAMING.commands(path, message)
}

/// The exact bytes the app hashes with Keccak-256 for `message`: the TIP-191 prefix, the
/// length in decimal, the message.
pub fn signed_preimage(message: &[u8]) -> Vec<u8> {
    let len = message.len().to_string();
    let mut out = Vec::with_capacity(SIGN_MAGIC.len() + len.len() + message.len());
    out.extend_from_slice(SIGN_MAGIC);
    out.extend_from_slice(len.as_bytes());
    out.extend_from_slice(message);
    out
}

/// The "Message hash" screen text: on Nano the first and last two bytes around `...`
/// (`short`), on Stax/Flex all of it; uppercase hex as the SDK's `format_hex` writes.
pub fn hash_screen_text(hash: &[u8; 32], short: bool) -> String {
    let hex = crate::codec::upper_hex;
    if short {
        format!("{}...{}", hex(&hash[..2]), hex(&hash[30..]))
    } else {
        hex(hash)
    }
}

/// A signature as the TRON app returns it: r, s, then the recovery parity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signature {
    /// r, big-endian.
    pub r: [u8; 32],
    /// s, big-endian.
    pub s: [u8; 32],
    /// Recovery parity, 0 or 1.
    pub v: u8,
}

impl Signature {
    /// Wire form r ‖ s ‖ v.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(65);
        out.extend_from_slice(&self.r);
        out.extend_from_slice(&self.s);
        out.push(self.v);
        out
    }

    /// Parses the 65-byte reply; v must be 0 or 1.
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut rd = Reader::new(data);
        let r = rd.array("r")?;
        let s = rd.array("s")?;
        let v = rd.u8("v")?;
        rd.finish()?;
        if v > 1 {
            return Err(DecodeError::invalid(
                "v",
                format!("{v}, expected the parity 0 or 1"),
            ));
        }
        Ok(Signature { r, s, v })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const PATH: &str = "m/44'/195'/0'/0/0";

    #[test]
    fn apps_before_0_8_sign_only_one_apdu_messages_correctly() {
        let account: Bip32Path = "m/44'/195'/0'/0".parse().unwrap();
        // 250 - (1 + 4 * 4) - 4, as the first APDU seen under Speculos carried.
        assert_eq!(first_chunk_room(&account), 229);
        assert_eq!(first_chunk_room(&PATH.parse().unwrap()), 225);
        let commands = sign_personal_message_commands(&account, &[b'a'; 229]);
        assert_eq!(commands.len(), 1);
        assert_eq!(
            sign_personal_message_commands(&account, &[b'a'; 230]).len(),
            2
        );
        assert_eq!(multi_chunk_problem((0, 7, 1), &account, 229), None);
        let why = multi_chunk_problem((0, 7, 1), &account, 259).unwrap();
        assert!(why.contains("Tron app 0.7.1"), "{why}");
        assert!(why.contains("at most 229 bytes"), "{why}");
        assert!(why.contains("this message is 259 bytes"), "{why}");
        assert_eq!(multi_chunk_problem((0, 8, 0), &account, 2000), None);
    }

    #[test]
    fn golden_get_address() {
        // hw-app-trx getAddress("44'/195'/0'/0/0", true): e0 02 01 00 15 05 8000002c 800000c3 ...
        let ga = GetAddress {
            path: PATH.parse().unwrap(),
            display: true,
            chain_code: false,
        };
        let bytes = ga.to_command().encode().unwrap();
        assert_eq!(
            hex::encode(&bytes),
            "e002010015058000002c800000c3800000000000000000000000"
        );
        let back = TronCommand::from_command(&Command::decode(&bytes).unwrap()).unwrap();
        assert_eq!(back, TronCommand::GetAddress(ga.clone()));
        // P2's top bits are ignored; P1 2 and an empty path are refused with the app's words.
        let mut c = ga.to_command();
        c.p2 = 0xC1;
        assert!(matches!(
            TronCommand::from_command(&c),
            Ok(TronCommand::GetAddress(GetAddress {
                chain_code: true,
                ..
            }))
        ));
        let bad = |c: Command| status_for(&TronCommand::from_command(&c).unwrap_err());
        assert_eq!(
            bad(Command::new(CLA, INS_GET_ADDRESS, 2, 0, ga.path.encode())),
            StatusWord::INCORRECT_P1P2
        );
        assert_eq!(
            bad(Command::new(CLA, INS_GET_ADDRESS, 0, 0, vec![0])),
            StatusWord::INCORRECT_BIP32_PATH
        );
        assert_eq!(
            bad(Command::new(CLA, INS_GET_ADDRESS, 0, 0, vec![11])),
            StatusWord::INCORRECT_BIP32_PATH
        );
        assert_eq!(
            bad(Command::new(CLA, 0x04, 0, 0, vec![])),
            StatusWord::INS_NOT_SUPPORTED
        );
        assert_eq!(
            bad(Command::new(0xB0, INS_GET_ADDRESS, 0, 0, vec![])),
            StatusWord::CLA_NOT_SUPPORTED
        );
    }

    #[test]
    fn golden_address_reply() {
        // Layout of app-tron helper_send_response_pubkey: 0x41, key, 0x22, address.
        let mut reply = vec![65u8, 0x04];
        reply.extend([0x11u8; 64]);
        reply.push(34);
        reply.extend_from_slice(b"TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC");
        let a = AddressResponse::decode(&reply).unwrap();
        assert_eq!(a.address, "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC");
        assert_eq!(a.chain_code, None);
        assert_eq!(a.encode(), reply);
        // An Ethereum-style reply (hex address) and a short key are refused by field.
        let mut eth = vec![65u8, 0x04];
        eth.extend([0x11u8; 64]);
        eth.push(40);
        eth.extend_from_slice(b"7E5F4552091A69125d5DfCb7b8C2659029395Bdf");
        let e = AddressResponse::decode(&eth).unwrap_err();
        assert!(e.to_string().contains("address"), "{e}");
        let e = AddressResponse::decode(&[33, 2]).unwrap_err();
        assert!(e.to_string().contains("public key"), "{e}");
    }

    #[test]
    fn golden_personal_message() {
        // hw-app-trx's doc example message, at m/44'/195'/0'/0/0.
        let msg = b"CryptoChain-TronSR Ledger Transactions Tests";
        let cmds = sign_personal_message_commands(&PATH.parse().unwrap(), msg);
        assert_eq!(cmds.len(), 1);
        let bytes = cmds[0].encode().unwrap();
        assert_eq!(
            hex::encode(&bytes[..30]),
            "e008000045058000002c800000c38000000000000000000000000000002c"
        );
        assert_eq!(&bytes[30..], msg);
        // 225 bytes of message fill the first APDU (250 - 21 for the path - 4 for the
        // length); 226 need a second.
        let path: Bip32Path = PATH.parse().unwrap();
        assert_eq!(sign_personal_message_commands(&path, &[b'a'; 225]).len(), 1);
        let two = sign_personal_message_commands(&path, &[b'a'; 226]);
        assert_eq!(two.len(), 2);
        assert_eq!((two[0].data.len(), two[1].p1), (250, P1_MORE));
        // P1 0x10 is a first chunk too; P2 must be 0; a first chunk needs the length.
        let mut c = cmds[0].clone();
        c.p1 = P1_SIGN;
        assert!(matches!(
            TronCommand::from_command(&c),
            Ok(TronCommand::SignPersonalMessageChunk { first: true, .. })
        ));
        c.p2 = 1;
        assert_eq!(
            status_for(&TronCommand::from_command(&c).unwrap_err()),
            StatusWord::INCORRECT_P1P2
        );
        let short = Command::new(CLA, INS_SIGN_PERSONAL_MESSAGE, 0, 0, path.encode());
        assert_eq!(
            status_for(&TronCommand::from_command(&short).unwrap_err()),
            StatusWord::INCORRECT_LENGTH
        );
        let mut a = PersonalMessageAssembler::default();
        a.feed(true, &two[0].data).unwrap();
        let e = a.feed(false, &[0u8; 10]).unwrap_err();
        assert_eq!(status_for(&e), StatusWord::INCORRECT_LENGTH, "{e}");
    }

    #[test]
    fn preimage_and_screen() {
        assert_eq!(
            signed_preimage(b"hello"),
            b"\x19TRON Signed Message:\n5hello".to_vec()
        );
        let long = [b'x'; 123];
        assert!(signed_preimage(&long).starts_with(b"\x19TRON Signed Message:\n123x"));
        let mut h = [0u8; 32];
        h[0] = 0xAB;
        h[1] = 0xCD;
        h[30] = 0x0E;
        h[31] = 0xF1;
        assert_eq!(hash_screen_text(&h, true), "ABCD...0EF1");
        assert_eq!(hash_screen_text(&h, false).len(), 64);
        assert!(hash_screen_text(&h, false).starts_with("ABCD00"));
    }

    #[test]
    fn signature_and_configuration() {
        let mut wire = vec![1u8; 64];
        wire.push(1);
        let s = Signature::decode(&wire).unwrap();
        assert_eq!((s.v, s.encode()), (1, wire.clone()));
        wire[64] = 27;
        assert!(Signature::decode(&wire)
            .unwrap_err()
            .to_string()
            .contains('v'));
        assert!(Signature::decode(&wire[..64]).is_err());
        let c = AppConfiguration::decode(&[0x08, 0, 7, 1]).unwrap();
        assert!(c.sign_by_hash());
        assert_eq!(c.version(), "0.7.1");
        assert_eq!(
            hex::encode(AppConfiguration::request().encode().unwrap()),
            "e006000000"
        );
    }

    proptest! {
        #[test]
        fn chunk_roundtrip(msg in proptest::collection::vec(any::<u8>(), 0..1000), steps in proptest::collection::vec(any::<u32>(), 1..=10)) {
            let path = Bip32Path(steps);
            let mut a = PersonalMessageAssembler::default();
            let cmds = sign_personal_message_commands(&path, &msg);
            let mut last = None;
            for (i, c) in cmds.iter().enumerate() {
                prop_assert!(c.data.len() <= CHUNK_SIZE);
                let TronCommand::SignPersonalMessageChunk { first, data } = TronCommand::from_command(c).unwrap() else { panic!() };
                prop_assert_eq!(first, i == 0);
                last = Some(a.feed(first, &data).unwrap());
            }
            prop_assert_eq!(last.unwrap(), Assembly::Complete { path, message: msg });
        }

        #[test]
        fn address_roundtrip(pk in proptest::collection::vec(any::<u8>(), 64), addr in "T[1-9A-HJ-NP-Za-km-z]{33}", cc: Option<[u8; 32]>, display: bool, steps in proptest::collection::vec(any::<u32>(), 1..=10)) {
            let mut public_key = vec![4u8];
            public_key.extend(pk);
            let a = AddressResponse { public_key, address: addr, chain_code: cc };
            prop_assert_eq!(AddressResponse::decode(&a.encode()).unwrap(), a);
            let ga = GetAddress { path: Bip32Path(steps), display, chain_code: cc.is_some() };
            prop_assert_eq!(TronCommand::from_command(&ga.to_command()).unwrap(), TronCommand::GetAddress(ga));
        }

        #[test]
        fn signature_roundtrip(r: [u8; 32], s: [u8; 32], v in 0u8..=1) {
            let sig = Signature { r, s, v };
            prop_assert_eq!(Signature::decode(&sig.encode()).unwrap(), sig);
        }

        #[test]
        fn garbage(b in proptest::collection::vec(any::<u8>(), 0..300), ins: u8, p1: u8, p2: u8) {
            let _ = AddressResponse::decode(&b);
            let _ = Signature::decode(&b);
            let _ = AppConfiguration::decode(&b);
            if let Err(e) = TronCommand::from_command(&Command::new(CLA, ins, p1, p2, b.clone())) {
                prop_assert_ne!(status_for(&e), StatusWord::OK);
            }
            let mut a = PersonalMessageAssembler::default();
            let _ = a.feed(p1 == 0, &b);
            let _ = a.feed(false, &b);
        }
    }
}
