//! Journals: the reader (with torn-line rules), the repair on open, and the merge.

use crate::scratch;
use por_attest::journal::{load_records, Journal, Record};
use por_attest::manifest::ManifestIdentity;

/// Any bytes as a journal, for the identity its first line states (so that the identity check
/// passes and the records are read): reading never panics; a journal that opens (and so has
/// its torn tail repaired) opens again with the same records and nothing left to repair; the
/// merge (`load_records`) of a journal that opens has the same signatures.
pub fn journal(data: &[u8]) {
    let first = data.split(|&b| b == b'\n').next().unwrap_or_default();
    let identity = match serde_json::from_slice::<Record>(first) {
        Ok(Record::Header(h)) => ManifestIdentity {
            entity: h.entity,
            snapshot_id: h.snapshot_id,
            manifest_digest: h.manifest_digest,
        },
        _ => ManifestIdentity {
            entity: "Fuzz".into(),
            snapshot_id: "fuzz-1".into(),
            manifest_digest: "sha256:00".into(),
        },
    };
    let path = scratch::write("journal.jsonl", data);
    let merged = load_records(&[&path], &identity);
    let opened = match Journal::open(&path, &identity) {
        Ok((j, records)) => {
            drop(j);
            records
        }
        Err(_) => return,
    };
    let merged = match merged {
        Ok(m) => m,
        Err(e) => panic!("the journal opens but does not merge: {e}"),
    };
    for r in &opened {
        if let Record::Signed(s) = r {
            assert!(merged.done(&s.key()), "open has a signature the merge lost");
        }
    }
    let repaired = std::fs::read(&path).expect("read back");
    assert!(
        repaired.starts_with(data),
        "open changed what was already written"
    );
    let (j, again) = match Journal::open(&path, &identity) {
        Ok(x) => x,
        Err(e) => panic!("a journal that opened does not open after its repair: {e}"),
    };
    drop(j);
    assert_eq!(again, opened, "the records changed after the repair");
    assert_eq!(
        std::fs::read(&path).expect("read back"),
        repaired,
        "a second repair"
    );
}
