//! Coverage-guided fuzz targets of por-attest, one per parser (see `docs/fuzzing.md`).
//!
//! Each target is a function of the fuzzer's bytes that asserts what must hold: no panic, and
//! where a writer exists, parse → write → parse gives the same value. The binaries in
//! `fuzz_targets/` hand them to libFuzzer (`cargo +nightly fuzz run NAME`); the `replay`
//! example runs them on stable over files (corpora, crash inputs); the `seeds` example writes
//! the seed corpora.

pub mod addresses;
pub mod apdu;
pub mod ceremony;
pub mod device;
pub mod htx;
pub mod input;
pub mod interrupt;
pub mod journal;
pub mod manifest;
pub mod merkle;
pub mod okx;
pub mod psbt;
pub mod scratch;
pub mod signatures;
pub mod snapshot;

/// A target: its name (the `fuzz_targets/NAME.rs` binary) and its function.
pub type Target = (&'static str, fn(&[u8]));

/// Every target, in the order `scripts/fuzz` runs them.
pub const TARGETS: &[Target] = &[
    ("snapshot_split", snapshot::snapshot_split),
    ("snapshot_read", snapshot::snapshot_read),
    ("okx_csv", okx::okx_csv),
    ("htx_csv", htx::htx_csv),
    ("manifest", manifest::manifest),
    ("journal", journal::journal),
    ("apdu_replies", apdu::apdu_replies),
    ("interrupt_loop", interrupt::interrupt_loop),
    ("merkle", merkle::merkle),
    ("device_commands", device::device_commands),
    ("ceremony_device", ceremony::ceremony_device),
    ("bip322", signatures::bip322),
    ("multisig", signatures::multisig),
    ("psbt", psbt::psbt),
    ("cashaddr", addresses::cashaddr),
    ("ton", addresses::ton),
    ("eos", addresses::eos),
    ("ss58", addresses::ss58),
    ("account_address", addresses::account_address),
];

/// The target called `name`.
pub fn target(name: &str) -> Option<fn(&[u8])> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}
