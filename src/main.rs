//! The `por-attest` command line.

use clap::{Parser, Subcommand, ValueEnum};
use por_attest::verify::{verify_snapshot_file, VerifyOptions};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

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
}

#[derive(Subcommand)]
enum Command {
    /// Verify a published snapshot offline. Exit 0: every entry verified; 1: any entry failed;
    /// 2: the file could not be read or understood.
    Verify {
        /// The snapshot file.
        file: PathBuf,
        /// Print the report as JSON on stdout.
        #[arg(long)]
        json: bool,
        /// Worker threads (default: one per core).
        #[arg(long, default_value_t = 0)]
        threads: usize,
        /// The input format.
        #[arg(long, value_enum, default_value = "auto")]
        format: InputFormat,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Verify {
            file,
            json,
            threads,
            format: _,
        } => {
            let opts = VerifyOptions {
                threads,
                progress: std::io::stderr().is_terminal(),
            };
            match verify_snapshot_file(&file, &opts) {
                Ok(report) => {
                    if json {
                        println!("{}", report.to_json());
                    } else {
                        print!("{}", report.to_human());
                    }
                    ExitCode::from(report.exit_code() as u8)
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
            }
        }
    }
}
