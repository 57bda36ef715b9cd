//! `space.v1.Targets`: converts and calls [`TargetService`].

use domain::model::Target;
use proto::space::v1 as pb;
use proto::space::v1::targets_server::Targets;
use proto::wire::agent::target_to_wire;

use super::{Resp, ok, page, token};
use crate::auth::caller;
use crate::error::ApiError;
use crate::services::access::AccessService;
use crate::services::targets::{DropPassword, TargetService, TargetView};

pub struct TargetsApi {
    pub service: TargetService,
    /// Takes and gives back the uses of agent registration tokens.
    pub access: AccessService,
}

/// The one thing besides registering (and reading the agent endpoint) a registration token
/// might try here: refused.
fn not_registration<T>(req: &tonic::Request<T>) -> Result<(), ApiError> {
    if caller(req).registration {
        return Err(ApiError::PermissionDenied(
            "this is an agent registration token: it can register an agent (agent register) and do nothing else".into(),
        ));
    }
    Ok(())
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
        let who = caller(&req);
        let (t, pw) = input(req.into_inner())?;
        if !who.registration {
            return ok(wire(self.service.create(t, pw).await?));
        }
        if matches!(t.mode, domain::model::AgentMode::OfflineDrop { .. }) {
            return Err(ApiError::PermissionDenied(
                "a registration token registers agents, not offline drop targets".into(),
            )
            .into());
        }
        self.access.take_registration(&who.key_hash).await?;
        match self.service.create(t, pw).await {
            Ok(v) => {
                tracing::info!(target = %v.target.name, token = %&who.key_hash[..who.key_hash.len().min(12)], "agent registered with a registration token");
                ok(wire(v))
            }
            Err(e) => {
                self.access.give_back(&who.key_hash).await;
                Err(e.into())
            }
        }
    }

    async fn get(&self, req: tonic::Request<pb::ByName>) -> Resp<pb::Target> {
        not_registration(&req)?;
        let pb::ByName { name } = req.into_inner();
        ok(wire(self.service.find(&name)?))
    }

    async fn list(
        &self,
        req: tonic::Request<pb::ListTargetsRequest>,
    ) -> Resp<pb::ListTargetsResponse> {
        not_registration(&req)?;
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
        not_registration(&req)?;
        let (t, pw) = input(req.into_inner())?;
        ok(wire(self.service.update(t, pw).await?))
    }

    async fn delete(&self, req: tonic::Request<pb::ByName>) -> Resp<pb::Empty> {
        not_registration(&req)?;
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
