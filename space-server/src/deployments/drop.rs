//! Offline drop targets in a deployment: their drops are written instead of running steps
//! (every step matching the target, in order, with its resolved variables and package), and
//! the results operators bring back are recorded as operator-reported.
//!
//! The runner copied into each drop is the `deploy` binary: `SPACE_DROP_RUNNER` if set, else
//! the `deploy` next to the running `space-server` executable.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use domain::model::{
    AgentMode, Deployment, DropWritten, OperatorReport, Release, ReportedStep, RunState, Step,
    Target,
};
use exec::drop::{
    DropPlan, DropReceipt, DropSigner, PlannedStep, SecretString, parse_receipt, sha256_hex,
    write_drop,
};
use package_store::PackageManifest;
use storage::Batch;

use super::engine::Engine;
use super::run::Shared;
use crate::error::{ApiError, ApiResult};

/// Overrides where the runner binary copied into drops comes from.
pub const RUNNER_ENV: &str = "SPACE_DROP_RUNNER";

fn runner_path() -> Result<PathBuf, String> {
    let p = match std::env::var_os(RUNNER_ENV) {
        Some(p) => PathBuf::from(p),
        None => std::env::current_exe()
            .map_err(|e| format!("cannot locate the space-server executable: {e}"))?
            .with_file_name(format!("deploy{}", std::env::consts::EXE_SUFFIX)),
    };
    if !p.is_file() {
        return Err(format!(
            "the offline drop runner '{}' does not exist: install the deploy binary next to space-server or set {RUNNER_ENV}",
            p.display()
        ));
    }
    Ok(p)
}

/// The worst state operators reported for a deployment's drops, if any reported.
pub fn reported_state(d: &Deployment) -> Option<RunState> {
    let states: Vec<RunState> = d
        .drops
        .iter()
        .filter_map(|x| x.report.as_ref().map(|r| r.state))
        .collect();
    [RunState::Failed, RunState::Cancelled, RunState::Success]
        .into_iter()
        .find(|s| states.contains(s))
        .or(states.first().copied())
}

impl Engine {
    fn pinned_package(
        &self,
        release: &Release,
        step: &Step,
    ) -> Result<Option<PackageManifest>, String> {
        if step.action.package_id().is_none() {
            return Ok(None);
        }
        let p = release
            .packages
            .iter()
            .find(|p| p.step.eq_ignore_ascii_case(&step.name))
            .ok_or_else(|| format!("the release pins no package for step '{}'", step.name))?;
        let m = self
            .state
            .package(&p.id, &p.version)
            .map_err(|e| format!("the release's package is not in the feed: {e}"))?;
        if m.sha256 != p.sha256 {
            return Err(format!(
                "package {} {} in the feed no longer matches the release's SHA-256",
                m.id, m.version
            ));
        }
        Ok(Some(m))
    }

    /// Writes the drop of every offline drop target that a step matches. Returns target name
    /// -> drop folder; the first failure fails the deployment (its message says why).
    pub(super) async fn write_drops(
        self: &Arc<Self>,
        d: &Shared,
        release: &Release,
        steps: &[Step],
        targets: &[Target],
    ) -> Result<HashMap<String, String>, String> {
        let (n, id, env, tenant) = match d.lock() {
            Ok(g) => (
                g.number,
                g.id.clone(),
                g.environment.clone(),
                g.tenant.clone(),
            ),
            Err(_) => return Err("deployment state unavailable".into()),
        };
        let mut out = HashMap::new();
        for t in targets {
            let AgentMode::OfflineDrop {
                drop_folder,
                applications_dir,
                working_dir,
                password,
            } = &t.mode
            else {
                continue;
            };
            let fail = |msg: String| {
                self.log(n, "", &t.name, "warn", &msg);
                tracing::warn!(deployment = %id, target = %t.name, error = %msg, "offline drop not written");
                msg
            };
            let mut planned = Vec::new();
            for s in steps.iter().filter(|s| t.matches(&env, &s.roles)) {
                let variables = self
                    .variables_for(release, &env, &id, t, s, Vec::new(), tenant.as_deref())
                    .map_err(|e| {
                        fail(format!(
                            "cannot prepare the variables of step '{}': {e}",
                            s.name
                        ))
                    })?;
                let package = self.pinned_package(release, s).map_err(fail)?;
                planned.push(PlannedStep {
                    step: s.clone(),
                    variables,
                    package,
                });
            }
            if planned.is_empty() {
                continue;
            }
            let plan = DropPlan {
                space: self.state.name.clone(),
                deployment_id: id.clone(),
                project: release.project.clone(),
                release: release.version.clone(),
                environment: env.clone(),
                channel: release.channel.clone(),
                target: t.name.clone(),
                applications_dir: applications_dir.clone(),
                working_dir: working_dir.clone(),
                created_at: domain::model::now(),
                tenant: tenant.clone(),
                steps: planned,
            };
            let password = match (plan.has_sensitive(), password) {
                (true, None) => {
                    return Err(fail(format!(
                        "project '{}' has sensitive variables but drop target '{}' has no sensitive-variables password: set one with deploy target update-drop '{}' --password-stdin",
                        release.project, t.name, t.name
                    )));
                }
                (true, Some(sealed)) => Some(SecretString::from(
                    self.state
                        .master
                        .open(sealed, &Target::drop_password_context(&t.name))
                        .map_err(|e| {
                            fail(format!("cannot open the drop target's password: {e}"))
                        })?,
                )),
                (false, _) => None,
            };
            let runner = runner_path().map_err(fail)?;
            self.log(
                n,
                "",
                &t.name,
                "info",
                &format!(
                    "Writing the offline drop for {} ({} step(s)) into {drop_folder}",
                    t.name,
                    plan.steps.len()
                ),
            );
            let (chunks, folder) = (self.state.chunks.clone(), PathBuf::from(drop_folder));
            let identity = self.state.identity.clone();
            let space = self.state.name.clone();
            let fingerprint = identity.fingerprint().map_err(|e| fail(e.to_string()))?;
            let w = tokio::task::spawn_blocking(move || {
                // Signed with the key of the API certificate every `deploy` context pins.
                let sign = |m: &[u8]| {
                    net::pki::sign_with_key(&identity.key_pem, m).map_err(|e| e.to_string())
                };
                let signer = DropSigner {
                    space,
                    certificate_pem: identity.cert_pem.clone(),
                    fingerprint,
                    sign: &sign,
                };
                write_drop(&plan, &folder, &runner, password.as_ref(), &chunks, &signer)
            })
            .await
            .map_err(|e| fail(format!("the drop writer crashed: {e}")))?
            .map_err(|e| {
                fail(format!(
                    "cannot write the offline drop for '{}': {e}",
                    t.name
                ))
            })?;
            let folder = w.folder.display().to_string();
            self.log(
                n,
                "",
                &t.name,
                "info",
                &format!(
                    "Offline drop written: {folder}, signed by this Space's certificate {fp} (manifest sha256:{m}, runner sha256:{r}); run it there with an installed deploy: deploy drop run DIR --space-fingerprint {fp}",
                    m = w.manifest_sha256.trim_start_matches("sha256:"),
                    r = w.runner_sha256,
                    fp = self.state.identity.fingerprint().unwrap_or_default(),
                ),
            );
            tracing::info!(deployment = %id, target = %t.name, folder = %folder, manifest_sha256 = %w.manifest_sha256, "offline drop written");
            self.update(d, |d| {
                d.drops.push(DropWritten {
                    target: t.name.clone(),
                    folder: folder.clone(),
                    manifest_sha256: w.manifest_sha256.clone(),
                    report: None,
                })
            });
            out.insert(t.name.clone(), folder);
        }
        Ok(out)
    }

    /// Records a step as done on a drop target: it is in the drop, to be run there.
    pub(super) fn drop_written(
        &self,
        d: &Shared,
        i: usize,
        j: usize,
        step: &str,
        target: &str,
        folder: &str,
    ) {
        if let Ok(n) = d.lock().map(|g| g.number) {
            self.log(
                n,
                step,
                target,
                "info",
                &format!("Step '{step}' is in the offline drop for {target}"),
            );
        }
        self.update(d, |d| {
            let r = &mut d.steps[i].targets[j];
            r.state = RunState::Success;
            r.installed_to = Some(folder.to_string());
        });
    }

    /// Records an operator-reported drop result on its deployment. Returns the deployment and
    /// whether anything changed (importing the same file again changes nothing).
    pub async fn import_drop_result(
        &self,
        bytes: &[u8],
        who: &str,
        allowed: &(dyn Fn(&Deployment) -> ApiResult<()> + Sync),
    ) -> ApiResult<(Deployment, bool)> {
        let r = parse_receipt(bytes).map_err(|e| ApiError::Invalid(e.to_string()))?;
        let receipt_sha256 = sha256_hex(bytes);
        let (d, changed) = self
            .state
            .commit_guarded(|| {
                allowed(&self.get(&r.deployment_id)?)?;
                self.drop_result_plan(r.clone(), &receipt_sha256, who)
            })
            .await?;
        if changed {
            tracing::info!(deployment = %d.id, target = %r.target, state = r.state.as_str(), by = %who, "operator-reported drop result imported");
            self.state.changed();
        }
        Ok((d, changed))
    }

    /// What importing the drop result `r` changes (the deployment with its report).
    fn drop_result_plan(
        &self,
        r: DropReceipt,
        receipt_sha256: &str,
        who: &str,
    ) -> ApiResult<(Batch, (Deployment, bool))> {
        let mut d = self.get(&r.deployment_id)?;
        let refuse = |why: String| Err(ApiError::Precondition(format!("result refused: {why}")));
        if !r.space.eq_ignore_ascii_case(&self.state.name) {
            return refuse(format!(
                "it comes from a drop of Space '{}', this is '{}'",
                r.space, self.state.name
            ));
        }
        if !d.project.eq_ignore_ascii_case(&r.project)
            || d.version != r.release
            || !d.environment.eq_ignore_ascii_case(&r.environment)
        {
            return refuse(format!(
                "it is for {} {} to {}, but {} deployed {} {} to {}",
                r.project, r.release, r.environment, d.id, d.project, d.version, d.environment
            ));
        }
        if !d.state.is_final() {
            return refuse(format!("{} is still {}", d.id, d.state.as_str()));
        }
        let id = d.id.clone();
        let Some(x) = d
            .drops
            .iter_mut()
            .find(|x| x.target.eq_ignore_ascii_case(&r.target))
        else {
            return refuse(format!(
                "'{}' is not an offline drop target of {id}",
                r.target
            ));
        };
        if x.manifest_sha256 != r.drop_manifest_sha256 {
            return refuse(format!(
                "it names drop manifest {} but this Space wrote {} for '{}' in {id}",
                r.drop_manifest_sha256, x.manifest_sha256, x.target
            ));
        }
        if x.report
            .as_ref()
            .is_some_and(|p| p.receipt_sha256 == receipt_sha256)
        {
            return Ok((Batch::new(), (d, false)));
        }
        x.report = Some(OperatorReport {
            state: r.state,
            started_at: Some(r.started_at),
            finished_at: Some(r.finished_at),
            steps: r
                .steps
                .into_iter()
                .map(|s| ReportedStep {
                    name: s.name,
                    state: s.state,
                    exit_code: s.exit_code,
                    error: s.error,
                })
                .collect(),
            imported_at: domain::model::now(),
            imported_by: who.to_string(),
            receipt_sha256: receipt_sha256.to_string(),
        });
        let mut b = Batch::new();
        b.put_record(&d)?;
        Ok((b, (d, true)))
    }
}
