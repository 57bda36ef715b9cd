//! Creating and running one deployment: steps in order, each on every matching target in
//! parallel (bounded), with per-target variables, package transfer, logs and outputs.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use deploy::model::{Deployment, Release, RunState, Step, StepRun, Target, TargetRun};
use deploy::storage::StoreExt;
use deploy::variables::{Candidate, DeployContext, SystemValues, resolve};
use deploy::wire::agent::{WireVariable, WorkItem};
use tokio::sync::{Semaphore, broadcast, watch};

use super::engine::{Engine, Live};
use crate::agents::JobEvent;
use crate::error::{ApiError, ApiResult};

pub(super) type Shared = Arc<Mutex<Deployment>>;

impl Engine {
    /// The lifecycle a release progresses through (its channel's, else its project's).
    pub fn lifecycle_of(&self, r: &Release) -> ApiResult<deploy::model::Lifecycle> {
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
    ) -> ApiResult<Deployment> {
        let release = self.state.release(project, version)?;
        let env = self.state.environment(environment)?;
        let lifecycle = self.lifecycle_of(&release)?;
        let (ok, _) = self.history(&release)?;
        deploy::lifecycle::check_can_deploy(&lifecycle, &env.name, &ok).map_err(|e| {
            ApiError::Precondition(format!(
                "release {} of '{}' cannot be deployed to {}: {e}",
                release.version, release.project, env.name
            ))
        })?;
        let mut secrets = Vec::new();
        for v in release.variables.iter().filter(|v| v.is_sensitive()) {
            if let Ok(s) = self.state.reveal(&release.project, v)
                && !s.is_empty()
            {
                secrets.push(s);
            }
        }
        let number = self.state.store.next_id("deployment")?;
        let d = Deployment {
            id: Deployment::id_for(number),
            number,
            project: release.project.clone(),
            version: release.version.clone(),
            environment: env.name.clone(),
            state: RunState::Queued,
            created_by: who.to_string(),
            created_at: deploy::model::now(),
            started_at: None,
            finished_at: None,
            steps: Vec::new(),
            error: None,
            drops: Vec::new(),
        };
        let (cancel, _) = watch::channel(false);
        let (events, _) = broadcast::channel(4096);
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
        self.save(&d)?;
        tracing::info!(deployment = %d.id, project = %d.project, release = %d.version, environment = %d.environment, by = %who, "deployment created");
        let parallel = if max_parallel == 0 {
            self.default_parallel
        } else {
            max_parallel
        };
        let engine = self.clone();
        let shared = Arc::new(Mutex::new(d.clone()));
        tokio::spawn(async move { engine.run(shared, release, parallel).await });
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

    /// Stores the deployment now.
    pub(super) fn flush(&self, d: &Shared) {
        let Ok(snapshot) = d.lock().map(|g| g.clone()) else {
            return;
        };
        if let Some(live) = self.live(snapshot.number) {
            live.dirty.store(false, std::sync::atomic::Ordering::SeqCst);
            if let Ok(mut t) = live.last_save.lock() {
                *t = std::time::Instant::now();
            }
        }
        if let Err(e) = self.save(&snapshot) {
            tracing::error!(deployment = %snapshot.id, error = %e, "cannot store deployment state");
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
            d.started_at = Some(deploy::model::now());
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
                set.spawn(async move {
                    let _permit = sem.acquire_owned().await;
                    engine
                        .run_on_target(&d2, &rel, i, j, &st, &t, prior, cancel)
                        .await
                });
            }
            while let Some(res) = set.join_next().await {
                if let Ok(outs) = res {
                    outputs.extend(outs);
                }
            }
            let (ok, was_cancelled) = match d.lock() {
                Ok(g) => (
                    g.steps[i]
                        .targets
                        .iter()
                        .all(|t| t.state == RunState::Success),
                    g.steps[i]
                        .targets
                        .iter()
                        .any(|t| t.state == RunState::Cancelled),
                ),
                Err(_) => (false, false),
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
                failure = Some(format!(
                    "step '{}' failed on one or more targets",
                    step.name
                ));
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
        self.update(d, |d| {
            for s in d.steps.iter_mut().filter(|s| s.state == RunState::Pending) {
                s.state = RunState::Skipped;
            }
            d.state = if cancelled {
                RunState::Cancelled
            } else if failure.is_some() {
                RunState::Failed
            } else {
                RunState::Success
            };
            d.error = failure
                .clone()
                .or(cancelled.then(|| "cancelled".to_string()));
            d.finished_at = Some(deploy::model::now());
        });
        let (n, id, state, env) = match d.lock() {
            Ok(g) => (g.number, g.id.clone(), g.state, g.environment.clone()),
            Err(_) => return,
        };
        self.log(
            n,
            "",
            "",
            "info",
            &format!("Deployment {id} {}", state.as_str()),
        );
        tracing::info!(deployment = %id, state = state.as_str(), "deployment finished");
        if let Ok(mut l) = self.live.lock() {
            l.remove(&n);
        }
        if state == RunState::Success {
            self.start_automatic(release, &env);
        }
    }

    /// Starts deployments to automatic phases that became due.
    pub fn start_automatic(self: &Arc<Self>, release: &Release, after: &str) {
        let Ok(lifecycle) = self.lifecycle_of(release) else {
            return;
        };
        let Ok((ok, any)) = self.history(release) else {
            return;
        };
        for env in deploy::lifecycle::automatic_due(&lifecycle, &ok, &any) {
            match self.create(
                &release.project,
                &release.version,
                &env,
                "lifecycle (automatic phase)",
                0,
            ) {
                Ok(d) => {
                    tracing::info!(deployment = %d.id, environment = %env, after = %after, "automatic phase started")
                }
                Err(e) => {
                    tracing::warn!(environment = %env, error = %e, "automatic phase could not start")
                }
            }
        }
    }

    pub(super) fn variables_for(
        &self,
        release: &Release,
        env: &str,
        d_id: &str,
        t: &Target,
        step: &Step,
        prior: Vec<Candidate>,
    ) -> ApiResult<Vec<WireVariable>> {
        let mut cands = Vec::with_capacity(release.variables.len() + prior.len() + 8);
        for v in &release.variables {
            cands.push(Candidate {
                name: v.name.clone(),
                value: self.state.reveal(&release.project, v)?,
                sensitive: v.is_sensitive(),
                scope: v.scope.clone(),
            });
        }
        cands.extend(prior);
        cands.extend(
            SystemValues {
                project: Some(release.project.clone()),
                release_number: Some(release.version.clone()),
                release_notes: Some(release.notes.clone()),
                environment: Some(env.to_string()),
                space: Some(self.state.name.clone()),
                channel: Some(release.channel.clone()),
                deployment_id: Some(d_id.to_string()),
                machine: Some(t.name.clone()),
            }
            .candidates(),
        );
        let ctx = DeployContext {
            environment: Some(env.to_string()),
            target: Some(t.name.clone()),
            roles: t.roles.clone(),
            step: Some(step.name.clone()),
            channel: Some(release.channel.clone()),
            tenant: None,
        };
        let resolved = resolve(&cands, &ctx);
        Ok(resolved
            .names()
            .filter_map(|n| resolved.raw(n))
            .map(|v| WireVariable {
                name: v.name.clone(),
                value: v.value.clone(),
                sensitive: v.sensitive,
            })
            .collect())
    }

    #[allow(clippy::too_many_arguments)]
    async fn run_on_target(
        self: &Arc<Self>,
        d: &Shared,
        release: &Release,
        i: usize,
        j: usize,
        step: &Step,
        t: &Target,
        prior: Vec<Candidate>,
        mut cancel: watch::Receiver<bool>,
    ) -> Vec<Candidate> {
        let (n, id, env) = match d.lock() {
            Ok(g) => (g.number, g.id.clone(), g.environment.clone()),
            Err(_) => return vec![],
        };
        let set = |engine: &Arc<Self>, f: &dyn Fn(&mut TargetRun)| {
            engine.update(d, |d| f(&mut d.steps[i].targets[j]))
        };
        set(self, &|r| r.state = RunState::Running);
        let fail = |engine: &Arc<Self>, msg: String| {
            engine.log(n, &step.name, &t.name, "warn", &msg);
            set(engine, &|r| {
                r.state = RunState::Failed;
                r.error = Some(msg.clone());
            });
            Vec::new()
        };
        let variables = match self.variables_for(release, &env, &id, t, step, prior) {
            Ok(v) => v,
            Err(e) => return fail(self, format!("cannot prepare variables: {e}")),
        };
        let package = match step.action.package_id() {
            None => None,
            Some(_) => {
                let pinned = release
                    .packages
                    .iter()
                    .find(|p| p.step.eq_ignore_ascii_case(&step.name));
                match pinned.map(|p| self.state.package(&p.id, &p.version)) {
                    Some(Ok(m)) if pinned.is_some_and(|p| p.sha256 == m.sha256) => Some(m),
                    Some(Ok(m)) => {
                        return fail(
                            self,
                            format!(
                                "package {} {} in the feed no longer matches the release's SHA-256",
                                m.id, m.version
                            ),
                        );
                    }
                    Some(Err(e)) => {
                        return fail(
                            self,
                            format!("the release's package is not in the feed: {e}"),
                        );
                    }
                    None => {
                        return fail(
                            self,
                            format!("the release pins no package for step '{}'", step.name),
                        );
                    }
                }
            }
        };
        let job_id = format!("{id}/{}/{}", i + 1, t.name);
        let work = WorkItem {
            job_id: job_id.clone(),
            deployment_id: id.clone(),
            project: release.project.clone(),
            environment: env.clone(),
            step: step.clone(),
            variables,
            package,
            retention: self.retention,
        };
        self.log(
            n,
            &step.name,
            &t.name,
            "info",
            &format!("Running step '{}' on {}", step.name, t.name),
        );
        let (session, mut rx) = match self.hub.start_job(t, work.into()).await {
            Ok(x) => x,
            Err(e) => return fail(self, e),
        };
        let mut cancelled = false;
        let result = loop {
            tokio::select! {
                ev = rx.recv() => match ev {
                    Some(JobEvent::Log { stream, text }) => self.log(n, &step.name, &t.name, &stream, &text),
                    Some(JobEvent::Done(r)) => break Ok(r),
                    Some(JobEvent::Lost(reason)) => break Err(reason),
                    None => break Err("the agent session ended".to_string()),
                },
                changed = cancel.changed(), if !cancelled => {
                    if changed.is_err() || *cancel.borrow() {
                        cancelled = true;
                        session.cancel(&job_id).await;
                        self.log(n, &step.name, &t.name, "warn", "cancelling");
                    }
                }
            }
        };
        let r = match result {
            Ok(r) => r,
            Err(e) if cancelled => {
                set(self, &|r| {
                    r.state = RunState::Cancelled;
                    r.error = Some(e.clone());
                });
                return vec![];
            }
            Err(e) => return fail(self, e),
        };
        let mut outs = Vec::new();
        for o in &r.outputs {
            if o.sensitive
                && let Some(l) = self.live(n)
                && let Ok(mut s) = l.secrets.lock()
            {
                s.push(o.value.clone());
            }
            let name = format!("Output.{}.{}", step.name, o.name);
            let mine = deploy::model::Scope {
                targets: vec![t.name.clone()],
                ..Default::default()
            };
            outs.push(Candidate {
                name: name.clone(),
                value: o.value.clone(),
                sensitive: o.sensitive,
                scope: Default::default(),
            });
            outs.push(Candidate {
                name,
                value: o.value.clone(),
                sensitive: o.sensitive,
                scope: mine,
            });
            outs.push(Candidate {
                name: format!("Output.{}[{}].{}", step.name, t.name, o.name),
                value: o.value.clone(),
                sensitive: o.sensitive,
                scope: Default::default(),
            });
        }
        let state = if r.success {
            RunState::Success
        } else if cancelled {
            RunState::Cancelled
        } else {
            RunState::Failed
        };
        let msg = if r.success {
            format!("Step '{}' succeeded on {}", step.name, t.name)
        } else {
            let code = if r.has_exit_code {
                format!(" with exit code {}", r.exit_code)
            } else {
                String::new()
            };
            format!(
                "Step '{}' failed on {}{code}{}",
                step.name,
                t.name,
                if r.error.is_empty() {
                    String::new()
                } else {
                    format!(": {}", r.error)
                }
            )
        };
        self.log(
            n,
            &step.name,
            &t.name,
            if r.success { "info" } else { "warn" },
            &msg,
        );
        set(self, &|x| {
            x.state = state;
            x.exit_code = r.has_exit_code.then_some(r.exit_code);
            x.error = (!r.error.is_empty()).then(|| r.error.clone());
            x.transferred_bytes = r.chunk_bytes_received;
            x.installed_to = (!r.installed_to.is_empty()).then(|| r.installed_to.clone());
        });
        outs
    }
}
