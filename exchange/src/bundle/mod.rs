//! Release Bundles: everything needed to deploy one release of one project in another Space,
//! signed by the source Space, with sensitive values readable only by the target Space.
//!
//! The file is a standard envelope, so third-party tools can check it without our code:
//! a [DSSE](https://github.com/secure-systems-lab/dsse) envelope (`payloadType`, base64
//! `payload`, `signatures[{keyid, sig}]`, each signature an ECDSA P-256/SHA-256 ASN.1 signature
//! over the DSSE pre-authentication encoding) whose payload is an
//! [in-toto Statement v1](https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md):
//! `subject` lists the packages (`"<id>@<version>"` with their SHA-256), `predicateType` is
//! [`PREDICATE_TYPE_PREFIX`] followed by the schema version (`v1.0`), and `predicate` is the
//! [`BundleContents`]. The `keyid` is the `sha256:<hex>` fingerprint of the source Space's
//! certificate (`identity/space.crt`).
//!
//! Sensitive values are sealed one by one with HPKE (RFC 9180) base mode,
//! DHKEM(P-256, HKDF-SHA256) + HKDF-SHA256 + AES-128-GCM, to the public key of the target
//! Space's certificate; `info` binds the target Space and `aad` the bundle id and variable id,
//! so a ciphertext cannot be moved to another variable, bundle or Space.
//!
//! Use: the source builds a [`BundleDraft`] and calls [`build`] with its [`SigningIdentity`]
//! and the target's certificate; the target calls [`verify`] (parse, payload type, schema
//! version, signature against a Space it trusts for releases, consistency, target Space) and,
//! when importing, [`VerifiedBundle::decrypt_sensitive`] with its own private key.

mod contents;
mod envelope;
mod seal;
#[cfg(test)]
mod tests;
mod verify;

pub use contents::{
    BundleContents, BundleDraft, BundleOrigin, BundlePackage, BundleValue, BundleVariable,
    DecryptedVariable, DeploymentSummary, DraftVariable, ProjectInfo, ReleaseInfo,
};
pub use envelope::{DsseParts, SigningIdentity, build, dsse_signature_ok, envelope_parts};
pub use verify::{VerifiedBundle, verify, verify_signed_by};

/// The bundle schema this build writes and the newest it reads (`major.minor`).
pub const SCHEMA_VERSION: SchemaVersion = SchemaVersion { major: 1, minor: 2 };

/// `predicateType` of the in-toto Statement, before `v<major>.<minor>`.
pub const PREDICATE_TYPE_PREFIX: &str = "urn:deploy:release-bundle:";

/// DSSE `payloadType` of an in-toto Statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// in-toto Statement `_type`.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";

/// A bundle schema version. A reader accepts its own major and any minor up to its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SchemaVersion {
    pub major: u32,
    pub minor: u32,
}

impl std::fmt::Display for SchemaVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl SchemaVersion {
    /// The `predicateType` naming this version.
    pub fn predicate_type(self) -> String {
        format!("{PREDICATE_TYPE_PREFIX}v{self}")
    }

    /// Reads the version out of a `predicateType`; `None` if it is not one of ours.
    pub fn from_predicate_type(s: &str) -> Option<Self> {
        let (major, minor) = s
            .strip_prefix(PREDICATE_TYPE_PREFIX)?
            .strip_prefix('v')?
            .split_once('.')?;
        let num = |t: &str| {
            (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
                .then(|| t.parse().ok())
                .flatten()
        };
        Some(Self {
            major: num(major)?,
            minor: num(minor)?,
        })
    }
}

/// Why a bundle could not be built, verified or decrypted. Each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("not a release bundle: {0}")]
    Malformed(String),
    #[error("not a release bundle: payload type is '{0}', expected '{PAYLOAD_TYPE}'")]
    PayloadType(String),
    #[error("not a release bundle: the statement's predicate type is '{0}'")]
    PredicateType(String),
    #[error(
        "bundle schema {found} is newer than this server understands ({supported}); upgrade this Space server"
    )]
    SchemaTooNew {
        found: SchemaVersion,
        supported: SchemaVersion,
    },
    #[error(
        "bundle schema {found} is older than this server understands ({supported}); export the bundle again from an upgraded source Space"
    )]
    SchemaTooOld {
        found: SchemaVersion,
        supported: SchemaVersion,
    },
    #[error(
        "bundle signed by space '{space}' ({keyid}) which this Space does not trust for releases; register that Space and add a release trust in the ODCM first"
    )]
    Untrusted { space: String, keyid: String },
    #[error(
        "bundle signature by space '{space}' ({keyid}) does not verify: the file was changed after it was signed; export it again"
    )]
    BadSignature { space: String, keyid: String },
    #[error("bundle says it comes from space '{claimed}' but is signed by '{signer}'")]
    SignerMismatch { claimed: String, signer: String },
    #[error("bundle is encrypted for space '{bundle}', not '{this}'")]
    WrongTarget { bundle: String, this: String },
    #[error(
        "bundle is encrypted for space '{space}' (key {bundle_key}), not for this key ({key}); use the private key of that Space"
    )]
    WrongKey {
        space: String,
        bundle_key: String,
        key: String,
    },
    #[error("bundle is inconsistent: {0}")]
    Inconsistent(String),
    #[error(
        "sensitive variable '{name}' ({id}) cannot be decrypted: its ciphertext was changed or moved"
    )]
    Decrypt { id: String, name: String },
    #[error("invalid key or certificate: {0}")]
    Key(String),
    #[error("cannot build the bundle: {0}")]
    Build(String),
}
