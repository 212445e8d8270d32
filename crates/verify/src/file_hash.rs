//! The SHA-256 of a file's bytes as published: what an exchange file is identified by (it has
//! no digest of its own, unlike a snapshot, whose digest covers its canonical content).

use crate::error::InputError;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::Path;

/// `sha256:` and the hex SHA-256 of the bytes of the file at `path`.
pub fn file_sha256(path: &Path) -> Result<String, InputError> {
    let mut f = std::fs::File::open(path).map_err(|e| InputError::new(path, e.to_string()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| InputError::new(path, e.to_string()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(format!("sha256:{}", hex::encode(h.finalize())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_of_known_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"abc").unwrap();
        assert_eq!(
            file_sha256(&p).unwrap(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(file_sha256(&dir.path().join("none")).is_err());
    }
}
