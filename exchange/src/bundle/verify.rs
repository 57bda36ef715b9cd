//! Verifying a bundle file (parse, payload type, schema, signature, consistency, target) and
//! decrypting its sensitive values in the target Space.

use base64::Engine;
use sha2::{Digest, Sha256};

use super::contents::{BundleContents, BundleValue};
use super::envelope::{B64, Envelope, Statement, check_consistent, dsse_signature_ok};
use super::seal::{self, Opener};
use super::{
    BundleError, DecryptedVariable, PAYLOAD_TYPE, SCHEMA_VERSION, STATEMENT_TYPE, SchemaVersion,
};
use net::pki::CertInfo;

/// A bundle whose signature, schema and target were checked.
#[derive(Debug, Clone)]
pub struct VerifiedBundle {
    pub contents: BundleContents,
    /// `sha256:<hex>` of the signed payload: the bundle's identity in receipts.
    pub digest: String,
    /// The DSSE key id (certificate fingerprint) that signed it.
    pub signer_keyid: String,
    pub schema: SchemaVersion,
}

/// Checks a bundle file for `this_space`, in order: parse, payload type, schema version,
/// signature by a Space `trusted` returns a certificate for (by DSSE key id), consistency,
/// target Space. Never panics, whatever the bytes.
pub fn verify(
    bytes: &[u8],
    this_space: &str,
    trusted: impl Fn(&str) -> Option<CertInfo>,
) -> Result<VerifiedBundle, BundleError> {
    verify_inner(bytes, Some(this_space), trusted)
}

/// Checks that a bundle file was signed by `signer` (the source Space re-reading its own
/// bundle, e.g. to export its packages); the target Space is not checked.
pub fn verify_signed_by(bytes: &[u8], signer: &CertInfo) -> Result<VerifiedBundle, BundleError> {
    verify_inner(bytes, None, |keyid| {
        (keyid == signer.fingerprint).then(|| signer.clone())
    })
}

fn verify_inner(
    bytes: &[u8],
    this_space: Option<&str>,
    trusted: impl Fn(&str) -> Option<CertInfo>,
) -> Result<VerifiedBundle, BundleError> {
    let malformed = |what: &str| BundleError::Malformed(what.to_string());
    let envelope: Envelope = serde_json::from_slice(bytes)
        .map_err(|e| BundleError::Malformed(format!("not a DSSE envelope ({e})")))?;
    if envelope.payload_type != PAYLOAD_TYPE {
        return Err(BundleError::PayloadType(
            envelope.payload_type.chars().take(100).collect(),
        ));
    }
    let payload = B64
        .decode(&envelope.payload)
        .map_err(|_| malformed("the payload is not base64"))?;
    let statement: Statement<serde_json::Value> =
        serde_json::from_slice(&payload).map_err(|e| {
            BundleError::Malformed(format!("the payload is not an in-toto statement ({e})"))
        })?;
    if statement.type_ != STATEMENT_TYPE {
        return Err(malformed("the payload is not an in-toto Statement v1"));
    }
    let schema =
        SchemaVersion::from_predicate_type(&statement.predicate_type).ok_or_else(|| {
            BundleError::PredicateType(statement.predicate_type.chars().take(100).collect())
        })?;
    if schema.major > SCHEMA_VERSION.major
        || (schema.major == SCHEMA_VERSION.major && schema.minor > SCHEMA_VERSION.minor)
    {
        return Err(BundleError::SchemaTooNew {
            found: schema,
            supported: SCHEMA_VERSION,
        });
    }
    if schema.major < SCHEMA_VERSION.major {
        return Err(BundleError::SchemaTooOld {
            found: schema,
            supported: SCHEMA_VERSION,
        });
    }
    // Only for messages until the signature is checked.
    let claimed = statement
        .predicate
        .get("source_space")
        .and_then(|v| v.as_str())
        .unwrap_or("?")
        .chars()
        .filter(|c| !c.is_control())
        .take(100)
        .collect::<String>();
    let mut signer = None;
    for s in &envelope.signatures {
        let Some(cert) = trusted(&s.keyid) else {
            continue;
        };
        if !dsse_signature_ok(&cert, &envelope.payload_type, &payload, &s.sig) {
            return Err(BundleError::BadSignature {
                space: cert.common_name,
                keyid: s.keyid.clone(),
            });
        }
        signer = Some((cert, s.keyid.clone()));
        break;
    }
    let Some((cert, signer_keyid)) = signer else {
        let keyid = envelope
            .signatures
            .first()
            .map(|s| s.keyid.chars().take(100).collect())
            .unwrap_or_else(|| "no signature".into());
        return Err(BundleError::Untrusted {
            space: claimed,
            keyid,
        });
    };
    let contents: BundleContents = serde_json::from_value(statement.predicate).map_err(|e| {
        BundleError::Malformed(format!(
            "the bundle contents do not match schema {schema} ({e})"
        ))
    })?;
    if !contents
        .source_space
        .eq_ignore_ascii_case(&cert.common_name)
    {
        return Err(BundleError::SignerMismatch {
            claimed: contents.source_space,
            signer: cert.common_name,
        });
    }
    check_consistent(&contents)?;
    let subjects: Vec<(String, Option<String>)> = statement
        .subject
        .into_iter()
        .map(|s| (s.name, s.digest.get("sha256").cloned()))
        .collect();
    let expected: Vec<(String, Option<String>)> = contents
        .packages
        .iter()
        .map(|p| (p.subject_name(), Some(p.sha256.clone())))
        .collect();
    if subjects != expected {
        return Err(BundleError::Inconsistent(
            "the statement's subjects do not match its package manifests".into(),
        ));
    }
    if let Some(this_space) = this_space
        && !contents.target_space.eq_ignore_ascii_case(this_space)
    {
        return Err(BundleError::WrongTarget {
            bundle: contents.target_space,
            this: this_space.to_string(),
        });
    }
    Ok(VerifiedBundle {
        contents,
        digest: format!("sha256:{}", hex::encode(Sha256::digest(&payload))),
        signer_keyid,
        schema,
    })
}

impl VerifiedBundle {
    /// The package manifests (checked by [`verify`] to decode).
    pub fn manifests(&self) -> Vec<package_store::PackageManifest> {
        self.contents
            .packages
            .iter()
            .filter_map(|p| p.to_manifest().ok())
            .collect()
    }

    /// Decrypts every sensitive value with the target Space's private key (PKCS#8 PEM).
    pub fn decrypt_sensitive(
        &self,
        target_key_pem: &str,
    ) -> Result<Vec<DecryptedVariable>, BundleError> {
        let opener = Opener::from_pkcs8_pem(target_key_pem)?;
        let c = &self.contents;
        if opener.key_id != c.recipient_key {
            return Err(BundleError::WrongKey {
                space: c.target_space.clone(),
                bundle_key: c.recipient_key.clone(),
                key: opener.key_id,
            });
        }
        let sealed: Vec<_> = c
            .variables
            .iter()
            .filter_map(|v| match &v.value {
                BundleValue::Sealed { enc, ciphertext } => Some((v, enc, ciphertext)),
                _ => None,
            })
            .collect();
        // Each opening is a P-256 key agreement (~0.3 ms): spread over the cores.
        let out = crate::par::try_map(&sealed, 16, |(v, enc, ciphertext)| {
            let value = seal::open(
                &opener,
                &c.target_space,
                &c.bundle_id,
                &v.id,
                enc,
                ciphertext,
            )
            .ok_or_else(|| BundleError::Decrypt {
                id: v.id.clone(),
                name: v.name.clone(),
            })?;
            Ok(DecryptedVariable {
                id: v.id.clone(),
                name: v.name.clone(),
                value,
            })
        })?;
        Ok(out)
    }
}
