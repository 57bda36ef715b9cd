//! `space.v1.Peers` (API key, like the rest of the Space API): this Space's ODCM identity and
//! trust set, the audit checkpoint it holds, and calls to a named peer over mutual TLS.

use domain::error::ErrorCode;
use runtime::status::refuse;
use std::sync::Arc;

use proto::odcm::v1 as odcm_pb;
use proto::space::v1 as pb;
use tonic::{Request, Response, Status};

use super::Peering;

pub struct PeersApi {
    pub peering: Option<Arc<Peering>>,
    /// For each peer's last contact.
    pub state: Arc<crate::state::SpaceState>,
}

impl PeersApi {
    fn peering(&self) -> Result<&Arc<Peering>, Status> {
        self.peering.as_ref().ok_or_else(|| {
            refuse(ErrorCode::FailedPrecondition,
                "this Space is not enrolled with an ODCM: start it once with --odcm-url, --odcm-fingerprint and --enrolment-token (from `deploy odcm space create`)",
            )
        })
    }
}

/// "Prod accepts releases from DevTest".
pub fn trust_line(t: &odcm_pb::Trust) -> String {
    let what = match odcm_pb::TrustKind::try_from(t.kind) {
        Ok(odcm_pb::TrustKind::Receipts) => "receipts",
        _ => "releases",
    };
    format!("{} accepts {what} from {}", t.truster, t.trusted)
}

fn held_checkpoint(p: &Peering) -> Option<pb::HeldCheckpoint> {
    let (held, problem) = p.checkpoint.get();
    held.map(|c| pb::HeldCheckpoint {
        entries: c.entries,
        head_hash: c.head_hash,
        issued_at: c.issued_at,
        problem: problem.unwrap_or_default(),
    })
}

#[tonic::async_trait]
impl pb::peers_server::Peers for PeersApi {
    async fn status(&self, _r: Request<pb::Empty>) -> Result<Response<pb::PeeringStatus>, Status> {
        let Some(p) = &self.peering else {
            return Ok(Response::new(pb::PeeringStatus::default()));
        };
        let set = p.trust_set();
        Ok(Response::new(pb::PeeringStatus {
            enrolled: true,
            space: p.me.clone(),
            odcm: p.enrolled.odcm.clone(),
            odcm_url: p.enrolled.odcm_url.clone(),
            fingerprint: p.cert.fingerprint.clone(),
            not_after: p.cert.not_after,
            peer_endpoint: p.enrolled.endpoint.clone(),
            trust_set_version: set.version,
            odcm_connected: p.odcm_connected(),
            peers: set
                .peers
                .iter()
                .map(|x| pb::KnownPeer {
                    name: x.name.clone(),
                    odcm: x.odcm.clone(),
                    remote: x.remote,
                    endpoint: x.endpoint.clone(),
                    fingerprints: x.certs.iter().map(|c| c.fingerprint.clone()).collect(),
                    last_contact: self.state.last_heard(&x.name).map(proto::wire::timestamp),
                    stale: self.state.is_stale(&x.name),
                    relay_waiting: crate::promotion::relay::waiting(&self.state, &x.name)
                        .unwrap_or_default() as u32,
                })
                .collect(),
            trusts: set.trusts.iter().map(trust_line).collect(),
            checkpoint: held_checkpoint(p),
            restored: runtime::backup::marker::Restored::load(&self.state.data_dir)
                .map(|m| m.summary())
                .unwrap_or_default(),
        }))
    }

    async fn get_audit_checkpoint(
        &self,
        _r: Request<pb::Empty>,
    ) -> Result<Response<pb::AuditCheckpointFile>, Status> {
        let p = self.peering()?;
        match p.checkpoint.get().0 {
            Some(c) => Ok(Response::new(pb::AuditCheckpointFile {
                checkpoint: c.to_bytes(),
            })),
            None => Err(refuse(
                ErrorCode::NotFound,
                "this Space holds no audit checkpoint yet: it receives one once connected to its ODCM",
            )),
        }
    }

    async fn ping(
        &self,
        r: Request<pb::PingPeerRequest>,
    ) -> Result<Response<pb::PingPeerResponse>, Status> {
        let p = self.peering()?;
        let r = r.into_inner();
        if r.peer.trim().is_empty() {
            return Err(refuse(ErrorCode::Invalid, "name the peer Space to call"));
        }
        super::client::ping(p, r.peer.trim(), &r.kind)
            .await
            .map(Response::new)
    }
}
