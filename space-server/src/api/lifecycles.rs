//! `space.v1.Lifecycles`: ordered phases of environments that releases progress through.

use std::collections::HashSet;
use std::sync::Arc;

use domain::model::{Lifecycle, Project};
use proto::space::v1 as pb;
use proto::space::v1::lifecycles_server::Lifecycles;
use storage::{Batch, StoreExt, key_of};

use super::{Resp, check_name, ok, page, token};
use crate::error::{ApiError, ApiResult};
use crate::state::SpaceState;

pub struct LifecyclesApi(pub Arc<SpaceState>);

impl LifecyclesApi {
    /// Checks phases: named uniquely, non-empty, naming existing environments at most once.
    fn validate(&self, l: &Lifecycle) -> ApiResult<()> {
        check_name("lifecycle", &l.name)?;
        if l.phases.is_empty() {
            return Err(ApiError::Invalid(format!(
                "lifecycle '{}' needs at least one phase",
                l.name
            )));
        }
        let mut phase_names = HashSet::new();
        let mut seen = HashSet::new();
        for p in &l.phases {
            if !phase_names.insert(p.name.to_lowercase()) {
                return Err(ApiError::Invalid(format!(
                    "lifecycle '{}' has two phases named '{}'",
                    l.name, p.name
                )));
            }
            if p.environments.is_empty() {
                return Err(ApiError::Invalid(format!(
                    "phase '{}' of lifecycle '{}' names no environment",
                    p.name, l.name
                )));
            }
            for e in &p.environments {
                if self.0.environment(e).is_err() && !self.0.is_known_space(e)? {
                    return Err(ApiError::Invalid(format!(
                        "phase '{}' of lifecycle '{}' names '{e}', which is neither an environment nor a known Space (create it with: deploy env create '{e}', or add a remote environment of that Space with: deploy env add-remote --space '{e}' --name <env>)",
                        p.name, l.name
                    )));
                }
                if !seen.insert(e.to_lowercase()) {
                    return Err(ApiError::Invalid(format!(
                        "environment '{e}' appears in more than one phase of lifecycle '{}'",
                        l.name
                    )));
                }
            }
        }
        Ok(())
    }
}

#[tonic::async_trait]
impl Lifecycles for LifecyclesApi {
    async fn create(&self, req: tonic::Request<pb::Lifecycle>) -> Resp<pb::Lifecycle> {
        let l = Lifecycle::try_from(req.into_inner()).map_err(ApiError::from)?;
        let _g = self.0.write_lock.lock().await;
        self.validate(&l)?;
        let mut b = Batch::new();
        b.insert_record(&l).map_err(ApiError::from)?;
        self.0.commit(b).map_err(|e| match e {
            storage::StorageError::Conflict { .. } => ApiError::exists("lifecycle", &l.name),
            e => e.into(),
        })?;
        tracing::info!(lifecycle = %l.name, phases = l.phases.len(), "lifecycle created");
        ok(l.into())
    }

    async fn get(&self, req: tonic::Request<pb::ByName>) -> Resp<pb::Lifecycle> {
        ok(self.0.lifecycle(&req.into_inner().name)?.into())
    }

    async fn list(&self, req: tonic::Request<pb::PageRequest>) -> Resp<pb::ListLifecyclesResponse> {
        let (size, after) = page(Some(req.into_inner()))?;
        let (ls, next) = self
            .0
            .store
            .list_records::<Lifecycle>("", after.as_deref(), size)
            .map_err(ApiError::from)?;
        ok(pb::ListLifecyclesResponse {
            lifecycles: ls.into_iter().map(Into::into).collect(),
            next_page_token: token(next),
        })
    }

    async fn update(&self, req: tonic::Request<pb::Lifecycle>) -> Resp<pb::Lifecycle> {
        let l = Lifecycle::try_from(req.into_inner()).map_err(ApiError::from)?;
        let _g = self.0.write_lock.lock().await;
        let old = self.0.lifecycle(&l.name)?;
        let l = Lifecycle {
            name: old.name,
            ..l
        };
        self.validate(&l)?;
        let mut b = Batch::new();
        b.put_record(&l).map_err(ApiError::from)?;
        self.0.commit(b).map_err(ApiError::from)?;
        ok(l.into())
    }

    async fn delete(&self, req: tonic::Request<pb::ByName>) -> Resp<pb::Empty> {
        let name = req.into_inner().name;
        let _g = self.0.write_lock.lock().await;
        let l = self.0.lifecycle(&name)?;
        let users: Vec<String> = self
            .0
            .store
            .all_records::<Project>("")
            .map_err(ApiError::from)?
            .into_iter()
            .filter(|p| p.lifecycle.eq_ignore_ascii_case(&l.name))
            .map(|p| p.name)
            .collect();
        if !users.is_empty() {
            return Err(ApiError::Precondition(format!(
                "lifecycle '{}' is used by project(s) {}: give them another lifecycle first",
                l.name,
                users.join(", ")
            ))
            .into());
        }
        let mut b = Batch::new();
        b.delete("lifecycle", &key_of(&[&l.name]));
        self.0.commit(b).map_err(ApiError::from)?;
        ok(pb::Empty {})
    }
}
