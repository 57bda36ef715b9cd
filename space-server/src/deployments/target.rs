//! Running one step on one target: its variables (scoped for the target and step, with the
//! system and output variables), its package, the job on the agent, logs, result and outputs.

use std::sync::Arc;

use domain::model::StepVariable;
use domain::model::{Release, RunState, Step, Target, TargetRun};
use domain::variables::{Candidate, DeployContext, SystemValues, resolve};
use proto::wire::agent::WorkItem;
use tokio::sync::watch;

use super::engine::Engine;
use super::run::Shared;
use crate::agents::JobEvent;
use crate::error::ApiResult;

impl Engine {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn variables_for(
        &self,
        release: &Release,
        env: &str,
        d_id: &str,
        t: &Target,
        step: &Step,
        prior: Vec<Candidate>,
        tenant: Option<&str>,
    ) -> ApiResult<Vec<StepVariable>> {
        // `release.variables` is the deployment's snapshot (see `create`).
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
                tenant: tenant.map(str::to_string),
            }
            .candidates(),
        );
        let ctx = DeployContext {
            environment: Some(env.to_string()),
            target: Some(t.name.clone()),
            roles: t.roles.clone(),
            step: Some(step.name.clone()),
            channel: Some(release.channel.clone()),
            tenant: tenant.map(str::to_string),
        };
        let resolved = resolve(&cands, &ctx);
        Ok(resolved
            .names()
            .filter_map(|n| resolved.raw(n))
            .map(|v| StepVariable {
                name: v.name.clone(),
                value: v.value.clone(),
                sensitive: v.sensitive,
            })
            .collect())
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) async fn run_on_target(
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
        let (n, id, env, tenant) = match d.lock() {
            Ok(g) => (
                g.number,
                g.id.clone(),
                g.environment.clone(),
                g.tenant.clone(),
            ),
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
        let variables =
            match self.variables_for(release, &env, &id, t, step, prior, tenant.as_deref()) {
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
            tenant,
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
            let mine = domain::model::Scope {
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
