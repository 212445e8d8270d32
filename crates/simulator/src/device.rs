//! The simulated device: seed, dashboard, app switching, lock, user approval, fault
//! injection and the record of what the screen showed.

use super::{
    bitcoin_app::{AppFeatures, BitcoinApp},
    ethereum_app::EthereumApp,
    tron_app::TronApp,
};
use bitcoin::bip32::{DerivationPath, Xpriv};
use bitcoin::secp256k1::{All, Message, Secp256k1};
use bitcoin::Network;
use firmware_messages::dashboard::{AppAndVersion, DashboardCommand, DASHBOARD_NAME};
use firmware_messages::tron::APP_NAME as TRON_APP_NAME;
use firmware_messages::{Bip32Path, Command, Response, StatusWord};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use thiserror::Error;

/// Speculos's default test mnemonic (the seed Speculos uses when none is given).
pub const SPECULOS_MNEMONIC: &str = "glory promote mansion idle axis finger extra february uncover one trip resource lawn turtle enact monster seven myth punch hobby comfort wild raise skin";
/// Version the simulated Bitcoin app reports.
pub const BITCOIN_APP_VERSION: &str = "2.4.1";
/// Version the simulated Ethereum app reports.
pub const ETHEREUM_APP_VERSION: &str = "1.10.4";
/// Version the simulated TRON app reports (app-tron's latest release).
pub const TRON_APP_VERSION: &str = "0.7.1";
/// OS version the dashboard reports.
pub const OS_VERSION: &str = "1.1.1";

/// The user's answer to a prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approval {
    /// Confirm.
    Approve,
    /// Reject (the app answers 0x6985).
    Reject,
}

/// How the simulated user answers prompts.
#[derive(Clone, Default)]
pub enum ApprovalPolicy {
    /// Confirm everything.
    #[default]
    ApproveAll,
    /// Reject everything.
    RejectAll,
    /// Ask a function.
    Callback(Arc<dyn Fn(&Prompt) -> Approval + Send + Sync>),
}

impl ApprovalPolicy {
    /// A policy that asks `f`.
    pub fn callback(f: impl Fn(&Prompt) -> Approval + Send + Sync + 'static) -> Self {
        ApprovalPolicy::Callback(Arc::new(f))
    }

    fn decide(&self, p: &Prompt) -> Approval {
        match self {
            ApprovalPolicy::ApproveAll => Approval::Approve,
            ApprovalPolicy::RejectAll => Approval::Reject,
            ApprovalPolicy::Callback(f) => f(p),
        }
    }
}

impl fmt::Debug for ApprovalPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApprovalPolicy::ApproveAll => write!(f, "ApproveAll"),
            ApprovalPolicy::RejectAll => write!(f, "RejectAll"),
            ApprovalPolicy::Callback(_) => write!(f, "Callback(..)"),
        }
    }
}

/// What kind of screen flow the device showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptKind {
    /// Bitcoin: show an extended public key.
    BitcoinExtendedPubkey,
    /// Bitcoin: show a wallet address.
    BitcoinAddress,
    /// Bitcoin: register a wallet policy.
    BitcoinRegisterWallet,
    /// Bitcoin: sign a message.
    BitcoinSignMessage,
    /// Bitcoin: sign a PSBT (a transaction, or a BIP-322 message when the PSBT carries one).
    BitcoinSignPsbt,
    /// Ethereum: show an address.
    EthereumAddress,
    /// Ethereum: sign a personal message.
    EthereumSignMessage,
    /// TRON: show an address ("Verify Address").
    TronAddress,
    /// TRON: sign a personal message (the screen shows its hash, not its text).
    TronSignMessage,
}

/// What the device displayed for the user to confirm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    /// The flow.
    pub kind: PromptKind,
    /// Derivation path shown, if any.
    pub path: Option<String>,
    /// Address (or xpub) shown, if any.
    pub address: Option<String>,
    /// Message shown (its text, or `SHA256: <hex>` / `0x<hex>` when not printable).
    pub message: Option<String>,
    /// Other screens (wallet name, policy, keys...).
    pub details: Vec<(String, String)>,
    /// The user's answer (set once decided).
    pub approved: bool,
}

impl Prompt {
    pub(crate) fn new(kind: PromptKind) -> Self {
        Prompt {
            kind,
            path: None,
            address: None,
            message: None,
            details: Vec::new(),
            approved: false,
        }
    }
}

/// A scripted fault. Exchange numbers count every APDU the device receives, from 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// After `n` exchanges, the next one drops the connection (once; a reconnect works).
    DisconnectAfter(usize),
    /// Exchange number `n` gets a reply that is not a valid APDU response (once).
    GarbageAt(usize),
    /// Exchange number `n` is answered after a delay (the user sits on a prompt).
    DelayAt(usize, Duration),
    /// Every exchange is answered after a delay.
    DelayEach(Duration),
    /// Exchange number `n` is answered as a device with another seed ([`OTHER_MNEMONIC`])
    /// would answer it (once): a well-formed but wrong reply — another fingerprint, key or
    /// address, a signature by another key — where the reply depends on the seed.
    WrongAt(usize),
}

/// The seed a [`Fault::WrongAt`] exchange is answered with.
pub const OTHER_MNEMONIC: &str =
    "legal winner thank year wave sausage worth useful legal winner thank yellow";

/// Which app runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunningApp {
    /// The dashboard (no app).
    Dashboard,
    /// The Bitcoin app.
    Bitcoin,
    /// The Ethereum app.
    Ethereum,
    /// The TRON app.
    Tron,
}

/// Simulator settings.
#[derive(Debug, Clone)]
pub struct SimulatorConfig {
    /// BIP-39 mnemonic.
    pub mnemonic: String,
    /// BIP-39 passphrase.
    pub passphrase: String,
    /// Network of the Bitcoin app: `Bitcoin` (app `Bitcoin`, xpub) or a test network
    /// (app `Bitcoin Test`, tpub).
    pub bitcoin_network: Network,
    /// The simulated user.
    pub approval: ApprovalPolicy,
    /// Scripted faults.
    pub faults: Vec<Fault>,
    /// Start locked (everything answers 0x5515 until unlocked).
    pub locked: bool,
    /// App running at start.
    pub start_app: RunningApp,
    /// Version the Bitcoin app reports. Before 2.1.0 the app knows only version-1 wallet
    /// policies (`wpkh(@0)` with `/**` on the key) and answers 0x6A80 to version 2, like the
    /// real app 2.0.x (the builds public Speculos images run).
    pub bitcoin_app_version: String,
    /// Version the Ethereum app reports. Before 1.9.19 its message review shows the
    /// message's SHA-256 ("Message hash") rather than its text, like the real app 1.9.18.
    pub ethereum_app_version: String,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        SimulatorConfig {
            mnemonic: SPECULOS_MNEMONIC.into(),
            passphrase: String::new(),
            bitcoin_network: Network::Bitcoin,
            approval: ApprovalPolicy::ApproveAll,
            faults: Vec::new(),
            locked: false,
            start_app: RunningApp::Dashboard,
            bitcoin_app_version: BITCOIN_APP_VERSION.into(),
            ethereum_app_version: ETHEREUM_APP_VERSION.into(),
        }
    }
}

impl SimulatorConfig {
    /// Defaults with another mnemonic.
    pub fn with_mnemonic(words: &str) -> Self {
        SimulatorConfig {
            mnemonic: words.into(),
            ..Default::default()
        }
    }
}

/// Why a simulator could not be built.
#[derive(Debug, Error)]
pub enum SimulatorError {
    /// The mnemonic is not valid BIP-39.
    #[error("invalid mnemonic: {0}")]
    Mnemonic(#[from] bip39::Error),
    /// Key derivation failed.
    #[error("key derivation: {0}")]
    Bip32(#[from] bitcoin::bip32::Error),
    /// The TCP server failed.
    #[error("simulator server: {0}")]
    Io(std::io::Error),
}

/// What the device does with one APDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceOutput {
    /// A reply: data then status word.
    Reply(Vec<u8>),
    /// Bytes that are not a valid reply (fault injection).
    Garbage(Vec<u8>),
    /// The connection drops (fault injection).
    Disconnect,
}

/// The device's keys.
pub(crate) struct Keys {
    pub secp: Secp256k1<All>,
    pub master: Xpriv,
    pub seed: [u8; 64],
}

impl Keys {
    /// The keys of a BIP-39 mnemonic (empty passphrase) on `network`.
    fn of_mnemonic(words: &str, network: Network) -> Result<Keys, SimulatorError> {
        let seed = bip39::Mnemonic::parse_normalized(words)?.to_seed_normalized("");
        Ok(Keys {
            secp: Secp256k1::new(),
            master: Xpriv::new_master(network, &seed)?,
            seed,
        })
    }

    pub fn fingerprint(&self) -> [u8; 4] {
        self.master.fingerprint(&self.secp).to_bytes()
    }

    pub fn derive(&self, path: &Bip32Path) -> Xpriv {
        let dp: DerivationPath = path
            .indices()
            .iter()
            .map(|i| bitcoin::bip32::ChildNumber::from(*i))
            .collect::<Vec<_>>()
            .into();
        self.master
            .derive_priv(&self.secp, &dp)
            .expect("derivation from a valid master key cannot fail for 32-bit indices")
    }

    /// ECDSA (RFC 6979, low s) over a 32-byte digest with the key at `path`: r, s and the
    /// recovery parity.
    pub fn sign_digest(&self, path: &Bip32Path, digest: [u8; 32]) -> ([u8; 32], [u8; 32], u8) {
        let sk = self.derive(path).private_key;
        let sig = self
            .secp
            .sign_ecdsa_recoverable(&Message::from_digest(digest), &sk);
        let (recid, rs) = sig.serialize_compact();
        let mut r = [0u8; 32];
        let mut s = [0u8; 32];
        r.copy_from_slice(&rs[..32]);
        s.copy_from_slice(&rs[32..]);
        (r, s, recid.to_i32() as u8)
    }
}

/// User interface: decides prompts and records them.
pub(crate) struct Ui<'a> {
    pub approval: &'a ApprovalPolicy,
    pub prompts: &'a mut Vec<Prompt>,
}

impl Ui<'_> {
    /// Shows a prompt; true if the user approved.
    pub fn confirm(&mut self, mut p: Prompt) -> bool {
        p.approved = self.approval.decide(&p) == Approval::Approve;
        let ok = p.approved;
        self.prompts.push(p);
        ok
    }
}

struct State {
    keys: Keys,
    /// The keys of [`OTHER_MNEMONIC`], made on the first [`Fault::WrongAt`].
    other_keys: Option<Keys>,
    network: Network,
    approval: ApprovalPolicy,
    faults: Vec<Fault>,
    locked: bool,
    app: RunningApp,
    bitcoin_version: String,
    ethereum_version: String,
    bitcoin: BitcoinApp,
    ethereum: EthereumApp,
    tron: TronApp,
    prompts: Vec<Prompt>,
    exchanges: usize,
}

/// A simulated Ledger with the Bitcoin, Ethereum and TRON apps. Cloning gives another handle to
/// the same device.
#[derive(Clone)]
pub struct SimulatedLedger {
    state: Arc<Mutex<State>>,
}

impl fmt::Debug for SimulatedLedger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.lock();
        f.debug_struct("SimulatedLedger")
            .field("app", &s.app)
            .field("locked", &s.locked)
            .field("exchanges", &s.exchanges)
            .finish()
    }
}

impl SimulatedLedger {
    /// Builds a device from settings.
    pub fn new(config: SimulatorConfig) -> Result<Self, SimulatorError> {
        let mnemonic = bip39::Mnemonic::parse_normalized(config.mnemonic.trim())?;
        let seed = mnemonic.to_seed_normalized(&config.passphrase);
        let master = Xpriv::new_master(config.bitcoin_network, &seed)?;
        let state = State {
            keys: Keys {
                secp: Secp256k1::new(),
                master,
                seed,
            },
            other_keys: None,
            network: config.bitcoin_network,
            approval: config.approval,
            faults: config.faults,
            locked: config.locked,
            app: config.start_app,
            bitcoin_version: config.bitcoin_app_version,
            ethereum_version: config.ethereum_app_version,
            bitcoin: BitcoinApp::default(),
            ethereum: EthereumApp::default(),
            tron: TronApp::default(),
            prompts: Vec::new(),
            exchanges: 0,
        };
        Ok(SimulatedLedger {
            state: Arc::new(Mutex::new(state)),
        })
    }

    /// A device with Speculos's default seed, approving everything, on the dashboard.
    pub fn speculos_default() -> Self {
        Self::new(SimulatorConfig::default()).expect("the built-in mnemonic is valid")
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// An in-process transport to this device.
    pub fn transport(&self) -> crate::InProcessTransport {
        crate::InProcessTransport::new(self.clone())
    }

    /// Everything the device displayed so far.
    pub fn prompts(&self) -> Vec<Prompt> {
        self.lock().prompts.clone()
    }

    /// Forgets the displayed prompts.
    pub fn clear_prompts(&self) {
        self.lock().prompts.clear();
    }

    /// Locks or unlocks the device.
    pub fn set_locked(&self, locked: bool) {
        self.lock().locked = locked;
    }

    /// Changes the simulated user.
    pub fn set_approval(&self, approval: ApprovalPolicy) {
        self.lock().approval = approval;
    }

    /// Replaces the scripted faults (exchange numbers keep counting from the start).
    pub fn set_faults(&self, faults: Vec<Fault>) {
        self.lock().faults = faults;
    }

    /// Number of APDUs received so far.
    pub fn exchanges(&self) -> usize {
        self.lock().exchanges
    }

    /// The running app.
    pub fn running_app(&self) -> RunningApp {
        self.lock().app
    }

    /// Master key fingerprint.
    pub fn master_fingerprint(&self) -> [u8; 4] {
        self.lock().keys.fingerprint()
    }

    /// Name the Bitcoin app reports (`Bitcoin` on mainnet, `Bitcoin Test` otherwise).
    pub fn bitcoin_app_name(&self) -> &'static str {
        bitcoin_app_name(self.lock().network)
    }

    /// Processes one raw APDU, applying faults and delays.
    pub fn process(&self, apdu: &[u8]) -> DeviceOutput {
        let (delay, fault, wrong) = {
            let mut s = self.lock();
            s.exchanges += 1;
            let n = s.exchanges;
            let mut delay = Duration::ZERO;
            let mut fault = None;
            let mut wrong = false;
            let mut keep = Vec::new();
            for f in std::mem::take(&mut s.faults) {
                match f {
                    Fault::DisconnectAfter(after) if n > after => {
                        fault = Some(DeviceOutput::Disconnect)
                    }
                    Fault::GarbageAt(at) if n == at => {
                        fault = Some(DeviceOutput::Garbage(vec![0x42]))
                    }
                    Fault::DelayAt(at, d) if n == at => delay += d,
                    Fault::WrongAt(at) if n == at => wrong = true,
                    Fault::DelayEach(d) => {
                        delay += d;
                        keep.push(f);
                    }
                    other => keep.push(other),
                }
            }
            s.faults = keep;
            if fault.is_some() {
                // Whatever was in progress is lost, as on a real unplug.
                s.bitcoin.reset();
                s.ethereum.reset();
                s.tron.reset();
            }
            (delay, fault, wrong)
        };
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        if let Some(f) = fault {
            return f;
        }
        let mut s = self.lock();
        if wrong {
            // Answer with the other seed's keys, the apps' state kept as it is.
            let other = match s.other_keys.take() {
                Some(k) => k,
                None => Keys::of_mnemonic(OTHER_MNEMONIC, s.network)
                    .expect("the other mnemonic is valid"),
            };
            let own = std::mem::replace(&mut s.keys, other);
            let resp = s.handle_apdu(apdu);
            let other = std::mem::replace(&mut s.keys, own);
            s.other_keys = Some(other);
            return DeviceOutput::Reply(resp.encode());
        }
        DeviceOutput::Reply(s.handle_apdu(apdu).encode())
    }
}

/// True when `version` (`major.minor.patch`) is before `than`; unparsable counts as current.
pub(super) fn version_before(version: &str, than: (u32, u32, u32)) -> bool {
    firmware_messages::dashboard::parse_version(version).is_some_and(|v| v < than)
}

pub(crate) fn bitcoin_app_name(network: Network) -> &'static str {
    if network == Network::Bitcoin {
        "Bitcoin"
    } else {
        "Bitcoin Test"
    }
}

impl State {
    fn handle_apdu(&mut self, apdu: &[u8]) -> Response {
        match Command::decode(apdu) {
            Ok(c) => self.handle(&c),
            Err(_) => Response::error(StatusWord::WRONG_DATA_LENGTH),
        }
    }

    fn handle(&mut self, c: &Command) -> Response {
        if self.locked {
            return Response::error(StatusWord::LOCKED);
        }
        let dash = DashboardCommand::from_command(c).ok();
        match (self.app, dash) {
            (app, Some(DashboardCommand::GetAppAndVersion)) => {
                let (name, version, flags) = match app {
                    RunningApp::Dashboard => (DASHBOARD_NAME, OS_VERSION, vec![0x00]),
                    RunningApp::Bitcoin => (
                        bitcoin_app_name(self.network),
                        self.bitcoin_version.as_str(),
                        vec![0x02],
                    ),
                    RunningApp::Ethereum => {
                        ("Ethereum", self.ethereum_version.as_str(), vec![0x02])
                    }
                    RunningApp::Tron => (TRON_APP_NAME, TRON_APP_VERSION, vec![0x02]),
                };
                Response::ok(
                    AppAndVersion {
                        name: name.into(),
                        version: version.into(),
                        flags,
                    }
                    .encode(),
                )
            }
            (RunningApp::Dashboard, Some(DashboardCommand::OpenApp(name))) => {
                if name == bitcoin_app_name(self.network) {
                    self.app = RunningApp::Bitcoin;
                } else if name == "Ethereum" {
                    self.app = RunningApp::Ethereum;
                } else if name == TRON_APP_NAME {
                    self.app = RunningApp::Tron;
                } else {
                    return Response::error(StatusWord::APP_NOT_FOUND);
                }
                Response::ok(Vec::new())
            }
            (RunningApp::Dashboard, Some(DashboardCommand::QuitApp)) => {
                Response::error(StatusWord::INS_NOT_SUPPORTED)
            }
            (_, Some(DashboardCommand::QuitApp)) => {
                self.app = RunningApp::Dashboard;
                self.bitcoin.reset();
                self.ethereum.reset();
                self.tron.reset();
                Response::ok(Vec::new())
            }
            (RunningApp::Dashboard, _) => Response::error(StatusWord::APP_NOT_OPEN),
            (RunningApp::Bitcoin, _) => {
                let mut ui = Ui {
                    approval: &self.approval,
                    prompts: &mut self.prompts,
                };
                let features = AppFeatures::of_version(&self.bitcoin_version);
                self.bitcoin
                    .handle(&self.keys, self.network, features, &mut ui, c)
            }
            (RunningApp::Ethereum, _) => {
                let mut ui = Ui {
                    approval: &self.approval,
                    prompts: &mut self.prompts,
                };
                self.ethereum
                    .handle(&self.keys, &self.ethereum_version, &mut ui, c)
            }
            (RunningApp::Tron, _) => {
                let mut ui = Ui {
                    approval: &self.approval,
                    prompts: &mut self.prompts,
                };
                self.tron.handle(&self.keys, &mut ui, c)
            }
        }
    }
}
