//! Account entries end to end in the verifier: every kind round-trips through a snapshot file
//! and verifies; each tampering fails with its reason, and only what it touches; duplicates
//! across entries and accounts are caught; the report counts addresses.

use bitcoin::bip32::{ChildNumber, DerivationPath, Xpub};
use por_attest_simulator::synthetic_accounts::{
    account_key, account_master, account_xpriv, address_below, sign_account_message,
    synthetic_account_header, AccountGenerator, AccountKind,
};
use por_attest_verify::account::keys::multisig_descriptor;
use por_attest_verify::account::AccountAddress;
use por_attest_verify::chains::{Network, Scheme, ScriptType};
use por_attest_verify::message::{MessageFields, Template};
use por_attest_verify::report::Report;
use por_attest_verify::schemes::bip137::{sign_bip137, Bip137Kind};
use por_attest_verify::schemes::secp;
use por_attest_verify::snapshot::{Entry, SignatureRecord, Snapshot, ACCOUNTS_FORMAT_VERSION};
use por_attest_verify::verify::{verify_snapshot_file, VerifyOptions};
use sha2::{Digest, Sha256};

const SEED: &[u8] = b"account tests";

const KINDS: [AccountKind; 9] = [
    AccountKind::Bitcoin(ScriptType::P2pkh),
    AccountKind::Bitcoin(ScriptType::P2shP2wpkh),
    AccountKind::Bitcoin(ScriptType::P2wpkh),
    AccountKind::Bitcoin(ScriptType::P2tr),
    AccountKind::Multisig(ScriptType::P2sh),
    AccountKind::Multisig(ScriptType::P2wsh),
    AccountKind::Multisig(ScriptType::P2shP2wsh),
    AccountKind::Evm,
    AccountKind::Tron,
];

fn generator() -> AccountGenerator {
    AccountGenerator::new(synthetic_account_header(), SEED)
}

/// One account of every kind, 6 addresses each (a multisig wallet also lists change `1/2`).
fn snapshot() -> Snapshot {
    let g = generator();
    let accounts = KINDS
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let mut a = g.account(i as u64, *k, 6);
            if let AccountKind::Multisig(_) = k {
                let change: Vec<Xpub> = (0..3)
                    .map(|c| {
                        account_key(SEED, i as u64, c, *k)
                            .xpub
                            .ckd_pub(secp(), ChildNumber::Normal { index: 1 })
                            .unwrap()
                    })
                    .collect();
                a.addresses.push(AccountAddress {
                    path: "1/2".into(),
                    address: address_below(*k, &change, 2),
                    balance: None,
                    coins: Vec::new(),
                });
            }
            a
        })
        .collect();
    Snapshot {
        header: g.header().clone(),
        entries: Vec::new(),
        accounts,
    }
}

fn verify(s: &Snapshot) -> Report {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.json");
    std::fs::write(&p, s.to_file_bytes()).unwrap();
    verify_snapshot_file(
        &p,
        &VerifyOptions {
            threads: 2,
            progress: false,
            claims: false,
        },
    )
    .unwrap()
}

/// The index of the account of `kind` in [`snapshot`].
fn of(kind: AccountKind) -> usize {
    KINDS.iter().position(|k| *k == kind).unwrap()
}

/// The message of `account` re-rendered for another `{account}` text.
fn message_for(chain: &str, text: &str) -> String {
    generator().message(chain, text)
}

#[test]
fn every_kind_round_trips_and_verifies() {
    let s = snapshot();
    assert_eq!(s.header.version, ACCOUNTS_FORMAT_VERSION);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.json");
    let bytes = s.to_file_bytes();
    std::fs::write(&p, &bytes).unwrap();
    let back = Snapshot::read(&p).unwrap();
    assert_eq!(back, s);
    assert_eq!(
        back.to_file_bytes(),
        bytes,
        "the same content gives the same bytes"
    );
    let r = verify(&s);
    assert_eq!(r.result, "verified", "{}", r.to_human());
    assert_eq!(
        (r.entries, r.accounts, r.addresses, r.verified),
        (0, 9, 9 * 6 + 3, 9 * 6 + 3)
    );
    assert_eq!(r.chains["BTC"].accounts, 7);
    assert_eq!(r.chains["ETH"].addresses, 6);
    assert_eq!(r.chains["TRX"].addresses, 6);
}

#[test]
fn a_wrong_address_fails_only_itself_reported_by_account_and_path() {
    let mut s = snapshot();
    let w = of(AccountKind::Bitcoin(ScriptType::P2wpkh));
    let stated = s.accounts[w].addresses[3].address.clone();
    // The account's own address 50, which it does not list, claimed at 0/3.
    let chain = account_key(SEED, w as u64, 0, KINDS[w])
        .xpub
        .ckd_pub(secp(), ChildNumber::Normal { index: 0 })
        .unwrap();
    let wrong = address_below(KINDS[w], &[chain], 50);
    s.accounts[w].addresses[3].address = wrong.clone();
    let e = of(AccountKind::Evm);
    // Lower case is the same EVM address; a TRON address is not.
    s.accounts[e].addresses[4].address = s.accounts[e].addresses[4].address.to_lowercase();
    s.accounts[e].addresses[5].address = "TLa2f6VPqDgRE67v1736s7bJ8Ray5wYjU7".into();
    let r = verify(&s);
    assert_eq!(r.failed, 2, "{}", r.to_human());
    assert_eq!(r.verified, r.addresses - 2);
    assert_eq!(r.accounts_failed, 0);
    let p = &r.problems[0];
    assert_eq!(
        (p.account, p.path.as_deref()),
        (Some(w as u64), Some("0/3"))
    );
    assert_eq!(p.address, wrong);
    assert!(
        p.reason
            .contains(&format!("gives {stated} at 0/3, not {wrong}")),
        "{}",
        p.reason
    );
    assert_eq!(
        (r.problems[1].account, r.problems[1].path.as_deref()),
        (Some(e as u64), Some("5"))
    );
    // Another listed address at the wrong path: wrong, and a duplicate.
    let mut s = snapshot();
    let moved = s.accounts[w].addresses[1].address.clone();
    s.accounts[w].addresses[2].address = moved;
    let r = verify(&s);
    assert_eq!(r.failed, 1, "{}", r.to_human());
    assert!(
        r.problems[0].reason.contains("at 0/2, not")
            && r.problems[0].reason.contains("duplicate address: account"),
        "{}",
        r.problems[0].reason
    );
}

/// What the verifier says of a signature by a key that is not the account's: the key it
/// recovers to (Bitcoin), or the address (EVM, TRON).
fn wrong_key_reason(kind: AccountKind) -> &'static str {
    match kind {
        AccountKind::Evm | AccountKind::Tron => "is from the address",
        _ => "recovers to the key",
    }
}

/// The kind's key path with the account step (`…/0'` in third place) made `1'`: the key of
/// the sibling account of the same seed.
fn sibling_path(kind: AccountKind) -> DerivationPath {
    let mut steps: Vec<ChildNumber> = kind.key_path().into();
    steps[2] = ChildNumber::Hardened { index: 1 };
    steps.into()
}

#[test]
fn the_xpub_of_a_sibling_account_fails_the_account() {
    for kind in [
        AccountKind::Bitcoin(ScriptType::P2wpkh),
        AccountKind::Evm,
        AccountKind::Tron,
    ] {
        let mut s = snapshot();
        let w = of(kind);
        let master = account_master(SEED, w as u64, 0);
        let path = sibling_path(kind);
        let sibling = Xpub::from_priv(secp(), &master.derive_priv(secp(), &path).unwrap());
        assert_ne!(Some(sibling.to_string()), s.accounts[w].key);
        let origin = path.to_string();
        let origin = origin.trim_start_matches("m/");
        s.accounts[w].key = Some(format!(
            "[{}/{origin}]{sibling}",
            master.fingerprint(secp())
        ));
        s.accounts[w].message = message_for(kind.chain(), &sibling.to_string());
        let r = verify(&s);
        assert_eq!(
            (r.accounts_failed, r.failed),
            (1, 6),
            "{kind:?}: {}",
            r.to_human()
        );
        let p = &r.problems[0];
        assert_eq!(
            (p.account, p.addresses),
            (Some(w as u64), Some(6)),
            "{kind:?}"
        );
        assert!(
            p.reason.contains(wrong_key_reason(kind)),
            "{kind:?}: {}",
            p.reason
        );
    }
}

#[test]
fn a_changed_chain_code_fails_the_account() {
    for kind in [
        AccountKind::Bitcoin(ScriptType::P2tr),
        AccountKind::Evm,
        AccountKind::Tron,
    ] {
        let w = of(kind);
        for rerender in [false, true] {
            let mut s = snapshot();
            let mut x = account_key(SEED, w as u64, 0, kind).xpub;
            let mut cc = x.chain_code.to_bytes();
            cc[0] ^= 1;
            x.chain_code = cc.into();
            let text = s.accounts[w].key.clone().unwrap();
            let origin = &text[..text.find(']').unwrap() + 1];
            s.accounts[w].key = Some(format!("{origin}{x}"));
            if rerender {
                s.accounts[w].message = message_for(kind.chain(), &x.to_string());
            }
            let r = verify(&s);
            assert_eq!(r.accounts_failed, 1, "{kind:?}: {}", r.to_human());
            let reason = &r.problems[0].reason;
            if rerender {
                // The key signed it, but the message names another extended key: the
                // signature is over other text, so it recovers to an unrelated key.
                assert!(
                    reason.contains(wrong_key_reason(kind)),
                    "{kind:?}: {reason}"
                );
            } else {
                assert!(
                    reason.contains("message is not the snapshot's account template"),
                    "{kind:?}: {reason}"
                );
            }
        }
    }
}

#[test]
fn a_signature_by_another_account_key_fails_the_account() {
    for kind in [
        AccountKind::Bitcoin(ScriptType::P2shP2wpkh),
        AccountKind::Evm,
        AccountKind::Tron,
    ] {
        let mut s = snapshot();
        let i = of(kind);
        let other = account_xpriv(SEED, 99, 0, kind).private_key;
        s.accounts[i].signatures = vec![sign_account_message(
            kind,
            &other,
            &s.accounts[i].message,
            None,
        )];
        let r = verify(&s);
        assert_eq!(r.accounts_failed, 1, "{kind:?}: {}", r.to_human());
        let reason = &r.problems[0].reason;
        assert!(
            reason.contains(wrong_key_reason(kind)),
            "{kind:?}: {reason}"
        );
        assert!(reason.contains("not the account key"), "{kind:?}: {reason}");
    }
}

#[test]
fn a_hardened_relative_path_fails_the_account_with_its_path() {
    let mut s = snapshot();
    let i = of(AccountKind::Bitcoin(ScriptType::P2pkh));
    s.accounts[i].addresses[2].path = "0/2'".into();
    let r = verify(&s);
    assert_eq!((r.accounts_failed, r.failed), (1, 6), "{}", r.to_human());
    let reason = &r.problems[0].reason;
    assert!(reason.contains("`0/2'` has a hardened step"), "{reason}");
    // An EVM account's addresses are one step below the key, unhardened too.
    let mut s = snapshot();
    let e = of(AccountKind::Evm);
    s.accounts[e].addresses[4].path = "4'".into();
    let r = verify(&s);
    assert_eq!((r.accounts_failed, r.failed), (1, 6), "{}", r.to_human());
    assert!(
        r.problems[0].reason.contains("`4'` has a hardened step"),
        "{}",
        r.problems[0].reason
    );
    // A multisig path the descriptor does not have (`<0;1>` takes 0/i and 1/i).
    let mut s = snapshot();
    let m = of(AccountKind::Multisig(ScriptType::P2wsh));
    s.accounts[m].addresses[0].path = "2/0".into();
    let r = verify(&s);
    assert_eq!(r.accounts_failed, 1, "{}", r.to_human());
    assert!(
        r.problems[0].reason.contains("does not fit"),
        "{}",
        r.problems[0].reason
    );
}

const MULTISIG: [ScriptType; 3] = [ScriptType::P2wsh, ScriptType::P2sh, ScriptType::P2shP2wsh];

#[test]
fn a_descriptor_with_a_swapped_cosigner_fails() {
    for st in MULTISIG {
        let kind = AccountKind::Multisig(st);
        let m = of(kind);
        let mut keys: Vec<_> = (0..3)
            .map(|k| account_key(SEED, m as u64, k, kind))
            .collect();
        keys[1] = account_key(SEED, 77, 1, kind);
        let swapped = multisig_descriptor(st, 2, true, &keys).unwrap();
        let hash = format!("sha256:{}", hex::encode(Sha256::digest(swapped.as_bytes())));
        // The message re-rendered for the new descriptor: the old signatures do not cover it.
        let mut s = snapshot();
        assert_ne!(s.accounts[m].descriptor.as_deref(), Some(swapped.as_str()));
        s.accounts[m].descriptor = Some(swapped.clone());
        s.accounts[m].message = message_for("BTC", &hash);
        let r = verify(&s);
        assert_eq!(
            (r.accounts_failed, r.failed),
            (1, 7),
            "{st}: {}",
            r.to_human()
        );
        assert!(
            r.problems[0]
                .reason
                .contains("not one of the descriptor's cosigner keys"),
            "{st}: {}",
            r.problems[0].reason
        );
        // The message left alone: it names the original descriptor.
        let mut s = snapshot();
        s.accounts[m].descriptor = Some(swapped.clone());
        let r = verify(&s);
        assert_eq!(r.accounts_failed, 1, "{st}: {}", r.to_human());
        assert!(
            r.problems[0]
                .reason
                .contains("message is not the snapshot's account template"),
            "{st}: {}",
            r.problems[0].reason
        );
        // The text changed under its checksum.
        let mut s = snapshot();
        let d = s.accounts[m].descriptor.clone().unwrap();
        let sum = d.rsplit_once('#').unwrap().1;
        let body = swapped.rsplit_once('#').unwrap().0;
        s.accounts[m].descriptor = Some(format!("{body}#{sum}"));
        let r = verify(&s);
        assert_eq!(r.accounts_failed, 1, "{st}: {}", r.to_human());
        assert!(
            r.problems[0].reason.contains("field `descriptor`"),
            "{st}: {}",
            r.problems[0].reason
        );
    }
}

#[test]
fn below_the_threshold_fails() {
    for st in MULTISIG {
        let kind = AccountKind::Multisig(st);
        let m = of(kind);
        let mut s = snapshot();
        s.accounts[m].signatures.pop();
        let r = verify(&s);
        assert_eq!(
            (r.accounts_failed, r.failed),
            (1, 7),
            "{st}: {}",
            r.to_human()
        );
        assert!(
            r.problems[0]
                .reason
                .contains("only 1 distinct cosigner signature, threshold 2"),
            "{st}: {}",
            r.problems[0].reason
        );
        // The same cosigner twice is still one.
        let mut s = snapshot();
        let first = s.accounts[m].signatures[0].clone();
        s.accounts[m].signatures[1] = first;
        let r = verify(&s);
        assert_eq!(r.accounts_failed, 1, "{st}: {}", r.to_human());
        assert!(
            r.problems[0].reason.contains("only 1 distinct"),
            "{st}: {}",
            r.problems[0].reason
        );
        // A third signature by the third cosigner is welcome.
        let mut s = snapshot();
        let sk = account_xpriv(SEED, m as u64, 2, kind).private_key;
        let msg = s.accounts[m].message.clone();
        s.accounts[m]
            .signatures
            .push(sign_account_message(kind, &sk, &msg, None));
        assert_eq!(verify(&s).result, "verified", "{st}");
    }
}

#[test]
fn the_message_of_another_snapshot_fails() {
    let mut other = synthetic_account_header();
    other.snapshot_id = "bench-2026-10".into();
    let g = AccountGenerator::new(other, SEED);
    for kind in [
        AccountKind::Bitcoin(ScriptType::P2wpkh),
        AccountKind::Multisig(ScriptType::P2wsh),
        AccountKind::Evm,
        AccountKind::Tron,
    ] {
        let mut s = snapshot();
        let i = of(kind);
        // The same account, signed for the other snapshot: only the message differs.
        let theirs = g.account(i as u64, kind, 6);
        assert_eq!(theirs.addresses, s.accounts[i].addresses[..6]);
        assert_ne!(theirs.message, s.accounts[i].message);
        s.accounts[i].message = theirs.message;
        s.accounts[i].signatures = theirs.signatures;
        let r = verify(&s);
        assert_eq!(r.accounts_failed, 1, "{kind:?}: {}", r.to_human());
        assert!(
            r.problems[0]
                .reason
                .contains("message is not the snapshot's account template"),
            "{kind:?}: {}",
            r.problems[0].reason
        );
        assert!(
            r.problems[0].reason.contains("bench-2026-11"),
            "{kind:?}: {}",
            r.problems[0].reason
        );
    }
}

#[test]
fn duplicates_across_entries_and_accounts_are_caught() {
    let mut s = snapshot();
    let w = of(AccountKind::Bitcoin(ScriptType::P2wpkh));
    // A per-address entry for the account's address 0/1, signed by its key.
    let child = account_xpriv(SEED, w as u64, 0, KINDS[w])
        .derive_priv(
            secp(),
            &[
                ChildNumber::Normal { index: 0 },
                ChildNumber::Normal { index: 1 },
            ],
        )
        .unwrap();
    let address = s.accounts[w].addresses[1].address.clone();
    let h = &s.header;
    let anchor = &h.anchors["BTC"];
    let message = Template::parse(&h.message_template)
        .unwrap()
        .render(&MessageFields::new(
            &h.entity,
            &h.snapshot_id,
            "BTC",
            &address,
            anchor,
        ));
    s.entries.push(Entry {
        chain: "BTC".into(),
        network: Network::Mainnet,
        address: address.clone(),
        script_type: Some(ScriptType::P2wpkh),
        wallet: None,
        balance: None,
        signatures: vec![SignatureRecord {
            scheme: Scheme::Bip137.into(),
            signature: sign_bip137(&child.private_key, message.as_bytes(), Bip137Kind::P2wpkh),
            signer: None,
            owner: None,
        }],
        message,
        threshold: None,
        script: None,
        coins: Vec::new(),
        tokens: Vec::new(),
        contract_wallet: None,
    });
    // Another account listing an address of the P2WPKH account again... a second copy of it.
    let copy = s.accounts[w].clone();
    s.accounts.push(copy);
    let r = verify(&s);
    assert_eq!((r.entries, r.accounts), (1, 10), "{}", r.to_human());
    assert_eq!(r.verified, 1 + 9 * 6 + 3 - 1, "{}", r.to_human());
    assert_eq!(r.failed, 1 + 6, "{}", r.to_human());
    let first = &r.problems[0];
    assert_eq!(
        (first.account, first.path.as_deref()),
        (Some(w as u64), Some("0/1"))
    );
    assert!(
        first
            .reason
            .contains("duplicate address: entry 0 already lists"),
        "{}",
        first.reason
    );
    let copied = &r.problems[1];
    assert_eq!(
        (copied.account, copied.path.as_deref()),
        (Some(9), Some("0/0"))
    );
    assert!(
        copied.reason.contains(&format!(
            "duplicate address: account {w} (its address number 0)"
        )),
        "{}",
        copied.reason
    );
    assert!(
        r.problems[2].reason.contains("entry 0 already lists"),
        "{}",
        r.problems[2].reason
    );
}

#[test]
fn an_okx_export_says_it_leaves_the_accounts_out() {
    let s = snapshot();
    let mut out = Vec::new();
    let summary = por_attest_verify::okx::export_okx_csv(&s, &mut out).unwrap();
    assert_eq!(
        (summary.written, summary.accounts_skipped),
        (0, KINDS.len())
    );
}

/// An account address's coins at the anchor, offline, on both reading paths (parallel and
/// streaming): adding up to its balance they verify and reach its claim; adding up to
/// something else, or created after the anchor, they fail that address (`invalid_balance`).
#[test]
fn an_account_address_lists_its_coins() {
    use por_attest_verify::snapshot::Coin;
    use por_attest_verify::verify::{verify_parallel, verify_streaming};
    let mut s = snapshot();
    let w = of(AccountKind::Bitcoin(ScriptType::P2wpkh));
    let anchor = s.header.anchors["BTC"].height;
    let coin = |vout: u32, sat: u64, height: u64| Coin {
        txid: "4a".repeat(32),
        vout,
        amount_sat: sat,
        height,
        block_hash: "00".repeat(32),
        spent: None,
    };
    let dir = tempfile::tempdir().unwrap();
    let run = |s: &Snapshot| {
        let p = dir.path().join("coins.json");
        std::fs::write(&p, s.to_file_bytes()).unwrap();
        let opts = VerifyOptions {
            threads: 2,
            progress: false,
            claims: true,
        };
        let fast = verify_parallel(&p, &opts)
            .unwrap()
            .expect("the parallel path takes it");
        let slow = verify_streaming(&p, &opts).unwrap();
        assert_eq!(fast, slow);
        slow
    };
    let a = &mut s.accounts[w].addresses[2];
    a.balance = Some("0.75".into());
    a.coins = vec![coin(0, 50_000_000, anchor), coin(1, 25_000_000, anchor - 9)];
    let r = run(&s);
    assert_eq!(r.result, "verified", "{}", r.to_human());
    let claim = r
        .claims
        .iter()
        .find(|c| c.account == Some(w as u64) && c.path.as_deref() == Some("0/2"))
        .unwrap();
    assert_eq!(claim.coins, s.accounts[w].addresses[2].coins);
    let reason = |r: &Report| {
        assert_eq!(r.failed, 1, "{}", r.to_human());
        let p = &r.problems[0];
        assert_eq!(
            (p.account, p.path.as_deref()),
            (Some(w as u64), Some("0/2"))
        );
        assert_eq!(p.code, "invalid_balance");
        p.reason.clone()
    };
    s.accounts[w].addresses[2].coins[1].amount_sat += 1;
    assert_eq!(
        reason(&run(&s)),
        "field `coins`: the coins add up to 0.75000001 BTC, the balance states 0.75"
    );
    s.accounts[w].addresses[2].coins[1] = coin(1, 25_000_000, anchor + 1);
    assert!(reason(&run(&s)).contains("after the anchor"));
}
