//! Automatic promotion, the source side: a durable queue of releases to promote to other
//! Spaces, filled when an automatic phase naming a Space (or one of its remote environments)
//! becomes due, and worked by the automation loop: each job is offered over the peer link,
//! and retried with backoff (1 s doubling to 5 min) while the Space cannot be reached.

use std::sync::Arc;

use domain::model::{PromotionJob, PromotionJobState, Release};
use storage::{Batch, StorageError, StoreExt};

use crate::deployments::Engine;
use crate::error::{ApiError, ApiResult};
use crate::promotion::service::PromotionService;
use crate::state::{SpaceState, now};

/// Jobs waiting their turn at most; a full queue refuses new ones (and says so in the log).
pub const MAX_JOBS: usize = 10_000;
/// Longest wait between two attempts.
pub const MAX_BACKOFF_SECS: i64 = 300;

/// Queues `release` for `space` unless a job for it exists. Synchronous: called by the
/// deployment engine when a phase completes (the write is durable before it returns).
pub fn enqueue(state: &SpaceState, release: &Release, space: &str, trigger: &str) -> ApiResult<()> {
    let queued = super::queued::keys::<PromotionJob>(state.store.as_ref(), MAX_JOBS)?;
    if queued.len() >= MAX_JOBS {
        tracing::error!(project = %release.project, release = %release.version, to_space = %space, "the automatic promotion queue is full ({MAX_JOBS} jobs): not queued; promote by hand");
        return Err(ApiError::Unavailable(format!(
            "the automatic promotion queue is full ({MAX_JOBS} jobs)"
        )));
    }
    let t = now();
    let job = PromotionJob {
        project: release.project.clone(),
        version: release.version.clone(),
        target_space: space.to_string(),
        state: PromotionJobState::Queued,
        attempts: 0,
        last_error: None,
        next_attempt_at: t,
        created_at: t,
        updated_at: t,
        trigger: trigger.to_string(),
    };
    let mut b = Batch::new();
    super::queued::put(&mut b, &job, true)?;
    super::active::track(state.store.as_ref(), &mut b, &job)?;
    match state.commit_blocking(b) {
        Ok(()) => {
            tracing::info!(project = %job.project, release = %job.version, to_space = %space, trigger, "automatic promotion queued");
            state.wake.notify_one();
            Ok(())
        }
        Err(StorageError::Conflict { .. }) => Ok(()), // queued before
        Err(e) => Err(e.into()),
    }
}

/// The Space an environment of a lifecycle phase is reached through, if another Space: a
/// remote environment's Space, or the name of no environment here (a whole Space).
pub fn space_reached(state: &SpaceState, env: &str) -> Option<String> {
    match state.environment(env) {
        Ok(e) => e.remote_space,
        Err(_) => Some(env.to_string()),
    }
}

/// Seconds to wait after `attempts` failed attempts.
pub fn backoff(attempts: u32) -> i64 {
    1i64.checked_shl(attempts.min(16))
        .unwrap_or(i64::MAX)
        .min(MAX_BACKOFF_SECS)
}

/// Whether an error may go away by itself (the peer unreachable, its trust not there yet).
fn transient(e: &ApiError) -> bool {
    matches!(
        e,
        ApiError::Unavailable(_) | ApiError::Unauthenticated(_) | ApiError::PermissionDenied(_)
    )
}

/// Works every queued job that is due; returns when the next one will be (UNIX seconds).
pub async fn work(engine: &Arc<Engine>) -> ApiResult<Option<i64>> {
    let state = &engine.state;
    let mut stale = Batch::new();
    let jobs = super::queued::jobs::<PromotionJob>(state.store.as_ref(), MAX_JOBS, &mut stale)?;
    if !stale.ops.is_empty() {
        state.commit(stale).await?;
    }
    let service = PromotionService {
        engine: engine.clone(),
    };
    let mut next: Option<i64> = None;
    for mut job in jobs {
        if job.state != PromotionJobState::Queued {
            continue;
        }
        if job.next_attempt_at > now() {
            next = Some(next.map_or(job.next_attempt_at, |n| n.min(job.next_attempt_at)));
            continue;
        }
        let r = service
            .promote(
                job.project.clone(),
                job.version.clone(),
                job.target_space.clone(),
                true,
                format!("automatic promotion ({})", job.trigger),
            )
            .await;
        job.attempts += 1;
        job.updated_at = now();
        match r {
            Ok(sent) => {
                let c = &sent.promoted.bundle.contents;
                tracing::info!(project = %job.project, release = %job.version, to_space = %job.target_space, bundle = %c.bundle_id, "automatic promotion offered");
                job.state = PromotionJobState::Offered {
                    bundle_id: c.bundle_id.clone(),
                    chunks_missing: sent.chunks_missing,
                };
                job.last_error = None;
            }
            Err(e) if transient(&e) => {
                let wait = backoff(job.attempts);
                tracing::warn!(project = %job.project, release = %job.version, to_space = %job.target_space, attempts = job.attempts, retry_in_secs = wait, error = %e, "automatic promotion will be retried");
                job.last_error = Some(e.to_string());
                job.next_attempt_at = now() + wait;
                next = Some(next.map_or(job.next_attempt_at, |n| n.min(job.next_attempt_at)));
            }
            Err(e) => {
                tracing::warn!(project = %job.project, release = %job.version, to_space = %job.target_space, error = %e, "automatic promotion failed");
                job.state = PromotionJobState::Failed;
                job.last_error = Some(e.to_string());
            }
        }
        let mut b = Batch::new();
        super::queued::put(&mut b, &job, false)?;
        super::active::track(state.store.as_ref(), &mut b, &job)?;
        state.commit(b).await?;
    }
    Ok(next)
}

/// Promotions a dashboard shows at most.
pub const DASHBOARD_JOBS: usize = 50;

/// Promotions not deployed at their target yet (scheduled, queued, retrying, offered,
/// fetching, failed), most recently changed first.
pub fn in_flight(state: &SpaceState) -> ApiResult<Vec<JobView>> {
    let mut jobs = super::active::jobs(state.store.as_ref())?;
    jobs.sort_by_key(|j| std::cmp::Reverse(j.updated_at));
    let mut out = Vec::new();
    for job in jobs {
        let v = view(state, job)?;
        if v.state != "deployed" {
            out.push(v);
        }
        if out.len() == DASHBOARD_JOBS {
            break;
        }
    }
    Ok(out)
}

/// A job as a list shows it: its state, with what the source knows after the offer (the
/// receipts that came back for its bundle).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobView {
    pub job: PromotionJob,
    /// queued, retrying, offered, fetching, deployed, failed.
    pub state: &'static str,
    pub detail: String,
    pub bundle_id: String,
}

/// Which promotions a list shows: every project's, one project's, or one release's.
pub struct Of {
    project: String,
    version: String,
}

impl Of {
    pub fn new(project: &str, version: &str) -> ApiResult<Self> {
        let (project, version) = (project.trim(), version.trim());
        if project.is_empty() && !version.is_empty() {
            return Err(ApiError::Invalid(
                "a release's promotions are listed with its project: give --project too".into(),
            ));
        }
        Ok(Self {
            project: project.to_string(),
            version: version.to_string(),
        })
    }

    /// The key prefix of the jobs shown (jobs are keyed by project, version, target).
    fn prefix(&self) -> String {
        match (self.project.is_empty(), self.version.is_empty()) {
            (true, _) => String::new(),
            (false, true) => storage::prefix_of(&[&self.project]),
            (false, false) => storage::prefix_of(&[&self.project, &self.version]),
        }
    }

    pub fn matches(&self, project: &str, version: &str) -> bool {
        (self.project.is_empty() || self.project.eq_ignore_ascii_case(project))
            && (self.version.is_empty() || self.version.eq_ignore_ascii_case(version))
    }
}

/// A page of the queue (in key order), of what `of` selects.
pub fn list(
    state: &SpaceState,
    of: &Of,
    page: crate::services::Page,
) -> ApiResult<crate::services::Listed<JobView>> {
    let (jobs, next) =
        state
            .store
            .list_records::<PromotionJob>(&of.prefix(), page.after.as_deref(), page.size)?;
    let mut items = Vec::with_capacity(jobs.len());
    for job in jobs {
        items.push(view(state, job)?);
    }
    Ok(crate::services::Listed { items, next })
}

fn view(state: &SpaceState, job: PromotionJob) -> ApiResult<JobView> {
    let error = job.last_error.clone().unwrap_or_default();
    let (st, detail, bundle_id) =
        match &job.state {
            PromotionJobState::Queued if job.attempts == 0 && job.next_attempt_at > now() => {
                ("scheduled", job.trigger.clone(), String::new())
            }
            PromotionJobState::Queued if job.attempts == 0 => ("queued", error, String::new()),
            PromotionJobState::Queued => ("retrying", error, String::new()),
            PromotionJobState::Failed => ("failed", error, String::new()),
            PromotionJobState::Offered {
                bundle_id,
                chunks_missing,
            } => {
                let results =
                    state
                        .store
                        .get_record::<domain::model::Promotion>(&bundle_id.to_ascii_lowercase())?
                        .map(|p| {
                            state.store.all_records::<domain::model::RemoteResult>(
                                &storage::prefix_of(&[&p.target_space, &p.digest]),
                            )
                        })
                        .transpose()?
                        .unwrap_or_default();
                match results
                    .iter()
                    .max_by_key(|r| (r.finished_at, r.received_at))
                {
                    Some(r) => (
                        "deployed",
                        format!("{} in {}", r.state.as_str(), r.environment),
                        bundle_id.clone(),
                    ),
                    None if *chunks_missing > 0 => (
                        "fetching",
                        format!("{chunks_missing} chunks were missing at the offer"),
                        bundle_id.clone(),
                    ),
                    None => ("offered", String::new(), bundle_id.clone()),
                }
            }
        };
    Ok(JobView {
        job,
        state: st,
        detail,
        bundle_id,
    })
}

/// Queues `project` `version` for `space` at `at` (a person's choice of time): a queued or
/// failed job is rescheduled, an offered one is refused (promote by hand to send it again).
pub async fn schedule(
    state: &SpaceState,
    project: &str,
    version: &str,
    space: &str,
    at: i64,
    who: &str,
) -> ApiResult<JobView> {
    schedule_with(state, project, version, space, at, who, false).await
}

/// [`schedule`], also for a release offered already (`again`: the target Space lost it, being
/// restored from a backup, and asked for it).
pub async fn schedule_with(
    state: &SpaceState,
    project: &str,
    version: &str,
    space: &str,
    at: i64,
    who: &str,
    again: bool,
) -> ApiResult<JobView> {
    let r = state.release(project, version)?;
    let space = space.trim();
    crate::services::check_name("space", space)?;
    let key = storage::key_of(&[&r.project, &r.version, space]);
    let t = now();
    let job = match state.store.get_record::<PromotionJob>(&key)? {
        Some(PromotionJob {
            state: PromotionJobState::Offered { bundle_id, .. },
            ..
        }) if !again => {
            return Err(ApiError::Precondition(format!(
                "release {} of '{}' was already offered to '{space}' (bundle {bundle_id}): promote it by hand to send it again",
                r.version, r.project
            )));
        }
        Some(j) => PromotionJob {
            state: PromotionJobState::Queued,
            attempts: 0,
            last_error: None,
            next_attempt_at: at,
            updated_at: t,
            trigger: format!("scheduled by {who}"),
            ..j
        },
        None => PromotionJob {
            project: r.project.clone(),
            version: r.version.clone(),
            target_space: space.to_string(),
            state: PromotionJobState::Queued,
            attempts: 0,
            last_error: None,
            next_attempt_at: at,
            created_at: t,
            updated_at: t,
            trigger: format!("scheduled by {who}"),
        },
    };
    let mut b = Batch::new();
    super::queued::put(&mut b, &job, false)?;
    super::active::track(state.store.as_ref(), &mut b, &job)?;
    state.commit(b).await?;
    tracing::info!(project = %job.project, release = %job.version, to_space = %space, at, by = %who, "promotion scheduled");
    state.wake.notify_one();
    view(state, job)
}

/// Removes a job not offered yet.
pub async fn cancel(
    state: &SpaceState,
    project: &str,
    version: &str,
    space: &str,
) -> ApiResult<()> {
    let key = storage::key_of(&[project.trim(), version.trim(), space.trim()]);
    let job = state
        .store
        .get_record::<PromotionJob>(&key)?
        .ok_or_else(|| {
            ApiError::not_found("promotion", format!("{project} {version} to {space}"))
        })?;
    if let PromotionJobState::Offered { bundle_id, .. } = &job.state {
        return Err(ApiError::Precondition(format!(
            "it was offered already (bundle {bundle_id}): the target decides what happens to it"
        )));
    }
    let mut b = Batch::new();
    super::queued::remove::<PromotionJob>(&mut b, &key);
    super::active::forget(&mut b, &key);
    state.commit(b).await?;
    tracing::info!(project = %job.project, release = %job.version, to_space = %job.target_space, "queued promotion cancelled");
    Ok(())
}
