//! Lifecycles: ordered phases of environments (or whole Spaces) that releases progress through.

use std::collections::HashSet;
use std::sync::Arc;

use domain::model::{Lifecycle, Project};
use storage::{Batch, StoreExt, key_of};

use super::{Listed, Page, check_name};
use crate::error::{ApiError, ApiResult};
use crate::state::SpaceState;

pub struct LifecycleService {
    pub state: Arc<SpaceState>,
}

impl LifecycleService {
    /// Checks phases: named uniquely, non-empty, naming existing environments (or known
    /// Spaces) at most once.
    pub(crate) fn validate(&self, l: &Lifecycle) -> ApiResult<()> {
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
                if self.state.environment(e).is_err() && !self.state.is_known_space(e)? {
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

    pub async fn create(&self, l: Lifecycle) -> ApiResult<Lifecycle> {
        let l = self
            .state
            .commit_guarded(|| {
                self.validate(&l)?;
                let mut b = Batch::new();
                b.insert_record(&l)?;
                Ok((b, l.clone()))
            })
            .await
            .map_err(|e| match e {
                ApiError::Storage(storage::StorageError::Conflict { .. }) => {
                    ApiError::exists("lifecycle", &l.name)
                }
                e => e,
            })?;
        tracing::info!(lifecycle = %l.name, phases = l.phases.len(), "lifecycle created");
        Ok(l)
    }

    pub fn get(&self, name: &str) -> ApiResult<Lifecycle> {
        self.state.lifecycle(name)
    }

    pub fn list(&self, page: Page) -> ApiResult<Listed<Lifecycle>> {
        let (items, next) =
            self.state
                .store
                .list_records::<Lifecycle>("", page.after.as_deref(), page.size)?;
        Ok(Listed { items, next })
    }

    pub async fn update(&self, l: Lifecycle) -> ApiResult<Lifecycle> {
        self.state
            .commit_guarded(|| {
                let old = self.state.lifecycle(&l.name)?;
                let l = Lifecycle {
                    name: old.name,
                    ..l.clone()
                };
                self.validate(&l)?;
                let mut b = Batch::new();
                b.put_record(&l)?;
                Ok((b, l))
            })
            .await
    }

    /// Refused while a project uses the lifecycle.
    pub async fn delete(&self, name: &str) -> ApiResult<()> {
        self.state
            .commit_guarded(|| {
                let l = self.state.lifecycle(name)?;
                let users: Vec<String> = self
                    .state
                    .store
                    .all_records::<Project>("")?
                    .into_iter()
                    .filter(|p| p.lifecycle.eq_ignore_ascii_case(&l.name))
                    .map(|p| p.name)
                    .collect();
                if !users.is_empty() {
                    return Err(ApiError::Precondition(format!(
                        "lifecycle '{}' is used by project(s) {}: give them another lifecycle first",
                        l.name,
                        users.join(", ")
                    )));
                }
                let mut b = Batch::new();
                b.delete("lifecycle", &key_of(&[&l.name]));
                Ok((b, ()))
            })
            .await
    }
}
