//! `space.v1.Environments`: create, read, update, delete environments.

use std::sync::Arc;

use domain::model::{Environment, Lifecycle};
use proto::space::v1 as pb;
use proto::space::v1::environments_server::Environments;
use storage::{Batch, StoreExt, key_of};

use super::{Resp, check_name, ok, page, token};
use crate::error::{ApiError, ApiResult};
use crate::state::SpaceState;

pub struct EnvironmentsApi(pub Arc<SpaceState>);

impl EnvironmentsApi {
    async fn create(&self, mut env: Environment) -> ApiResult<Environment> {
        check_name("environment", &env.name)?;
        if let Some(space) = &env.remote_space {
            check_name("space", space)?;
            if space.contains(':') {
                return Err(ApiError::Invalid(format!(
                    "space name '{space}' must not contain ':'"
                )));
            }
            if space.eq_ignore_ascii_case(&self.0.name) {
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
        let _g = self.0.write_lock.lock().await;
        let mut b = Batch::new();
        b.insert_record(&env)?;
        self.0.commit(b).map_err(|e| match e {
            storage::StorageError::Conflict { .. } => ApiError::exists("environment", &env.name),
            e => e.into(),
        })?;
        tracing::info!(environment = %env.name, "environment created");
        Ok(env)
    }

    async fn update(&self, env: Environment) -> ApiResult<Environment> {
        let _g = self.0.write_lock.lock().await;
        let old = self.0.environment(&env.name)?;
        let env = Environment {
            name: old.name,
            remote_space: old.remote_space,
            ..env
        };
        let mut b = Batch::new();
        b.put_record(&env)?;
        self.0.commit(b)?;
        Ok(env)
    }

    async fn delete(&self, name: &str) -> ApiResult<()> {
        let _g = self.0.write_lock.lock().await;
        let env = self.0.environment(name)?;
        let users: Vec<String> = self
            .0
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
        self.0.commit(b)?;
        tracing::info!(environment = %env.name, "environment deleted");
        Ok(())
    }
}

#[tonic::async_trait]
impl Environments for EnvironmentsApi {
    async fn create(&self, req: tonic::Request<pb::Environment>) -> Resp<pb::Environment> {
        let env = Environment::try_from(req.into_inner()).map_err(ApiError::from)?;
        ok(EnvironmentsApi::create(self, env).await?.into())
    }

    async fn get(&self, req: tonic::Request<pb::ByName>) -> Resp<pb::Environment> {
        ok(self.0.environment(&req.into_inner().name)?.into())
    }

    async fn list(
        &self,
        req: tonic::Request<pb::PageRequest>,
    ) -> Resp<pb::ListEnvironmentsResponse> {
        let (size, after) = page(Some(req.into_inner()))?;
        let (mut envs, next) = self
            .0
            .store
            .list_records::<Environment>("", after.as_deref(), size)
            .map_err(ApiError::from)?;
        envs.sort_by(|a, b| a.sort_order.cmp(&b.sort_order).then(a.name.cmp(&b.name)));
        ok(pb::ListEnvironmentsResponse {
            environments: envs.into_iter().map(Into::into).collect(),
            next_page_token: token(next),
        })
    }

    async fn update(&self, req: tonic::Request<pb::Environment>) -> Resp<pb::Environment> {
        let env = Environment::try_from(req.into_inner()).map_err(ApiError::from)?;
        ok(EnvironmentsApi::update(self, env).await?.into())
    }

    async fn delete(&self, req: tonic::Request<pb::ByName>) -> Resp<pb::Empty> {
        EnvironmentsApi::delete(self, &req.into_inner().name).await?;
        ok(pb::Empty {})
    }
}
