//! The ODCM's stored records: Spaces, enrolment tokens, Remote Spaces, trusts, audit entries and
//! a few counters. Each has a table, a key and a format version (see `storage`).

use domain::model::Timestamp;
use serde::{Deserialize, Serialize};
use storage::{Record, key_of};

/// A Space of this ODCM. `cert_pem` is empty until it enrolled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpaceRecord {
    pub name: String,
    pub endpoint: String,
    pub created_at: Timestamp,
    pub enrolled_at: Option<Timestamp>,
    pub cert_pem: String,
    pub fingerprint: String,
    pub not_after: Timestamp,
    /// Earlier certificates, newest last; each accepted until its `accept_until`.
    pub previous: Vec<PreviousCert>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousCert {
    pub cert_pem: String,
    pub fingerprint: String,
    pub not_after: Timestamp,
    pub accept_until: Timestamp,
}

impl Record for SpaceRecord {
    const TABLE: &'static str = "space";
    const VERSION: u32 = 1;
    fn key(&self) -> String {
        key_of(&[&self.name])
    }
}

/// A one-time enrolment token, stored by the SHA-256 of the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub token_hash: String,
    pub space: String,
    pub expires_at: Timestamp,
    pub used_at: Option<Timestamp>,
}

impl Record for TokenRecord {
    const TABLE: &'static str = "enrol_token";
    const VERSION: u32 = 1;
    fn key(&self) -> String {
        self.token_hash.clone()
    }
}

/// Which Space a certificate fingerprint was issued to (current and previous certificates).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertIndexRecord {
    pub fingerprint: String,
    pub space: String,
}

impl Record for CertIndexRecord {
    const TABLE: &'static str = "cert_index";
    const VERSION: u32 = 1;
    fn key(&self) -> String {
        self.fingerprint.clone()
    }
}

/// A Space of another network, known by its certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteSpaceRecord {
    pub name: String,
    pub odcm: String,
    pub endpoint: String,
    pub cert_pem: String,
    pub fingerprint: String,
    pub subject: String,
    pub not_after: Timestamp,
    pub added_at: Timestamp,
}

impl Record for RemoteSpaceRecord {
    const TABLE: &'static str = "remote_space";
    const VERSION: u32 = 1;
    fn key(&self) -> String {
        key_of(&[&self.name])
    }
}

/// What a trust allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrustKind {
    /// The truster accepts release bundles from the trusted Space.
    Releases,
    /// The truster accepts deployment receipts from the trusted Space.
    Receipts,
}

impl TrustKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TrustKind::Releases => "releases",
            TrustKind::Receipts => "receipts",
        }
    }
}

/// `truster` accepts `kind` from `trusted`. In promotion terms (source -> target):
/// releases: truster = target, trusted = source; receipts: truster = source, trusted = target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustRecord {
    pub truster: String,
    pub trusted: String,
    pub kind: TrustKind,
    pub created_at: Timestamp,
}

impl TrustRecord {
    /// The (source, target) of promotion this trust is about.
    pub fn source_target(&self) -> (&str, &str) {
        match self.kind {
            TrustKind::Releases => (&self.trusted, &self.truster),
            TrustKind::Receipts => (&self.truster, &self.trusted),
        }
    }
    pub fn from_source_target(source: &str, target: &str, kind: TrustKind, at: i64) -> Self {
        let (truster, trusted) = match kind {
            TrustKind::Releases => (target, source),
            TrustKind::Receipts => (source, target),
        };
        Self {
            truster: truster.to_string(),
            trusted: trusted.to_string(),
            kind,
            created_at: at,
        }
    }
}

impl Record for TrustRecord {
    const TABLE: &'static str = "trust";
    const VERSION: u32 = 1;
    fn key(&self) -> String {
        key_of(&[&self.truster, &self.trusted, self.kind.as_str()])
    }
}

/// One audit log entry. `prev_hash` is the hex SHA-256 of the previous entry's canonical bytes
/// (see `audit::canonical`); `signature` is the CA's ECDSA signature over this entry's body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub index: u64,
    pub at: Timestamp,
    pub kind: String,
    pub actor: String,
    pub subject: String,
    pub detail: String,
    pub prev_hash: String,
    pub signature: String,
}

impl Record for AuditRecord {
    const TABLE: &'static str = "audit";
    const VERSION: u32 = 1;
    fn key(&self) -> String {
        audit_key(self.index)
    }
}

/// Audit keys sort by index.
pub fn audit_key(index: u64) -> String {
    format!("{index:020}")
}

/// A named counter or head pointer kept in the same batches as the changes it tracks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaRecord {
    pub name: String,
    pub value: u64,
    /// For the audit head: the hash of the last entry.
    pub hash: String,
}

impl Record for MetaRecord {
    const TABLE: &'static str = "meta";
    const VERSION: u32 = 1;
    fn key(&self) -> String {
        self.name.clone()
    }
}

pub const AUDIT_HEAD: &str = "audit_head";
pub const TRUST_VERSION: &str = "trust_version";
