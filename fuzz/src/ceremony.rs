//! The ceremony's device drivers (dashboard, Bitcoin, Ethereum and Tron apps) against a
//! device whose every reply comes from the fuzzer: whatever the device says, the ceremony
//! never panics, and every signature it journals verifies for its address and message.

use crate::input::{Input, InputWriter};
use crate::scratch;
use por_attest::ceremony::{sign, SignOptions};
use por_attest::chains::Scheme;
use por_attest::demo::write_manifest;
use por_attest::journal::{load_records, Record, SignedRecord};
use por_attest::manifest::{Manifest, SigningTask};
use por_attest::schemes;
use por_attest::transport::{Exchange, TransportError};
use std::path::PathBuf;
use std::sync::OnceLock;

/// The signer the scripted device plays.
pub const SIGNER: &str = "sim-a";

/// The demo manifest for 12 addresses (every single-key script type, a 2-of-3 P2WSH, EVM
/// chains and TRON) and a P2TR address of the signer, written once into the scratch folder.
pub fn manifest() -> &'static Manifest {
    static M: OnceLock<Manifest> = OnceLock::new();
    M.get_or_init(|| {
        let dir = scratch::path().join("ceremony");
        let path = write_manifest(&dir, 12).expect("write the demo manifest");
        let csv = dir.join("addresses.csv");
        let mut text = std::fs::read_to_string(&csv).expect("read the CSV");
        text.push_str(&format!(
            "BTC,mainnet,{},p2tr,m/86'/0'/0'/0/0,sim-a,cold,,,,,\n",
            crate::interrupt::p2tr_address()
        ));
        std::fs::write(&csv, text).expect("write the CSV");
        Manifest::load(path).expect("the demo manifest loads")
    })
}

/// A device that answers with the fuzzer's replies, then disconnects.
pub struct Scripted<'a> {
    input: Input<'a>,
    /// APDUs received.
    pub exchanges: usize,
}

impl Exchange for Scripted<'_> {
    fn exchange(&mut self, _apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.exchanges += 1;
        if self.input.is_empty() {
            return Err(TransportError::Disconnected);
        }
        // A reply of length 255 stands for a dropped connection (so that a disconnect can come
        // anywhere, not only at the end).
        let n = self.input.u8();
        if n == 255 {
            return Err(TransportError::Disconnected);
        }
        Ok(self.input.bytes(n as usize).to_vec())
    }
}

/// Writes replies in the form [`Scripted`] reads (each at most 254 bytes).
pub fn encode_replies(replies: &[Vec<u8>]) -> Vec<u8> {
    let mut w = InputWriter::default();
    for r in replies {
        assert!(r.len() < 255, "a reply of {} bytes", r.len());
        w.piece(r);
    }
    w.0
}

/// Options of the run.
pub fn options() -> SignOptions {
    SignOptions {
        signer: Some(SIGNER.into()),
        device_is_simulator: true,
        ..SignOptions::default()
    }
}

/// Why a journaled signature does not prove what its record says, if it does not.
pub fn check_record(m: &Manifest, r: &SignedRecord) -> Result<(), String> {
    let tasks: Vec<SigningTask<'_>> = m.tasks_for(SIGNER).collect();
    let task = tasks
        .iter()
        .find(|t| t.key() == r.key())
        .ok_or("a record for no task of this signer")?;
    let spec = task.spec;
    let message = m.render_message(spec);
    if !r.is_over(&message) {
        return Err("over another message".into());
    }
    let msg = message.as_bytes();
    let btc = || -> Result<bitcoin::Address, String> {
        Ok(spec
            .address
            .parse::<bitcoin::Address<bitcoin::address::NetworkUnchecked>>()
            .map_err(|e| e.to_string())?
            .assume_checked())
    };
    let e = |e: schemes::SchemeError| e.to_string();
    match (r.scheme, task.expected_pubkey) {
        (Scheme::Bip137, Some(key)) => {
            let (k, _) = schemes::recover_bip137(msg, &r.signature).map_err(e)?;
            if k != key.inner {
                return Err("a cosigner signature by another key".into());
            }
        }
        (Scheme::Bip137, None) => {
            schemes::verify_bip137(&btc()?, msg, &r.signature).map_err(e)?;
        }
        (Scheme::Bip322Partial, Some(key)) => {
            let ms = spec.multisig.as_ref().ok_or("a partial signature for a single key")?;
            let spend = schemes::Bip322Spend::Multisig {
                script_type: spec.script_type.ok_or("no script type")?,
                script: ms.script.as_bytes(),
            };
            let sig = hex::decode(&r.signature).map_err(|e| e.to_string())?;
            schemes::check_partial_signature(&spend, msg, &key, &sig).map_err(|e| e.to_string())?;
        }
        (Scheme::Bip322Simple | Scheme::Bip322Full, None) => {
            schemes::verify_bip322(&btc()?, msg, &r.signature).map_err(e)?;
        }
        (Scheme::Eip191, None) => {
            schemes::verify_eip191(&spec.address, msg, &r.signature).map_err(e)?
        }
        (Scheme::TronTip191, None) => {
            schemes::verify_tron(&spec.address, msg, &r.signature, schemes::TronVersion::V2)
                .map_err(e)?
        }
        (s, k) => return Err(format!("scheme {s} for a task with key {k:?}")),
    }
    Ok(())
}

/// Fuzzed replies, one per APDU: the run never panics and what it journals verifies.
pub fn ceremony_device(data: &[u8]) {
    let m = manifest();
    let journal: PathBuf = scratch::fresh("ceremony-journal.jsonl");
    let mut device = Scripted {
        input: Input::new(data),
        exchanges: 0,
    };
    let _ = sign(m, &journal, &mut device, &options());
    if !journal.exists() {
        return;
    }
    let records = load_records(&[&journal], &m.identity()).expect("the ceremony's journal reads");
    for r in &records.records {
        if let Record::Signed(s) = r {
            if let Err(why) = check_record(m, s) {
                panic!("journaled a signature that does not verify ({why}): {s:?}");
            }
        }
    }
}
