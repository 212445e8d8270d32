//! Writing a manifest back: canonical TOML (inline or with a CSV) and the identity digest that
//! journals are bound to.

use super::raw::{self, RawAddress, RawCosigner, RawManifest, RawOwner, RawSigner};
use super::*;
use sha2::{Digest, Sha256};

impl Manifest {
    fn to_raw(&self) -> RawManifest {
        let addresses = self
            .addresses
            .iter()
            .map(|a| {
                let ms = a.multisig.as_ref();
                RawAddress {
                    chain: Some(a.chain.clone()),
                    network: Some(a.network),
                    address: Some(a.address.clone()),
                    script_type: a.script_type,
                    path: a.path.as_ref().map(path_string),
                    signer: a.signer.clone(),
                    key: a.key.as_ref().map(|k| k.to_string()),
                    wallet: a.wallet.clone(),
                    balance: a.balance.clone(),
                    allow_nonstandard_path: a.allow_nonstandard_path.then_some(true),
                    threshold: ms.map(|m| m.threshold),
                    sorted: ms.map(|m| m.sorted),
                    child: ms.and_then(|m| m.child.as_ref()).map(|c| c.to_string()),
                    cosigners: ms.map(|m| {
                        m.cosigners
                            .iter()
                            .map(|c| RawCosigner {
                                signer: c.signer.clone(),
                                xpub: c.xpub.map(|x| x.to_string()),
                                pubkey: c.xpub.is_none().then(|| c.pubkey.to_string()),
                                path: if c.xpub.is_some() {
                                    c.origin_path.as_ref().map(path_string)
                                } else {
                                    c.full_path.as_ref().map(path_string)
                                },
                            })
                            .collect()
                    }),
                    tokens: (!a.tokens.is_empty()).then(|| a.tokens.clone()),
                    contract_wallet: a.contract_wallet.as_ref().map(|w| w.kind),
                    owners: a.contract_wallet.as_ref().map(|w| {
                        w.owners
                            .iter()
                            .map(|o| RawOwner {
                                signer: o.signer.clone(),
                                path: o.path.as_ref().map(path_string),
                                address: Some(o.address.clone()),
                            })
                            .collect()
                    }),
                }
            })
            .collect();
        RawManifest {
            entity: self.entity.clone(),
            snapshot_id: self.snapshot_id.clone(),
            test: self.test,
            message_template: Some(self.template.as_str().to_string()),
            account_template: (!self.accounts.is_empty())
                .then(|| self.account_template.as_str().to_string()),
            created_at: self.created_at.clone(),
            addresses_csv: None,
            anchors: self.anchors.clone(),
            signers: self
                .signers
                .iter()
                .map(|s| {
                    let mut raw = RawSigner {
                        id: s.id.clone(),
                        kind: s.kind,
                        fingerprint: s.fingerprint.map(|f| f.to_string()),
                        module: None,
                        token: None,
                        token_serial: None,
                        pin_env: None,
                        pin_file: None,
                        region: None,
                        endpoint: None,
                        command: None,
                        pin: None,
                        device_type: None,
                        device_path: None,
                        timeout_seconds: None,
                        bip322: None,
                    };
                    hsm::write_config(s.pkcs11.as_ref(), &mut raw);
                    hwi::write_config(s.hwi.as_ref(), &mut raw);
                    service::write_config(s.service.as_ref(), &mut raw);
                    raw
                })
                .collect(),
            addresses,
            accounts: self.accounts_to_raw(),
        }
    }

    /// The manifest as TOML with every address inline; loading it gives the same manifest.
    pub fn to_toml(&self) -> String {
        toml::to_string(&self.to_raw()).expect("a manifest serializes to TOML")
    }

    /// The manifest as TOML pointing at `csv_name`, and the CSV text of its addresses (write
    /// both, the CSV next to the TOML); loading them gives the same manifest.
    pub fn to_toml_with_csv(&self, csv_name: &str) -> (String, String) {
        let mut raw = self.to_raw();
        let addresses = std::mem::take(&mut raw.addresses);
        raw.addresses_csv = Some(csv_name.to_string());
        (
            toml::to_string(&raw).expect("a manifest serializes to TOML"),
            raw::write_csv(&addresses),
        )
    }

    /// SHA-256 of the manifest's canonical content: the compact JSON of every field after
    /// validation (defaults filled in, CSV rows inline, paths in `m/84'/…` form). The same
    /// manifest written inline or with a CSV, with or without defaults spelled out, has the same
    /// digest; any change to any field (even a balance) gives another.
    pub fn identity_digest(&self) -> [u8; 32] {
        let json = serde_json::to_vec(&self.to_raw()).expect("a manifest serializes to JSON");
        Sha256::digest(&json).into()
    }

    /// The identity written at the top of journals.
    pub fn identity(&self) -> ManifestIdentity {
        ManifestIdentity {
            entity: self.entity.clone(),
            snapshot_id: self.snapshot_id.clone(),
            manifest_digest: por_attest_verify::snapshot::format_digest(&self.identity_digest()),
        }
    }
}
