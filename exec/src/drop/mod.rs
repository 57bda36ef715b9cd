//! Offline Package Drop: the folder a Space writes instead of deploying to an agent, the
//! runner that deploys it on a machine nothing can reach, and the operator-reported result.
//!
//! A drop is a folder `{Target}.{Project}.{DeploymentId}` holding:
//!
//! | file | what |
//! |---|---|
//! | `drop.json` | the drop definition ([`DropDefinition`]): deployment, steps in order, defaults |
//! | `{Target}.{Project}.{Step}.variables.json` | per step: the step, its package, non-sensitive raw values |
//! | `sensitive-variables.age` | sensitive values of every step, `age`-encrypted with the target's password (only when there are any) |
//! | `packages/{Id}.{Version}_{SHA256[..32]}.{ext}` | each package, reassembled from the chunk store and verified |
//! | `scripts/{Step}.{sh,py}` | each inline script step's body (what the runner runs) |
//! | `deploy` | the runner: a copy of the `deploy` binary (`deploy drop run`) |
//! | `{name}.sh`, `{name}.cmd`, `{name}.ps1` | launchers calling the runner |
//! | `manifest.json` | SHA-256, size and mode of every other file |
//! | `manifest.sig` | the Space's signature over `manifest.json` (its API certificate's key) |
//!
//! It is built in `<drop folder>/.{name}.partial-{random}` and renamed into place, so a
//! half-written drop never carries its final name. The runner runs only a drop pinned from
//! outside the folder (the Space's certificate fingerprint, against which it checks
//! `manifest.sig`, or the manifest's SHA-256 from the deployment log), reads every file it
//! uses once into private storage and checks that copy against the manifest before anything
//! else; when the drop has sensitive values, the encrypted file also holds the hash of every
//! other file.

mod crypt;
mod format;
mod manifest;
mod receipt;
mod runner;
mod signature;
mod snapshot;
mod writer;

#[cfg(test)]
mod tests;

pub use crypt::{SCRYPT_LOG_N, decrypt, encrypt};
pub use format::{
    DropDefinition, DropStep, FORMAT_VERSION, PackageRef, PlainVariable, SensitivePayload,
    StepVariablesFile,
};
pub use manifest::{Manifest, ManifestEntry, build_manifest, verify};
pub use receipt::{DropReceipt, RECEIPT_KIND, make_receipt, parse_receipt};
pub use runner::{RunOptions, RunResult, StepResult, run_drop};
pub use signature::{CheckSignature, DropSigner, ManifestSignature, SIGNATURE_FILE};
pub use writer::{DropPlan, PlannedStep, Written, write_drop};

pub use age::secrecy::{ExposeSecret, SecretString};

/// File names inside a drop.
pub const DEFINITION_FILE: &str = "drop.json";
pub const MANIFEST_FILE: &str = "manifest.json";
pub const SENSITIVE_FILE: &str = "sensitive-variables.age";
pub const RESULT_FILE: &str = "result.json";
pub const RUNNER_FILE: &str = "deploy";

/// What can go wrong writing, verifying or running a drop. Messages never hold a secret.
#[derive(Debug, thiserror::Error)]
pub enum DropError {
    #[error("{what} '{path}': {source}")]
    Io {
        what: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the drop in '{dir}' does not match its manifest, so nothing was run: {problems}; copy the drop folder again from the Space"
    )]
    Tampered { dir: String, problems: String },
    #[error("'{path}' is not a valid {what}: {reason}")]
    Format {
        what: &'static str,
        path: String,
        reason: String,
    },
    #[error(
        "wrong sensitive-variables password for this drop: it cannot be decrypted, nothing was deployed"
    )]
    WrongPassword,
    #[error("{0}")]
    Invalid(String),
    #[error("cannot {what} the sensitive variables: {reason}")]
    Crypto { what: &'static str, reason: String },
    #[error(transparent)]
    Package(#[from] package_store::PackageError),
}

impl DropError {
    pub(crate) fn io(what: &'static str, path: &std::path::Path, source: std::io::Error) -> Self {
        DropError::Io {
            what,
            path: path.display().to_string(),
            source,
        }
    }
}

/// A name usable as one file name on Linux and Windows: path separators, reserved and
/// control characters become `_`, and a leading `.` too (no hidden or relative names).
pub fn file_safe(name: &str) -> String {
    let mut s: String = name
        .trim()
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|') {
                '_'
            } else {
                c
            }
        })
        .collect();
    if s.starts_with('.') {
        s.replace_range(0..1, "_");
    }
    if s.is_empty() { "_".into() } else { s }
}

/// `{Target}.{Project}.{DeploymentId}`: the drop folder's name and its launchers' stem.
pub fn drop_name(target: &str, project: &str, deployment_id: &str) -> String {
    file_safe(&format!("{target}.{project}.{deployment_id}"))
}

/// `{Target}.{Project}.{Step}.variables.json`.
pub fn variables_file_name(target: &str, project: &str, step: &str) -> String {
    file_safe(&format!("{target}.{project}.{step}.variables.json"))
}

/// `{Id}.{Version}_{first 32 hex of SHA-256, upper case}.{ext}`.
pub fn package_file_name(m: &package_store::PackageManifest) -> String {
    let hash: String = m.sha256.chars().take(32).collect();
    file_safe(&format!(
        "{}.{}_{}.{}",
        m.id,
        m.version,
        hash.to_ascii_uppercase(),
        m.format.extension()
    ))
}

/// Hex SHA-256 of some bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
