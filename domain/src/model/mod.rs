//! The domain model of a Space: plain Rust types, independent of the wire and of storage.

use serde::{Deserialize, Serialize};

/// Seconds since the Unix epoch, UTC.
pub type Timestamp = i64;

/// Current time as a [`Timestamp`].
pub fn now() -> Timestamp {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Space {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Environment {
    /// For a remote environment, "<Space>: <name>" (e.g. "Prod: Production").
    pub name: String,
    pub description: String,
    pub sort_order: u32,
    /// Set for a Remote Environment: a placeholder for an environment another Space owns.
    /// Its results come from that Space's Deployment Receipts; nothing deploys to it here.
    #[serde(default)]
    pub remote_space: Option<String>,
}

impl Environment {
    /// The name of a remote environment: "Prod: Production".
    pub fn remote_name(space: &str, name: &str) -> String {
        format!("{space}: {name}")
    }

    /// For "Prod: Production", `Some(("Prod", "Production"))`.
    pub fn split_remote(name: &str) -> Option<(&str, &str)> {
        let (space, env) = name.split_once(": ")?;
        (!space.is_empty() && !env.is_empty()).then_some((space, env))
    }

    /// An environment name from a release of Space `source`, as Space `me` sees it:
    /// "<me>: X" is its own "X"; the source's own "X" becomes "<source>: X" (so it never
    /// matches an environment of `me` that happens to share the name); other Spaces' stay.
    pub fn as_seen_from(name: &str, me: &str, source: &str) -> String {
        match Self::split_remote(name) {
            Some((space, env)) if space.eq_ignore_ascii_case(me) => env.to_string(),
            Some(_) => name.to_string(),
            None => Self::remote_name(source, name),
        }
    }
}

/// What a phase requires before the release may progress to the next phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PhaseRule {
    /// Every environment of the phase.
    All,
    /// At least this many environments of the phase.
    AtLeast(u32),
    /// The phase may be skipped.
    Optional,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phase {
    pub name: String,
    pub environments: Vec<String>,
    pub rule: PhaseRule,
    /// Deploy to this phase's environments automatically once the previous phase completes.
    pub automatic: bool,
    /// Start replicating a release's packages to the Spaces this phase names (directly or by a
    /// remote environment) as soon as the release exists, so its promotion moves only the
    /// bundle.
    #[serde(default)]
    pub prestage: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lifecycle {
    pub name: String,
    pub description: String,
    pub phases: Vec<Phase>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    pub project: String,
    pub name: String,
    pub description: String,
    /// `None`: the project's lifecycle.
    pub lifecycle: Option<String>,
    pub is_default: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    /// For a Remote Project, "<source Space>: <project>" (e.g. "DevTest: Web").
    pub name: String,
    pub description: String,
    pub lifecycle: String,
    /// Set for a Remote Project: imported from Release Bundles of another Space. What built its
    /// releases (process, variables, templates, channels) is read-only here.
    #[serde(default)]
    pub remote: Option<RemoteOrigin>,
}

/// Where a Remote Project comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteOrigin {
    pub space: String,
    /// The project's name in that Space.
    pub project: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScriptSyntax {
    Bash,
    Sh,
    Python3,
}

impl ScriptSyntax {
    pub fn as_str(self) -> &'static str {
        match self {
            ScriptSyntax::Bash => "bash",
            ScriptSyntax::Sh => "sh",
            ScriptSyntax::Python3 => "python3",
        }
    }
}

impl std::str::FromStr for ScriptSyntax {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "bash" | "" => Ok(ScriptSyntax::Bash),
            "sh" => Ok(ScriptSyntax::Sh),
            "python3" | "python" => Ok(ScriptSyntax::Python3),
            other => Err(format!(
                "unknown script syntax '{other}': use bash, sh or python3"
            )),
        }
    }
}

/// Where a script step's body comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScriptSource {
    Inline(String),
    Package { package_id: String, path: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StepAction {
    DeployPackage {
        package_id: String,
        /// Glob patterns of files in which `#{...}` is substituted.
        substitute_files: Vec<String>,
        /// JSON/YAML files whose keys are replaced by structured variables.
        structured_files: Vec<String>,
    },
    RunScript {
        syntax: ScriptSyntax,
        source: ScriptSource,
    },
}

impl StepAction {
    /// The package this step needs, if any.
    pub fn package_id(&self) -> Option<&str> {
        match self {
            StepAction::DeployPackage { package_id, .. } => Some(package_id),
            StepAction::RunScript {
                source: ScriptSource::Package { package_id, .. },
                ..
            } => Some(package_id),
            StepAction::RunScript { .. } => None,
        }
    }
}

/// One step of a project's deployment process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub name: String,
    /// Empty: every environment.
    pub environments: Vec<String>,
    /// Empty: every target role.
    pub roles: Vec<String>,
    /// Empty: every channel.
    pub channels: Vec<String>,
    pub action: StepAction,
}

/// A project's deployment process: its steps in execution order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Process {
    pub steps: Vec<Step>,
}

/// The dimensions a variable value can be scoped to. An empty list means "any".
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Scope {
    pub environments: Vec<String>,
    pub roles: Vec<String>,
    pub targets: Vec<String>,
    pub steps: Vec<String>,
    pub channels: Vec<String>,
    pub tenants: Vec<String>,
}

impl Scope {
    pub fn is_unscoped(&self) -> bool {
        self.environments.is_empty()
            && self.roles.is_empty()
            && self.targets.is_empty()
            && self.steps.is_empty()
            && self.channels.is_empty()
            && self.tenants.is_empty()
    }
}

impl Scope {
    /// Whether `self` and `other` scope to the same things (each dimension compared as a set,
    /// ignoring case and order).
    pub fn same_as(&self, other: &Scope) -> bool {
        fn set(v: &[String]) -> std::collections::BTreeSet<String> {
            v.iter().map(|s| s.trim().to_lowercase()).collect()
        }
        let dims = |s: &Scope| {
            [
                set(&s.environments),
                set(&s.roles),
                set(&s.targets),
                set(&s.steps),
                set(&s.channels),
                set(&s.tenants),
            ]
        };
        dims(self) == dims(other)
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let dims = [
            ("env", &self.environments),
            ("role", &self.roles),
            ("target", &self.targets),
            ("step", &self.steps),
            ("channel", &self.channels),
            ("tenant", &self.tenants),
        ];
        let parts: Vec<String> = dims
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}={}", v.join(",")))
            .collect();
        if parts.is_empty() {
            f.write_str("(unscoped)")
        } else {
            f.write_str(&parts.join(" "))
        }
    }
}

/// A variable's value. Sensitive values are only ever held encrypted outside the moment of use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum VariableValue {
    Plain(String),
    /// Ciphertext produced by [`crate::secrets::MasterKey::seal`].
    Sensitive(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variable {
    /// Stable id inside the project's variable set (e.g. "v-12").
    pub id: String,
    pub name: String,
    pub value: VariableValue,
    pub scope: Scope,
    pub description: String,
}

impl Variable {
    pub fn is_sensitive(&self) -> bool {
        matches!(self.value, VariableValue::Sensitive(_))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TemplateKind {
    Text,
    MultiLine,
    Sensitive,
    Boolean,
}

impl TemplateKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TemplateKind::Text => "text",
            TemplateKind::MultiLine => "multiline",
            TemplateKind::Sensitive => "sensitive",
            TemplateKind::Boolean => "boolean",
        }
    }
}

impl std::str::FromStr for TemplateKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "text" | "" => Ok(TemplateKind::Text),
            "multiline" => Ok(TemplateKind::MultiLine),
            "sensitive" => Ok(TemplateKind::Sensitive),
            "boolean" | "bool" | "checkbox" => Ok(TemplateKind::Boolean),
            other => Err(format!(
                "unknown template kind '{other}': use text, multiline, sensitive or boolean"
            )),
        }
    }
}

/// Declares that a variable needs a value per environment (or tenant).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariableTemplate {
    pub name: String,
    pub label: String,
    pub help_text: String,
    pub kind: TemplateKind,
    pub mandatory: bool,
    pub default_value: Option<String>,
}

/// A package pinned by a release: id, version and the SHA-256 of its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinnedPackage {
    /// The step that deploys it (or whose script comes from it).
    pub step: String,
    pub id: String,
    pub version: String,
    pub sha256: String,
}

/// A release: a version of a project with its process and variables frozen at creation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    pub project: String,
    pub version: String,
    pub channel: String,
    pub notes: String,
    pub packages: Vec<PinnedPackage>,
    pub process: Process,
    pub variables: Vec<Variable>,
    pub templates: Vec<VariableTemplate>,
    pub created_at: Timestamp,
    pub created_by: String,
    /// Set for a release imported from a Release Bundle.
    #[serde(default)]
    pub origin: Option<ReleaseOrigin>,
}

/// A variable value as sent by a client, in plaintext; the server seals sensitive ones.
#[derive(Clone, PartialEq, Eq)]
pub struct VariableInput {
    pub project: String,
    pub id: Option<String>,
    pub name: String,
    pub value: String,
    pub sensitive: bool,
    pub scope: Scope,
    pub description: String,
}

impl std::fmt::Debug for VariableInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VariableInput")
            .field("project", &self.project)
            .field("name", &self.name)
            .field(
                "value",
                &if self.sensitive {
                    crate::variables::MASK
                } else {
                    &self.value
                },
            )
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
#[path = "../tests/model.rs"]
mod tests;

mod deployments;
mod promotion;
mod tenants;
pub use deployments::*;
pub use promotion::*;
pub use tenants::*;
