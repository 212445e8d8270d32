//! Which extended public keys the Bitcoin app exports without showing them: the app's
//! `is_path_safe_for_pubkey_export` (app-bitcoin-new `handler/get_extended_pubkey.c`). Any other
//! path needs `display = 1` (a key export review on the device), or the app answers
//! [`crate::StatusWord::NOT_SUPPORTED`] (0x6A82).

const H: u32 = 0x8000_0000;

/// The largest account index the app exports silently (`MAX_BIP44_ACCOUNT_RECOMMENDED`).
pub const MAX_SILENT_ACCOUNT: u32 = 100;

/// True when the app exports the key at `path` without a prompt: BIP-44/49/84/86 (and 45) with
/// three hardened steps, or BIP-48 with four (script type 1' or 2'), then only unhardened steps;
/// coin type `coin_type` (0 on the Bitcoin app, 1 on Bitcoin Test); account at most
/// [`MAX_SILENT_ACCOUNT`]; and Electrum's `m/4541509'/1112098098'`.
pub fn exports_silently(path: &[u32], coin_type: u32) -> bool {
    if path == [4_541_509 | H, 1_112_098_098 | H] {
        return true;
    }
    if path.len() < 3 {
        return false;
    }
    let hardened = match path[0] & !H {
        44 | 45 | 49 | 84 | 86 => 3,
        48 => 4,
        _ => return false,
    };
    if path.len() < hardened
        || path[..hardened].iter().any(|s| s & H == 0)
        || path[hardened..].iter().any(|s| s & H != 0)
    {
        return false;
    }
    if path[1] & !H != coin_type || path[2] & !H > MAX_SILENT_ACCOUNT {
        return false;
    }
    hardened != 4 || matches!(path[3] & !H, 1 | 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Vec<u32> {
        s.parse::<crate::Bip32Path>().unwrap().0
    }

    #[test]
    fn the_apps_rule() {
        for ok in [
            "m/84'/0'/0'",
            "m/44'/0'/100'",
            "m/86'/0'/3'/0/7",
            "m/48'/0'/0'/2'",
            "m/48'/0'/0'/1'/0/1",
            "m/45'/0'/0'",
            "m/4541509'/1112098098'",
        ] {
            assert!(exports_silently(&p(ok), 0), "{ok}");
        }
        for no in [
            "m/84'/0'",
            "m/84'/1'/0'",
            "m/84'/0'/101'",
            "m/84'/0'/0",
            "m/84'/0'/0'/0'",
            "m/48'/0'/0'/3'",
            "m/48'/0'/0'",
            "m/44'/60'/0'",
            "m/0'/0'/0'",
        ] {
            assert!(!exports_silently(&p(no), 0), "{no}");
        }
        assert!(exports_silently(&p("m/84'/1'/0'"), 1));
    }
}
