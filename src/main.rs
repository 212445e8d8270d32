//! The `por-attest` command line.

use clap::{Parser, Subcommand, ValueEnum};
use por_attest::ceremony::{sign_with, CeremonyError, OnReject, SignOptions};
use por_attest::device::{open_signer, DeviceSpec};
use por_attest::manifest::Manifest;
use por_attest::package::{package, PackageOptions};
use por_attest::simulator::{serve_tcp, SimulatorConfig};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

mod watch_cli;

#[derive(Parser)]
#[command(
    name = "por-attest",
    version,
    about = "Prove control of Proof-of-Reserves addresses: sign on Ledger devices, verify offline"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum InputFormat {
    /// Detect from the content.
    Auto,
    /// A por-attest snapshot (JSON).
    Snapshot,
    /// An OKX proof-of-reserves address file (CSV).
    OkxCsv,
    /// An HTX (Huobi) proof-of-reserves address file (CSV).
    HtxCsv,
}

#[derive(Clone, Copy, ValueEnum)]
enum ExportFormat {
    /// OKX's 11-column address file.
    OkxCsv,
    /// The proofs documents PyPI's bip322-audit reads, one per address (into the `--out`
    /// directory).
    Bip322Proofs,
}

#[derive(Clone, Copy, ValueEnum)]
enum RejectChoice {
    /// Record the rejection and stop.
    Stop,
    /// Record the rejection and go on with the next address.
    Continue,
}

#[derive(Clone, Copy, ValueEnum)]
enum OpenApp {
    /// The Bitcoin app.
    Bitcoin,
    /// The Ethereum app.
    Ethereum,
    /// The TRON app.
    Tron,
}

/// The auditor's nodes (`verify`, `solvency`).
#[derive(clap::Args)]
struct NodeArgs {
    /// Check balances and anchors on this node: CHAIN=URL (repeatable; EVM JSON-RPC,
    /// Bitcoin Core RPC, or BTC=esplora+URL for an Esplora REST API). No credentials
    /// here: use --nodes.
    #[arg(long = "node", value_name = "CHAIN=URL")]
    nodes: Vec<String>,
    /// A TOML file of nodes (credentials from environment variables it names) and tokens.
    #[arg(long = "nodes", value_name = "FILE")]
    nodes_file: Option<PathBuf>,
    /// HTTP requests in flight at once to the nodes.
    #[arg(long, default_value_t = 8)]
    node_concurrency: usize,
    /// JSON-RPC calls per HTTP request (1: no batching).
    #[arg(long, default_value_t = 100)]
    node_batch: usize,
}

impl NodeArgs {
    /// The nodes named, and how to ask them.
    fn resolve(
        &self,
        progress: bool,
    ) -> Result<
        (por_attest_reserves::Nodes, por_attest_reserves::NodeOptions),
        por_attest_reserves::NodeError,
    > {
        let endpoints = node_endpoints(&self.nodes, self.nodes_file.as_deref())?;
        let opts = por_attest_reserves::NodeOptions {
            concurrency: self.node_concurrency,
            batch: self.node_batch,
            progress,
            ..por_attest_reserves::NodeOptions::default()
        };
        Ok((endpoints, opts))
    }
}

/// Prints a report (JSON or for a person) and exits with its status.
fn emit(json: bool, to_json: String, to_human: String, code: i32) -> ExitCode {
    if json {
        println!("{to_json}");
    } else {
        print!("{to_human}");
    }
    ExitCode::from(code as u8)
}

#[derive(Subcommand)]
enum Command {
    /// Verify a published snapshot or exchange file, offline, and with --node against the
    /// auditor's own nodes. Exit 0: VERIFIED; 1: FAILED (an entry, account, total, anchor or the
    /// file); 2: the file could not be read or understood, or a node could not be used;
    /// 3: INCOMPLETE (nothing failed, but some addresses are unsupported, unsigned or not
    /// checked on chain; 0 with --allow-unsupported).
    Verify {
        /// The snapshot file.
        file: PathBuf,
        /// Print the report as JSON on stdout.
        #[arg(long)]
        json: bool,
        /// Also write the report as one self-contained HTML page (no script, nothing fetched).
        #[arg(long, value_name = "OUT.html")]
        html: Option<PathBuf>,
        /// Worker threads (default: one per core).
        #[arg(long, default_value_t = 0)]
        threads: usize,
        /// The input format.
        #[arg(long, value_enum, default_value = "auto")]
        format: InputFormat,
        /// An INCOMPLETE verdict (unsupported, unsigned or not checked on chain, nothing
        /// failed) exits 0 instead of 3 (the verdict and the rows are still reported).
        #[arg(long)]
        allow_unsupported: bool,
        #[command(flatten)]
        node: NodeArgs,
        /// With a liabilities bundle: a user's inclusion proof (Gate's user_config.json)
        /// checked against the bundle's final account root.
        #[arg(long, value_name = "USER.json")]
        user: Option<PathBuf>,
        /// With a liabilities bundle: check each Groth16 proof on its own instead of all at
        /// once (a random linear combination in one multi-pairing).
        #[arg(long)]
        each_proof: bool,
        /// With a liabilities bundle: a symbol and unit mapping file (docs/liabilities.md).
        #[arg(long, value_name = "FILE")]
        mapping: Option<PathBuf>,
    },
    /// Solvency: verified reserves against liabilities, asset by asset. The liabilities are a
    /// zk-SNARK bundle (verified: proven) or an `asset,net_liabilities` CSV (stated, not
    /// proven). Exit 0: SOLVENT; 1: INSOLVENT (an asset short) or the bundle FAILED; 2: an input
    /// could not be read or a node used; 3: UNPROVEN (covered, liabilities only stated).
    Solvency {
        /// Reserves files: snapshots, OKX or HTX files (repeat or list several).
        #[arg(long = "reserves", required = true, num_args = 1..)]
        reserves: Vec<PathBuf>,
        /// The liabilities: a bundle (.tar.gz or folder) or a totals CSV.
        #[arg(long, value_name = "BUNDLE_OR_TOTALS")]
        liabilities: PathBuf,
        /// A symbol and unit mapping file overriding the built-in table (docs/liabilities.md).
        #[arg(long, value_name = "FILE")]
        mapping: Option<PathBuf>,
        /// Print the report as JSON on stdout.
        #[arg(long)]
        json: bool,
        /// Also write the report as one self-contained HTML page.
        #[arg(long, value_name = "OUT.html")]
        html: Option<PathBuf>,
        /// Worker threads (default: one per core).
        #[arg(long, default_value_t = 0)]
        threads: usize,
        /// The auditor's nodes: only balances they confirm at the anchor count.
        #[command(flatten)]
        node: NodeArgs,
    },
    /// Export a snapshot to another publication format.
    Export {
        /// The target format.
        #[arg(long, value_enum)]
        format: ExportFormat,
        /// The snapshot file.
        snapshot: PathBuf,
        /// Output file (default: stdout); for bip322-proofs a directory (default: `.`).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Sign every address this device holds: check the device, have it derive and show each
    /// address, sign, verify, journal. Re-running the same command resumes.
    Sign {
        /// The ceremony manifest (TOML).
        #[arg(long)]
        manifest: PathBuf,
        /// sim, tcp:HOST:PORT (Speculos or `por-attest simulator`), hid or hid:SERIAL_OR_PATH.
        /// Not used for a pkcs11 or hwi signer: the manifest says where its token or device is.
        #[arg(long)]
        device: Option<String>,
        /// The journal (append-only; created if absent).
        #[arg(long)]
        journal: PathBuf,
        /// The manifest's signer this device is (default: found by master fingerprint).
        #[arg(long)]
        signer: Option<String>,
        /// What a prompt rejected on the device does.
        #[arg(long, value_enum, default_value = "stop")]
        on_reject: RejectChoice,
        /// Addresses of each account the device shows for you to compare (the first, the last
        /// and random ones); every address is compared on the host whatever this is.
        #[arg(long, default_value_t = por_attest::ceremony::DEFAULT_SHOW_ADDRESSES)]
        show_addresses: usize,
        /// Signatures asked at once: PKCS#11 sessions, AWS KMS requests in flight, command
        /// adapter processes (pkcs11, aws-kms and command signers only).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
        parallel: u16,
        /// An air-gapped signer (kind coldcard or psbt): the folder of its request and answer
        /// files (the SD card). Imports the answers there, writes requests for what is missing.
        #[arg(long, conflicts_with = "device")]
        files: Option<PathBuf>,
        /// With --files: the device's public-key export (coldcard-export.json, or
        /// [fingerprint/path]xpub lines); DIR/coldcard-export.json is read too.
        #[arg(long = "keys", requires = "files")]
        keys: Vec<PathBuf>,
    },
    /// Package the manifest and the journals into the snapshot file.
    Package {
        /// The ceremony manifest (TOML).
        #[arg(long)]
        manifest: PathBuf,
        /// Journals of every device run (repeat the flag).
        #[arg(long = "journal", required = true)]
        journals: Vec<PathBuf>,
        /// Where to write the snapshot.
        #[arg(long)]
        out: PathBuf,
        /// Publish addresses that lack signatures (they will fail verification).
        #[arg(long)]
        allow_unsigned: bool,
        /// `created_at` when the manifest has none (RFC 3339; default: now).
        #[arg(long)]
        created_at: Option<String>,
        /// Bitcoin addresses' coins at the anchor: a JSON object from address to its coins
        /// (docs/snapshot-format.md, "Coins"), written into their entries and account
        /// addresses.
        #[arg(long)]
        coins: Option<PathBuf>,
    },
    /// Read the coins each Bitcoin address of the manifest holds at its anchor from the
    /// custody team's own node (Bitcoin Core's scantxoutset, or Esplora), for `package
    /// --coins`. The node's tip must be the anchor block or past it (its blocks are then undone
    /// back to the anchor).
    Coins {
        /// The ceremony manifest (TOML).
        #[arg(long)]
        manifest: PathBuf,
        /// The node: BTC=URL (Bitcoin Core RPC; BTC=esplora+URL for Esplora). No credentials
        /// here: use --nodes.
        #[arg(long = "node", value_name = "CHAIN=URL")]
        nodes: Vec<String>,
        /// A TOML file of nodes (credentials from environment variables it names).
        #[arg(long = "nodes", value_name = "FILE")]
        nodes_file: Option<PathBuf>,
        /// Where to write the coins (JSON, by address).
        #[arg(long)]
        out: PathBuf,
    },
    /// Follow the reserves after publication: check the balances at the anchor on the nodes,
    /// then report every block's outflows and inflows per reserve address and asset, reorgs,
    /// and alerts, until SIGTERM or Ctrl-C (exit 0); --exit-on-alert exits 1 at the first alert.
    Watch(watch_cli::WatchArgs),
    /// Run a whole ceremony on simulated Ledgers, package and verify the snapshot.
    Demo {
        /// Number of reserve addresses.
        #[arg(long, default_value_t = 36)]
        addresses: usize,
        /// Spread the addresses over this many accounts (BTC P2WPKH, EVM, BTC 2-of-3 P2WSH,
        /// TRON, BTC P2TR, BTC P2SH-P2WPKH, ... in turn), each signed once per device.
        #[arg(long)]
        accounts: Option<usize>,
        /// Output directory (manifest, journals, snapshot).
        #[arg(long, default_value = "demo-out")]
        out: PathBuf,
    },
    /// List connected Ledgers (or probe the one named): which app is open and its version, the
    /// master fingerprint when the Bitcoin app is open, and what to do when a device is not
    /// ready. Exit 0: every device is ready; 1: some need attention; 2: none could be reached.
    Devices {
        /// Probe only this device: tcp:HOST:PORT, hid:SERIAL_OR_PATH (default: every Ledger on
        /// USB).
        #[arg(long)]
        device: Option<String>,
        /// Ask the dashboard to open this app first (confirm on the device).
        #[arg(long, value_enum)]
        open: Option<OpenApp>,
    },
    /// Coldcard (air-gapped, SD card): its key export as manifest rows, its multisig files.
    Coldcard {
        #[command(subcommand)]
        command: ColdcardCommand,
    },
    /// PKCS#11 hardware security modules (hot wallets).
    Hsm {
        #[command(subcommand)]
        command: HsmCommand,
    },
    /// AWS KMS keys (hot wallets).
    #[cfg(feature = "aws-kms")]
    Kms {
        #[command(subcommand)]
        command: por_attest::kms::KmsCommand,
    },
    /// Serve the simulated Ledger over TCP in Speculos framing until stopped.
    Simulator {
        /// Address to listen on (port 0: a free port; the bound address is printed on stderr).
        #[arg(long, default_value = "127.0.0.1:9999")]
        listen: std::net::SocketAddr,
        /// BIP-39 mnemonic of the simulated device (default: Speculos's test mnemonic).
        #[arg(long)]
        mnemonic: Option<String>,
    },
}

#[derive(Subcommand)]
enum ColdcardCommand {
    /// Manifest rows from the device's key export: its [[signers]] table and an [[accounts]]
    /// table per single-key account (multisig keys as cosigner entries to paste).
    Keys {
        /// Coldcard's "Generic JSON" export (coldcard-export.json) or a file of
        /// [fingerprint/path]xpub lines (repeat the flag).
        #[arg(long = "export")]
        exports: Vec<PathBuf>,
        /// A key origin [fingerprint/path]xpub (repeat the flag).
        #[arg(long = "key")]
        keys: Vec<String>,
        /// The manifest signer id written in the rows.
        #[arg(long, default_value = "coldcard-1")]
        signer: String,
        /// The address ranges each account claims.
        #[arg(long = "ranges", default_values_t = ["0/0-99".to_string()])]
        ranges: Vec<String>,
        /// Write the signer as kind `psbt` (any BIP-174 signer) instead of `coldcard`.
        #[arg(long)]
        psbt: bool,
    },
    /// Write Coldcard's multisig wallet file of every multisig wallet the signer cosigns in
    /// the manifest (Settings > Multisig Wallets > Import from File, before signing).
    Wallet {
        /// The ceremony manifest (TOML).
        #[arg(long)]
        manifest: PathBuf,
        /// The manifest's signer.
        #[arg(long)]
        signer: String,
        /// The folder to write the files into.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum HsmCommand {
    /// List the token's secp256k1 keys and the addresses each gives per chain and script type;
    /// with --csv, write manifest address rows (chain,address,script_type,path,signer,key).
    Keys {
        /// The token's PKCS#11 module library, e.g. /usr/lib/softhsm/libsofthsm2.so.
        #[arg(long)]
        module: PathBuf,
        /// The token's label.
        #[arg(
            long,
            required_unless_present = "token_serial",
            conflicts_with = "token_serial"
        )]
        token: Option<String>,
        /// The token's serial number (instead of --token).
        #[arg(long)]
        token_serial: Option<String>,
        /// The environment variable holding the user PIN.
        #[arg(long, default_value = "POR_ATTEST_PIN", conflicts_with = "pin_file")]
        pin_env: String,
        /// A file holding the user PIN (instead of --pin-env).
        #[arg(long)]
        pin_file: Option<PathBuf>,
        /// The manifest signer id written in the CSV rows.
        #[arg(long, default_value = "hsm-1")]
        signer: String,
        /// Write manifest address rows as CSV on stdout.
        #[arg(long)]
        csv: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let tty = std::io::stderr().is_terminal();
    match cli.command {
        Command::Verify {
            file,
            json,
            html,
            threads,
            format,
            allow_unsupported,
            node,
            user,
            each_proof,
            mapping,
        } => {
            if por_attest::input::is_bundle_path(&file) {
                let page = match html.as_deref().map(por_attest::html::PageFile::create) {
                    Some(Err(e)) => return fail(e),
                    p => p.and_then(Result::ok),
                };
                return match por_attest::solvency::verify_liabilities(
                    &file,
                    user.as_deref(),
                    threads,
                    each_proof,
                    mapping.as_deref(),
                ) {
                    Ok(r) => {
                        let code = emit(json, r.to_json(), r.to_human(), r.exit_code());
                        if let Some(page) = page {
                            let meta = por_attest::html::PageMeta {
                                tool: concat!("por-attest ", env!("CARGO_PKG_VERSION")).into(),
                                command: por_attest::html::reproduce_command(std::env::args()),
                            };
                            if let Err(e) =
                                page.write(&por_attest::html::render_liabilities(&r, &meta))
                            {
                                return fail(e);
                            }
                        }
                        code
                    }
                    Err(e) => fail(e),
                };
            }
            if user.is_some() {
                return fail(format!(
                    "--user: {} is not a liabilities bundle (a .tar.gz or its folder)",
                    file.display()
                ));
            }
            let (endpoints, node_opts) = match node.resolve(tty) {
                Ok(e) => e,
                Err(e) => return fail(e),
            };
            let on_chain = !endpoints.endpoints.is_empty();
            let page = match html.as_deref().map(por_attest::html::PageFile::create) {
                Some(Err(e)) => return fail(e),
                p => p.and_then(Result::ok),
            };
            let opts = por_attest::input::FileOptions {
                format: input_format(format),
                threads,
                progress: tty,
                allow_unsupported,
                claims: on_chain,
            };
            let result = por_attest::input::verify_file(&file, &opts);
            match result {
                Ok(mut report) => {
                    if on_chain {
                        if let Err(e) =
                            por_attest_reserves::check_on_chain(&mut report, &endpoints, &node_opts)
                        {
                            return fail(e);
                        }
                    }
                    if json {
                        println!("{}", report.to_json());
                    } else {
                        print!("{}", report.to_human());
                    }
                    let tool = concat!("por-attest ", env!("CARGO_PKG_VERSION"));
                    if let Some(Err(e)) =
                        page.map(|p| p.write_report(&report, tool, std::env::args()))
                    {
                        return fail(e);
                    }
                    ExitCode::from(report.exit_code() as u8)
                }
                Err(e) => fail(e),
            }
        }
        Command::Solvency {
            reserves,
            liabilities,
            mapping,
            json,
            html,
            threads,
            node,
        } => {
            let (endpoints, node_options) = match node.resolve(tty) {
                Ok(e) => e,
                Err(e) => return fail(e),
            };
            let args = por_attest::solvency::SolvencyArgs {
                reserves: &reserves,
                liabilities: &liabilities,
                mapping: mapping.as_deref(),
                threads,
                nodes: &endpoints,
                node_options,
            };
            let page = match html.as_deref().map(por_attest::html::PageFile::create) {
                Some(Err(e)) => return fail(e),
                p => p.and_then(Result::ok),
            };
            match por_attest::solvency::solvency(&args) {
                Ok(r) => {
                    let code = emit(json, r.to_json(), r.to_human(), r.exit_code());
                    if let Some(page) = page {
                        let meta = por_attest::html::PageMeta {
                            tool: concat!("por-attest ", env!("CARGO_PKG_VERSION")).into(),
                            command: por_attest::html::reproduce_command(std::env::args()),
                        };
                        if let Err(e) = page.write(&por_attest::html::render_solvency(&r, &meta)) {
                            return fail(e);
                        }
                    }
                    code
                }
                Err(e) => fail(e),
            }
        }
        Command::Export {
            format,
            snapshot,
            out,
        } => {
            let snap = match por_attest::snapshot::Snapshot::read(&snapshot) {
                Ok(s) => s,
                Err(e) => return fail(e),
            };
            if let ExportFormat::Bip322Proofs = format {
                return export_bip322_proofs(&snap, out);
            }
            let result = match &out {
                Some(p) => std::fs::File::create(p).and_then(|f| {
                    por_attest::okx::export_okx_csv(&snap, std::io::BufWriter::new(f))
                }),
                None => por_attest::okx::export_okx_csv(&snap, std::io::stdout().lock()),
            };
            match result {
                Ok(summary) => {
                    for s in &summary.skipped {
                        eprintln!(
                            "warning: not exported: entry {} {} {}: {}",
                            s.entry, s.chain, s.address, s.reason
                        );
                    }
                    if summary.accounts_skipped > 0 {
                        eprintln!(
                            "warning: not exported: {} account entr{} (OKX's layout has a signature per address; an account has one for all its addresses)",
                            summary.accounts_skipped,
                            if summary.accounts_skipped == 1 { "y" } else { "ies" }
                        );
                    }
                    eprintln!("exported {} row(s)", summary.written);
                    ExitCode::SUCCESS
                }
                Err(e) => fail(format!("export: {e}")),
            }
        }
        Command::Sign {
            manifest,
            device,
            journal,
            signer,
            on_reject,
            show_addresses,
            parallel,
            files,
            keys,
        } => {
            let resume = std::env::args()
                .map(|a| shell_quote(&a))
                .collect::<Vec<_>>()
                .join(" ");
            let m = match Manifest::load(&manifest) {
                Ok(m) => m,
                Err(e) => return fail(e),
            };
            if let Some(dir) = files {
                let code = por_attest::air_gapped_commands::sign_command(
                    &m, &journal, signer, dir, keys, &resume,
                );
                return ExitCode::from(code);
            }
            if let Some(s) = signer.as_deref().and_then(|id| m.signer(id)) {
                if let Some(kind) = por_attest::air_gapped::FileKind::of(s.kind) {
                    return fail(format!(
                        "signer `{}` is air-gapped (kind {}): it signs through files; run with --files DIR",
                        s.id,
                        kind.name()
                    ));
                }
            }
            let (mut device, device_is_simulator) =
                match open_device(&m, signer.as_deref(), device.as_deref()) {
                    Ok(d) => d,
                    Err(e) => return fail(e),
                };
            if !m.accounts.is_empty() {
                eprintln!(
                    "warning: this manifest attests {} account(s) by their extended public keys; \
                     publishing an extended public key reveals every address below it, past and \
                     future, not only the listed ones: use dedicated reserve accounts (see \
                     docs/snapshot-format.md)",
                    m.accounts.len()
                );
            }
            let interrupt = Arc::new(AtomicBool::new(false));
            let flag = interrupt.clone();
            let _ = ctrlc::set_handler(move || {
                if flag.swap(true, Ordering::SeqCst) {
                    eprintln!("\nsecond Ctrl-C: exiting now; the journal is consistent");
                    std::process::exit(130);
                }
                eprintln!("\nCtrl-C: stopping after the current prompt (Ctrl-C again to exit now)");
            });
            let opts = SignOptions {
                signer,
                on_reject: match on_reject {
                    RejectChoice::Stop => OnReject::Stop,
                    RejectChoice::Continue => OnReject::Continue,
                },
                progress: tty,
                interrupt: Some(interrupt),
                device_is_simulator,
                resume_command: Some(resume),
                show_addresses: Some(show_addresses),
                parallel: usize::from(parallel),
            };
            let result = sign_with(&m, &journal, device.as_mut(), &opts);
            let confirmations = device.confirmations();
            let code = match result {
                Ok(s) => {
                    for w in &s.warnings {
                        eprintln!("warning: {w}");
                    }
                    for u in &s.unsupported {
                        eprintln!("not signed: {u}");
                    }
                    println!(
                        "signer {}: {} signed now, {} already in the journal, {} rejected, {} of {} done; journal {}",
                        s.signer,
                        s.signed_now,
                        s.already,
                        s.rejected,
                        s.signed_now + s.already,
                        s.tasks,
                        journal.display()
                    );
                    if s.rejected > 0 || !s.unsupported.is_empty() {
                        ExitCode::from(1)
                    } else {
                        ExitCode::SUCCESS
                    }
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(match e {
                        CeremonyError::Interrupted { .. } => 130,
                        _ if e.is_resumable() => 3,
                        _ => 2,
                    })
                }
            };
            println!("confirmations: {confirmations}");
            code
        }
        Command::Watch(args) => watch_cli::run(args),
        Command::Coins {
            manifest,
            nodes,
            nodes_file,
            out,
        } => {
            let m = match Manifest::load(&manifest) {
                Ok(m) => m,
                Err(e) => return fail(e),
            };
            let endpoints = match node_endpoints(&nodes, nodes_file.as_deref()) {
                Ok(e) => e,
                Err(e) => return fail(e),
            };
            match read_coins(&m, &endpoints) {
                Ok(coins) => {
                    let text = serde_json::to_string_pretty(&coins).expect("coins serialize");
                    if let Err(e) = std::fs::write(&out, text + "\n") {
                        return fail(format!("{}: cannot write: {e}", out.display()));
                    }
                    let n: usize = coins.values().map(Vec::len).sum();
                    let sat: u64 = coins.values().flatten().map(|c| c.amount_sat).sum();
                    println!(
                        "{n} coins of {} addresses, {sat} sat, written to {}",
                        coins.len(),
                        out.display()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
        Command::Package {
            manifest,
            journals,
            out,
            allow_unsigned,
            created_at,
            coins,
        } => {
            let m = match Manifest::load(&manifest) {
                Ok(m) => m,
                Err(e) => return fail(e),
            };
            let coins = match coins.map(|p| por_attest::package::read_coins_file(&p)) {
                None => Default::default(),
                Some(Ok(c)) => c,
                Some(Err(e)) => return fail(e),
            };
            let opts = PackageOptions {
                allow_unsigned,
                created_at,
                coins,
            };
            match package(&m, &journals, &opts) {
                Ok(p) => {
                    for w in &p.warnings {
                        eprintln!("warning: {w}");
                    }
                    if !p.unsigned.is_empty() {
                        eprintln!(
                            "publishing {} address(es) without their signatures:\n{}",
                            p.unsigned.len(),
                            p.unsigned.join("\n")
                        );
                    }
                    if let Err(e) = std::fs::write(&out, p.snapshot.to_file_bytes()) {
                        return fail(format!("{}: {e}", out.display()));
                    }
                    println!(
                        "wrote {} ({} entries), digest {}",
                        out.display(),
                        p.snapshot.entries.len(),
                        por_attest::snapshot::format_digest(&p.snapshot.digest())
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
        Command::Demo {
            addresses,
            accounts,
            out,
        } => match por_attest::demo::run_demo_with(&out, addresses, accounts, tty) {
            Ok(d) => {
                for s in &d.summaries {
                    println!(
                        "signed on {}: {} signatures ({} tasks)",
                        s.signer, s.signed_now, s.tasks
                    );
                }
                let secs = d.sign_time.as_secs_f64();
                let accounts: usize = d.summaries.iter().map(|s| s.accounts).sum();
                let how = if accounts > 0 {
                    "each account's key exported, all its addresses derived and compared, a few shown on the device, one message signed, verified and journaled"
                } else {
                    "each derived and shown on the device, verified and journaled"
                };
                println!(
                    "ceremony: {} signatures in {:.2} s ({:.0} signatures/s), {how}",
                    d.signatures,
                    secs,
                    d.signatures as f64 / secs.max(1e-9)
                );
                println!("confirmations: {}", d.confirmations);
                println!("manifest {}", d.manifest.display());
                println!("snapshot {} digest {}", d.snapshot.display(), d.digest);
                print!("{}", d.report.to_human());
                ExitCode::from(d.report.exit_code() as u8)
            }
            Err(e) => fail(e),
        },
        Command::Devices { device, open } => {
            let spec: Option<DeviceSpec> = match device.map(|d| d.parse()).transpose() {
                Ok(s) => s,
                Err(e) => return fail(e),
            };
            let open = open.map(|o| match o {
                OpenApp::Bitcoin => por_attest::signers::AppKind::Bitcoin,
                OpenApp::Ethereum => por_attest::signers::AppKind::Ethereum,
                OpenApp::Tron => por_attest::signers::AppKind::Tron,
            });
            match por_attest::devices::list_devices(spec.as_ref(), open) {
                Ok(infos) => {
                    for i in &infos {
                        print!("{}", i.to_human());
                    }
                    if infos.iter().all(|i| i.ready) {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::from(1)
                    }
                }
                Err(e) => fail(e),
            }
        }
        Command::Coldcard { command } => ExitCode::from(match command {
            ColdcardCommand::Keys {
                exports,
                keys,
                signer,
                ranges,
                psbt,
            } => {
                let kind = match psbt {
                    true => por_attest::air_gapped::FileKind::Psbt,
                    false => por_attest::air_gapped::FileKind::Coldcard,
                };
                por_attest::air_gapped_commands::keys_command(
                    &exports, &keys, &signer, kind, &ranges,
                )
            }
            ColdcardCommand::Wallet {
                manifest,
                signer,
                out,
            } => match Manifest::load(&manifest) {
                Ok(m) => por_attest::air_gapped_commands::wallet_command(&m, &signer, &out),
                Err(e) => {
                    eprintln!("error: {e}");
                    2
                }
            },
        }),
        Command::Hsm {
            command:
                HsmCommand::Keys {
                    module,
                    token,
                    token_serial,
                    pin_env,
                    pin_file,
                    signer,
                    csv,
                },
        } => {
            let opts = por_attest::hsm::KeysOptions {
                module,
                token: match (token, token_serial) {
                    (Some(label), _) => por_attest::pkcs11::TokenRef::Label(label),
                    (None, Some(serial)) => por_attest::pkcs11::TokenRef::Serial(serial),
                    (None, None) => unreachable!("clap requires --token or --token-serial"),
                },
                pin: match pin_file {
                    Some(f) => por_attest::pkcs11::PinSource::File(f),
                    None => por_attest::pkcs11::PinSource::Env(pin_env),
                },
            };
            let network = por_attest::chains::Network::Mainnet;
            match por_attest::hsm::list_keys(&opts) {
                Ok(listing) => {
                    por_attest::hsm::print_listing(
                        &listing.skipped,
                        csv,
                        || listing.to_csv(&signer, network),
                        || listing.to_human(network),
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            }
        }
        #[cfg(feature = "aws-kms")]
        Command::Kms { command } => por_attest::kms::run(command),
        Command::Simulator { listen, mnemonic } => {
            let config = match mnemonic {
                Some(m) => SimulatorConfig::with_mnemonic(&m),
                None => SimulatorConfig::default(),
            };
            let announce = |bound| {
                eprintln!(
                    "simulated Ledger listening on {bound} (Speculos APDU framing); Ctrl-C stops"
                )
            };
            match serve_tcp(listen, config, announce) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(e),
            }
        }
    }
}

/// The device `sign` drives: the manifest's pkcs11 token for a pkcs11 signer, its key service
/// for an aws-kms or command signer, else the Ledger
/// (or simulator) `--device` names; and whether it is the built-in simulator.
fn open_device(
    manifest: &Manifest,
    signer: Option<&str>,
    device: Option<&str>,
) -> Result<(Box<dyn por_attest::signer::Signer>, bool), String> {
    if let Some(s) = signer
        .and_then(|id| manifest.signer(id))
        .filter(|s| s.hwi.is_some())
    {
        return open_hwi(manifest, &s.id, device);
    }
    if let Some(s) = signer
        .and_then(|id| manifest.signer(id))
        .filter(|s| s.service.is_some())
    {
        return por_attest::key_services::open(s, device).map(|d| (d, false));
    }
    let hsm = signer
        .and_then(|id| manifest.signer(id))
        .and_then(|s| Some((s.id.as_str(), s.pkcs11.as_ref()?)));
    match (hsm, device) {
        (Some((id, config)), None) => por_attest::signers::Pkcs11Signer::open(config)
            .map(|s| (Box::new(s) as Box<dyn por_attest::signer::Signer>, false))
            .map_err(|e| format!("signer `{id}`: {e}; nothing was signed")),
        (Some((id, _)), Some(d)) => Err(format!(
            "signer `{id}` is a pkcs11 HSM: the manifest says where its token is, so --device {d} is not used; drop it"
        )),
        (None, Some(d)) => {
            let spec: DeviceSpec = d.parse()?;
            let opened = open_signer(&spec).map_err(|e| e.to_string())?;
            Ok((opened, spec.is_simulator()))
        }
        (None, None) => Err(
            "--device is required for a Ledger signer (sim, tcp:HOST:PORT, hid or hid:SERIAL_OR_PATH); a pkcs11, hwi, aws-kms or command signer is named with --signer ID and needs none; a coldcard or psbt signer signs through --files DIR".into(),
        ),
    }
}

/// The library's input format of the `--format` choice.
fn input_format(f: InputFormat) -> por_attest::input::InputFormat {
    match f {
        InputFormat::Auto => por_attest::input::InputFormat::Auto,
        InputFormat::Snapshot => por_attest::input::InputFormat::Snapshot,
        InputFormat::OkxCsv => por_attest::input::InputFormat::OkxCsv,
        InputFormat::HtxCsv => por_attest::input::InputFormat::HtxCsv,
    }
}

/// The manifest's `hwi` signer `id`: HWI finds the device the manifest names.
fn open_hwi(
    manifest: &Manifest,
    id: &str,
    device: Option<&str>,
) -> Result<(Box<dyn por_attest::signer::Signer>, bool), String> {
    use por_attest::signers::hwi::{HwiMode, HwiSigner};
    if let Some(d) = device {
        return Err(format!(
            "signer `{id}` is an hwi signer: the manifest says how HWI finds the device, so --device {d} is not used; drop it"
        ));
    }
    let signer = HwiSigner::open(manifest, id, HwiMode::Auto)
        .map_err(|e| format!("signer `{id}`: {e}; nothing was signed"))?;
    eprintln!("signer `{id}`: HWI, {}", signer.describe());
    Ok((Box::new(signer), false))
}

/// The nodes of `--node CHAIN=URL` and `--nodes FILE`.
fn node_endpoints(
    args: &[String],
    file: Option<&std::path::Path>,
) -> Result<por_attest_reserves::Nodes, por_attest_reserves::NodeError> {
    let mut endpoints = por_attest_reserves::Nodes::default();
    for n in args {
        endpoints.add_arg(n)?;
    }
    if let Some(f) = file {
        endpoints.add_file(f)?;
    }
    Ok(endpoints)
}

/// The coins of the manifest's Bitcoin addresses (and its accounts' listed ones) at their
/// chain's anchor, from that chain's node.
fn read_coins(
    m: &Manifest,
    endpoints: &por_attest_reserves::Nodes,
) -> Result<por_attest_reserves::coins::CoinsByAddress, String> {
    use por_attest::chains::ChainFamily;
    let mut by_chain: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
    for a in m
        .addresses
        .iter()
        .filter(|a| a.family == ChainFamily::Bitcoin)
    {
        by_chain
            .entry(&a.chain)
            .or_default()
            .push(a.address.clone());
    }
    for acc in m
        .accounts
        .iter()
        .filter(|a| a.family == ChainFamily::Bitcoin)
    {
        let listed = acc.addresses.iter().filter_map(|a| a.address.clone());
        by_chain.entry(&acc.chain).or_default().extend(listed);
    }
    if by_chain.is_empty() {
        return Err(format!(
            "{}: no Bitcoin address to read coins for",
            m.file.display()
        ));
    }
    let mut out = por_attest_reserves::coins::CoinsByAddress::new();
    for (chain, addresses) in by_chain {
        let e = endpoints
            .endpoints
            .get(&chain.to_ascii_uppercase())
            .ok_or_else(|| format!("no node given for chain {chain} (--node {chain}=URL)"))?;
        let anchor = m
            .anchor(chain)
            .expect("every chain has an anchor (checked on load)");
        let coins = por_attest_reserves::coins::coins_at_anchor(
            e,
            &addresses,
            anchor,
            por_attest_reserves::Policy::default(),
        )
        .map_err(|e| e.to_string())?;
        out.extend(coins);
    }
    Ok(out)
}

fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(2)
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// `export --format bip322-proofs`: one bip322-audit proofs document per address into `out`.
fn export_bip322_proofs(snap: &por_attest::snapshot::Snapshot, out: Option<PathBuf>) -> ExitCode {
    let export = por_attest::bip322_proofs::export_bip322_proofs(snap);
    let dir = out.unwrap_or_else(|| PathBuf::from("."));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return fail(format!("export: {}: {e}", dir.display()));
    }
    for s in &export.skipped {
        eprintln!(
            "warning: not exported: entry {} {} {}: {}",
            s.entry, s.chain, s.address, s.reason
        );
    }
    for d in &export.documents {
        let path = dir.join(&d.file_name);
        let text = serde_json::to_string_pretty(&d.document).expect("JSON values print");
        if let Err(e) = std::fs::write(&path, text + "\n") {
            return fail(format!("export: {}: {e}", path.display()));
        }
    }
    eprintln!(
        "exported {} proofs document(s) into {}",
        export.documents.len(),
        dir.display()
    );
    ExitCode::SUCCESS
}
