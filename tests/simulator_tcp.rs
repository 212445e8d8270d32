//! The simulator served over TCP in Speculos framing, spoken to with raw APDUs.

use bitcoin::bip32::{DerivationPath, Xpriv};
use bitcoin::secp256k1::Secp256k1;
use bitcoin::Network;
use firmware_messages::ethereum::AddressResponse;
use firmware_messages::{Response, StatusWord};
use por_attest::simulator::{Fault, SimulatedLedger, TcpServer, SPECULOS_MNEMONIC};
use por_attest::transport::{Exchange, TcpTransport, TransportError};
use std::io::{Read, Write};
use std::str::FromStr;
use std::time::Duration;

fn server() -> TcpServer {
    TcpServer::spawn(
        "127.0.0.1:0".parse().unwrap(),
        SimulatedLedger::speculos_default(),
    )
    .unwrap()
}

fn raw(t: &mut TcpTransport, hex_apdu: &str) -> Response {
    Response::decode(&t.exchange(&hex::decode(hex_apdu).unwrap()).unwrap()).unwrap()
}

#[test]
fn raw_apdus_give_the_values_the_mnemonic_implies() {
    let srv = server();
    let seed = bip39::Mnemonic::parse(SPECULOS_MNEMONIC)
        .unwrap()
        .to_seed("");
    let secp = Secp256k1::new();
    let master = Xpriv::new_master(Network::Bitcoin, &seed).unwrap();

    let mut t = TcpTransport::connect(srv.addr()).unwrap();
    // Open the Bitcoin app: E0 D8 00 00 07 "Bitcoin".
    assert!(raw(&mut t, "e0d8000007426974636f696e").status.is_ok());
    // GET_MASTER_FINGERPRINT.
    let r = raw(&mut t, "e105000100");
    assert!(r.status.is_ok());
    assert_eq!(r.data, master.fingerprint(&secp).to_bytes());
    assert_eq!(hex::encode(&r.data), "f5acc2fd");
    // Quit, then open Ethereum on a second connection (clients served one after another).
    assert!(raw(&mut t, "b0a7000000").status.is_ok());
    drop(t);
    let mut t = TcpTransport::connect(srv.addr()).unwrap();
    assert!(raw(&mut t, "e0d8000008457468657265756d").status.is_ok());
    // GET ETH PUBLIC ADDRESS m/44'/60'/0'/0/0, no display.
    let r = raw(
        &mut t,
        "e002000015058000002c8000003c800000000000000000000000",
    );
    assert!(r.status.is_ok());
    let a = AddressResponse::decode(&r.data).unwrap();
    let sk = master
        .derive_priv(
            &secp,
            &DerivationPath::from_str("m/44'/60'/0'/0/0").unwrap(),
        )
        .unwrap()
        .private_key;
    let vk = *k256::ecdsa::SigningKey::from_slice(&sk.secret_bytes())
        .unwrap()
        .verifying_key();
    let want =
        ethers_core::utils::to_checksum(&ethers_core::utils::public_key_to_address(&vk), None);
    assert_eq!(format!("0x{}", a.address), want);
    // A Bitcoin command now gets CLA not supported.
    assert_eq!(
        raw(&mut t, "e105000100").status,
        StatusWord::CLA_NOT_SUPPORTED
    );
    srv.stop().unwrap();
}

#[test]
fn faults_over_tcp_are_typed() {
    let srv = server();
    let dev = srv.device().clone();
    let mut t = TcpTransport::connect_with(
        srv.addr(),
        Duration::from_secs(2),
        Duration::from_millis(300),
    )
    .unwrap();
    dev.set_faults(vec![Fault::DelayAt(1, Duration::from_millis(800))]);
    assert!(matches!(
        t.exchange(&hex::decode("b001000000").unwrap()),
        Err(TransportError::Timeout)
    ));
    drop(t);
    std::thread::sleep(Duration::from_millis(600));

    let mut t = TcpTransport::connect(srv.addr()).unwrap();
    let n = dev.exchanges();
    dev.set_faults(vec![Fault::GarbageAt(n + 1)]);
    assert!(matches!(
        t.exchange(&hex::decode("b001000000").unwrap()),
        Err(TransportError::Malformed(_))
    ));
    drop(t);

    let mut t = TcpTransport::connect(srv.addr()).unwrap();
    let n = dev.exchanges();
    dev.set_faults(vec![Fault::DisconnectAfter(n)]);
    assert!(matches!(
        t.exchange(&hex::decode("b001000000").unwrap()),
        Err(TransportError::Disconnected)
    ));
    drop(t);

    // The server survives a client sending a broken frame, and serves the next one.
    let mut s = std::net::TcpStream::connect(srv.addr()).unwrap();
    s.write_all(&[0, 0, 0, 9, 0xE1]).unwrap();
    drop(s);
    let mut t = TcpTransport::connect(srv.addr()).unwrap();
    assert!(raw(&mut t, "b001000000").status.is_ok());
    // Locked device.
    dev.set_locked(true);
    assert_eq!(raw(&mut t, "b001000000").status, StatusWord::LOCKED);
    srv.stop().unwrap();
}

#[test]
fn speculos_framing_on_the_wire() {
    let srv = server();
    let mut s = std::net::TcpStream::connect(srv.addr()).unwrap();
    // B0 01 in Speculos framing; reply: 4-byte length of data, data, 2-byte SW.
    s.write_all(&[0, 0, 0, 5, 0xB0, 0x01, 0, 0, 0]).unwrap();
    let mut len = [0u8; 4];
    s.read_exact(&mut len).unwrap();
    let n = u32::from_be_bytes(len) as usize;
    let mut rest = vec![0u8; n + 2];
    s.read_exact(&mut rest).unwrap();
    assert_eq!(&rest[n..], &[0x90, 0x00]);
    assert_eq!(
        &rest[..n],
        &hex::decode("0105424f4c4f5305312e312e310100").unwrap()[..]
    );
    drop(s);
    srv.stop().unwrap();
}

/// Kills the child when the test ends, whatever happens.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_simulator_command_on_port_zero_prints_the_port_it_bound() {
    use std::io::BufRead;
    let mut child = KillOnDrop(
        std::process::Command::new(env!("CARGO_BIN_EXE_por-attest"))
            .args(["simulator", "--listen", "127.0.0.1:0"])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    std::io::BufReader::new(child.0.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr: std::net::SocketAddr = line
        .strip_prefix("simulated Ledger listening on ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("unexpected first line: {line}"))
        .parse()
        .unwrap();
    assert_ne!(addr.port(), 0, "{line}");
    let mut t = TcpTransport::connect(addr).unwrap();
    assert!(raw(&mut t, "e0d8000007426974636f696e").status.is_ok());
    let r = raw(&mut t, "e105000100");
    assert_eq!(hex::encode(&r.data), "f5acc2fd");
}
