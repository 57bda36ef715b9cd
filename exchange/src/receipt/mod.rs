//! Deployment Receipts: the signed results of deployments of imported releases, sent back to
//! the Space the release came from so its dashboard shows them.
//!
//! A receipts file is a DSSE envelope (the same envelope as Release Bundles) with payload type
//! [`PAYLOAD_TYPE`] whose payload is a JSON [`ReceiptFile`] (`schema` "major.minor"), signed by
//! the target Space's ODCM identity. The importing Space accepts it only when the signer is a
//! Space it trusts for receipts, the file is addressed to it, and the schema major is its own;
//! each receipt has an id unique in its issuing Space, so applying is exactly once.
//!
//! Along a chain Dev -> QA -> Ops, Ops' receipts are addressed to QA and name the earlier hops
//! (schema 1.1, `route`); QA passes the file on unchanged, still signed by Ops, and Dev accepts
//! it as relayed because a receipt's route names it.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::bundle::{SchemaVersion, SigningIdentity};
use domain::model::{RouteHop, RunState, Timestamp};
use net::pki::CertInfo;

#[cfg(test)]
mod tests;

/// DSSE `payloadType` of a receipts file.
pub const PAYLOAD_TYPE: &str = "application/vnd.deploy.receipts+json";
/// The receipts schema this build writes and the newest it reads.
pub const SCHEMA: SchemaVersion = SchemaVersion { major: 1, minor: 1 };
/// The most hops a receipt's route may name.
pub const MAX_ROUTE: usize = 16;
/// `kind` of a receipts file.
pub const KIND: &str = "deployment-receipts";

/// One step's result in a receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptStep {
    pub name: String,
    pub state: RunState,
    pub targets: u32,
    pub failed_targets: u32,
}

/// The result of one deployment of an imported release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    /// Unique in the issuing Space (its deployment id).
    pub id: String,
    pub bundle_id: String,
    /// `sha256:<hex>` of the bundle payload the release was imported from.
    pub bundle_digest: String,
    /// The project's name in the receiving (source) Space.
    pub project: String,
    pub version: String,
    /// The environment in the issuing Space (e.g. "Production").
    pub environment: String,
    pub state: RunState,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub steps: Vec<ReceiptStep>,
    pub targets: u32,
    pub traceparent: String,
    /// The hops before the bundle this receipt answers, first Space first (schema 1.1): each
    /// Space named may receive the file relayed and applies the receipt to its own bundle.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub route: Vec<RouteHop>,
}

/// The signed payload: receipts from one Space to another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptFile {
    pub kind: String,
    pub schema: String,
    pub from_space: String,
    pub to_space: String,
    pub created_at: Timestamp,
    pub receipts: Vec<Receipt>,
}

/// A receipts file whose signature, schema and addressee were checked.
#[derive(Debug, Clone)]
pub struct VerifiedReceipts {
    pub file: ReceiptFile,
    /// `sha256:<hex>` of the signed payload.
    pub digest: String,
    pub signer_keyid: String,
    /// Addressed to another Space (the next hop) and accepted because a receipt's route names
    /// this Space: only the receipts naming it apply here.
    pub relayed: bool,
}

/// Why a receipts file could not be written or accepted. Each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    #[error("not a receipts file: {0}")]
    Malformed(String),
    #[error(
        "receipts schema {found} is newer than this server understands ({supported}); upgrade this Space server"
    )]
    SchemaTooNew {
        found: String,
        supported: SchemaVersion,
    },
    #[error(
        "receipts signed by space '{space}' ({keyid}) which this Space does not trust for receipts; register that Space and add a receipts trust in the ODCM first"
    )]
    Untrusted { space: String, keyid: String },
    #[error(
        "receipts signature by space '{space}' does not verify: the file was changed after it was signed; export it again"
    )]
    BadSignature { space: String },
    #[error("receipts say they come from space '{claimed}' but are signed by '{signer}'")]
    SignerMismatch { claimed: String, signer: String },
    #[error("receipts are addressed to space '{to}', not '{this}'")]
    WrongAddressee { to: String, this: String },
    #[error("cannot sign receipts: {0}")]
    Sign(String),
}

impl ReceiptFile {
    /// Signs the file with the issuing Space's identity; returns the file's bytes.
    pub fn sign(&self, signer: &SigningIdentity) -> Result<Vec<u8>, ReceiptError> {
        if !self.from_space.eq_ignore_ascii_case(signer.space()) {
            return Err(ReceiptError::Sign(format!(
                "receipts from '{}' cannot be signed by '{}'",
                self.from_space,
                signer.space()
            )));
        }
        let payload = serde_json::to_vec(self).map_err(|e| ReceiptError::Sign(e.to_string()))?;
        signer
            .sign_dsse(PAYLOAD_TYPE, &payload)
            .map_err(|e| ReceiptError::Sign(e.to_string()))
    }
}

/// True if `bytes` look like a receipts envelope (rather than another JSON file).
pub fn is_receipts_file(bytes: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Probe {
        #[serde(rename = "payloadType")]
        payload_type: String,
    }
    serde_json::from_slice::<Probe>(bytes).is_ok_and(|p| p.payload_type == PAYLOAD_TYPE)
}

/// Checks a receipts file for `this_space`: envelope, payload type, schema, signature by a
/// Space `trusted` returns a certificate for (by key id), signer = sender, addressee. Never
/// panics, whatever the bytes.
pub fn verify(
    bytes: &[u8],
    this_space: &str,
    trusted: impl Fn(&str) -> Option<CertInfo>,
) -> Result<VerifiedReceipts, ReceiptError> {
    let crate::bundle::DsseParts {
        payload_type,
        payload,
        signatures,
    } = crate::bundle::envelope_parts(bytes).map_err(ReceiptError::Malformed)?;
    if payload_type != PAYLOAD_TYPE {
        return Err(ReceiptError::Malformed(format!(
            "payload type is '{}', expected '{PAYLOAD_TYPE}'",
            payload_type.chars().take(100).collect::<String>()
        )));
    }
    let value: serde_json::Value = serde_json::from_slice(&payload)
        .map_err(|e| ReceiptError::Malformed(format!("the payload is not JSON ({e})")))?;
    let field = |k: &str| {
        value
            .get(k)
            .and_then(|v| v.as_str())
            .unwrap_or("?")
            .chars()
            .filter(|c| !c.is_control())
            .take(100)
            .collect::<String>()
    };
    if field("kind") != KIND {
        return Err(ReceiptError::Malformed(format!("kind is not '{KIND}'")));
    }
    let schema = field("schema");
    let version = schema
        .split_once('.')
        .and_then(|(a, b)| Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?)));
    match version.map(|(major, minor)| SchemaVersion { major, minor }) {
        Some(v) if v.major == SCHEMA.major && v <= SCHEMA => {}
        Some(v) if v.major < SCHEMA.major => {
            return Err(ReceiptError::Malformed(format!(
                "schema {schema} is older than this server reads ({SCHEMA})"
            )));
        }
        Some(_) => {
            return Err(ReceiptError::SchemaTooNew {
                found: schema,
                supported: SCHEMA,
            });
        }
        None => {
            return Err(ReceiptError::Malformed(format!(
                "schema '{schema}' is not major.minor"
            )));
        }
    }
    let claimed = field("from_space");
    let mut signer = None;
    for (keyid, sig) in &signatures {
        let Some(cert) = trusted(keyid) else {
            continue;
        };
        if !crate::bundle::dsse_signature_ok(&cert, &payload_type, &payload, sig) {
            return Err(ReceiptError::BadSignature {
                space: cert.common_name,
            });
        }
        signer = Some((cert, keyid.clone()));
        break;
    }
    let Some((cert, signer_keyid)) = signer else {
        return Err(ReceiptError::Untrusted {
            space: claimed,
            keyid: signatures
                .first()
                .map(|(k, _)| k.chars().take(100).collect())
                .unwrap_or_else(|| "no signature".into()),
        });
    };
    let file: ReceiptFile = serde_json::from_value(value).map_err(|e| {
        ReceiptError::Malformed(format!("the receipts do not match schema {schema} ({e})"))
    })?;
    if !file.from_space.eq_ignore_ascii_case(&cert.common_name) {
        return Err(ReceiptError::SignerMismatch {
            claimed: file.from_space,
            signer: cert.common_name,
        });
    }
    for r in &file.receipts {
        check_names(r)?;
    }
    let relayed = !file.to_space.eq_ignore_ascii_case(this_space);
    if relayed && !file.receipts.iter().any(|r| names(r, this_space)) {
        return Err(ReceiptError::WrongAddressee {
            to: file.to_space,
            this: this_space.to_string(),
        });
    }
    Ok(VerifiedReceipts {
        file,
        digest: format!("sha256:{}", hex::encode(Sha256::digest(&payload))),
        signer_keyid,
        relayed,
    })
}

/// Whether `r`'s route names `space` (it may receive the receipt relayed).
pub fn names(r: &Receipt, space: &str) -> bool {
    r.route.iter().any(|h| h.space.eq_ignore_ascii_case(space))
}

fn check_names(r: &Receipt) -> Result<(), ReceiptError> {
    if r.route.len() > MAX_ROUTE {
        return Err(ReceiptError::Malformed(format!(
            "a receipt's route names more than {MAX_ROUTE} hops"
        )));
    }
    let hops = r.route.iter().flat_map(|h| {
        [
            ("route space", &h.space),
            ("route project", &h.project),
            ("route bundle", &h.bundle_id),
            ("route digest", &h.bundle_digest),
        ]
    });
    for (what, v) in [
        ("id", &r.id),
        ("project", &r.project),
        ("version", &r.version),
        ("environment", &r.environment),
    ]
    .into_iter()
    .chain(hops)
    {
        if v.trim().is_empty() || v.len() > 200 || v.chars().any(char::is_control) {
            return Err(ReceiptError::Malformed(format!(
                "a receipt's {what} is empty, too long or holds control characters"
            )));
        }
    }
    Ok(())
}
