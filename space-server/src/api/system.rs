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
        ok(pb::WhoAmIResponse {
            space_name: self.state.name.clone(),
            api_key_name: caller(&req).name,
            server_version: env!("CARGO_PKG_VERSION").into(),
        })
    }
}
