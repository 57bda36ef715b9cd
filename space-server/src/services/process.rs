//! A project's deployment process: its ordered steps. A Remote Project's process comes from
//! its Release Bundles and is read-only here.

use std::sync::Arc;

use domain::model::{Project, Step};
use storage::records::ProcessRecord;
use storage::{StoreExt, TxExt, key_of};

use super::check_name;
use crate::error::{ApiError, ApiResult};
use crate::state::{SpaceState, editable};

pub struct ProcessService {
    pub state: Arc<SpaceState>,
}

/// A step and its place (1-based) in its project's process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacedStep {
    pub project: String,
    pub order: u32,
    pub step: Step,
}

impl SpaceState {
    pub fn process(&self, project: &str) -> ApiResult<ProcessRecord> {
        let p = self.project(project)?;
        Ok(self
            .store
            .get_record::<ProcessRecord>(&key_of(&[&p.name]))?
            .unwrap_or(ProcessRecord {
                project: p.name,
                process: Default::default(),
            }))
    }
}

impl ProcessService {
    fn validate(&self, project: &str, s: &Step) -> ApiResult<()> {
        self.check_step(project, s, &|c| self.state.channel(project, c).is_ok())
    }

    /// The rules of one step, with the project's channels given by `has_channel` (a project
    /// being applied from a file has its channels in the file).
    pub(crate) fn check_step(
        &self,
        project: &str,
        s: &Step,
        has_channel: &dyn Fn(&str) -> bool,
    ) -> ApiResult<()> {
        check_name("step", &s.name)?;
        if let domain::model::StepAction::RunScript {
            source: domain::model::ScriptSource::Inline(body),
            ..
        } = &s.action
        {
            crate::limits::check(
                &format!("the script of step '{}'", s.name),
                body.len(),
                self.state.limits().script_bytes,
                "script_bytes",
            )?;
        }
        for e in &s.environments {
            self.state.environment(e).map_err(|_| {
                ApiError::Invalid(format!(
                    "step '{}' is scoped to environment '{e}', which does not exist",
                    s.name
                ))
            })?;
        }
        for c in &s.channels {
            if !has_channel(c) {
                return Err(ApiError::Invalid(format!(
                    "step '{}' is scoped to channel '{c}', which project '{project}' does not have",
                    s.name
                )));
            }
        }
        if let Some(id) = s.action.package_id() {
            package_store::validate_id(id)?;
        }
        Ok(())
    }

    fn find(rec: &ProcessRecord, name: &str) -> ApiResult<usize> {
        rec.process
            .steps
            .iter()
            .position(|s| s.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| ApiError::not_found("step", format!("{}/{name}", rec.project)))
    }

    /// Changes the project's process in one transaction (no write lock): the project is read
    /// in it too, so a project deleted or imported meanwhile is noticed, not resurrected.
    async fn change<T: Send + 'static>(
        &self,
        project: &str,
        mut f: impl FnMut(&mut ProcessRecord) -> ApiResult<T> + Send + 'static,
    ) -> ApiResult<(String, T)> {
        let name = project.to_string();
        let max = self.state.limits().process_bytes;
        self.state
            .transaction(move |tx| {
                let p: Project = tx
                    .get_record(&key_of(&[&name]))?
                    .ok_or_else(|| ApiError::not_found("project", &name))?;
                let p = editable(p, "deployment process")?;
                let mut rec = tx
                    .get_record::<ProcessRecord>(&key_of(&[&p.name]))?
                    .unwrap_or(ProcessRecord {
                        project: p.name.clone(),
                        process: Default::default(),
                    });
                let out = f(&mut rec)?;
                let bytes = storage::encode(&rec)?.len();
                crate::limits::check(
                    &format!("the deployment process of '{}'", rec.project),
                    bytes,
                    max,
                    "process_bytes",
                )?;
                tx.put_record(&rec)?;
                Ok((p.name, out))
            })
            .await
    }
}

fn place(steps: &mut Vec<Step>, step: Step, order: Option<u32>) -> u32 {
    let idx = match order {
        Some(o) => (o as usize).saturating_sub(1).min(steps.len()),
        None => steps.len(),
    };
    steps.insert(idx, step);
    idx as u32 + 1
}

impl ProcessService {
    /// Adds a step at `order` (1-based; at the end when `None`).
    pub async fn add_step(
        &self,
        project: &str,
        order: Option<u32>,
        step: Step,
    ) -> ApiResult<PlacedStep> {
        let p = self.state.editable_project(project, "deployment process")?;
        self.validate(&p.name, &step)?;
        let s = step.clone();
        let (project, at) = self
            .change(project, move |rec| {
                if Self::find(rec, &s.name).is_ok() {
                    return Err(ApiError::exists(
                        "step",
                        format!("{}/{}", rec.project, s.name),
                    ));
                }
                Ok(place(&mut rec.process.steps, s.clone(), order))
            })
            .await?;
        tracing::info!(project = %project, step = %step.name, order = at, "step added");
        Ok(PlacedStep {
            project,
            order: at,
            step,
        })
    }

    pub fn get_step(&self, project: &str, name: &str) -> ApiResult<PlacedStep> {
        let rec = self.state.process(project)?;
        let i = Self::find(&rec, name)?;
        Ok(PlacedStep {
            order: i as u32 + 1,
            step: rec.process.steps[i].clone(),
            project: rec.project,
        })
    }

    /// Replaces a step (its name stays), moving it to `order` when given.
    pub async fn update_step(
        &self,
        project: &str,
        order: Option<u32>,
        step: Step,
    ) -> ApiResult<PlacedStep> {
        let p = self.state.editable_project(project, "deployment process")?;
        self.validate(&p.name, &step)?;
        let (project, (at, step)) = self
            .change(project, move |rec| {
                let i = Self::find(rec, &step.name)?;
                let old = rec.process.steps.remove(i);
                let step = Step {
                    name: old.name,
                    ..step.clone()
                };
                let at = place(
                    &mut rec.process.steps,
                    step.clone(),
                    order.or(Some(i as u32 + 1)),
                );
                Ok((at, step))
            })
            .await?;
        Ok(PlacedStep {
            project,
            order: at,
            step,
        })
    }

    pub async fn delete_step(&self, project: &str, name: &str) -> ApiResult<()> {
        let name = name.to_string();
        self.change(project, move |rec| {
            let i = Self::find(rec, &name)?;
            rec.process.steps.remove(i);
            Ok(())
        })
        .await
        .map(|_| ())
    }

    pub fn list(&self, project: &str) -> ApiResult<ProcessRecord> {
        self.state.process(project)
    }
}
