//! The `peer.v1` service on the peer listener. The TLS handshake takes any client certificate
//! whose key signs it; every call then identifies the caller with `pki::peer_identity` against
//! the current trust store (CA chain or pinned Remote Space certificate, validity, rotation)
//! and checks the trusts with `pki::allows`, so a refusal reaches the caller with its reason.

use domain::error::ErrorCode;
use runtime::status::refuse;
use std::future::Future;
use std::sync::Arc;

use net::pki::{
    CertInfo, PeerIdentity, PeerRole, TrustVerifier, allows, peer_identity, server_config,
    tls_incoming,
};
use proto::odcm::v1 as odcm_pb;
use proto::peer::v1 as pb;
use tonic::{Request, Response, Status};

use super::Peering;

pub struct PeerApi {
    pub peering: Arc<Peering>,
}

pub fn odcm_kind(k: pb::TrustKind) -> odcm_pb::TrustKind {
    match k {
        pb::TrustKind::Releases => odcm_pb::TrustKind::Releases,
        pb::TrustKind::Receipts => odcm_pb::TrustKind::Receipts,
        pb::TrustKind::Unspecified => odcm_pb::TrustKind::Unspecified,
    }
}

/// The `CN` a refused caller's certificate claims (for logs and the audit log only).
fn claimed<T>(req: &Request<T>) -> String {
    req.peer_certs()
        .and_then(|c| c.first().and_then(|d| CertInfo::from_der(d).ok()))
        .map(|c| c.common_name)
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

impl PeerApi {
    fn caller<T>(&self, req: &Request<T>) -> Result<PeerIdentity, Status> {
        peer_identity(req, &self.peering.store, PeerRole::Space).map_err(|r| {
            tracing::warn!(claimed = %claimed(req), reason = %r.message, "peer call refused");
            refuse(ErrorCode::Unauthenticated, r.message)
        })
    }

    /// The kinds this Space accepts from `caller`; refused if none.
    fn trusted_for(&self, caller: &PeerIdentity) -> Result<Vec<pb::TrustKind>, Status> {
        let set = self.peering.trust_set();
        let kinds: Vec<pb::TrustKind> = [pb::TrustKind::Releases, pb::TrustKind::Receipts]
            .into_iter()
            .filter(|k| allows(&set, &self.peering.me, &caller.space, odcm_kind(*k)))
            .collect();
        if kinds.is_empty() {
            tracing::warn!(peer = %caller.space, odcm = %caller.odcm, "peer call refused: no trust");
            return Err(refuse(
                ErrorCode::PermissionDenied,
                format!(
                    "Space '{}' (ODCM '{}') is not trusted by {} for releases or receipts: add a trust in ODCM '{}'",
                    caller.space, caller.odcm, self.peering.me, self.peering.enrolled.odcm
                ),
            ));
        }
        Ok(kinds)
    }
}

fn caller_pb(c: &PeerIdentity) -> pb::Caller {
    pb::Caller {
        space: c.space.clone(),
        odcm: c.odcm.clone(),
        fingerprint: c.fingerprint.clone(),
        pinned: c.pinned,
    }
}

#[tonic::async_trait]
impl pb::peer_server::Peer for PeerApi {
    async fn ping(
        &self,
        r: Request<pb::PingRequest>,
    ) -> Result<Response<pb::PingResponse>, Status> {
        let caller = self.caller(&r)?;
        let kinds = self.trusted_for(&caller)?;
        tracing::debug!(peer = %caller.space, "ping");
        Ok(Response::new(pb::PingResponse {
            space: self.peering.me.clone(),
            odcm: self.peering.enrolled.odcm.clone(),
            caller: Some(caller_pb(&caller)),
            trusted_for: kinds.into_iter().map(|k| k as i32).collect(),
        }))
    }

    async fn who_am_i(&self, r: Request<pb::Empty>) -> Result<Response<pb::Caller>, Status> {
        let caller = self.caller(&r)?;
        self.trusted_for(&caller)?;
        Ok(Response::new(caller_pb(&caller)))
    }

    async fn check_trust(
        &self,
        r: Request<pb::CheckTrustRequest>,
    ) -> Result<Response<pb::CheckTrustResponse>, Status> {
        let kind = pb::TrustKind::try_from(r.get_ref().kind)
            .ok()
            .filter(|k| *k != pb::TrustKind::Unspecified)
            .ok_or_else(|| {
                refuse(
                    ErrorCode::Invalid,
                    "the trust kind is missing: use releases or receipts",
                )
            })?;
        let subject = r.get_ref().subject.clone();
        let (what, accepted, refused, noun) = match kind {
            pb::TrustKind::Receipts => (
                "receipt sent",
                odcm_pb::EventKind::ReceiptAccepted,
                odcm_pb::EventKind::ReceiptRefused,
                "receipts",
            ),
            _ => (
                "bundle offered",
                odcm_pb::EventKind::BundleAccepted,
                odcm_pb::EventKind::BundleRefused,
                "releases",
            ),
        };
        let report = |k, peer: String, detail: String| {
            super::watch::report(self.peering.clone(), k, peer, subject.clone(), detail);
        };
        let caller = match self.caller(&r) {
            Ok(c) => c,
            Err(s) => {
                report(refused, claimed(&r), s.message().to_string());
                return Err(s);
            }
        };
        if !allows(
            &self.peering.trust_set(),
            &self.peering.me,
            &caller.space,
            odcm_kind(kind),
        ) {
            let msg = format!(
                "{what} by space '{}' which {} does not trust for {noun}",
                caller.space, self.peering.me
            );
            tracing::warn!(peer = %caller.space, kind = noun, "trust check refused");
            report(refused, caller.space.clone(), msg.clone());
            return Err(refuse(ErrorCode::PermissionDenied, msg));
        }
        tracing::info!(peer = %caller.space, kind = noun, "trust check accepted");
        report(
            accepted,
            caller.space.clone(),
            format!(
                "{} trusts {} for {noun} ({})",
                self.peering.me, caller.space, caller.fingerprint
            ),
        );
        Ok(Response::new(pb::CheckTrustResponse {
            truster: self.peering.me.clone(),
            trusted: caller.space,
            kind: kind as i32,
        }))
    }
}

/// Serves the peer services (`Peer`, and `Promotions` over `state`) on `listener` until
/// `shutdown` resolves.
pub async fn serve(
    p: Arc<Peering>,
    state: Arc<crate::state::SpaceState>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), super::PeeringError> {
    let verifier = TrustVerifier::new(p.store.clone())
        .expecting(PeerRole::Space)
        .defer_to_calls();
    let cfg = server_config(&p.identity, Arc::new(verifier))?;
    let health_svc = runtime::grpc::health::<pb::peer_server::PeerServer<PeerApi>>().await;
    tonic::transport::Server::builder()
        .add_service(health_svc)
        .add_service(pb::peer_server::PeerServer::new(PeerApi {
            peering: p.clone(),
        }))
        .add_service(
            pb::promotions_server::PromotionsServer::new(super::promotions::PromotionsPeerApi {
                peering: p,
                state,
            })
            .max_decoding_message_size(8 << 20)
            .max_encoding_message_size(8 << 20),
        )
        .serve_with_incoming_shutdown(tls_incoming(listener, cfg), shutdown)
        .await
        .map_err(|e| {
            super::PeeringError::Config(format!(
                "the peer service failed: {}",
                net::tls::error_chain(&e)
            ))
        })
}
