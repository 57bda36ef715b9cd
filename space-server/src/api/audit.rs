//! `space.v1.Audit`: the Space's audit trail, for admin keys.

use proto::space::v1 as pb;
use proto::space::v1::audit_server::Audit;

use super::{Resp, ok};
use crate::audit::{AuditEntry, AuditTrail};
use crate::auth::caller;
use crate::error::ApiError;
use crate::services::access::AccessService;

/// Most entries one list answers.
const MAX_LIST: usize = 10_000;

pub struct AuditApi {
    pub trail: AuditTrail,
    pub access: AccessService,
}

fn wire(e: AuditEntry) -> pb::AuditRecord {
    let AuditEntry {
        index,
        at,
        user,
        key,
        method,
        from,
        outcome,
        code,
        prev_hash: _,
    } = e;
    pb::AuditRecord {
        index,
        at: Some(prost_types::Timestamp {
            seconds: at,
            nanos: 0,
        }),
        user,
        key,
        method,
        from,
        outcome,
        code,
    }
}

#[tonic::async_trait]
impl Audit for AuditApi {
    async fn list(&self, req: tonic::Request<pb::AuditQuery>) -> Resp<pb::AuditList> {
        self.access.admin_only(&caller(&req))?;
        let pb::AuditQuery {
            user,
            method,
            outcome,
            since,
            limit,
        } = req.into_inner();
        let limit = match limit as usize {
            0 => 100,
            n => n.min(MAX_LIST),
        };
        let method = method.to_ascii_lowercase();
        let entries = self
            .trail
            .list(
                |e| {
                    (user.is_empty() || e.user == user)
                        && (method.is_empty() || e.method.to_ascii_lowercase().contains(&method))
                        && (outcome.is_empty() || e.outcome == outcome)
                        && e.at >= since
                },
                limit,
            )
            .map_err(ApiError::from)?;
        ok(pb::AuditList {
            entries: entries.into_iter().map(wire).collect(),
        })
    }

    async fn verify(&self, req: tonic::Request<pb::Empty>) -> Resp<pb::AuditVerification> {
        self.access.admin_only(&caller(&req))?;
        let v = self.trail.verify().map_err(ApiError::from)?;
        let (broken_at, reason) = v.broken.clone().unwrap_or_default();
        ok(pb::AuditVerification {
            entries: v.entries,
            intact: v.broken.is_none(),
            broken_at,
            reason,
        })
    }
}
