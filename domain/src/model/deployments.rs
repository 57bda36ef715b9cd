//! Deployment targets and deployments: where releases run, and what happened when they did.

use serde::{Deserialize, Serialize};

use super::Timestamp;

/// How the Space reaches a target's agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AgentMode {
    /// The agent connects to the Space and holds a stream open.
    Polling,
    /// The agent serves; the Space connects to it at this address (https://host:port).
    Listening { address: String },
    /// No agent: deploying writes an offline drop folder that an operator carries across and
    /// runs (`deploy drop run`). The paths other than `drop_folder` are on the machine that
    /// will run it.
    OfflineDrop {
        /// Where the Space writes drops (on the Space's machine).
        drop_folder: String,
        applications_dir: String,
        working_dir: String,
        /// The sensitive-variables password, sealed with the master key
        /// ([`Target::drop_password_context`]); never returned or logged.
        password: Option<Vec<u8>>,
    },
}

/// A deployment target: an agent known by its certificate fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub name: String,
    /// `sha256:<hex>` of the agent's certificate; empty for an offline drop target.
    pub fingerprint: String,
    pub mode: AgentMode,
    pub environments: Vec<String>,
    pub roles: Vec<String>,
    pub created_at: Timestamp,
}

impl Target {
    /// Whether the target serves `environment` and (when `roles` is non-empty) has one of them.
    pub fn matches(&self, environment: &str, roles: &[String]) -> bool {
        self.environments
            .iter()
            .any(|e| e.eq_ignore_ascii_case(environment))
            && (roles.is_empty()
                || roles
                    .iter()
                    .any(|r| self.roles.iter().any(|x| x.eq_ignore_ascii_case(r))))
    }

    pub fn is_offline_drop(&self) -> bool {
        matches!(self.mode, AgentMode::OfflineDrop { .. })
    }

    /// The sealing context of an offline drop target's password.
    pub fn drop_password_context(name: &str) -> String {
        format!("drop-password:{}", name.to_lowercase())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RunState {
    Queued,
    Pending,
    Running,
    Success,
    Failed,
    Cancelled,
    Skipped,
}

impl RunState {
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Queued => "queued",
            RunState::Pending => "pending",
            RunState::Running => "running",
            RunState::Success => "success",
            RunState::Failed => "failed",
            RunState::Cancelled => "cancelled",
            RunState::Skipped => "skipped",
        }
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            RunState::Success | RunState::Failed | RunState::Cancelled | RunState::Skipped
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetRun {
    pub target: String,
    pub state: RunState,
    pub exit_code: Option<i32>,
    pub error: Option<String>,
    /// Compressed package bytes sent to the agent for this step.
    pub transferred_bytes: u64,
    pub installed_to: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRun {
    pub name: String,
    pub state: RunState,
    pub targets: Vec<TargetRun>,
}

impl StepRun {
    /// The targets that did not succeed, with why: "web-01 (exit code 3), web-02 (...)".
    pub fn failures(&self) -> String {
        let failed: Vec<String> = self
            .targets
            .iter()
            .filter(|t| t.state != RunState::Success)
            .map(|t| match (&t.error, t.exit_code) {
                (Some(e), _) => format!("{} ({e})", t.target),
                (None, Some(c)) => format!("{} (exit code {c})", t.target),
                (None, None) => format!("{} ({})", t.target, t.state.as_str()),
            })
            .collect();
        if failed.is_empty() {
            "one or more targets".into()
        } else {
            failed.join(", ")
        }
    }
}

/// One deployment of a release to an environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    /// "Deployments-N".
    pub id: String,
    pub number: u64,
    pub project: String,
    pub version: String,
    pub environment: String,
    pub state: RunState,
    pub created_by: String,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub steps: Vec<StepRun>,
    pub error: Option<String>,
    /// Offline drops written by this deployment, with what operators reported.
    #[serde(default)]
    pub drops: Vec<DropWritten>,
    /// `created_at` of the release deployed: a release deleted and created again under the same
    /// version does not inherit the old one's deployments.
    #[serde(default)]
    pub release_created_at: Option<super::Timestamp>,
    /// A tenant deployment's tenant (`None` for deployments before tenants, and untenanted).
    #[serde(default)]
    pub tenant: Option<String>,
    /// W3C `traceparent` of the deployment's span when trace export is on (a child of the
    /// promotion's trace for an imported release); its receipt carries it back.
    #[serde(default)]
    pub traceparent: String,
}

/// One offline drop folder a deployment wrote for one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropWritten {
    pub target: String,
    /// The drop's folder on the Space's machine.
    pub folder: String,
    /// SHA-256 (hex) of the drop's `manifest.json`; a result must name it to be imported.
    pub manifest_sha256: String,
    /// The result an operator imported (`deploy receipt import`); not signed.
    pub report: Option<OperatorReport>,
}

/// An operator-reported result of running an offline drop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorReport {
    pub state: RunState,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub steps: Vec<ReportedStep>,
    pub imported_at: Timestamp,
    pub imported_by: String,
    /// SHA-256 (hex) of the imported file: importing the same file again changes nothing.
    pub receipt_sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportedStep {
    pub name: String,
    pub state: RunState,
    pub exit_code: Option<i32>,
    pub error: Option<String>,
}

impl Deployment {
    pub fn id_for(number: u64) -> String {
        format!("Deployments-{number}")
    }

    /// Parses "Deployments-N" (or just "N").
    pub fn number_of(id: &str) -> Option<u64> {
        id.trim()
            .strip_prefix("Deployments-")
            .unwrap_or(id.trim())
            .parse()
            .ok()
    }
}

/// One line of a deployment's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    pub deployment: u64,
    pub seq: u64,
    pub at: Timestamp,
    pub step: String,
    pub target: String,
    /// stdout | stderr | info | warn
    pub stream: String,
    /// Already masked.
    pub text: String,
}

/// A variable value for one step on one target, already resolved for its step and target.
#[derive(Clone, PartialEq, Eq)]
pub struct StepVariable {
    pub name: String,
    pub value: String,
    pub sensitive: bool,
}

impl std::fmt::Debug for StepVariable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = if self.sensitive {
            crate::variables::MASK
        } else {
            &self.value
        };
        write!(f, "{}={v}", self.name)
    }
}
