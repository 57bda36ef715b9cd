//! Tenants: created, connected to projects and to this Space's own environments (a remote
//! environment belongs to another Space, where that Space's tenants live), listed, deleted.

use std::sync::Arc;

use domain::model::{Tenant, TenantProject};
use storage::records::VariableSetRecord;
use storage::{Batch, Record, StoreExt, key_of};

use super::check_name;
use crate::error::{ApiError, ApiResult};
use crate::state::SpaceState;

pub struct TenantService {
    pub state: Arc<SpaceState>,
}

impl SpaceState {
    pub fn tenant(&self, name: &str) -> ApiResult<Tenant> {
        self.store
            .get_record::<Tenant>(&key_of(&[name]))?
            .ok_or_else(|| ApiError::not_found("tenant", name))
    }
}

impl TenantService {
    /// Names, tags and connections: projects that exist, environments of this Space.
    fn check(&self, t: &Tenant) -> ApiResult<Tenant> {
        check_name("tenant", &t.name)?;
        for tag in &t.tags {
            check_name("tag", tag)?;
        }
        let mut projects: Vec<TenantProject> = Vec::new();
        for tp in &t.projects {
            let p = self.state.project(&tp.project)?;
            let mut environments = Vec::new();
            for e in &tp.environments {
                let env = self.state.environment(e)?;
                if let Some(space) = &env.remote_space {
                    return Err(ApiError::Invalid(format!(
                        "'{}' is an environment of space '{space}': a tenant is owned by the Space where its deployments happen; connect it to this Space's environments, and create the tenant in '{space}' for deployments there",
                        env.name
                    )));
                }
                environments.push(env.name);
            }
            match projects.iter_mut().find(|x| x.project == p.name) {
                Some(x) => x.environments.extend(environments),
                None => projects.push(TenantProject {
                    project: p.name,
                    environments,
                }),
            }
        }
        Ok(Tenant {
            projects,
            ..t.clone()
        })
    }

    pub async fn create(&self, t: Tenant) -> ApiResult<Tenant> {
        let t = self.check(&Tenant {
            created_at: domain::model::now(),
            ..t
        })?;
        let mut b = Batch::new();
        b.insert_record(&t)?;
        self.state.commit(b).await.map_err(|e| match e {
            storage::StorageError::Conflict { .. } => ApiError::exists("tenant", &t.name),
            e => e.into(),
        })?;
        tracing::info!(tenant = %t.name, projects = t.projects.len(), "tenant created");
        Ok(t)
    }

    pub fn get(&self, name: &str) -> ApiResult<Tenant> {
        self.state.tenant(name)
    }

    pub fn list(&self) -> ApiResult<Vec<Tenant>> {
        Ok(self.state.store.all_records::<Tenant>("")?)
    }

    pub async fn update(&self, t: Tenant) -> ApiResult<Tenant> {
        let old = self.state.tenant(&t.name)?;
        let t = self.check(&Tenant {
            name: old.name,
            created_at: old.created_at,
            ..t
        })?;
        let mut b = Batch::new();
        b.put_record(&t)?;
        self.state.commit(b).await?;
        Ok(t)
    }

    /// Refused while a variable value is scoped to the tenant (it would silently widen).
    pub async fn delete(&self, name: &str) -> ApiResult<()> {
        let t = self.state.tenant(name)?;
        for set in self.state.store.all_records::<VariableSetRecord>("")? {
            if let Some(v) = set.variables.iter().find(|v| {
                v.scope
                    .tenants
                    .iter()
                    .any(|x| x.eq_ignore_ascii_case(&t.name))
            }) {
                return Err(ApiError::Precondition(format!(
                    "variable '{}' of project '{}' is scoped to tenant '{}': delete or rescope it first",
                    v.name, set.project, t.name
                )));
            }
        }
        let mut b = Batch::new();
        b.delete(Tenant::TABLE, &key_of(&[&t.name]));
        self.state.commit(b).await?;
        Ok(())
    }
}
