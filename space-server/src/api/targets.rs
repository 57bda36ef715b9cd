//! `space.v1.Targets`: converts and calls [`TargetService`].

use domain::model::Target;
use proto::space::v1 as pb;
use proto::space::v1::targets_server::Targets;
use proto::wire::agent::target_to_wire;

use super::{Resp, ok, page, token};
use crate::error::ApiError;
use crate::services::targets::{DropPassword, TargetService, TargetView};

pub struct TargetsApi {
    pub service: TargetService,
}

fn wire(v: TargetView) -> pb::Target {
    let TargetView {
        target,
        connected,
        last_seen,
    } = v;
    target_to_wire(target, connected, last_seen)
}

/// The target and the password fields that are not part of it.
fn input(m: pb::Target) -> Result<(Target, DropPassword), ApiError> {
    let pw = DropPassword {
        new: m.drop_password.clone(),
        clear: m.clear_drop_password,
    };
    Ok((Target::try_from(m)?, pw))
}

#[tonic::async_trait]
impl Targets for TargetsApi {
    async fn create(&self, req: tonic::Request<pb::Target>) -> Resp<pb::Target> {
        let (t, pw) = input(req.into_inner())?;
        ok(wire(self.service.create(t, pw).await?))
    }

    async fn get(&self, req: tonic::Request<pb::ByName>) -> Resp<pb::Target> {
        let pb::ByName { name } = req.into_inner();
        ok(wire(self.service.find(&name)?))
    }

    async fn list(
        &self,
        req: tonic::Request<pb::ListTargetsRequest>,
    ) -> Resp<pb::ListTargetsResponse> {
        let pb::ListTargetsRequest {
            environment,
            page: p,
        } = req.into_inner();
        let l = self.service.list(&environment, page(p)?)?;
        ok(pb::ListTargetsResponse {
            targets: l.items.into_iter().map(wire).collect(),
            next_page_token: token(l.next),
        })
    }

    async fn update(&self, req: tonic::Request<pb::Target>) -> Resp<pb::Target> {
        let (t, pw) = input(req.into_inner())?;
        ok(wire(self.service.update(t, pw).await?))
    }

    async fn delete(&self, req: tonic::Request<pb::ByName>) -> Resp<pb::Empty> {
        let pb::ByName { name } = req.into_inner();
        self.service.delete(&name).await?;
        ok(pb::Empty {})
    }

    async fn agent_endpoint(&self, _req: tonic::Request<pb::Empty>) -> Resp<pb::AgentEndpointInfo> {
        let (address, fingerprint) = self.service.agent_endpoint()?;
        ok(pb::AgentEndpointInfo {
            address,
            fingerprint,
        })
    }
}
