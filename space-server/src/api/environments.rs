//! `space.v1.Environments`: converts and calls [`EnvironmentService`].

use proto::space::v1 as pb;
use proto::space::v1::environments_server::Environments;

use super::{Resp, ok, page, token};
use crate::error::ApiError;
use crate::services::environments::EnvironmentService;

pub struct EnvironmentsApi {
    pub service: EnvironmentService,
}

#[tonic::async_trait]
impl Environments for EnvironmentsApi {
    async fn create(&self, req: tonic::Request<pb::Environment>) -> Resp<pb::Environment> {
        let env = req.into_inner().try_into().map_err(ApiError::from)?;
        ok(self.service.create(env).await?.into())
    }

    async fn get(&self, req: tonic::Request<pb::ByName>) -> Resp<pb::Environment> {
        let pb::ByName { name } = req.into_inner();
        ok(self.service.get(&name)?.into())
    }

    async fn list(
        &self,
        req: tonic::Request<pb::PageRequest>,
    ) -> Resp<pb::ListEnvironmentsResponse> {
        let l = self.service.list(page(Some(req.into_inner()))?)?;
        ok(pb::ListEnvironmentsResponse {
            environments: l.items.into_iter().map(Into::into).collect(),
            next_page_token: token(l.next),
        })
    }

    async fn update(&self, req: tonic::Request<pb::Environment>) -> Resp<pb::Environment> {
        let env = req.into_inner().try_into().map_err(ApiError::from)?;
        ok(self.service.update(env).await?.into())
    }

    async fn delete(&self, req: tonic::Request<pb::ByName>) -> Resp<pb::Empty> {
        let pb::ByName { name } = req.into_inner();
        self.service.delete(&name).await?;
        ok(pb::Empty {})
    }
}
