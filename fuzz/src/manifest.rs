//! Manifests: the TOML, the address CSV it may point to, and their writers.

use crate::scratch;
use por_attest::manifest::Manifest;

/// The CSV name a fuzzed manifest may point to (others are not read: a manifest naming any
/// file would make the fuzzer read the machine's files).
const CSV: &str = "addresses.csv";

/// `TOML \0 CSV`: loading never panics; a manifest that loads writes TOML (inline, or with a
/// CSV) that loads to the same manifest (same identity digest, same TOML again); every task's
/// message renders.
pub fn manifest(data: &[u8]) {
    let (toml_part, csv_part) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(text) = std::str::from_utf8(toml_part) else {
        return;
    };
    if let Ok(table) = text.parse::<toml::Table>() {
        if let Some(name) = table.get("addresses_csv") {
            if name.as_str() != Some(CSV) {
                return;
            }
        }
    }
    let dir = scratch::path();
    scratch::write(CSV, csv_part);
    let file = dir.join("manifest.toml");
    let Ok(m) = Manifest::from_str(text, &file, dir) else {
        return;
    };
    for t in m.tasks() {
        let _ = t.key();
        let _ = m.render_message(t.spec);
    }
    let _ = m.signers_in_use();
    let digest = m.identity_digest();

    let inline = m.to_toml();
    let m2 = match Manifest::from_str(&inline, &file, dir) {
        Ok(m2) => m2,
        Err(e) => panic!("to_toml does not load: {e}\n{inline}"),
    };
    assert_eq!(
        m2.identity_digest(),
        digest,
        "to_toml changed the manifest:\n{inline}"
    );
    assert_eq!(m2.to_toml(), inline, "to_toml is not stable");

    let (with_csv, csv) = m.to_toml_with_csv("written.csv");
    scratch::write("written.csv", csv.as_bytes());
    let m3 = match Manifest::from_str(&with_csv, &file, dir) {
        Ok(m3) => m3,
        Err(e) => panic!("to_toml_with_csv does not load: {e}\n{with_csv}\n{csv}"),
    };
    assert_eq!(
        m3.identity_digest(),
        digest,
        "to_toml_with_csv changed the manifest:\n{with_csv}\n{csv}"
    );
}
