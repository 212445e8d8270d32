//! Loopback HTTP servers for the node clients' tests and benches: [`serve`] answers JSON-RPC
//! calls (single or batched) or REST paths with a handler; [`Server::bitcoin_core`] and
//! [`Server::esplora`] answer a small consistent chain ([`FakeChain`]) as Bitcoin Core's
//! JSON-RPC documents it (one call or a batch array) and as Esplora's REST API does
//! (Blockstream's `API.md`). No Bitcoin node can run on the machines this project is built on;
//! these answer canned data in the documented shapes.
//!
//! Each server runs on threads of the test process, on a free loopback port, and counts the
//! HTTP requests it serves; a [`Server`] stops when dropped, [`serve`]'s runs until the test
//! process ends.
#![allow(dead_code)]

use por_attest_verify::claim::Claim;
use por_attest_verify::snapshot::Coin;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// An HTTP answer: status, body.
pub type HttpReply = (u16, String);

/// What a server answers: (method, path, body) to a reply.
pub type Handler = dyn Fn(&str, &str, &[u8]) -> HttpReply + Send + Sync;

/// A loopback HTTP/1.1 server (keep-alive, `Content-Length` bodies).
pub struct Server {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Server {
    /// Starts serving `handler` on a free loopback port.
    pub fn start(handler: Arc<Handler>) -> Server {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        let requests = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (count, stopped) = (requests.clone(), stop.clone());
        std::thread::spawn(move || {
            for s in l.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(s) = s else { return };
                let (handler, count) = (handler.clone(), count.clone());
                std::thread::spawn(move || serve_connection(s, &*handler, &count));
            }
        });
        Server {
            url,
            requests,
            stop,
        }
    }

    /// HTTP requests served so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// Forgets the requests served so far.
    pub fn reset_requests(&self) {
        self.requests.store(0, Ordering::SeqCst);
    }

    /// A Bitcoin Core lookalike serving `chain`.
    pub fn bitcoin_core(chain: Arc<FakeChain>) -> Server {
        Server::bitcoin_core_of(switchable(chain))
    }

    /// An Esplora lookalike serving `chain`.
    pub fn esplora(chain: Arc<FakeChain>) -> Server {
        Server::esplora_of(switchable(chain))
    }

    /// A Bitcoin Core lookalike serving the chain in `cell` at each request (replace it to
    /// add blocks or reorganize).
    pub fn bitcoin_core_of(cell: ChainCell) -> Server {
        Server::start(Arc::new(move |_, _, body| {
            let chain = cell.lock().unwrap().clone();
            core_reply(&chain, body)
        }))
    }

    /// An Esplora lookalike serving the chain in `cell` at each request.
    pub fn esplora_of(cell: ChainCell) -> Server {
        Server::start(Arc::new(move |_, path, _| {
            let chain = cell.lock().unwrap().clone();
            chain.esplora(path)
        }))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = std::net::TcpStream::connect(self.url.trim_start_matches("http://"));
    }
}

fn serve_connection(s: std::net::TcpStream, handler: &Handler, count: &AtomicUsize) {
    let _ = s.set_nodelay(true);
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut w = s;
    loop {
        let mut request_line = String::new();
        if r.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = request_line.split_whitespace();
        let (method, path) = (
            parts.next().unwrap_or("").to_string(),
            parts.next().unwrap_or("/").to_string(),
        );
        let mut len = 0usize;
        let mut line = String::new();
        loop {
            line.clear();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some(v) = l.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0u8; len];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        count.fetch_add(1, Ordering::SeqCst);
        let (status, text) = handler(&method, &path, &body);
        let reason = match status {
            200 => "OK",
            404 => "Not Found",
            400 => "Bad Request",
            _ => "Error",
        };
        // One write: a head and a body written apart wait on delayed ACKs.
        let reply = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\n\r\n{text}",
            text.len()
        );
        let _ = w.write_all(reply.as_bytes());
    }
}

/// The chain a server answers, replaceable while it runs.
pub type ChainCell = Arc<std::sync::Mutex<Arc<FakeChain>>>;

/// A cell holding `chain`.
pub fn switchable(chain: Arc<FakeChain>) -> ChainCell {
    Arc::new(std::sync::Mutex::new(chain))
}

/// One transaction of the fake chain.
#[derive(Debug, Clone)]
pub struct FakeTx {
    /// Its id.
    pub txid: String,
    /// The height of its block.
    pub height: u64,
    /// Its outputs: (address, satoshis).
    pub outputs: Vec<(String, u64)>,
    /// The outputs it spends: (txid, vout).
    pub inputs: Vec<(String, u32)>,
}

impl FakeTx {
    /// TX `n` ([`txid`]) in block `height`, paying `outputs`, spending `inputs` (TX, vout).
    pub fn new(n: u64, height: u64, outputs: &[(&str, u64)], inputs: &[(u64, u32)]) -> FakeTx {
        FakeTx {
            txid: txid(n),
            height,
            outputs: outputs.iter().map(|(a, s)| (a.to_string(), *s)).collect(),
            inputs: inputs.iter().map(|(t, v)| (txid(*t), *v)).collect(),
        }
    }
}

/// A small consistent chain: blocks 0..=`tip`, the block at `anchor.0` has hash `anchor.1`,
/// the others a hash made of their height; and its transactions (not to be changed once
/// the chain has been asked about them: the lookups are indexed on first use).
#[derive(Debug, Clone, Default)]
pub struct FakeChain {
    /// The tip's height.
    pub tip: u64,
    /// The anchor block: (height, hash).
    pub anchor: (u64, String),
    /// The transactions.
    pub txs: Vec<FakeTx>,
    /// A transaction the server answers garbage about.
    pub garbage: Option<String>,
    /// Bitcoin Core: blocks below this height are pruned (their transactions unavailable).
    pub pruned_below: u64,
    /// By lower-case txid: its position; by spent output: the spender's position and input.
    pub index: std::sync::OnceLock<Index>,
    /// A reorganized chain: blocks from `fork.0` up have hashes of branch `fork.1` (not 0).
    pub fork: (u64, u8),
}

/// [`FakeChain`]'s lookups.
#[derive(Debug, Clone, Default)]
pub struct Index {
    txs: std::collections::HashMap<String, usize>,
    spends: std::collections::HashMap<(String, u32), (usize, usize)>,
}

/// The claim of entry `entry` (verified offline) that `address` holds `coins` at the anchor
/// `height`, stating `balance` BTC.
pub fn btc_claim(entry: u64, address: &str, coins: Vec<Coin>, balance: &str, height: u64) -> Claim {
    Claim {
        entry: Some(entry),
        line: None,
        account: None,
        path: None,
        chain: "BTC".into(),
        node_chain: "BTC".into(),
        asset: "BTC".into(),
        token: None,
        address: address.into(),
        balance: Some(balance.parse().unwrap()),
        rounding: None,
        height: Some(height),
        status: "verified",
        owners: Vec::new(),
        coins,
    }
}

/// The output script (hex) of `address`; empty for a string that is no address.
pub fn script_hex(address: &str) -> String {
    address
        .parse::<bitcoin::Address<bitcoin::address::NetworkUnchecked>>()
        .map(|a| hex::encode(a.assume_checked().script_pubkey().as_bytes()))
        .unwrap_or_default()
}

/// A transaction id made of `n`.
pub fn txid(n: u64) -> String {
    format!("{n:08x}{}", "7a".repeat(28))
}

impl FakeChain {
    /// The hash of the block at `height` (on the chain or not).
    pub fn block_hash(&self, height: u64) -> String {
        if height == self.anchor.0 {
            return self.anchor.1.clone();
        }
        if self.fork.1 != 0 && height >= self.fork.0 {
            return format!("{height:016x}{}", format!("{:02x}", self.fork.1).repeat(24));
        }
        format!("{height:016x}{}", "c0".repeat(24))
    }

    /// Output `vout` of transaction `id`: (address, satoshis).
    pub fn output(&self, id: &str, vout: u32) -> Option<(&str, u64)> {
        self.tx(id)?
            .outputs
            .get(vout as usize)
            .map(|(a, sat)| (a.as_str(), *sat))
    }

    /// The outputs paying `addresses` unspent at the tip: (transaction, index, address, sat).
    pub fn unspent<'a>(
        &'a self,
        addresses: &'a [String],
    ) -> impl Iterator<Item = (&'a FakeTx, u32, &'a str, u64)> + 'a {
        self.txs
            .iter()
            .filter(|t| t.height <= self.tip)
            .flat_map(move |t| {
                t.outputs
                    .iter()
                    .enumerate()
                    .filter_map(move |(n, (a, sat))| {
                        let spent = self
                            .spender(&t.txid, n as u32)
                            .is_some_and(|(s, _)| s.height <= self.tip);
                        (addresses.contains(a) && !spent).then_some((t, n as u32, a.as_str(), *sat))
                    })
            })
    }

    /// The transactions of the block at `height`.
    pub fn txs_at(&self, height: u64) -> impl Iterator<Item = &FakeTx> {
        self.txs.iter().filter(move |t| t.height == height)
    }

    /// The height of the main-chain block `hash`.
    pub fn height_of(&self, hash: &str) -> Option<u64> {
        if hash.eq_ignore_ascii_case(&self.anchor.1) {
            return Some(self.anchor.0);
        }
        let h = u64::from_str_radix(hash.get(..16)?, 16).ok()?;
        (h <= self.tip && self.block_hash(h).eq_ignore_ascii_case(hash)).then_some(h)
    }

    /// Output `vout` of TX `n` as a file lists it: `sat`, created at `height` in that block
    /// of this chain.
    pub fn coin(&self, n: u64, vout: u32, sat: u64, height: u64) -> Coin {
        Coin {
            txid: txid(n),
            vout,
            amount_sat: sat,
            height,
            block_hash: self.block_hash(height),
            spent: None,
        }
    }

    fn index(&self) -> &Index {
        self.index.get_or_init(|| {
            let mut x = Index::default();
            for (n, t) in self.txs.iter().enumerate() {
                x.txs.insert(t.txid.to_ascii_lowercase(), n);
                for (k, (i, v)) in t.inputs.iter().enumerate() {
                    x.spends.insert((i.to_ascii_lowercase(), *v), (n, k));
                }
            }
            x
        })
    }

    /// The transaction `id`.
    pub fn tx(&self, id: &str) -> Option<&FakeTx> {
        let n = *self.index().txs.get(&id.to_ascii_lowercase())?;
        Some(&self.txs[n])
    }

    /// The transaction spending `id:vout`, and the input's index.
    pub fn spender(&self, id: &str, vout: u32) -> Option<(&FakeTx, usize)> {
        let (n, k) = *self.index().spends.get(&(id.to_ascii_lowercase(), vout))?;
        Some((&self.txs[n], k))
    }

    /// Bitcoin Core's answer to `method(params)`: the result, or (code, message).
    pub fn core(&self, method: &str, p: &Value) -> Result<Value, (i64, String)> {
        let not_found = |m: &str| Err((-5, m.to_string()));
        let s = |i: usize| p[i].as_str().unwrap_or_default().to_string();
        match method {
            "getblockcount" => Ok(json!(self.tip)),
            "scantxoutset" => {
                let wanted: Vec<String> = p[1]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|d| {
                        d.as_str()?
                            .strip_prefix("addr(")?
                            .strip_suffix(')')
                            .map(str::to_string)
                    })
                    .collect();
                let unspents: Vec<Value> = self
                    .unspent(&wanted)
                    .map(|(t, n, a, sat)| json!({
                        "txid": t.txid, "vout": n, "scriptPubKey": script_hex(a),
                        "desc": format!("addr({a})#00000000"), "amount": sat as f64 / 1e8,
                        "coinbase": false, "height": t.height, "blockhash": self.block_hash(t.height),
                        "confirmations": self.tip - t.height + 1
                    }))
                    .collect();
                Ok(json!({"success": true, "txouts": 1000, "height": self.tip,
                    "bestblock": self.block_hash(self.tip), "unspents": unspents, "total_amount": 0}))
            }
            "getblock" => match self.height_of(&s(0)) {
                Some(h) if h < self.pruned_below => {
                    Err((-1, "Block not available (pruned data)".into()))
                }
                Some(h) => {
                    let verbosity = p[1].as_u64().unwrap_or(1);
                    assert!(verbosity >= 2, "getblock is asked with its transactions");
                    let txs = self.txs_at(h).map(|t| {
                        let mut tx = self.core_tx(t);
                        if verbosity == 3 {
                            for (k, (i, v)) in t.inputs.iter().enumerate() {
                                let (a, sat) = self.output(i, *v).expect("a known output");
                                let created = self.tx(i).expect("a known transaction").height;
                                tx["vin"][k]["prevout"] = json!({
                                    "generated": false, "height": created, "value": sat as f64 / 1e8,
                                    "scriptPubKey": {"asm": "", "desc": "", "hex": script_hex(a), "address": a, "type": "witness_v0_keyhash"}
                                });
                            }
                        }
                        tx
                    });
                    Ok(json!({
                        "hash": s(0), "confirmations": self.tip - h + 1, "height": h,
                        "previousblockhash": self.block_hash(h.saturating_sub(1)),
                        "tx": txs.collect::<Vec<_>>()
                    }))
                }
                None => not_found("Block not found"),
            },
            "getblockhash" => match p[0].as_u64() {
                Some(h) if h <= self.tip => Ok(json!(self.block_hash(h))),
                _ => Err((-8, "Block height out of range".into())),
            },
            "getblockheader" => match self.height_of(&s(0)) {
                Some(h) => Ok(json!({
                    "hash": s(0), "confirmations": self.tip - h + 1, "height": h,
                    "version": 536870912, "versionHex": "20000000",
                    "merkleroot": "4a".repeat(32), "time": 1764547200 + h,
                    "mediantime": 1764547200 + h, "nonce": 1, "bits": "17034219",
                    "difficulty": 1.0, "chainwork": "00".repeat(32), "nTx": 2,
                    "previousblockhash": self.block_hash(h.saturating_sub(1))
                })),
                None => not_found("Block not found"),
            },
            "getrawtransaction" => {
                if self.garbage.as_deref() == Some(&s(0)) {
                    return Ok(json!("<html>proxy error</html>"));
                }
                let Some(block) = self.height_of(&s(2)) else {
                    return not_found("Block hash not found");
                };
                if block < self.pruned_below {
                    return Err((-1, "Block not available (pruned data)".into()));
                }
                match self.tx(&s(0)).filter(|t| t.height == block) {
                    Some(t) => Ok(self.core_tx(t)),
                    None => not_found(
                        "No such transaction found in the provided block. Use gettransaction \
                         for wallet transactions.",
                    ),
                }
            }
            "gettxout" => {
                let vout = p[1].as_u64().unwrap_or(u64::MAX) as u32;
                let unspent = self
                    .tx(&s(0))
                    .and_then(|t| t.outputs.get(vout as usize).map(|o| (t, o)))
                    .filter(|_| self.spender(&s(0), vout).is_none());
                Ok(match unspent {
                    Some((t, (address, sat))) => json!({
                        "bestblock": self.block_hash(self.tip),
                        "confirmations": self.tip - t.height + 1,
                        "value": *sat as f64 / 1e8,
                        "scriptPubKey": {"asm": "", "hex": script_hex(address), "address": address, "type": "witness_v0_keyhash"},
                        "coinbase": false
                    }),
                    None => Value::Null,
                })
            }
            _ => Err((-32601, "Method not found".into())),
        }
    }

    /// `getrawtransaction TXID true BLOCKHASH` of `t`.
    fn core_tx(&self, t: &FakeTx) -> Value {
        json!({
            "in_active_chain": true, "txid": t.txid, "hash": t.txid, "version": 2,
            "size": 222, "vsize": 141, "weight": 561, "locktime": 0,
            "vin": t.inputs.iter().map(|(i, v)| json!({
                "txid": i, "vout": v, "scriptSig": {"asm": "", "hex": ""},
                "txinwitness": [], "sequence": 4294967293u64
            })).collect::<Vec<_>>(),
            "vout": t.outputs.iter().enumerate().map(|(n, (a, sat))| json!({
                "value": *sat as f64 / 1e8, "n": n,
                "scriptPubKey": {"asm": "", "hex": script_hex(a), "address": a, "type": "witness_v0_keyhash"}
            })).collect::<Vec<_>>(),
            "blockhash": self.block_hash(t.height),
            "confirmations": self.tip - t.height + 1,
            "time": 1764547200 + t.height, "blocktime": 1764547200 + t.height
        })
    }

    /// An Esplora `status` of a transaction in block `height`.
    fn esplora_status(&self, height: u64) -> Value {
        json!({
            "confirmed": true, "block_height": height,
            "block_hash": self.block_hash(height), "block_time": 1764547200 + height
        })
    }

    /// Esplora's `GET /tx/:txid` of `t`.
    fn esplora_tx(&self, t: &FakeTx) -> Value {
        json!({
            "txid": t.txid, "version": 2, "locktime": 0, "size": 222, "weight": 561,
            "fee": 141,
            "vin": t.inputs.iter().map(|(i, v)| json!({
                "txid": i, "vout": v, "prevout": self.output(i, *v).map(|(a, sat)| json!({
                    "scriptpubkey": script_hex(a), "scriptpubkey_address": a, "value": sat
                })), "scriptsig": "",
                "scriptsig_asm": "", "witness": [], "is_coinbase": false,
                "sequence": 4294967293u64
            })).collect::<Vec<_>>(),
            "vout": t.outputs.iter().map(|(a, sat)| json!({
                "scriptpubkey": script_hex(a), "scriptpubkey_asm": "",
                "scriptpubkey_type": "v0_p2wpkh", "scriptpubkey_address": a,
                "value": sat
            })).collect::<Vec<_>>(),
            "status": self.esplora_status(t.height)
        })
    }

    /// Esplora's answer to `GET path`.
    pub fn esplora(&self, path: &str) -> HttpReply {
        let ok = |v: Value| (200, v.to_string());
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        if let Some(g) = &self.garbage {
            if parts.get(1) == Some(&g.as_str()) {
                return (200, "<html>proxy error</html>".into());
            }
        }
        match parts.as_slice() {
            ["block-height", h] => match h.parse::<u64>() {
                Ok(h) if h <= self.tip => (200, self.block_hash(h)),
                Ok(_) => (404, "Block not found".into()),
                Err(_) => (400, "Invalid height".into()),
            },
            ["block", hash, "status"] => match self.height_of(hash) {
                Some(h) => ok(json!({
                    "in_best_chain": true, "height": h,
                    "next_best": (h < self.tip).then(|| self.block_hash(h + 1))
                })),
                None => (404, "Block not found".into()),
            },
            ["blocks", "tip", "height"] => (200, self.tip.to_string()),
            ["address", a, "utxo"] => ok(Value::Array(
                self.unspent(&[a.to_string()])
                    .map(|(t, n, _, sat)| {
                        json!({"txid": t.txid, "vout": n, "value": sat,
                        "status": self.esplora_status(t.height)})
                    })
                    .collect(),
            )),
            ["blocks", "tip", "hash"] => (200, self.block_hash(self.tip)),
            ["block", hash] => match self.height_of(hash) {
                Some(h) => ok(json!({
                    "id": self.block_hash(h), "height": h, "version": 536870912,
                    "timestamp": 1764547200 + h, "tx_count": self.txs_at(h).count(),
                    "size": 1000, "weight": 4000, "merkle_root": "4a".repeat(32),
                    "previousblockhash": (h > 0).then(|| self.block_hash(h - 1)),
                    "mediantime": 1764547200 + h, "nonce": 1, "bits": 386089497,
                    "difficulty": 1.0
                })),
                None => (404, "Block not found".into()),
            },
            ["block", hash, "txs", start] => match (self.height_of(hash), start.parse::<usize>()) {
                (Some(h), Ok(start)) => ok(Value::Array(
                    self.txs_at(h)
                        .skip(start)
                        .take(25)
                        .map(|t| self.esplora_tx(t))
                        .collect(),
                )),
                _ => (404, "Block not found".into()),
            },
            ["tx", id] => match self.tx(id) {
                Some(t) => ok(self.esplora_tx(t)),
                None => (404, "Transaction not found".into()),
            },
            ["tx", id, "status"] => match self.tx(id) {
                Some(t) => ok(self.esplora_status(t.height)),
                None => (404, "Transaction not found".into()),
            },
            ["tx", id, "outspend", vout] => {
                let Ok(vout) = vout.parse::<u32>() else {
                    return (400, "Invalid vout".into());
                };
                // Esplora answers "not spent" for an output it does not know.
                ok(match self.spender(id, vout) {
                    Some((t, vin)) => json!({
                        "spent": true, "txid": t.txid, "vin": vin,
                        "status": self.esplora_status(t.height)
                    }),
                    None => json!({"spent": false}),
                })
            }
            _ => (404, "Not found".into()),
        }
    }
}

/// JSON-RPC over HTTP: each call of `body` (one object or a batch array) answered by `answer`
/// with its result or its error object, with the call's `id`; and, for a single call answered
/// with an error, that error's code. `None` when the body is not JSON.
fn json_rpc(
    body: &[u8],
    answer: &dyn Fn(&str, &Value) -> Result<Value, Value>,
) -> Option<(Value, Option<i64>)> {
    let req: Value = serde_json::from_slice(body).ok()?;
    let one = |c: &Value| {
        let mut a = match answer(c["method"].as_str().unwrap_or(""), &c["params"]) {
            Ok(r) => json!({"jsonrpc": "2.0", "result": r, "error": null}),
            Err(e) => json!({"jsonrpc": "2.0", "result": null, "error": e}),
        };
        a["id"] = c["id"].clone();
        a
    };
    Some(match &req {
        Value::Array(calls) => (Value::Array(calls.iter().map(one).collect()), None),
        c => {
            let a = one(c);
            let code = a["error"]["code"].as_i64();
            (a, code)
        }
    })
}

/// Bitcoin Core's JSON-RPC over HTTP: a batch array is answered with HTTP 200; a single call's
/// error with HTTP 500 (404 for an unknown method), as Bitcoin Core before 28 answers (and 28
/// still, for JSON-RPC 1.x requests).
fn core_reply(chain: &FakeChain, body: &[u8]) -> HttpReply {
    let answer = |m: &str, p: &Value| {
        chain
            .core(m, p)
            .map_err(|(code, message)| json!({"code": code, "message": message}))
    };
    match json_rpc(body, &answer) {
        None => (500, json!({"result": null, "error": {"code": -32700, "message": "Parse error"}, "id": null}).to_string()),
        Some((a, None)) => (200, a.to_string()),
        Some((a, Some(-32601))) => (404, a.to_string()),
        Some((a, Some(_))) => (500, a.to_string()),
    }
}

/// What a [`serve`] handler gives back for one request.
pub enum Reply {
    /// HTTP 200 with this JSON body (for a JSON-RPC call, `{"error": …}` is its error).
    Json(Value),
    /// HTTP 200 with this text body.
    Text(String),
    /// HTTP 404 (for a JSON-RPC call, "Method not found").
    NotFound,
}

/// Starts a server on a free loopback port; `handle(method_or_path, params)` answers each
/// request: for a POST, each JSON-RPC call (`method`, `params`; one or a batch, HTTP 200) gets
/// its own `result` (or `error` when the handler answers `{"error": …}`); for a GET, the path.
/// It runs until the test process ends. Its URL.
pub fn serve(handle: impl Fn(&str, &Value) -> Reply + Send + 'static) -> String {
    let handle = std::sync::Mutex::new(handle);
    let server = Server::start(Arc::new(move |method, path, body| {
        let handle = |m: &str, p: &Value| (handle.lock().unwrap())(m, p);
        if method == "GET" {
            return match handle(path, &Value::Null) {
                Reply::Json(v) => (200, v.to_string()),
                Reply::Text(t) => (200, t),
                Reply::NotFound => (404, "not found".into()),
            };
        }
        let answer = |m: &str, p: &Value| match handle(m, p) {
            Reply::Json(v) if v.get("error").is_some() => Err(v["error"].clone()),
            Reply::Json(v) => Ok(v),
            Reply::Text(t) => Ok(json!(t)),
            Reply::NotFound => Err(json!({"code": -32601, "message": "Method not found"})),
        };
        match json_rpc(body, &answer) {
            Some((a, _)) => (200, a.to_string()),
            None => (400, "not JSON".into()),
        }
    }));
    let url = server.url.clone();
    std::mem::forget(server);
    url
}
