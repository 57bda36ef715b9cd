//! Record impls: the table, key and format version of every stored domain type.

use serde::{Deserialize, Serialize};

use super::{Record, key_of};
use domain::model::{
    Channel, Environment, Lifecycle, Process, Project, Release, Timestamp, Variable,
    VariableTemplate,
};

impl Record for Environment {
    const TABLE: &'static str = "environment";
    const VERSION: u32 = 1;
    fn key(&self) -> String {
        key_of(&[&self.name])
    }
}

impl Record for Lifecycle {
    const TABLE: &'static str = "lifecycle";
    const VERSION: u32 = 1;
    fn key(&self) -> String {
        key_of(&[&self.name])
    }
}

impl Record for Project {
    const TABLE: &'static str = "project";
    const VERSION: u32 = 1;
    fn key(&self) -> String {
        key_of(&[&self.name])
    }
}

impl Record for Channel {
    const TABLE: &'static str = "channel";
    const VERSION: u32 = 1;
    fn key(&self) -> String {
        key_of(&[&self.project, &self.name])
    }
}

impl Record for Release {
    const TABLE: &'static str = "release";
    const VERSION: u32 = 1;
    fn key(&self) -> String {
        key_of(&[&self.project, &self.version])
    }
}

/// A project's deployment process.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessRecord {
    pub project: String,
    pub process: Process,
}

impl Record for ProcessRecord {
    const TABLE: &'static str = "process";
    const VERSION: u32 = 1;
    fn key(&self) -> String {
        key_of(&[&self.project])
    }
}

/// A project's variables and variable templates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariableSetRecord {
    pub project: String,
    pub variables: Vec<Variable>,
    pub templates: Vec<VariableTemplate>,
    /// The numeric part of the next variable id ("v-N").
    pub next_id: u64,
}

impl Record for VariableSetRecord {
    const TABLE: &'static str = "variables";
    const VERSION: u32 = 1;
    fn key(&self) -> String {
        key_of(&[&self.project])
    }
}

/// An API key, stored by the SHA-256 of the key (the key itself is never stored). Version 2
/// added its user, expiry, revocation, last use and the registration grant; a version 1 key
/// reads with its name as its user and none of those set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    /// The key's label ("admin", "ci-pipeline").
    pub name: String,
    pub key_hash: String,
    pub admin: bool,
    pub created_at: Timestamp,
    /// The user or service account it belongs to ("": a version 1 key, whose user is `name`).
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub expires_at: Option<Timestamp>,
    #[serde(default)]
    pub revoked_at: Option<Timestamp>,
    /// Updated at most once a minute.
    #[serde(default)]
    pub last_used: Option<Timestamp>,
    /// Set for an agent registration token: it can register agents and nothing else.
    #[serde(default)]
    pub registration: Option<RegistrationGrant>,
}

/// What an agent registration token may still do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationGrant {
    /// Registrations left; `None`: any number until it expires.
    pub uses_left: Option<u32>,
}

impl ApiKeyRecord {
    /// The user the key acts for.
    pub fn user_name(&self) -> &str {
        if self.user.is_empty() {
            &self.name
        } else {
            &self.user
        }
    }

    /// A short id to name the key by (the start of its hash; the key itself is not kept).
    pub fn id(&self) -> &str {
        &self.key_hash[..self.key_hash.len().min(12)]
    }
}

/// A user or service account of a Space (its API keys are [`ApiKeyRecord`]s).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    pub name: String,
    /// A service account (automation) rather than a person.
    pub service: bool,
    /// May do everything, managing users and keys included.
    pub admin: bool,
    pub created_at: Timestamp,
    /// The web sign-in password's hash (`secrets::password`), if one was set (version 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

impl Record for domain::access::Team {
    const TABLE: &'static str = "team";
    const VERSION: u32 = 1;
    fn key(&self) -> String {
        key_of(&[&self.name])
    }
}

/// A custom role (the built-in ones are `domain::access::builtin_roles`).
impl Record for domain::access::Role {
    const TABLE: &'static str = "role";
    const VERSION: u32 = 1;
    fn key(&self) -> String {
        key_of(&[&self.name])
    }
}

impl Record for UserRecord {
    const TABLE: &'static str = "user";
    /// 2: `password` (a version 1 user has none).
    const VERSION: u32 = 2;
    fn key(&self) -> String {
        key_of(&[&self.name])
    }
}

impl Record for ApiKeyRecord {
    const TABLE: &'static str = "apikey";
    const VERSION: u32 = 2;
    fn key(&self) -> String {
        self.key_hash.clone()
    }
}

impl Record for domain::package::PackageManifest {
    const TABLE: &'static str = "package";
    const VERSION: u32 = 1;
    fn key(&self) -> String {
        key_of(&[&self.id, &self.version])
    }
}

impl Record for domain::model::Tenant {
    const TABLE: &'static str = "tenant";
    const VERSION: u32 = 1;
    fn key(&self) -> String {
        key_of(&[&self.name])
    }
}

impl Record for domain::model::Target {
    const TABLE: &'static str = "target";
    const VERSION: u32 = 1;
    fn key(&self) -> String {
        key_of(&[&self.name])
    }
}

/// Index: target certificate fingerprint -> target name.
pub const TARGET_BY_FINGERPRINT: &str = "target_fp";

impl Record for domain::model::Deployment {
    const TABLE: &'static str = "deployment";
    const VERSION: u32 = 1;
    fn key(&self) -> String {
        deployment_key(self.number)
    }
}

/// Deployments sort by number.
/// A scheduled deployment's key: an untenanted one keeps the version 1 key.
pub fn scheduled_key(
    project: &str,
    version: &str,
    environment: &str,
    tenant: Option<&str>,
) -> String {
    match tenant {
        Some(t) => key_of(&[project, version, environment, t]),
        None => key_of(&[project, version, environment]),
    }
}

pub fn deployment_key(number: u64) -> String {
    format!("{number:012}")
}

impl Record for domain::model::LogEntry {
    const TABLE: &'static str = "deploylog";
    const VERSION: u32 = 1;
    fn key(&self) -> String {
        format!("{}\u{1f}{:012}", deployment_key(self.deployment), self.seq)
    }
}

/// The prefix of every log line of one deployment.
pub fn log_prefix(number: u64) -> String {
    format!("{}\u{1f}", deployment_key(number))
}

impl Record for domain::model::Promotion {
    const TABLE: &'static str = "promotion";
    const VERSION: u32 = 1;
    fn key(&self) -> String {
        self.bundle_id.clone()
    }
}

impl Record for domain::model::PromotionJob {
    const TABLE: &'static str = "promotion_job";
    const VERSION: u32 = 1;
    fn key(&self) -> String {
        key_of(&[&self.project, &self.version, &self.target_space])
    }
}

impl Record for domain::model::StagingJob {
    const TABLE: &'static str = "staging_job";
    const VERSION: u32 = 1;
    fn key(&self) -> String {
        self.id.to_ascii_lowercase()
    }
}

impl Record for domain::model::AutoImportRule {
    const TABLE: &'static str = "auto_import";
    const VERSION: u32 = 1;
    fn key(&self) -> String {
        key_of(&[&self.source_space, &self.project])
    }
}

impl Record for domain::model::PeerContact {
    const TABLE: &'static str = "peer_contact";
    const VERSION: u32 = 1;
    fn key(&self) -> String {
        key_of(&[&self.space])
    }
}

impl Record for domain::model::ScheduledDeployment {
    const TABLE: &'static str = "scheduled_deployment";
    /// 2: `tenant` (a version 1 record is untenanted).
    const VERSION: u32 = 2;
    fn key(&self) -> String {
        scheduled_key(
            &self.project,
            &self.version,
            &self.environment,
            self.tenant.as_deref(),
        )
    }
}

impl Record for domain::model::ReceivedBundle {
    const TABLE: &'static str = "bundle";
    const VERSION: u32 = 1;
    fn key(&self) -> String {
        self.id.clone()
    }
}

impl Record for domain::model::ReceiptSent {
    const TABLE: &'static str = "receipt_sent";
    const VERSION: u32 = 1;
    fn key(&self) -> String {
        deployment_key(self.deployment)
    }
}

impl Record for domain::model::RelayedReceipts {
    const TABLE: &'static str = "receipt_relay";
    const VERSION: u32 = 1;
    fn key(&self) -> String {
        key_of(&[
            &self.to_space,
            &format!("{:012}", self.created_at.max(0)),
            &self.digest,
        ])
    }
}

impl Record for domain::model::RemoteResult {
    const TABLE: &'static str = "remote_result";
    const VERSION: u32 = 1;
    fn key(&self) -> String {
        key_of(&[&self.from_space, &self.bundle_digest, &self.receipt_id])
    }
}
