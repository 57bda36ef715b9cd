//! `space.v1.Process`: the ordered steps of a project's deployment process.

use std::sync::Arc;

use domain::model::Step;
use proto::space::v1 as pb;
use proto::space::v1::process_server::Process;
use proto::wire::{StepInput, step_to_wire};
use storage::records::ProcessRecord;
use storage::{Batch, StoreExt, key_of};

use super::{Resp, check_name, ok};
use crate::error::{ApiError, ApiResult};
use crate::state::SpaceState;

pub struct ProcessApi(pub Arc<SpaceState>);

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

impl ProcessApi {
    fn validate(&self, project: &str, s: &Step) -> ApiResult<()> {
        check_name("step", &s.name)?;
        for e in &s.environments {
            self.0.environment(e).map_err(|_| {
                ApiError::Invalid(format!(
                    "step '{}' is scoped to environment '{e}', which does not exist",
                    s.name
                ))
            })?;
        }
        for c in &s.channels {
            self.0.channel(project, c).map_err(|_| {
                ApiError::Invalid(format!(
                    "step '{}' is scoped to channel '{c}', which project '{project}' does not have",
                    s.name
                ))
            })?;
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

    async fn save(&self, rec: &ProcessRecord) -> ApiResult<()> {
        let mut b = Batch::new();
        b.put_record(rec)?;
        self.0.commit(b).await?;
        Ok(())
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

#[tonic::async_trait]
impl Process for ProcessApi {
    async fn add_step(&self, req: tonic::Request<pb::Step>) -> Resp<pb::Step> {
        let StepInput {
            project,
            order,
            step,
        } = StepInput::try_from(req.into_inner()).map_err(ApiError::from)?;
        let _g = self.0.write_lock.lock().await;
        self.0.editable_project(&project, "deployment process")?;
        let mut rec = self.0.process(&project)?;
        self.validate(&rec.project, &step)?;
        if Self::find(&rec, &step.name).is_ok() {
            return Err(ApiError::exists("step", format!("{}/{}", rec.project, step.name)).into());
        }
        let at = place(&mut rec.process.steps, step.clone(), order);
        self.save(&rec).await?;
        tracing::info!(project = %rec.project, step = %step.name, order = at, "step added");
        ok(step_to_wire(&rec.project, at, step))
    }

    async fn get_step(&self, req: tonic::Request<pb::ProjectScoped>) -> Resp<pb::Step> {
        let pb::ProjectScoped { project, name } = req.into_inner();
        let rec = self.0.process(&project)?;
        let i = Self::find(&rec, &name)?;
        ok(step_to_wire(
            &rec.project,
            i as u32 + 1,
            rec.process.steps[i].clone(),
        ))
    }

    async fn update_step(&self, req: tonic::Request<pb::Step>) -> Resp<pb::Step> {
        let StepInput {
            project,
            order,
            step,
        } = StepInput::try_from(req.into_inner()).map_err(ApiError::from)?;
        let _g = self.0.write_lock.lock().await;
        self.0.editable_project(&project, "deployment process")?;
        let mut rec = self.0.process(&project)?;
        let i = Self::find(&rec, &step.name)?;
        self.validate(&rec.project, &step)?;
        let old = rec.process.steps.remove(i);
        let step = Step {
            name: old.name,
            ..step
        };
        let at = place(
            &mut rec.process.steps,
            step.clone(),
            order.or(Some(i as u32 + 1)),
        );
        self.save(&rec).await?;
        ok(step_to_wire(&rec.project, at, step))
    }

    async fn delete_step(&self, req: tonic::Request<pb::ProjectScoped>) -> Resp<pb::Empty> {
        let pb::ProjectScoped { project, name } = req.into_inner();
        let _g = self.0.write_lock.lock().await;
        self.0.editable_project(&project, "deployment process")?;
        let mut rec = self.0.process(&project)?;
        let i = Self::find(&rec, &name)?;
        rec.process.steps.remove(i);
        self.save(&rec).await?;
        ok(pb::Empty {})
    }

    async fn list(&self, req: tonic::Request<pb::ByName>) -> Resp<pb::ProcessResponse> {
        let rec = self.0.process(&req.into_inner().name)?;
        ok(pb::ProcessResponse {
            steps: rec
                .process
                .steps
                .into_iter()
                .enumerate()
                .map(|(i, s)| step_to_wire(&rec.project, i as u32 + 1, s))
                .collect(),
        })
    }
}
