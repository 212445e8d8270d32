//! Balances, tokens, Safes and anchors checked against a real EVM node (ganache, started here
//! on a free loopback port with the simulator's test seed, stopped by PID), and endpoints that
//! are down, slow or answer garbage. Skipped, with the reason printed, when ganache is not
//! installed (`scripts/setup` installs it into `tools/node_modules`).

#[path = "support/ganache.rs"]
mod ganache;
#[path = "support/loopback.rs"]
mod loopback;

use ganache::{deploy_erc20, deploy_safe, transfer_token, Ganache};
use loopback::Reply;
use por_attest::fixtures::{eip191_entry, master_key, secret_at, test_header, TEST_MNEMONIC};
use por_attest::input::{verify_file, FileOptions, InputFormat};
use por_attest::report::Report;
use por_attest::reserves::{check_on_chain, NodeError, NodeOptions, Nodes, Policy};
use por_attest::schemes::evm::{keccak256, sign_eip191};
use por_attest::snapshot::{Entry, Snapshot};
use serde_json::json;
use std::path::Path;
use std::time::Duration;

fn start() -> Option<Ganache> {
    match Ganache::start() {
        Ok(g) => Some(g),
        Err(why) => {
            eprintln!("SKIPPED: {why}");
            None
        }
    }
}

fn secret(i: u32) -> bitcoin::secp256k1::SecretKey {
    secret_at(&master_key(TEST_MNEMONIC), &format!("m/44'/60'/0'/0/{i}"))
}

/// Wei (decimal text) as ETH.
fn eth(wei: &str) -> String {
    por_attest::balance::plain(&por_attest::balance::from_base_units(
        &wei.parse().unwrap(),
        18,
    ))
}

fn file_options(claims: bool) -> FileOptions {
    FileOptions {
        format: InputFormat::Auto,
        threads: 2,
        progress: false,
        allow_unsupported: false,
        claims,
    }
}

fn verify_with(path: &Path, nodes: &Nodes, opts: &NodeOptions) -> Result<Report, NodeError> {
    let mut r = verify_file(path, &file_options(true)).unwrap();
    check_on_chain(&mut r, nodes, opts).map(|()| r)
}

fn nodes(url: &str) -> Nodes {
    let mut n = Nodes::default();
    n.add_arg(&format!("ETH={url}")).unwrap();
    n
}

/// An ETH entry for `address` stating `balance`, signed by the test keys `signers` (their
/// index, and for a contract wallet the owner address each signs as).
fn eth_entry(
    header: &por_attest::snapshot::Header,
    address: &str,
    balance: &str,
    signers: &[(u32, Option<&str>)],
) -> Entry {
    let keys: Vec<_> = signers
        .iter()
        .map(|(i, owner)| (secret(*i), owner.map(str::to_string)))
        .collect();
    eip191_entry(header, "ETH", address, balance, &keys)
}

/// A snapshot of ETH entries for the funded accounts 0..n, anchored at `height` with
/// `block_hash`, each stating `balances[i]` (ETH).
fn snapshot(height: u64, block_hash: &str, addresses: &[String], balances: &[String]) -> Snapshot {
    let header = test_header(
        "Ganache Exchange",
        "2026-12",
        &[("ETH", height, block_hash)],
    );
    let entries = addresses
        .iter()
        .zip(balances)
        .enumerate()
        .map(|(i, (a, b))| eth_entry(&header, a, b, &[(i as u32, None)]))
        .collect();
    Snapshot {
        header,
        entries,
        accounts: Vec::new(),
    }
}

#[test]
fn balances_at_the_anchor_verify_one_wei_off_fails_and_a_wrong_anchor_fails_the_file() {
    let Some(g) = start() else { return };
    let accounts = g.accounts();
    let who: Vec<String> = accounts[..3].to_vec();
    // Some history first, then the anchor, then funds move: "now" differs from "at the anchor".
    g.send(json!({"from": who[0], "to": accounts[5], "value": "0xde0b6b3a7640000"}));
    let anchor = g.height();
    let hash = g.block_hash(anchor);
    let at_anchor: Vec<String> = who.iter().map(|a| g.balance_at(a, anchor)).collect();
    g.send(json!({"from": who[1], "to": accounts[6], "value": "0x1bc16d674ec80000"}));
    assert_ne!(
        g.balance_at(&who[1], g.height()),
        at_anchor[1],
        "funds moved after the anchor"
    );
    let dir = tempfile::tempdir().unwrap();
    let stated: Vec<String> = at_anchor.iter().map(|w| eth(w)).collect();
    let path = dir.path().join("snapshot.json");
    std::fs::write(
        &path,
        snapshot(anchor, &hash, &who, &stated).to_file_bytes(),
    )
    .unwrap();
    let n = nodes(&g.url);
    let r = verify_with(&path, &n, &NodeOptions::default()).unwrap();
    assert_eq!(r.result, "verified", "{}", r.to_human());
    assert_eq!((r.verified, r.failed, r.not_checked), (3, 0, 0));
    assert_eq!(r.anchors.len(), 1);
    assert_eq!((r.anchors[0].status, r.anchors[0].height), ("ok", anchor));
    let t = &r.balances["ETH"];
    assert_eq!(t.onchain.as_ref(), Some(&t.stated), "{}", r.to_human());
    assert_eq!((t.onchain_addresses, t.mismatches), (3, 0));
    // Without batching: the same answer.
    let one = NodeOptions {
        batch: 1,
        concurrency: 2,
        ..NodeOptions::default()
    };
    assert_eq!(verify_with(&path, &n, &one).unwrap(), r);

    // One wei more on entry 1: that entry fails, naming both amounts; the others verify.
    let mut off = stated.clone();
    off[1] = eth(&(at_anchor[1].parse::<u128>().unwrap() + 1).to_string());
    std::fs::write(&path, snapshot(anchor, &hash, &who, &off).to_file_bytes()).unwrap();
    let r = verify_with(&path, &n, &NodeOptions::default()).unwrap();
    assert_eq!(
        (r.result, r.verified, r.failed),
        ("failed", 2, 1),
        "{}",
        r.to_human()
    );
    let p = &r.problems[0];
    assert_eq!(p.entry, Some(1));
    assert_eq!(
        p.reason,
        format!(
            "balance: the file states {} ETH, the node {} has {} at height {anchor}",
            off[1], g.url, stated[1]
        )
    );
    assert_eq!(r.balances["ETH"].mismatches, 1);
    assert_eq!(r.exit_code(), 1);

    // The balances of "now" instead of the anchor's: all but the untouched accounts fail.
    let now = g.height();
    let current: Vec<String> = who.iter().map(|a| eth(&g.balance_at(a, now))).collect();
    std::fs::write(
        &path,
        snapshot(anchor, &hash, &who, &current).to_file_bytes(),
    )
    .unwrap();
    let r = verify_with(&path, &n, &NodeOptions::default()).unwrap();
    assert_eq!(
        r.failed,
        1,
        "only account 1 moved funds after the anchor: {}",
        r.to_human()
    );

    // A wrong anchor hash (signed as such): the file fails, no balance is taken as checked.
    let wrong = format!("0x{}", "ab".repeat(32));
    std::fs::write(
        &path,
        snapshot(anchor, &wrong, &who, &stated).to_file_bytes(),
    )
    .unwrap();
    let r = verify_with(&path, &n, &NodeOptions::default()).unwrap();
    assert_eq!(r.result, "failed");
    assert_eq!(r.file_failures.len(), 1, "{}", r.to_human());
    assert_eq!(r.file_failures[0].code.as_str(), "anchor_mismatch");
    assert_eq!(
        r.file_failures[0].reason,
        format!(
            "anchor ETH at height {anchor}: the file states block {wrong}, the node {} has {hash}",
            g.url
        )
    );
    assert_eq!((r.verified, r.not_checked), (0, 3), "{}", r.to_human());
    assert!(r
        .problems
        .iter()
        .all(|p| p.status == "not checked on chain"));

    // The command line: --node, the verdict and the exit status.
    std::fs::write(
        &path,
        snapshot(anchor, &hash, &who, &stated).to_file_bytes(),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_por-attest"))
        .args([
            "verify",
            path.to_str().unwrap(),
            "--node",
            &format!("ETH={}", g.url),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains(&format!("anchor ETH OK at height {anchor}")),
        "{text}"
    );
    assert!(text.contains("; on chain "), "{text}");
    assert!(text.ends_with(": VERIFIED\n"), "{text}");
}

/// An OKX-layout row (11 columns) signed in OKX's form (personal_sign over keccak256 of the
/// text) by the listed keys.
fn okx_row(
    coin: &str,
    height: u64,
    address: &str,
    amount: &str,
    signers: &[(u32, &str)],
) -> String {
    let msg = "I am an OKX address";
    let sig = |i: u32| sign_eip191(&secret(i), &keccak256(msg.as_bytes()));
    let (s1, s2, e1, e2) = match signers {
        [] => (sig(0), String::new(), String::new(), String::new()),
        [(a, ea)] => (sig(*a), String::new(), ea.to_string(), String::new()),
        [(a, ea), (b, eb)] => (sig(*a), sig(*b), ea.to_string(), eb.to_string()),
        _ => unreachable!(),
    };
    format!("{coin},ETH,{height},{address},{amount},{msg},{s1},{s2},,{e1},{e2}\n")
}

/// The ERC-20 and Safe fixtures: the funded accounts `a`, a token of which account 1 holds
/// 1234.5, and a 2-of-3 and a 3-of-3 Safe of owners 2, 3 and 4, both holding 50 ETH.
struct TokenAndSafes {
    a: Vec<String>,
    token: String,
    owners: Vec<String>,
    safe2: String,
    safe3: String,
}

fn token_and_safes(g: &Ganache) -> TokenAndSafes {
    let a = g.accounts();
    let token = deploy_erc20(g, &a[0], 1_000_000 * 10u128.pow(18));
    transfer_token(
        g,
        &token,
        &a[0],
        &a[1],
        1234 * 10u128.pow(18) + 5 * 10u128.pow(17),
    );
    let owners: Vec<String> = a[2..5].to_vec();
    let safe2 = deploy_safe(g, &a[0], &owners, 2);
    let safe3 = deploy_safe(g, &a[0], &owners, 3);
    for s in [&safe2, &safe3] {
        g.send(json!({"from": a[0], "to": s, "value": "0x2b5e3af16b1880000"}));
    }
    TokenAndSafes {
        a,
        token,
        owners,
        safe2,
        safe3,
    }
}

#[test]
fn tokens_and_safes_against_the_node() {
    let Some(g) = start() else { return };
    let TokenAndSafes {
        a,
        token,
        owners,
        safe2,
        safe3,
    } = token_and_safes(&g);
    let anchor = g.height();
    let safe_wei = g.balance_at(&safe2, anchor);
    // After the anchor: tokens and ether move.
    transfer_token(&g, &token, &a[1], &a[7], 10u128.pow(18));
    g.send(json!({"from": a[0], "to": safe2, "value": "0xde0b6b3a7640000"}));

    let file = |rows: &str| {
        let header = "coin,Network,Snapshot Height,address,amount,message,signature1,signature2,redeem script/ public key,eoa1,eoa2\n";
        format!("{header}{rows}")
    };
    let rows = [
        okx_row("USDT-ERC20", anchor, &a[1], "1234.5", &[(1, "")][..0]),
        okx_row(
            "ETH",
            anchor,
            &safe2,
            &eth(&safe_wei),
            &[(2, &owners[0]), (3, &owners[1])],
        ),
        okx_row(
            "ETH",
            anchor,
            &safe3,
            &eth(&safe_wei),
            &[(2, &owners[0]), (4, &owners[2])],
        ),
    ];
    // Row 1 is signed by key 1 (its own address).
    let rows0 = rows[0].replacen(
        &sign_eip191(&secret(0), &keccak256(b"I am an OKX address")),
        &sign_eip191(&secret(1), &keccak256(b"I am an OKX address")),
        1,
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("okx.csv");
    std::fs::write(&path, file(&format!("{rows0}{}{}", rows[1], rows[2]))).unwrap();
    // Offline: the token row verifies, the Safes are unsupported (owners signed, control is
    // on-chain state).
    let offline = verify_file(&path, &file_options(false)).unwrap();
    assert_eq!(
        (offline.verified, offline.unsupported),
        (1, 2),
        "{}",
        offline.to_human()
    );
    assert_eq!(offline.result, "incomplete");

    // The token table knows mainnet's USDT, not ours: not checked on chain, with the reason.
    let n = nodes(&g.url);
    let r = verify_with(&path, &n, &NodeOptions::default()).unwrap();
    let p = r.problems.iter().find(|p| p.line == Some(2)).unwrap();
    assert_eq!(p.status, "not checked on chain", "{}", r.to_human());
    assert!(
        p.reason.starts_with(
            "no contract answers balanceOf at the USDT token address 0xdAC17F958D2ee523a2206206994597C13D831ec7"
        ),
        "{}",
        p.reason
    );
    assert_eq!(
        r.result, "failed",
        "the 3-of-3 Safe with 2 signatures fails"
    );
    // Our token through the file's override.
    let mut n = nodes(&g.url);
    n.add_toml(
        "nodes.toml",
        &format!(
            "[[token]]\nchain = \"ETH\"\nasset = \"USDT\"\ncontract = \"{token}\"\ndecimals = 18\n"
        ),
    )
    .unwrap();
    let r = verify_with(&path, &n, &NodeOptions::default()).unwrap();
    let human = r.to_human();
    let status = |line: u64| {
        r.problems
            .iter()
            .find(|p| p.line == Some(line))
            .map_or(("verified".to_string(), String::new()), |p| {
                (p.status.to_string(), p.reason.clone())
            })
    };
    assert_eq!(
        status(2).0,
        "verified",
        "the token balance at the anchor: {human}"
    );
    assert_eq!(
        status(3).0,
        "verified",
        "2 of the 2-of-3 Safe's owners signed: {human}"
    );
    assert_eq!(status(4).0, "failed", "{human}");
    assert_eq!(
        status(4).1,
        format!("2 of the Safe's owners signed, but its threshold at height {anchor} is 3 (of 3 owners)")
    );
    assert_eq!(r.balances["ETH USDT"].onchain_addresses, 1);
    assert_eq!(r.balances["ETH USDT"].mismatches, 0);
    assert_eq!(r.result, "failed");
    // A token amount off by one unit of its sixth decimal fails the row.
    let off = rows0.replacen(",1234.5,", ",1234.500001,", 1);
    std::fs::write(&path, file(&format!("{off}{}", rows[1]))).unwrap();
    let r = verify_with(&path, &n, &NodeOptions::default()).unwrap();
    assert_eq!((r.failed, r.verified), (1, 1), "{}", r.to_human());
    assert!(r.problems[0]
        .reason
        .starts_with("balance: the file states 1234.500001 USDT"));
    // The verified Safe alone: VERIFIED.
    std::fs::write(&path, file(&rows[1])).unwrap();
    let r = verify_with(&path, &n, &NodeOptions::default()).unwrap();
    assert_eq!(r.result, "verified", "{}", r.to_human());
}

/// Our own snapshot's entries: an address naming its token contract, and Safes whose owners
/// signed (each signature naming its owner), checked at the anchor while funds move after it.
#[test]
fn our_entries_name_their_token_contracts_and_safes() {
    let Some(g) = start() else { return };
    let TokenAndSafes {
        a,
        token,
        owners,
        safe2,
        safe3,
    } = token_and_safes(&g);
    let anchor = g.height();
    let hash = g.block_hash(anchor);
    let holder_wei = g.balance_at(&a[1], anchor);
    let safe_wei = g.balance_at(&safe2, anchor);
    // After the anchor, tokens and ether move.
    transfer_token(&g, &token, &a[1], &a[7], 10u128.pow(18));
    g.send(json!({"from": a[0], "to": safe2, "value": "0xde0b6b3a7640000"}));

    let header = test_header("Ganache Exchange", "2026-12", &[("ETH", anchor, &hash)]);
    let holding = |decimals: u32, balance: &str| por_attest::snapshot::TokenHolding {
        asset: "TUSD".into(),
        contract: token.clone(),
        decimals,
        balance: balance.into(),
    };
    let safe = |address: &str, signers: &[(u32, Option<&str>)]| {
        let mut e = eth_entry(&header, address, &eth(&safe_wei), signers);
        e.contract_wallet = Some(por_attest::snapshot::ContractWallet::Safe);
        e
    };
    let mut holder = eth_entry(&header, &a[1], &eth(&holder_wei), &[(1, None)]);
    holder.tokens = vec![holding(18, "1234.5")];
    let entries = vec![
        holder.clone(),
        safe(&safe2, &[(2, Some(&owners[0])), (3, Some(&owners[1]))]),
        safe(&safe3, &[(2, Some(&owners[0])), (4, Some(&owners[2]))]),
    ];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snapshot.json");
    let write = |entries: Vec<Entry>| {
        let s = Snapshot {
            header: header.clone(),
            entries,
            accounts: Vec::new(),
        };
        std::fs::write(&path, s.to_file_bytes()).unwrap();
    };
    write(entries.clone());

    // Offline: the holder verifies, its token in the totals; the Safes are unsupported.
    let offline = verify_file(&path, &file_options(false)).unwrap();
    assert_eq!(
        (offline.verified, offline.unsupported, offline.failed),
        (1, 2, 0),
        "{}",
        offline.to_human()
    );
    assert_eq!(offline.result, "incomplete");
    assert!(offline.problems[0].reason.starts_with(&format!(
        "Safe contract wallet: owner signatures valid for {}, {}",
        owners[0], owners[1]
    )));
    assert_eq!(offline.balances["ETH TUSD"].stated.to_string(), "1234.5");

    // Against the node: the token balance at the anchor, the 2-of-3 Safe verified, the 3-of-3
    // one with two signatures failed.
    let n = nodes(&g.url);
    let r = verify_with(&path, &n, &NodeOptions::default()).unwrap();
    let human = r.to_human();
    let problem = |entry: u64| r.problems.iter().find(|p| p.entry == Some(entry));
    assert!(problem(0).is_none(), "{human}");
    assert!(problem(1).is_none(), "{human}");
    let p = problem(2).expect("the 3-of-3 Safe");
    assert_eq!((p.status, p.code), ("failed", "below_threshold"), "{human}");
    assert_eq!(r.verified, 2, "{human}");
    let t = &r.balances["ETH TUSD"];
    assert_eq!((t.onchain_addresses, t.mismatches), (1, 0), "{human}");
    assert_eq!(t.onchain.as_ref(), Some(&t.stated));

    // The token stated with other decimals than its contract's, or off by one unit: the
    // holder fails, naming the token.
    let mut wrong = holder.clone();
    wrong.tokens = vec![holding(6, "1234.5")];
    let mut off = holder.clone();
    off.tokens = vec![holding(18, "1234.500000000000000001")];
    // An outsider signing as the Safe's owner: not one of its owners at the anchor.
    let outsider = safe(&safe2, &[(2, Some(&owners[0])), (6, Some(&a[6]))]);
    write(vec![wrong, outsider]);
    let r = verify_with(&path, &n, &NodeOptions::default()).unwrap();
    let human = r.to_human();
    let codes: Vec<(Option<u64>, &str)> = r.problems.iter().map(|p| (p.entry, p.code)).collect();
    assert_eq!(
        codes,
        [(Some(0), "token_mismatch"), (Some(1), "not_owner")],
        "{human}"
    );
    assert_eq!(
        r.problems[0].reason,
        format!(
            "token TUSD at {token}: the file states 6 decimals, the contract's decimals() is 18 \
             at height {anchor}"
        )
    );
    write(vec![off]);
    let r = verify_with(&path, &n, &NodeOptions::default()).unwrap();
    assert_eq!(r.problems.len(), 1, "{}", r.to_human());
    assert_eq!(r.problems[0].code, "balance_mismatch");
    assert!(
        r.problems[0]
            .reason
            .starts_with("balance: the file states 1234.500000000000000001 TUSD"),
        "{}",
        r.problems[0].reason
    );
    assert_eq!(r.result, "failed");
}

/// The whole ceremony for a Safe and a token holder: a manifest naming them, the simulated
/// Ledger (the node's seed) signing once per owner key, `package`, then `verify` against the
/// node: VERIFIED. An owner address that is not the key at its path is refused before signing.
#[test]
fn a_ceremony_signs_a_safe_per_owner_and_the_node_verifies_it() {
    use por_attest::ceremony::{sign, CeremonyError, SignOptions};
    use por_attest::manifest::Manifest;
    use por_attest::package::{package, PackageOptions};
    use por_attest::simulator::{SimulatedLedger, SimulatorConfig};
    let Some(g) = start() else { return };
    let a = g.accounts();
    let token = deploy_erc20(&g, &a[0], 1_000_000 * 10u128.pow(18));
    transfer_token(&g, &token, &a[0], &a[1], 77 * 10u128.pow(18));
    // A 2-of-3 Safe: owners 2 and 3 sign here, owner 4 is outside the ceremony.
    let safe = deploy_safe(&g, &a[0], &a[2..5], 2);
    g.send(json!({"from": a[0], "to": safe, "value": "0x2b5e3af16b1880000"}));
    let anchor = g.height();
    let hash = g.block_hash(anchor);
    let holder_eth = eth(&g.balance_at(&a[1], anchor));
    let safe_eth = eth(&g.balance_at(&safe, anchor));
    g.send(json!({"from": a[0], "to": safe, "value": "0xde0b6b3a7640000"}));

    let manifest = |owner3: &str| {
        format!(
            "entity = \"Ganache Exchange\"\nsnapshot_id = \"2026-12\"\ntest = true\n\
             [anchors.ETH]\nheight = {anchor}\nblock_hash = \"{hash}\"\n\
             [[signers]]\nid = \"sim\"\nkind = \"simulator\"\n\
             [[addresses]]\nchain = \"ETH\"\naddress = \"{holder}\"\npath = \"m/44'/60'/0'/0/1\"\n\
             signer = \"sim\"\nbalance = \"{holder_eth}\"\n\
             [[addresses.tokens]]\nasset = \"TUSD\"\ncontract = \"{token}\"\ndecimals = 18\nbalance = \"77\"\n\
             [[addresses]]\nchain = \"ETH\"\naddress = \"{safe}\"\ncontract_wallet = \"safe\"\n\
             balance = \"{safe_eth}\"\n\
             [[addresses.owners]]\nsigner = \"sim\"\npath = \"m/44'/60'/0'/0/2\"\naddress = \"{o2}\"\n\
             [[addresses.owners]]\nsigner = \"sim\"\npath = \"m/44'/60'/0'/0/3\"\naddress = \"{owner3}\"\n\
             [[addresses.owners]]\naddress = \"{o4}\"\n",
            holder = a[1],
            o2 = a[2],
            o4 = a[4],
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let opts = SignOptions {
        signer: Some("sim".into()),
        device_is_simulator: true,
        ..SignOptions::default()
    };
    let run = |text: String, journal: &Path| {
        let m = Manifest::from_str(&text, "manifest.toml", dir.path()).unwrap();
        let device = SimulatedLedger::new(SimulatorConfig::with_mnemonic(TEST_MNEMONIC)).unwrap();
        let mut t = device.transport();
        (sign(&m, journal, &mut t, &opts), m)
    };

    // Owner 3 written as another account's address: refused before its signature.
    let bad_journal = dir.path().join("bad.jsonl");
    let (r, _) = run(manifest(&a[5]), &bad_journal);
    match r {
        Err(CeremonyError::AddressMismatch {
            address,
            derived,
            path,
            ..
        }) => {
            assert_eq!(
                (address.as_str(), path.as_str()),
                (a[5].as_str(), "m/44'/60'/0'/0/3")
            );
            assert!(derived.eq_ignore_ascii_case(&a[3]), "{derived}");
        }
        other => panic!("expected an address mismatch, got {other:?}"),
    }

    let journal = dir.path().join("journal.jsonl");
    let (r, m) = run(manifest(&a[3]), &journal);
    r.unwrap();
    let text = std::fs::read_to_string(&journal).unwrap();
    assert_eq!(
        text.matches("\"signed\"").count(),
        3,
        "the holder, and two owners: {text}"
    );
    let packaged = package(&m, &[journal], &PackageOptions::default()).unwrap();
    let safe_entry = &packaged.snapshot.entries[1];
    let owners: Vec<_> = safe_entry
        .signatures
        .iter()
        .map(|s| s.owner.clone().unwrap())
        .collect();
    assert_eq!(owners, [a[2].clone(), a[3].clone()]);
    let path = dir.path().join("snapshot.json");
    std::fs::write(&path, packaged.snapshot.to_file_bytes()).unwrap();

    let offline = verify_file(&path, &file_options(false)).unwrap();
    assert_eq!(
        (offline.verified, offline.unsupported),
        (1, 1),
        "{}",
        offline.to_human()
    );
    let r = verify_with(&path, &nodes(&g.url), &NodeOptions::default()).unwrap();
    assert_eq!(r.result, "verified", "{}", r.to_human());
    assert_eq!(r.balances["ETH TUSD"].onchain_addresses, 1);
    assert_eq!(r.balances["ETH"].onchain_addresses, 2);
}

/// HTX's layout against the node: balances printed to two decimals match within half a cent,
/// one off by more fails, and a contract-wallet row (unsigned, its signing owners after it)
/// becomes verified when the Safe's owners at the row's height are those owners.
#[test]
fn htx_rows_against_the_node() {
    let Some(g) = start() else { return };
    let a = g.accounts();
    let safe = deploy_safe(&g, &a[0], &a[2..5], 2);
    g.send(json!({"from": a[0], "to": safe, "value": "0x2b5e3af16b1880000"}));
    // The holder pays gas before the anchor: its balance is not a round number of cents.
    g.send(json!({"from": a[1], "to": a[7], "value": "0x16345785d8a0000"}));
    let anchor = g.height();
    g.send(json!({"from": a[1], "to": a[7], "value": "0xde0b6b3a7640000"}));
    // Wei to ETH printed to two decimals, as HTX prints them.
    let cents = |wei: &str| {
        let c = (wei.parse::<u128>().unwrap() + 5 * 10u128.pow(15)) / 10u128.pow(16);
        format!("{}.{:02}", c / 100, c % 100)
    };
    let sig = |i: u32| sign_eip191(&secret(i), b"htx");
    let holder = cents(&g.balance_at(&a[1], anchor));
    let rows = [
        format!("ETH,{},{anchor},{holder},htx,{}", a[1], sig(1)),
        format!(
            "ETH,{safe},{anchor},{},-,-",
            cents(&g.balance_at(&safe, anchor))
        ),
        format!("ETH,{},-,-,htx,{}", a[2], sig(2)),
        format!("ETH,{},-,-,htx,{}", a[3], sig(3)),
        format!("ETH,{},{anchor},1.00,htx,{}", a[6], sig(6)),
    ];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huobi_por.csv");
    std::fs::write(
        &path,
        format!(
            "coin,address,snapshot height,balance,message,signature\n{}\n",
            rows.join("\n")
        ),
    )
    .unwrap();
    let offline = verify_file(&path, &file_options(false)).unwrap();
    assert_eq!(
        (offline.verified, offline.unsigned),
        (4, 1),
        "{}",
        offline.to_human()
    );

    let r = verify_with(&path, &nodes(&g.url), &NodeOptions::default()).unwrap();
    let human = r.to_human();
    let problems: Vec<(Option<u64>, &str, &str)> = r
        .problems
        .iter()
        .map(|p| (p.line, p.status, p.code))
        .collect();
    assert_eq!(
        problems,
        [(Some(6), "failed", "balance_mismatch")],
        "{human}"
    );
    assert!(
        r.problems[0].reason.starts_with(&format!(
            "balance: the file states 1 ETH, the node {} has 1000 at height {anchor}",
            g.url
        )),
        "{}",
        r.problems[0].reason
    );
    assert_eq!((r.verified, r.unsigned, r.failed), (4, 0, 1), "{human}");
    // The holder's printed balance is not its exact one, yet within the rounding.
    let exact = eth(&g.balance_at(&a[1], anchor));
    assert!(
        exact.len() > holder.len() && !exact.starts_with(&holder),
        "{exact} {holder}"
    );
}

/// A loopback server answering every connection with `reply` (or never, for `None`).
fn server(reply: Option<&'static str>) -> (String, std::thread::JoinHandle<()>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let h = std::thread::spawn(move || {
        use std::io::{Read, Write};
        l.set_nonblocking(false).unwrap();
        let mut held = Vec::new();
        for _ in 0..3 {
            let Ok((mut s, _)) = l.accept() else { return };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            match reply {
                Some(r) => {
                    let _ = s.write_all(r.as_bytes());
                }
                None => held.push(s),
            }
        }
        std::thread::sleep(Duration::from_secs(2));
    });
    (url, h)
}

#[test]
fn an_endpoint_that_is_down_slow_or_answers_garbage_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("example.json");
    std::fs::write(
        &path,
        por_attest::fixtures::example_snapshot().to_file_bytes(),
    )
    .unwrap();
    let quick = NodeOptions {
        policy: Policy {
            timeout: Duration::from_millis(400),
            retries: 1,
            backoff: Duration::from_millis(10),
        },
        ..NodeOptions::default()
    };
    let error_of = |url: &str| {
        verify_with(&path, &nodes(url), &quick)
            .unwrap_err()
            .to_string()
    };
    // Down: nothing listens on the port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = format!("http://127.0.0.1:{port}");
    let e = error_of(&down);
    assert!(
        e.starts_with(&format!("node {down} is unreachable: cannot connect")),
        "{e}"
    );
    assert!(e.ends_with("(after 2 tries)"), "{e}");
    // Slow: accepts, never answers.
    let (slow, _h) = server(None);
    let e = error_of(&slow);
    assert!(
        e.starts_with(&format!("node {slow} is unreachable: no answer within")),
        "{e}"
    );
    // Garbage: HTTP 200 with a body that is not JSON-RPC.
    let (bad, _h) = server(Some(
        "HTTP/1.1 200 OK\r\nContent-Length: 11\r\nConnection: close\r\n\r\nhello world",
    ));
    let e = error_of(&bad);
    assert!(
        e.starts_with(&format!("node {bad} answered garbage: not JSON")),
        "{e}"
    );
    // 503 every time: retried, then unreachable.
    let (busy, _h) = server(Some(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    ));
    let e = error_of(&busy);
    assert!(
        e.contains("HTTP 503 Service Unavailable (after 2 tries)"),
        "{e}"
    );
    // The command line: exit 2, the endpoint named, nothing reported as verified.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_por-attest"))
        .args([
            "verify",
            path.to_str().unwrap(),
            "--node",
            &format!("ETH={down}"),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("node {down} is unreachable")),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "nothing reported");
}

/// A loopback JSON-RPC server answering as a pruned (non-archive) EVM node does: it has the
/// anchor block, but no state at it (`missing trie node`), for single calls and batches.
fn pruned_node(block_hash: String) -> String {
    loopback::serve(move |method, _| match method {
        "eth_getBlockByNumber" => Reply::Json(json!({ "hash": block_hash })),
        _ => Reply::Json(json!({"error": {"code": -32000,
            "message": "missing trie node 8f3c (path ) state is not available"}})),
    })
}

/// A node without the state at the anchor (pruned, not an archive node): every ETH address is
/// "not checked on chain" with the node's own message, nothing fails, the verdict is
/// INCOMPLETE (exit 3), with batching and without.
#[test]
fn a_pruned_node_leaves_balances_not_checked_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("example.json");
    let s = por_attest::fixtures::example_snapshot();
    let anchor = s.header.anchors["ETH"].clone();
    std::fs::write(&path, s.to_file_bytes()).unwrap();
    let url = pruned_node(anchor.block_hash.clone());
    for batch in [100, 1] {
        let opts = NodeOptions {
            batch,
            ..NodeOptions::default()
        };
        let r = verify_with(&path, &nodes(&url), &opts).unwrap();
        let eth: Vec<_> = r.problems.iter().filter(|p| p.chain == "ETH").collect();
        assert!(!eth.is_empty());
        for p in eth {
            assert_eq!(p.status, "not checked on chain", "{}", r.to_human());
            assert_eq!(
                p.reason,
                format!(
                    "the node {url} cannot give the balance at height {}: missing trie node 8f3c \
                     (path ) state is not available",
                    anchor.height
                )
            );
        }
        assert_eq!((r.failed, r.result), (0, "incomplete"), "{}", r.to_human());
        assert_eq!(r.anchors[0].status, "ok");
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_por-attest"))
        .args([
            "verify",
            path.to_str().unwrap(),
            "--node",
            &format!("ETH={url}"),
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("INCOMPLETE"));
}
