#![warn(missing_docs)]
//! A simulated Ledger (dashboard + Bitcoin app 2.4.1 + Ethereum app 1.10.4 + TRON app 0.7.1)
//! that speaks the real apps' APDU protocol, for tests, CI and demos. Never used in a release
//! ceremony.
//!
//! # Public API for the lead and for host drivers
//!
//! Build and talk to a device:
//! ```no_run
//! use por_attest_simulator::{SimulatedLedger, SimulatorConfig, ApprovalPolicy, Fault, RunningApp};
//! use por_attest_ceremony::transport::Exchange;
//! let sim = SimulatedLedger::new(SimulatorConfig {
//!     approval: ApprovalPolicy::ApproveAll,      // or RejectAll, or ApprovalPolicy::callback(|p| ...)
//!     faults: vec![Fault::DisconnectAfter(10)],  // optional scripted faults
//!     start_app: RunningApp::Dashboard,          // real devices start on the dashboard
//!     ..SimulatorConfig::with_mnemonic("glory promote mansion ...")
//! }).unwrap();
//! let mut t = sim.transport();                   // InProcessTransport: impl Exchange
//! let reply: Vec<u8> = t.exchange(&[0xB0, 0x01, 0, 0, 0]).unwrap(); // data + SW
//! let prompts = sim.prompts();                   // what the user saw and answered
//! ```
//! - [`SimulatedLedger::new`]`(SimulatorConfig) -> Result<SimulatedLedger, SimulatorError>`,
//!   [`SimulatedLedger::speculos_default`]`()`, [`SimulatedLedger::transport`]`() ->
//!   InProcessTransport`, `prompts()`, `clear_prompts()`, `set_locked(bool)`,
//!   `set_approval(ApprovalPolicy)`, `set_faults(Vec<Fault>)`, `master_fingerprint()`,
//!   `running_app()`, `process(&[u8]) -> DeviceOutput`.
//! - TCP: [`serve_tcp`]`(SocketAddr, SimulatorConfig) -> Result<(), SimulatorError>` blocks
//!   forever serving clients one after another (this is what `por-attest simulator
//!   [--listen ADDR] [--mnemonic WORDS]` should call, with
//!   `SimulatorConfig::with_mnemonic(words)` or `SimulatorConfig::default()`);
//!   [`TcpServer::spawn`]`(SocketAddr, SimulatedLedger) -> io::Result<TcpServer>` serves in
//!   the background (port 0 allowed; `addr()` gives the bound address; `stop()`).
//! - Transports ([`por_attest_ceremony::transport`]): trait `Exchange { fn exchange(&mut self, apdu:
//!   &[u8]) -> Result<Vec<u8>, TransportError>; fn send(&mut self, &Command) ->
//!   Result<Response, TransportError> }`, `InProcessTransport`, `TcpTransport::connect(addr)`
//!   / `connect_with(addr, connect_timeout, read_timeout)`.
//!
//! Host-side protocol (in `firmware_messages`), for drivers in `src/signers/`:
//! - dashboard: `DashboardCommand::{GetAppAndVersion, OpenApp(name), QuitApp}.to_command()`,
//!   `AppAndVersion::decode(&data)`;
//! - Bitcoin app: `bitcoin::host::HostFlow::{get_master_fingerprint(), get_extended_pubkey(&path,
//!   display), register_wallet(&policy), get_wallet_address(&policy, hmac, change, index,
//!   display), sign_message(&path, msg), sign_psbt(&maps, &policy, hmac)}` (maps from
//!   `bitcoin::psbt::PsbtV2Maps::from_psbt(&bytes)`, signatures from
//!   `bitcoin::psbt::parse_yielded_signatures(flow.interpreter().yielded())`), driven by `bitcoin::host::run(&mut flow, |cmd|
//!   transport.send(cmd))` (or step by step with `first_command()` / `on_response()`), results
//!   parsed with `bitcoin::commands::{parse_master_fingerprint, parse_extended_pubkey,
//!   parse_wallet_address, RegisteredWallet::decode, MessageSignature::decode}`; policies from
//!   `bitcoin::policy::{DefaultPolicy::Wpkh.policy(PolicyVersion::V2, key_info), WalletPolicy,
//!   KeyInfo}`;
//! - Ethereum app: `ethereum::GetAddress{..}.to_command()`, `ethereum::AddressResponse::decode`,
//!   `ethereum::sign_personal_message_commands(&path, msg)` (send all; the last reply holds
//!   the signature), `ethereum::Signature::decode`, `ethereum::AppConfiguration`;
//! - TRON app: `tron::GetAddress{..}.to_command()`, `tron::AddressResponse::decode`,
//!   `tron::sign_personal_message_commands(&path, msg)`, `tron::Signature::decode` (r‖s‖v,
//!   v 0/1), `tron::AppConfiguration`.
//!
//! Behaviour: a locked device answers 0x5515 to everything; the dashboard answers
//! get-app-and-version (`BOLOS`), opens `Bitcoin` (`Bitcoin Test` on test networks) or
//! `Ethereum` or `Tron` (0x6807 for other names) and answers 0x6E01 to app commands; an app
//! answers 0x6E00 to another class and 0x6D00 to an unknown instruction; a rejected prompt gives
//! 0x6985. Sign message follows the real app: legacy message hash, header 31..=34 whatever
//! the address type. SIGN_PSBT signs for the default `wpkh`, `sh(wpkh)` and `tr` (BIP-86 key
//! path) wallets, showing the BIP-322 message when the PSBT is a message's `to_sign`; other
//! policies and registered wallets answer 0x6A82.

mod bitcoin_app;
mod device;
mod ethereum_app;
pub mod fixtures;
mod in_process;
mod sign_psbt;
pub mod soft_coldcard;
pub mod softhsm;
pub mod synthetic;
pub mod synthetic_accounts;
mod tcp;
mod tron_app;

pub use device::{
    Approval, ApprovalPolicy, DeviceOutput, Fault, Prompt, PromptKind, RunningApp, SimulatedLedger,
    SimulatorConfig, SimulatorError, BITCOIN_APP_VERSION, ETHEREUM_APP_VERSION, OS_VERSION,
    OTHER_MNEMONIC, SPECULOS_MNEMONIC, TRON_APP_VERSION,
};
pub use in_process::InProcessTransport;
pub use tcp::{serve_tcp, TcpServer};
