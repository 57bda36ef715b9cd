//! Deployment targets: agents known by their certificate fingerprint (the agent listener
//! admits exactly the registered ones) and offline drop targets, whose sensitive-variables
//! password is sealed with the master key and never returned or logged.

use std::sync::Arc;

use domain::model::{AgentMode, Target};
use storage::records::TARGET_BY_FINGERPRINT;
use storage::{Batch, Record, StorageError, StoreExt, key_of};

use super::{Listed, Page, check_name};
use crate::agents::Hub;
use crate::error::{ApiError, ApiResult};

pub struct TargetService {
    pub hub: Arc<Hub>,
    /// Where polling agents connect (https://host:port).
    pub agent_address: String,
}

/// A target and what the hub knows of its agent right now.
#[derive(Debug, Clone)]
pub struct TargetView {
    pub target: Target,
    pub connected: bool,
    pub last_seen: Option<i64>,
}

/// A drop target's password as asked for: a new one, or cleared; neither keeps the old one.
#[derive(Clone, Default)]
pub struct DropPassword {
    pub new: String,
    pub clear: bool,
}

impl TargetService {
    fn get(&self, name: &str) -> ApiResult<Target> {
        self.hub
            .state
            .store
            .get_record::<Target>(&key_of(&[name]))?
            .ok_or_else(|| ApiError::not_found("target", name))
    }

    fn check(&self, t: &Target) -> ApiResult<()> {
        check_name("target", &t.name)?;
        if t.environments.is_empty() {
            return Err(ApiError::Invalid(format!(
                "target '{}' needs at least one environment (--env)",
                t.name
            )));
        }
        for e in &t.environments {
            self.hub.state.environment(e)?;
        }
        Ok(())
    }

    /// Seals a drop target's new password, keeps the old one (`None` given, not cleared), or
    /// clears it. The password is never logged.
    fn set_drop_password(
        &self,
        t: &mut Target,
        old: Option<&Target>,
        password: &str,
        clear: bool,
    ) -> ApiResult<()> {
        let AgentMode::OfflineDrop { password: pw, .. } = &mut t.mode else {
            if !password.is_empty() || clear {
                return Err(ApiError::Invalid(format!(
                    "target '{}' is not an offline drop target: it has no sensitive-variables password",
                    t.name
                )));
            }
            return Ok(());
        };
        *pw = if !password.is_empty() {
            Some(
                self.hub
                    .state
                    .master
                    .seal(password, &Target::drop_password_context(&t.name))
                    .map_err(|e| ApiError::Internal(e.to_string()))?,
            )
        } else if clear {
            None
        } else {
            match old.map(|o| &o.mode) {
                Some(AgentMode::OfflineDrop { password, .. }) => password.clone(),
                _ => None,
            }
        };
        Ok(())
    }

    fn view(&self, target: Target) -> TargetView {
        let (connected, last_seen) = self.hub.status(&target.name);
        TargetView {
            target,
            connected,
            last_seen,
        }
    }

    /// Registers a target: an agent's fingerprint once, or an offline drop folder.
    pub async fn create(&self, mut t: Target, pw: DropPassword) -> ApiResult<TargetView> {
        self.set_drop_password(&mut t, None, &pw.new, pw.clear)?;
        let state = &self.hub.state;
        state
            .commit_guarded(|| self.create_plan(&t))
            .await
            .map_err(|e| match e {
                ApiError::Storage(StorageError::Conflict { .. }) => {
                    ApiError::exists("target", &t.name)
                }
                e => e,
            })?;
        if t.is_offline_drop() {
            tracing::info!(target = %t.name, environments = ?t.environments, roles = ?t.roles, "offline drop target registered");
        } else {
            self.hub.sync_allowed(&[&t.fingerprint])?;
            tracing::info!(target = %t.name, fingerprint = %t.fingerprint, environments = ?t.environments, roles = ?t.roles, "target registered");
        }
        Ok(self.view(t))
    }

    fn create_plan(&self, t: &Target) -> ApiResult<(Batch, ())> {
        self.check(t)?;
        let mut b = Batch::new();
        b.insert_record(t)?;
        if t.is_offline_drop() {
            return Ok((b, ()));
        }
        if let Some(other) = self.hub.target_by_fingerprint(&t.fingerprint)? {
            return Err(ApiError::Precondition(format!(
                "certificate {} is already registered as target '{}'",
                t.fingerprint, other.name
            )));
        }
        b.insert(
            TARGET_BY_FINGERPRINT,
            &t.fingerprint,
            t.name.clone().into_bytes(),
        );
        Ok((b, ()))
    }

    pub fn find(&self, name: &str) -> ApiResult<TargetView> {
        Ok(self.view(self.get(name)?))
    }

    /// A page of targets; with `environment`, only those deploying to it.
    pub fn list(&self, environment: &str, page: Page) -> ApiResult<Listed<TargetView>> {
        let (ts, next) =
            self.hub
                .state
                .store
                .list_records::<Target>("", page.after.as_deref(), page.size)?;
        let items = ts
            .into_iter()
            .filter(|t| {
                environment.is_empty()
                    || t.environments
                        .iter()
                        .any(|e| e.eq_ignore_ascii_case(environment))
            })
            .map(|t| self.view(t))
            .collect();
        Ok(Listed { items, next })
    }

    /// Replaces a target (name and creation time stay); a new fingerprint replaces the old
    /// one in the agent listener's allowed set.
    pub async fn update(&self, t: Target, pw: DropPassword) -> ApiResult<TargetView> {
        let (t, old_fingerprint) = self
            .hub
            .state
            .commit_guarded(|| self.update_plan(&t, &pw))
            .await?;
        if t.fingerprint != old_fingerprint {
            self.hub.sync_allowed(&[&old_fingerprint, &t.fingerprint])?;
            self.hub.forget(&t.name);
        }
        Ok(self.view(t))
    }

    fn update_plan(&self, t: &Target, pw: &DropPassword) -> ApiResult<(Batch, (Target, String))> {
        let old = self.get(&t.name)?;
        let mut t = Target {
            name: old.name.clone(),
            created_at: old.created_at,
            ..t.clone()
        };
        self.set_drop_password(&mut t, Some(&old), &pw.new, pw.clear)?;
        self.check(&t)?;
        let mut b = Batch::new();
        b.put_record(&t)?;
        if t.fingerprint != old.fingerprint {
            if !t.fingerprint.is_empty()
                && let Some(other) = self.hub.target_by_fingerprint(&t.fingerprint)?
            {
                return Err(ApiError::Precondition(format!(
                    "certificate {} is already registered as target '{}'",
                    t.fingerprint, other.name
                )));
            }
            if !old.fingerprint.is_empty() {
                b.delete(TARGET_BY_FINGERPRINT, &old.fingerprint);
            }
            if !t.fingerprint.is_empty() {
                b.insert(
                    TARGET_BY_FINGERPRINT,
                    &t.fingerprint,
                    t.name.clone().into_bytes(),
                );
            }
        }
        Ok((b, (t, old.fingerprint)))
    }

    pub async fn delete(&self, name: &str) -> ApiResult<()> {
        let t = self
            .hub
            .state
            .commit_guarded(|| {
                let t = self.get(name)?;
                let mut b = Batch::new();
                b.delete(Target::TABLE, &key_of(&[&t.name]));
                if !t.fingerprint.is_empty() {
                    b.delete(TARGET_BY_FINGERPRINT, &t.fingerprint);
                }
                Ok((b, t))
            })
            .await?;
        self.hub.sync_allowed(&[&t.fingerprint])?;
        self.hub.forget(&t.name);
        tracing::info!(target = %t.name, "target deleted");
        Ok(())
    }

    /// Where agents connect, and the certificate fingerprint they must pin.
    pub fn agent_endpoint(&self) -> ApiResult<(String, String)> {
        let fp = self
            .hub
            .state
            .identity
            .fingerprint()
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        Ok((self.agent_address.clone(), fp))
    }
}
