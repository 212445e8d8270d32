//! Writes the seed corpora: `cargo run --example seeds -- OUT_DIR` fills `OUT_DIR/TARGET/`
//! with inputs from `examples/`, `tests/data/` (OKX files, signature vectors), and APDU
//! exchanges recorded from the simulator (a whole ceremony on the simulated device, and the
//! Bitcoin app's interrupt-loop flows).

use firmware_messages::bitcoin::host::{HostFlow, HostStep};
use firmware_messages::dashboard::DashboardCommand;
use firmware_messages::{Command, Response};
use por_attest::ceremony::sign;
use por_attest::demo::DEMO_SIGNERS;
use por_attest::okx::export_okx_csv;
use por_attest::simulator::{SimulatedLedger, SimulatorConfig};
use por_attest::snapshot::Snapshot;
use por_attest::transport::{Exchange, TransportError};
use por_attest_fuzz::{apdu, ceremony, interrupt, scratch};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Seeds by target, deduplicated.
#[derive(Default)]
struct Seeds(BTreeMap<&'static str, Vec<Vec<u8>>>);

impl Seeds {
    fn add(&mut self, target: &'static str, data: impl Into<Vec<u8>>) {
        assert!(por_attest_fuzz::target(target).is_some(), "{target}");
        let v = self.0.entry(target).or_default();
        let data = data.into();
        if !v.contains(&data) {
            v.push(data);
        }
    }

    fn joined(&mut self, target: &'static str, parts: &[&[u8]]) {
        self.add(target, parts.join(&0u8));
    }
}

/// A transport that records every exchange with the simulator.
struct Recorder {
    inner: por_attest::transport::InProcessTransport,
    log: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Exchange for Recorder {
    fn exchange(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        let r = self.inner.exchange(apdu)?;
        self.log.push((apdu.to_vec(), r.clone()));
        Ok(r)
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Every (address, message, signature) triple in a JSON value.
fn triples(v: &serde_json::Value, out: &mut Vec<(String, String, String)>) {
    match v {
        serde_json::Value::Object(o) => {
            let s = |k: &str| o.get(k).and_then(|x| x.as_str()).map(str::to_string);
            if let (Some(a), Some(m), Some(sig)) = (s("address"), s("message"), s("signature")) {
                out.push((a, m, sig));
            }
            o.values().for_each(|x| triples(x, out));
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| triples(x, out)),
        _ => {}
    }
}

/// A whole ceremony of the fuzz manifest on the simulated device, recorded; the journals and
/// snapshot of the run.
fn ceremony_run(seeds: &mut Seeds) {
    let m = ceremony::manifest();
    let dir = scratch::path().join("seed-run");
    std::fs::create_dir_all(&dir).expect("dir");
    let mut journals = Vec::new();
    for (id, words) in DEMO_SIGNERS {
        let sim = SimulatedLedger::new(SimulatorConfig::with_mnemonic(words)).expect("seed");
        let mut t = Recorder {
            inner: sim.transport(),
            log: Vec::new(),
        };
        let j = dir.join(format!("journal-{id}.jsonl"));
        let _ = std::fs::remove_file(&j);
        let mut o = ceremony::options();
        o.signer = Some(id.to_string());
        sign(m, &j, &mut t, &o).expect("the recorded ceremony signs");
        journals.push(j.clone());
        let text = read(&j);
        seeds.add("journal", text.clone());
        // A torn tail, and a complete last line without its newline.
        seeds.add("journal", text[..text.len() - 20].to_vec());
        seeds.add("journal", text[..text.len() - 1].to_vec());
        if id != ceremony::SIGNER {
            continue;
        }
        let replies: Vec<Vec<u8>> = t.log.iter().map(|(_, r)| r.clone()).collect();
        seeds.add("ceremony_device", ceremony::encode_replies(&replies));
        // And cut short at a few places (a disconnect there).
        for cut in [replies.len() / 3, replies.len() / 2, replies.len() - 1] {
            seeds.add("ceremony_device", ceremony::encode_replies(&replies[..cut]));
        }
        let mut apdus = por_attest_fuzz::input::InputWriter::default();
        apdus.u8(0);
        let mut to_sim = por_attest_fuzz::input::InputWriter::default();
        to_sim.u8(3);
        for (apdu_bytes, reply) in &t.log {
            apdus.piece(apdu_bytes);
            to_sim.piece(apdu_bytes);
            for k in 0..apdu::DECODERS {
                let data = &reply[..reply.len() - 2];
                let mut d = vec![k];
                d.extend_from_slice(if k == 0 { reply } else { data });
                seeds.add("apdu_replies", d);
            }
        }
        seeds.add("device_commands", apdus.0);
        seeds.add("device_commands", to_sim.0);
    }
    let p = por_attest::package::package(m, &journals, &Default::default()).expect("package");
    let bytes = p.snapshot.to_file_bytes();
    snapshot_seeds(seeds, &bytes);
}

fn snapshot_seeds(seeds: &mut Seeds, bytes: &[u8]) {
    for knob in [0u8, 7, 0x35, 0xff] {
        let mut d = vec![knob];
        d.extend_from_slice(bytes);
        seeds.add("snapshot_split", d);
    }
    seeds.add("snapshot_read", bytes.to_vec());
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(bytes) {
        // Another layout of the same content (the splitter takes any layout).
        let compact = serde_json::to_vec(&v).expect("serialize");
        seeds.add("snapshot_read", compact.clone());
        seeds.add("snapshot_split", [&[3u8][..], &compact].concat());
        let mut out = Vec::new();
        triples(&v, &mut out);
        if let Some(entries) = v.get("entries").and_then(|e| e.as_array()) {
            for e in entries {
                let s = |k: &str| e.get(k).and_then(|x| x.as_str()).unwrap_or_default();
                for sig in e
                    .get("signatures")
                    .and_then(|x| x.as_array())
                    .into_iter()
                    .flatten()
                {
                    let sig = sig
                        .get("signature")
                        .and_then(|x| x.as_str())
                        .unwrap_or_default();
                    seeds.joined(
                        "bip322",
                        &[
                            s("address").as_bytes(),
                            s("message").as_bytes(),
                            sig.as_bytes(),
                        ],
                    );
                }
                if let Ok(script) = hex::decode(s("script")) {
                    if !script.is_empty() {
                        seeds.add("multisig", script);
                    }
                }
                let a = s("address").as_bytes();
                seeds.add("account_address", [&[0u8][..], a].concat());
                seeds.add("account_address", [&[1u8][..], a].concat());
            }
        }
    }
    let p = scratch::write("seed-snapshot.json", bytes);
    if let Ok(snap) = Snapshot::read(&p) {
        let mut csv = Vec::new();
        export_okx_csv(&snap, &mut csv).expect("export");
        seeds.add("okx_csv", csv);
    }
}

/// Records the simulator's replies to each interrupt-loop flow of the `interrupt_loop` target.
fn interrupt_flows(seeds: &mut Seeds) {
    let sim = SimulatedLedger::speculos_default();
    let mut t = sim.transport();
    let open = t
        .send(&DashboardCommand::OpenApp(sim.bitcoin_app_name().into()).to_command())
        .expect("open the app");
    assert!(open.status.is_ok());
    let mut run = |flow: &mut HostFlow| -> (Vec<Response>, Vec<u8>) {
        let mut replies = Vec::new();
        let mut next: Command = flow.first_command().clone();
        loop {
            let r = t.send(&next).expect("the simulator answers");
            replies.push(r.clone());
            match flow.on_response(r) {
                Ok(HostStep::Send(c)) => next = c,
                Ok(HostStep::Done(d)) => return (replies, d),
                Err(e) => panic!("recording flow: {e}"),
            }
        }
    };
    let mut hmac = [0u8; 32];
    for which in [2u8, 3, 0, 1] {
        let mut flow = interrupt::flow(which, hmac);
        let (replies, done) = run(&mut flow);
        if which == 2 {
            hmac.copy_from_slice(&done[32..64]);
        }
        seeds.add(
            "interrupt_loop",
            interrupt::encode_input(which, hmac, &replies),
        );
        // The same session answered in part, then the device goes quiet.
        seeds.add(
            "interrupt_loop",
            interrupt::encode_input(which, hmac, &replies[..replies.len() / 2]),
        );
        for r in &replies {
            if r.status.0 == 0xE000 {
                seeds.add("apdu_replies", [&[15u8][..], &r.data].concat());
            }
        }
    }
    let f = interrupt::fixtures();
    seeds.add("psbt", por_attest_fuzz::psbt::serialize_v2(&f.psbt));
    for k in f.multisig.keys.iter().chain(&f.tr_policy.keys) {
        seeds.add("device_commands", [&[2u8][..], k.as_bytes()].concat());
    }
    for t in [
        &f.multisig.descriptor_template,
        &f.tr_policy.descriptor_template,
    ] {
        seeds.add("device_commands", [&[2u8][..], t.as_bytes()].concat());
    }
    seeds.add("device_commands", b"\x02m/44'/0'/0'/0/7".to_vec());
}

fn main() {
    let out = std::env::args()
        .nth(1)
        .expect("usage: seeds OUT_DIR (e.g. fuzz/corpus)");
    let out = PathBuf::from(out);
    let mut seeds = Seeds::default();
    let repo = repo();
    let data = repo.join("tests/data");

    // examples/
    let example = read(&repo.join("examples/snapshot.json"));
    snapshot_seeds(&mut seeds, &example);
    let manifest = read(&repo.join("examples/manifest.toml"));
    let csv = read(&repo.join("examples/addresses.csv"));
    seeds.joined("manifest", &[&manifest, &csv]);
    seeds.add("manifest", manifest);

    ceremony_run(&mut seeds);
    interrupt_flows(&mut seeds);
    {
        let m = ceremony::manifest();
        let (toml, csv) = m.to_toml_with_csv("addresses.csv");
        seeds.joined("manifest", &[toml.as_bytes(), csv.as_bytes()]);
        seeds.add("manifest", m.to_toml());
    }

    // tests/data: OKX files and signature vectors.
    if let Ok(dir) = std::fs::read_dir(data.join("okx")) {
        for e in dir.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "csv") {
                let text = read(&p);
                okx_rows(&mut seeds, &text);
                seeds.add("okx_csv", text);
            }
        }
    } else {
        eprintln!(
            "note: {} not found; OKX seeds from examples only",
            data.display()
        );
    }
    // HTX's published files (tests/data/htx) and a synthetic one.
    if let Ok(dir) = std::fs::read_dir(repo.join("tests/data/htx")) {
        for e in dir.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "csv") {
                seeds.add("htx_csv", read(&p));
            }
        }
    }
    {
        let d = tempfile::tempdir().expect("temp dir");
        let p = d.path().join("htx.csv");
        por_attest::synthetic::write_synthetic_htx(&p, 40).expect("synthetic HTX file");
        seeds.add("htx_csv", read(&p));
    }
    if let Ok(dir) = std::fs::read_dir(data.join("vectors")) {
        for e in dir.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "json") {
                let Ok(v) = serde_json::from_slice::<serde_json::Value>(&read(&p)) else {
                    continue;
                };
                let mut out = Vec::new();
                triples(&v, &mut out);
                for (a, m, s) in out {
                    seeds.joined("bip322", &[a.as_bytes(), m.as_bytes(), s.as_bytes()]);
                    seeds.add("account_address", [&[0u8][..], a.as_bytes()].concat());
                }
            }
        }
    }

    // Small hand-made seeds.
    for a in [
        "bitcoincash:qpm2qsznhks23z7629mms6s4cwef74vcwvy22gdx6a",
        "bitcoincash:ppm2qsznhks23z7629mms6s4cwef74vcwvn0h829pq",
        "qr95sy3j9xwd2ap32xkykttr4cvcu7as4y0qverfuy",
    ] {
        seeds.joined("cashaddr", &[a.as_bytes(), b"I am an OKX address", b"x"]);
    }
    for a in [
        "EQCvoBT5Keb46oUhI_DpX0WXFDdX9ZyxXBfX3FC9cZa90nQP",
        "UQB1CKrUWm7qf41Z1GeEE6AgVVj5cH6y6x1aRmWe6q4mj1fn",
        "0:af a014f929e6f8ea852123f0e95f45971437 57f59cb15c17d7dc50bd7196bdd2",
    ] {
        seeds.add("ton", a.replace(' ', ""));
    }
    seeds.joined(
        "eos",
        &[
            b"EOS7nGMZSQxyvJkH5WDnuGsSQMp7yCRYA5AX4GMAXh6WtmqnMT79X",
            b"SIG_K1_",
            b"m",
        ],
    );
    seeds.add("ss58", "12Z1EpgUskkbinZ47CdiUSdBMSvh4FVhgr6iDKfiyvEFndEa");
    seeds.add("account_address", b"\x030x1".to_vec());
    seeds.add(
        "account_address",
        b"\x02addr1vpu5vlrf4xkxv2qpwngf6cjhtw542ayty80v8dyr49rf5eg0yu80w".to_vec(),
    );
    // merkle: honest lists, proofs over leaves, a lying host.
    seeds.add(
        "merkle",
        [0u8, 5, 3, 1, b'a', 1, 2, b'b', b'c', 1, 0, 2, 255].to_vec(),
    );
    seeds.add(
        "merkle",
        [
            &[0u8, 3][..],
            &[3, 255],
            &[7u8; 255][..],
            &[0, 0],
            &[0, 1, 9],
        ]
        .concat(),
    );
    seeds.add(
        "merkle",
        [
            &[1u8, 7][..],
            &[0x11u8; 32 * 7],
            &5u64.to_be_bytes(),
            &2u64.to_be_bytes(),
        ]
        .concat(),
    );
    seeds.add(
        "merkle",
        [
            &[2u8][..],
            &[0x22; 32],
            &5u64.to_be_bytes(),
            &3u64.to_be_bytes(),
            &[1, 4, 0x41],
        ]
        .concat(),
    );
    // Personal-message chunks: a first chunk (path m/44'/60'/0'/0/0, length 3), then more.
    let mut chunk = vec![1u8, 0, 5];
    for i in [44u32 | 1 << 31, 60 | 1 << 31, 1 << 31, 0, 0] {
        chunk.extend_from_slice(&i.to_be_bytes());
    }
    chunk.extend_from_slice(&3u32.to_be_bytes());
    chunk.push(b'a');
    let len = (chunk.len() - 2) as u8;
    chunk[1] = len;
    chunk.extend_from_slice(&[0, 2, b'b', b'c']);
    seeds.add("device_commands", chunk);

    let mut total = 0;
    for (target, list) in &seeds.0 {
        let dir = out.join(target);
        std::fs::create_dir_all(&dir).expect("create the corpus folder");
        for (i, s) in list.iter().enumerate() {
            std::fs::write(dir.join(format!("seed-{i:04}")), s).expect("write a seed");
        }
        total += list.len();
        println!("{target}: {} seeds", list.len());
    }
    for (name, _) in por_attest_fuzz::TARGETS {
        assert!(seeds.0.contains_key(name), "no seeds for {name}");
    }
    println!("{total} seeds in {}", out.display());
}

/// Rows of an OKX file as seeds of the decoders they reach.
fn okx_rows(seeds: &mut Seeds, text: &[u8]) {
    let Ok(mut r) = por_attest::okx::OkxReader::new("seed.csv", text) else {
        return;
    };
    while let Some(Ok(row)) = r.next_row() {
        let coin = row.coin.to_ascii_uppercase();
        let net = row.network.to_ascii_uppercase();
        let is = |n: &str| coin.starts_with(n) || net.starts_with(n);
        if is("BCH") {
            seeds.joined(
                "cashaddr",
                &[
                    row.address.as_bytes(),
                    row.message.as_bytes(),
                    row.sig1.as_bytes(),
                ],
            );
        }
        if is("EOS") || net == "VAULTA" {
            seeds.joined(
                "eos",
                &[
                    row.script.as_bytes(),
                    row.sig1.as_bytes(),
                    row.message.as_bytes(),
                ],
            );
        }
        if is("TON") {
            seeds.add("ton", row.address.clone());
        }
        if is("DOT") {
            seeds.add("ss58", row.address.clone());
        }
        if is("ADA") {
            seeds.add(
                "account_address",
                [&[2u8][..], row.address.as_bytes()].concat(),
            );
        }
        if is("APT") || is("SUI") {
            seeds.add(
                "account_address",
                [&[3u8][..], row.address.as_bytes()].concat(),
            );
        }
        if is("TRX") || coin.ends_with("TRC20") {
            seeds.add(
                "account_address",
                [&[1u8][..], row.address.as_bytes()].concat(),
            );
        }
        if row.address.starts_with("0x") {
            seeds.add(
                "account_address",
                [&[0u8][..], row.address.as_bytes()].concat(),
            );
        }
        if !row.script.is_empty() {
            if let Ok(s) = hex::decode(&row.script) {
                seeds.add("multisig", s);
            }
        }
        seeds.joined(
            "bip322",
            &[
                row.address.as_bytes(),
                row.message.as_bytes(),
                row.sig1.as_bytes(),
            ],
        );
    }
}
