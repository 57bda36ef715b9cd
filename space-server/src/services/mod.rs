//! The service layer: the rules of every Space resource, once, for every front end (gRPC
//! today; the web UI and its JSON endpoints next, and one permission check in front of them).
//! Services take and return domain types and own validation, locking, batches and commits;
//! the gRPC handlers in `api/` only convert wire <-> domain and call them.

pub mod access;
pub mod environments;
pub mod lifecycles;
pub mod package_gc;
pub mod packages;
pub mod passwords;
pub mod process;
pub mod project_code;
pub mod projects;
pub mod releases;
pub mod targets;
pub mod teams;
pub mod tenants;
pub mod variable_checks;
pub mod variable_preview;
pub mod variables;

use std::sync::Arc;

use crate::deployments::Engine;
use crate::error::{ApiError, ApiResult};
use crate::state::SpaceState;

/// One page request: at most `size` items after the key `after`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub size: usize,
    pub after: Option<String>,
}

/// A page of items and the key to continue after (`None`: this was the last page).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

/// Checks a user-chosen name: non-empty, printable, no control characters, at most 200 chars.
pub fn check_name(kind: &str, name: &str) -> ApiResult<()> {
    if name.trim().is_empty() {
        return Err(ApiError::Invalid(format!("{kind} name must not be empty")));
    }
    if name.len() > 200 || name.chars().any(|c| c.is_control()) {
        return Err(ApiError::Invalid(format!(
            "{kind} name '{}' is not allowed: at most 200 printable characters",
            name.escape_debug()
        )));
    }
    Ok(())
}

/// Every service of a Space, built once and shared by the front ends.
pub struct Services {
    pub environments: environments::EnvironmentService,
    pub lifecycles: lifecycles::LifecycleService,
    pub projects: projects::ProjectService,
    pub project_code: project_code::ProjectCodeService,
    pub channels: projects::ChannelService,
    pub process: process::ProcessService,
    pub variables: variables::VariableService,
    pub releases: releases::ReleaseService,
}

impl Services {
    /// With an engine, releases start their automatic first phase when created.
    pub fn new(state: &Arc<SpaceState>, engine: Option<Arc<Engine>>) -> Self {
        Self {
            environments: environments::EnvironmentService {
                state: state.clone(),
            },
            lifecycles: lifecycles::LifecycleService {
                state: state.clone(),
            },
            projects: projects::ProjectService {
                state: state.clone(),
            },
            project_code: project_code::ProjectCodeService {
                state: state.clone(),
            },
            channels: projects::ChannelService {
                state: state.clone(),
            },
            process: process::ProcessService {
                state: state.clone(),
            },
            variables: variables::VariableService {
                state: state.clone(),
            },
            releases: releases::ReleaseService {
                state: state.clone(),
                engine,
            },
        }
    }
}

#[cfg(test)]
#[path = "tests/mod.rs"]
pub(crate) mod tests;
