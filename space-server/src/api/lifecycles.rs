//! `space.v1.Lifecycles`: converts and calls [`LifecycleService`].

use proto::space::v1 as pb;
use proto::space::v1::lifecycles_server::Lifecycles;

use super::{Resp, ok, page, token};
use crate::error::ApiError;
use crate::services::lifecycles::LifecycleService;

pub struct LifecyclesApi {
    pub service: LifecycleService,
}

#[tonic::async_trait]
impl Lifecycles for LifecyclesApi {
    async fn create(&self, req: tonic::Request<pb::Lifecycle>) -> Resp<pb::Lifecycle> {
        let l = req.into_inner().try_into().map_err(ApiError::from)?;
        ok(self.service.create(l).await?.into())
    }

    async fn get(&self, req: tonic::Request<pb::ByName>) -> Resp<pb::Lifecycle> {
        let pb::ByName { name } = req.into_inner();
        ok(self.service.get(&name)?.into())
    }

    async fn list(&self, req: tonic::Request<pb::PageRequest>) -> Resp<pb::ListLifecyclesResponse> {
        let l = self.service.list(page(Some(req.into_inner()))?)?;
        ok(pb::ListLifecyclesResponse {
            lifecycles: l.items.into_iter().map(Into::into).collect(),
            next_page_token: token(l.next),
        })
    }

    async fn update(&self, req: tonic::Request<pb::Lifecycle>) -> Resp<pb::Lifecycle> {
        let l = req.into_inner().try_into().map_err(ApiError::from)?;
        ok(self.service.update(l).await?.into())
    }

    async fn delete(&self, req: tonic::Request<pb::ByName>) -> Resp<pb::Empty> {
        let pb::ByName { name } = req.into_inner();
        self.service.delete(&name).await?;
        ok(pb::Empty {})
    }
}
