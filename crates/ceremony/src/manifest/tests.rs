use super::load::{multisig_script, script_keys};
use super::*;
use bitcoin::bip32::{Fingerprint, Xpub};
use bitcoin::secp256k1::Secp256k1;
use bitcoin::{Address, PublicKey};
use por_attest_verify::chains::{ChainFamily, Network, ScriptType};
use por_attest_verify::error::InputError;
use por_attest_verify::message::DEFAULT_TEMPLATE;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

fn evm_address_of_pubkey(pk: &bitcoin::secp256k1::PublicKey) -> String {
    por_attest_verify::schemes::evm::to_checksum_address(
        &por_attest_verify::schemes::evm::evm_address_of(pk),
    )
}
use bitcoin::bip32::Xpriv;
use bitcoin::CompressedPublicKey;

/// The BIP-39 test mnemonic Speculos uses.
const SPECULOS: &str = "glory promote mansion idle axis finger extra february uncover one trip resource lawn turtle enact monster seven myth punch hobby comfort wild raise skin";
const ABANDON: &str =
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about";
const ZOO: &str = "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo wrong";

fn master(mnemonic: &str) -> Xpriv {
    let seed = bip39::Mnemonic::parse(mnemonic).unwrap().to_seed("");
    Xpriv::new_master(bitcoin::Network::Bitcoin, &seed).unwrap()
}

fn fingerprint(mnemonic: &str) -> Fingerprint {
    master(mnemonic).fingerprint(&Secp256k1::new())
}

fn xpub_at(mnemonic: &str, path: &str) -> Xpub {
    let secp = Secp256k1::new();
    let xpriv = master(mnemonic)
        .derive_priv(&secp, &parse_path(path).unwrap())
        .unwrap();
    Xpub::from_priv(&secp, &xpriv)
}

fn key_at(mnemonic: &str, path: &str) -> CompressedPublicKey {
    CompressedPublicKey(xpub_at(mnemonic, path).public_key)
}

fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn example() -> Manifest {
    Manifest::load(example_dir().join("manifest.toml")).unwrap()
}

/// The example's inline part only (no CSV), for mutation tests.
fn inline_text() -> String {
    std::fs::read_to_string(example_dir().join("manifest.toml"))
        .unwrap()
        .replace("addresses_csv = \"addresses.csv\"\n", "")
}

fn load_text(text: &str) -> Result<Manifest, InputError> {
    Manifest::from_str(text, "m.toml", example_dir())
}

/// Loads a mutated inline example and returns its error text.
fn err_of(from: &str, to: &str) -> String {
    let text = inline_text();
    assert!(
        text.contains(from),
        "mutation source `{from}` not in example"
    );
    let Err(e) = load_text(&text.replacen(from, to, 1)) else {
        panic!("`{from}` -> `{to}` must be refused");
    };
    assert_eq!(e.file, "m.toml");
    e.to_string()
}

fn assert_has(haystack: &str, needles: &[&str]) {
    for n in needles {
        assert!(haystack.contains(n), "`{n}` not in: {haystack}");
    }
}

#[test]
fn example_loads_and_its_addresses_are_the_seeds() {
    let m = example();
    let n = bitcoin::Network::Bitcoin;
    assert_eq!(m.entity, "Acme Exchange");
    assert!(m.test);
    for (id, seed) in [
        ("ledger-a", SPECULOS),
        ("ledger-b", ABANDON),
        ("ledger-c", ZOO),
    ] {
        assert_eq!(
            m.signer(id).unwrap().fingerprint,
            Some(fingerprint(seed)),
            "{id}"
        );
    }
    let single = |path: &str| key_at(SPECULOS, path);
    let expected: Vec<(&str, String)> = vec![
        (
            "BTC",
            Address::p2pkh(single("m/44'/0'/0'/0/0"), n).to_string(),
        ),
        (
            "BTC",
            Address::p2shwpkh(&single("m/49'/0'/0'/0/0"), n).to_string(),
        ),
        (
            "BTC",
            Address::p2wpkh(&single("m/84'/0'/0'/0/0"), n).to_string(),
        ),
        ("ETH", evm_address_of_pubkey(&single("m/44'/60'/0'/0/0").0)),
        ("ARB", evm_address_of_pubkey(&single("m/44'/60'/0'/0/0").0)),
        (
            "TRX",
            por_attest_verify::schemes::tron::tron_address_of(&single("m/44'/195'/0'/0/0").0),
        ),
        ("BTC", multisig_address(ScriptType::P2wsh, "2'", "0/0")),
        (
            "BTC",
            Address::p2wpkh(&single("m/84'/0'/0'/0/1"), n).to_string(),
        ),
        ("ETH", evm_address_of_pubkey(&single("m/44'/60'/0'/0/1").0)),
        ("BTC", multisig_address(ScriptType::P2shP2wsh, "1'", "0/0")),
    ];
    let got: Vec<(&str, String)> = m
        .addresses
        .iter()
        .map(|a| (a.chain.as_str(), a.address.clone()))
        .collect();
    assert_eq!(got, expected);
    // Single-key entries: the signer's key at the stated path is the one behind the address.
    for a in &m.addresses {
        assert_eq!(
            a.index,
            m.addresses.iter().position(|b| std::ptr::eq(a, b)).unwrap()
        );
        if let (Some(path), Some(_)) = (&a.path, &a.signer) {
            let key = key_at(SPECULOS, &path_string(path));
            let derived = match (a.family, a.script_type) {
                (ChainFamily::Bitcoin, Some(ScriptType::P2pkh)) => {
                    Address::p2pkh(key, n).to_string()
                }
                (ChainFamily::Bitcoin, Some(ScriptType::P2shP2wpkh)) => {
                    Address::p2shwpkh(&key, n).to_string()
                }
                (ChainFamily::Bitcoin, Some(ScriptType::P2wpkh)) => {
                    Address::p2wpkh(&key, n).to_string()
                }
                (ChainFamily::Evm, None) => evm_address_of_pubkey(&key.0),
                (ChainFamily::Tron, None) => {
                    por_attest_verify::schemes::tron::tron_address_of(&key.0)
                }
                other => panic!("unexpected {other:?}"),
            };
            assert_eq!(derived, a.address);
        }
    }
    // CSV rows remember their line.
    assert_eq!(
        m.addresses[7].origin,
        Origin::Csv {
            file: example_dir().join("addresses.csv"),
            line: 5
        }
    );
    assert_eq!(m.addresses[0].origin, Origin::Inline);
}

/// The 2-of-3 sortedmulti of the three seeds' BIP-48 account xpubs.
fn multisig_address(st: ScriptType, script_step: &str, child: &str) -> String {
    let keys = [SPECULOS, ABANDON, ZOO].map(|m| {
        let x = xpub_at(m, &format!("m/48'/0'/0'/{script_step}"));
        let d = x
            .derive_pub(&Secp256k1::new(), &parse_path(child).unwrap())
            .unwrap();
        PublicKey::new(d.public_key)
    });
    let s = multisig_script(2, &script_keys(keys.into_iter(), true)).unwrap();
    match st {
        ScriptType::P2wsh => Address::p2wsh(&s, bitcoin::Network::Bitcoin),
        ScriptType::P2shP2wsh => Address::p2shwsh(&s, bitcoin::Network::Bitcoin),
        ScriptType::P2sh => Address::p2sh(&s, bitcoin::Network::Bitcoin).unwrap(),
        _ => unreachable!(),
    }
    .to_string()
}

#[test]
fn multisig_script_and_tasks() {
    let m = example();
    let a = &m.addresses[6];
    let ms = a.multisig.as_ref().unwrap();
    assert_eq!(ms.threshold, 2);
    assert!(ms.sorted);
    // The script is OP_2 <3 sorted keys> OP_3 OP_CHECKMULTISIG and hashes to the address.
    let keys = ms.script_keys();
    assert!(keys.windows(2).all(|w| w[0].to_bytes() < w[1].to_bytes()));
    let asm = ms.script.to_asm_string();
    assert!(asm.starts_with("OP_PUSHNUM_2 "), "{asm}");
    assert!(asm.ends_with(" OP_PUSHNUM_3 OP_CHECKMULTISIG"), "{asm}");
    assert_eq!(
        Address::p2wsh(&ms.script, bitcoin::Network::Bitcoin).to_string(),
        a.address
    );
    // Each cosigner's task asks its device for the key at origin + child.
    let tasks: Vec<_> = m.tasks().filter(|t| t.address_index == 6).collect();
    assert_eq!(tasks.len(), 3);
    for (t, seed) in tasks.iter().zip([SPECULOS, ABANDON, ZOO]) {
        assert_eq!(path_string(t.path), "m/48'/0'/0'/2'/0/0");
        assert_eq!(
            t.expected_pubkey.unwrap().inner,
            key_at(seed, "m/48'/0'/0'/2'/0/0").0
        );
        assert_eq!(t.signer.fingerprint, Some(fingerprint(seed)));
    }
    assert_eq!(
        tasks[1].key(),
        TaskKey {
            chain: "BTC".into(),
            address: a.address.clone(),
            signer: "ledger-b".into(),
            path: "m/48'/0'/0'/2'/0/0".into()
        }
    );
    // 8 single-key tasks + 2 multisig addresses x 3 cosigners.
    assert_eq!(m.tasks().count(), 8 + 6);
    assert_eq!(m.tasks_for("ledger-b").count(), 2);
    assert_eq!(m.tasks_for("ledger-a").count(), 10);
    // Single-key tasks know no key; h-spelled paths are canonical in keys.
    let t1 = m.tasks().nth(1).unwrap();
    assert_eq!(t1.expected_pubkey, None);
    assert_eq!(t1.key().path, "m/49'/0'/0'/0/0");
    let keys: HashSet<TaskKey> = m.tasks().map(|t| t.key()).collect();
    assert_eq!(keys.len(), 14, "task keys are unique");
}

#[test]
fn renders_messages() {
    let m = example();
    assert_eq!(
        m.render_message(&m.addresses[3]),
        "Acme Exchange proof of reserves 2026-11: I control ETH address 0xDad77910DbDFdE764fC21FCD4E74D71bBACA6D8D at 21000000:0x8a3b1c2d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"
    );
    let custom = inline_text().replace(
        "message_template = \"{entity} proof of reserves {snapshot}: I control {chain} address {address} at {anchor}\"",
        "message_template = \"{address} {block_hash}\"",
    );
    let m = load_text(&custom).unwrap();
    assert_eq!(m.template().as_str(), "{address} {block_hash}");
    assert_eq!(
        m.render_message(&m.addresses[0]),
        "1KKLP5MNa9mmWnEziT5skyu7PZ8A4eFisB 00000000000000000001b6f4c7dbd5e8a0c3f1a6e4b2d9c8f7a6b5c4d3e2f1a0"
    );
    // No template: the default.
    let m =
        load_text(&custom.replace("message_template = \"{address} {block_hash}\"\n", "")).unwrap();
    assert_eq!(m.template().as_str(), DEFAULT_TEMPLATE);
}

#[test]
fn round_trips_through_toml_and_csv() {
    let m = example();
    let digest = m.identity_digest();
    let dir = tempfile::tempdir().unwrap();
    let text = m.to_toml();
    std::fs::write(dir.path().join("inline.toml"), &text).unwrap();
    let back = Manifest::load(dir.path().join("inline.toml")).unwrap();
    assert_eq!(back.identity_digest(), digest);
    assert_eq!(back.to_toml(), text);
    let strip = |v: &[AddressSpec]| {
        v.iter()
            .cloned()
            .map(|mut a| {
                a.origin = Origin::Inline;
                a
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&back.addresses), strip(&m.addresses));
    assert_eq!(back.signers, m.signers);

    let (toml_text, csv_text) = m.to_toml_with_csv("rows.csv");
    std::fs::write(dir.path().join("split.toml"), &toml_text).unwrap();
    std::fs::write(dir.path().join("rows.csv"), &csv_text).unwrap();
    let split = Manifest::load(dir.path().join("split.toml")).unwrap();
    assert_eq!(split.identity_digest(), digest);
    assert_eq!(strip(&split.addresses), strip(&m.addresses));
    assert!(matches!(
        split.addresses[0].origin,
        Origin::Csv { line: 2, .. }
    ));
}

#[test]
fn identity_digest_covers_every_field() {
    let base = load_text(&inline_text()).unwrap().identity_digest();
    assert_eq!(load_text(&inline_text()).unwrap().identity_digest(), base);
    for (from, to) in [
        ("balance = \"12.5\"", "balance = \"12.6\""),
        ("snapshot_id = \"2026-11\"", "snapshot_id = \"2026-12\""),
        ("height = 870000", "height = 870001"),
        ("wallet = \"hot\"", "wallet = \"warm\""),
        ("created_at = \"2026-11-30T00:00:00Z\"\n", ""),
    ] {
        let other = load_text(&inline_text().replacen(from, to, 1)).unwrap();
        assert_ne!(other.identity_digest(), base, "{from} -> {to}");
    }
    // Spelling defaults out or writing `h` for `'` changes nothing.
    let same = inline_text()
        .replacen(
            "path = \"m/49h/0h/0h/0/0\"",
            "path = \"m/49'/0'/0'/0/0\"",
            1,
        )
        .replacen(
            "chain = \"ETH\"\n",
            "chain = \"ETH\"\nnetwork = \"mainnet\"\n",
            1,
        );
    assert_eq!(load_text(&same).unwrap().identity_digest(), base);
    let id = example().identity();
    assert!(id.manifest_digest.starts_with("sha256:"));
    assert_eq!(id.snapshot_id, "2026-11");
}

#[test]
fn refuses_bad_manifests_naming_entry_and_field() {
    let btc0 = "entry 1 ([[addresses]] #1, `1KKLP5MNa9mmWnEziT5skyu7PZ8A4eFisB`)";
    let cases: Vec<(&str, &str, Vec<&str>)> = vec![
        ("entity = \"Acme Exchange\"\n", "", vec!["m.toml", "missing field `entity`"]),
        ("entity = \"Acme Exchange\"", "entity = \"\"", vec!["field `entity`"]),
        ("{address} at {anchor}\"", "at {anchor}\"", vec!["field `message_template`", "{address}"]),
        ("created_at = \"2026-11-30T00:00:00Z\"", "created_at = \"30/11/2026\"", vec!["field `created_at`"]),
        ("[anchors.TRX]", "[anchors.TRON]", vec!["entry 6", "field `chain`", "no anchor", "TMVkf58Mk6JiVHXFqScrFCCfy5cgMoKhN1"]),
        ("[anchors.ARB]", "[anchors.DOGE]", vec!["anchors.DOGE", "unknown chain"]),
        ("chain = \"TRX\"", "chain = \"XYZ\"", vec!["entry 6", "field `chain`", "unknown chain `XYZ`"]),
        ("id = \"ledger-b\"", "id = \"ledger-a\"", vec!["signers[1].id", "appears twice"]),
        ("fingerprint = \"f5acc2fd\"", "fingerprint = \"f5acc2f\"", vec!["signers[0].fingerprint", "8 hex"]),
        ("fingerprint = \"f5acc2fd\"\n", "", vec![btc0, "field `signer`", "fingerprint", "required"]),
        ("kind = \"ledger\"", "kind = \"usb\"", vec!["m.toml", "unknown variant `usb`"]),
        ("path = \"m/44'/0'/0'/0/0\"", "path = \"m/44'/0'/x/0/0\"", vec![btc0, "field `path`", "not a BIP-32 path"]),
        ("path = \"m/44'/0'/0'/0/0\"", "path = \"m/84'/0'/0'/0/0\"", vec![btc0, "field `path`", "BIP-44"]),
        ("path = \"m/44'/0'/0'/0/0\"", "path = \"m/44'/1'/0'/0/0\"", vec![btc0, "field `path`"]),
        ("signer = \"ledger-a\"\nwallet = \"cold\"\nbalance = \"12.5\"", "signer = \"nobody\"", vec![btc0, "field `signer`", "unknown signer `nobody`"]),
        ("script_type = \"p2pkh\"", "script_type = \"p2wpkh\"", vec![btc0, "field `script_type`", "does not match"]),
        ("script_type = \"p2pkh\"\n", "", vec![btc0, "field `script_type`", "required"]),
        ("chain = \"BTC\"\naddress = \"1KKLP5MNa9mmWnEziT5skyu7PZ8A4eFisB\"", "chain = \"BTC\"\nnetwork = \"testnet\"\naddress = \"1KKLP5MNa9mmWnEziT5skyu7PZ8A4eFisB\"", vec![btc0, "field `address`", "not a testnet address"]),
        ("1KKLP5MNa9mmWnEziT5skyu7PZ8A4eFisB", "1KKLP5MNa9mmWnEziT5skyu7PZ8A4eFisC", vec!["entry 1", "field `address`", "not a Bitcoin address"]),
        ("balance = \"12.5\"", "balance = \"12,5\"", vec![btc0, "field `balance`"]),
        ("balance = \"12.5\"", "balance = 12.5", vec!["m.toml", "expected a string"]),
        ("balance = \"12.5\"", "balance = \"12.5\"\nthreshold = 1", vec![btc0, "field `threshold`", "only for multisig"]),
        ("0xDad77910DbDFdE764fC21FCD4E74D71bBACA6D8D\"\npath", "0xdad77910DbDFdE764fC21FCD4E74D71bBACA6D8D\"\npath", vec!["entry 4", "field `address`", "EIP-55"]),
        ("path = \"m/44'/60'/0'/0/0\"", "path = \"m/44'/61'/0'/0/0\"", vec!["entry 4", "field `path`", "EVM"]),
        ("TMVkf58Mk6JiVHXFqScrFCCfy5cgMoKhN1", "TMVkf58Mk6JiVHXFqScrFCCfy5cgMoKhN2", vec!["entry 6", "field `address`", "base58check"]),
        ("chain = \"TRX\"", "chain = \"TRX\"\nscript_type = \"p2pkh\"", vec!["entry 6", "field `script_type`", "Bitcoin addresses only"]),
        ("chain = \"ARB\"", "chain = \"ETH\"", vec!["entry 5", "field `address`", "listed twice (also entry 4)"]),
        ("threshold = 2", "threshold = 4", vec!["entry 7", "field `threshold`", "between 1 and"]),
        ("threshold = 2", "threshold = 0", vec!["entry 7", "field `threshold`"]),
        ("child = \"0/0\"", "child = \"0/1\"", vec!["entry 7", "field `cosigners`", "not bc1qc2keq"]),
        ("child = \"0/0\"", "child = \"0'/0\"", vec!["entry 7", "field `child`", "unhardened"]),
        ("child = \"0/0\"\n", "", vec!["entry 7", "field `child`", "required"]),
        ("sorted = true", "sorted = false", vec!["entry 7", "field `cosigners`", "2-of-3 multisig"]),
        ("script_type = \"p2wsh\"", "script_type = \"p2sh-p2wsh\"", vec!["entry 7", "field `script_type`"]),
        ("{ signer = \"ledger-b\", path = \"m/48'/0'/0'/2'\"", "{ signer = \"ledger-b\", path = \"m/48'/0'/0'/1'\"", vec!["entry 7", "field `cosigners[1].path`", "does not fit the xpub"]),
        ("{ signer = \"ledger-b\", path = \"m/48'/0'/0'/2'\", xpub = \"xpub6DkF", "{ signer = \"ledger-x\", path = \"m/48'/0'/0'/2'\", xpub = \"xpub6DkF", vec!["entry 7", "field `cosigners[1].signer`", "unknown signer"]),
        ("{ signer = \"ledger-b\", path = \"m/48'/0'/0'/2'\", xpub = \"xpub6DkF", "{ signer = \"ledger-b\", path = \"m/48'/0'/0'/2'\", pubkey = \"02aa\", xpub = \"xpub6DkF", vec!["entry 7", "field `cosigners[1].xpub`", "exactly one"]),
        ("threshold = 2", "threshold = 2\nsigner = \"ledger-a\"", vec!["entry 7", "field `signer`", "each cosigner"]),
    ];
    for (from, to, needles) in cases {
        let e = err_of(from, to);
        assert_has(&e, &needles);
    }
    // Two of three keys held outside the ceremony: the threshold can never be met.
    let text = inline_text()
        .replacen("{ signer = \"ledger-b\", path", "{ path", 1)
        .replacen("{ signer = \"ledger-c\", path", "{ path", 1);
    let e = load_text(&text).unwrap_err().to_string();
    assert_has(
        &e,
        &[
            "entry 7",
            "field `cosigners`",
            "only 1 of the 3",
            "threshold 2 cannot be met",
        ],
    );
    // One held outside is fine for 2-of-3, and is no signing task.
    let text = inline_text().replacen("{ signer = \"ledger-c\", path", "{ path", 1);
    let m = load_text(&text).unwrap();
    assert_eq!(m.tasks().filter(|t| t.address_index == 6).count(), 2);
}

#[test]
fn simulator_signers_need_a_test_manifest() {
    let sim = inline_text().replacen("kind = \"ledger\"", "kind = \"simulator\"", 1);
    let m = load_text(&sim).unwrap();
    assert_eq!(m.signers[0].kind, SignerKind::Simulator);
    let e = load_text(&sim.replacen("\ntest = true\n", "\ntest = false\n", 1)).unwrap_err();
    assert_has(
        &e.to_string(),
        &[
            "m.toml",
            "field `signers[0].kind`",
            "simulator",
            "test = true",
        ],
    );
    // `test` defaults to false.
    let e = load_text(&sim.replacen("\ntest = true\n", "\n", 1)).unwrap_err();
    assert_has(&e.to_string(), &["signers[0].kind"]);
}

#[test]
fn nonstandard_paths_need_an_explicit_allowance() {
    let text = inline_text().replacen(
        "path = \"m/44'/0'/0'/0/0\"",
        "path = \"m/84'/0'/0'/0/0\"\nallow_nonstandard_path = true",
        1,
    );
    let m = load_text(&text).unwrap();
    assert!(m.addresses[0].allow_nonstandard_path);
    assert_eq!(
        path_string(m.addresses[0].path.as_ref().unwrap()),
        "m/84'/0'/0'/0/0"
    );
}

#[test]
fn csv_errors_name_the_csv_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let toml_text = std::fs::read_to_string(example_dir().join("manifest.toml")).unwrap();
    std::fs::write(dir.path().join("manifest.toml"), &toml_text).unwrap();
    let csv = std::fs::read_to_string(example_dir().join("addresses.csv")).unwrap();
    let cases: Vec<(&str, &str, Vec<&str>)> = vec![
        (
            "m/84'/0'/0'/0/1,ledger-a",
            "m/84'/0'/0'/0/1,ledger-z",
            vec![
                "addresses.csv",
                "line 5",
                "entry 8",
                "field `signer`",
                "unknown signer",
            ],
        ),
        (
            "0xd692Cb1346262F584D17B4B470954501f6715a82,,m/44'/60'/0'/0/1",
            "0xd692Cb1346262F584D17B4B470954501f6715a82,,m/44'/60'",
            vec![
                "line 6",
                "`0xd692Cb1346262F584D17B4B470954501f6715a82`",
                "field `path`",
            ],
        ),
        (
            "BTC,mainnet,",
            "BTC,moonnet,",
            vec!["line 5", "field `network`", "moonnet"],
        ),
        (
            ",100,2,true,",
            ",100,two,true,",
            vec!["line 7", "field `threshold`"],
        ),
        (
            ",100,2,true,0/0,",
            ",100,2,true,0/1,",
            vec!["line 7", "entry 10", "field `cosigners`"],
        ),
        (
            ";ledger-b:m/48'/0'/0'/1':",
            ";ledger-b:",
            vec!["line 7", "field `cosigners`", "SIGNER:PATH:KEY"],
        ),
        (
            "child,cosigners",
            "child,cosigners,colour",
            vec!["header row", "unknown column", "colour"],
        ),
        (
            "chain,network,address",
            "chain,network",
            vec!["header row", "addresses.csv", "`address` is missing"],
        ),
        (
            "0xd692Cb1346262F584D17B4B470954501f6715a82",
            "0xDad77910DbDFdE764fC21FCD4E74D71bBACA6D8D",
            vec!["line 6", "listed twice (also entry 4)"],
        ),
    ];
    for (from, to, needles) in cases {
        assert!(csv.contains(from), "{from}");
        std::fs::write(dir.path().join("addresses.csv"), csv.replacen(from, to, 1)).unwrap();
        let e = Manifest::load(dir.path().join("manifest.toml"))
            .expect_err(from)
            .to_string();
        assert_has(&e, &needles);
    }
    std::fs::remove_file(dir.path().join("addresses.csv")).unwrap();
    let e = Manifest::load(dir.path().join("manifest.toml")).unwrap_err();
    assert_has(&e.to_string(), &["field `addresses_csv`", "cannot read"]);
}

#[test]
fn other_multisig_shapes() {
    // Unsorted P2SH 1-of-2 where one key is held outside the ceremony, given as a pubkey.
    let a = key_at(SPECULOS, "m/45'/0/0/7");
    let outside = key_at(ZOO, "m/0/1");
    // Cosigners in descending key order, so that sorting changes the script.
    let outside_first = PublicKey::from(outside).to_bytes() > PublicKey::from(a).to_bytes();
    let keys = if outside_first {
        [PublicKey::from(outside), PublicKey::from(a)]
    } else {
        [PublicKey::from(a), PublicKey::from(outside)]
    };
    let script = multisig_script(1, &keys).unwrap();
    let addr = Address::p2sh(&script, bitcoin::Network::Bitcoin).unwrap();
    let sorted_addr = Address::p2sh(
        &multisig_script(1, &script_keys(keys.into_iter(), true)).unwrap(),
        bitcoin::Network::Bitcoin,
    )
    .unwrap();
    assert_ne!(addr, sorted_addr, "the key order must matter for this test");
    let o = format!("{{ pubkey = \"{outside}\" }}");
    let h = format!("{{ signer = \"ledger-a\", pubkey = \"{a}\", path = \"m/45'/0/0/7\" }}");
    let entry = |address: &Address, sorted: bool| {
        format!(
            "\n[[addresses]]\nchain = \"BTC\"\naddress = \"{address}\"\nscript_type = \"p2sh\"\nthreshold = 1\nsorted = {sorted}\ncosigners = [{}]\n",
            if outside_first { format!("{o}, {h}") } else { format!("{h}, {o}") }
        )
    };
    let m = load_text(&(inline_text() + &entry(&addr, false))).unwrap();
    let ms = m.addresses[7].multisig.as_ref().unwrap();
    assert_eq!(ms.script, script);
    assert_eq!(ms.child, None);
    assert_eq!(
        ms.cosigners.iter().filter(|c| c.signer.is_none()).count(),
        1
    );
    let tasks: Vec<_> = m.tasks().filter(|t| t.address_index == 7).collect();
    assert_eq!(
        tasks.len(),
        1,
        "only the key held in the ceremony is a task"
    );
    assert_eq!(path_string(tasks[0].path), "m/45'/0/0/7");
    assert_eq!(tasks[0].expected_pubkey, Some(PublicKey::from(a)));
    // The same keys sorted give the other address.
    let e = load_text(&(inline_text() + &entry(&addr, true)))
        .unwrap_err()
        .to_string();
    assert_has(&e, &["entry 8", &sorted_addr.to_string()]);
    assert!(load_text(&(inline_text() + &entry(&sorted_addr, true))).is_ok());
    // A round trip keeps the outside key and the unsorted order.
    let m2 = load_text(&m.to_toml()).unwrap();
    assert_eq!(m2.identity_digest(), m.identity_digest());
}

#[test]
fn testnet_addresses_and_tpubs() {
    let n = bitcoin::Network::Testnet;
    let secp = Secp256k1::new();
    let seed = bip39::Mnemonic::parse(ABANDON).unwrap().to_seed("");
    let tmaster = Xpriv::new_master(n, &seed).unwrap();
    let k = CompressedPublicKey(
        Xpub::from_priv(
            &secp,
            &tmaster
                .derive_priv(&secp, &parse_path("m/84'/1'/0'/0/0").unwrap())
                .unwrap(),
        )
        .public_key,
    );
    let addr = Address::p2wpkh(&k, n);
    // BIP-84's test vector for the abandon seed on testnet.
    assert_eq!(
        addr.to_string(),
        "tb1q6rz28mcfaxtmd6v789l9rrlrusdprr9pqcpvkl"
    );
    let text = inline_text()
        + &format!("\n[[addresses]]\nchain = \"BTC\"\nnetwork = \"testnet\"\naddress = \"{addr}\"\nscript_type = \"p2wpkh\"\npath = \"m/84'/1'/0'/0/0\"\nsigner = \"ledger-b\"\n");
    let m = load_text(&text).unwrap();
    assert_eq!(m.addresses[7].network, Network::Testnet);
    // A mainnet coin type on testnet is refused.
    let e = load_text(&text.replace("m/84'/1'/0'/0/0", "m/84'/0'/0'/0/0")).unwrap_err();
    assert_has(&e.to_string(), &["entry 8", "field `path`", "BIP-84"]);
    // A tpub on a mainnet multisig is refused.
    let tpub = Xpub::from_priv(
        &secp,
        &tmaster
            .derive_priv(&secp, &parse_path("m/48'/1'/0'/2'").unwrap())
            .unwrap(),
    );
    let text = inline_text().replacen(
        "xpub = \"xpub6DkFAXWQ2dHxq2vatrt9qyA3bXYU4ToWQwCHbf5XB2mSTexcHZCeKS1VZYcPoBd5X8yVcbXFHJR9R8UCVpt82VX1VhR28mCyxUFL4r6KFrf\"",
        &format!("xpub = \"{tpub}\""),
        1,
    );
    let e = load_text(&text).unwrap_err();
    assert_has(
        &e.to_string(),
        &["entry 7", "field `cosigners[1].xpub`", "tpub"],
    );
}

#[test]
fn cosigner_cells_round_trip() {
    let cell = "a:m/48'/0'/0'/2':xpub6Dg9;:m/0/1:02abcdef; b::03ff";
    let parsed = raw::parse_cosigners_cell(cell).unwrap();
    assert_eq!(parsed.len(), 3);
    assert_eq!(parsed[0].signer.as_deref(), Some("a"));
    assert_eq!(parsed[0].xpub.as_deref(), Some("xpub6Dg9"));
    assert_eq!(parsed[1].signer, None);
    assert_eq!(parsed[1].pubkey.as_deref(), Some("02abcdef"));
    assert_eq!(parsed[2].path, None);
    let again = raw::parse_cosigners_cell(&raw::format_cosigners_cell(&parsed)).unwrap();
    assert_eq!(again, parsed);
    assert!(raw::parse_cosigners_cell("a:b").is_err());
}

/// The inline example with a Safe (two owners on `ledger-a`, one outside the ceremony) and an
/// address holding a token; the Safe's owners as written.
fn with_safe_and_token() -> (String, Vec<String>) {
    let owners: Vec<String> = (1..4)
        .map(|i| evm_address_of_pubkey(&key_at(SPECULOS, &format!("m/44'/60'/0'/0/{i}")).0))
        .collect();
    let safe = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
    let text = format!(
        "{}\n[[addresses]]\nchain = \"ETH\"\naddress = \"{safe}\"\ncontract_wallet = \"safe\"\n\
         balance = \"3\"\n\
         [[addresses.tokens]]\nasset = \"USDC\"\ncontract = \"0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48\"\n\
         decimals = 6\nbalance = \"1000.25\"\n\
         [[addresses.owners]]\nsigner = \"ledger-a\"\npath = \"m/44'/60'/0'/0/1\"\naddress = \"{}\"\n\
         [[addresses.owners]]\nsigner = \"ledger-a\"\npath = \"m/44'/60'/0'/0/2\"\naddress = \"{}\"\n\
         [[addresses.owners]]\naddress = \"{}\"\n",
        inline_text(),
        owners[0],
        owners[1],
        owners[2]
    );
    (text, owners)
}

#[test]
fn contract_wallets_and_tokens_load_sign_per_owner_and_round_trip() {
    let (text, owners) = with_safe_and_token();
    let m = load_text(&text).unwrap();
    let spec = m.addresses.last().unwrap();
    let w = spec.contract_wallet.as_ref().unwrap();
    assert_eq!(w.owners.len(), 3);
    assert_eq!(spec.tokens.len(), 1);
    assert_eq!((spec.path.as_ref(), spec.signer.as_ref()), (None, None));
    // One task per owner whose key is in the ceremony, each naming the owner it must derive.
    let tasks: Vec<_> = m
        .tasks()
        .filter(|t| t.address_index == spec.index)
        .collect();
    let named: Vec<&str> = tasks.iter().map(|t| t.key_address()).collect();
    assert_eq!(named, [owners[0].as_str(), owners[1].as_str()]);
    assert_eq!(tasks[1].key().path, "m/44'/60'/0'/0/2");
    assert_eq!(tasks[1].key().address, spec.address);

    // Through TOML and through a CSV (tokens and owners in their cells): the same manifest.
    let digest = m.identity_digest();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("inline.toml"), m.to_toml()).unwrap();
    let back = Manifest::load(dir.path().join("inline.toml")).unwrap();
    assert_eq!(back.identity_digest(), digest);
    let (toml_text, csv_text) = m.to_toml_with_csv("rows.csv");
    assert!(csv_text.contains(&format!(
        "USDC:0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48:6:1000.25,safe,ledger-a:m/44'/60'/0'/0/1:{}",
        owners[0]
    )));
    std::fs::write(dir.path().join("split.toml"), &toml_text).unwrap();
    std::fs::write(dir.path().join("rows.csv"), &csv_text).unwrap();
    let split = Manifest::load(dir.path().join("split.toml")).unwrap();
    assert_eq!(split.identity_digest(), digest);
    assert_eq!(
        split.addresses.last().unwrap().contract_wallet,
        spec.contract_wallet
    );
    // Any change to a token changes the identity.
    let other = load_text(&text.replace("\"1000.25\"", "\"1000.26\"")).unwrap();
    assert_ne!(other.identity_digest(), digest);
}

#[test]
fn bad_contract_wallets_and_tokens_are_refused_naming_the_field() {
    let (text, owners) = with_safe_and_token();
    let err = |from: &str, to: &str| {
        assert!(text.contains(from), "`{from}` not in the text");
        match load_text(&text.replacen(from, to, 1)) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("`{from}` -> `{to}` must be refused"),
        }
    };
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "contract_wallet = \"safe\"\n",
            String::new(),
            vec!["field `owners`", "only for a contract wallet"],
        ),
        (
            "contract_wallet = \"safe\"\n",
            "contract_wallet = \"safe\"\npath = \"m/44'/60'/0'/0/1\"\n".into(),
            vec!["field `path`", "its owners sign"],
        ),
        (
            "decimals = 6",
            "decimals = 1".into(),
            vec!["field `tokens[0].balance`", "1000.25"],
        ),
        (
            "decimals = 6",
            "decimals = 99".into(),
            vec!["field `tokens[0].decimals`", "uint256"],
        ),
        (
            "asset = \"USDC\"",
            "asset = \"ETH\"".into(),
            vec!["field `tokens[0].asset`", "native"],
        ),
        (
            "contract = \"0xA0b8",
            "contract = \"0xZ0b8".into(),
            vec!["field `tokens[0].contract`"],
        ),
        (
            &owners[1],
            owners[0].clone(),
            vec!["field `owners[1].address`", "listed twice"],
        ),
        (
            "path = \"m/44'/60'/0'/0/2\"",
            "path = \"m/44'/0'/0'/0/2\"".into(),
            vec!["field `owners[1].path`", "not a standard"],
        ),
        (
            "signer = \"ledger-a\"\npath = \"m/44'/60'/0'/0/2\"\n",
            "signer = \"nobody\"\npath = \"m/44'/60'/0'/0/2\"\n".into(),
            vec!["field `owners[1].signer`", "unknown signer"],
        ),
    ];
    for (from, to, needles) in &cases {
        let e = err(from, to);
        assert_has(&e, &["m.toml", "field"]);
        assert_has(&e, needles);
    }
    // Tokens on Bitcoin, and a Safe with no owner in the ceremony.
    let e = err(
        "chain = \"BTC\"\naddress = \"1KKLP5MNa9mmWnEziT5skyu7PZ8A4eFisB\"",
        "chain = \"BTC\"\ntokens = []\naddress = \"1KKLP5MNa9mmWnEziT5skyu7PZ8A4eFisB\"",
    );
    assert_has(&e, &["field `tokens`", "EVM chains only"]);
    let no_keys = text
        .replace("signer = \"ledger-a\"\npath = \"m/44'/60'/0'/0/1\"\n", "")
        .replace("signer = \"ledger-a\"\npath = \"m/44'/60'/0'/0/2\"\n", "");
    let e = load_text(&no_keys).unwrap_err().to_string();
    assert_has(
        &e,
        &["field `owners`", "no owner's key is in this ceremony"],
    );
}
