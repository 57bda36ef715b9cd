//! Calls this Space makes to a peer's `peer.v1` service: the peer's endpoint and certificates
//! come from the trust set; the peer must present the certificate of the Space named (checked
//! by the TLS verifier), and this Space presents its ODCM-issued certificate.

use domain::error::ErrorCode;
use runtime::status::refuse;
use std::sync::Arc;
use std::time::{Duration, Instant};

use net::pki::{PeerRole, TrustVerifier, client_config, connect_mtls};
use proto::odcm::v1 as odcm_pb;
use proto::peer::v1 as pb;
use proto::space::v1 as spb;
use tonic::Status;

use super::Peering;
use crate::error::ApiError;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Deadline of a call that moves a file or a batch of chunks.
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(600);

/// A status's message a user can act on: a bare "connection closed" means the other side
/// refused our client certificate at the handshake (STACK.md gotcha 2).
pub fn explain(s: &Status) -> String {
    let m = s.message();
    let closed = matches!(s.code(), tonic::Code::Cancelled | tonic::Code::Unknown)
        && (m.contains("connection closed") || m.contains("connection reset"));
    if closed || m.contains("CertificateRequired") || m.contains("BadCertificate") {
        format!(
            "the peer refused the connection: it requires a client certificate that it trusts ({m})"
        )
    } else {
        m.to_string()
    }
}

pub fn parse_kind(s: &str) -> Result<Option<pb::TrustKind>, Status> {
    match s.trim().to_ascii_lowercase().as_str() {
        "" => Ok(None),
        "releases" | "release" => Ok(Some(pb::TrustKind::Releases)),
        "receipts" | "receipt" => Ok(Some(pb::TrustKind::Receipts)),
        other => Err(refuse(
            ErrorCode::Invalid,
            format!("trust kind '{other}' is not known: use releases or receipts"),
        )),
    }
}

fn kind_name(k: i32) -> String {
    match pb::TrustKind::try_from(k) {
        Ok(pb::TrustKind::Releases) => "releases".into(),
        Ok(pb::TrustKind::Receipts) => "receipts".into(),
        _ => "unknown".into(),
    }
}

fn with_deadline<T>(m: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(m);
    r.set_timeout(CALL_TIMEOUT);
    r
}

/// A mutual-TLS channel to Space `peer` at the endpoint its trust set gives, checked to present
/// that Space's certificate; also the peer entry (name as the trust set spells it, endpoint).
pub async fn channel(
    p: &Peering,
    peer: &str,
) -> Result<(tonic::transport::Channel, odcm_pb::Peer), Status> {
    let set = p.trust_set();
    let Some(target) = set.peers.iter().find(|x| x.name.eq_ignore_ascii_case(peer)) else {
        return Err(refuse(
            ErrorCode::FailedPrecondition,
            format!(
                "Space '{peer}' is not in the trust set of {}: no trust involves it (add one with `deploy odcm trust add` in ODCM '{}')",
                p.me, p.enrolled.odcm
            ),
        ));
    };
    if target.endpoint.is_empty() {
        return Err(refuse(
            ErrorCode::FailedPrecondition,
            format!(
                "ODCM '{}' knows no peer endpoint for Space '{}': set it at enrolment or with `deploy odcm remote-space add --endpoint` (or promote by file)",
                p.enrolled.odcm, target.name
            ),
        ));
    }
    let verifier = TrustVerifier::new(p.store.clone())
        .expecting(PeerRole::Space)
        .expecting_space(&target.name);
    let cfg = client_config(Some(&p.identity), Arc::new(verifier))
        .map_err(|e| refuse(ErrorCode::Internal, e.to_string()))?;
    let ch = connect_mtls(&target.endpoint, cfg, CONNECT_TIMEOUT)
        .await
        .map_err(|e| {
            refuse(
                ErrorCode::Unavailable,
                format!(
                    "calling Space '{}' at {}: {e}",
                    target.name, target.endpoint
                ),
            )
        })?;
    Ok((ch, target.clone()))
}

/// A status from a peer call, as this Space's caller should see it.
pub fn peer_refusal(p: &Peering, target: &odcm_pb::Peer, s: Status) -> Status {
    let m = explain(&s);
    match s.code() {
        tonic::Code::PermissionDenied => refuse(ErrorCode::PermissionDenied, m),
        tonic::Code::Unauthenticated => refuse(
            ErrorCode::FailedPrecondition,
            format!(
                "Space '{}' refused the certificate of {}: {m}",
                target.name, p.me
            ),
        ),
        tonic::Code::Unavailable => refuse(
            ErrorCode::Unavailable,
            format!(
                "calling Space '{}' at {}: {m}",
                target.name, target.endpoint
            ),
        ),
        _ => refuse(
            ErrorCode::FailedPrecondition,
            format!(
                "calling Space '{}' at {}: {m}",
                target.name, target.endpoint
            ),
        ),
    }
}

/// Calls Space `peer`: `CheckTrust(kind)` when a kind is given, then `Ping`.
pub async fn ping(p: &Peering, peer: &str, kind: &str) -> Result<spb::PingPeerResponse, Status> {
    let kind = parse_kind(kind)?;
    let start = Instant::now();
    let (ch, target) = channel(p, peer).await?;
    let mut api = pb::peer_client::PeerClient::new(ch);
    let refused = |s: Status| peer_refusal(p, &target, s);
    if let Some(k) = kind {
        api.check_trust(with_deadline(pb::CheckTrustRequest {
            kind: k as i32,
            subject: format!("ping from {}", p.me),
        }))
        .await
        .map_err(refused)?;
    }
    let sent_at = domain::model::now() * 1000;
    let pong = api
        .ping(with_deadline(pb::PingRequest { sent_at }))
        .await
        .map_err(refused)?
        .into_inner();
    let seen = pong.caller.unwrap_or_default();
    tracing::info!(peer = %target.name, endpoint = %target.endpoint, "peer answered");
    Ok(spb::PingPeerResponse {
        peer: pong.space,
        endpoint: target.endpoint.clone(),
        peer_odcm: pong.odcm,
        peer_fingerprint: target
            .certs
            .first()
            .map(|c| c.fingerprint.clone())
            .unwrap_or_default(),
        seen_as_space: seen.space,
        seen_as_odcm: seen.odcm,
        seen_as_fingerprint: seen.fingerprint,
        trusted_for: pong.trusted_for.into_iter().map(kind_name).collect(),
        millis: start.elapsed().as_millis().min(u32::MAX as u128) as u32,
    })
}

/// The pieces of a file as peer `Data` messages.
fn pieces(bytes: &[u8]) -> Vec<pb::Data> {
    bytes
        .chunks(1 << 20)
        .map(|d| pb::Data { data: d.to_vec() })
        .collect()
}

/// Offers a bundle file to Space `peer` (`peer.v1.Promotions.OfferBundle`).
pub async fn offer_bundle(
    p: &Peering,
    peer: &str,
    bytes: &[u8],
) -> Result<pb::OfferBundleResponse, Status> {
    let (ch, target) = channel(p, peer).await?;
    let mut req = tonic::Request::new(tokio_stream::iter(pieces(bytes)));
    req.set_timeout(TRANSFER_TIMEOUT);
    pb::promotions_client::PromotionsClient::new(ch)
        .max_encoding_message_size(8 << 20)
        .offer_bundle(req)
        .await
        .map(|r| r.into_inner())
        .map_err(|s| peer_refusal(p, &target, s))
}

/// Delivers a signed receipts file to Space `peer`.
pub async fn deliver_receipts(
    p: &Peering,
    peer: &str,
    bytes: &[u8],
) -> Result<pb::DeliverReceiptsResponse, Status> {
    let (ch, target) = channel(p, peer).await?;
    let mut req = tonic::Request::new(tokio_stream::iter(pieces(bytes)));
    req.set_timeout(TRANSFER_TIMEOUT);
    pb::promotions_client::PromotionsClient::new(ch)
        .max_encoding_message_size(8 << 20)
        .deliver_receipts(req)
        .await
        .map(|r| r.into_inner())
        .map_err(|s| peer_refusal(p, &target, s))
}

/// Asks Space `peer` for chunks of a bundle it promoted to this Space (`bases`: see
/// `FetchChunksRequest`).
pub async fn fetch_chunks(
    p: &Peering,
    peer: &str,
    bundle_id: &str,
    hashes: Vec<Vec<u8>>,
    bases: Vec<Vec<u8>>,
) -> Result<tonic::Streaming<pb::ChunkData>, Status> {
    let (ch, target) = channel(p, peer).await?;
    let mut req = tonic::Request::new(pb::FetchChunksRequest {
        bundle_id: bundle_id.to_string(),
        hashes,
        bases,
    });
    req.set_timeout(TRANSFER_TIMEOUT);
    pb::promotions_client::PromotionsClient::new(ch)
        .max_decoding_message_size(8 << 20)
        .fetch_chunks(req)
        .await
        .map(|r| r.into_inner())
        .map_err(|s| peer_refusal(p, &target, s))
}

/// Tells Space `peer` which chunks a release will need there (packages staged ahead).
pub async fn stage_packages(
    p: &Peering,
    peer: &str,
    req: pb::StagePackagesRequest,
) -> Result<pb::StagePackagesResponse, Status> {
    let (ch, target) = channel(p, peer).await?;
    pb::promotions_client::PromotionsClient::new(ch)
        .max_encoding_message_size(8 << 20)
        .stage_packages(with_deadline(req))
        .await
        .map(|r| r.into_inner())
        .map_err(|s| peer_refusal(p, &target, s))
}

/// A peer call's failure (already explained by [`peer_refusal`]) in this Space's error
/// vocabulary, for services that call peers.
pub fn to_api(s: Status) -> ApiError {
    let m = s.message().to_string();
    match s.code() {
        tonic::Code::PermissionDenied => ApiError::PermissionDenied(m),
        tonic::Code::Unauthenticated => ApiError::Unauthenticated(m),
        tonic::Code::Unavailable | tonic::Code::DeadlineExceeded => ApiError::Unavailable(m),
        tonic::Code::InvalidArgument => ApiError::Invalid(m),
        _ => ApiError::Precondition(m),
    }
}

/// Asks Space `peer` what it holds from this Space (after a restore from a backup).
pub async fn seen_from_you(p: &Peering, peer: &str) -> Result<pb::SeenFromYouResponse, Status> {
    let (ch, target) = channel(p, peer).await?;
    pb::promotions_client::PromotionsClient::new(ch)
        .seen_from_you(with_deadline(pb::Empty {}))
        .await
        .map(|r| r.into_inner())
        .map_err(|s| peer_refusal(p, &target, s))
}

/// Asks Space `peer` to send again what it sent this Space since `since`.
pub async fn send_again(
    p: &Peering,
    peer: &str,
    since: i64,
    bundles: Vec<String>,
) -> Result<pb::SendAgainResponse, Status> {
    let (ch, target) = channel(p, peer).await?;
    pb::promotions_client::PromotionsClient::new(ch)
        .max_encoding_message_size(8 << 20)
        .send_again(with_deadline(pb::SendAgainRequest { since, bundles }))
        .await
        .map(|r| r.into_inner())
        .map_err(|s| peer_refusal(p, &target, s))
}
