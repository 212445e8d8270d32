//! SIGN_PSBT in the simulated Bitcoin app, for the default single-signature wallets
//! `wpkh(@0/**)`, `sh(wpkh(@0/**))` and `tr(@0/**)` (BIP-86 key path), and for registered
//! multisig wallets (`wsh(…)`, `sh(wsh(…))`, `sh(…)` of `multi` / `sortedmulti`).
//!
//! Like the real app it reads the PSBTv2 maps through client commands, takes as its own the
//! inputs whose BIP-32 (or, for taproot, TAP_BIP32) derivation carries its fingerprint and a
//! path of the wallet's account whose script is the spent output's, shows one prompt (the
//! outputs and the fee: like the released apps, it shows a BIP-322 `to_sign` as a zero-value
//! transaction to `OP_RETURN`, not its message), then signs each
//! own input (BIP-341 SIGHASH_DEFAULT with the BIP-86 tweak, or BIP-143 SIGHASH_ALL) and
//! yields `<input index> <key> <signature>`. A registered multisig wallet (its HMAC checked)
//! signs each input whose BIP-32 derivations name one of its own keys at the wallet's
//! `change/index` and whose spent script is the wallet's there: BIP-143 SIGHASH_ALL under
//! P2WSH / P2SH-P2WSH, the legacy sighash under P2SH (the previous transaction required).
//! Other policies answer 0x6A82; inconsistent PSBT data answers 0x6A80.

use super::bitcoin_app::{incorrect, AppError, Ctx, LoadedPolicy};
use super::device::{Prompt, PromptKind};
use bitcoin::absolute::LockTime;
use bitcoin::consensus::deserialize;
use bitcoin::hashes::Hash;
use bitcoin::key::{CompressedPublicKey, TapTweak};
use bitcoin::secp256k1::Message;
use bitcoin::sighash::{EcdsaSighashType, Prevouts, SighashCache, TapSighashType};
use bitcoin::transaction::Version;
use bitcoin::{
    Address, Amount, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Txid, Witness,
};
use firmware_messages::bitcoin::commands::BitcoinCommand;
use firmware_messages::bitcoin::device::DeviceFlow;
use firmware_messages::bitcoin::merkle::MapCommitment;
use firmware_messages::bitcoin::policy::{DefaultPolicy, DescriptorTemplate, MultisigWrapping};
use firmware_messages::bitcoin::psbt::{decode_witness_utxo, key, KeyOrigin, PartialSignature};
use firmware_messages::codec::Reader;
use firmware_messages::path::HARDENED;
use firmware_messages::{Bip32Path, StatusWord};

/// Most inputs or outputs the simulator reads.
const MAX_IO: u64 = 64;
/// Most keys in one input map.
const MAX_MAP_KEYS: u64 = 256;
/// Longest output script or BIP-322 message read.
const MAX_VALUE: usize = 10_000;

fn not_supported<T>() -> Result<T, AppError> {
    Err(AppError::Status(StatusWord::NOT_SUPPORTED))
}

/// An input key of the wallet: its full path, and for a multisig wallet the script it signs.
struct OwnKey {
    path: Bip32Path,
    script: Option<ScriptBuf>,
}

/// The kind of wallet a SIGN_PSBT signs for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum WalletKind {
    /// A default single-signature wallet.
    Default(DefaultPolicy),
    /// A registered multisig wallet.
    Multisig(MultisigWrapping),
}

struct Input {
    prevout: OutPoint,
    sequence: u32,
    utxo: TxOut,
    sighash: Option<u32>,
    own: Vec<OwnKey>,
}

/// A merkleized map with its keys read. Like the real app, values are asked only for keys
/// the map has (by their index): LedgerHQ's clients cannot answer GET_MERKLE_LEAF_INDEX for
/// an absent key.
struct Map {
    c: MapCommitment,
    keys: Vec<Vec<u8>>,
}

impl Map {
    fn read(flow: &mut DeviceFlow<'_>, c: MapCommitment) -> Result<Self, AppError> {
        if c.size > MAX_MAP_KEYS {
            return incorrect();
        }
        let keys = (0..c.size)
            .map(|i| flow.get_map_key(&c, i))
            .collect::<Result<_, _>>()?;
        Ok(Map { c, keys })
    }

    fn value_at(&self, flow: &mut DeviceFlow<'_>, index: usize) -> Result<Vec<u8>, AppError> {
        Ok(flow.get_leaf_element(&self.c.values_root, self.c.size, index as u64)?)
    }

    fn value(&self, flow: &mut DeviceFlow<'_>, key: &[u8]) -> Result<Option<Vec<u8>>, AppError> {
        match self.keys.iter().position(|k| k == key) {
            None => Ok(None),
            Some(i) => self.value_at(flow, i).map(Some),
        }
    }
}

/// A fixed-size value, if the key is present.
fn fixed<const N: usize>(
    flow: &mut DeviceFlow<'_>,
    map: &Map,
    k: u8,
) -> Result<Option<[u8; N]>, AppError> {
    match map.value(flow, &[k])? {
        None => Ok(None),
        Some(v) => v.try_into().map(Some).or_else(|_| incorrect()),
    }
}

fn required<T>(v: Option<T>) -> Result<T, AppError> {
    v.map_or_else(incorrect, Ok)
}

fn varint_value(v: &[u8]) -> Result<u64, AppError> {
    let mut r = Reader::new(v);
    let n = r.varint("count")?;
    r.finish()?;
    Ok(n)
}

/// Runs SIGN_PSBT.
pub(super) fn sign_psbt(
    ctx: &mut Ctx<'_, '_>,
    cmd: &BitcoinCommand,
    flow: &mut DeviceFlow<'_>,
) -> Result<Vec<u8>, AppError> {
    let BitcoinCommand::SignPsbt {
        global_map,
        n_inputs,
        inputs_root,
        n_outputs,
        outputs_root,
        wallet_id,
        wallet_hmac,
    } = cmd
    else {
        return incorrect();
    };
    let serialized = flow.get_preimage(wallet_id)?;
    let policy = ctx.load_policy(&serialized, flow)?;
    let kind = if *wallet_hmac == [0; 32] {
        let kind = match policy.template.as_default() {
            Some(k @ (DefaultPolicy::Wpkh | DefaultPolicy::ShWpkh | DefaultPolicy::Tr)) => k,
            _ => return not_supported(),
        };
        ctx.check_default(&policy, 0)?;
        WalletKind::Default(kind)
    } else {
        if !ctx.registered_hmac_is(wallet_id, wallet_hmac) {
            return Err(AppError::Status(StatusWord::SIGNATURE_FAIL));
        }
        match &policy.template {
            DescriptorTemplate::Multisig { wrapping, .. } => WalletKind::Multisig(*wrapping),
            _ => return not_supported(),
        }
    };
    if !(1..=MAX_IO).contains(n_inputs) || !(1..=MAX_IO).contains(n_outputs) {
        return incorrect();
    }

    // Global map.
    let global = Map::read(flow, *global_map)?;
    let tx_version = i32::from_le_bytes(required(fixed(flow, &global, key::GLOBAL_TX_VERSION)?)?);
    let lock_time =
        fixed(flow, &global, key::GLOBAL_FALLBACK_LOCKTIME)?.map_or(0, u32::from_le_bytes);
    for (k, n) in [
        (key::GLOBAL_INPUT_COUNT, n_inputs),
        (key::GLOBAL_OUTPUT_COUNT, n_outputs),
    ] {
        let v = required(global.value(flow, &[k])?)?;
        if varint_value(&v)? != *n {
            return incorrect();
        }
    }
    if let Some(v) = fixed(flow, &global, key::GLOBAL_VERSION)? {
        if u32::from_le_bytes(v) != 2 {
            return incorrect();
        }
    }

    let mut inputs = Vec::new();
    for i in 0..*n_inputs {
        let c = flow.get_map_commitment(inputs_root, *n_inputs, i)?;
        let map = Map::read(flow, c)?;
        inputs.push(read_input(ctx, &policy, kind, flow, &map)?);
    }
    let mut outputs = Vec::new();
    for i in 0..*n_outputs {
        let c = flow.get_map_commitment(outputs_root, *n_outputs, i)?;
        let map = Map::read(flow, c)?;
        let amount = u64::from_le_bytes(required(fixed(flow, &map, key::OUT_AMOUNT)?)?);
        let script = required(map.value(flow, &[key::OUT_SCRIPT])?)?;
        if script.len() > MAX_VALUE {
            return incorrect();
        }
        outputs.push(TxOut {
            value: Amount::from_sat(amount),
            script_pubkey: ScriptBuf::from_bytes(script),
        });
    }
    if !ctx.features.naked_op_return && tx_has_naked_op_return(&outputs) {
        return not_supported();
    }
    let (Some(total_in), Some(total_out)) =
        (total(inputs.iter().map(|i| &i.utxo)), total(outputs.iter()))
    else {
        return incorrect();
    };
    if total_out > total_in || inputs.iter().all(|i| i.own.is_empty()) {
        return incorrect();
    }
    let tx = Transaction {
        version: Version(tx_version),
        lock_time: LockTime::from_consensus(lock_time),
        input: inputs
            .iter()
            .map(|i| TxIn {
                previous_output: i.prevout,
                script_sig: ScriptBuf::new(),
                sequence: Sequence(i.sequence),
                witness: Witness::new(),
            })
            .collect(),
        output: outputs,
    };

    // Released apps (through 2.4.x) know nothing of BIP-322: a `to_sign` is reviewed as any
    // transaction, "Amount 0 BTC", "To OP_RETURN", "Fees 0 BTC" (seen on 2.4.1 under
    // Speculos); the message is not shown.
    let mut p = Prompt::new(PromptKind::BitcoinSignPsbt);
    if let WalletKind::Multisig(_) = kind {
        p.details
            .push(("Wallet name".into(), policy.header.name.clone()));
    }
    for (i, o) in tx.output.iter().enumerate() {
        p.details.push((
            format!("Output {}", i + 1),
            format!("{} {}", script_address(ctx, &o.script_pubkey), o.value),
        ));
    }
    p.details
        .push(("Fees".into(), (total_in - total_out).to_string()));
    ctx.confirm(p)?;

    let prevouts: Vec<TxOut> = inputs.iter().map(|i| i.utxo.clone()).collect();
    for (i, input) in inputs.iter().enumerate() {
        // App 2.0.x signs a taproot input without a sighash type with SIGHASH_ALL.
        let sighash = match (input.sighash, ctx.features.psbt_protocol_1) {
            (None, false) => Some(1),
            (given, _) => given,
        };
        for own in &input.own {
            let sig = sign_input(ctx, kind, &tx, &prevouts, i, sighash, own)?;
            let item = if ctx.features.psbt_protocol_1 {
                sig.to_yielded(i as u64).encode()
            } else {
                sig.to_bare_yielded(i as u64).encode()
            };
            flow.yield_data(item)?;
        }
    }
    Ok(Vec::new())
}

/// An output whose script is `OP_RETURN` alone, which apps before 2.1.3 refuse.
fn tx_has_naked_op_return(outputs: &[TxOut]) -> bool {
    outputs.iter().any(|o| o.script_pubkey.as_bytes() == [0x6a])
}

/// Sum of the amounts, if it does not overflow nor pass the money supply.
fn total<'a>(outs: impl Iterator<Item = &'a TxOut>) -> Option<Amount> {
    outs.into_iter()
        .try_fold(Amount::ZERO, |acc, o| acc.checked_add(o.value))
        .filter(|t| *t <= Amount::MAX_MONEY)
}

/// How the app names an output: its address, `OP_RETURN` (with its data in hex, if any), or
/// the script in hex.
fn script_address(ctx: &Ctx<'_, '_>, script: &ScriptBuf) -> String {
    if let Ok(a) = Address::from_script(script, ctx.network) {
        return a.to_string();
    }
    match script.as_bytes() {
        [0x6a] => "OP_RETURN".into(),
        [0x6a, rest @ ..] => format!("OP_RETURN {}", hex::encode(rest)),
        _ => format!("script {}", script.to_hex_string()),
    }
}

fn read_input(
    ctx: &Ctx<'_, '_>,
    policy: &LoadedPolicy,
    kind: WalletKind,
    flow: &mut DeviceFlow<'_>,
    map: &Map,
) -> Result<Input, AppError> {
    let txid = Txid::from_byte_array(required(fixed(flow, map, key::IN_PREVIOUS_TXID)?)?);
    let vout = u32::from_le_bytes(required(fixed(flow, map, key::IN_OUTPUT_INDEX)?)?);
    let sequence = fixed(flow, map, key::IN_SEQUENCE)?.map_or(u32::MAX, u32::from_le_bytes);
    let witness_utxo = match map.value(flow, &[key::IN_WITNESS_UTXO])? {
        None => None,
        Some(v) => {
            let (amount, script) = decode_witness_utxo(&v)?;
            Some(TxOut {
                value: Amount::from_sat(amount),
                script_pubkey: ScriptBuf::from_bytes(script),
            })
        }
    };
    // The previous transaction, when given, must be the one spent and agree with the
    // witness UTXO.
    let from_tx = match map.value(flow, &[key::IN_NON_WITNESS_UTXO])? {
        None => None,
        Some(raw) => {
            let prev: Transaction = deserialize(&raw).or_else(|_| incorrect())?;
            if prev.compute_txid() != txid {
                return incorrect();
            }
            Some(required(prev.output.get(vout as usize).cloned())?)
        }
    };
    let legacy = kind == WalletKind::Multisig(MultisigWrapping::Sh);
    let utxo = match (witness_utxo, from_tx) {
        (Some(w), Some(t)) if w != t => return incorrect(),
        // A legacy input is signed over the previous transaction, which must be given, and
        // must have no witness UTXO (as the app requires since 2.1: 0x6A80 otherwise).
        (None, Some(t)) if legacy => t,
        _ if legacy => return incorrect(),
        (Some(w), _) => w,
        // Segwit and taproot inputs need the witness UTXO.
        (None, _) => return incorrect(),
    };
    let sighash = fixed(flow, map, key::IN_SIGHASH_TYPE)?.map(u32::from_le_bytes);

    let taproot = kind == WalletKind::Default(DefaultPolicy::Tr);
    let (want_type, key_len) = if taproot {
        (key::IN_TAP_BIP32_DERIVATION, 33)
    } else {
        (key::IN_BIP32_DERIVATION, 34)
    };
    // The wallet's own keys: their origin paths (one for a default wallet).
    let accounts: Vec<Vec<u32>> = policy
        .keys
        .iter()
        .filter(|k| ctx.is_internal(k))
        .filter_map(|k| k.origin.as_ref().map(|(_, p)| p.indices().to_vec()))
        .collect();
    let accounts = match kind {
        WalletKind::Default(_) => vec![policy.keys[0]
            .origin
            .as_ref()
            .map(|(_, p)| p.indices().to_vec())
            .unwrap_or_default()],
        WalletKind::Multisig(_) => accounts,
    };
    let mut own: Vec<OwnKey> = Vec::new();
    for (j, k) in map.keys.iter().enumerate() {
        if k.first() != Some(&want_type) {
            continue;
        }
        if k.len() != key_len {
            return incorrect();
        }
        let origin = KeyOrigin::decode(&map.value_at(flow, j)?, taproot)?;
        let steps = &origin.path;
        let ours = origin.fingerprint == ctx.keys.fingerprint()
            && origin.leaf_hashes.is_empty()
            && accounts.iter().any(|account| {
                steps.len() == account.len() + 2
                    && steps[..account.len()] == account[..]
                    && steps[account.len()] <= 1
                    && steps[account.len() + 1] < HARDENED
            });
        if !ours {
            continue;
        }
        let path = Bip32Path(steps.clone());
        let pk = ctx
            .keys
            .derive(&path)
            .private_key
            .public_key(&ctx.keys.secp);
        let key_matches = if taproot {
            k[1..] == pk.x_only_public_key().0.serialize()
        } else {
            k[1..] == pk.serialize()
        };
        let n = steps.len();
        let (change, index) = (steps[n - 2] == 1, steps[n - 1]);
        // The spent script must be the wallet's at that path, as the app checks.
        let address = ctx.address(policy, change, index)?;
        if !key_matches || script_address(ctx, &utxo.script_pubkey) != address {
            continue;
        }
        if taproot {
            if let Some(internal) = fixed::<32>(flow, map, key::IN_TAP_INTERNAL_KEY)? {
                if internal != pk.x_only_public_key().0.serialize() {
                    return incorrect();
                }
            }
        }
        let script = match kind {
            WalletKind::Multisig(_) => Some(ctx.multisig_script(policy, change, index)?),
            WalletKind::Default(_) => None,
        };
        if own.iter().any(|o| o.path == path) {
            continue;
        }
        own.push(OwnKey { path, script });
        if let WalletKind::Default(_) = kind {
            break;
        }
    }
    Ok(Input {
        prevout: OutPoint { txid, vout },
        sequence,
        utxo,
        sighash,
        own,
    })
}

fn sign_input(
    ctx: &Ctx<'_, '_>,
    kind: WalletKind,
    tx: &Transaction,
    prevouts: &[TxOut],
    index: usize,
    sighash: Option<u32>,
    own: &OwnKey,
) -> Result<PartialSignature, AppError> {
    let secp = &ctx.keys.secp;
    let xpriv = ctx.keys.derive(&own.path);
    let mut cache = SighashCache::new(tx);
    if kind == WalletKind::Default(DefaultPolicy::Tr) {
        let ty = match sighash {
            None | Some(0) => TapSighashType::Default,
            Some(1) => TapSighashType::All,
            Some(_) => return not_supported(),
        };
        let digest = cache
            .taproot_key_spend_signature_hash(index, &Prevouts::All(prevouts), ty)
            .or_else(|_| incorrect())?;
        // BIP-86: the output key is the internal key tweaked with no script tree.
        let keypair = xpriv.to_keypair(secp).tap_tweak(secp, None).to_keypair();
        let sig =
            secp.sign_schnorr_no_aux_rand(&Message::from_digest(digest.to_byte_array()), &keypair);
        let mut signature = sig.as_ref().to_vec();
        if ty != TapSighashType::Default {
            signature.push(ty as u8);
        }
        return Ok(PartialSignature::TaprootKeyPath {
            key: keypair.x_only_public_key().0.serialize(),
            signature,
        });
    }
    if !matches!(sighash, None | Some(1)) {
        return not_supported();
    }
    let pk = CompressedPublicKey(xpriv.private_key.public_key(secp));
    let amount = prevouts[index].value;
    let all = EcdsaSighashType::All;
    let digest = match (kind, &own.script) {
        (WalletKind::Multisig(MultisigWrapping::Sh), Some(script)) => cache
            .legacy_signature_hash(index, script, all as u32)
            .or_else(|_| incorrect())?
            .to_byte_array(),
        (WalletKind::Multisig(_), Some(script)) => cache
            .p2wsh_signature_hash(index, script, amount, all)
            .or_else(|_| incorrect())?
            .to_byte_array(),
        _ => cache
            .p2wpkh_signature_hash(
                index,
                &ScriptBuf::new_p2wpkh(&pk.wpubkey_hash()),
                amount,
                all,
            )
            .or_else(|_| incorrect())?
            .to_byte_array(),
    };
    let sig = secp.sign_ecdsa(&Message::from_digest(digest), &xpriv.private_key);
    let mut signature = sig.serialize_der().to_vec();
    signature.push(EcdsaSighashType::All as u8);
    Ok(PartialSignature::Ecdsa {
        pubkey: pk.to_bytes(),
        signature,
    })
}
