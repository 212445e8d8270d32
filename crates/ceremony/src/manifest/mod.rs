//! The ceremony manifest: who signs which reserve address, at which path, for which snapshot.
//!
//! Written by the custody team in TOML (see `docs/manifest.md`); large address lists may come
//! from a CSV file the manifest points to. [`Manifest::load`] reads and validates everything up
//! front — every address parses for its network, its script type matches, every multisig
//! script is rebuilt from the cosigners' keys and must hash to the stated address — so that the
//! ceremony never starts on a manifest that could make a device sign for the wrong thing.
//! Errors are [`InputError`](por_attest_verify::error::InputError)s naming the file, the entry
//! (number, address, CSV line) and field.
//!
//! The model is here; `load` reads and validates, `tasks` lists the signatures to obtain,
//! `write` writes the manifest back and digests it, `account` and `hsm` hold their kinds.

mod account;
mod hsm;
mod hwi;
mod load;
mod raw;
mod service;
mod tasks;
mod write;

pub use hsm::Pkcs11Config;
pub use hwi::{HwiConfig, DEFAULT_HWI_TIMEOUT, HWI_DEVICE_TYPES};
pub use service::{
    check_endpoint, command_key_name, is_service_key_name, kms_key_name, AwsKmsConfig,
    CommandConfig, ServiceConfig,
};

pub use crate::path::{parse_path, path_string};
pub use crate::time::is_rfc3339;
pub use account::{
    unknown_fingerprint, AccountAddressSpec, AccountCosigner, AccountMultisig, AccountSpec,
    AccountTask, MAX_ACCOUNT_ADDRESSES,
};
use bitcoin::bip32::{DerivationPath, Fingerprint, Xpub};
use bitcoin::{PublicKey, ScriptBuf};
use load::{is_decimal, is_printable_line, script_keys, Ctx};
use por_attest_verify::chains::{ChainFamily, Network, ScriptType};
use por_attest_verify::message::{MessageFields, Template};
use por_attest_verify::snapshot::{Anchor, ContractWallet, TokenHolding};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
pub use tasks::{SigningTask, TaskKey};

/// What kind of device a signer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignerKind {
    /// A Ledger device (USB, or Speculos over TCP during rehearsals).
    Ledger,
    /// The built-in simulated Ledger; only allowed when the manifest says `test = true`.
    Simulator,
    /// A PKCS#11 token (an HSM) holding single secp256k1 keys, named per address by `key`.
    Pkcs11,
    /// A Coldcard signing through files on its SD card (PSBTs and text-file messages).
    Coldcard,
    /// Any BIP-174 signer signing PSBT files (SD card or QR codes).
    Psbt,
    /// A hardware wallet driven through HWI (Trezor, BitBox02, Jade, KeepKey, Coldcard, Ledger).
    Hwi,
    /// AWS KMS secp256k1 keys (`ECC_SECG_P256K1`), named per address by `key` (key id, ARN or
    /// `alias/NAME`).
    #[serde(rename = "aws-kms")]
    AwsKms,
    /// Any service that signs digests, through an adapter program speaking the `command`
    /// protocol (docs/signers.md); its keys named per address by `key`.
    Command,
}

impl SignerKind {
    /// The kind as the manifest spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            SignerKind::Ledger => "ledger",
            SignerKind::Simulator => "simulator",
            SignerKind::Pkcs11 => "pkcs11",
            SignerKind::Coldcard => "coldcard",
            SignerKind::Psbt => "psbt",
            SignerKind::Hwi => "hwi",
            SignerKind::AwsKms => "aws-kms",
            SignerKind::Command => "command",
        }
    }

    /// True for a signer that holds single keys named per address by `key` (no BIP-32 seed):
    /// an HSM or a key service.
    pub fn keys_by_name(self) -> bool {
        matches!(
            self,
            SignerKind::Pkcs11 | SignerKind::AwsKms | SignerKind::Command
        )
    }
}

/// One signing device of the ceremony.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    /// The id addresses refer to.
    pub id: String,
    /// Ledger, simulator or PKCS#11 token.
    pub kind: SignerKind,
    /// The expected BIP-32 master fingerprint of the device's seed (required when a Ledger
    /// signer holds a Bitcoin key).
    pub fingerprint: Option<Fingerprint>,
    /// A `pkcs11` signer: the module, the token and the PIN's source.
    pub pkcs11: Option<Pkcs11Config>,
    /// An `hwi` signer: the device and the HWI program.
    pub hwi: Option<HwiConfig>,
    /// An `aws-kms` or `command` signer: where its keys are.
    pub service: Option<ServiceConfig>,
}

/// Where an address entry was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// An `[[addresses]]` table of the manifest.
    Inline,
    /// A row of the address CSV.
    Csv {
        /// The CSV file.
        file: PathBuf,
        /// The 1-based line of the row.
        line: u64,
    },
}

/// One reserve address and how it is proven.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressSpec {
    /// 0-based position among all addresses (inline ones first, then CSV rows).
    pub index: usize,
    /// Chain ticker as written (`BTC`, `ETH`, `ARB`, `TRX`, ...); has an anchor.
    pub chain: String,
    /// The chain's family.
    pub family: ChainFamily,
    /// Network (default mainnet).
    pub network: Network,
    /// The address as written.
    pub address: String,
    /// Bitcoin only: the script type.
    pub script_type: Option<ScriptType>,
    /// Single-key: the derivation path of the key.
    pub path: Option<DerivationPath>,
    /// Single-key: the signer holding the key.
    pub signer: Option<String>,
    /// Single-key on a signer that names its keys (`pkcs11`, `aws-kms`, `command`): the key
    /// (instead of a path).
    pub key: Option<crate::pkcs11::KeyRef>,
    /// Wallet label such as `cold` or `hot`.
    pub wallet: Option<String>,
    /// Balance as a decimal string in the chain's main unit.
    pub balance: Option<String>,
    /// True when the path was allowed to depart from the standard for its script/chain.
    pub allow_nonstandard_path: bool,
    /// Multisig: threshold, cosigners and the script.
    pub multisig: Option<MultisigSpec>,
    /// EVM: token balances held beside the native one.
    pub tokens: Vec<TokenHolding>,
    /// EVM: the address is a contract wallet, signed for by its owners.
    pub contract_wallet: Option<ContractWalletSpec>,
    /// Where the entry was written (for messages).
    pub origin: Origin,
}

/// A contract-wallet address (a Safe): each owner signs its message with the owner's key; who
/// its owners are and its threshold are on-chain state, checked by `verify --node`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractWalletSpec {
    /// The kind of contract.
    pub kind: ContractWallet,
    /// The owners, in manifest order.
    pub owners: Vec<WalletOwner>,
}

/// One owner of a contract wallet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletOwner {
    /// The owner address (0x-hex, as written).
    pub address: String,
    /// The signer holding its key; `None` for an owner outside this ceremony.
    pub signer: Option<String>,
    /// The key's derivation path on that signer.
    pub path: Option<DerivationPath>,
}

/// A multisig address: `threshold`-of-`cosigners.len()` CHECKMULTISIG script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultisigSpec {
    /// Signatures required.
    pub threshold: u32,
    /// True for sortedmulti (keys in BIP-67 order), false for the cosigners' order.
    pub sorted: bool,
    /// The unhardened steps below each cosigner's xpub (e.g. `0/5`); `None` when every
    /// cosigner gives a plain public key.
    pub child: Option<DerivationPath>,
    /// The cosigners, in manifest order.
    pub cosigners: Vec<Cosigner>,
    /// The redeem script (P2SH) or witness script (P2WSH, P2SH-P2WSH); it hashes to the address.
    pub script: ScriptBuf,
}

impl MultisigSpec {
    /// The public keys in the order the script holds them.
    pub fn script_keys(&self) -> Vec<PublicKey> {
        script_keys(self.cosigners.iter().map(|c| c.pubkey), self.sorted)
    }
}

/// One key of a multisig address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosigner {
    /// The signer holding the key; `None` for a key held outside this ceremony.
    pub signer: Option<String>,
    /// With an xpub: the xpub's origin path (e.g. `m/48'/0'/0'/2'`).
    pub origin_path: Option<DerivationPath>,
    /// The account xpub, when the key was given that way.
    pub xpub: Option<Xpub>,
    /// The key in the script (derived from xpub + child, or given).
    pub pubkey: PublicKey,
    /// The full derivation path of `pubkey` (origin + child, or as given); the path the device
    /// signs with.
    pub full_path: Option<DerivationPath>,
}

/// The identity of a manifest, written at the top of each journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestIdentity {
    /// The entity.
    pub entity: String,
    /// The snapshot id.
    pub snapshot_id: String,
    /// `sha256:<hex>` of the manifest's canonical content ([`Manifest::identity_digest`]).
    pub manifest_digest: String,
}

impl AddressSpec {
    /// How a single-key address's key is named on its signer, as journals and messages write
    /// it: the canonical derivation path (`m/84'/0'/0'/0/5`) of a Ledger key, or the HSM key
    /// (`id:01`, `label:hot-1`). `None` for a multisig address.
    pub fn key_name(&self) -> Option<String> {
        match (&self.key, &self.path) {
            (Some(k), _) => Some(k.to_string()),
            (None, Some(p)) => Some(path_string(p)),
            (None, None) => None,
        }
    }
}

/// A validated manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The file it was read from (for messages).
    pub file: PathBuf,
    /// The exchange or custodian.
    pub entity: String,
    /// The snapshot id.
    pub snapshot_id: String,
    /// True for a test/rehearsal manifest (required to use simulator signers).
    pub test: bool,
    template: Template,
    /// Creation time of the snapshot (RFC 3339), if fixed by the manifest.
    pub created_at: Option<String>,
    /// Per chain ticker, the block the snapshot is anchored at.
    pub anchors: BTreeMap<String, Anchor>,
    /// The signers.
    pub signers: Vec<Signer>,
    /// The reserve addresses, inline ones first, then CSV rows.
    pub addresses: Vec<AddressSpec>,
    account_template: Template,
    /// The accounts (HD accounts and multisig wallets attested by their extended keys).
    pub accounts: Vec<AccountSpec>,
}

impl Manifest {
    /// The message template.
    pub fn template(&self) -> &Template {
        &self.template
    }

    /// The account message template.
    pub fn account_template(&self) -> &Template {
        &self.account_template
    }

    /// The signer with this id.
    pub fn signer(&self, id: &str) -> Option<&Signer> {
        self.signers.iter().find(|s| s.id == id)
    }

    /// The anchor of a chain.
    pub fn anchor(&self, chain: &str) -> Option<&Anchor> {
        self.anchors.get(chain)
    }

    /// The message an address signs.
    pub fn render_message(&self, spec: &AddressSpec) -> String {
        let anchor = self
            .anchors
            .get(&spec.chain)
            .expect("every address's chain has an anchor (checked on load)");
        self.template.render(&MessageFields::new(
            &self.entity,
            &self.snapshot_id,
            &spec.chain,
            &spec.address,
            anchor,
        ))
    }
}

#[cfg(test)]
mod tests;
