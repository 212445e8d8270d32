//! Air-gapped signers: devices that never touch the host and sign through files on an SD card
//! (a Coldcard; any BIP-174 PSBT signer: Passport, Keystone, SeedSigner, Jade, Sparrow).
//!
//! The ceremony (`crate::ceremony::files`) runs them in two phases with the journal as the
//! only state: it writes one request per task the journal lacks, the operator carries the files
//! to the device and back, and the same command imports every answer, checks it with the very
//! functions that check a Ledger's signatures, journals it and writes requests only for what is
//! still missing. This module holds the file formats, pure and without I/O:
//!
//! * [`request`]: which request a task gets (a BIP-322 `to_sign` PSBT, or Coldcard's text-file
//!   message signing) and what each kind of signer cannot sign through files;
//! * [`coldcard`]: Coldcard's rules (text request lines, message limits, answer file names,
//!   its multisig wallet file);
//! * [`answer`]: reading answers (PSBTs in binary, base64 or hex; BIP-137 armored messages);
//! * [`answer_signer`]: one answer seen as a [`crate::signer::Signer`], so that the ceremony's
//!   own checks run on it;
//! * [`keys`]: the device's public-key export (`coldcard-export.json`, `[fingerprint/path]xpub`
//!   lines), which fills the BIP-32 derivations of the requests and the manifest's account rows.

pub mod answer;
pub mod answer_signer;
pub mod coldcard;
pub mod keys;
pub mod request;

use crate::manifest::SignerKind;

/// The kind of file-based signer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A Coldcard: PSBTs and text-file message signing on its SD card.
    Coldcard,
    /// Any BIP-174 signer: PSBT files only.
    Psbt,
}

impl FileKind {
    /// The file kind of a manifest signer kind, `None` for a signer that is not file-based.
    pub fn of(kind: SignerKind) -> Option<FileKind> {
        match kind {
            SignerKind::Coldcard => Some(FileKind::Coldcard),
            SignerKind::Psbt => Some(FileKind::Psbt),
            _ => None,
        }
    }

    /// The manifest's spelling.
    pub fn name(self) -> &'static str {
        match self {
            FileKind::Coldcard => "coldcard",
            FileKind::Psbt => "psbt",
        }
    }
}
