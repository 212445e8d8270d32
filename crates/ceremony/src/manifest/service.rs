//! The manifest's key-service signers: `kind = "aws-kms"` (an AWS region and, for a VPC or test
//! endpoint, its `endpoint`; credentials come from the standard AWS chain, never from the
//! manifest) and `kind = "command"` (an adapter program speaking the JSON protocol of
//! `docs/signers.md`), and the `key` by which each of their addresses names its key.

use super::raw::{RawCommand, RawSigner};
use super::SignerKind;
use crate::path::parse_path;
use crate::pkcs11::KeyRef;
use por_attest_verify::error::InputError;
use std::path::{Path, PathBuf};

/// Where an `aws-kms` signer's keys are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsKmsConfig {
    /// The AWS region (`eu-west-1`).
    pub region: String,
    /// The KMS endpoint when not the region's public one (a VPC endpoint, a local test
    /// server); `None`: `https://kms.REGION.amazonaws.com`.
    pub endpoint: Option<String>,
}

impl AwsKmsConfig {
    /// The endpoint requests go to.
    pub fn endpoint_url(&self) -> String {
        match &self.endpoint {
            Some(e) => e.trim_end_matches('/').to_string(),
            None if self.region.starts_with("cn-") => {
                format!("https://kms.{}.amazonaws.com.cn", self.region)
            }
            None => format!("https://kms.{}.amazonaws.com", self.region),
        }
    }
}

/// How to start a `command` signer's adapter program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandConfig {
    /// The program: resolved against the manifest's directory when it names a path (has a
    /// `/`), else looked up on `PATH`.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// `command` as written (what the manifest's identity covers).
    written: Vec<String>,
}

/// A key-service signer's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceConfig {
    /// `kind = "aws-kms"`.
    AwsKms(AwsKmsConfig),
    /// `kind = "command"`.
    Command(CommandConfig),
}

/// The fields only key-service signers have.
const SERVICE_FIELDS: [(&str, SignerKind); 3] = [
    ("region", SignerKind::AwsKms),
    ("endpoint", SignerKind::AwsKms),
    ("command", SignerKind::Command),
];

/// Checks the key-service fields of `[[signers]]` entry `s`; `Some` for an `aws-kms` or
/// `command` signer. `err(field, message)` names the field.
pub(super) fn signer_config(
    s: &RawSigner,
    base_dir: &Path,
    err: impl Fn(&str, String) -> InputError,
) -> Result<Option<ServiceConfig>, InputError> {
    let given = [
        s.region.is_some(),
        s.endpoint.is_some(),
        // `command` also names an `hwi` signer's HWI program.
        s.command.is_some() && s.kind != SignerKind::Hwi,
    ];
    for ((field, kind), g) in SERVICE_FIELDS.iter().zip(given) {
        if g && s.kind != *kind {
            return Err(err(
                field,
                if *field == "command" {
                    "only for a signer of kind = \"command\" (the adapter program and its arguments) or \"hwi\" (the HWI program)".into()
                } else {
                    format!("only for a signer of kind = \"{}\"", kind.as_str())
                },
            ));
        }
    }
    if !matches!(s.kind, SignerKind::AwsKms | SignerKind::Command) {
        return Ok(None);
    }
    if s.fingerprint.is_some() {
        return Err(err(
            "fingerprint",
            format!(
                "a {} signer has no BIP-32 seed, so no master fingerprint; its keys are named per address (`key`)",
                s.kind.as_str()
            ),
        ));
    }
    Ok(Some(match s.kind {
        SignerKind::AwsKms => {
            let region = s.region.as_deref().ok_or_else(|| {
                err(
                    "region",
                    "required for an aws-kms signer: the AWS region of its keys, e.g. eu-west-1 (credentials come from the standard AWS chain: environment, profile, instance role; never from the manifest)".into(),
                )
            })?;
            if !is_region(region) {
                return Err(err(
                    "region",
                    format!("`{region}` is not an AWS region name (e.g. eu-west-1)"),
                ));
            }
            let endpoint = match &s.endpoint {
                None => None,
                Some(e) => Some(check_endpoint(e).map_err(|m| err("endpoint", m))?),
            };
            ServiceConfig::AwsKms(AwsKmsConfig {
                region: region.to_string(),
                endpoint,
            })
        }
        _ => {
            let command = s.command.as_ref().map(RawCommand::argv).unwrap_or_default();
            let Some((program, args)) = command.split_first() else {
                return Err(err(
                    "command",
                    "required for a command signer: the adapter program and its arguments, e.g. [\"./gcp-kms-signer\", \"--project\", \"acme\"]".into(),
                ));
            };
            if program.trim().is_empty() {
                return Err(err(
                    "command",
                    "the program (its first item) is empty".into(),
                ));
            }
            ServiceConfig::Command(CommandConfig {
                program: if program.contains('/') {
                    base_dir.join(program)
                } else {
                    PathBuf::from(program)
                },
                args: args.to_vec(),
                written: command.to_vec(),
            })
        }
    }))
}

/// Writes a signer's key-service fields back as the manifest had them.
pub(super) fn write_config(c: Option<&ServiceConfig>, raw: &mut RawSigner) {
    match c {
        None => {}
        Some(ServiceConfig::AwsKms(k)) => {
            raw.region = Some(k.region.clone());
            raw.endpoint = k.endpoint.clone();
        }
        Some(ServiceConfig::Command(c)) => raw.command = Some(RawCommand::Argv(c.written.clone())),
    }
}

/// `eu-west-1`, `us-gov-west-1`, `cn-north-1`: lower-case words joined by `-`, ending in a
/// number.
fn is_region(r: &str) -> bool {
    let parts: Vec<&str> = r.split('-').collect();
    parts.len() >= 3
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty()
}

/// An endpoint URL: `https://HOST[:PORT]`, or plain `http://` to a loopback host only (a local
/// test server): signed requests are not secret, but their answers must not be tampered with.
pub fn check_endpoint(e: &str) -> Result<String, String> {
    let (scheme, rest) = e
        .split_once("://")
        .ok_or_else(|| format!("`{e}` is not a URL (https://HOST[:PORT])"))?;
    let host_port = rest.trim_end_matches('/');
    if host_port.is_empty() || host_port.contains('/') || host_port.contains(char::is_whitespace) {
        return Err(format!(
            "`{e}`: give the endpoint as scheme://HOST[:PORT], without a path"
        ));
    }
    // `[v6]:port`, `[v6]`, `host:port` or `host`.
    let (host, port) = match host_port.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((h, rest)) => (&host_port[..h.len() + 2], rest.strip_prefix(':')),
            None => return Err(format!("`{e}`: unclosed [ in the host")),
        },
        None => match host_port.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        },
    };
    if port.is_some_and(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit())) {
        return Err(format!("`{e}`: the port must be a number"));
    }
    match scheme {
        "https" => Ok(e.to_string()),
        "http" if matches!(host, "127.0.0.1" | "localhost" | "[::1]") => Ok(e.to_string()),
        "http" => Err(format!(
            "`{e}`: plain http only to a loopback test server (127.0.0.1, localhost, [::1]); use https"
        )),
        _ => Err(format!("`{e}`: the scheme must be https")),
    }
}

/// The `key` of an address held by a key-service signer (`aws-kms` or `command`) of region
/// `region` (aws-kms only).
pub(super) fn service_key(
    kind: SignerKind,
    config: Option<&ServiceConfig>,
    key: &str,
) -> Result<KeyRef, String> {
    match (kind, config) {
        (SignerKind::AwsKms, Some(ServiceConfig::AwsKms(c))) => kms_key_name(key, &c.region),
        _ => command_key_name(key),
    }
}

/// An AWS KMS key as a manifest names it: a key id (UUID, or `mrk-` and 32 hex digits for a
/// multi-Region key), `alias/NAME`, or the ARN of a key or alias in the signer's region.
pub fn kms_key_name(key: &str, region: &str) -> Result<KeyRef, String> {
    let is_uuid = |s: &str| {
        let parts: Vec<&str> = s.split('-').collect();
        parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
            && parts
                .iter()
                .all(|p| p.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    let is_mrk = |s: &str| {
        s.strip_prefix("mrk-")
            .is_some_and(|h| h.len() == 32 && h.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    let is_key_id = |s: &str| is_uuid(s) || is_mrk(s);
    let alias_problem = |name: &str| -> Option<String> {
        if name.is_empty() || name.len() > 250 {
            Some("an alias name has 1 to 250 characters after alias/".into())
        } else if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_-".contains(&b))
        {
            Some("an alias name has only letters, digits, /, _ and -".into())
        } else if name.starts_with("aws/") {
            Some("alias/aws/… names an AWS managed key, which is symmetric and cannot sign".into())
        } else {
            None
        }
    };
    let usage = "an AWS KMS key is named by its key id (a UUID), alias/NAME, or the ARN of the key or alias";
    let problem = if let Some(name) = key.strip_prefix("alias/") {
        alias_problem(name)
    } else if let Some(arn) = key.strip_prefix("arn:") {
        let parts: Vec<&str> = arn.splitn(5, ':').collect();
        match parts.as_slice() {
            [partition, "kms", arn_region, account, resource]
                if partition.starts_with("aws")
                    && account.len() == 12
                    && account.bytes().all(|b| b.is_ascii_digit()) =>
            {
                if *arn_region != region {
                    Some(format!(
                        "the ARN is of region {arn_region}, but the signer's region is {region}"
                    ))
                } else if let Some(id) = resource.strip_prefix("key/") {
                    (!is_key_id(id)).then(|| format!("`{id}` is not a key id"))
                } else if let Some(name) = resource.strip_prefix("alias/") {
                    alias_problem(name)
                } else {
                    Some("the ARN's resource must be key/ID or alias/NAME".into())
                }
            }
            _ => Some("not a KMS ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)".into()),
        }
    } else if is_key_id(key) {
        None
    } else {
        Some(usage.into())
    };
    match problem {
        None => Ok(KeyRef::Named(key.to_string())),
        Some(p) if p == usage => Err(format!("`{key}`: {usage}")),
        Some(p) => Err(format!("`{key}`: {p} ({usage})")),
    }
}

/// A `command` signer's key name: printable ASCII without spaces, at most 256 characters, that
/// neither looks like a derivation path nor a PKCS#11 `id:` / `label:` name (the journal tells
/// keys from paths by their spelling).
pub fn command_key_name(key: &str) -> Result<KeyRef, String> {
    if key.is_empty() || key.len() > 256 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "`{key}`: a command signer's key name is 1 to 256 printable ASCII characters without spaces"
        ));
    }
    if key.starts_with("id:") || key.starts_with("label:") || parse_path(key).is_ok() {
        return Err(format!(
            "`{key}` reads as a derivation path or a PKCS#11 key name: give the adapter's keys names that do not (e.g. key-1)"
        ));
    }
    Ok(KeyRef::Named(key.to_string()))
}

/// True for a key name that [`kms_key_name`] or [`command_key_name`] accepts (in some
/// region): how the journal tells such a key from a derivation path.
pub fn is_service_key_name(key: &str) -> bool {
    command_key_name(key).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn kms_key_names() {
        let ok = [
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            "mrk-1234abcd12ab34cd56ef1234567890ab",
            "alias/hot-1",
            "alias/custody/hot_2",
            "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:eu-west-1:111122223333:alias/hot-1",
        ];
        for k in ok {
            assert_eq!(
                kms_key_name(k, "eu-west-1"),
                Ok(KeyRef::Named(k.into())),
                "{k}"
            );
            assert!(is_service_key_name(k), "{k}");
        }
        for (k, needle) in [
            ("hot-1", "key id (a UUID), alias/NAME"),
            ("alias/", "1 to 250"),
            ("alias/hot 1", "only letters"),
            ("alias/aws/ebs", "AWS managed key"),
            (
                "arn:aws:kms:us-east-1:111122223333:alias/hot-1",
                "region us-east-1, but the signer's region is eu-west-1",
            ),
            ("arn:aws:kms:eu-west-1:1111:key/x", "not a KMS ARN"),
            (
                "arn:aws:kms:eu-west-1:111122223333:key/x",
                "`x` is not a key id",
            ),
            ("1234abcd-12ab-34cd-56ef", "key id (a UUID)"),
        ] {
            let e = kms_key_name(k, "eu-west-1").unwrap_err();
            assert!(e.contains(needle), "{k}: {e}");
        }
    }

    #[test]
    fn command_key_names() {
        assert_eq!(
            command_key_name(
                "projects/p/locations/global/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1"
            ),
            Ok(KeyRef::Named(
                "projects/p/locations/global/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1".into()
            ))
        );
        for bad in ["", "a b", "m/0", "44'/0'", "7", "id:01", "label:x", "é"] {
            assert!(command_key_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn regions_and_endpoints() {
        for r in ["eu-west-1", "us-gov-west-1", "cn-north-1", "ap-southeast-4"] {
            assert!(is_region(r), "{r}");
        }
        for r in ["eu-west", "EU-west-1", "euwest1", "eu--1", "eu-west-1a"] {
            assert!(!is_region(r), "{r}");
        }
        for e in [
            "https://kms.eu-west-1.amazonaws.com",
            "https://vpce-1.kms.eu-west-1.vpce.amazonaws.com:443",
            "http://127.0.0.1:4566",
            "http://localhost:4566/",
            "http://[::1]:4566",
        ] {
            assert_eq!(check_endpoint(e).as_deref(), Ok(e), "{e}");
        }
        for (e, needle) in [
            ("http://10.0.0.1:4566", "loopback"),
            ("ftp://x", "scheme must be https"),
            ("kms.eu-west-1.amazonaws.com", "not a URL"),
            ("https://x/path", "without a path"),
            ("https://x:port", "port must be a number"),
        ] {
            let m = check_endpoint(e).unwrap_err();
            assert!(m.contains(needle), "{e}: {m}");
        }
        let c = AwsKmsConfig {
            region: "cn-north-1".into(),
            endpoint: None,
        };
        assert_eq!(c.endpoint_url(), "https://kms.cn-north-1.amazonaws.com.cn");
    }

    use super::super::Manifest;

    const ETH: &str = "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf";

    fn text(signers: &str, key: &str, signer: &str) -> String {
        format!(
            "entity = \"Acme\"\nsnapshot_id = \"2026-12\"\n\n[anchors.ETH]\nheight = 2\nblock_hash = \"0xbb\"\n\n\
             [[signers]]\nid = \"ledger-a\"\nkind = \"ledger\"\n\n{signers}\n\
             [[addresses]]\nchain = \"ETH\"\naddress = \"{ETH}\"\nsigner = \"{signer}\"\nkey = \"{key}\"\n"
        )
    }

    const KMS: &str = "[[signers]]\nid = \"kms-1\"\nkind = \"aws-kms\"\nregion = \"eu-west-1\"\n";
    const CMD: &str = "[[signers]]\nid = \"mpc-1\"\nkind = \"command\"\ncommand = [\"bin/adapter\", \"--vault\", \"hot\"]\n";

    fn load(t: &str) -> Result<Manifest, String> {
        Manifest::from_str(t, "m.toml", "/etc/por").map_err(|e| e.to_string())
    }

    #[test]
    fn key_service_signers_load_and_write_back() {
        let m = load(&text(&format!("{KMS}\n{CMD}"), "alias/hot-1", "kms-1")).unwrap();
        assert_eq!(
            m.signer("kms-1").unwrap().service,
            Some(ServiceConfig::AwsKms(AwsKmsConfig {
                region: "eu-west-1".into(),
                endpoint: None
            }))
        );
        let Some(ServiceConfig::Command(c)) = &m.signer("mpc-1").unwrap().service else {
            panic!("a command signer")
        };
        assert_eq!(c.program, Path::new("/etc/por/bin/adapter"));
        assert_eq!(c.args, ["--vault", "hot"]);
        assert_eq!(
            m.addresses[0].key,
            Some(KeyRef::Named("alias/hot-1".into()))
        );
        assert_eq!(
            m.tasks_for("kms-1").next().unwrap().key().path,
            "alias/hot-1"
        );
        // Written back as written; the key and the service are part of the identity.
        let again = Manifest::from_str(&m.to_toml(), "m2.toml", "/elsewhere").unwrap();
        assert_eq!(again.identity_digest(), m.identity_digest());
        assert!(
            m.to_toml().contains("command = [\"bin/adapter\""),
            "{}",
            m.to_toml()
        );
        let other = load(&text(&format!("{KMS}\n{CMD}"), "alias/hot-2", "kms-1")).unwrap();
        assert_ne!(other.identity_digest(), m.identity_digest());
        let moved = load(&text(
            &format!("{}\n{CMD}", KMS.replace("eu-west-1", "eu-central-1")),
            "alias/hot-1",
            "kms-1",
        ))
        .unwrap();
        assert_ne!(moved.identity_digest(), m.identity_digest());
        // A command signer's key.
        let m = load(&text(&format!("{KMS}\n{CMD}"), "vault/hot-7", "mpc-1")).unwrap();
        assert_eq!(
            m.addresses[0].key,
            Some(KeyRef::Named("vault/hot-7".into()))
        );
    }

    #[test]
    fn refuses_bad_key_service_signers_and_keys() {
        for (signers, key, signer, needles) in [
            (
                "[[signers]]\nid = \"kms-1\"\nkind = \"aws-kms\"\n",
                "alias/hot-1",
                "kms-1",
                &["signers[1].region", "required", "never from the manifest"][..],
            ),
            (
                &format!("{KMS}endpoint = \"http://10.1.2.3:4566\"\n") as &str,
                "alias/hot-1",
                "kms-1",
                &["signers[1].endpoint", "loopback"],
            ),
            (
                &format!("{KMS}fingerprint = \"f5acc2fd\"\n"),
                "alias/hot-1",
                "kms-1",
                &["signers[1].fingerprint", "no BIP-32 seed"],
            ),
            (
                &format!("{KMS}command = [\"x\"]\n"),
                "alias/hot-1",
                "kms-1",
                &[
                    "signers[1].command",
                    "only for a signer of kind = \"command\"",
                ],
            ),
            (
                "[[signers]]\nid = \"mpc-1\"\nkind = \"command\"\nregion = \"eu-west-1\"\n",
                "k",
                "mpc-1",
                &[
                    "signers[1].region",
                    "only for a signer of kind = \"aws-kms\"",
                ],
            ),
            (
                "[[signers]]\nid = \"mpc-1\"\nkind = \"command\"\ncommand = []\n",
                "k",
                "mpc-1",
                &["signers[1].command", "required"],
            ),
            (
                KMS,
                "hot-1",
                "kms-1",
                &["entry 1", "field `key`", "alias/NAME"],
            ),
            (
                KMS,
                "arn:aws:kms:us-east-1:111122223333:alias/hot-1",
                "kms-1",
                &["field `key`", "region us-east-1"],
            ),
            (CMD, "m/0", "mpc-1", &["field `key`", "derivation path"]),
            (CMD, "", "mpc-1", &["field `key`"]),
            (
                KMS,
                "alias/hot-1",
                "ledger-a",
                &["field `key`", "only for addresses held by"],
            ),
        ] {
            let e = load(&text(signers, key, signer)).expect_err(key);
            for n in needles {
                assert!(e.contains(n), "`{n}` not in: {e}");
            }
        }
        // No path on a key-service address; no P2TR.
        let t = text(KMS, "alias/hot-1", "kms-1").replace(
            "key = \"alias/hot-1\"",
            "key = \"alias/hot-1\"\npath = \"m/44'/60'/0'/0/0\"",
        );
        let e = load(&t).unwrap_err();
        assert!(
            e.contains("field `path`") && e.contains("is an aws-kms signer"),
            "{e}"
        );
    }
}
