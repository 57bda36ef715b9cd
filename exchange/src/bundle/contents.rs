//! What a Release Bundle holds: the draft a source Space fills in, and the signed contents (the
//! in-toto predicate), with package chunk lists in a compact base64 form.

use serde::{Deserialize, Serialize};

use domain::model::{PinnedPackage, Process, Scope, Timestamp, VariableTemplate};
use package_store::{ArchiveFormat, ChunkRef, PackageManifest};

/// The project a release belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectInfo {
    pub name: String,
    pub description: String,
}

/// Where a release was first made, when the Space promoting it imported it itself (a chain
/// Dev -> QA -> Ops): the target names the Remote Project after it ("Dev: Svc"), whichever
/// route the release took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleOrigin {
    pub space: String,
    pub project: String,
    /// The hops the release took before the sending Space, first Space first (schema 1.2):
    /// receipts name them so they are relayed back along the chain.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub route: Vec<domain::model::RouteHop>,
}

/// The release being promoted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseInfo {
    pub version: String,
    pub notes: String,
    /// The channel's name in the source Space (channels are not imported).
    pub channel: String,
}

pub use domain::model::DeploymentSummary;

/// A frozen variable as the source Space knows it: sensitive values in the clear, only in
/// memory, until [`super::build`] seals them. `Debug` never shows a sensitive value.
#[derive(Clone, PartialEq, Eq)]
pub struct DraftVariable {
    pub id: String,
    pub name: String,
    pub value: String,
    pub sensitive: bool,
    pub scope: Scope,
    pub description: String,
}

impl std::fmt::Debug for DraftVariable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let value = if self.sensitive {
            "********"
        } else {
            self.value.as_str()
        };
        f.debug_struct("DraftVariable")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("value", &value)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// Everything a source Space puts in a bundle, before sealing and signing.
#[derive(Debug, Clone)]
pub struct BundleDraft {
    pub source_space: String,
    pub target_space: String,
    pub project: ProjectInfo,
    pub release: ReleaseInfo,
    pub process: Process,
    pub variables: Vec<DraftVariable>,
    pub templates: Vec<VariableTemplate>,
    /// Which step uses which package (the release's pins).
    pub pinned_packages: Vec<PinnedPackage>,
    /// One manifest per distinct package the release pins.
    pub packages: Vec<PackageManifest>,
    pub deployments: Vec<DeploymentSummary>,
    /// W3C `traceparent` of the promotion, so the target continues the same trace.
    pub traceparent: String,
    /// Set when the release was imported from another Space (schema 1.1).
    pub origin: Option<BundleOrigin>,
}

/// A variable's value inside a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum BundleValue {
    Plain(String),
    /// HPKE-sealed for the target Space: `enc` is the encapsulated key, both base64.
    Sealed {
        enc: String,
        ciphertext: String,
    },
}

/// A frozen variable inside a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleVariable {
    pub id: String,
    pub name: String,
    pub value: BundleValue,
    pub scope: Scope,
    pub description: String,
}

impl BundleVariable {
    pub fn is_sensitive(&self) -> bool {
        matches!(self.value, BundleValue::Sealed { .. })
    }
}

/// A package manifest as a bundle carries it: the chunk list is base64 of
/// `hash (32 bytes) || length (u32 big-endian)` per chunk, about half the size of JSON arrays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundlePackage {
    pub id: String,
    pub version: String,
    pub size: u64,
    pub sha256: String,
    pub format: ArchiveFormat,
    pub uploaded_at: Timestamp,
    pub chunks: String,
}

const CHUNK_ENTRY: usize = 36;

impl BundlePackage {
    pub fn from_manifest(m: &PackageManifest) -> Self {
        use base64::Engine;
        let mut raw = Vec::with_capacity(m.chunks.len() * CHUNK_ENTRY);
        for c in &m.chunks {
            raw.extend_from_slice(&c.hash);
            raw.extend_from_slice(&c.length.to_be_bytes());
        }
        BundlePackage {
            id: m.id.clone(),
            version: m.version.clone(),
            size: m.size,
            sha256: m.sha256.clone(),
            format: m.format,
            uploaded_at: m.uploaded_at,
            chunks: base64::engine::general_purpose::STANDARD.encode(raw),
        }
    }

    /// The manifest, after checking the chunk list decodes and adds up to `size`.
    pub fn to_manifest(&self) -> Result<PackageManifest, String> {
        use base64::Engine;
        let bad = |why: &str| format!("package {}@{}: {why}", self.id, self.version);
        let raw = base64::engine::general_purpose::STANDARD
            .decode(&self.chunks)
            .map_err(|_| bad("chunk list is not base64"))?;
        if raw.len() % CHUNK_ENTRY != 0 {
            return Err(bad("chunk list has a partial entry"));
        }
        let mut chunks = Vec::with_capacity(raw.len() / CHUNK_ENTRY);
        let mut total = 0u64;
        for e in raw.chunks_exact(CHUNK_ENTRY) {
            let (h, l) = e.split_at(32);
            let mut hash = [0u8; 32];
            hash.copy_from_slice(h);
            let length = u32::from_be_bytes([l[0], l[1], l[2], l[3]]);
            total = total.saturating_add(u64::from(length));
            chunks.push(ChunkRef { hash, length });
        }
        if total != self.size {
            return Err(bad(&format!(
                "chunks add up to {total} bytes, size says {}",
                self.size
            )));
        }
        if self.sha256.len() != 64 || !self.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad("sha256 is not 64 hex characters"));
        }
        Ok(PackageManifest {
            id: self.id.clone(),
            version: self.version.clone(),
            size: self.size,
            sha256: self.sha256.to_ascii_lowercase(),
            format: self.format,
            chunks,
            uploaded_at: self.uploaded_at,
        })
    }

    /// The in-toto subject name: `<id>@<version>`.
    pub fn subject_name(&self) -> String {
        format!("{}@{}", self.id, self.version)
    }
}

/// The signed contents of a bundle (the in-toto predicate). Sensitive values are sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleContents {
    /// Random 128-bit id (hex); binds the sealed values to this bundle.
    pub bundle_id: String,
    pub source_space: String,
    pub target_space: String,
    /// `sha256:<hex>` of the target's public key (65-byte SEC1) the values are sealed for.
    pub recipient_key: String,
    pub project: ProjectInfo,
    pub release: ReleaseInfo,
    pub process: Process,
    pub variables: Vec<BundleVariable>,
    pub templates: Vec<VariableTemplate>,
    pub pinned_packages: Vec<PinnedPackage>,
    pub packages: Vec<BundlePackage>,
    pub deployments: Vec<DeploymentSummary>,
    pub created_at: Timestamp,
    pub traceparent: String,
    /// Where the release was first made, when that is not `source_space` (schema 1.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<BundleOrigin>,
}

/// A sensitive value after decryption by the target Space. `Debug` masks the value.
#[derive(Clone, PartialEq, Eq)]
pub struct DecryptedVariable {
    pub id: String,
    pub name: String,
    pub value: String,
}

impl std::fmt::Debug for DecryptedVariable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecryptedVariable")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("value", &"********")
            .finish()
    }
}
