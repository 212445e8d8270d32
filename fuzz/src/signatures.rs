//! Signature decoders: BIP-322 (simple and full, every script type), legacy signed messages
//! (BIP-137 headers) and multisig scripts.

use bitcoin::address::NetworkUnchecked;
use bitcoin::Address;
use por_attest::schemes::{
    decode_bip137_signature, multisig_script, parse_multisig, recover_bip137, threshold_of,
    verify_bip137, verify_bip322,
};

fn parts(data: &[u8]) -> Option<(&str, &[u8], &str)> {
    let mut it = data.splitn(3, |&b| b == 0);
    let a = std::str::from_utf8(it.next()?).ok()?;
    let m = it.next()?;
    let s = std::str::from_utf8(it.next()?).ok()?;
    Some((a, m, s))
}

/// `address \0 message \0 signature`: BIP-322 and legacy verification never panic, a
/// signature that verifies as one kind verifies the same again (the verifier is a function of
/// its input), and a legacy signature that verifies recovers the key it verified with.
pub fn bip322(data: &[u8]) {
    let Some((a, msg, sig)) = parts(data) else {
        return;
    };
    let _ = decode_bip137_signature(sig);
    let Ok(address) = a.parse::<Address<NetworkUnchecked>>() else {
        return;
    };
    let address = address.assume_checked();
    let first = verify_bip322(&address, msg, sig);
    assert_eq!(
        first.as_ref().ok(),
        verify_bip322(&address, msg, sig).as_ref().ok(),
        "BIP-322 verification is not deterministic"
    );
    if let Ok(key) = verify_bip137(&address, msg, sig) {
        let (recovered, _) = recover_bip137(msg, sig).expect("a verified signature recovers");
        assert_eq!(recovered, key, "legacy signature recovers another key");
    }
}

/// A multisig script: parsing never panics, and a parsed script is rebuilt byte for byte from
/// its threshold and keys.
pub fn multisig(data: &[u8]) {
    let Ok(ms) = parse_multisig(data) else {
        let _ = threshold_of(data);
        return;
    };
    assert_eq!(threshold_of(data).ok(), Some(ms.threshold), "threshold_of");
    let rebuilt = multisig_script(ms.threshold, &ms.keys).expect("a parsed script rebuilds");
    assert_eq!(rebuilt.as_slice(), data, "rebuilt script differs");
}
