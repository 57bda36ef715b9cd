//! `space.v1.Projects` and `space.v1.Channels`: convert and call [`ProjectService`] and
//! [`ChannelService`].

use domain::model::Channel;
use domain::project_doc::DocFormat;
use proto::space::v1 as pb;
use proto::space::v1::channels_server::Channels;
use proto::space::v1::projects_server::Projects;

use super::{Resp, ok, page, token};
use crate::error::ApiError;
use crate::permits::{Viewer, may};
use crate::services::project_code::{ApplyOutcome, ProjectCodeService};
use crate::services::projects::{ChannelService, ProjectService};

pub struct ProjectsApi {
    pub service: ProjectService,
    pub code: ProjectCodeService,
}

#[tonic::async_trait]
impl Projects for ProjectsApi {
    async fn create(&self, req: tonic::Request<pb::Project>) -> Resp<pb::Project> {
        may(
            &self.service.state,
            &req,
            domain::access::Permission::EditProject,
            &req.get_ref().name,
        )?;
        let p = req.into_inner().try_into().map_err(ApiError::from)?;
        ok(self.service.create(p).await?.into())
    }

    async fn get(&self, req: tonic::Request<pb::ByName>) -> Resp<pb::Project> {
        Viewer::of(&self.service.state, &req)?.check_project(&req.get_ref().name)?;
        let pb::ByName { name } = req.into_inner();
        ok(self.service.get(&name)?.into())
    }

    async fn list(&self, req: tonic::Request<pb::PageRequest>) -> Resp<pb::ListProjectsResponse> {
        let viewer = Viewer::of(&self.service.state, &req)?;
        let l = self.service.list(page(Some(req.into_inner()))?)?;
        ok(pb::ListProjectsResponse {
            projects: l
                .items
                .into_iter()
                .filter(|p| viewer.sees_project(&p.name))
                .map(Into::into)
                .collect(),
            next_page_token: token(l.next),
        })
    }

    async fn update(&self, req: tonic::Request<pb::Project>) -> Resp<pb::Project> {
        may(
            &self.service.state,
            &req,
            domain::access::Permission::EditProject,
            &req.get_ref().name,
        )?;
        let p = req.into_inner().try_into().map_err(ApiError::from)?;
        ok(self.service.update(p).await?.into())
    }

    async fn delete(&self, req: tonic::Request<pb::ByName>) -> Resp<pb::Empty> {
        may(
            &self.service.state,
            &req,
            domain::access::Permission::EditProject,
            &req.get_ref().name,
        )?;
        let pb::ByName { name } = req.into_inner();
        self.service.delete(&name).await?;
        ok(pb::Empty {})
    }

    async fn export(
        &self,
        req: tonic::Request<pb::ExportProjectRequest>,
    ) -> Resp<pb::ProjectDocument> {
        Viewer::of(&self.service.state, &req)?.check_project(&req.get_ref().name)?;
        let pb::ExportProjectRequest { name, format } = req.into_inner();
        let format = match format.to_ascii_lowercase().as_str() {
            "" | "yaml" | "yml" => DocFormat::Yaml,
            "json" => DocFormat::Json,
            other => {
                return Err(ApiError::Invalid(format!(
                    "unknown document format '{}': use yaml or json",
                    domain::text::clean(other, 20)
                ))
                .into());
            }
        };
        let doc = self.code.export(&name)?;
        ok(pb::ProjectDocument {
            project: doc.project.name.clone(),
            format: if format == DocFormat::Json {
                "json"
            } else {
                "yaml"
            }
            .into(),
            text: doc.render(format),
        })
    }

    async fn apply(
        &self,
        req: tonic::Request<pb::ApplyProjectRequest>,
    ) -> Resp<pb::ApplyProjectResponse> {
        let state = self.service.state.clone();
        let caller = crate::auth::caller(&req);
        let allowed =
            move |out: &ApplyOutcome, dry_run: bool| may_apply(&state, &caller, out, dry_run);
        let pb::ApplyProjectRequest { text, dry_run } = req.into_inner();
        let ApplyOutcome {
            project,
            changes,
            applied,
            notes,
        } = self.code.apply(&text, dry_run, &allowed).await?;
        ok(pb::ApplyProjectResponse {
            project,
            changes: changes
                .into_iter()
                .map(|c| pb::PlannedChange {
                    action: c.action.as_str().into(),
                    kind: c.kind.into(),
                    name: c.name,
                    detail: c.detail,
                })
                .collect(),
            applied,
            notes,
        })
    }
}

/// Whether `caller` may make what a project file plans: the project, its channels and steps
/// need edit-project there; variables and templates edit-variables there in every
/// environment, untenanted (a file sets values for all of them); lifecycles
/// manage-environments. A dry run needs view of the project.
fn may_apply(
    state: &std::sync::Arc<crate::state::SpaceState>,
    caller: &crate::auth::Caller,
    out: &ApplyOutcome,
    dry_run: bool,
) -> Result<(), ApiError> {
    use crate::permits::{require_of, require_scope_of};
    use domain::access::{Need, Permission};
    let project = &out.project;
    if dry_run {
        return require_of(state, caller, Need::in_project(Permission::View, project));
    }
    let mut kinds: Vec<&str> = out.changes.iter().map(|c| c.kind).collect();
    kinds.sort_unstable();
    kinds.dedup();
    for kind in kinds {
        match kind {
            "lifecycle" => require_of(
                state,
                caller,
                Need::anywhere(Permission::ManageEnvironments),
            )?,
            "variable" | "template" => require_scope_of(
                state,
                caller,
                Permission::EditVariables,
                project,
                &domain::model::Scope::default(),
            )?,
            _ => require_of(
                state,
                caller,
                Need::in_project(Permission::EditProject, project),
            )?,
        }
    }
    Ok(())
}

pub struct ChannelsApi {
    pub service: ChannelService,
}

#[tonic::async_trait]
impl Channels for ChannelsApi {
    async fn create(&self, req: tonic::Request<pb::Channel>) -> Resp<pb::Channel> {
        may(
            &self.service.state,
            &req,
            domain::access::Permission::EditProject,
            &req.get_ref().project,
        )?;
        let c: Channel = req.into_inner().try_into().map_err(ApiError::from)?;
        ok(self.service.create(c).await?.into())
    }

    async fn get(&self, req: tonic::Request<pb::ProjectScoped>) -> Resp<pb::Channel> {
        Viewer::of(&self.service.state, &req)?.check_project(&req.get_ref().project)?;
        let pb::ProjectScoped { project, name } = req.into_inner();
        ok(self.service.get(&project, &name)?.into())
    }

    async fn list(&self, req: tonic::Request<pb::ProjectPage>) -> Resp<pb::ListChannelsResponse> {
        Viewer::of(&self.service.state, &req)?.check_project(&req.get_ref().project)?;
        let pb::ProjectPage { project, page: p } = req.into_inner();
        let l = self.service.list(&project, page(p)?)?;
        ok(pb::ListChannelsResponse {
            channels: l.items.into_iter().map(Into::into).collect(),
            next_page_token: token(l.next),
        })
    }

    async fn update(&self, req: tonic::Request<pb::Channel>) -> Resp<pb::Channel> {
        may(
            &self.service.state,
            &req,
            domain::access::Permission::EditProject,
            &req.get_ref().project,
        )?;
        let c: Channel = req.into_inner().try_into().map_err(ApiError::from)?;
        ok(self.service.update(c).await?.into())
    }

    async fn delete(&self, req: tonic::Request<pb::ProjectScoped>) -> Resp<pb::Empty> {
        may(
            &self.service.state,
            &req,
            domain::access::Permission::EditProject,
            &req.get_ref().project,
        )?;
        let pb::ProjectScoped { project, name } = req.into_inner();
        self.service.delete(&project, &name).await?;
        ok(pb::Empty {})
    }
}
