//! `por-attest watch`: the command line of the reserves watcher (`por_attest_reserves::watch`).

use por_attest_reserves::watch::{percent, table, watch, Event, Stopped, Wallets, WatchOptions};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// `watch`'s arguments.
#[derive(clap::Args)]
pub struct WatchArgs {
    /// The snapshot (or an OKX / HTX file whose rows carry balances).
    file: PathBuf,
    /// The input format.
    #[arg(long, value_enum, default_value = "auto")]
    format: crate::InputFormat,
    /// A node to follow: CHAIN=URL (repeatable; EVM JSON-RPC over http(s), Bitcoin Core RPC,
    /// or BTC=esplora+URL). No credentials here: use --nodes.
    #[arg(long = "node", value_name = "CHAIN=URL")]
    nodes: Vec<String>,
    /// A TOML file of nodes (credentials from environment variables it names) and tokens.
    #[arg(long = "nodes", value_name = "FILE")]
    nodes_file: Option<PathBuf>,
    /// One JSON object per line (field `event`: start, block, outflow, inflow, reorg, alert,
    /// node_error).
    #[arg(long)]
    json: bool,
    /// Seconds between polls of a node with nothing new.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    poll: f64,
    /// Alert when an asset's total falls below the snapshot's by more than PERCENT.
    #[arg(long, value_name = "PERCENT")]
    alert_drop: Option<String>,
    /// Exit with status 1 at the first alert.
    #[arg(long)]
    exit_on_alert: bool,
    /// Alert when a node has not answered or not advanced for this many seconds.
    #[arg(long, default_value_t = 1800.0, value_name = "SECONDS")]
    stall: f64,
    /// Blocks kept for undoing a reorg.
    #[arg(long, default_value_t = 128)]
    keep_blocks: usize,
    /// JSON-RPC calls per HTTP request.
    #[arg(long, default_value_t = 500)]
    node_batch: usize,
    /// HTTP requests in flight per node.
    #[arg(long, default_value_t = 4)]
    node_concurrency: usize,
}

fn seconds(what: &str, s: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(s).map_err(|_| format!("--{what} {s}: not a number of seconds"))
}

/// Runs `watch`: exit 0 on SIGTERM / Ctrl-C, 1 at the first alert with --exit-on-alert, 2 when
/// the file or the node configuration cannot be used.
pub fn run(a: WatchArgs) -> ExitCode {
    let nodes = match crate::node_endpoints(&a.nodes, a.nodes_file.as_deref()) {
        Ok(n) if n.endpoints.is_empty() => {
            return crate::fail("watch needs at least one --node CHAIN=URL (or --nodes FILE)")
        }
        Ok(n) => n,
        Err(e) => return crate::fail(e),
    };
    let alert_drop = match a.alert_drop.as_deref().map(percent) {
        None => None,
        Some(Ok(p)) => Some(p),
        Some(Err(e)) => return crate::fail(format!("--alert-drop: {e}")),
    };
    let (poll, stall) = match (seconds("poll", a.poll), seconds("stall", a.stall)) {
        (Ok(p), Ok(s)) => (p, s),
        (Err(e), _) | (_, Err(e)) => return crate::fail(e),
    };
    let opts = por_attest::input::FileOptions {
        format: crate::input_format(a.format),
        threads: 0,
        progress: std::io::stderr().is_terminal() && !a.json,
        allow_unsupported: true,
        claims: true,
    };
    let report = match por_attest::input::verify_file(&a.file, &opts) {
        Ok(r) => r,
        Err(e) => return crate::fail(e),
    };
    // The wallet labels a snapshot gives its entries (`wallet = "cold"` in the manifest).
    let mut wallets = Wallets::new();
    if report.format == por_attest::snapshot::FORMAT_TAG {
        if let Ok(s) = por_attest::snapshot::Snapshot::read(&a.file) {
            for e in s.entries {
                if let Some(w) = e.wallet {
                    wallets.insert((e.chain, e.address), w);
                }
            }
        }
    }
    let watch_opts = WatchOptions {
        poll,
        alert_drop,
        stall,
        keep: a.keep_blocks,
        batch: a.node_batch,
        concurrency: a.node_concurrency,
        ..WatchOptions::default()
    };
    let (json, exit_on_alert) = (a.json, a.exit_on_alert);
    let mut sink = |e: Event| {
        if json {
            println!("{}", e.to_json());
        } else {
            println!("{}", e.to_human());
            if let Event::Start { check, .. } = &e {
                for p in check["problems"].as_array().into_iter().flatten() {
                    println!(
                        "  {} {}: {}",
                        p["status"].as_str().unwrap_or(""),
                        p["address"].as_str().unwrap_or(""),
                        p["reason"].as_str().unwrap_or("")
                    );
                }
            }
            let changed = match &e {
                Event::Block { movements, .. } => *movements > 0,
                Event::Start { .. } | Event::Reorg { .. } => true,
                _ => false,
            };
            if let (true, Some(t)) = (changed, e.totals()) {
                print!("{}", table(e.chain(), t));
            }
        }
        !(exit_on_alert && matches!(e, Event::Alert { .. }))
    };
    match watch(report, &wallets, &nodes, &watch_opts, &mut sink) {
        Ok(Stopped::Sink) => ExitCode::from(1),
        Ok(Stopped::Signal | Stopped::Done) => ExitCode::SUCCESS,
        Err(e) => crate::fail(e),
    }
}
