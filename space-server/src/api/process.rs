//! `space.v1.Process`: converts and calls [`ProcessService`].

use proto::space::v1 as pb;
use proto::space::v1::process_server::Process;
use proto::wire::{StepInput, step_to_wire};

use super::{Resp, ok};
use crate::error::ApiError;
use crate::services::process::{PlacedStep, ProcessService};

pub struct ProcessApi {
    pub service: ProcessService,
}

impl ProcessApi {
    /// The caller may change `project` this way (one check, `crate::permits`).
    fn may_edit<T>(
        &self,
        req: &tonic::Request<T>,
        project: &str,
    ) -> Result<(), crate::error::ApiError> {
        let edit = domain::access::Permission::EditProject;
        crate::permits::may(&self.service.state, req, edit, project)
    }

    /// The caller may read `project`'s process.
    fn may_view<T>(&self, req: &tonic::Request<T>, project: &str) -> Result<(), ApiError> {
        crate::permits::Viewer::of(&self.service.state, req)?.check_project(project)
    }
}

fn wire(p: PlacedStep) -> pb::Step {
    let PlacedStep {
        project,
        order,
        step,
    } = p;
    step_to_wire(&project, order, step)
}

#[tonic::async_trait]
impl Process for ProcessApi {
    async fn add_step(&self, req: tonic::Request<pb::Step>) -> Resp<pb::Step> {
        self.may_edit(&req, &req.get_ref().project)?;
        let StepInput {
            project,
            order,
            step,
        } = StepInput::try_from(req.into_inner()).map_err(ApiError::from)?;
        ok(wire(self.service.add_step(&project, order, step).await?))
    }

    async fn get_step(&self, req: tonic::Request<pb::ProjectScoped>) -> Resp<pb::Step> {
        self.may_view(&req, &req.get_ref().project)?;
        let pb::ProjectScoped { project, name } = req.into_inner();
        ok(wire(self.service.get_step(&project, &name)?))
    }

    async fn update_step(&self, req: tonic::Request<pb::Step>) -> Resp<pb::Step> {
        self.may_edit(&req, &req.get_ref().project)?;
        let StepInput {
            project,
            order,
            step,
        } = StepInput::try_from(req.into_inner()).map_err(ApiError::from)?;
        ok(wire(self.service.update_step(&project, order, step).await?))
    }

    async fn delete_step(&self, req: tonic::Request<pb::ProjectScoped>) -> Resp<pb::Empty> {
        self.may_edit(&req, &req.get_ref().project)?;
        let pb::ProjectScoped { project, name } = req.into_inner();
        self.service.delete_step(&project, &name).await?;
        ok(pb::Empty {})
    }

    async fn list(&self, req: tonic::Request<pb::ByName>) -> Resp<pb::ProcessResponse> {
        self.may_view(&req, &req.get_ref().name)?;
        let pb::ByName { name } = req.into_inner();
        let rec = self.service.list(&name)?;
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
