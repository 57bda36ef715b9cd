//! The tenant of a deployment: it exists, it is connected to the project in the environment,
//! and no offline drop target serves that environment (drops do not carry tenants yet).

use crate::error::{ApiError, ApiResult};
use storage::StoreExt;

use super::engine::Engine;

impl Engine {
    /// The tenant of a deployment, checked: it exists and is connected to the project in the
    /// environment, and no offline drop target serves the environment (drops do not carry
    /// tenants yet).
    pub(super) fn tenant_for(
        &self,
        project: &str,
        environment: &str,
        tenant: Option<&str>,
    ) -> ApiResult<Option<String>> {
        let Some(name) = tenant else {
            return Ok(None);
        };
        let t = self.state.tenant(name)?;
        if !t.serves(project, environment) {
            return Err(ApiError::Precondition(format!(
                "tenant '{}' is not connected to project '{project}' in '{environment}': deploy tenant connect '{}' --project '{project}' --env '{environment}'",
                t.name, t.name
            )));
        }
        let drops = self
            .state
            .store
            .all_records::<domain::model::Target>("")?
            .into_iter()
            .any(|x| {
                matches!(x.mode, domain::model::AgentMode::OfflineDrop { .. })
                    && x.environments
                        .iter()
                        .any(|e| e.eq_ignore_ascii_case(environment))
            });
        if drops {
            return Err(ApiError::Precondition(format!(
                "'{environment}' is served by an offline drop target, and drops do not carry tenants yet: deploy for tenant '{}' to an environment of agents",
                t.name
            )));
        }
        Ok(Some(t.name))
    }
}
