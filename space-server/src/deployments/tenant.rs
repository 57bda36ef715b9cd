//! The tenant of a deployment: it exists and it is connected to the project in the
//! environment (checked when a deployment is created or scheduled).

use domain::model::Tenant;

use super::engine::Engine;
use crate::error::{ApiError, ApiResult};
use crate::state::SpaceState;

/// The tenant `name`, connected to `project` in `environment`, or why not.
pub fn connected(
    state: &SpaceState,
    project: &str,
    environment: &str,
    name: &str,
) -> ApiResult<Tenant> {
    let t = state.tenant(name)?;
    if !t.serves(project, environment) {
        return Err(ApiError::Precondition(format!(
            "tenant '{}' is not connected to project '{project}' in '{environment}': deploy tenant connect '{}' --project '{project}' --env '{environment}'",
            t.name, t.name
        )));
    }
    Ok(t)
}

impl Engine {
    /// The tenant of a deployment, checked (see [`connected`]).
    pub(super) fn tenant_for(
        &self,
        project: &str,
        environment: &str,
        tenant: Option<&str>,
    ) -> ApiResult<Option<Tenant>> {
        tenant
            .map(|name| connected(&self.state, project, environment, name))
            .transpose()
    }
}
