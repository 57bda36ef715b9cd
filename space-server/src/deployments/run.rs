//! Creating and running one deployment: steps in order, each on every matching target in
//! parallel (bounded), with per-target variables, package transfer, logs and outputs.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use tracing::Instrument;

use domain::model::{Deployment, Release, RunState, Step, StepRun, Target, TargetRun};
use domain::variables::Candidate;
use storage::StoreExt;
use tokio::sync::{Semaphore, broadcast, watch};

use super::engine::{Engine, Live};
use crate::error::{ApiError, ApiResult};

/// Live events (log lines, state changes) buffered per deployment for its followers.
const LIVE_EVENTS: usize = 256;

pub(super) type Shared = Arc<Mutex<Deployment>>;

impl Engine {
    /// The lifecycle a release progresses through (its channel's, else its project's).
    pub fn lifecycle_of(&self, r: &Release) -> ApiResult<domain::model::Lifecycle> {
        let project = self.state.project(&r.project)?;
        let channel = self.state.channel(&project.name, &r.channel).ok();
        let name = channel
            .and_then(|c| c.lifecycle)
            .unwrap_or(project.lifecycle);
        self.state.lifecycle(&name)
    }

    /// Checks lifecycle progression, records the deployment and starts it.
    pub fn create(
        self: &Arc<Self>,
        project: &str,
        version: &str,
        environment: &str,
        who: &str,
        max_parallel: usize,
        tenant: Option<&str>,
    ) -> ApiResult<Deployment> {
        let release = self.state.release(project, version)?;
        let env = self.state.environment(environment)?;
        let tenant = self.tenant_for(&release.project, &env.name, tenant)?;
        if let Some(space) = &env.remote_space {
            return Err(ApiError::Precondition(format!(
                "'{}' is a remote environment owned by space '{space}': promote the release there instead (deploy release promote --project '{}' --version {} --to-space '{space}' --out FILE)",
                env.name, release.project, release.version
            )));
        }
        let lifecycle = self.lifecycle_of(&release)?;
        let lifecycle = match &tenant {
            Some(t) => domain::lifecycle::for_tenant(&lifecycle, |e| t.serves(&release.project, e)),
            None => lifecycle,
        };
        let (ok, _) = self.history(&release, tenant.as_ref().map(|t| t.name.as_str()))?;
        let tenant = tenant.map(|t| t.name);
        domain::lifecycle::check_can_deploy(&lifecycle, &env.name, &ok).map_err(|e| {
            ApiError::Precondition(format!(
                "release {} of '{}' cannot be deployed to {}: {e}",
                release.version, release.project, env.name
            ))
        })?;
        let vars = crate::promotion::missing::deployment_variables(&self.state, &release)?;
        let missing =
            crate::promotion::missing::missing_for(&release, &vars, &env.name, tenant.as_deref());
        if !missing.is_empty() {
            let (whom, flag) = match &tenant {
                Some(t) => (format!(" and tenant '{t}'"), format!(" --tenant '{t}'")),
                None => (String::new(), String::new()),
            };
            return Err(ApiError::Precondition(format!(
                "release {} of '{}' cannot be deployed to {}: mandatory variable value(s) not set for environment '{}'{whom}: {} (set them with: deploy variable set NAME VALUE --project '{}' --env '{}'{flag})",
                release.version,
                release.project,
                env.name,
                env.name,
                missing.join(", "),
                release.project,
                env.name
            )));
        }
        let mut secrets = Vec::new();
        for v in vars.iter().filter(|v| v.is_sensitive()) {
            if let Ok(s) = self.state.reveal(&release.project, v)
                && !s.is_empty()
            {
                secrets.push(s);
            }
        }
        let number = self.state.store.next_id("deployment")?;
        // One span per deployment, a child of the promotion's trace for an imported release.
        let span = tracing::info_span!("deployment", deployment = %Deployment::id_for(number), project = %release.project, release = %release.version, environment = %env.name);
        if let Some(o) = &release.origin {
            runtime::telemetry::context::set_parent(&span, &o.traceparent);
        }
        let d = Deployment {
            id: Deployment::id_for(number),
            number,
            project: release.project.clone(),
            version: release.version.clone(),
            environment: env.name.clone(),
            state: RunState::Queued,
            created_by: who.to_string(),
            created_at: domain::model::now(),
            started_at: None,
            finished_at: None,
            steps: Vec::new(),
            error: None,
            drops: Vec::new(),
            release_created_at: Some(release.created_at),
            tenant,
            traceparent: runtime::telemetry::context::traceparent_of(&span).unwrap_or_default(),
        };
        let (cancel, _) = watch::channel(false);
        // Followers that fall behind are told so and read the rest from the store, so the
        // buffer only smooths bursts: 4,096 slots cost 177 KiB per deployment in flight
        // (measured in the soak's heap profile, docs/integrity.md), 256 about 11 KiB.
        let (events, _) = broadcast::channel(LIVE_EVENTS);
        if let Ok(mut l) = self.live.lock() {
            l.insert(
                number,
                Arc::new(Live {
                    cancel,
                    events,
                    seq: AtomicU64::new(0),
                    secrets: Mutex::new(secrets),
                    dirty: Default::default(),
                    last_save: Mutex::new(std::time::Instant::now()),
                }),
            );
        }
        self.save_new(&d)?;
        tracing::info!(deployment = %d.id, project = %d.project, release = %d.version, environment = %d.environment, by = %who, "deployment created");
        let parallel = if max_parallel == 0 {
            self.default_parallel
        } else {
            max_parallel
        };
        // One snapshot of the variables for the whole deployment: every step and target (and
        // the masking of its log) sees the values checked above, whatever changes meanwhile.
        let release = Release {
            variables: vars,
            ..release
        };
        let engine = self.clone();
        let shared = Arc::new(Mutex::new(d.clone()));
        tokio::spawn(async move { engine.run(shared, release, parallel).await }.instrument(span));
        Ok(d)
    }

    /// Changes a deployment; stores it at once when it ends or [`super::engine::SAVE_EVERY`]
    /// has passed, else marks it for the flusher started by `run`.
    pub(super) fn update(&self, d: &Shared, f: impl FnOnce(&mut Deployment)) {
        let (number, done) = match d.lock() {
            Ok(mut g) => {
                f(&mut g);
                (g.number, g.state.is_final())
            }
            Err(_) => return,
        };
        if let Some(live) = self.live(number)
            && !done
        {
            let due = live
                .last_save
                .lock()
                .map(|t| t.elapsed() >= super::engine::SAVE_EVERY)
                .unwrap_or(true);
            if !due {
                live.dirty.store(true, std::sync::atomic::Ordering::SeqCst);
                return;
            }
        }
        self.flush(d);
    }

    /// Stores the deployment now. The save happens under the deployment's lock, so saves are
    /// in order: a flush that took its snapshot earlier can never overwrite a later state (it
    /// did under load: a finished deployment was stored again as still running).
    pub(super) fn flush(&self, d: &Shared) {
        let Ok(g) = d.lock() else {
            return;
        };
        if let Some(live) = self.live(g.number) {
            live.dirty.store(false, std::sync::atomic::Ordering::SeqCst);
            if let Ok(mut t) = live.last_save.lock() {
                *t = std::time::Instant::now();
            }
        }
        if let Err(e) = self.save(&g) {
            tracing::error!(deployment = %g.id, error = %e, "cannot store deployment state");
        }
    }

    async fn run(self: Arc<Self>, d: Shared, release: Release, parallel: usize) {
        let (n, env) = match d.lock() {
            Ok(g) => (g.number, g.environment.clone()),
            Err(_) => return,
        };
        let Some(live) = self.live(n) else { return };
        let cancel = live.cancel.subscribe();
        {
            // Stores changes that `update` held back, until the deployment ends.
            let (engine, d, live) = (self.clone(), d.clone(), live.clone());
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(super::engine::SAVE_EVERY);
                while engine.live(n).is_some() {
                    tick.tick().await;
                    if live.dirty.load(std::sync::atomic::Ordering::SeqCst) {
                        engine.flush(&d);
                    }
                }
            });
        }
        self.update(&d, |d| {
            d.state = RunState::Running;
            d.started_at = Some(domain::model::now());
        });
        self.log(
            n,
            "",
            "",
            "info",
            &format!("Deploying {} {} to {env}", release.project, release.version),
        );
        let all_targets: Vec<Target> = match self.state.store.all_records::<Target>("") {
            Ok(ts) => ts.into_iter().filter(|t| t.matches(&env, &[])).collect(),
            Err(e) => return self.finish(&d, &release, Some(e.to_string()), false).await,
        };
        let steps: Vec<Step> = release
            .process
            .steps
            .iter()
            .filter(|s| {
                s.environments.is_empty()
                    || s.environments.iter().any(|e| e.eq_ignore_ascii_case(&env))
            })
            .filter(|s| {
                s.channels.is_empty()
                    || s.channels
                        .iter()
                        .any(|c| c.eq_ignore_ascii_case(&release.channel))
            })
            .cloned()
            .collect();
        self.update(&d, |d| {
            d.steps = steps
                .iter()
                .map(|s| StepRun {
                    name: s.name.clone(),
                    state: RunState::Pending,
                    targets: vec![],
                })
                .collect()
        });
        // Offline drop targets run no step: their drops (every step matching them) are
        // written now; see drop.rs.
        let drops = match self.write_drops(&d, &release, &steps, &all_targets).await {
            Ok(drops) => drops,
            Err(msg) => return self.finish(&d, &release, Some(msg), false).await,
        };
        // Output variables of earlier steps, visible to every later step: `Output.<Step>.<Name>`
        // (the value from the same target wins, else the last one reported), and
        // `Output.<Step>[<Target>].<Name>` for one target's value.
        let mut outputs: Vec<Candidate> = Vec::new();
        let mut failure = None;
        let mut cancelled = false;
        for (i, step) in steps.iter().enumerate() {
            if *cancel.borrow() {
                cancelled = true;
                break;
            }
            let targets: Vec<Target> = all_targets
                .iter()
                .filter(|t| t.matches(&env, &step.roles))
                .cloned()
                .collect();
            if targets.is_empty() {
                let roles = if step.roles.is_empty() {
                    String::new()
                } else {
                    format!(" with role {}", step.roles.join(" or "))
                };
                let msg = format!(
                    "step '{}' has no deployment target in environment '{env}'{roles}: register one with 'deploy target add'",
                    step.name
                );
                self.log(n, &step.name, "", "warn", &msg);
                self.update(&d, |d| d.steps[i].state = RunState::Failed);
                failure = Some(msg);
                break;
            }
            self.update(&d, |d| {
                d.steps[i].state = RunState::Running;
                d.steps[i].targets = targets
                    .iter()
                    .map(|t| TargetRun {
                        target: t.name.clone(),
                        state: RunState::Pending,
                        exit_code: None,
                        error: None,
                        transferred_bytes: 0,
                        installed_to: None,
                    })
                    .collect();
            });
            let step_span = tracing::info_span!("step", step = %step.name);
            let sem = Arc::new(Semaphore::new(parallel));
            let mut set = tokio::task::JoinSet::new();
            for (j, t) in targets.into_iter().enumerate() {
                if let Some(folder) = drops.get(&t.name) {
                    self.drop_written(&d, i, j, &step.name, &t.name, folder);
                    continue;
                }
                let prior = outputs.clone();
                let (engine, d2, rel, st, sem, cancel) = (
                    self.clone(),
                    d.clone(),
                    release.clone(),
                    step.clone(),
                    sem.clone(),
                    cancel.clone(),
                );
                let on_target = tracing::info_span!(parent: &step_span, "step on target", step = %st.name, target = %t.name);
                set.spawn(
                    async move {
                        let _permit = sem.acquire_owned().await;
                        engine
                            .run_on_target(&d2, &rel, i, j, &st, &t, prior, cancel)
                            .await
                    }
                    .instrument(on_target),
                );
            }
            while let Some(res) = set.join_next().await {
                if let Ok(outs) = res {
                    outputs.extend(outs);
                }
            }
            let (ok, was_cancelled, failed_on) = match d.lock() {
                Ok(g) => (
                    g.steps[i]
                        .targets
                        .iter()
                        .all(|t| t.state == RunState::Success),
                    g.steps[i]
                        .targets
                        .iter()
                        .any(|t| t.state == RunState::Cancelled),
                    g.steps[i].failures(),
                ),
                Err(_) => (false, false, String::new()),
            };
            self.update(&d, |d| {
                d.steps[i].state = if ok {
                    RunState::Success
                } else if was_cancelled {
                    RunState::Cancelled
                } else {
                    RunState::Failed
                }
            });
            if was_cancelled || *cancel.borrow() {
                cancelled = true;
                break;
            }
            if !ok {
                failure = Some(format!("step '{}' failed on {failed_on}", step.name));
                break;
            }
        }
        self.finish(&d, &release, failure, cancelled).await;
    }

    async fn finish(
        self: &Arc<Self>,
        d: &Shared,
        release: &Release,
        failure: Option<String>,
        cancelled: bool,
    ) {
        let state = if cancelled {
            RunState::Cancelled
        } else if failure.is_some() {
            RunState::Failed
        } else {
            RunState::Success
        };
        let (n, id, env, tenant) = match d.lock() {
            Ok(g) => (
                g.number,
                g.id.clone(),
                g.environment.clone(),
                g.tenant.clone(),
            ),
            Err(_) => return,
        };
        // The last line goes out before the final state: a watcher stops at the final state.
        self.log(
            n,
            "",
            "",
            "info",
            &format!("Deployment {id} {}", state.as_str()),
        );
        self.update(d, |d| {
            for s in d.steps.iter_mut().filter(|s| s.state == RunState::Pending) {
                s.state = RunState::Skipped;
            }
            d.state = state;
            d.error = failure
                .clone()
                .or(cancelled.then(|| "cancelled".to_string()));
            d.finished_at = Some(domain::model::now());
        });
        tracing::info!(deployment = %id, state = state.as_str(), "deployment finished");
        if let Ok(mut l) = self.live.lock() {
            l.remove(&n);
        }
        if state == RunState::Success {
            self.start_automatic(release, &env, tenant.as_deref());
        }
        // Its receipt may be due upstream.
        self.state.outbox_now();
    }
}
