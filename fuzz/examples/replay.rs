//! Runs fuzz targets on stable over files, without libFuzzer: `cargo run --example replay --
//! TARGET PATH...` (files, or folders of files). With `--all DIR`, every target over
//! `DIR/TARGET/`. Prints one line per target (inputs run); a failing input panics with its
//! path first.

use std::path::{Path, PathBuf};

fn files(p: &Path) -> Vec<PathBuf> {
    if p.is_dir() {
        let mut v: Vec<PathBuf> = std::fs::read_dir(p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        v.sort();
        v
    } else {
        vec![p.to_path_buf()]
    }
}

fn run(name: &str, f: fn(&[u8]), paths: &[PathBuf]) {
    let mut n = 0;
    for p in paths.iter().flat_map(|p| files(p)) {
        let data = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        eprintln!("{name}: {}", p.display());
        f(&data);
        n += 1;
    }
    println!("{name}: {n} inputs ok");
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [flag, dir] if flag == "--all" => {
            for (name, f) in por_attest_fuzz::TARGETS {
                let d = Path::new(dir).join(name);
                if d.is_dir() {
                    run(name, *f, &[d]);
                }
            }
        }
        [name, paths @ ..] if !paths.is_empty() => {
            let f = por_attest_fuzz::target(name).unwrap_or_else(|| {
                let names: Vec<&str> = por_attest_fuzz::TARGETS.iter().map(|t| t.0).collect();
                panic!("no target `{name}`; targets: {}", names.join(" "))
            });
            let paths: Vec<PathBuf> = paths.iter().map(PathBuf::from).collect();
            run(name, f, &paths);
        }
        _ => {
            eprintln!("usage: replay TARGET PATH... | replay --all CORPUS_DIR");
            std::process::exit(2);
        }
    }
}
