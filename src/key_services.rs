//! Opening a key-service signer for `sign`: an `aws-kms` signer's KMS client (credentials from
//! the standard AWS chain) or a `command` signer's adapter program, as the manifest describes.

use por_attest_ceremony::manifest::{ServiceConfig, Signer as ManifestSigner};
use por_attest_ceremony::signer::Signer;
use por_attest_ceremony::signers::CommandSigner;

/// The signer `s` (an `aws-kms` or `command` signer of the manifest) for `sign`; `device` must
/// be absent: the manifest says where the keys are.
pub fn open(s: &ManifestSigner, device: Option<&str>) -> Result<Box<dyn Signer>, String> {
    let kind = s.kind.as_str();
    if let Some(d) = device {
        return Err(format!(
            "signer `{}` is a {kind} signer: the manifest says where its keys are, so --device {d} is not used; drop it",
            s.id
        ));
    }
    let failed = |e: &dyn std::fmt::Display| format!("signer `{}`: {e}; nothing was signed", s.id);
    match &s.service {
        #[cfg(feature = "aws-kms")]
        Some(ServiceConfig::AwsKms(c)) => por_attest_ceremony::signers::KmsSigner::open(c)
            .map(|k| Box::new(k) as Box<dyn Signer>)
            .map_err(|e| failed(&e)),
        #[cfg(not(feature = "aws-kms"))]
        Some(ServiceConfig::AwsKms(_)) => Err(format!(
            "signer `{}` is an aws-kms signer, but this por-attest was built without the aws-kms feature",
            s.id
        )),
        Some(ServiceConfig::Command(c)) => CommandSigner::open(c)
            .map(|k| Box::new(k) as Box<dyn Signer>)
            .map_err(|e| failed(&e)),
        None => Err(format!("signer `{}` is not a key-service signer", s.id)),
    }
}
