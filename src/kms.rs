//! `por-attest kms keys`: the secp256k1 signing keys of an AWS account and region, the addresses
//! each gives, and why every other key is left out, so the custody team can write the
//! manifest's rows for its hot wallets (the model is `hsm keys`).

use crate::hsm::{print_listing, KeyListing, ListedKey};
use bitcoin::secp256k1::PublicKey;
use por_attest_ceremony::kms::{KeyMetadata, KmsClient, KmsError};
use por_attest_ceremony::manifest::AwsKmsConfig;
use por_attest_ceremony::pkcs11::KeyRef;
use por_attest_verify::chains::Network;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// KMS errors about one key, which leave that key out of a listing.
const KEY_ERRORS: [&str; 4] = [
    "AccessDeniedException",
    "NotFoundException",
    "DisabledException",
    "KMSInvalidStateException",
];

/// How many keys are described at once while listing.
const LISTING_THREADS: usize = 8;

/// One secp256k1 signing key of the account.
#[derive(Debug, Clone)]
pub struct KmsKey {
    /// Its metadata (id, ARN, state, spec, usage, description).
    pub metadata: KeyMetadata,
    /// The aliases that point at it.
    pub aliases: Vec<String>,
    /// Its public key.
    pub public: PublicKey,
}

/// An account's keys in one region (`store`: the endpoint asked): the secp256k1 signing ones,
/// by key id, and why any other is left out.
pub type KmsKeyListing = KeyListing<KmsKey>;

/// Lists the keys of `config`'s region with credentials from the standard AWS chain.
pub fn list_keys(config: &AwsKmsConfig) -> Result<KmsKeyListing, KmsError> {
    list_keys_with(&KmsClient::open(config)?)
}

/// Lists the keys `client` sees: `ListAliases`, `ListKeys`, then `DescribeKey` of each key and
/// `GetPublicKey` of each enabled secp256k1 signing key.
pub fn list_keys_with(client: &KmsClient) -> Result<KmsKeyListing, KmsError> {
    let mut aliases: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (alias, target) in client.list_aliases()? {
        aliases.entry(target).or_default().push(alias);
    }
    let ids = client.list_keys()?;
    let next = Mutex::new(ids.iter());
    let found: Mutex<Vec<Result<KmsKey, String>>> = Mutex::new(Vec::new());
    let first_error: Mutex<Option<KmsError>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..LISTING_THREADS.min(ids.len()) {
            scope.spawn(|| loop {
                let Some((id, _)) = next.lock().unwrap_or_else(|e| e.into_inner()).next() else {
                    break;
                };
                let named = |m: &str| {
                    let a = aliases.get(id).map(|a| a.join(", ")).unwrap_or_default();
                    if a.is_empty() {
                        format!("key {id}: {m}")
                    } else {
                        format!("key {id} ({a}): {m}")
                    }
                };
                let one = client.describe_key(id).and_then(|metadata| {
                    if let Some(why) = metadata.unusable() {
                        return Ok(Err(named(&why)));
                    }
                    let public = client.public_key(id)?.public;
                    Ok(Ok(KmsKey {
                        aliases: aliases.get(id).cloned().unwrap_or_default(),
                        metadata,
                        public,
                    }))
                });
                // A key this caller may not use, or that went away meanwhile, is left out with
                // the reason; anything else (network, credentials) stops the listing.
                let one = match one {
                    Err(e) if e.code().is_some_and(|c| KEY_ERRORS.contains(&c)) => {
                        Ok(Err(named(&e.to_string())))
                    }
                    other => other,
                };
                match one {
                    Ok(r) => found.lock().unwrap_or_else(|e| e.into_inner()).push(r),
                    Err(e) => {
                        *first_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(e);
                        break;
                    }
                }
            });
        }
    });
    if let Some(e) = first_error.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(e);
    }
    let (mut keys, mut skipped) = (Vec::new(), Vec::new());
    for r in found.into_inner().unwrap_or_else(|e| e.into_inner()) {
        match r {
            Ok(k) => keys.push(k),
            Err(s) => skipped.push(s),
        }
    }
    keys.sort_by(|a, b| a.metadata.key_id.cmp(&b.metadata.key_id));
    skipped.sort();
    Ok(KeyListing {
        store: format!("AWS KMS at {}", client.endpoint()),
        keys,
        skipped,
    })
}

impl ListedKey for KmsKey {
    fn key_ref(&self) -> KeyRef {
        KeyRef::Named(self.metadata.key_id.clone())
    }
    fn public(&self) -> PublicKey {
        self.public
    }
    fn details(&self) -> (String, Vec<String>) {
        let aliases = if self.aliases.is_empty() {
            String::new()
        } else {
            format!(" ({})", self.aliases.join(", "))
        };
        let description = &self.metadata.description;
        let more = (!description.is_empty()).then(|| format!("description: {description}"));
        (aliases, more.into_iter().collect())
    }
}

/// `por-attest kms ...`.
#[derive(Debug, clap::Subcommand)]
pub enum KmsCommand {
    /// List the account's secp256k1 signing keys in a region and the addresses each gives per
    /// chain and script type, and why every other key is left out; with --csv, write manifest
    /// address rows (chain,address,script_type,path,signer,key). Credentials come from the
    /// standard AWS chain (environment, profile, container, instance role).
    Keys {
        /// The AWS region (default: AWS_REGION, else AWS_DEFAULT_REGION).
        #[arg(long)]
        region: Option<String>,
        /// The KMS endpoint, when not the region's public one (a VPC endpoint, a test server).
        #[arg(long)]
        endpoint: Option<String>,
        /// The manifest signer id written in the CSV rows.
        #[arg(long, default_value = "kms-1")]
        signer: String,
        /// Write manifest address rows as CSV on stdout.
        #[arg(long)]
        csv: bool,
    },
}

/// Runs a `kms` command; errors go to stderr with exit status 2.
pub fn run(command: KmsCommand) -> std::process::ExitCode {
    use std::process::ExitCode;
    let fail = |e: String| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    };
    match command {
        KmsCommand::Keys {
            region,
            endpoint,
            signer,
            csv,
        } => {
            let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
            let Some(region) = region
                .or_else(|| env("AWS_REGION"))
                .or_else(|| env("AWS_DEFAULT_REGION"))
            else {
                return fail(
                    "kms keys: give --region (or set AWS_REGION or AWS_DEFAULT_REGION)".into(),
                );
            };
            if let Some(e) = &endpoint {
                if let Err(m) = por_attest_ceremony::manifest::check_endpoint(e) {
                    return fail(format!("kms keys: --endpoint {m}"));
                }
            }
            let config = AwsKmsConfig { region, endpoint };
            let network = Network::Mainnet;
            match list_keys(&config) {
                Ok(listing) => {
                    print_listing(
                        &listing.skipped,
                        csv,
                        || listing.to_csv(&signer, network),
                        || listing.to_human(network),
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => fail(format!("kms keys: {e}")),
            }
        }
    }
}
