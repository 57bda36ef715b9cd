//! Packages staged ahead, the source side: when a release exists, every lifecycle phase with
//! `prestage` that names another Space (directly or by a remote environment) queues a staging
//! job; the automation loop tells that Space which chunks the release needs
//! (`promotion::staging::offer`), retrying with backoff while it cannot be reached, so the
//! promotion that comes later moves only the bundle.

use std::sync::Arc;

use domain::model::{Lifecycle, Release, StagingJob, StagingState};
use storage::{Batch, StorageError, StoreExt};

use super::queue::{backoff, space_reached};
use crate::deployments::Engine;
use crate::error::{ApiError, ApiResult};
use crate::promotion::staging;
use crate::state::{SpaceState, now};

/// Staging jobs kept at most; beyond, none is queued (the promotion moves the packages).
pub const MAX_JOBS: usize = 10_000;

/// The Spaces `lifecycle`'s staging phases reach.
pub fn spaces(state: &SpaceState, lifecycle: &Lifecycle) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in lifecycle.phases.iter().filter(|p| p.prestage) {
        for env in &p.environments {
            if let Some(s) = space_reached(state, env)
                && !out.iter().any(|o| o.eq_ignore_ascii_case(&s))
            {
                out.push(s);
            }
        }
    }
    out
}

/// Queues the staging jobs of a release just created or imported (through `engine`, which
/// knows its lifecycle).
pub fn for_new_release(engine: &Engine, release: &Release) {
    if let Ok(l) = engine.lifecycle_of(release) {
        enqueue(&engine.state, &l, release);
    }
}

/// Queues staging jobs for `release` to every Space its lifecycle stages to (none twice).
pub fn enqueue(state: &SpaceState, lifecycle: &Lifecycle, release: &Release) {
    for space in spaces(state, lifecycle) {
        if let Err(e) = enqueue_one(state, release, &space) {
            tracing::warn!(project = %release.project, release = %release.version, to_space = %space, error = %e, "packages could not be staged ahead; the promotion moves them");
        }
    }
}

pub(super) fn enqueue_one(state: &SpaceState, release: &Release, space: &str) -> ApiResult<()> {
    if super::queued::keys::<StagingJob>(state.store.as_ref(), MAX_JOBS)?.len() >= MAX_JOBS {
        return Err(ApiError::Unavailable(format!(
            "the staging queue is full ({MAX_JOBS} jobs)"
        )));
    }
    let t = now();
    let job = StagingJob {
        id: staging::staging_id(&release.project, &release.version, space),
        project: release.project.clone(),
        version: release.version.clone(),
        target_space: space.to_string(),
        state: StagingState::Queued,
        attempts: 0,
        last_error: None,
        next_attempt_at: t,
        created_at: t,
        updated_at: t,
    };
    let mut b = Batch::new();
    super::queued::put(&mut b, &job, true)?;
    crate::promotion::index::add_given(&mut b, space, release);
    match state.commit_blocking(b) {
        Ok(()) => {
            tracing::info!(project = %job.project, release = %job.version, to_space = %space, "packages queued to be staged ahead");
            state.wake.notify_one();
            Ok(())
        }
        Err(StorageError::Conflict { .. }) => Ok(()), // queued before
        Err(e) => Err(e.into()),
    }
}

/// Works every queued staging job that is due; returns when the next one will be.
pub async fn work(engine: &Arc<Engine>) -> ApiResult<Option<i64>> {
    let state = &engine.state;
    let mut next: Option<i64> = None;
    let mut stale = Batch::new();
    let jobs = super::queued::jobs::<StagingJob>(state.store.as_ref(), MAX_JOBS, &mut stale)?;
    if !stale.ops.is_empty() {
        state.commit(stale).await?;
    }
    for mut job in jobs {
        if job.next_attempt_at > now() {
            next = Some(next.map_or(job.next_attempt_at, |n| n.min(job.next_attempt_at)));
            continue;
        }
        job.attempts += 1;
        job.updated_at = now();
        match staging::offer(state, &job).await {
            Ok(l) => {
                job.state = StagingState::Staged {
                    chunks_missing: l.chunks,
                };
                job.last_error = None;
            }
            Err(e @ (ApiError::Unavailable(_) | ApiError::PermissionDenied(_))) => {
                job.last_error = Some(e.to_string());
                job.next_attempt_at = now() + backoff(job.attempts);
                next = Some(next.map_or(job.next_attempt_at, |n| n.min(job.next_attempt_at)));
            }
            Err(e) => {
                tracing::warn!(project = %job.project, release = %job.version, to_space = %job.target_space, error = %e, "staging packages ahead failed; the promotion moves them");
                job.state = StagingState::Failed;
                job.last_error = Some(e.to_string());
            }
        }
        let mut b = Batch::new();
        super::queued::put(&mut b, &job, false)?;
        state.commit(b).await?;
    }
    Ok(next)
}

/// Staging jobs a list shows at most.
pub const LISTED: usize = 100;

/// The most recently changed staging jobs, newest first.
pub fn recent(state: &SpaceState) -> ApiResult<Vec<StagingJob>> {
    let mut jobs = state.store.all_records::<StagingJob>("")?;
    jobs.sort_by_key(|j| std::cmp::Reverse(j.updated_at));
    jobs.truncate(LISTED);
    Ok(jobs)
}

/// A staging job as lists show it: state (queued, retrying, staged, failed) and detail.
pub fn describe(job: &StagingJob) -> (&'static str, String) {
    let error = job.last_error.clone().unwrap_or_default();
    match &job.state {
        StagingState::Queued if job.attempts == 0 => ("queued", error),
        StagingState::Queued => ("retrying", error),
        StagingState::Staged { chunks_missing: 0 } => {
            ("staged", "the target had every chunk".into())
        }
        StagingState::Staged { chunks_missing } => (
            "staged",
            format!("the target fetches the {chunks_missing} chunks it lacked"),
        ),
        StagingState::Failed => ("failed", error),
    }
}
