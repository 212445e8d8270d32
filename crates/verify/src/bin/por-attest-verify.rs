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
       por-attest-verify BUNDLE [--json] [--threads N] [--user USER.json] [--each-proof] [--mapping FILE]

Verify a published Proof-of-Reserves snapshot or an exchange's address file, offline; or an
exchange's zk-SNARK liabilities bundle (Gate's zkmerkle .tar.gz or its folder: every batch's
Groth16 proof, the chain of batches, the published totals), with a user's inclusion proof.
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
    /// A liabilities bundle's user inclusion file.
    user: Option<PathBuf>,
    /// Check each proof of a bundle on its own.
    each_proof: bool,
    /// A symbol and unit mapping file for a bundle's report.
    mapping: Option<PathBuf>,
}

fn parse_args() -> Result<Option<Args>, lexopt::Error> {
    use lexopt::prelude::*;
    let mut parser = lexopt::Parser::from_env();
    let mut file = None;
    let mut json = false;
    let mut html = None;
    let (mut user, mut each_proof, mut mapping) = (None, false, None);
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
            Long("user") => user = Some(PathBuf::from(parser.value()?)),
            Long("each-proof") => each_proof = true,
            Long("mapping") => mapping = Some(PathBuf::from(parser.value()?)),
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
        user,
        each_proof,
        mapping,
    }))
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
    if por_attest_verify::input::is_bundle_path(&args.file) {
        return verify_bundle(&args);
    }
    if args.user.is_some() {
        eprintln!(
            "error: --user: {} is not a liabilities bundle (a .tar.gz or its folder)",
            args.file.display()
        );
        return ExitCode::from(2);
    }
    let page = match args.html.as_deref().map(PageFile::create).transpose() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match verify_file(&args.file, &args.opts) {
        Ok(report) => {
            let code = emit(
                args.json,
                report.to_json(),
                report.to_human(),
                report.exit_code(),
            );
            if let Some(page) = page {
                if let Err(e) = page.write_report(&report, TOOL, std::env::args()) {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            }
            code
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// A liabilities bundle (and a user's inclusion proof): the liabilities report and its exit
/// status.
#[cfg(feature = "liabilities")]
fn verify_bundle(args: &Args) -> ExitCode {
    use por_attest_verify::liabilities::{self, batch::Method, mapping::Mapping};
    let opts = liabilities::BundleOptions {
        threads: args.opts.threads,
        method: if args.each_proof {
            Method::Each
        } else {
            Method::Batch
        },
    };
    let run = || {
        let mapping = Mapping::load(args.mapping.as_deref())?;
        liabilities::verify_bundle_and_user(&args.file, args.user.as_deref(), &opts, &mapping)
    };
    let page = match args.html.as_deref().map(PageFile::create).transpose() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match run() {
        Ok(report) => {
            let code = emit(
                args.json,
                report.to_json(),
                report.to_human(),
                report.exit_code(),
            );
            if let Some(page) = page {
                let meta = por_attest_verify::html::PageMeta {
                    tool: TOOL.into(),
                    command: por_attest_verify::html::reproduce_command(std::env::args()),
                };
                if let Err(e) =
                    page.write(&por_attest_verify::html::render_liabilities(&report, &meta))
                {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            }
            code
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Without the `liabilities` feature a bundle is refused with what to build.
#[cfg(not(feature = "liabilities"))]
fn verify_bundle(args: &Args) -> ExitCode {
    let _ = (&args.user, args.each_proof, &args.mapping, &args.html);
    eprintln!(
        "error: {}: a liabilities bundle (a folder or .tar.gz); this build has no liabilities \
         support: build with `--features liabilities` (por-attest has it)",
        args.file.display()
    );
    ExitCode::from(2)
}
