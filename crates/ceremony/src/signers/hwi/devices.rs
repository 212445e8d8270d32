//! What each device type HWI drives can sign, per script type: a BIP-322 `to_sign` transaction
//! through `signtx`, a legacy signed message through `signmessage`, or nothing. Read from HWI
//! 3.2.0's drivers (`hwilib/devices/*.py`) and the vendors' public sources; docs/signers.md
//! has the same table with the reasons.

use por_attest_verify::chains::ScriptType;

/// How a device proves an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// The BIP-322 `to_sign` PSBT through `signtx`.
    Psbt,
    /// A legacy "Bitcoin Signed Message" through `signmessage`.
    Message,
    /// Neither: the reason.
    Unsupported(String),
}

/// What the route depends on besides the device type and script type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskShape {
    /// A multisig cosigner's share.
    pub multisig: bool,
    /// Multisig: every cosigner an xpub with its origin (master fingerprint and path), the
    /// address at `change/index` below them: the PSBT carries what a device needs to find the
    /// wallet. Single key: the path is the BIP-44/49/84/86 one of the script type.
    pub complete: bool,
    /// The manifest allows BIP-322 transactions for this signer (`bip322 = false` forbids).
    pub bip322_allowed: bool,
}

/// The device types whose drivers in HWI 3.2.0 build a signable transaction from the
/// BIP-322 `to_sign` PSBT and whose firmware signs it (a bare `OP_RETURN` output of value 0,
/// an input spending the virtual `to_spend`).
fn signs_to_sign(kind: &str) -> bool {
    // Ledger: the Bitcoin app 2.1.3+ signs it (checked against the simulator, and the app's
    // own BIP-322 support); HWI's driver passes the PSBT through wallet policies. Coldcard:
    // its firmware's proof-of-reserves BIP-322 support (docs/proof-of-reserves-bip-322.md in
    // its repository); HWI passes the PSBT as it is.
    matches!(kind, "ledger" | "coldcard")
}

/// Whether the device's `signmessage` works for keys of `st` (and for a multisig cosigner's
/// key). BitBox02: message signing only at BIP-49/84 keypaths (`sign_message` in HWI's driver),
/// none for taproot, no legacy P2PKH at all. Every other type signs at any path (HWI's drivers
/// pass the path through) with a compressed-P2PKH header, which the verifier accepts for
/// P2SH-P2WPKH and P2WPKH addresses of the same key.
fn message_for(kind: &str, st: ScriptType, multisig: bool) -> Result<(), String> {
    if st == ScriptType::P2tr {
        return Err("a P2TR address is proven only by a BIP-322 transaction".into());
    }
    if kind == "bitbox02" {
        if multisig {
            return Err("the BitBox02 signs messages only with BIP-49/84 single keys".into());
        }
        if st == ScriptType::P2pkh {
            return Err("the BitBox02 has no legacy P2PKH addresses".into());
        }
    }
    Ok(())
}

/// How a device of HWI type `kind` proves an address of script type `st`.
pub fn route(kind: &str, st: ScriptType, shape: TaskShape) -> Route {
    let psbt_possible =
        signs_to_sign(kind) && shape.bip322_allowed && shape.complete && st != ScriptType::P2pkh;
    if psbt_possible {
        return Route::Psbt;
    }
    match message_for(kind, st, shape.multisig) {
        Ok(()) => Route::Message,
        Err(why) => {
            let psbt_why = if !signs_to_sign(kind) {
                format!("the {kind} signs no BIP-322 transaction through HWI")
            } else if !shape.bip322_allowed {
                "the manifest sets `bip322 = false` for this signer".to_string()
            } else if shape.multisig {
                "the wallet's cosigners are not all xpubs with origins".to_string()
            } else {
                "the path is not the standard one of its script type".to_string()
            };
            Route::Unsupported(format!("{why}, and {psbt_why}"))
        }
    }
}

/// True for the BIP-44/49/84/86 path of `st` on coin type 0 or 1: purpose', coin', account',
/// change (0 or 1), index. HWI's Ledger driver signs single-key inputs only at these paths.
pub fn is_standard_path(steps: &[u32], st: ScriptType) -> bool {
    const H: u32 = 0x8000_0000;
    let purpose = match st {
        ScriptType::P2pkh => 44,
        ScriptType::P2shP2wpkh => 49,
        ScriptType::P2wpkh => 84,
        ScriptType::P2tr => 86,
        _ => return false,
    };
    matches!(steps, [p, c, a, ch, i]
        if *p == purpose | H && (*c == H || *c == 1 | H) && *a >= H && *ch <= 1 && *i < H)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SINGLE: TaskShape = TaskShape {
        multisig: false,
        complete: true,
        bip322_allowed: true,
    };

    #[test]
    fn the_table() {
        use ScriptType::*;
        assert_eq!(route("ledger", P2wpkh, SINGLE), Route::Psbt);
        assert_eq!(route("ledger", P2tr, SINGLE), Route::Psbt);
        assert_eq!(route("ledger", P2pkh, SINGLE), Route::Message);
        assert_eq!(route("coldcard", P2shP2wpkh, SINGLE), Route::Psbt);
        assert_eq!(route("trezor", P2wpkh, SINGLE), Route::Message);
        assert_eq!(route("keepkey", P2pkh, SINGLE), Route::Message);
        assert_eq!(route("jade", P2shP2wpkh, SINGLE), Route::Message);
        assert!(matches!(
            route("trezor", P2tr, SINGLE),
            Route::Unsupported(_)
        ));
        assert!(matches!(
            route("bitbox02", P2pkh, SINGLE),
            Route::Unsupported(_)
        ));
        assert!(matches!(
            route("bitbox02", P2tr, SINGLE),
            Route::Unsupported(_)
        ));
        assert_eq!(route("bitbox02", P2wpkh, SINGLE), Route::Message);
        let ms = TaskShape {
            multisig: true,
            ..SINGLE
        };
        assert_eq!(route("ledger", P2wsh, ms), Route::Psbt);
        assert_eq!(route("trezor", P2wsh, ms), Route::Message);
        assert!(matches!(
            route("bitbox02", P2wsh, ms),
            Route::Unsupported(_)
        ));
        let incomplete = TaskShape {
            complete: false,
            ..ms
        };
        assert_eq!(route("ledger", P2wsh, incomplete), Route::Message);
        let legacy_only = TaskShape {
            bip322_allowed: false,
            ..SINGLE
        };
        assert_eq!(route("ledger", P2wpkh, legacy_only), Route::Message);
        let Route::Unsupported(why) = route("ledger", P2tr, legacy_only) else {
            panic!()
        };
        assert!(why.contains("bip322 = false"), "{why}");
    }

    #[test]
    fn standard_paths() {
        const H: u32 = 0x8000_0000;
        assert!(is_standard_path(&[84 | H, H, H, 0, 5], ScriptType::P2wpkh));
        assert!(is_standard_path(
            &[86 | H, 1 | H, 3 | H, 1, 0],
            ScriptType::P2tr
        ));
        assert!(!is_standard_path(&[84 | H, H, H, 0, 5], ScriptType::P2tr));
        assert!(!is_standard_path(&[84 | H, H, H, 2, 5], ScriptType::P2wpkh));
        assert!(!is_standard_path(&[84 | H, H, H, 0], ScriptType::P2wpkh));
    }
}
