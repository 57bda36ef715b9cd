//! The DSSE envelope and in-toto Statement around [`BundleContents`]: building (seal, sign) and
//! consistency checks shared with [`super::verify`].

use std::collections::BTreeMap;

use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use serde::{Deserialize, Serialize};

use super::contents::{BundleContents, BundleDraft, BundlePackage, BundleValue, BundleVariable};
use super::seal::{self, Recipient};
use super::{BundleError, PAYLOAD_TYPE, SCHEMA_VERSION, STATEMENT_TYPE, SchemaVersion};
use net::pki::CertInfo;

pub(crate) const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Envelope {
    #[serde(rename = "payloadType")]
    pub(crate) payload_type: String,
    pub(crate) payload: String,
    pub(crate) signatures: Vec<Signature>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Signature {
    pub(crate) keyid: String,
    pub(crate) sig: String,
}

#[derive(Serialize, Deserialize)]
pub(super) struct Subject {
    pub(super) name: String,
    pub(super) digest: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize)]
pub(super) struct Statement<P> {
    #[serde(rename = "_type")]
    pub(super) type_: String,
    pub(super) subject: Vec<Subject>,
    #[serde(rename = "predicateType")]
    pub(super) predicate_type: String,
    pub(super) predicate: P,
}

/// The DSSE pre-authentication encoding: `DSSEv1 SP len(type) SP type SP len(body) SP body`.
pub(crate) fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// A Space's signing key and certificate (`identity/space.crt` + `space.key`). `Debug` shows
/// only the Space and fingerprint.
pub struct SigningIdentity {
    cert: CertInfo,
    key: EcdsaKeyPair,
}

impl std::fmt::Debug for SigningIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningIdentity")
            .field("space", &self.cert.common_name)
            .field("keyid", &self.cert.fingerprint)
            .finish_non_exhaustive()
    }
}

impl SigningIdentity {
    /// From a PEM certificate (its CN is the Space name) and its PKCS#8 PEM private key.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, BundleError> {
        let cert = CertInfo::from_pem(cert_pem).map_err(|e| BundleError::Key(e.to_string()))?;
        let der = rcgen::KeyPair::from_pem(key_pem)
            .map_err(|_| BundleError::Key("the signing key is not a PEM private key".into()))?
            .serialize_der();
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &der, &SystemRandom::new())
                .map_err(|_| BundleError::Key("the signing key is not an ECDSA P-256 key".into()))?;
        if key.public_key().as_ref() != seal::cert_public_key(&cert.der)?.as_slice() {
            return Err(BundleError::Key(format!(
                "the signing key does not belong to certificate {}",
                cert.fingerprint
            )));
        }
        Ok(Self { cert, key })
    }

    /// The Space this identity signs for (the certificate's CN).
    pub fn space(&self) -> &str {
        &self.cert.common_name
    }

    /// The DSSE `keyid`: the certificate's `sha256:<hex>` fingerprint.
    pub fn keyid(&self) -> &str {
        &self.cert.fingerprint
    }
}

fn random_id() -> Result<String, BundleError> {
    let mut id = [0u8; 16];
    secrets::random_bytes(&mut id).map_err(|e| BundleError::Build(e.to_string()))?;
    Ok(hex::encode(id))
}

/// Seals the draft's sensitive values for `target_cert_der` (the target Space's certificate),
/// signs with `signer` and returns the bundle file's bytes (DSSE JSON).
pub fn build(
    draft: BundleDraft,
    target_cert_der: &[u8],
    signer: &SigningIdentity,
) -> Result<Vec<u8>, BundleError> {
    build_with_schema(draft, target_cert_der, signer, SCHEMA_VERSION)
}

pub(super) fn build_with_schema(
    draft: BundleDraft,
    target_cert_der: &[u8],
    signer: &SigningIdentity,
    schema: SchemaVersion,
) -> Result<Vec<u8>, BundleError> {
    if !draft.source_space.eq_ignore_ascii_case(signer.space()) {
        return Err(BundleError::Build(format!(
            "the source space is '{}' but the signing certificate is for '{}'",
            draft.source_space,
            signer.space()
        )));
    }
    let target =
        CertInfo::from_der(target_cert_der).map_err(|e| BundleError::Key(e.to_string()))?;
    if !draft.target_space.eq_ignore_ascii_case(&target.common_name) {
        return Err(BundleError::Build(format!(
            "the target space is '{}' but the certificate given is for '{}'",
            draft.target_space, target.common_name
        )));
    }
    let recipient = Recipient::from_cert_der(target_cert_der)?;
    let bundle_id = random_id()?;
    // Each seal is a P-256 key agreement (~0.5 ms): spread over the cores.
    let values = crate::par::try_map(&draft.variables, 16, |v| {
        Ok::<_, BundleError>(if v.sensitive {
            let (enc, ciphertext) =
                seal::seal(&recipient, &draft.target_space, &bundle_id, &v.id, &v.value)?;
            BundleValue::Sealed { enc, ciphertext }
        } else {
            BundleValue::Plain(v.value.clone())
        })
    })?;
    let variables = draft
        .variables
        .into_iter()
        .zip(values)
        .map(|(v, value)| BundleVariable {
            id: v.id,
            name: v.name,
            value,
            scope: v.scope,
            description: v.description,
        })
        .collect();
    let contents = BundleContents {
        bundle_id,
        source_space: draft.source_space,
        target_space: draft.target_space,
        recipient_key: recipient.key_id.clone(),
        project: draft.project,
        release: draft.release,
        process: draft.process,
        variables,
        templates: draft.templates,
        pinned_packages: draft.pinned_packages,
        packages: draft
            .packages
            .iter()
            .map(BundlePackage::from_manifest)
            .collect(),
        deployments: draft.deployments,
        created_at: domain::model::now(),
        traceparent: draft.traceparent,
        origin: draft.origin,
    };
    check_consistent(&contents)?;
    let statement = Statement {
        type_: STATEMENT_TYPE.to_string(),
        subject: contents
            .packages
            .iter()
            .map(|p| Subject {
                name: p.subject_name(),
                digest: BTreeMap::from([("sha256".to_string(), p.sha256.clone())]),
            })
            .collect(),
        predicate_type: schema.predicate_type(),
        predicate: contents,
    };
    let payload = serde_json::to_vec(&statement).map_err(|e| BundleError::Build(e.to_string()))?;
    signer.sign_dsse(PAYLOAD_TYPE, &payload)
}

impl SigningIdentity {
    /// A DSSE envelope (JSON) of `payload`, signed by this identity.
    pub fn sign_dsse(&self, payload_type: &str, payload: &[u8]) -> Result<Vec<u8>, BundleError> {
        let sig = self
            .key
            .sign(&SystemRandom::new(), &pae(payload_type, payload))
            .map_err(|_| BundleError::Build("cannot sign".into()))?;
        let envelope = Envelope {
            payload_type: payload_type.to_string(),
            payload: B64.encode(payload),
            signatures: vec![Signature {
                keyid: self.keyid().to_string(),
                sig: B64.encode(sig.as_ref()),
            }],
        };
        serde_json::to_vec(&envelope).map_err(|e| BundleError::Build(e.to_string()))
    }
}

/// Whether `sig` (base64 DSSE signature) over `payload` verifies with `cert`'s key.
pub fn dsse_signature_ok(cert: &CertInfo, payload_type: &str, payload: &[u8], sig: &str) -> bool {
    use ring::signature::{ECDSA_P256_SHA256_ASN1, UnparsedPublicKey};
    let Ok(key) = seal::cert_public_key(&cert.der) else {
        return false;
    };
    let sig = B64.decode(sig).unwrap_or_default();
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &key)
        .verify(&pae(payload_type, payload), &sig)
        .is_ok()
}

/// Package manifests decode, pins name a carried package, ids are unique.
pub(super) fn check_consistent(c: &BundleContents) -> Result<(), BundleError> {
    let bad = |m: String| Err(BundleError::Inconsistent(m));
    // The id names files in the receiving Space: exactly 32 lowercase hex characters.
    if c.bundle_id.len() != 32
        || !c
            .bundle_id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return bad("the bundle id is not 32 lowercase hex characters".into());
    }
    let mut manifests: Vec<package_store::PackageManifest> = Vec::with_capacity(c.packages.len());
    for p in &c.packages {
        let m = p.to_manifest().map_err(BundleError::Inconsistent)?;
        if manifests
            .iter()
            .any(|x| x.id.eq_ignore_ascii_case(&m.id) && x.version.eq_ignore_ascii_case(&m.version))
        {
            return bad(format!("package {}@{} appears twice", m.id, m.version));
        }
        package_store::validate_id(&m.id)
            .and_then(|()| package_store::validate_version(&m.version))
            .map_err(|e| {
                BundleError::Inconsistent(format!("package {}@{}: {e}", m.id, m.version))
            })?;
        manifests.push(m);
    }
    for pin in &c.pinned_packages {
        let found = manifests.iter().any(|m| {
            m.id == pin.id && m.version == pin.version && m.sha256.eq_ignore_ascii_case(&pin.sha256)
        });
        if !found {
            return bad(format!(
                "step '{}' pins package {}@{} whose manifest is not in the bundle",
                pin.step, pin.id, pin.version
            ));
        }
    }
    if let Some(t) = c
        .templates
        .iter()
        .find(|t| t.kind == domain::model::TemplateKind::Sensitive && t.default_value.is_some())
    {
        return bad(format!(
            "sensitive variable template '{}' carries a default in the clear",
            t.name
        ));
    }
    let mut ids: Vec<&str> = c.variables.iter().map(|v| v.id.as_str()).collect();
    ids.sort_unstable();
    if let Some(w) = ids.windows(2).find(|w| w[0] == w[1]) {
        return bad(format!("variable id '{}' appears twice", w[0]));
    }
    Ok(())
}

/// A DSSE envelope taken apart (not verified).
pub struct DsseParts {
    pub payload_type: String,
    pub payload: Vec<u8>,
    /// `(keyid, base64 signature)`.
    pub signatures: Vec<(String, String)>,
}

/// Parses a DSSE envelope, or says why the bytes are not one.
pub fn envelope_parts(bytes: &[u8]) -> Result<DsseParts, String> {
    let envelope: Envelope =
        serde_json::from_slice(bytes).map_err(|e| format!("not a DSSE envelope ({e})"))?;
    let payload = B64
        .decode(&envelope.payload)
        .map_err(|_| "the payload is not base64".to_string())?;
    Ok(DsseParts {
        payload_type: envelope.payload_type,
        payload,
        signatures: envelope
            .signatures
            .into_iter()
            .map(|s| (s.keyid, s.sig))
            .collect(),
    })
}
