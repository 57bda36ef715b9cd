//! The files of a drop that describe it: the definition, the per-step variables files and
//! the (encrypted) sensitive payload. Every file carries a `kind` and a `version`; a reader
//! refuses a version newer than it knows.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::DropError;
use domain::model::{Step, Timestamp};
use package_store::ArchiveFormat;

/// The format version this build writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;
/// A drop definition for a tenant (`tenant` set) is version 2, so a runner that would ignore
/// the tenant (and extract where the untenanted release goes) refuses it.
pub const TENANT_DEFINITION_VERSION: u32 = 2;
pub(crate) const KIND_DEFINITION: &str = "offline-drop";
pub(crate) const KIND_VARIABLES: &str = "offline-drop-variables";
pub(crate) const KIND_SENSITIVE: &str = "offline-drop-sensitive-variables";

/// `drop.json`: what the runner needs to run the drop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropDefinition {
    pub kind: String,
    pub version: u32,
    pub space: String,
    pub deployment_id: String,
    pub project: String,
    pub release: String,
    pub environment: String,
    pub channel: String,
    pub target: String,
    pub created_at: Timestamp,
    /// Defaults for `deploy drop run` (the target's configuration).
    pub applications_dir: String,
    pub working_dir: String,
    /// In execution order.
    pub steps: Vec<DropStep>,
    /// The encrypted sensitive values, when there are any.
    pub sensitive_file: Option<String>,
    /// A tenant deployment's tenant (version 2): packages extract under
    /// `{applications}/{tenant}/{environment}/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

/// One step of a drop and where its files are (paths relative to the drop, `/`-separated).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropStep {
    pub name: String,
    pub variables_file: String,
    /// The inline script body the runner runs (instead of the copy in the step definition).
    pub script_file: Option<String>,
    pub package_file: Option<String>,
}

/// A package in a drop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageRef {
    pub id: String,
    pub version: String,
    pub sha256: String,
    pub size: u64,
    pub format: ArchiveFormat,
    pub file: String,
}

/// A variable value as the Space resolved it for the step and target (raw: `#{...}` is
/// expanded by the runner, like on an agent).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlainVariable {
    pub name: String,
    pub value: String,
}

impl std::fmt::Debug for PlainVariable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}=({} bytes)", self.name, self.value.len())
    }
}

/// `{Target}.{Project}.{Step}.variables.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepVariablesFile {
    pub kind: String,
    pub version: u32,
    pub deployment_id: String,
    pub target: String,
    pub project: String,
    pub step: Step,
    pub package: Option<PackageRef>,
    /// Non-sensitive values only.
    pub variables: Vec<PlainVariable>,
    /// Names of this step's sensitive variables (their values are in the encrypted file).
    pub sensitive_names: Vec<String>,
}

/// The plaintext of `sensitive-variables.age`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SensitivePayload {
    pub kind: String,
    pub version: u32,
    pub deployment_id: String,
    /// SHA-256 of every other file of the drop except `manifest.json` (path -> hex): what the
    /// password holder vouches for.
    pub files: BTreeMap<String, String>,
    /// Step name -> its sensitive values.
    pub steps: BTreeMap<String, Vec<PlainVariable>>,
}

/// Things with a `kind` and `version` to check when read.
pub(crate) trait Versioned {
    const KIND: &'static str;
    const WHAT: &'static str;
    /// The newest version this build reads.
    const NEWEST: u32 = FORMAT_VERSION;
    fn kind_version(&self) -> (&str, u32);
}

impl Versioned for DropDefinition {
    const KIND: &'static str = KIND_DEFINITION;
    const WHAT: &'static str = "drop definition";
    const NEWEST: u32 = TENANT_DEFINITION_VERSION;
    fn kind_version(&self) -> (&str, u32) {
        (&self.kind, self.version)
    }
}

impl Versioned for StepVariablesFile {
    const KIND: &'static str = KIND_VARIABLES;
    const WHAT: &'static str = "drop variables file";
    fn kind_version(&self) -> (&str, u32) {
        (&self.kind, self.version)
    }
}

impl Versioned for SensitivePayload {
    const KIND: &'static str = KIND_SENSITIVE;
    const WHAT: &'static str = "sensitive variables file";
    fn kind_version(&self) -> (&str, u32) {
        (&self.kind, self.version)
    }
}

/// Parses a versioned file, refusing another kind or a newer version.
pub(crate) fn parse<T: Versioned + DeserializeOwned>(
    bytes: &[u8],
    path: &str,
) -> Result<T, DropError> {
    let bad = |reason: String| DropError::Format {
        what: T::WHAT,
        path: path.to_string(),
        reason,
    };
    let v: T = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
    let (kind, version) = v.kind_version();
    if kind != T::KIND {
        return Err(bad(format!("its kind is '{kind}', expected '{}'", T::KIND)));
    }
    if version > T::NEWEST {
        return Err(bad(format!(
            "it has format version {version} and this runner reads up to {}: use a newer deploy binary",
            T::NEWEST
        )));
    }
    Ok(v)
}
