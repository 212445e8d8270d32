//! Snapshot files: the block splitter of the parallel reader, and the two readers (parallel
//! and streaming) against each other.

use crate::scratch;
use por_attest::okx::{export_okx_csv, OkxReader};
use por_attest::snapshot::{read_stream, CanonicalHasher, Entry, EntrySplitter, Header, Snapshot};
use por_attest::verify::{verify_parallel, verify_streaming, VerifyOptions};
use std::io::Read;
use std::path::Path;

/// A reader that hands out at most `chunk` bytes per read, so block boundaries fall anywhere
/// (the splitter reads 4 MiB blocks; fuzz inputs are far smaller).
struct Chunked<'a> {
    data: &'a [u8],
    chunk: usize,
    /// Varies the chunk sizes read after read.
    turn: usize,
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.turn = self.turn.wrapping_add(1);
        let size = 1 + (self.chunk + self.turn * 7) % self.chunk.max(1);
        let n = size.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// What the splitter makes of a file: header, raw entries, stated digest.
type Split = (Header, Vec<Vec<u8>>, String);

fn split_all(reader: impl Read, batch: usize) -> Result<Split, String> {
    let mut s = EntrySplitter::new(reader).map_err(|b| b.0)?;
    let header = s.header().clone();
    let mut raws = Vec::new();
    while let Some(b) = s.next_batch(batch, 1 << 10).map_err(|b| b.0)? {
        assert!(!b.is_empty(), "the splitter gave an empty batch");
        assert_eq!(b.first_index as usize, raws.len(), "batch index");
        for i in 0..b.len() {
            raws.push(b.get(i).to_vec());
        }
    }
    let digest = s.finish().map_err(|b| b.0)?;
    Ok((header, raws, digest))
}

/// The block splitter: whatever the read sizes and batch sizes, it splits a file the same way;
/// and when it and the entry parser take a file, the streaming reader takes it too, with the
/// same header, entries and stated digest, and the digest the parallel path computes (from
/// the entries' canonical JSON) is the streaming reader's.
pub fn snapshot_split(data: &[u8]) {
    let Some((&knob, text)) = data.split_first() else {
        return;
    };
    let whole = split_all(text, 512);
    let chunked = split_all(
        Chunked {
            data: text,
            chunk: 1 + (knob as usize % 61),
            turn: 0,
        },
        1 + (knob as usize >> 4),
    );
    match (&whole, &chunked) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "the split depends on the read sizes"),
        (Err(_), Err(_)) => {}
        _ => panic!("the splitter takes the file with one read size and not another: {whole:?} / {chunked:?}"),
    }
    let Ok((header, raws, stated)) = whole else {
        return;
    };
    let parsed: Result<Vec<Entry>, _> = raws.iter().map(|r| serde_json::from_slice(r)).collect();
    let Ok(parsed) = parsed else {
        return; // the parallel path gives up and the streaming reader reports the entry
    };
    let mut streamed_header = None;
    let mut streamed = Vec::new();
    let end = read_stream(
        Path::new("fuzz.json"),
        text,
        |h| {
            streamed_header = Some(h.clone());
            Ok(())
        },
        |_, e| {
            streamed.push(e);
            Ok(())
        },
    );
    let end = match end {
        Ok(end) => end,
        Err(e) => panic!(
            "the splitter and the entry parser take a file the streaming reader refuses: {e}"
        ),
    };
    assert_eq!(streamed_header.as_ref(), Some(&header), "header");
    assert_eq!(streamed, parsed, "entries");
    assert_eq!(end.stated_digest, stated, "stated digest");
    let mut joined = Vec::new();
    for (i, e) in parsed.iter().enumerate() {
        if i > 0 {
            joined.push(b',');
        }
        serde_json::to_writer(&mut joined, e).expect("entries serialize");
    }
    let mut h = CanonicalHasher::new(&header);
    h.add_serialized_joined(&joined, parsed.len() as u64);
    assert_eq!(h.finish(), end.computed_digest, "computed digest");
}

/// The two verification paths: when the parallel path takes a file, the streaming path gives
/// the same report. A snapshot that reads back writes the same bytes again, and its OKX
/// export reads back with one row per exported entry.
pub fn snapshot_read(data: &[u8]) {
    let path = scratch::write("snapshot.json", data);
    let opts = VerifyOptions {
        threads: 1,
        progress: false,
        claims: false,
    };
    let parallel =
        verify_parallel(&path, &opts).expect("the parallel path never fails: it gives up");
    let streaming = verify_streaming(&path, &opts);
    if let Some(p) = parallel {
        match streaming {
            Ok(s) => assert_eq!(p, s, "the parallel and streaming reports differ"),
            Err(e) => panic!("the parallel path takes a file the streaming path refuses: {e}"),
        }
    }
    let Ok(snap) = Snapshot::read(&path) else {
        return;
    };
    let bytes = snap.to_file_bytes();
    let again = scratch::write("snapshot2.json", &bytes);
    let back = Snapshot::read(&again).expect("a written snapshot reads back");
    assert_eq!(back, snap, "read → write → read");
    assert_eq!(back.to_file_bytes(), bytes, "write is deterministic");
    let mut csv = Vec::new();
    let summary = export_okx_csv(&snap, &mut csv).expect("export to memory");
    let mut rows = OkxReader::new("export.csv", csv.as_slice()).expect("the export has a header");
    let mut n = 0;
    while let Some(r) = rows.next_row() {
        r.expect("exported rows read back");
        n += 1;
    }
    assert_eq!(n, summary.written, "exported rows");
}
