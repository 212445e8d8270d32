//! `por-attest-verify`: the auditor's verifier on its own (the same checks and report as
//! `por-attest verify`, built from this crate alone: no USB, no device drivers, no signing).

use por_attest_verify::html::PageFile;
use por_attest_verify::input::{verify_file, FileOptions, InputFormat};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

const TOOL: &str = concat!("por-attest-verify ", env!("CARGO_PKG_VERSION"));

const USAGE: &str = "\
usage: por-attest-verify FILE [--json] [--html OUT.html] [--threads N] [--format auto|snapshot|okx-csv|htx-csv] [--allow-unsupported]

Verify a published Proof-of-Reserves snapshot or an exchange's address file, offline.
Exit 0: VERIFIED (every entry verified); 1: FAILED (an entry, account, total or the file
failed); 2: the file could not be read or understood; 3: INCOMPLETE (nothing failed, but some
entries are unsupported or unsigned; 0 with --allow-unsupported).
--html OUT.html also writes the report as one self-contained page (no script, nothing fetched).
Balances against the auditor's own node: `por-attest verify --node CHAIN=URL`.";

struct Args {
    file: PathBuf,
    json: bool,
    html: Option<PathBuf>,
    opts: FileOptions,
}

fn parse_args() -> Result<Option<Args>, lexopt::Error> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_env();
    let mut file = None;
    let mut json = false;
    let mut html = None;
    let mut opts = FileOptions {
        format: InputFormat::Auto,
        threads: 0,
        progress: std::io::stderr().is_terminal(),
        allow_unsupported: false,
        claims: false,
    };
    while let Some(arg) = parser.next()? {
        match arg {
            Long("json") => json = true,
            Long("html") => html = Some(PathBuf::from(parser.value()?)),
            Long("allow-unsupported") => opts.allow_unsupported = true,
            Long("threads") => opts.threads = parser.value()?.parse()?,
            Long("format") => {
                let name = parser.value()?.string()?;
                opts.format = InputFormat::from_name(&name).ok_or_else(|| {
                    format!("unknown format `{name}` (auto, snapshot, okx-csv or htx-csv)")
                })?;
            }
            Short('h') | Long("help") => return Ok(None),
            Value(v) if file.is_none() => file = Some(PathBuf::from(v)),
            _ => return Err(arg.unexpected()),
        }
    }
    let file = file.ok_or("missing the FILE to verify")?;
    Ok(Some(Args {
        file,
        json,
        html,
        opts,
    }))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(Some(a)) => a,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let page = match args.html.as_deref().map(PageFile::create).transpose() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match verify_file(&args.file, &args.opts) {
        Ok(report) => {
            if args.json {
                println!("{}", report.to_json());
            } else {
                print!("{}", report.to_human());
            }
            if let Some(page) = page {
                if let Err(e) = page.write_report(&report, TOOL, std::env::args()) {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            }
            ExitCode::from(report.exit_code() as u8)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
