//! `space.v1.Variables`: converts and calls [`VariableService`].

use domain::model::VariableTemplate;
use proto::space::v1 as pb;
use proto::space::v1::variables_server::Variables;
use proto::wire::{VariableInput, template_to_wire, variable_to_wire};

use super::{Resp, ok, page, token};
use crate::error::ApiError;
use crate::services::variable_preview::PreviewContext;
use crate::services::variables::{SetOutcome, VariableService};
use domain::variables::template::Mode;

pub struct VariablesApi {
    pub service: VariableService,
}

impl VariablesApi {
    /// The caller may change `project`'s variables (one check, `crate::permits`).
    fn may_edit<T>(&self, req: &tonic::Request<T>, project: &str) -> Result<(), ApiError> {
        let edit = domain::access::Permission::EditVariables;
        crate::permits::may(&self.service.state, req, edit, project)
    }

    /// The caller may change a value of `project` with this scope (its environments and
    /// tenants, see `crate::permits::require_for_scope`).
    fn may_edit_scope<T>(
        &self,
        req: &tonic::Request<T>,
        project: &str,
        scope: &domain::model::Scope,
    ) -> Result<(), ApiError> {
        let edit = domain::access::Permission::EditVariables;
        crate::permits::require_for_scope(&self.service.state, req, edit, project, scope)
    }

    /// The caller may read `project`'s variables.
    fn may_view<T>(&self, req: &tonic::Request<T>, project: &str) -> Result<(), ApiError> {
        crate::permits::Viewer::of(&self.service.state, req)?.check_project(project)
    }
}

/// The scope a variable message asks for (what the permission check looks at).
fn scope_of(v: &pb::Variable) -> domain::model::Scope {
    v.scope.clone().map(Into::into).unwrap_or_default()
}

fn context(c: Option<pb::VariableContext>) -> PreviewContext {
    let pb::VariableContext {
        project,
        environment,
        roles,
        target,
        step,
        channel,
        tenant,
        release,
    } = c.unwrap_or_default();
    PreviewContext {
        project,
        environment,
        roles,
        target,
        step,
        channel,
        tenant,
        release,
    }
}

#[tonic::async_trait]
impl Variables for VariablesApi {
    async fn preview(
        &self,
        req: tonic::Request<pb::VariableContext>,
    ) -> Resp<pb::PreviewVariablesResponse> {
        self.may_view(&req, &req.get_ref().project)?;
        let c = context(Some(req.into_inner()));
        let variables = self
            .service
            .preview(&c)?
            .into_iter()
            .map(|v| pb::PreviewedVariable {
                name: v.name,
                value: v.value,
                sensitive: v.sensitive,
                error: v.error.unwrap_or_default(),
            })
            .collect();
        ok(pb::PreviewVariablesResponse { variables })
    }

    async fn evaluate(
        &self,
        req: tonic::Request<pb::EvaluateTemplateRequest>,
    ) -> Resp<pb::EvaluateTemplateResponse> {
        let project = req.get_ref().context.as_ref().map(|c| c.project.clone());
        self.may_view(&req, &project.unwrap_or_default())?;
        let pb::EvaluateTemplateRequest {
            context: c,
            template,
            mode,
        } = req.into_inner();
        let mode = match mode.to_ascii_lowercase().as_str() {
            "" => None,
            "strict" => Some(Mode::Strict),
            "compatible" => Some(Mode::Compatible),
            other => {
                return Err(ApiError::Invalid(format!(
                    "unknown template mode '{}': use strict or compatible",
                    domain::text::clean(other, 20)
                ))
                .into());
            }
        };
        let (e, mode) = self.service.evaluate(&context(c), &template, mode)?;
        ok(pb::EvaluateTemplateResponse {
            text: e.text,
            warnings: e.warnings,
            mode: match mode {
                Mode::Strict => "strict",
                Mode::Compatible => "compatible",
            }
            .into(),
        })
    }

    async fn set(&self, req: tonic::Request<pb::Variable>) -> Resp<pb::SetVariableResponse> {
        let scope = scope_of(req.get_ref());
        self.may_edit_scope(&req, &req.get_ref().project, &scope)?;
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
        for v in &req.get_ref().variables {
            self.may_edit_scope(&req, &req.get_ref().project, &scope_of(v))?;
        }
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
        self.may_view(&req, &req.get_ref().project)?;
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
        let pb::VariableId { project, id } = req.get_ref();
        let set = self.service.state.variable_set(project)?;
        let scope = set
            .variables
            .iter()
            .find(|v| &v.id == id)
            .map(|v| v.scope.clone());
        self.may_edit_scope(&req, project, &scope.unwrap_or_default())?;
        let pb::VariableId { project, id } = req.into_inner();
        self.service.delete(&project, &id).await?;
        ok(pb::Empty {})
    }

    async fn set_template(
        &self,
        req: tonic::Request<pb::VariableTemplate>,
    ) -> Resp<pb::VariableTemplate> {
        self.may_edit(&req, &req.get_ref().project)?;
        let m = req.into_inner();
        let project = m.project.clone();
        let t = VariableTemplate::try_from(m).map_err(ApiError::from)?;
        let (project, t) = self.service.set_template(&project, t).await?;
        ok(template_to_wire(&project, t))
    }

    async fn list_templates(&self, req: tonic::Request<pb::ByName>) -> Resp<pb::TemplateList> {
        self.may_view(&req, &req.get_ref().name)?;
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
        self.may_edit(&req, &req.get_ref().project)?;
        let pb::ProjectScoped { project, name } = req.into_inner();
        self.service.delete_template(&project, &name).await?;
        ok(pb::Empty {})
    }
}
