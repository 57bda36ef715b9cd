//! `manifest.sig`: the Space's signature over `manifest.json`, made with the key of its API
//! certificate (the one every `deploy` context pins). Whoever carries a drop can rewrite any
//! file and the manifest with it, runner included; they cannot sign. A runner the operator
//! already trusts (an installed `deploy`) checks the signature against the certificate
//! fingerprint the operator pins before it reads anything else or asks for a password.
//! This crate does no cryptography: the caller hands in the signing and checking functions.

use serde::{Deserialize, Serialize};

use super::{DropError, FORMAT_VERSION};

pub const SIGNATURE_FILE: &str = "manifest.sig";
const KIND: &str = "offline-drop-signature";

/// The signature file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestSignature {
    pub kind: String,
    pub version: u32,
    pub space: String,
    /// The signing certificate (PEM) and its `sha256:` fingerprint.
    pub certificate_pem: String,
    pub fingerprint: String,
    /// ECDSA P-256 over the exact bytes of `manifest.json`, hex.
    pub signature: String,
}

/// Signs the manifest's bytes: the signature, or why not.
pub type SignFn<'a> = dyn Fn(&[u8]) -> Result<Vec<u8>, String> + Sync + 'a;

/// How a Space signs its drops.
pub struct DropSigner<'a> {
    pub space: String,
    pub certificate_pem: String,
    pub fingerprint: String,
    pub sign: &'a SignFn<'a>,
}

impl std::fmt::Debug for DropSigner<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DropSigner")
            .field("space", &self.space)
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

/// Checks a signature with a certificate: `(certificate_pem, message, signature)` to the
/// certificate's `sha256:` fingerprint, or why not.
pub type CheckSignature = fn(&str, &[u8], &[u8]) -> Result<String, String>;

/// The signature file's bytes for `manifest`.
pub(crate) fn sign(manifest: &[u8], signer: &DropSigner<'_>) -> Result<Vec<u8>, DropError> {
    let sig = (signer.sign)(manifest)
        .map_err(|e| DropError::Invalid(format!("cannot sign the drop manifest: {e}")))?;
    let file = ManifestSignature {
        kind: KIND.into(),
        version: FORMAT_VERSION,
        space: signer.space.clone(),
        certificate_pem: signer.certificate_pem.clone(),
        fingerprint: signer.fingerprint.clone(),
        signature: hex::encode(sig),
    };
    serde_json::to_vec_pretty(&file)
        .map_err(|e| DropError::Invalid(format!("cannot encode the signature: {e}")))
}

fn normal(fp: &str) -> String {
    fp.trim()
        .trim_start_matches("sha256:")
        .replace(':', "")
        .to_ascii_lowercase()
}

/// Checks that `sig_bytes` (the signature file, `None` if the drop has none) signs
/// `manifest` with the certificate whose fingerprint is `pinned`. Returns the Space named.
pub(crate) fn check(
    dir: &std::path::Path,
    manifest: &[u8],
    sig_bytes: Option<&[u8]>,
    pinned: &str,
    check: CheckSignature,
) -> Result<String, DropError> {
    let refuse = |problems: String| DropError::Tampered {
        dir: dir.display().to_string(),
        problems,
    };
    let Some(bytes) = sig_bytes else {
        return Err(refuse(format!(
            "it has no {SIGNATURE_FILE}, so it cannot be shown to come from the Space with certificate {pinned}"
        )));
    };
    let s: ManifestSignature = serde_json::from_slice(bytes)
        .map_err(|e| refuse(format!("{SIGNATURE_FILE} is not readable: {e}")))?;
    if s.kind != KIND || s.version > FORMAT_VERSION {
        return Err(refuse(format!(
            "{SIGNATURE_FILE} is of kind '{}' version {}",
            s.kind, s.version
        )));
    }
    let sig = hex::decode(s.signature.trim())
        .map_err(|_| refuse(format!("{SIGNATURE_FILE} holds no hex signature")))?;
    let signer = check(&s.certificate_pem, manifest, &sig).map_err(|e| {
        refuse(format!(
            "its manifest is not signed by the certificate in {SIGNATURE_FILE}: {e}"
        ))
    })?;
    if normal(&signer) != normal(pinned) {
        return Err(refuse(format!(
            "it is signed by certificate {signer}, not by the pinned {pinned}"
        )));
    }
    Ok(s.space)
}
