//! The `peer.v1` service on the peer listener. The TLS handshake takes any client certificate
//! whose key signs it; every call then identifies the caller with `pki::peer_identity` against
//! the current trust store (CA chain or pinned Remote Space certificate, validity, rotation)
//! and checks the trusts with `pki::allows`, so a refusal reaches the caller with its reason.

use domain::error::ErrorCode;
use runtime::status::refuse;
use std::future::Future;
use std::sync::Arc;

use net::pki::{
    CertInfo, PeerIdentity, PeerRole, TrustVerifier, peer_identity, server_config, tls_incoming,
};
use proto::peer::v1 as pb;
use tonic::{Request, Response, Status};

use super::Peering;
use super::gate::{Kind, PeerGate, Unidentified};

pub struct PeerApi {
    pub gate: PeerGate,
}

/// The `CN` a refused caller's certificate claims (for logs and the audit log only).
fn claimed<T>(req: &Request<T>) -> String {
    req.peer_certs()
        .and_then(|c| c.first().and_then(|d| CertInfo::from_der(d).ok()))
        .map(|c| c.common_name)
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

fn kind_pb(k: Kind) -> pb::TrustKind {
    match k {
        Kind::Releases => pb::TrustKind::Releases,
        Kind::Receipts => pb::TrustKind::Receipts,
    }
}

impl PeerApi {
    /// Who the caller is, by its certificate against the current trust store.
    fn identity<T>(&self, req: &Request<T>) -> Result<PeerIdentity, Unidentified> {
        peer_identity(req, &self.gate.peering.store, PeerRole::Space).map_err(|r| Unidentified {
            claimed: claimed(req),
            reason: r.message,
        })
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
        let caller = self.gate.identify(self.identity(&r))?;
        let kinds = self.gate.trusted_kinds(&caller)?;
        tracing::debug!(peer = %caller.space, "ping");
        let p = &self.gate.peering;
        Ok(Response::new(pb::PingResponse {
            space: p.me.clone(),
            odcm: p.enrolled.odcm.clone(),
            caller: Some(caller_pb(&caller)),
            trusted_for: kinds.into_iter().map(|k| kind_pb(k) as i32).collect(),
        }))
    }

    async fn who_am_i(&self, r: Request<pb::Empty>) -> Result<Response<pb::Caller>, Status> {
        let caller = self.gate.identify(self.identity(&r))?;
        self.gate.trusted_kinds(&caller)?;
        Ok(Response::new(caller_pb(&caller)))
    }

    async fn check_trust(
        &self,
        r: Request<pb::CheckTrustRequest>,
    ) -> Result<Response<pb::CheckTrustResponse>, Status> {
        let pb::CheckTrustRequest { kind, subject } = r.get_ref().clone();
        let kind = match pb::TrustKind::try_from(kind) {
            Ok(pb::TrustKind::Releases) => Kind::Releases,
            Ok(pb::TrustKind::Receipts) => Kind::Receipts,
            _ => {
                return Err(refuse(
                    ErrorCode::Invalid,
                    "the trust kind is missing: use releases or receipts",
                ));
            }
        };
        let source = r.remote_addr().map(|a| a.ip());
        let caller = self.gate.check(self.identity(&r), source, kind, &subject)?;
        Ok(Response::new(pb::CheckTrustResponse {
            truster: self.gate.peering.me.clone(),
            trusted: caller.space,
            kind: kind_pb(kind) as i32,
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
    net::transport::server_builder()
        .add_service(health_svc)
        .add_service(pb::peer_server::PeerServer::new(PeerApi {
            gate: PeerGate::new(p.clone(), state.clone()),
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
