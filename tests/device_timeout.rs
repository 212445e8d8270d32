//! A device that stops answering mid-ceremony: the exchange times out, the ceremony stops
//! with the resume command and loses nothing, and re-running finishes the job.

use por_attest::ceremony::{sign, CeremonyError, SignOptions};
use por_attest::demo::write_manifest;
use por_attest::device::{connect_with, DeviceSpec};
use por_attest::manifest::Manifest;
use por_attest::signers::DeviceError;
use por_attest::simulator::{Fault, SimulatedLedger, TcpServer};
use por_attest::transport::TransportError;
use std::time::{Duration, Instant};

fn signed_lines(path: &std::path::Path) -> usize {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("\"signed\""))
        .count()
}

#[test]
fn silent_device_times_out_with_the_resume_command_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let m = Manifest::load(write_manifest(dir.path(), 12).unwrap()).unwrap();
    let journal = dir.path().join("journal-sim-a.jsonl");
    let device = SimulatedLedger::speculos_default();
    // Exchange 40 is deep in the run (after a few signatures): the device sits on it.
    device.set_faults(vec![Fault::DelayAt(40, Duration::from_millis(1500))]);
    let server = TcpServer::spawn("127.0.0.1:0".parse().unwrap(), device).unwrap();
    let spec: DeviceSpec = format!("tcp:{}", server.addr()).parse().unwrap();
    let opts = SignOptions {
        signer: Some("sim-a".into()),
        resume_command: Some(format!("por-attest sign --device {spec} ...")),
        ..SignOptions::default()
    };

    let mut t = connect_with(&spec, Duration::from_millis(300)).unwrap();
    let started = Instant::now();
    let e = sign(&m, &journal, t.as_mut(), &opts).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(1400),
        "the timeout applied"
    );
    assert!(
        matches!(
            &e,
            CeremonyError::Device {
                source: DeviceError::Transport(TransportError::Timeout),
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.is_resumable());
    let text = e.to_string();
    assert!(text.contains("timed out"), "{text}");
    assert!(
        text.contains(&format!("Resume with: por-attest sign --device {spec}")),
        "{text}"
    );
    let before = signed_lines(&journal);
    assert!(before > 0, "signatures before the stall are journaled");
    drop(t);

    // Same command again, on a fresh connection: finishes, skipping what is journaled.
    let mut t = connect_with(&spec, Duration::from_secs(10)).unwrap();
    let s = sign(&m, &journal, t.as_mut(), &opts).unwrap();
    assert_eq!(s.already, before);
    assert_eq!(s.already + s.signed_now, s.tasks);
    assert_eq!(signed_lines(&journal), s.tasks);
}
