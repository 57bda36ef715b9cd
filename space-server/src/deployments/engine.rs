//! The deployment engine: creates deployments after checking lifecycle progression, keeps the
//! live ones (cancel flag, event broadcast, log sequence), stores records and log lines.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use domain::model::{Deployment, LogEntry, Release, RunState};
use storage::records::{deployment_key, log_prefix};
use storage::{Batch, StoreExt};
use tokio::sync::{broadcast, watch};

use crate::agents::Hub;
use crate::error::{ApiError, ApiResult};
use crate::state::SpaceState;

/// What watchers of a deployment hear.
#[derive(Debug, Clone)]
pub enum Event {
    Log(LogEntry),
    State(Box<Deployment>),
}

pub(super) struct Live {
    pub cancel: watch::Sender<bool>,
    pub events: broadcast::Sender<Event>,
    pub seq: AtomicU64,
    /// Sensitive values to mask in every line of this deployment.
    pub secrets: Mutex<Vec<String>>,
    /// State changes not yet stored: a running deployment is stored at most every
    /// [`SAVE_EVERY`] (a deployment to 1,000 targets changes state thousands of times).
    pub dirty: std::sync::atomic::AtomicBool,
    pub last_save: Mutex<std::time::Instant>,
}

/// How often a running deployment's record is stored and broadcast at most.
pub const SAVE_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

pub struct Engine {
    pub state: Arc<SpaceState>,
    pub hub: Arc<Hub>,
    pub default_parallel: usize,
    /// Extractions of each package kept on a target (older ones are removed); `None`: all.
    pub retention: Option<usize>,
    pub(super) live: Mutex<HashMap<u64, Arc<Live>>>,
}

impl Engine {
    pub fn new(
        state: Arc<SpaceState>,
        hub: Arc<Hub>,
        default_parallel: usize,
        retention: Option<usize>,
    ) -> ApiResult<Arc<Self>> {
        // Deployments that were running when the server stopped cannot be resumed.
        for mut d in state.store.all_records::<Deployment>("")? {
            if !d.state.is_final() {
                d.state = RunState::Failed;
                d.error = Some("the Space server stopped while this deployment was running".into());
                d.finished_at = Some(domain::model::now());
                let mut b = Batch::new();
                b.put_record(&d)?;
                state.store.commit(b)?;
                tracing::warn!(deployment = %d.id, "marked failed: interrupted by a server stop");
            }
        }
        super::index::ensure(state.store.as_ref())?;
        crate::promotion::remote_index::ensure(state.store.as_ref())?;
        crate::automation::queued::ensure::<domain::model::PromotionJob>(state.store.as_ref())?;
        crate::automation::queued::ensure::<domain::model::StagingJob>(state.store.as_ref())?;
        crate::automation::active::ensure(state.store.as_ref())?;
        crate::promotion::index::ensure(state.store.as_ref())?;
        Ok(Arc::new(Self {
            state,
            hub,
            default_parallel: default_parallel.max(1),
            retention,
            live: Mutex::new(HashMap::new()),
        }))
    }

    pub fn get(&self, id: &str) -> ApiResult<Deployment> {
        let n = Deployment::number_of(id).ok_or_else(|| {
            ApiError::Invalid(format!("'{id}' is not a deployment id (Deployments-N)"))
        })?;
        self.state
            .store
            .get_record::<Deployment>(&deployment_key(n))?
            .ok_or_else(|| ApiError::not_found("deployment", id))
    }

    pub(super) fn live(&self, n: u64) -> Option<Arc<Live>> {
        self.live.lock().ok().and_then(|l| l.get(&n).cloned())
    }

    /// Records a new deployment with its index entries, durably, in one batch.
    pub(super) fn save_new(&self, d: &Deployment) -> ApiResult<()> {
        let mut b = Batch::new();
        b.put_record(d)?;
        super::index::add(&mut b, d);
        self.state.commit_blocking(b)?;
        self.state.changed();
        Ok(())
    }

    pub(super) fn save(&self, d: &Deployment) -> ApiResult<()> {
        let mut b = Batch::new();
        b.put_record(d)?;
        if d.state.is_final() || d.started_at.is_none() {
            // Created and finished are what a user acts on: durable before anyone is told.
            self.state.commit_blocking(b)?;
        } else {
            self.state.store.commit(b)?;
        }
        if let Some(l) = self.live(d.number) {
            let _ = l.events.send(Event::State(Box::new(d.clone())));
        }
        self.state.changed();
        Ok(())
    }

    /// Appends one (masked) log line and tells watchers.
    pub(super) fn log(&self, n: u64, step: &str, target: &str, stream: &str, text: &str) {
        let Some(live) = self.live(n) else { return };
        let text = match live.secrets.lock() {
            Ok(s) => domain::variables::mask(text, &s),
            Err(_) => domain::variables::MASK.to_string(),
        };
        let e = LogEntry {
            deployment: n,
            seq: live.seq.fetch_add(1, Ordering::SeqCst) + 1,
            at: domain::model::now(),
            step: step.to_string(),
            target: target.to_string(),
            stream: stream.to_string(),
            text,
        };
        let mut b = Batch::new();
        if b.put_record(&e).is_ok()
            && let Err(err) = self.state.store.commit(b)
        {
            tracing::error!(deployment = n, error = %err, "cannot store a log line");
        }
        let _ = live.events.send(Event::Log(e));
    }

    /// Stored log lines of a deployment after `after_seq`.
    pub fn logs_after(&self, n: u64, after_seq: u64) -> ApiResult<Vec<LogEntry>> {
        let start = (after_seq > 0).then(|| format!("{}{:012}", log_prefix(n), after_seq));
        let mut out = Vec::new();
        let mut after = start;
        loop {
            let (page, next) = self.state.store.list_records::<LogEntry>(
                &log_prefix(n),
                after.as_deref(),
                1000,
            )?;
            out.extend(page);
            match next {
                Some(k) => after = Some(k),
                None => return Ok(out),
            }
        }
    }

    /// Environments where `release` has a successful deployment, and where it has any: for
    /// `tenant`, that tenant's deployments; untenanted (`None`), the untenanted ones and the
    /// results remote Spaces reported.
    pub fn history(
        &self,
        release: &Release,
        tenant: Option<&str>,
    ) -> ApiResult<(Vec<String>, Vec<String>)> {
        let mut ok = Vec::new();
        let mut any = Vec::new();
        let mut ds = super::index::of_release(
            self.state.store.as_ref(),
            &release.project,
            &release.version,
        )?;
        ds.reverse(); // oldest first
        for d in ds {
            let same_release = d
                .release_created_at
                .is_none_or(|at| at == release.created_at);
            let same_tenant = match (&d.tenant, tenant) {
                (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                (a, b) => a.is_none() && b.is_none(),
            };
            if d.project.eq_ignore_ascii_case(&release.project)
                && d.version == release.version
                && same_release
                && same_tenant
            {
                if d.state == RunState::Success {
                    ok.push(d.environment.clone());
                }
                any.push(d.environment);
            }
        }
        if tenant.is_none() {
            ok.extend(crate::promotion::remote_index::remote_successes(
                &self.state,
                release,
            )?);
        }
        Ok((ok, any))
    }

    /// Asks a running deployment to stop.
    pub fn cancel(&self, id: &str) -> ApiResult<Deployment> {
        let d = self.get(id)?;
        if d.state.is_final() {
            return Err(ApiError::Precondition(format!(
                "deployment {} already ended ({})",
                d.id,
                d.state.as_str()
            )));
        }
        if let Some(l) = self.live(d.number) {
            let _ = l.cancel.send(true);
        }
        tracing::info!(deployment = %d.id, "cancel requested");
        Ok(d)
    }

    pub(crate) fn subscribe(&self, n: u64) -> Option<broadcast::Receiver<Event>> {
        self.live(n).map(|l| l.events.subscribe())
    }
}
