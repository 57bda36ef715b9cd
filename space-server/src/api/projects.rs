//! `space.v1.Projects` and `space.v1.Channels`: convert and call [`ProjectService`] and
//! [`ChannelService`].

use domain::model::Channel;
use proto::space::v1 as pb;
use proto::space::v1::channels_server::Channels;
use proto::space::v1::projects_server::Projects;

use super::{Resp, ok, page, token};
use crate::error::ApiError;
use crate::services::projects::{ChannelService, ProjectService};

pub struct ProjectsApi {
    pub service: ProjectService,
}

#[tonic::async_trait]
impl Projects for ProjectsApi {
    async fn create(&self, req: tonic::Request<pb::Project>) -> Resp<pb::Project> {
        let p = req.into_inner().try_into().map_err(ApiError::from)?;
        ok(self.service.create(p).await?.into())
    }

    async fn get(&self, req: tonic::Request<pb::ByName>) -> Resp<pb::Project> {
        let pb::ByName { name } = req.into_inner();
        ok(self.service.get(&name)?.into())
    }

    async fn list(&self, req: tonic::Request<pb::PageRequest>) -> Resp<pb::ListProjectsResponse> {
        let l = self.service.list(page(Some(req.into_inner()))?)?;
        ok(pb::ListProjectsResponse {
            projects: l.items.into_iter().map(Into::into).collect(),
            next_page_token: token(l.next),
        })
    }

    async fn update(&self, req: tonic::Request<pb::Project>) -> Resp<pb::Project> {
        let p = req.into_inner().try_into().map_err(ApiError::from)?;
        ok(self.service.update(p).await?.into())
    }

    async fn delete(&self, req: tonic::Request<pb::ByName>) -> Resp<pb::Empty> {
        let pb::ByName { name } = req.into_inner();
        self.service.delete(&name).await?;
        ok(pb::Empty {})
    }
}

pub struct ChannelsApi {
    pub service: ChannelService,
}

#[tonic::async_trait]
impl Channels for ChannelsApi {
    async fn create(&self, req: tonic::Request<pb::Channel>) -> Resp<pb::Channel> {
        let c: Channel = req.into_inner().try_into().map_err(ApiError::from)?;
        ok(self.service.create(c).await?.into())
    }

    async fn get(&self, req: tonic::Request<pb::ProjectScoped>) -> Resp<pb::Channel> {
        let pb::ProjectScoped { project, name } = req.into_inner();
        ok(self.service.get(&project, &name)?.into())
    }

    async fn list(&self, req: tonic::Request<pb::ProjectPage>) -> Resp<pb::ListChannelsResponse> {
        let pb::ProjectPage { project, page: p } = req.into_inner();
        let l = self.service.list(&project, page(p)?)?;
        ok(pb::ListChannelsResponse {
            channels: l.items.into_iter().map(Into::into).collect(),
            next_page_token: token(l.next),
        })
    }

    async fn update(&self, req: tonic::Request<pb::Channel>) -> Resp<pb::Channel> {
        let c: Channel = req.into_inner().try_into().map_err(ApiError::from)?;
        ok(self.service.update(c).await?.into())
    }

    async fn delete(&self, req: tonic::Request<pb::ProjectScoped>) -> Resp<pb::Empty> {
        let pb::ProjectScoped { project, name } = req.into_inner();
        self.service.delete(&project, &name).await?;
        ok(pb::Empty {})
    }
}
