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

/// Checks a single-key address held by the `pkcs11` signer `signer` and stores its key.
pub(super) fn hsm_address(
    a: &RawAddress,
    spec: &mut AddressSpec,
    signer: &Signer,
    ctx: &Ctx<'_>,
) -> Result<(), InputError> {
    if a.path.is_some() {
        return Err(ctx.err(
            "path",
            format!(
                "signer `{}` is a pkcs11 HSM: its keys have no derivation path; name the key with `key` (id:HEX or label:TEXT) and leave `path` empty",
                signer.id
            ),
        ));
    }
    if a.allow_nonstandard_path.is_some() {
        return Err(ctx.err(
            "allow_nonstandard_path",
            "has no use on an HSM key, which has no derivation path",
        ));
    }
    if spec.script_type == Some(ScriptType::P2tr) {
        return Err(ctx.err(
            "script_type",
            format!(
                "signer `{}` is a pkcs11 HSM: a P2TR address is proven by a BIP-340 Schnorr signature (BIP-322), which PKCS#11 tokens do not make (they sign ECDSA, CKM_ECDSA); prove P2TR reserves on a Ledger",
                signer.id
            ),
        ));
    }
    let key = a.key.as_deref().ok_or_else(|| {
        ctx.err(
            "key",
            format!(
                "required for an address of pkcs11 signer `{}`: id:HEX (the key's CKA_ID) or label:TEXT (its CKA_LABEL)",
                signer.id
            ),
        )
    })?;
    spec.key = Some(key.parse::<KeyRef>().map_err(|m| ctx.err("key", m))?);
    spec.signer = Some(signer.id.clone());
    Ok(())
}

/// The error for a `key` on an address whose signer is not a pkcs11 HSM.
pub(super) fn key_without_hsm(ctx: &Ctx<'_>) -> InputError {
    ctx.err(
        "key",
        "only for addresses held by a pkcs11 signer (a Ledger key is named by `path`)",
    )
}

/// The error for a multisig cosigner held by a pkcs11 signer.
pub(super) fn hsm_cosigner(ctx: &Ctx<'_>, field: &str, signer: &str) -> InputError {
    ctx.err(
        field,
        format!("signer `{signer}` is a pkcs11 HSM, which signs single-key addresses only; a multisig cosigner must be held by a Ledger (or by no signer of this ceremony)"),
    )
}
