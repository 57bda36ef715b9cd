//! `space.v1.System`: who am I talking to, as whom.

use std::sync::Arc;

use proto::space::v1 as pb;
use proto::space::v1::system_server::System;

use super::{Resp, ok};
use crate::auth::caller;
use crate::state::SpaceState;

pub struct SystemApi {
    pub state: Arc<SpaceState>,
}

#[tonic::async_trait]
impl System for SystemApi {
    async fn who_am_i(&self, req: tonic::Request<pb::Empty>) -> Resp<pb::WhoAmIResponse> {
        let c = caller(&req);
        let permissions = crate::services::access::AccessService {
            state: self.state.clone(),
        }
        .grants_of(&c)?;
        ok(pb::WhoAmIResponse {
            space_name: self.state.name.clone(),
            api_key_name: c.key_name,
            server_version: env!("CARGO_PKG_VERSION").into(),
            user: c.name,
            admin: c.admin,
            key_expires_at: c
                .expires_at
                .map(|seconds| prost_types::Timestamp { seconds, nanos: 0 }),
            permissions,
        })
    }
}
