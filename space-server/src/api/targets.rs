//! `space.v1.Targets`: deployment targets (agents known by their certificate fingerprint, and
//! offline drop targets, whose sensitive-variables password is sealed with the master key).

use std::sync::Arc;

use domain::model::{AgentMode, Target};
use proto::space::v1 as pb;
use proto::space::v1::targets_server::Targets;
use proto::wire::agent::target_to_wire;
use storage::records::TARGET_BY_FINGERPRINT;
use storage::{Batch, Record, StorageError, StoreExt, key_of};

use super::{Resp, check_name, ok, page, token};
use crate::agents::Hub;
use crate::error::{ApiError, ApiResult};

pub struct TargetsApi {
    pub hub: Arc<Hub>,
    /// Where polling agents connect (https://host:port).
    pub agent_address: String,
}

impl TargetsApi {
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

    fn wire(&self, t: Target) -> pb::Target {
        let (connected, seen) = self.hub.status(&t.name);
        target_to_wire(t, connected, seen)
    }
}

#[tonic::async_trait]
impl Targets for TargetsApi {
    async fn create(&self, req: tonic::Request<pb::Target>) -> Resp<pb::Target> {
        let m = req.into_inner();
        let (password, clear) = (m.drop_password.clone(), m.clear_drop_password);
        let mut t = Target::try_from(m).map_err(ApiError::from)?;
        self.set_drop_password(&mut t, None, &password, clear)?;
        let state = &self.hub.state;
        let _g = state.write_lock.lock().await;
        self.check(&t)?;
        if t.is_offline_drop() {
            let mut b = Batch::new();
            b.insert_record(&t).map_err(ApiError::from)?;
            state.commit(b).await.map_err(|e| match e {
                StorageError::Conflict { .. } => ApiError::exists("target", &t.name),
                e => e.into(),
            })?;
            tracing::info!(target = %t.name, environments = ?t.environments, roles = ?t.roles, "offline drop target registered");
            return ok(self.wire(t));
        }
        if let Some(other) = self.hub.target_by_fingerprint(&t.fingerprint)? {
            return Err(ApiError::Precondition(format!(
                "certificate {} is already registered as target '{}'",
                t.fingerprint, other.name
            ))
            .into());
        }
        let mut b = Batch::new();
        b.insert_record(&t).map_err(ApiError::from)?;
        b.insert(
            TARGET_BY_FINGERPRINT,
            &t.fingerprint,
            t.name.clone().into_bytes(),
        );
        state.commit(b).await.map_err(|e| match e {
            StorageError::Conflict { .. } => ApiError::exists("target", &t.name),
            e => e.into(),
        })?;
        self.hub.allowed.insert(t.fingerprint.clone());
        tracing::info!(target = %t.name, fingerprint = %t.fingerprint, environments = ?t.environments, roles = ?t.roles, "target registered");
        ok(self.wire(t))
    }

    async fn get(&self, req: tonic::Request<pb::ByName>) -> Resp<pb::Target> {
        ok(self.wire(TargetsApi::get(self, &req.into_inner().name)?))
    }

    async fn list(
        &self,
        req: tonic::Request<pb::ListTargetsRequest>,
    ) -> Resp<pb::ListTargetsResponse> {
        let pb::ListTargetsRequest {
            environment,
            page: p,
        } = req.into_inner();
        let crate::services::Page { size, after } = page(p)?;
        let (ts, next) = self
            .hub
            .state
            .store
            .list_records::<Target>("", after.as_deref(), size)
            .map_err(ApiError::from)?;
        ok(pb::ListTargetsResponse {
            targets: ts
                .into_iter()
                .filter(|t| {
                    environment.is_empty()
                        || t.environments
                            .iter()
                            .any(|e| e.eq_ignore_ascii_case(&environment))
                })
                .map(|t| self.wire(t))
                .collect(),
            next_page_token: token(next),
        })
    }

    async fn update(&self, req: tonic::Request<pb::Target>) -> Resp<pb::Target> {
        let m = req.into_inner();
        let (password, clear) = (m.drop_password.clone(), m.clear_drop_password);
        let t = Target::try_from(m).map_err(ApiError::from)?;
        let state = &self.hub.state;
        let _g = state.write_lock.lock().await;
        let old = TargetsApi::get(self, &t.name)?;
        let mut t = Target {
            name: old.name.clone(),
            created_at: old.created_at,
            ..t
        };
        self.set_drop_password(&mut t, Some(&old), &password, clear)?;
        self.check(&t)?;
        let mut b = Batch::new();
        b.put_record(&t).map_err(ApiError::from)?;
        if t.fingerprint != old.fingerprint {
            if !t.fingerprint.is_empty()
                && let Some(other) = self.hub.target_by_fingerprint(&t.fingerprint)?
            {
                return Err(ApiError::Precondition(format!(
                    "certificate {} is already registered as target '{}'",
                    t.fingerprint, other.name
                ))
                .into());
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
        state.commit(b).await.map_err(ApiError::from)?;
        if t.fingerprint != old.fingerprint {
            self.hub.allowed.remove(&old.fingerprint);
            if !t.fingerprint.is_empty() {
                self.hub.allowed.insert(t.fingerprint.clone());
            }
            self.hub.forget(&t.name);
        }
        ok(self.wire(t))
    }

    async fn delete(&self, req: tonic::Request<pb::ByName>) -> Resp<pb::Empty> {
        let name = req.into_inner().name;
        let state = &self.hub.state;
        let _g = state.write_lock.lock().await;
        let t = TargetsApi::get(self, &name)?;
        let mut b = Batch::new();
        b.delete(Target::TABLE, &key_of(&[&t.name]));
        if !t.fingerprint.is_empty() {
            b.delete(TARGET_BY_FINGERPRINT, &t.fingerprint);
        }
        state.commit(b).await.map_err(ApiError::from)?;
        self.hub.allowed.remove(&t.fingerprint);
        self.hub.forget(&t.name);
        tracing::info!(target = %t.name, "target deleted");
        ok(pb::Empty {})
    }

    async fn agent_endpoint(&self, _req: tonic::Request<pb::Empty>) -> Resp<pb::AgentEndpointInfo> {
        ok(pb::AgentEndpointInfo {
            address: self.agent_address.clone(),
            fingerprint: self
                .hub
                .state
                .identity
                .fingerprint()
                .map_err(|e| ApiError::Internal(e.to_string()))?,
        })
    }
}
