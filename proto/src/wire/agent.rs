//! Conversions for the agent protocol (`agent.v1`) and the target/deployment messages of
//! `space.v1`.

use crate::agent::v1 as ab;
use crate::space::v1 as pb;

use super::{StepInput, WireError, step_to_wire, timestamp};
use domain::model::{
    AgentMode, Deployment, RunState, Step, StepRun, StepVariable, Target, TargetRun,
};
use domain::package::PackageManifest;

/// One step for one agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkItem {
    pub job_id: String,
    pub deployment_id: String,
    pub project: String,
    pub environment: String,
    pub step: Step,
    pub variables: Vec<StepVariable>,
    pub package: Option<PackageManifest>,
    pub retention: Option<usize>,
    /// A tenant deployment's tenant.
    pub tenant: Option<String>,
}

impl From<ab::Variable> for StepVariable {
    fn from(v: ab::Variable) -> Self {
        let ab::Variable {
            name,
            value,
            sensitive,
        } = v;
        StepVariable {
            name,
            value,
            sensitive,
        }
    }
}

impl From<StepVariable> for ab::Variable {
    fn from(v: StepVariable) -> Self {
        let StepVariable {
            name,
            value,
            sensitive,
        } = v;
        ab::Variable {
            name,
            value,
            sensitive,
        }
    }
}

impl TryFrom<ab::StepWork> for WorkItem {
    type Error = WireError;
    fn try_from(m: ab::StepWork) -> Result<Self, WireError> {
        let ab::StepWork {
            job_id,
            deployment_id,
            project,
            environment,
            step,
            variables,
            package,
            retention,
            tenant,
        } = m;
        let step = StepInput::try_from(step.ok_or(WireError::Missing("step"))?)?.step;
        Ok(WorkItem {
            job_id: super::required("job_id", job_id)?,
            deployment_id,
            project,
            environment,
            step,
            variables: variables.into_iter().map(Into::into).collect(),
            package: package.map(PackageManifest::try_from).transpose()?,
            retention: (retention > 0).then_some(retention as usize),
            tenant: (!tenant.is_empty()).then_some(tenant),
        })
    }
}

impl From<WorkItem> for ab::StepWork {
    fn from(w: WorkItem) -> Self {
        let WorkItem {
            job_id,
            deployment_id,
            project,
            environment,
            step,
            variables,
            package,
            retention,
            tenant,
        } = w;
        ab::StepWork {
            step: Some(step_to_wire(&project, 0, step)),
            job_id,
            deployment_id,
            project,
            environment,
            variables: variables.into_iter().map(Into::into).collect(),
            package: package.map(Into::into),
            retention: retention.unwrap_or(0) as u32,
            tenant: tenant.unwrap_or_default(),
        }
    }
}

/// A target as sent by a client.
impl TryFrom<pb::Target> for Target {
    type Error = WireError;
    fn try_from(m: pb::Target) -> Result<Self, WireError> {
        let pb::Target {
            name,
            fingerprint,
            listening_address,
            environments,
            roles,
            connected: _,
            last_seen: _,
            drop,
            // The API seals the password itself; it never reaches the domain type in clear.
            drop_password: _,
            clear_drop_password: _,
            has_drop_password: _,
        } = m;
        if let Some(d) = drop {
            return super::drop::drop_target(
                name,
                fingerprint,
                listening_address,
                d,
                environments,
                roles,
            );
        }
        let fingerprint = domain::endpoint::normalize_fingerprint(&fingerprint).map_err(|e| {
            WireError::Invalid {
                field: "fingerprint",
                reason: e.to_string(),
            }
        })?;
        let mode = if listening_address.trim().is_empty() {
            AgentMode::Polling
        } else {
            domain::endpoint::parse_address(listening_address.trim()).map_err(|e| {
                WireError::Invalid {
                    field: "listening_address",
                    reason: e.to_string(),
                }
            })?;
            AgentMode::Listening {
                address: listening_address.trim().to_string(),
            }
        };
        Ok(Target {
            name: super::required("name", name)?,
            fingerprint,
            mode,
            environments,
            roles,
            created_at: domain::model::now(),
        })
    }
}

/// Renders a target with its connection state.
pub fn target_to_wire(t: Target, connected: bool, last_seen: Option<i64>) -> pb::Target {
    let Target {
        name,
        fingerprint,
        mode,
        environments,
        roles,
        created_at: _,
    } = t;
    let (listening_address, drop, has_drop_password) = match mode {
        AgentMode::Polling => (String::new(), None, false),
        AgentMode::Listening { address } => (address, None, false),
        AgentMode::OfflineDrop {
            drop_folder,
            applications_dir,
            working_dir,
            password,
        } => (
            String::new(),
            Some(pb::DropSettings {
                drop_folder,
                applications_dir,
                working_dir,
            }),
            password.is_some(),
        ),
    };
    pb::Target {
        name,
        fingerprint,
        listening_address,
        environments,
        roles,
        connected,
        last_seen: last_seen.map(timestamp),
        drop,
        drop_password: String::new(),
        clear_drop_password: false,
        has_drop_password,
    }
}

fn target_run_to_wire(t: TargetRun) -> pb::TargetRun {
    let TargetRun {
        target,
        state,
        exit_code,
        error,
        transferred_bytes,
        installed_to,
    } = t;
    pb::TargetRun {
        target,
        state: state.as_str().into(),
        has_exit_code: exit_code.is_some(),
        exit_code: exit_code.unwrap_or(0),
        error: error.unwrap_or_default(),
        transferred_bytes,
        installed_to: installed_to.unwrap_or_default(),
    }
}

fn step_run_to_wire(s: StepRun) -> pb::StepRun {
    let StepRun {
        name,
        state,
        targets,
    } = s;
    pb::StepRun {
        name,
        state: state.as_str().into(),
        targets: targets.into_iter().map(target_run_to_wire).collect(),
    }
}

pub fn deployment_to_wire(d: Deployment) -> pb::Deployment {
    let Deployment {
        id,
        number: _,
        project,
        version,
        environment,
        state,
        created_by,
        created_at,
        started_at,
        finished_at,
        steps,
        error,
        drops,
        release_created_at: _,
        traceparent: _,
        tenant,
    } = d;
    pb::Deployment {
        drops: drops
            .into_iter()
            .map(super::drop::drop_written_to_wire)
            .collect(),
        id,
        project,
        version,
        environment,
        state: state.as_str().into(),
        created_by,
        created_at: Some(timestamp(created_at)),
        started_at: started_at.map(timestamp),
        finished_at: finished_at.map(timestamp),
        steps: steps.into_iter().map(step_run_to_wire).collect(),
        error: error.unwrap_or_default(),
        tenant: tenant.unwrap_or_default(),
    }
}

/// Parses a run state name.
pub fn run_state(s: &str) -> Option<RunState> {
    Some(match s {
        "queued" => RunState::Queued,
        "pending" => RunState::Pending,
        "running" => RunState::Running,
        "success" => RunState::Success,
        "failed" => RunState::Failed,
        "cancelled" => RunState::Cancelled,
        "skipped" => RunState::Skipped,
        _ => return None,
    })
}

#[cfg(test)]
#[path = "tests/agent.rs"]
mod tests;
