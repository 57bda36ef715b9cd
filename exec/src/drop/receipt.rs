//! The result file an operator carries back to the Space after running a drop
//! (`deploy drop receipt`, then `deploy receipt import`).
//!
//! It is not signed (the drop machine holds no key the Space trusts): the Space records it as
//! operator-reported, and accepts it only for an offline drop target of the deployment it
//! names, with the SHA-256 of the manifest the Space wrote. `kind` tells it apart from the
//! signed receipts Spaces exchange, which go through the same import command.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::runner::{StepResult, read_result};
use super::{DropError, FORMAT_VERSION, MANIFEST_FILE, sha256_hex};
use domain::model::{RunState, Timestamp};

/// The `kind` of an offline drop result file.
pub const RECEIPT_KIND: &str = "offline-drop-result";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropReceipt {
    pub kind: String,
    pub version: u32,
    /// Always true: nobody signed this, an operator vouches for it.
    pub operator_reported: bool,
    pub space: String,
    pub deployment_id: String,
    pub project: String,
    pub release: String,
    pub environment: String,
    pub target: String,
    pub state: RunState,
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    pub steps: Vec<StepResult>,
    /// SHA-256 of the drop's `manifest.json`, as the Space wrote it.
    pub drop_manifest_sha256: String,
}

/// Builds the result file of a drop that `deploy drop run` ran in `dir`.
pub fn make_receipt(dir: &Path) -> Result<DropReceipt, DropError> {
    let r = read_result(dir)?;
    let mp = dir.join(MANIFEST_FILE);
    let manifest = std::fs::read(&mp).map_err(|e| DropError::io("cannot read", &mp, e))?;
    let sha = sha256_hex(&manifest);
    if sha != r.manifest_sha256 {
        return Err(DropError::Invalid(format!(
            "the result in '{}' was recorded for another manifest than the drop's: run the drop again",
            dir.display()
        )));
    }
    Ok(DropReceipt {
        kind: RECEIPT_KIND.into(),
        version: FORMAT_VERSION,
        operator_reported: true,
        space: r.space,
        deployment_id: r.deployment_id,
        project: r.project,
        release: r.release,
        environment: r.environment,
        target: r.target,
        state: r.state,
        started_at: r.started_at,
        finished_at: r.finished_at,
        steps: r.steps,
        drop_manifest_sha256: sha,
    })
}

/// Parses a result file, refusing another kind, a newer version or a non-final state.
pub fn parse_receipt(bytes: &[u8]) -> Result<DropReceipt, DropError> {
    let bad = |reason: String| DropError::Format {
        what: "offline drop result",
        path: "the file".into(),
        reason,
    };
    let r: DropReceipt = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
    if r.kind != RECEIPT_KIND {
        return Err(bad(format!(
            "its kind is '{}', expected '{RECEIPT_KIND}'",
            r.kind
        )));
    }
    if r.version > FORMAT_VERSION {
        return Err(bad(format!(
            "format version {} is newer than this Space reads ({FORMAT_VERSION})",
            r.version
        )));
    }
    if !r.operator_reported || !r.state.is_final() {
        return Err(bad("it does not report a finished run".into()));
    }
    Ok(r)
}
