//! A real EVM node for the tests and the benchmark: ganache (npm), installed by
//! `scripts/setup` into `tools/node_modules`, started on a free loopback port with the
//! simulator's test seed (so the simulator's EVM addresses are its funded accounts), stopped by
//! PID when dropped. Contracts are deployed from their published npm artifacts
//! (`@openzeppelin/contracts`, `@safe-global/safe-contracts`) with `eth_sendTransaction` from
//! ganache's unlocked accounts.
#![allow(dead_code)]

use por_attest_reserves::rpc::{Auth, Client, Policy};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The checkout's root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// `tools/node_modules` (or `$POR_ATTEST_NODE_MODULES`).
pub fn node_modules() -> PathBuf {
    std::env::var_os("POR_ATTEST_NODE_MODULES")
        .map_or_else(|| root().join("tools/node_modules"), PathBuf::from)
}

/// A running ganache, killed by PID on drop.
pub struct Ganache {
    child: Child,
    /// Its JSON-RPC URL.
    pub url: String,
    rt: tokio::runtime::Runtime,
    client: Client,
}

impl Drop for Ganache {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Ganache {
    /// Starts ganache, or says why it cannot (then the caller skips).
    pub fn start() -> Result<Ganache, String> {
        Ganache::start_with(None, None)
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.url.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// Stops it with SIGTERM (ganache writes its database out) and waits for it.
    pub fn stop(mut self) {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let _ = self.child.wait();
    }

    /// Starts ganache on `port` (default: a free one), keeping its chain in the directory `db`
    /// when given (a restart on the same directory continues the same chain).
    pub fn start_with(port: Option<u16>, db: Option<&Path>) -> Result<Ganache, String> {
        let cli = node_modules().join("ganache/dist/node/cli.js");
        if !cli.is_file() {
            return Err(format!(
                "ganache is not installed ({} missing; scripts/setup installs it with npm)",
                cli.display()
            ));
        }
        if Command::new("node").arg("--version").output().is_err() {
            return Err("node (Node.js) is not on PATH".into());
        }
        let port = port.unwrap_or_else(free_port);
        let mut cmd = Command::new("node");
        if let Some(db) = db {
            cmd.arg(&cli)
                .args(["--database.dbPath", db.to_str().expect("UTF-8 path")]);
        } else {
            cmd.arg(&cli);
        }
        let child = cmd
            .args([
                "--server.host",
                "127.0.0.1",
                "--server.port",
                &port.to_string(),
            ])
            .args(["--wallet.mnemonic", por_attest::fixtures::TEST_MNEMONIC])
            .args([
                "--wallet.totalAccounts",
                "10",
                "--wallet.defaultBalance",
                "1000",
            ])
            .args([
                "--chain.chainId",
                "1337",
                "--chain.allowUnlimitedContractSize",
            ])
            .args(["--logging.quiet"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start ganache: {e}"))?;
        let url = format!("http://127.0.0.1:{port}");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let client = Client::new(
            &url,
            Auth::None,
            // One retry: a kept-alive connection ganache closed while idle fails once.
            Policy {
                timeout: Duration::from_secs(20),
                retries: 1,
                backoff: Duration::from_millis(10),
            },
        )
        .expect("client");
        let g = Ganache {
            child,
            url,
            rt,
            client,
        };
        let t0 = Instant::now();
        loop {
            if g.try_rpc("eth_blockNumber", json!([])).is_ok() {
                return Ok(g);
            }
            if t0.elapsed() > Duration::from_secs(60) {
                return Err("ganache did not answer within 60 s".into());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn try_rpc(&self, method: &str, params: Value) -> Result<Value, String> {
        match self.rt.block_on(self.client.call(method, params)) {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(e.0),
            Err(e) => Err(e.to_string()),
        }
    }

    /// A JSON-RPC call that must succeed.
    pub fn rpc(&self, method: &str, params: Value) -> Value {
        self.try_rpc(method, params.clone())
            .unwrap_or_else(|e| panic!("{method} {params}: {e}"))
    }

    /// The funded accounts (the simulator's EVM addresses `m/44'/60'/0'/0/i`).
    pub fn accounts(&self) -> Vec<String> {
        serde_json::from_value(self.rpc("eth_accounts", json!([]))).expect("accounts")
    }

    /// The current height.
    pub fn height(&self) -> u64 {
        let h = self.rpc("eth_blockNumber", json!([]));
        u64::from_str_radix(h.as_str().unwrap().trim_start_matches("0x"), 16).unwrap()
    }

    /// The hash of the block at `height`.
    pub fn block_hash(&self, height: u64) -> String {
        self.rpc(
            "eth_getBlockByNumber",
            json!([format!("0x{height:x}"), false]),
        )["hash"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// The wei balance of `address` at `height` (decimal text).
    pub fn balance_at(&self, address: &str, height: u64) -> String {
        let v = self.rpc("eth_getBalance", json!([address, format!("0x{height:x}")]));
        u128::from_str_radix(v.as_str().unwrap().trim_start_matches("0x"), 16)
            .unwrap()
            .to_string()
    }

    /// Sends a transaction from an unlocked account and waits for its receipt.
    pub fn send(&self, tx: Value) -> Value {
        let hash = self.rpc("eth_sendTransaction", json!([tx]));
        for _ in 0..200 {
            let r = self.rpc("eth_getTransactionReceipt", json!([hash]));
            if !r.is_null() {
                assert_eq!(r["status"], "0x1", "transaction failed: {r}");
                return r;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("no receipt for {hash}");
    }

    /// Deploys `bytecode` (hex) with ABI-encoded constructor `args` (hex) from `from`.
    pub fn deploy(&self, from: &str, bytecode: &str, args: &str) -> String {
        let data = format!("{bytecode}{args}");
        let r = self.send(json!({"from": from, "data": data, "gas": "0x1c9c380"}));
        r["contractAddress"].as_str().unwrap().to_string()
    }

    /// Calls `to` with `data` from `from` in a transaction.
    pub fn transact(&self, from: &str, to: &str, data: &str) -> Value {
        self.send(json!({"from": from, "to": to, "data": data, "gas": "0x989680"}))
    }
}

/// The creation bytecode of an npm artifact (hardhat / truffle JSON with `bytecode`).
pub fn artifact_bytecode(relative: &str) -> String {
    let p = node_modules().join(relative);
    let j: Value = serde_json::from_slice(
        &std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
    )
    .unwrap();
    j["bytecode"].as_str().expect("bytecode").to_string()
}

/// The OpenZeppelin fixed-supply ERC-20 (`ERC20PresetFixedSupply`).
pub const ERC20_ARTIFACT: &str =
    "@openzeppelin/contracts/build/contracts/ERC20PresetFixedSupply.json";
/// The Safe singleton (v1.4.1).
pub const SAFE_ARTIFACT: &str =
    "@safe-global/safe-contracts/build/artifacts/contracts/Safe.sol/Safe.json";
/// The Safe proxy.
pub const SAFE_PROXY_ARTIFACT: &str =
    "@safe-global/safe-contracts/build/artifacts/contracts/proxies/SafeProxy.sol/SafeProxy.json";

/// A 32-byte ABI word of an unsigned integer.
pub fn word(n: u128) -> String {
    format!("{n:064x}")
}

/// A 32-byte ABI word of an address.
pub fn addr_word(a: &str) -> String {
    format!("{:0>64}", a.trim_start_matches("0x").to_ascii_lowercase())
}

/// The 4-byte selector of a function signature.
pub fn selector(sig: &str) -> String {
    hex::encode(&por_attest::schemes::evm::keccak256(sig.as_bytes())[..4])
}

fn abi_string(s: &str) -> String {
    let mut hexed = hex::encode(s.as_bytes());
    while !hexed.len().is_multiple_of(64) || hexed.is_empty() {
        hexed.push('0');
    }
    format!("{}{hexed}", word(s.len() as u128))
}

/// Deploys an ERC-20 with `supply` base units minted to `owner`.
pub fn deploy_erc20(g: &Ganache, owner: &str, supply: u128) -> String {
    let name = abi_string("Test Tether");
    let symbol = abi_string("USDT");
    let args = format!(
        "{}{}{}{}{name}{symbol}",
        word(0x80),
        word(0x80 + name.len() as u128 / 2),
        word(supply),
        addr_word(owner)
    );
    g.deploy(owner, &artifact_bytecode(ERC20_ARTIFACT), &args)
}

/// `transfer(to, amount)` on `token` from `from`.
pub fn transfer_token(g: &Ganache, token: &str, from: &str, to: &str, amount: u128) {
    let data = format!(
        "0x{}{}{}",
        selector("transfer(address,uint256)"),
        addr_word(to),
        word(amount)
    );
    g.transact(from, token, &data);
}

/// Deploys a Safe (singleton, then a proxy set up with `owners` and `threshold`); its address.
pub fn deploy_safe(g: &Ganache, from: &str, owners: &[String], threshold: u128) -> String {
    let singleton = g.deploy(from, &artifact_bytecode(SAFE_ARTIFACT), "");
    let proxy = g.deploy(
        from,
        &artifact_bytecode(SAFE_PROXY_ARTIFACT),
        &addr_word(&singleton),
    );
    // setup(address[] owners, uint256 threshold, address to, bytes data, address
    // fallbackHandler, address paymentToken, uint256 payment, address paymentReceiver)
    let n = owners.len() as u128;
    let owners_off = 8 * 32;
    let data_off = owners_off + 32 * (1 + n);
    let mut data = format!(
        "0x{}{}{}{}{}{}{}{}{}",
        selector("setup(address[],uint256,address,bytes,address,address,uint256,address)"),
        word(owners_off),
        word(threshold),
        word(0),
        word(data_off),
        word(0),
        word(0),
        word(0),
        word(0)
    );
    data.push_str(&word(n));
    for o in owners {
        data.push_str(&addr_word(o));
    }
    data.push_str(&word(0));
    g.transact(from, &proxy, &data);
    proxy
}
