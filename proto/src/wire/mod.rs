//! Conversions between generated `space.v1` wire types and domain types. Proto messages are
//! destructured fully, so a new field breaks the build here instead of being silently dropped.

use crate::space::v1 as pb;

use domain::model::{
    Channel, Environment, Lifecycle, Phase, PhaseRule, Project, ScriptSource, ScriptSyntax, Step,
    StepAction,
};

pub mod agent;
pub mod drop;
mod release;

pub use release::*;

/// A wire message that does not describe a valid domain value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    #[error("field '{0}' is required")]
    Missing(&'static str),
    #[error("field '{field}' is invalid: {reason}")]
    Invalid { field: &'static str, reason: String },
}

impl domain::error::ServiceError for WireError {
    fn code(&self) -> domain::error::ErrorCode {
        domain::error::ErrorCode::Invalid
    }
}

pub(crate) fn required(field: &'static str, v: String) -> Result<String, WireError> {
    let v = v.trim().to_string();
    if v.is_empty() {
        return Err(WireError::Missing(field));
    }
    Ok(v)
}

fn opt(v: String) -> Option<String> {
    let v = v.trim().to_string();
    (!v.is_empty()).then_some(v)
}

pub fn timestamp(secs: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: secs,
        nanos: 0,
    }
}

// ---------- environments ----------

impl TryFrom<pb::Environment> for Environment {
    type Error = WireError;
    fn try_from(m: pb::Environment) -> Result<Self, WireError> {
        let pb::Environment {
            name,
            description,
            sort_order,
            remote_space,
        } = m;
        Ok(Environment {
            name: required("name", name)?,
            description,
            sort_order,
            remote_space: (!remote_space.trim().is_empty())
                .then(|| remote_space.trim().to_string()),
        })
    }
}

impl From<Environment> for pb::Environment {
    fn from(e: Environment) -> Self {
        let Environment {
            name,
            description,
            sort_order,
            remote_space,
        } = e;
        pb::Environment {
            name,
            description,
            sort_order,
            remote_space: remote_space.unwrap_or_default(),
        }
    }
}

// ---------- lifecycles ----------

impl TryFrom<pb::Phase> for Phase {
    type Error = WireError;
    fn try_from(m: pb::Phase) -> Result<Self, WireError> {
        let pb::Phase {
            name,
            environments,
            minimum_environments,
            optional,
            automatic,
            prestage,
        } = m;
        let rule = match (optional, minimum_environments) {
            (true, _) => PhaseRule::Optional,
            (false, 0) => PhaseRule::All,
            (false, n) => PhaseRule::AtLeast(n),
        };
        if let PhaseRule::AtLeast(n) = rule
            && n as usize > environments.len()
        {
            return Err(WireError::Invalid {
                field: "phases.minimum_environments",
                reason: format!(
                    "phase '{name}' requires at least {n} environments but lists only {}",
                    environments.len()
                ),
            });
        }
        Ok(Phase {
            name: required("phases.name", name)?,
            environments: environments
                .into_iter()
                .map(|e| e.trim().to_string())
                .collect(),
            rule,
            automatic,
            prestage,
        })
    }
}

impl From<Phase> for pb::Phase {
    fn from(p: Phase) -> Self {
        let Phase {
            name,
            environments,
            rule,
            automatic,
            prestage,
        } = p;
        let (minimum_environments, optional) = match rule {
            PhaseRule::All => (0, false),
            PhaseRule::AtLeast(n) => (n, false),
            PhaseRule::Optional => (0, true),
        };
        pb::Phase {
            name,
            environments,
            minimum_environments,
            optional,
            automatic,
            prestage,
        }
    }
}

impl TryFrom<pb::Lifecycle> for Lifecycle {
    type Error = WireError;
    fn try_from(m: pb::Lifecycle) -> Result<Self, WireError> {
        let pb::Lifecycle {
            name,
            description,
            phases,
        } = m;
        Ok(Lifecycle {
            name: required("name", name)?,
            description,
            phases: phases
                .into_iter()
                .map(Phase::try_from)
                .collect::<Result<_, _>>()?,
        })
    }
}

impl From<Lifecycle> for pb::Lifecycle {
    fn from(l: Lifecycle) -> Self {
        let Lifecycle {
            name,
            description,
            phases,
        } = l;
        pb::Lifecycle {
            name,
            description,
            phases: phases.into_iter().map(Into::into).collect(),
        }
    }
}

// ---------- projects and channels ----------

impl TryFrom<pb::Project> for Project {
    type Error = WireError;
    fn try_from(m: pb::Project) -> Result<Self, WireError> {
        // The origin of a Remote Project is output only: imports set it, never a request.
        let pb::Project {
            name,
            description,
            lifecycle,
            remote_space: _,
            remote_project: _,
        } = m;
        Ok(Project {
            name: required("name", name)?,
            description,
            lifecycle: required("lifecycle", lifecycle)?,
            remote: None,
        })
    }
}

impl From<Project> for pb::Project {
    fn from(p: Project) -> Self {
        let Project {
            name,
            description,
            lifecycle,
            remote,
        } = p;
        let (remote_space, remote_project) =
            remote.map(|r| (r.space, r.project)).unwrap_or_default();
        pb::Project {
            name,
            description,
            lifecycle,
            remote_space,
            remote_project,
        }
    }
}

impl TryFrom<pb::Channel> for Channel {
    type Error = WireError;
    fn try_from(m: pb::Channel) -> Result<Self, WireError> {
        let pb::Channel {
            project,
            name,
            description,
            lifecycle,
            is_default,
        } = m;
        Ok(Channel {
            project: required("project", project)?,
            name: required("name", name)?,
            description,
            lifecycle: opt(lifecycle),
            is_default,
        })
    }
}

impl From<Channel> for pb::Channel {
    fn from(c: Channel) -> Self {
        let Channel {
            project,
            name,
            description,
            lifecycle,
            is_default,
        } = c;
        pb::Channel {
            project,
            name,
            description,
            lifecycle: lifecycle.unwrap_or_default(),
            is_default,
        }
    }
}

// ---------- steps ----------

/// A step as sent by a client: which project, where in the process, and the step itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepInput {
    pub project: String,
    /// 1-based position; `None`: last (on add) or unchanged (on update).
    pub order: Option<u32>,
    pub step: Step,
}

impl TryFrom<pb::Step> for StepInput {
    type Error = WireError;
    fn try_from(m: pb::Step) -> Result<Self, WireError> {
        let pb::Step {
            project,
            name,
            order,
            environments,
            roles,
            action,
            channels,
        } = m;
        let action = match action.ok_or(WireError::Missing("action"))? {
            pb::step::Action::Package(p) => {
                let pb::PackageStep {
                    package_id,
                    substitute_files,
                    structured_files,
                } = p;
                StepAction::DeployPackage {
                    package_id: required("package.package_id", package_id)?,
                    substitute_files,
                    structured_files,
                }
            }
            pb::step::Action::Script(s) => {
                let pb::ScriptStep {
                    syntax,
                    body,
                    package_id,
                    script_path,
                } = s;
                let syntax: ScriptSyntax = syntax.parse().map_err(|reason| WireError::Invalid {
                    field: "script.syntax",
                    reason,
                })?;
                let source = match (opt(package_id), opt(script_path)) {
                    (Some(package_id), Some(path)) => ScriptSource::Package { package_id, path },
                    (Some(_), None) => return Err(WireError::Missing("script.script_path")),
                    (None, _) if body.trim().is_empty() => {
                        return Err(WireError::Missing("script.body"));
                    }
                    (None, _) => ScriptSource::Inline(body),
                };
                StepAction::RunScript { syntax, source }
            }
        };
        Ok(StepInput {
            project: required("project", project)?,
            order: (order > 0).then_some(order),
            step: Step {
                name: required("name", name)?,
                environments,
                roles,
                channels,
                action,
            },
        })
    }
}

/// Renders a step of `project` at 1-based position `order`.
pub fn step_to_wire(project: &str, order: u32, s: Step) -> pb::Step {
    let Step {
        name,
        environments,
        roles,
        channels,
        action,
    } = s;
    let action = match action {
        StepAction::DeployPackage {
            package_id,
            substitute_files,
            structured_files,
        } => pb::step::Action::Package(pb::PackageStep {
            package_id,
            substitute_files,
            structured_files,
        }),
        StepAction::RunScript { syntax, source } => {
            let (body, package_id, script_path) = match source {
                ScriptSource::Inline(b) => (b, String::new(), String::new()),
                ScriptSource::Package { package_id, path } => (String::new(), package_id, path),
            };
            pb::step::Action::Script(pb::ScriptStep {
                syntax: syntax.as_str().into(),
                body,
                package_id,
                script_path,
            })
        }
    };
    pb::Step {
        project: project.to_string(),
        name,
        order,
        environments,
        roles,
        action: Some(action),
        channels,
    }
}

#[cfg(test)]
#[path = "tests/wire.rs"]
mod tests;
