//! `space.v1.Variables`: converts and calls [`VariableService`].

use domain::model::VariableTemplate;
use proto::space::v1 as pb;
use proto::space::v1::variables_server::Variables;
use proto::wire::{VariableInput, template_to_wire, variable_to_wire};

use super::{Resp, ok, page, token};
use crate::error::ApiError;
use crate::services::variables::{SetOutcome, VariableService};

pub struct VariablesApi {
    pub service: VariableService,
}

#[tonic::async_trait]
impl Variables for VariablesApi {
    async fn set(&self, req: tonic::Request<pb::Variable>) -> Resp<pb::SetVariableResponse> {
        let input = VariableInput::try_from(req.into_inner()).map_err(ApiError::from)?;
        let SetOutcome {
            project,
            variable,
            replaced,
            notes,
        } = self.service.set(input).await?;
        ok(pb::SetVariableResponse {
            variable: Some(variable_to_wire(&project, variable)),
            replaced,
            notes,
        })
    }

    async fn set_many(&self, req: tonic::Request<pb::VariableBatch>) -> Resp<pb::VariableList> {
        let pb::VariableBatch { project, variables } = req.into_inner();
        let inputs = variables
            .into_iter()
            .map(|m| {
                VariableInput::try_from(pb::Variable {
                    project: project.clone(),
                    ..m
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(ApiError::from)?;
        let (project, vars) = self.service.set_many(&project, inputs).await?;
        ok(pb::VariableList {
            variables: vars
                .into_iter()
                .map(|v| variable_to_wire(&project, v))
                .collect(),
            next_page_token: String::new(),
        })
    }

    async fn list(&self, req: tonic::Request<pb::ProjectPage>) -> Resp<pb::VariableList> {
        let pb::ProjectPage { project, page: p } = req.into_inner();
        let (project, l) = self.service.list(&project, page(p)?)?;
        ok(pb::VariableList {
            variables: l
                .items
                .into_iter()
                .map(|v| variable_to_wire(&project, v))
                .collect(),
            next_page_token: token(l.next),
        })
    }

    async fn delete(&self, req: tonic::Request<pb::VariableId>) -> Resp<pb::Empty> {
        let pb::VariableId { project, id } = req.into_inner();
        self.service.delete(&project, &id).await?;
        ok(pb::Empty {})
    }

    async fn set_template(
        &self,
        req: tonic::Request<pb::VariableTemplate>,
    ) -> Resp<pb::VariableTemplate> {
        let m = req.into_inner();
        let project = m.project.clone();
        let t = VariableTemplate::try_from(m).map_err(ApiError::from)?;
        let (project, t) = self.service.set_template(&project, t).await?;
        ok(template_to_wire(&project, t))
    }

    async fn list_templates(&self, req: tonic::Request<pb::ByName>) -> Resp<pb::TemplateList> {
        let pb::ByName { name } = req.into_inner();
        let (project, templates) = self.service.list_templates(&name)?;
        ok(pb::TemplateList {
            templates: templates
                .into_iter()
                .map(|t| template_to_wire(&project, t))
                .collect(),
        })
    }

    async fn delete_template(&self, req: tonic::Request<pb::ProjectScoped>) -> Resp<pb::Empty> {
        let pb::ProjectScoped { project, name } = req.into_inner();
        self.service.delete_template(&project, &name).await?;
        ok(pb::Empty {})
    }
}
