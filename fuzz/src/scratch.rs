//! A scratch directory for targets whose parsers read files (one per process, in memory when
//! `/dev/shm` exists).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        // `scripts/fuzz` names a folder it removes afterwards (libFuzzer exits without
        // running destructors).
        let shm = Path::new("/dev/shm");
        let base = match std::env::var_os("POR_ATTEST_FUZZ_SCRATCH") {
            Some(d) => PathBuf::from(d),
            None if shm.is_dir() => shm.to_path_buf(),
            None => std::env::temp_dir(),
        };
        tempfile::Builder::new()
            .prefix("por-attest-fuzz-")
            .tempdir_in(base)
            .expect("a scratch directory")
    })
    .path()
}

/// Writes `data` to the scratch file `name` (replacing it) and returns its path.
pub fn write(name: &str, data: &[u8]) -> PathBuf {
    let p = dir().join(name);
    std::fs::write(&p, data).expect("write a scratch file");
    p
}

/// The path of scratch file `name`, removed if it exists.
pub fn fresh(name: &str) -> PathBuf {
    let p = dir().join(name);
    let _ = std::fs::remove_file(&p);
    p
}

/// The scratch directory.
pub fn path() -> &'static Path {
    dir()
}
