//! A software Coldcard for tests: it answers the request files of an SD-card folder as the
//! device does, with a test seed, following the rules of Coldcard's firmware (its
//! `docs/proof-of-reserves-bip-322.md`, `shared/psbt.py`, `shared/auth.py` `sign_txt_file`,
//! `shared/msgsign.py`, `shared/multisig.py`), independently of the ceremony's own code:
//!
//! * `NAME.psbt` (binary, base64 or hex): a proof-of-reserves PSBT must be version 0, carry
//!   its message (printable ASCII, 2 to 330 characters, tabs and newlines allowed, no leading
//!   or trailing space, never three spaces in a row) in PSBT_GLOBAL_GENERIC_SIGNED_MESSAGE,
//!   have one zero-value output that is a bare OP_RETURN, spend as input 0 the BIP-322
//!   `to_spend` of that message given whole in NON_WITNESS_UTXO, a BIP-32 (or TAP_BIP32)
//!   derivation on every input, SIGHASH_ALL (or none) on ECDSA inputs, and a key of this
//!   device at its stated path; a multisig input needs its wallet registered first. The
//!   answer, in the request's encoding, is `NAME-signed.psbt` (finalized, as the device
//!   finalizes a complete PSBT, unless [`SoftColdcard::finalize`] is off) or
//!   `NAME-part.psbt` while a multisig input lacks signatures.
//! * `NAME.txt`: at most three lines (message; path; address format `p2pkh`, `p2wpkh` or
//!   `p2sh-p2wpkh`, guessed from the path when absent), the message as above but at most 240
//!   characters and without tabs; the answer `NAME-signed.txt` is the BIP-137 armored message
//!   with the header byte of the address format (firmware 5.1.0 on).
//! * `*-wallet-*.txt`: a multisig wallet file (`Name:`, `Policy: M of N`, `Format:`,
//!   `Derivation:`, `XFP: xpub`), registered when it holds this device's key.
//!
//! Every approval is counted ([`SoftColdcard::confirmations`]).

use bitcoin::bip32::{ChildNumber, DerivationPath, Fingerprint, Xpriv, Xpub};
use bitcoin::blockdata::script::Instruction;
use bitcoin::hashes::Hash;
use bitcoin::key::CompressedPublicKey;
use bitcoin::secp256k1::{Message, Secp256k1};
use bitcoin::{
    absolute::LockTime, transaction::Version, Address, Amount, Network, OutPoint, Psbt, PublicKey,
    ScriptBuf, Sequence, Transaction, TxIn, TxOut, Witness,
};
use sha2::{Digest, Sha256};
use std::cell::{Cell, RefCell};
use std::path::Path;
use std::str::FromStr;

/// A software Coldcard holding one seed.
pub struct SoftColdcard {
    master: Xpriv,
    network: Network,
    /// Finalize a complete PSBT (what the device does); off: leave partial signatures.
    pub finalize: bool,
    wallets: RefCell<Vec<Wallet>>,
    confirmations: Cell<u64>,
}

/// A registered multisig wallet.
#[derive(Debug, Clone)]
struct Wallet {
    threshold: usize,
    /// Each cosigner's key and the length of its derivation path.
    keys: Vec<(Xpub, usize)>,
}

/// What the device did with one request file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Wrote this answer file.
    Answered(String),
    /// Registered the multisig wallet of this file.
    Registered(String),
    /// Refused the file, with the device's reason.
    Refused(String),
}

fn secp() -> &'static Secp256k1<bitcoin::secp256k1::All> {
    static S: std::sync::OnceLock<Secp256k1<bitcoin::secp256k1::All>> = std::sync::OnceLock::new();
    S.get_or_init(Secp256k1::new)
}

/// The firmware's `validate_text_for_signing`.
fn validate_text(msg: &str, max: usize, allow_tab_nl: bool) -> Result<(), String> {
    let ok = |c: char| (' '..='~').contains(&c) || (allow_tab_nl && (c == '\t' || c == '\n'));
    if !msg.chars().all(ok) {
        return Err("must be ascii printable".into());
    }
    if msg.len() < 2 {
        return Err("msg too short (min. 2)".into());
    }
    if msg.len() > max {
        return Err(format!("msg too long (max. {max})"));
    }
    if msg.contains("   ") {
        return Err("too many spaces together in msg(max. 3)".into());
    }
    if msg.starts_with(' ') {
        return Err("leading space(s) in msg".into());
    }
    if msg.ends_with(' ') {
        return Err("trailing space(s) in msg".into());
    }
    Ok(())
}

/// The BIP-322 `to_spend` of a message hash for a script.
fn to_spend(msg: &[u8], script_pubkey: ScriptBuf) -> Transaction {
    let tag = Sha256::digest(b"BIP0322-signed-message");
    let mut h = Sha256::new();
    h.update(tag);
    h.update(tag);
    h.update(msg);
    let mut script_sig = vec![0x00, 0x20];
    script_sig.extend_from_slice(&h.finalize());
    Transaction {
        version: Version(0),
        lock_time: LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint::null(),
            script_sig: ScriptBuf::from_bytes(script_sig),
            sequence: Sequence(0),
            witness: Witness::new(),
        }],
        output: vec![TxOut {
            value: Amount::ZERO,
            script_pubkey,
        }],
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Binary,
    Base64,
    Hex,
}

fn decode(bytes: &[u8]) -> Result<(Psbt, Encoding), String> {
    if bytes.starts_with(b"psbt\xff") {
        return Psbt::deserialize(bytes)
            .map(|p| (p, Encoding::Binary))
            .map_err(|e| e.to_string());
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| "unknown file format")?
        .trim();
    if let Ok(raw) = hex::decode(text) {
        return Psbt::deserialize(&raw)
            .map(|p| (p, Encoding::Hex))
            .map_err(|e| e.to_string());
    }
    Psbt::from_str(text)
        .map(|p| (p, Encoding::Base64))
        .map_err(|e| e.to_string())
}

fn encode(psbt: &Psbt, e: Encoding) -> Vec<u8> {
    match e {
        Encoding::Binary => psbt.serialize(),
        Encoding::Hex => hex::encode(psbt.serialize()).into_bytes(),
        Encoding::Base64 => psbt.to_string().into_bytes(),
    }
}

/// The keys (33-byte pushes) and threshold of a CHECKMULTISIG script.
fn multisig_keys(script: &ScriptBuf) -> Option<(usize, Vec<PublicKey>)> {
    let mut m = None;
    let mut keys = Vec::new();
    for i in script.instructions() {
        match i.ok()? {
            Instruction::Op(op) if m.is_none() => {
                let b = op.to_u8();
                // OP_1 .. OP_16
                m = (0x51..=0x60).contains(&b).then(|| (b - 0x50) as usize);
                m?;
            }
            Instruction::PushBytes(b) if b.len() == 33 => {
                keys.push(PublicKey::from_slice(b.as_bytes()).ok()?)
            }
            _ => {}
        }
    }
    Some((m?, keys))
}

fn push(data: &[u8]) -> ScriptBuf {
    let b = bitcoin::script::PushBytesBuf::try_from(data.to_vec()).expect("short push");
    bitcoin::script::Builder::new().push_slice(b).into_script()
}

impl SoftColdcard {
    /// A device holding `mnemonic`'s seed (no passphrase), on `network` (BTC or XTN).
    pub fn new(mnemonic: &str, network: Network) -> SoftColdcard {
        let m = bip39::Mnemonic::parse(mnemonic).expect("valid test mnemonic");
        let master = Xpriv::new_master(network, &m.to_seed("")).expect("valid seed");
        SoftColdcard {
            master,
            network,
            finalize: true,
            wallets: RefCell::new(Vec::new()),
            confirmations: Cell::new(0),
        }
    }

    /// The master fingerprint.
    pub fn fingerprint(&self) -> Fingerprint {
        self.master.fingerprint(secp())
    }

    /// Approvals so far (signed PSBTs and messages, registered wallets).
    pub fn confirmations(&self) -> u64 {
        self.confirmations.get()
    }

    fn xpub_at(&self, path: &str) -> Xpub {
        let p = DerivationPath::from_str(path).expect("path");
        Xpub::from_priv(
            secp(),
            &self.master.derive_priv(secp(), &p).expect("derive"),
        )
    }

    /// The "Generic JSON" export (`coldcard-export.json`) of account 0, in the device's layout.
    pub fn generic_json(&self) -> String {
        let coin = if self.network == Network::Bitcoin {
            0
        } else {
            1
        };
        let section = |name: &str, deriv: String| {
            serde_json::json!({
                "name": name,
                "deriv": deriv.replace('\'', "h"),
                "xpub": self.xpub_at(&deriv).to_string(),
            })
        };
        serde_json::json!({
            "chain": if self.network == Network::Bitcoin { "BTC" } else { "XTN" },
            "xfp": self.fingerprint().to_string().to_uppercase(),
            "account": 0,
            "xpub": Xpub::from_priv(secp(), &self.master).to_string(),
            "bip44": section("p2pkh", format!("m/44'/{coin}'/0'")),
            "bip49": section("p2sh-p2wpkh", format!("m/49'/{coin}'/0'")),
            "bip84": section("p2wpkh", format!("m/84'/{coin}'/0'")),
            "bip86": section("p2tr", format!("m/86'/{coin}'/0'")),
            "bip48_1": section("p2sh-p2wsh", format!("m/48'/{coin}'/0'/1'")),
            "bip48_2": section("p2wsh", format!("m/48'/{coin}'/0'/2'")),
            "bip45": section("p2sh", "m/45'".to_string()),
        })
        .to_string()
    }

    /// Registers a multisig wallet file (`Err` with the device's reason).
    pub fn register_wallet(&self, text: &str) -> Result<(), String> {
        let (mut m, mut n, mut deriv) = (None, None, None);
        let mut keys = Vec::new();
        let mut mine = false;
        for line in text.lines() {
            let l = line.split('#').next().unwrap_or("").trim();
            let Some((label, value)) = l.split_once(':') else {
                continue;
            };
            let value = value.trim();
            match label.to_ascii_lowercase().as_str() {
                "name" if value.is_empty() || value.len() > 20 => {
                    return Err("name must be ascii, 1..20 long".into())
                }
                "policy" => {
                    let nums: Vec<usize> = value
                        .split(|c: char| !c.is_ascii_digit())
                        .filter_map(|s| s.parse().ok())
                        .collect();
                    let [a, b] = nums[..] else {
                        return Err("bad policy line".into());
                    };
                    (m, n) = (Some(a), Some(b));
                }
                "derivation" => {
                    deriv = Some(
                        DerivationPath::from_str(&value.replace('h', "'"))
                            .map_err(|e| format!("bad derivation line: {e}"))?,
                    )
                }
                l if l.len() == 8 && l.bytes().all(|b| b.is_ascii_hexdigit()) => {
                    let xpub = Xpub::from_str(value).map_err(|e| e.to_string())?;
                    let path = deriv.clone().ok_or("no derivation line")?;
                    if Fingerprint::from_str(l).map_err(|e| e.to_string())? == self.fingerprint() {
                        if self.xpub_at(&format!("m/{path}")) != xpub {
                            return Err("my xpub does not match the derivation".into());
                        }
                        mine = true;
                    }
                    keys.push((xpub, path.len()));
                }
                _ => {}
            }
        }
        let (m, n) = (m.ok_or("no policy")?, n.ok_or("no policy")?);
        if !(1 <= m && m <= n && n == keys.len()) {
            return Err(format!("wrong # of xpubs, expect {n}"));
        }
        if !mine {
            return Err("my key not included".into());
        }
        self.wallets
            .borrow_mut()
            .push(Wallet { threshold: m, keys });
        self.confirmations.set(self.confirmations.get() + 1);
        Ok(())
    }

    /// Whether a registered wallet gives `script`'s keys at the child steps of `path`.
    fn wallet_knows(&self, script: &ScriptBuf, path: &DerivationPath) -> bool {
        let Some((m, keys)) = multisig_keys(script) else {
            return false;
        };
        self.wallets.borrow().iter().any(|w| {
            w.threshold == m
                && w.keys.len() == keys.len()
                && w.keys.iter().all(|(x, depth)| {
                    let steps: Vec<ChildNumber> = path.into_iter().skip(*depth).copied().collect();
                    x.derive_pub(secp(), &steps)
                        .is_ok_and(|c| keys.contains(&PublicKey::new(c.public_key)))
                })
        })
    }

    /// Signs a proof-of-reserves PSBT file; the answer's bytes and whether it is complete.
    pub fn sign_psbt_file(&self, bytes: &[u8]) -> Result<(Vec<u8>, bool), String> {
        let (mut psbt, encoding) = decode(bytes)?;
        if psbt.version != 0 {
            return Err("PSBT MUST be version 0".into());
        }
        let key = bitcoin::psbt::raw::Key {
            type_value: 0x09,
            key: vec![],
        };
        let msg = psbt.unknown.get(&key).ok_or("msg")?.clone();
        let msg_text = String::from_utf8(msg.clone()).map_err(|_| "must be ascii printable")?;
        validate_text(&msg_text, 330, true)?;
        let tx = psbt.unsigned_tx.clone();
        if tx.output.len() != 1
            || tx.output[0].value != Amount::ZERO
            || tx.output[0].script_pubkey.as_bytes() != [0x6a]
        {
            return Err("PSBT MUST only have one output with null-data OP_RETURN".into());
        }
        if tx.version.0 != 0 && tx.version.0 != 2 {
            return Err("bad txn version".into());
        }
        let input0 = &psbt.inputs[0];
        let utxo = input0
            .non_witness_utxo
            .as_ref()
            .ok_or("i0: invalid BIP-322 'to_spend': utxo")?;
        let spk = utxo
            .output
            .first()
            .ok_or("i0: no output")?
            .script_pubkey
            .clone();
        let expected = to_spend(&msg, spk.clone());
        if *utxo != expected {
            return Err("i0: invalid BIP-322 'to_spend': utxo".into());
        }
        if tx.input[0].previous_output != OutPoint::new(expected.compute_txid(), 0) {
            return Err("i0: invalid BIP-322 'to_spend': to_spend hash".into());
        }
        let fp = self.fingerprint();
        let mut ours = 0;
        for (i, input) in psbt.inputs.iter().enumerate() {
            if input.bip32_derivation.is_empty() && input.tap_key_origins.is_empty() {
                return Err(format!("input #{i}: PSBT_IN_BIP32_DERIVATION required"));
            }
            if input.non_witness_utxo.is_none() && input.witness_utxo.is_none() {
                return Err("foreign inputs not allowed in POR PSBT".into());
            }
            for (pk, (f, path)) in &input.bip32_derivation {
                if *f == fp {
                    let derived = self
                        .master
                        .derive_priv(secp(), path)
                        .map_err(|e| e.to_string())?;
                    if derived.private_key.public_key(secp()) != *pk {
                        return Err(format!("Path ({path}) led to wrong pubkey for input#{i}"));
                    }
                    if let Some(ws) = &input.witness_script.clone().or_else(|| {
                        input
                            .redeem_script
                            .clone()
                            .filter(|r| !r.is_p2wpkh() && !r.is_p2wsh())
                    }) {
                        if !self.wallet_knows(ws, path) {
                            return Err("Unknown multisig wallet: register it first".into());
                        }
                    }
                    if input.sighash_type.is_some_and(|s| s.to_u32() != 1) {
                        return Err("POR not SIGHASH_ALL".into());
                    }
                    ours += 1;
                }
            }
            for (xonly, (_, (f, path))) in &input.tap_key_origins {
                if *f == fp {
                    let derived = self
                        .master
                        .derive_priv(secp(), path)
                        .map_err(|e| e.to_string())?;
                    if derived.private_key.x_only_public_key(secp()).0 != *xonly {
                        return Err(format!("Path ({path}) led to wrong pubkey for input#{i}"));
                    }
                    ours += 1;
                }
            }
        }
        if ours == 0 {
            return Err(
                "None of the keys involved in this transaction belong to this Coldcard".into(),
            );
        }
        psbt.sign(&self.master, secp())
            .map_err(|(_, e)| format!("signing failed: {e:?}"))?;
        self.confirmations.set(self.confirmations.get() + 1);
        let complete = self.complete(&psbt);
        if complete && self.finalize {
            self.finalize_input0(&mut psbt)?;
        }
        Ok((encode(&psbt, encoding), complete))
    }

    fn complete(&self, psbt: &Psbt) -> bool {
        let input = &psbt.inputs[0];
        let script = input
            .witness_script
            .clone()
            .or_else(|| input.redeem_script.clone().filter(|r| !r.is_p2wpkh()));
        match script.as_ref().and_then(multisig_keys) {
            Some((m, keys)) => {
                keys.iter()
                    .filter(|k| input.partial_sigs.contains_key(k))
                    .count()
                    >= m
            }
            None => input.tap_key_sig.is_some() || !input.partial_sigs.is_empty(),
        }
    }

    /// BIP-174's finalizer for input 0, then the fields it clears.
    fn finalize_input0(&self, psbt: &mut Psbt) -> Result<(), String> {
        let input = &mut psbt.inputs[0];
        let spk = input
            .non_witness_utxo
            .as_ref()
            .map(|t| t.output[0].script_pubkey.clone())
            .ok_or("no utxo")?;
        if let Some(sig) = input.tap_key_sig {
            input.final_script_witness = Some(Witness::from_slice(&[sig.to_vec()]));
        } else if let Some(ws) = input.witness_script.clone() {
            let (m, keys) = multisig_keys(&ws).ok_or("not multisig")?;
            let mut stack = vec![vec![]];
            stack.extend(
                keys.iter()
                    .filter_map(|k| input.partial_sigs.get(k))
                    .take(m)
                    .map(|s| s.to_vec()),
            );
            stack.push(ws.to_bytes());
            input.final_script_witness = Some(Witness::from_slice(&stack));
            if let Some(rs) = &input.redeem_script {
                input.final_script_sig = Some(push(rs.as_bytes()));
            }
        } else if let Some(rs) = input.redeem_script.clone().filter(|r| !r.is_p2wpkh()) {
            let (m, keys) = multisig_keys(&rs).ok_or("not multisig")?;
            let mut b = bitcoin::script::Builder::new().push_opcode(bitcoin::opcodes::OP_0);
            for s in keys
                .iter()
                .filter_map(|k| input.partial_sigs.get(k))
                .take(m)
            {
                b = b.push_slice(bitcoin::script::PushBytesBuf::try_from(s.to_vec()).expect("sig"));
            }
            b = b.push_slice(
                bitcoin::script::PushBytesBuf::try_from(rs.to_bytes()).expect("script"),
            );
            input.final_script_sig = Some(b.into_script());
        } else {
            let (pk, sig) = input.partial_sigs.iter().next().ok_or("no signature")?;
            if spk.is_p2pkh() {
                input.final_script_sig = Some(
                    bitcoin::script::Builder::new()
                        .push_slice(
                            bitcoin::script::PushBytesBuf::try_from(sig.to_vec()).expect("sig"),
                        )
                        .push_key(pk)
                        .into_script(),
                );
            } else {
                input.final_script_witness =
                    Some(Witness::from_slice(&[sig.to_vec(), pk.to_bytes()]));
                if let Some(rs) = &input.redeem_script {
                    input.final_script_sig = Some(push(rs.as_bytes()));
                }
            }
        }
        input.partial_sigs.clear();
        input.bip32_derivation.clear();
        input.tap_key_origins.clear();
        input.tap_internal_key = None;
        input.tap_key_sig = None;
        input.redeem_script = None;
        input.witness_script = None;
        input.sighash_type = None;
        Ok(())
    }

    /// Signs a text-file request; the armored answer.
    pub fn sign_text_file(&self, text: &str) -> Result<String, String> {
        let lines: Vec<&str> = text.split('\n').collect();
        if lines.len() > 3 {
            return Err("max 3 lines".into());
        }
        let msg = lines[0];
        let subpath = lines.get(1).map(|s| s.trim()).unwrap_or("");
        let fmt = match lines.get(2) {
            Some(f) => f.trim().to_ascii_lowercase(),
            None if subpath.starts_with("m/84") => "p2wpkh".into(),
            None if subpath.starts_with("m/49") => "p2sh-p2wpkh".into(),
            None => "p2pkh".into(),
        };
        validate_text(msg, 240, false)?;
        let path = if subpath.is_empty() {
            "m/44'/0'/0'/0/0".to_string()
        } else {
            subpath.replace(['h', 'p'], "'")
        };
        let path = DerivationPath::from_str(&path).map_err(|e| format!("bad path: {e}"))?;
        let sk = self
            .master
            .derive_priv(secp(), &path)
            .map_err(|e| e.to_string())?
            .private_key;
        let ck = CompressedPublicKey(sk.public_key(secp()));
        let (address, base) = match fmt.as_str() {
            "p2pkh" => (Address::p2pkh(ck, self.network).to_string(), 31),
            "p2sh-p2wpkh" | "p2wpkh-p2sh" => (Address::p2shwpkh(&ck, self.network).to_string(), 35),
            "p2wpkh" => (Address::p2wpkh(&ck, self.network).to_string(), 39),
            other => return Err(format!("Invalid address format: '{other}'")),
        };
        let digest = bitcoin::sign_message::signed_msg_hash(msg).to_byte_array();
        let sig = secp().sign_ecdsa_recoverable(&Message::from_digest(digest), &sk);
        let (recid, rs) = sig.serialize_compact();
        let mut raw = vec![base + recid.to_i32() as u8];
        raw.extend_from_slice(&rs);
        use bitcoin::base64::Engine;
        let b64 = bitcoin::base64::engine::general_purpose::STANDARD.encode(raw);
        self.confirmations.set(self.confirmations.get() + 1);
        Ok(format!(
            "-----BEGIN BITCOIN SIGNED MESSAGE-----\n{msg}\n-----BEGIN BITCOIN SIGNATURE-----\n{address}\n{b64}\n-----END BITCOIN SIGNATURE-----\n"
        ))
    }

    /// Does what an operator does with the card in `dir`: registers every wallet file, then
    /// signs every request that has no answer yet, writing the answers beside them.
    pub fn answer_dir(&self, dir: &Path) -> std::io::Result<Vec<(String, Outcome)>> {
        let mut names: Vec<String> = std::fs::read_dir(dir)?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let exists = |n: &str| dir.join(n).exists();
        let mut out = Vec::new();
        for n in names
            .iter()
            .filter(|n| n.contains("-wallet-") && n.ends_with(".txt"))
        {
            let text = std::fs::read_to_string(dir.join(n))?;
            let o = match self.register_wallet(&text) {
                Ok(()) => Outcome::Registered(n.clone()),
                Err(e) => Outcome::Refused(e),
            };
            out.push((n.clone(), o));
        }
        for n in &names {
            let (base, ext) = match n.rsplit_once('.') {
                Some(x) => x,
                None => continue,
            };
            if base.ends_with("-signed") || base.ends_with("-part") || n.contains("-wallet-") {
                continue;
            }
            let outcome = match ext {
                "psbt"
                    if !exists(&format!("{base}-signed.psbt"))
                        && !exists(&format!("{base}-part.psbt")) =>
                {
                    match self.sign_psbt_file(&std::fs::read(dir.join(n))?) {
                        Ok((bytes, complete)) => {
                            let name =
                                format!("{base}-{}.psbt", if complete { "signed" } else { "part" });
                            std::fs::write(dir.join(&name), bytes)?;
                            Outcome::Answered(name)
                        }
                        Err(e) => Outcome::Refused(e),
                    }
                }
                "txt" if !exists(&format!("{base}-signed.txt")) => {
                    match self.sign_text_file(&std::fs::read_to_string(dir.join(n))?) {
                        Ok(text) => {
                            let name = format!("{base}-signed.txt");
                            std::fs::write(dir.join(&name), text)?;
                            Outcome::Answered(name)
                        }
                        Err(e) => Outcome::Refused(e),
                    }
                }
                _ => continue,
            };
            out.push((n.clone(), outcome));
        }
        Ok(out)
    }
}
