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
}

/// A deployment target: an agent known by its certificate fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub name: String,
    /// `sha256:<hex>` of the agent's certificate.
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
