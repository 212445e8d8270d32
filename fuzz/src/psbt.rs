//! PSBTs: our splitter into SIGN_PSBT's version-2 maps (from version 0 or 2), and
//! rust-bitcoin's parser that the ceremony builds PSBTs with.

use firmware_messages::bitcoin::psbt::{PsbtMap, PsbtV2Maps};
use firmware_messages::codec::write_varint;

fn write_map(out: &mut Vec<u8>, map: &PsbtMap) {
    for (k, v) in map {
        write_varint(out, k.len() as u64);
        out.extend_from_slice(k);
        write_varint(out, v.len() as u64);
        out.extend_from_slice(v);
    }
    out.push(0);
}

/// The version-2 serialization of split maps.
pub fn serialize_v2(maps: &PsbtV2Maps) -> Vec<u8> {
    let mut out = b"psbt\xff".to_vec();
    write_map(&mut out, &maps.global);
    for m in maps.inputs.iter().chain(&maps.outputs) {
        write_map(&mut out, m);
    }
    out
}

/// Any bytes: splitting never panics; split maps written as a version-2 PSBT split to the
/// same maps; a PSBT rust-bitcoin reads re-serializes to one it reads the same, and our
/// splitter takes what rust-bitcoin writes for it (the ceremony's path to SIGN_PSBT).
pub fn psbt(data: &[u8]) {
    if let Ok(maps) = PsbtV2Maps::from_psbt(data) {
        let v2 = serialize_v2(&maps);
        match PsbtV2Maps::from_psbt(&v2) {
            Ok(back) => assert_eq!(back, maps, "split → version 2 → split"),
            Err(e) => panic!("the version-2 form of split maps does not split: {e}"),
        }
    }
    if let Ok(p) = bitcoin::Psbt::deserialize(data) {
        let bytes = p.serialize();
        let again = bitcoin::Psbt::deserialize(&bytes).expect("rust-bitcoin reads what it writes");
        assert_eq!(again, p, "rust-bitcoin round trip");
        if let Err(e) = PsbtV2Maps::from_psbt(&bytes) {
            panic!("our splitter refuses a PSBT rust-bitcoin writes: {e}");
        }
    }
}
