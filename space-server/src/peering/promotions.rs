//! `peer.v1.Promotions` on the peer listener: connected Spaces offer bundles, fetch chunks,
//! deliver receipts and stage packages ahead of a promotion. The caller is identified by its certificate (as every peer call); what
//! it may do is decided by `promotion::peer` (trust, ownership, which chunks), after which the
//! same code as by file runs. These handlers only identify, convert and stream.

use std::sync::Arc;

use domain::error::ErrorCode;
use net::pki::{PeerIdentity, PeerRole, peer_identity};
use proto::peer::v1 as pb;
use runtime::status::refuse;
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status, Streaming};

use super::Peering;
use crate::error::ApiError;
use crate::promotion::MAX_FILE;
use crate::promotion::peer::{self, Offered};
use crate::state::SpaceState;

pub struct PromotionsPeerApi {
    pub peering: Arc<Peering>,
    pub state: Arc<SpaceState>,
}

impl PromotionsPeerApi {
    /// The calling Space, by its certificate against the current trust store.
    fn caller<T>(&self, req: &Request<T>) -> Result<PeerIdentity, Status> {
        let c = peer_identity(req, &self.peering.store, PeerRole::Space)
            .map_err(|r| refuse(ErrorCode::Unauthenticated, r.message))?;
        self.state.heard_from(&c.space, "its call");
        Ok(c)
    }
}

async fn collect(mut s: Streaming<pb::Data>, what: &str) -> Result<Vec<u8>, Status> {
    let mut out = Vec::new();
    while let Some(m) = s.next().await {
        let m = m?;
        if out.len() + m.data.len() > MAX_FILE {
            return Err(ApiError::Invalid(format!("the {what} is too large")).into());
        }
        out.extend_from_slice(&m.data);
    }
    Ok(out)
}

type ChunkStream =
    std::pin::Pin<Box<dyn tokio_stream::Stream<Item = Result<pb::ChunkData, Status>> + Send>>;

#[tonic::async_trait]
impl pb::promotions_server::Promotions for PromotionsPeerApi {
    type FetchChunksStream = ChunkStream;

    async fn offer_bundle(
        &self,
        req: Request<Streaming<pb::Data>>,
    ) -> Result<Response<pb::OfferBundleResponse>, Status> {
        let caller = self.caller(&req)?;
        // Refuse an untrusted caller before reading what it sends.
        peer::require_trust(
            &self.state,
            &caller.space,
            proto::odcm::v1::TrustKind::Releases,
        )?;
        let bytes = collect(req.into_inner(), "bundle").await?;
        let Offered {
            bundle_id,
            packages,
            chunks_missing,
        } = peer::offer(&self.state, &caller.space, bytes).await?;
        Ok(Response::new(pb::OfferBundleResponse {
            bundle_id,
            packages,
            chunks_missing,
        }))
    }

    async fn fetch_chunks(
        &self,
        req: Request<pb::FetchChunksRequest>,
    ) -> Result<Response<Self::FetchChunksStream>, Status> {
        let caller = self.caller(&req)?;
        let pb::FetchChunksRequest {
            bundle_id,
            hashes,
            bases,
        } = req.into_inner();
        let wanted = peer::chunks_for(&self.state, &caller.space, &bundle_id, &hashes, &bases)?;
        let state = self.state.clone();
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        tokio::task::spawn_blocking(move || {
            for (hash, bases) in wanted {
                let item = peer::serve(&state.chunks, &hash, &bases)
                    .map(|(zstd, base)| pb::ChunkData {
                        hash: hash.to_vec(),
                        zstd,
                        base: base.map(|b| b.to_vec()).unwrap_or_default(),
                    })
                    .map_err(|e| refuse(ErrorCode::Internal, e.to_string()));
                if tx.blocking_send(item).is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    async fn deliver_receipts(
        &self,
        req: Request<Streaming<pb::Data>>,
    ) -> Result<Response<pb::DeliverReceiptsResponse>, Status> {
        let caller = self.caller(&req)?;
        peer::require_trust(
            &self.state,
            &caller.space,
            proto::odcm::v1::TrustKind::Receipts,
        )?;
        let bytes = collect(req.into_inner(), "receipts file").await?;
        let a = peer::deliver(&self.state, &caller.space, &bytes).await?;
        Ok(Response::new(pb::DeliverReceiptsResponse {
            applied: a.applied as u32,
            already_applied: a.already as u32,
        }))
    }

    async fn stage_packages(
        &self,
        req: Request<pb::StagePackagesRequest>,
    ) -> Result<Response<pb::StagePackagesResponse>, Status> {
        let caller = self.caller(&req)?;
        let lacking =
            crate::promotion::staging::accept(&self.state, &caller.space, req.into_inner()).await?;
        Ok(Response::new(pb::StagePackagesResponse {
            chunks_missing: lacking.chunks.min(u64::from(u32::MAX)) as u32,
            bytes_missing: lacking.bytes,
        }))
    }

    async fn seen_from_you(
        &self,
        req: Request<pb::Empty>,
    ) -> Result<Response<pb::SeenFromYouResponse>, Status> {
        let caller = self.caller(&req)?;
        let seen = crate::promotion::restored::seen_from(&self.state, &caller.space)?;
        Ok(Response::new(pb::SeenFromYouResponse {
            max_deployment: seen.max_deployment,
            receipts: seen.receipts,
        }))
    }

    async fn send_again(
        &self,
        req: Request<pb::SendAgainRequest>,
    ) -> Result<Response<pb::SendAgainResponse>, Status> {
        let caller = self.caller(&req)?;
        let pb::SendAgainRequest { since, bundles } = req.into_inner();
        let s = crate::promotion::restored::send_again(&self.state, &caller.space, since, &bundles)
            .await?;
        Ok(Response::new(pb::SendAgainResponse {
            receipts: s.receipts,
            releases: s.releases,
        }))
    }
}
