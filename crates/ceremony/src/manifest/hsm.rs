//! The manifest's PKCS#11 parts: a `kind = "pkcs11"` signer (module, token, where the PIN
//! comes from) and the `key` of each address it holds.

use super::raw::{RawAddress, RawSigner};
use super::{AddressSpec, Ctx, Signer, SignerKind};
use crate::pkcs11::{KeyRef, PinSource, TokenRef};
use por_attest_verify::chains::ScriptType;
use por_attest_verify::error::InputError;
use std::path::{Path, PathBuf};

/// Where a `pkcs11` signer's keys are: the module, the token and how to get the user PIN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pkcs11Config {
    /// The PKCS#11 module library, as written (e.g. `/usr/lib/softhsm/libsofthsm2.so`).
    pub module: PathBuf,
    /// The token, by label or serial.
    pub token: TokenRef,
    /// The user PIN's source; a `pin_file` is resolved against the manifest's directory.
    pub pin: PinSource,
    /// `pin_file` as written (what the manifest's identity covers).
    pin_file_written: Option<String>,
}

/// The fields only a `pkcs11` signer has, in the order of the docs.
const PKCS11_FIELDS: [&str; 5] = ["module", "token", "token_serial", "pin_env", "pin_file"];

/// Checks the PKCS#11 fields of `[[signers]]` entry `s`; `Some` for a `pkcs11` signer.
/// `err(field, message)` names the field.
pub(super) fn signer_config(
    s: &RawSigner,
    base_dir: &Path,
    err: impl Fn(&str, String) -> InputError,
) -> Result<Option<Pkcs11Config>, InputError> {
    if s.pin.is_some() {
        return Err(err(
            "pin",
            "the PIN is never written in the manifest: name an environment variable (pin_env) or a file (pin_file) that holds it".into(),
        ));
    }
    let given = [
        s.module.is_some(),
        s.token.is_some(),
        s.token_serial.is_some(),
        s.pin_env.is_some(),
        s.pin_file.is_some(),
    ];
    if s.kind != SignerKind::Pkcs11 {
        if let Some((field, _)) = PKCS11_FIELDS.iter().zip(given).find(|(_, g)| *g) {
            return Err(err(field, "only for a signer of kind = \"pkcs11\"".into()));
        }
        return Ok(None);
    }
    if s.fingerprint.is_some() {
        return Err(err(
            "fingerprint",
            "a pkcs11 signer has no BIP-32 seed, so no master fingerprint; its keys are named per address (`key`)".into(),
        ));
    }
    let nonempty = |field: &str, v: &Option<String>| -> Result<Option<String>, InputError> {
        match v {
            Some(t) if t.trim().is_empty() => Err(err(field, "is empty".into())),
            other => Ok(other.clone()),
        }
    };
    let module = nonempty("module", &s.module)?.ok_or_else(|| {
        err(
            "module",
            "required for a pkcs11 signer: the path of the token's PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so".into(),
        )
    })?;
    let token = match (
        nonempty("token", &s.token)?,
        nonempty("token_serial", &s.token_serial)?,
    ) {
        (Some(l), None) => TokenRef::Label(l),
        (None, Some(serial)) => TokenRef::Serial(serial),
        _ => {
            return Err(err(
                "token",
                "give exactly one of `token` (the token's label) and `token_serial`".into(),
            ))
        }
    };
    let pin = match (
        nonempty("pin_env", &s.pin_env)?,
        nonempty("pin_file", &s.pin_file)?,
    ) {
        (Some(var), None) => PinSource::Env(var),
        (None, Some(file)) => PinSource::File(base_dir.join(file)),
        _ => {
            return Err(err(
                "pin_env",
                "give exactly one of `pin_env` (an environment variable holding the user PIN) and `pin_file` (a file holding it)".into(),
            ))
        }
    };
    Ok(Some(Pkcs11Config {
        module: PathBuf::from(module),
        token,
        pin,
        pin_file_written: s.pin_file.clone(),
    }))
}

/// Writes a signer's PKCS#11 fields back as the manifest had them.
pub(super) fn write_config(c: Option<&Pkcs11Config>, raw: &mut RawSigner) {
    let Some(c) = c else { return };
    raw.module = Some(c.module.display().to_string());
    match &c.token {
        TokenRef::Label(l) => raw.token = Some(l.clone()),
        TokenRef::Serial(s) => raw.token_serial = Some(s.clone()),
    }
    match &c.pin {
        PinSource::Env(v) => raw.pin_env = Some(v.clone()),
        PinSource::File(_) => raw.pin_file = c.pin_file_written.clone(),
    }
}

/// What a signer that names its keys is, for messages: `a pkcs11 HSM`, `an aws-kms signer`.
fn what(signer: &Signer) -> String {
    match signer.kind {
        SignerKind::Pkcs11 => "a pkcs11 HSM".into(),
        SignerKind::AwsKms => "an aws-kms signer".into(),
        k => format!("a {} signer", k.as_str()),
    }
}

/// Checks a single-key address held by `signer`, a signer that names its keys (`pkcs11`,
/// `aws-kms`, `command`), and stores its key.
pub(super) fn hsm_address(
    a: &RawAddress,
    spec: &mut AddressSpec,
    signer: &Signer,
    ctx: &Ctx<'_>,
) -> Result<(), InputError> {
    let (id, what) = (&signer.id, what(signer));
    let key_spelling = match signer.kind {
        SignerKind::Pkcs11 => "id:HEX (the key's CKA_ID) or label:TEXT (its CKA_LABEL)",
        SignerKind::AwsKms => "the KMS key id, its ARN or alias/NAME",
        _ => "the adapter's name for the key",
    };
    if a.path.is_some() {
        return Err(ctx.err(
            "path",
            format!(
                "signer `{id}` is {what}: its keys have no derivation path; name the key with `key` ({key_spelling}) and leave `path` empty"
            ),
        ));
    }
    if a.allow_nonstandard_path.is_some() {
        return Err(ctx.err(
            "allow_nonstandard_path",
            format!("has no use on a key of {what}, which has no derivation path"),
        ));
    }
    if spec.script_type == Some(ScriptType::P2tr) {
        return Err(ctx.err(
            "script_type",
            format!(
                "signer `{id}` is {what}: a P2TR address is proven by a BIP-340 Schnorr signature (BIP-322), which {} (they sign ECDSA{}); prove P2TR reserves on a Ledger",
                match signer.kind {
                    SignerKind::Pkcs11 => "PKCS#11 tokens do not make",
                    SignerKind::AwsKms => "AWS KMS does not make",
                    _ => "a command signer does not make",
                },
                if signer.kind == SignerKind::Pkcs11 { ", CKM_ECDSA" } else { "" }
            ),
        ));
    }
    let key = a.key.as_deref().ok_or_else(|| {
        ctx.err(
            "key",
            format!(
                "required for an address of {} signer `{id}`: {key_spelling}",
                signer.kind.as_str()
            ),
        )
    })?;
    spec.key = Some(
        match signer.kind {
            SignerKind::Pkcs11 => key.parse::<KeyRef>(),
            kind => super::service::service_key(kind, signer.service.as_ref(), key),
        }
        .map_err(|m| ctx.err("key", m))?,
    );
    spec.signer = Some(signer.id.clone());
    Ok(())
}

/// The error for a `key` on an address whose signer is not one that names its keys.
pub(super) fn key_without_hsm(ctx: &Ctx<'_>) -> InputError {
    ctx.err(
        "key",
        "only for addresses held by a pkcs11 signer (or an aws-kms or command signer; a Ledger key is named by `path`)",
    )
}

/// The error for a multisig cosigner or an account held by a signer that names its keys.
pub(super) fn hsm_not_single_key(ctx: &Ctx<'_>, field: &str, signer: &Signer) -> InputError {
    ctx.err(
        field,
        format!("signer `{}` is {}, which signs single-key addresses only (it has no extended keys); a multisig cosigner or an account must be held by a Ledger (or, for a cosigner, by no signer of this ceremony)", signer.id, what(signer)),
    )
}

#[cfg(test)]
mod tests {
    use super::super::Manifest;
    use crate::pkcs11::{KeyRef, PinSource, TokenRef};
    use std::path::Path;

    /// The addresses of the private key 1 (the generator point).
    const P2WPKH: &str = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4";
    const ETH: &str = "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf";
    const TRX: &str = "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC";

    fn text(signer_extra: &str, address_extra: &str) -> String {
        format!(
            r#"entity = "Acme"
snapshot_id = "2026-12"

[anchors.BTC]
height = 1
block_hash = "00aa"

[anchors.ETH]
height = 2
block_hash = "0xbb"

[anchors.TRX]
height = 3
block_hash = "cc"

[[signers]]
id = "ledger-a"
kind = "ledger"
fingerprint = "f5acc2fd"

[[signers]]
id = "hsm-1"
kind = "pkcs11"
module = "/usr/lib/softhsm/libsofthsm2.so"
{signer_extra}

[[addresses]]
chain = "BTC"
address = "{P2WPKH}"
script_type = "p2wpkh"
signer = "hsm-1"
key = "id:01"

[[addresses]]
chain = "ETH"
address = "{ETH}"
signer = "hsm-1"
key = "label:hot 1"
{address_extra}
"#
        )
    }

    const GOOD: &str = "token = \"hot\"\npin_env = \"POR_ATTEST_PIN\"";

    fn load(t: &str) -> Result<Manifest, String> {
        Manifest::from_str(t, "m.toml", "/etc/por").map_err(|e| e.to_string())
    }

    fn refused(signer_extra: &str, address_extra: &str, needles: &[&str]) -> String {
        let e = load(&text(signer_extra, address_extra)).expect_err("must be refused");
        for n in needles {
            assert!(e.contains(n), "`{n}` not in: {e}");
        }
        e
    }

    #[test]
    fn pkcs11_signer_and_its_keys() {
        let m = load(&text(GOOD, "")).unwrap();
        let s = m.signer("hsm-1").unwrap();
        let c = s.pkcs11.as_ref().unwrap();
        assert_eq!(c.module, Path::new("/usr/lib/softhsm/libsofthsm2.so"));
        assert_eq!(c.token, TokenRef::Label("hot".into()));
        assert_eq!(c.pin, PinSource::Env("POR_ATTEST_PIN".into()));
        assert_eq!(m.addresses[0].key, Some(KeyRef::Id(vec![1])));
        assert_eq!(m.addresses[1].key, Some(KeyRef::Label("hot 1".into())));
        let tasks: Vec<_> = m.tasks_for("hsm-1").map(|t| t.key()).collect();
        assert_eq!(tasks.len(), 2);
        assert_eq!(tasks[0].path, "id:01");
        assert_eq!(tasks[1].path, "label:hot 1");

        // By serial, with the PIN in a file next to the manifest.
        let m = load(&text("token_serial = \"9fe5\"\npin_file = \"pin.txt\"", "")).unwrap();
        let c = m.signer("hsm-1").unwrap().pkcs11.clone().unwrap();
        assert_eq!(c.token, TokenRef::Serial("9fe5".into()));
        assert_eq!(c.pin, PinSource::File("/etc/por/pin.txt".into()));
        // Written back as written: the same identity from another directory.
        let again = Manifest::from_str(&m.to_toml(), "m2.toml", "/elsewhere").unwrap();
        assert_eq!(again.identity_digest(), m.identity_digest());
        let (toml, csv) = m.to_toml_with_csv("a.csv");
        assert!(toml.contains("pin_file = \"pin.txt\""), "{toml}");
        assert!(csv.lines().next().unwrap().ends_with(",key"), "{csv}");
        assert!(csv.contains(",id:01"), "{csv}");
        // The key is part of the identity.
        let other = load(&text(GOOD, "").replace("id:01", "id:02")).unwrap();
        assert_ne!(
            other.identity_digest(),
            load(&text(GOOD, "")).unwrap().identity_digest()
        );
    }

    #[test]
    fn refuses_bad_pkcs11_signers() {
        // The PIN itself is refused, and not repeated in the message.
        let e = refused(
            "token = \"hot\"\npin = \"8642097531\"",
            "",
            &["signers[1].pin", "never written in the manifest", "pin_env"],
        );
        assert!(!e.contains("8642097531"), "{e}");
        refused(
            "token = \"hot\"",
            "",
            &["signers[1].pin_env", "exactly one"],
        );
        refused(
            "token = \"hot\"\npin_env = \"A\"\npin_file = \"p\"",
            "",
            &["pin_env", "exactly one"],
        );
        refused("pin_env = \"A\"", "", &["signers[1].token", "exactly one"]);
        refused(
            "token = \"hot\"\ntoken_serial = \"1\"\npin_env = \"A\"",
            "",
            &["signers[1].token", "exactly one"],
        );
        refused(
            &format!("{GOOD}\nfingerprint = \"f5acc2fd\""),
            "",
            &["signers[1].fingerprint", "no BIP-32 seed"],
        );
        let no_module =
            text(GOOD, "").replace("module = \"/usr/lib/softhsm/libsofthsm2.so\"\n", "");
        let e = load(&no_module).unwrap_err();
        assert!(
            e.contains("signers[1].module") && e.contains("required"),
            "{e}"
        );
        // PKCS#11 fields on a Ledger.
        let e = load(&text(GOOD, "").replace(
            "fingerprint = \"f5acc2fd\"",
            "fingerprint = \"f5acc2fd\"\ntoken = \"x\"",
        ))
        .unwrap_err();
        assert!(
            e.contains("signers[0].token") && e.contains("only for a signer of kind = \"pkcs11\""),
            "{e}"
        );
    }

    #[test]
    fn refuses_bad_hsm_addresses() {
        let row = |extra: &str| {
            format!(
                "[[addresses]]\nchain = \"TRX\"\naddress = \"{TRX}\"\nsigner = \"hsm-1\"\n{extra}"
            )
        };
        refused(
            GOOD,
            &row(""),
            &["entry 3", "field `key`", "required", "id:HEX"],
        );
        refused(
            GOOD,
            &row("key = \"01\""),
            &["entry 3", "field `key`", "must be id:HEX"],
        );
        refused(
            GOOD,
            &row("key = \"id:zz\""),
            &["field `key`", "hex digits"],
        );
        refused(
            GOOD,
            &row("key = \"id:01\"\npath = \"m/44'/195'/0'/0/0\""),
            &["field `path`", "no derivation path"],
        );
        refused(
            GOOD,
            &row("key = \"id:01\"\nallow_nonstandard_path = true"),
            &["field `allow_nonstandard_path`"],
        );
        // A key on a Ledger address.
        refused(
            GOOD,
            &format!(
                "[[addresses]]\nchain = \"TRX\"\naddress = \"{TRX}\"\nsigner = \"ledger-a\"\npath = \"m/44'/195'/0'/0/0\"\nkey = \"id:01\""
            ),
            &["field `key`", "only for addresses held by a pkcs11 signer"],
        );
        // P2TR: no BIP-340 on PKCS#11.
        refused(
            GOOD,
            "[[addresses]]\nchain = \"BTC\"\naddress = \"bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr\"\nscript_type = \"p2tr\"\nsigner = \"hsm-1\"\nkey = \"id:01\"",
            &["field `script_type`", "BIP-340 Schnorr", "Ledger"],
        );
        // A multisig cosigner on the HSM.
        refused(
            GOOD,
            "[[addresses]]\nchain = \"BTC\"\naddress = \"bc1qc2keq36c3tvlf0fcsgspzfu55vs6yzke4way38us4exx4eua82aq3n5mlk\"\nscript_type = \"p2wsh\"\nthreshold = 1\ncosigners = [{ signer = \"hsm-1\", path = \"m/0\", pubkey = \"0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798\" }]",
            &["cosigners[0].signer", "single-key addresses only"],
        );
        // An account on the HSM.
        refused(
            GOOD,
            "[[accounts]]\nchain = \"ETH\"\nsigner = \"hsm-1\"\npath = \"m/44'/60'/0'/0\"\nranges = [\"0-9\"]",
            &["signer `hsm-1` is a pkcs11 HSM", "an account must be held by a Ledger"],
        );
    }
}
