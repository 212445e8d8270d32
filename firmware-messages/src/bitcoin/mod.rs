//! Ledger Bitcoin app, current protocol (app 2.1+, CLA 0xE1, P2 = protocol version 1).
//!
//! - [`commands`]: the app's commands and their replies;
//! - [`client_commands`]: the interrupt loop's requests (status 0xE000) and their answers;
//! - [`merkle`]: Ledger's merkle trees and merkleized maps;
//! - [`policy`]: wallet policies (serialization v1/v2, keys info, descriptor templates);
//! - [`psbt`]: PSBTv2 maps for SIGN_PSBT and the partial signatures it yields;
//! - [`host`]: the host-side interpreter and interrupt-loop driver;
//! - [`device`]: the device-side flow that asks the host for preimages and leaves;
//! - [`export`]: which extended keys the app exports without a prompt;
//! - [`display`]: what the app shows of a message it signs.

pub mod client_commands;
pub mod commands;
pub mod device;
pub mod display;
pub mod export;
pub mod host;
pub mod merkle;
pub mod policy;
pub mod psbt;

/// Class of the Bitcoin app's commands.
pub const CLA_BITCOIN: u8 = 0xE1;
/// Class of framework commands (CONTINUE).
pub const CLA_FRAMEWORK: u8 = 0xF8;
/// CONTINUE instruction.
pub const INS_CONTINUE: u8 = 0x01;
/// Protocol version sent in P2.
pub const PROTOCOL_VERSION: u8 = 1;

/// Instruction codes of the Bitcoin app.
pub mod ins {
    /// GET_EXTENDED_PUBKEY.
    pub const GET_EXTENDED_PUBKEY: u8 = 0x00;
    /// REGISTER_WALLET.
    pub const REGISTER_WALLET: u8 = 0x02;
    /// GET_WALLET_ADDRESS.
    pub const GET_WALLET_ADDRESS: u8 = 0x03;
    /// SIGN_PSBT.
    pub const SIGN_PSBT: u8 = 0x04;
    /// GET_MASTER_FINGERPRINT.
    pub const GET_MASTER_FINGERPRINT: u8 = 0x05;
    /// SIGN_MESSAGE.
    pub const SIGN_MESSAGE: u8 = 0x10;
}

/// SHA-256.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(data).into()
}

/// The legacy "Bitcoin Signed Message" digest: double SHA-256 of the magic prefix, the
/// varint message length and the message.
pub fn signed_message_hash(message: &[u8]) -> [u8; 32] {
    let mut pre = b"\x18Bitcoin Signed Message:\n".to_vec();
    crate::codec::write_varint(&mut pre, message.len() as u64);
    pre.extend_from_slice(message);
    sha256(&sha256(&pre))
}
