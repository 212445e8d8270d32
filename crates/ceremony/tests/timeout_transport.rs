//! Our own per-exchange timeout around a transport, against the simulator.

use por_attest_ceremony::transport::{Exchange, TimeoutTransport, TransportError};
use por_attest_simulator::{Fault, SimulatedLedger, SimulatorConfig};
use std::time::Duration;

const GET_APP: [u8; 5] = [0xB0, 0x01, 0, 0, 0];

#[test]
fn passes_replies_through() {
    let sim = SimulatedLedger::speculos_default();
    let mut t = TimeoutTransport::spawn(sim.transport(), Duration::from_secs(5), "sim");
    let r = t.exchange(&GET_APP).unwrap();
    assert_eq!(&r[r.len() - 2..], &[0x90, 0x00]);
    assert!(!t.is_broken());
}

#[test]
fn times_out_then_refuses_further_exchanges() {
    let sim = SimulatedLedger::new(SimulatorConfig {
        faults: vec![Fault::DelayAt(2, Duration::from_millis(800))],
        ..SimulatorConfig::default()
    })
    .unwrap();
    let mut t = TimeoutTransport::spawn(sim.transport(), Duration::from_millis(100), "sim");
    assert!(t.exchange(&GET_APP).is_ok());
    assert!(matches!(t.exchange(&GET_APP), Err(TransportError::Timeout)));
    assert!(t.is_broken());
    // Even once the late reply has arrived, the transport stays unusable.
    std::thread::sleep(Duration::from_millis(900));
    let e = t.exchange(&GET_APP).unwrap_err();
    assert!(e.to_string().contains("unusable"), "{e}");
}

#[test]
fn transport_errors_pass_through() {
    let sim = SimulatedLedger::new(SimulatorConfig {
        faults: vec![Fault::DisconnectAfter(0)],
        ..SimulatorConfig::default()
    })
    .unwrap();
    let mut t = TimeoutTransport::spawn(sim.transport(), Duration::from_secs(5), "sim");
    assert!(matches!(
        t.exchange(&GET_APP),
        Err(TransportError::Disconnected)
    ));
    // A disconnect is reported by the device; the next exchange is tried again.
    assert!(t.exchange(&GET_APP).is_ok());
}
