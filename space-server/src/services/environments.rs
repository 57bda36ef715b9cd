//! Environments: create (local or remote "<Space>: <name>"), read, update, delete.

use std::sync::Arc;

use domain::model::{Environment, Lifecycle};
use storage::{Batch, StoreExt, key_of};

use super::{Listed, Page, check_name};
use crate::error::{ApiError, ApiResult};
use crate::state::SpaceState;

pub struct EnvironmentService {
    pub state: Arc<SpaceState>,
}

impl EnvironmentService {
    pub async fn create(&self, mut env: Environment) -> ApiResult<Environment> {
        check_name("environment", &env.name)?;
        if let Some(space) = &env.remote_space {
            check_name("space", space)?;
            if space.contains(':') {
                return Err(ApiError::Invalid(format!(
                    "space name '{space}' must not contain ':'"
                )));
            }
            if space.eq_ignore_ascii_case(&self.state.name) {
                return Err(ApiError::Invalid(format!(
                    "'{space}' is this Space: create a local environment instead (deploy env create)"
                )));
            }
            let prefix = format!("{space}: ");
            if !env.name.starts_with(&prefix) {
                env.name = Environment::remote_name(space, env.name.trim());
            }
        } else if Environment::split_remote(&env.name).is_some() {
            return Err(ApiError::Invalid(format!(
                "'{}' looks like a remote environment (\"<Space>: <name>\"): add it with deploy env add-remote --space <Space> --name <name>",
                env.name
            )));
        }
        let mut b = Batch::new();
        b.insert_record(&env)?;
        self.state.commit(b).await.map_err(|e| match e {
            storage::StorageError::Conflict { .. } => ApiError::exists("environment", &env.name),
            e => e.into(),
        })?;
        tracing::info!(environment = %env.name, "environment created");
        Ok(env)
    }

    pub fn get(&self, name: &str) -> ApiResult<Environment> {
        self.state.environment(name)
    }

    /// A page in key order, sorted for display by sort order, then name.
    pub fn list(&self, page: Page) -> ApiResult<Listed<Environment>> {
        let (mut items, next) =
            self.state
                .store
                .list_records::<Environment>("", page.after.as_deref(), page.size)?;
        items.sort_by(|a, b| a.sort_order.cmp(&b.sort_order).then(a.name.cmp(&b.name)));
        Ok(Listed { items, next })
    }

    pub async fn update(&self, env: Environment) -> ApiResult<Environment> {
        self.state
            .commit_guarded(|| {
                let old = self.state.environment(&env.name)?;
                let env = Environment {
                    name: old.name,
                    remote_space: old.remote_space,
                    ..env.clone()
                };
                let mut b = Batch::new();
                b.put_record(&env)?;
                Ok((b, env))
            })
            .await
    }

    /// Refused while a lifecycle names the environment.
    pub async fn delete(&self, name: &str) -> ApiResult<()> {
        let env = self
            .state
            .commit_guarded(|| {
                let env = self.state.environment(name)?;
                let users: Vec<String> = self
                    .state
                    .store
                    .all_records::<Lifecycle>("")?
                    .into_iter()
                    .filter(|l| {
                        l.phases.iter().any(|p| {
                            p.environments
                                .iter()
                                .any(|e| e.eq_ignore_ascii_case(&env.name))
                        })
                    })
                    .map(|l| l.name)
                    .collect();
                if !users.is_empty() {
                    return Err(ApiError::Precondition(format!(
                        "environment '{}' is used by lifecycle(s) {}: remove it from their phases first",
                        env.name,
                        users.join(", ")
                    )));
                }
                let mut b = Batch::new();
                b.delete("environment", &key_of(&[&env.name]));
                Ok((b, env))
            })
            .await?;
        tracing::info!(environment = %env.name, "environment deleted");
        Ok(())
    }
}
