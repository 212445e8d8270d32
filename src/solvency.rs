//! The liabilities commands' edges: `verify BUNDLE [--user USER.json]` and `solvency`, reading
//! the files, verifying the reserves (and asking the auditor's nodes when given), then handing
//! everything to the verifier's pure checks (`por_attest_verify::liabilities`).

use crate::input::{verify_file, FileOptions, InputFormat};
use por_attest_verify::liabilities::batch::Method;
use por_attest_verify::liabilities::mapping::Mapping;
use por_attest_verify::liabilities::report::LiabilitiesReport;
use por_attest_verify::liabilities::solvency::{
    created_at_of, join, parse_totals, Liabilities, Reserves, SolvencyReport,
};
use por_attest_verify::liabilities::{looks_like_bundle, verify_bundle_and_user, BundleOptions};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Verifies a liabilities bundle, and a user's inclusion file against it when given.
pub fn verify_liabilities(
    bundle: &Path,
    user: Option<&Path>,
    threads: usize,
    each_proof: bool,
    mapping: Option<&Path>,
) -> Result<LiabilitiesReport, String> {
    let opts = BundleOptions {
        threads,
        method: if each_proof {
            Method::Each
        } else {
            Method::Batch
        },
    };
    let mapping = Mapping::load(mapping).map_err(|e| e.to_string())?;
    verify_bundle_and_user(bundle, user, &opts, &mapping).map_err(|e| e.to_string())
}

/// What `solvency` is given.
pub struct SolvencyArgs<'a> {
    /// Reserves files (snapshots, OKX or HTX files).
    pub reserves: &'a [PathBuf],
    /// A liabilities bundle or a totals CSV.
    pub liabilities: &'a Path,
    /// The mapping file.
    pub mapping: Option<&'a Path>,
    /// Worker threads (0: one per core).
    pub threads: usize,
    /// The auditor's nodes (empty: none).
    pub nodes: &'a por_attest_reserves::Nodes,
    /// How to ask them.
    pub node_options: por_attest_reserves::NodeOptions,
}

/// Verifies the reserves (on the nodes too when given) and the liabilities, and joins them.
pub fn solvency(args: &SolvencyArgs) -> Result<SolvencyReport, String> {
    let mapping = Mapping::load(args.mapping).map_err(|e| e.to_string())?;
    let on_chain = !args.nodes.endpoints.is_empty();
    let mut reports = Vec::new();
    for file in args.reserves {
        let opts = FileOptions {
            format: InputFormat::Auto,
            threads: args.threads,
            progress: false,
            allow_unsupported: false,
            claims: on_chain,
        };
        let mut report = verify_file(file, &opts).map_err(|e| e.to_string())?;
        if on_chain {
            por_attest_reserves::check_on_chain(&mut report, args.nodes, &args.node_options)
                .map_err(|e| e.to_string())?;
        }
        let mut head = vec![0u8; 4096];
        let n = std::fs::File::open(file)
            .and_then(|mut f| f.read(&mut head))
            .unwrap_or(0);
        reports.push((report, created_at_of(&head[..n])));
    }
    let bundle;
    let liabilities = if looks_like_bundle(args.liabilities) {
        let opts = BundleOptions {
            threads: args.threads,
            method: Method::Batch,
        };
        bundle = verify_bundle_and_user(args.liabilities, None, &opts, &mapping)
            .map_err(|e| e.to_string())?;
        Liabilities::Proven(&bundle)
    } else {
        let file = args.liabilities.display().to_string();
        let text = std::fs::read_to_string(args.liabilities)
            .map_err(|e| format!("{file}: cannot read: {e}"))?;
        Liabilities::Stated {
            lines: parse_totals(&text, &file).map_err(|e| e.to_string())?,
            file,
        }
    };
    let reserves: Vec<Reserves> = reports
        .iter()
        .map(|(report, time)| Reserves {
            report,
            time: time.clone(),
            node_checked: on_chain,
        })
        .collect();
    Ok(join(&reserves, &liabilities, &mapping))
}
