//! Deployments at a time of a person's choosing (`release deploy --at`): kept as records,
//! started by the automation loop when their time comes (the usual lifecycle checks apply
//! then), listed with their state, cancellable until they start.

use std::sync::Arc;

use domain::model::{ScheduledDeployment, ScheduledState};
use storage::{Batch, StoreExt};

use crate::deployments::Engine;
use crate::error::{ApiError, ApiResult};
use crate::services::{Listed, Page};
use crate::state::{SpaceState, now};

/// Scheduled deployments kept at most (started and failed ones included).
pub const MAX_SCHEDULED: usize = 10_000;

pub async fn schedule(
    state: &SpaceState,
    project: &str,
    version: &str,
    environment: &str,
    at: i64,
    who: &str,
    tenant: Option<&str>,
) -> ApiResult<ScheduledDeployment> {
    let r = state.release(project, version)?;
    let env = state.environment(environment)?;
    // The tenant is checked now (it exists, it is connected there) and again when it starts.
    let tenant = match tenant {
        Some(name) => {
            Some(crate::deployments::tenant::connected(state, &r.project, &env.name, name)?.name)
        }
        None => None,
    };
    let kept = state.store.scan(
        <ScheduledDeployment as storage::Record>::TABLE,
        "",
        None,
        MAX_SCHEDULED,
    )?;
    if kept.len() >= MAX_SCHEDULED {
        return Err(ApiError::Unavailable(format!(
            "{MAX_SCHEDULED} scheduled deployments are kept already: cancel some first"
        )));
    }
    let s = ScheduledDeployment {
        project: r.project,
        version: r.version,
        environment: env.name,
        at,
        state: ScheduledState::Scheduled,
        created_at: now(),
        created_by: who.to_string(),
        tenant,
    };
    let mut b = Batch::new();
    b.put_record(&s)?;
    state.commit(b).await?;
    tracing::info!(project = %s.project, release = %s.version, environment = %s.environment, at, by = %who, "deployment scheduled");
    state.wake.notify_one();
    Ok(s)
}

pub fn list(state: &SpaceState, page: Page) -> ApiResult<Listed<ScheduledDeployment>> {
    let (items, next) =
        state
            .store
            .list_records::<ScheduledDeployment>("", page.after.as_deref(), page.size)?;
    Ok(Listed { items, next })
}

/// Removes one that has not started.
pub async fn cancel(
    state: &SpaceState,
    project: &str,
    version: &str,
    environment: &str,
    tenant: Option<&str>,
) -> ApiResult<()> {
    let key = storage::records::scheduled_key(
        project.trim(),
        version.trim(),
        environment.trim(),
        tenant.map(str::trim),
    );
    let s = state
        .store
        .get_record::<ScheduledDeployment>(&key)?
        .ok_or_else(|| {
            ApiError::not_found(
                "scheduled deployment",
                format!(
                    "{project} {version} to {environment}{}",
                    tenant
                        .map(|t| format!(" for tenant {t}"))
                        .unwrap_or_default()
                ),
            )
        })?;
    if let ScheduledState::Started { deployment_id } = &s.state {
        return Err(ApiError::Precondition(format!(
            "it started already as {deployment_id}: cancel that deployment instead"
        )));
    }
    let mut b = Batch::new();
    b.delete(<ScheduledDeployment as storage::Record>::TABLE, &key);
    state.commit(b).await?;
    Ok(())
}

/// Starts every scheduled deployment whose time has come; returns when the next one is due.
pub async fn work(engine: &Arc<Engine>) -> ApiResult<Option<i64>> {
    let state = &engine.state;
    let mut next: Option<i64> = None;
    for mut s in state.store.all_records::<ScheduledDeployment>("")? {
        if s.state != ScheduledState::Scheduled {
            continue;
        }
        if s.at > now() {
            next = Some(next.map_or(s.at, |n| n.min(s.at)));
            continue;
        }
        let who = format!("{} (scheduled)", s.created_by);
        let tenant = s.tenant.as_deref();
        s.state = match engine.create(&s.project, &s.version, &s.environment, &who, 0, tenant) {
            Ok(d) => {
                tracing::info!(deployment = %d.id, project = %s.project, release = %s.version, environment = %s.environment, "scheduled deployment started");
                ScheduledState::Started {
                    deployment_id: d.id,
                }
            }
            Err(e) => {
                tracing::warn!(project = %s.project, release = %s.version, environment = %s.environment, error = %e, "scheduled deployment refused");
                ScheduledState::Failed {
                    reason: e.to_string(),
                }
            }
        };
        let mut b = Batch::new();
        b.put_record(&s)?;
        state.commit(b).await?;
    }
    Ok(next)
}
