//! `por-attest verify` on snapshots: the shipped example, one-character tampering of every
//! entry kind, and unreadable input.

use por_attest::fixtures::{example_snapshot, legacy_snapshot};
use por_attest::report::Report;
use por_attest::snapshot::Snapshot;
use por_attest::verify::{verify_snapshot_file, VerifyOptions};
use std::path::{Path, PathBuf};
use std::process::Command;

fn example_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/snapshot.json")
}

fn verify(path: &Path) -> Report {
    verify_snapshot_file(path, &VerifyOptions::default()).expect("readable snapshot")
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn cli(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_por-attest"))
        .args(args)
        .output()
        .expect("run por-attest");
    (
        out.status.code().expect("exit code"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn example_file_is_the_generated_snapshot() {
    let generated = example_snapshot().to_file_bytes();
    if std::env::var_os("POR_ATTEST_WRITE_EXAMPLE").is_some() {
        std::fs::write(example_path(), &generated).unwrap();
    }
    let shipped = std::fs::read(example_path()).expect("examples/snapshot.json exists");
    assert!(
        shipped == generated,
        "examples/snapshot.json differs from fixtures::example_snapshot(); regenerate with POR_ATTEST_WRITE_EXAMPLE=1 cargo test --test verify_snapshot"
    );
}

#[test]
fn example_verifies_with_exit_0_and_covers_every_scheme() {
    let (code, out, err) = cli(&["verify", example_path().to_str().unwrap()]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("VERIFIED"), "{out}");
    let (code, json, _) = cli(&["verify", "--json", example_path().to_str().unwrap()]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["result"], "verified");
    assert_eq!(v["failed"], 0);
    assert_eq!(v["digest"]["ok"], true);
    let s = Snapshot::read(&example_path()).unwrap();
    let mut kinds = std::collections::BTreeSet::new();
    for e in &s.entries {
        for sig in &e.signatures {
            kinds.insert(format!(
                "{}/{}/{}",
                e.chain,
                e.script_type.map(|t| t.to_string()).unwrap_or_default(),
                sig.scheme
            ));
        }
    }
    // BIP-322 for everything but P2PKH (the BIP allows the legacy format there only).
    for needed in [
        "BTC/p2pkh/bip137",
        "BTC/p2wpkh/bip322-simple",
        "BTC/p2sh-p2wpkh/bip322-full",
        "BTC/p2tr/bip322-simple",
        "BTC/p2sh/bip322-full",
        "BTC/p2wsh/bip322-simple",
        "BTC/p2sh-p2wsh/bip322-full",
        "ETH//eip191",
        "ARB//eip191",
        "TRX//tron-tip191",
    ] {
        assert!(kinds.contains(needed), "example lacks {needed}: {kinds:?}");
    }
    assert!(
        !kinds
            .iter()
            .any(|k| k.ends_with("bip137") && k != "BTC/p2pkh/bip137"),
        "{kinds:?}"
    );
}

#[test]
fn legacy_signatures_on_segwit_and_multisig_addresses_still_verify() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "legacy.json",
        &legacy_snapshot().to_file_bytes(),
    );
    let r = verify(&p);
    assert_eq!(r.exit_code(), 0, "{}", r.to_human());
    assert_eq!(r.verified, r.entries);
    // Reported as legacy: the 5 single-key segwit entries and the 4 multisig ones.
    assert_eq!(r.legacy, 9, "{}", r.to_human());
    assert!(
        r.to_human().contains("LEGACY 9 Bitcoin entries"),
        "{}",
        r.to_human()
    );
    let (_, json, _) = cli(&["verify", "--json", p.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["legacy"], 9);
    assert_eq!(v["legacy_entries"].as_array().unwrap().len(), 9);
    // The example (BIP-322 everywhere but P2PKH) has none.
    assert_eq!(verify(&example_path()).legacy, 0);
}

/// Changes one character in the middle of `s` to another character of the same alphabet.
fn flip_char(s: &str, at: usize) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    let c = chars[at];
    chars[at] = match c {
        '0'..='8' | 'a'..='e' | 'A'..='Y' => (c as u8 + 1) as char,
        '9' => '0',
        'f' => 'a',
        'Z' => 'A',
        'z' => 'y',
        '+' | '/' | '=' => 'A',
        other => {
            if other == 'x' {
                'y'
            } else {
                'x'
            }
        }
    };
    chars.into_iter().collect()
}

#[test]
fn one_character_changes_fail_exactly_that_entry() {
    let base = example_snapshot();
    let dir = tempfile::tempdir().unwrap();
    let n = base.entries.len();
    for i in 0..n {
        for what in ["signature", "address", "message"] {
            let mut s = base.clone();
            let e = &mut s.entries[i];
            match what {
                "signature" => {
                    let sig = &mut e.signatures[0].signature;
                    let at = sig.len() / 2;
                    *sig = flip_char(sig, at);
                }
                "address" => {
                    let at = e.address.len() - 3;
                    e.address = flip_char(&e.address, at);
                }
                _ => {
                    let at = e.message.find("proof").unwrap();
                    e.message = flip_char(&e.message, at);
                }
            }
            let p = write(dir.path(), "t.json", &s.to_file_bytes());
            let r = verify(&p);
            assert_eq!(r.exit_code(), 1, "entry {i} {what}: {}", r.to_human());
            assert_eq!(r.failed, 1, "entry {i} {what}: {}", r.to_human());
            assert_eq!(r.verified as usize, n - 1, "entry {i} {what}");
            assert_eq!(r.problems[0].entry, Some(i as u64), "entry {i} {what}");
        }
    }
}

#[test]
fn second_signature_of_multisig_is_checked_too() {
    let mut s = legacy_snapshot();
    let i = s
        .entries
        .iter()
        .position(|e| e.signatures.len() == 2)
        .unwrap();
    let sig = &mut s.entries[i].signatures[1].signature;
    let at = sig.len() / 2;
    *sig = flip_char(sig, at);
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "t.json", &s.to_file_bytes());
    let r = verify(&p);
    assert_eq!(r.failed, 1, "{}", r.to_human());
}

#[test]
fn same_signature_twice_does_not_reach_the_threshold() {
    let mut s = legacy_snapshot();
    let i = s
        .entries
        .iter()
        .position(|e| e.signatures.len() == 2)
        .unwrap();
    let first = s.entries[i].signatures[0].clone();
    s.entries[i].signatures[1] = first;
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "t.json", &s.to_file_bytes());
    let r = verify(&p);
    assert_eq!(r.failed, 1, "{}", r.to_human());
    assert!(
        r.problems[0].reason.contains("threshold"),
        "{}",
        r.to_human()
    );
    assert_eq!(r.problems[0].code, "below_threshold");
}

#[test]
fn json_problems_carry_a_stable_code_beside_the_reason() {
    let mut s = example_snapshot();
    let evm: Vec<usize> = (0..s.entries.len())
        .filter(|&i| matches!(s.entries[i].chain.as_str(), "ETH" | "ARB"))
        .take(2)
        .collect();
    assert_eq!(evm.len(), 2, "the example has ETH and ARB entries");
    let (a, b) = (evm[0], evm[1]);
    let sig_a = s.entries[a].signatures.clone();
    s.entries[a].signatures = s.entries[b].signatures.clone();
    s.entries[b].signatures = sig_a;
    s.entries[0].message.push('!');
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "codes.json", &s.to_file_bytes());
    let (code, json, _) = cli(&["verify", "--json", p.to_str().unwrap()]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let codes: Vec<(u64, &str)> = v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["entry"].as_u64().unwrap(), p["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        codes,
        vec![
            (0, "message_mismatch"),
            (a as u64, "wrong_key"),
            (b as u64, "wrong_key")
        ],
        "{json}"
    );
}

#[test]
fn duplicates_network_mismatch_and_unknown_chain_fail_with_reasons() {
    let base = example_snapshot();
    let dir = tempfile::tempdir().unwrap();

    let mut s = base.clone();
    let dup = s.entries[0].clone();
    s.entries.push(dup);
    let r = verify(&write(dir.path(), "d.json", &s.to_file_bytes()));
    assert_eq!(r.failed, 1);
    assert!(
        r.problems[0].reason.contains("duplicate"),
        "{}",
        r.to_human()
    );
    assert_eq!(r.problems[0].code, "duplicate_address");

    let mut s = base.clone();
    s.entries[0].network = por_attest::chains::Network::Testnet;
    let r = verify(&write(dir.path(), "n.json", &s.to_file_bytes()));
    assert_eq!(r.failed, 1);
    assert!(r.problems[0].reason.contains("network"), "{}", r.to_human());
    assert_eq!(r.problems[0].code, "network_mismatch");

    let mut s = base.clone();
    s.entries[0].chain = "DOGE".into();
    let r = verify(&write(dir.path(), "c.json", &s.to_file_bytes()));
    assert_eq!(r.failed, 1);
    assert!(
        r.problems[0].reason.contains("unknown chain"),
        "{}",
        r.to_human()
    );
    assert_eq!(r.problems[0].code, "unknown_chain");

    // A signature moved to another address with its message rewritten still fails.
    let mut s = base.clone();
    let (a, b) = (0, 2);
    s.entries[a].signatures = s.entries[b].signatures.clone();
    let r = verify(&write(dir.path(), "m.json", &s.to_file_bytes()));
    assert_eq!(r.failed, 1, "{}", r.to_human());
}

#[test]
fn tampered_file_fails_its_digest() {
    let text = std::fs::read_to_string(example_path()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "t.json",
        text.replacen("\"cold\"", "\"hot\"", 1).as_bytes(),
    );
    let r = verify(&p);
    assert_eq!(r.exit_code(), 1);
    assert!(
        r.file_failures[0].reason.contains("digest"),
        "{}",
        r.to_human()
    );
    assert_eq!(r.file_failures[0].code.as_str(), "digest_mismatch");
    let (code, _, _) = cli(&["verify", p.to_str().unwrap()]);
    assert_eq!(code, 1);
}

#[test]
fn unreadable_input_exits_2_with_a_clear_message() {
    let text = std::fs::read(example_path()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty.json", vec![], "empty"),
        (
            "garbage.json",
            b"this is not json".to_vec(),
            "not valid JSON",
        ),
        (
            "trunc.json",
            text[..text.len() * 2 / 3].to_vec(),
            "truncated",
        ),
        ("array.json", b"[1,2]".to_vec(), "invalid snapshot"),
    ];
    for (name, bytes, expect) in cases {
        let p = write(dir.path(), name, &bytes);
        let (code, out, err) = cli(&["verify", p.to_str().unwrap()]);
        assert_eq!(code, 2, "{name}: {out}{err}");
        assert!(err.contains(name), "{name}: message names the file: {err}");
        assert!(err.contains(expect), "{name}: {err}");
        assert!(!err.contains("panicked"), "{name}: {err}");
    }
    let (code, _, err) = cli(&["verify", "/nonexistent/snapshot.json"]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot open"), "{err}");
    let bad_field = String::from_utf8(text.clone())
        .unwrap()
        .replacen("\"p2pkh\"", "\"p2pkk\"", 1);
    let p = write(dir.path(), "field.json", bad_field.as_bytes());
    let (code, _, err) = cli(&["verify", p.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        err.contains("entry 0") && err.contains("p2pkk") && err.contains("line"),
        "{err}"
    );
}

#[test]
fn unknown_scheme_fails_that_entry_with_its_reason() {
    let mut s = example_snapshot();
    s.entries[1].signatures[0].scheme =
        por_attest::chains::SchemeName::Unknown("schnorr-2030".into());
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "u.json", &s.to_file_bytes());
    let r = verify(&p);
    assert_eq!(r.exit_code(), 1);
    assert_eq!(r.failed, 1, "{}", r.to_human());
    assert!(
        r.file_failures.is_empty(),
        "digest covers the name as written"
    );
    assert_eq!(r.problems[0].entry, Some(1));
    assert!(
        r.problems[0]
            .reason
            .contains("unknown scheme `schnorr-2030`"),
        "{}",
        r.to_human()
    );
    assert_eq!(r.problems[0].code, "unknown_scheme");
    let (code, out, _) = cli(&["verify", p.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
}

/// Token holdings and Safe contract wallets in our own entries, offline: a token adds to its
/// own total and verifies with its address; a Safe's owners' signatures verify and leave it
/// unsupported (its control is on-chain state); malformed ones fail naming the field.
#[test]
fn tokens_and_contract_wallets_offline() {
    use por_attest::fixtures::{eip191_entry, master_key, secret_at, test_header, TEST_MNEMONIC};
    use por_attest::schemes::evm::{evm_address_of, to_checksum_address};
    use por_attest::snapshot::{ContractWallet, TokenHolding};
    let key = |i: u32| secret_at(&master_key(TEST_MNEMONIC), &format!("m/44'/60'/0'/0/{i}"));
    let addr = |i: u32| {
        let secp = bitcoin::secp256k1::Secp256k1::new();
        to_checksum_address(&evm_address_of(&key(i).public_key(&secp)))
    };
    let header = test_header(
        "Acme",
        "2026-12",
        &[
            ("ETH", 100, &format!("0x{}", "ab".repeat(32))),
            ("TRX", 5, &"cd".repeat(32)),
        ],
    );
    let entry = |chain: &str, address: &str, signers: &[(u32, Option<String>)]| {
        let keys: Vec<_> = signers.iter().map(|(i, o)| (key(*i), o.clone())).collect();
        eip191_entry(&header, chain, address, "2", &keys)
    };
    let usdc = |balance: &str| TokenHolding {
        asset: "USDC".into(),
        contract: "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48".into(),
        decimals: 6,
        balance: balance.into(),
    };
    let safe_addr = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
    let mut holder = entry("ETH", &addr(1), &[(1, None)]);
    holder.tokens = vec![usdc("10.5")];
    let mut safe = entry("ETH", safe_addr, &[(2, Some(addr(2))), (3, Some(addr(3)))]);
    safe.contract_wallet = Some(ContractWallet::Safe);
    // Failing ones: a token finer than its decimals, an owner on a plain entry, a Safe
    // signature without its owner, one by another key than its owner, a Safe on TRON.
    let mut fine = entry("ETH", &addr(4), &[(4, None)]);
    fine.tokens = vec![usdc("1.0000001")];
    let plain_owner = entry("ETH", &addr(5), &[(5, Some(addr(5)))]);
    let mut no_owner = entry(
        "ETH",
        "0x000000000000000000000000000000000000dEaD",
        &[(2, Some(addr(2))), (3, None)],
    );
    no_owner.contract_wallet = Some(ContractWallet::Safe);
    let mut other_key = entry(
        "ETH",
        "0x1111111111111111111111111111111111111111",
        &[(2, Some(addr(3)))],
    );
    other_key.contract_wallet = Some(ContractWallet::Safe);
    let mut on_tron = entry("TRX", "TMVkf58Mk6JiVHXFqScrFCCfy5cgMoKhN1", &[]);
    on_tron.signatures = safe.signatures.clone();
    on_tron.contract_wallet = Some(ContractWallet::Safe);
    let s = Snapshot {
        header: header.clone(),
        entries: vec![
            holder,
            safe,
            fine,
            plain_owner,
            no_owner,
            other_key,
            on_tron,
        ],
        accounts: Vec::new(),
    };
    let dir = tempfile::tempdir().unwrap();
    let r = verify(&write(dir.path(), "s.json", &s.to_file_bytes()));
    let human = r.to_human();
    assert_eq!((r.verified, r.unsupported, r.failed), (1, 1, 5), "{human}");
    let by_entry = |i: u64| r.problems.iter().find(|p| p.entry == Some(i)).unwrap();
    assert!(by_entry(1).reason.starts_with(&format!(
        "Safe contract wallet: owner signatures valid for {}, {}, but that they control {safe_addr}",
        addr(2),
        addr(3)
    )), "{human}");
    let expect = [
        (2, "invalid_balance", "field `tokens` [0] `balance`"),
        (
            3,
            "invalid_field",
            "signature 0: field `owner` applies to contract wallets only",
        ),
        (4, "invalid_field", "signature 1: field `owner` is missing"),
        (5, "wrong_key", "signature 0 (owner 0x"),
        (
            6,
            "invalid_field",
            "field `contract_wallet` applies to EVM chains only, not TRX",
        ),
    ];
    for (i, code, start) in expect {
        let p = by_entry(i);
        assert_eq!(p.code, code, "entry {i}: {}", p.reason);
        assert!(p.reason.starts_with(start), "entry {i}: {}", p.reason);
    }
    // The token's own total, the Safe's ether in the ETH total but not on verified addresses.
    assert_eq!(r.balances["ETH USDC"].stated.to_string(), "10.5");
    assert_eq!(r.balances["ETH USDC"].on_verified.to_string(), "10.5");
    assert_eq!(r.balances["ETH"].on_verified.to_string(), "2");
    assert_eq!(r.balances["ETH"].stated.to_string(), "12");
}
