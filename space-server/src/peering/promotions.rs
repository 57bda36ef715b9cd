//! `peer.v1.Promotions` on the peer listener: connected Spaces offer bundles, fetch chunks and
//! deliver receipts. The caller is identified by its certificate (as every peer call), then:
//! a bundle is accepted only from a Space trusted for releases that signed it; chunks go only
//! to the Space a bundle was promoted to, only for that bundle's packages; receipts only from a
//! Space trusted for receipts that signed them. After that the same code as by file runs.

use domain::error::ErrorCode;
use runtime::status::refuse;
use std::collections::HashSet;
use std::sync::Arc;

use domain::model::Promotion;
use net::pki::{PeerIdentity, PeerRole, allows, peer_identity};
use package_store::ChunkHash;
use proto::odcm::v1 as odcm_pb;
use proto::peer::v1 as pb;
use storage::StoreExt;
use tokio_stream::StreamExt;
use tonic::{Request, Response, Status, Streaming};

use super::Peering;
use crate::promotion::{MAX_FILE, bundles, claimed_sender, fetch, receipts};
use crate::state::SpaceState;

/// Chunks served per call at most.
const MAX_HASHES: usize = 1024;

pub struct PromotionsPeerApi {
    pub peering: Arc<Peering>,
    pub state: Arc<SpaceState>,
}

fn status(e: crate::error::ApiError) -> Status {
    Status::from(e)
}

impl PromotionsPeerApi {
    /// The caller, trusted by this Space for `kind`.
    fn caller<T>(
        &self,
        req: &Request<T>,
        kind: odcm_pb::TrustKind,
    ) -> Result<PeerIdentity, Status> {
        let p = &self.peering;
        let c = peer_identity(req, &p.store, PeerRole::Space)
            .map_err(|r| refuse(ErrorCode::Unauthenticated, r.message))?;
        if !allows(&p.trust_set(), &p.me, &c.space, kind) {
            let noun = if kind == odcm_pb::TrustKind::Receipts {
                "receipts"
            } else {
                "releases"
            };
            tracing::warn!(peer = %c.space, kind = noun, "peer promotion call refused: no trust");
            let msg = format!(
                "{} does not trust space '{}' for {noun}: add the trust in ODCM '{}'",
                p.me, c.space, p.enrolled.odcm
            );
            let event = if kind == odcm_pb::TrustKind::Receipts {
                odcm_pb::EventKind::ReceiptRefused
            } else {
                odcm_pb::EventKind::BundleRefused
            };
            crate::promotion::audit(&self.state, event, &c.space, noun, &msg);
            return Err(refuse(ErrorCode::PermissionDenied, msg));
        }
        Ok(c)
    }
}

async fn collect(mut s: Streaming<pb::Data>, what: &str) -> Result<Vec<u8>, Status> {
    let mut out = Vec::new();
    while let Some(m) = s.next().await {
        let m = m?;
        if out.len() + m.data.len() > MAX_FILE {
            return Err(refuse(
                ErrorCode::Invalid,
                format!("the {what} is too large"),
            ));
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
        let caller = self.caller(&req, odcm_pb::TrustKind::Releases)?;
        let bytes = collect(req.into_inner(), "bundle").await?;
        let claimed = claimed_sender(&bytes, "/predicate/source_space");
        if !claimed.eq_ignore_ascii_case(&caller.space) {
            return Err(refuse(
                ErrorCode::PermissionDenied,
                format!(
                    "space '{}' offered a bundle of space '{claimed}': a Space offers only its own bundles",
                    caller.space
                ),
            ));
        }
        let state = self.state.clone();
        let who = format!("space {}", caller.space);
        let rec = tokio::task::spawn_blocking(move || bundles::add(&state, &bytes, &who))
            .await
            .map_err(|e| refuse(ErrorCode::Internal, e.to_string()))?
            .map_err(status)?;
        let v = bundles::load(&self.state, &rec, false).map_err(status)?;
        let missing: u32 = bundles::missing_chunks(&self.state, &v)
            .iter()
            .map(|(_, n)| *n as u32)
            .sum();
        tracing::info!(bundle = %rec.id, from = %caller.space, missing, "release bundle offered");
        if missing > 0 {
            fetch::spawn(self.state.clone(), rec.id.clone());
        }
        Ok(Response::new(pb::OfferBundleResponse {
            bundle_id: rec.id,
            packages: v.contents.packages.len() as u32,
            chunks_missing: missing,
        }))
    }

    async fn fetch_chunks(
        &self,
        req: Request<pb::FetchChunksRequest>,
    ) -> Result<Response<Self::FetchChunksStream>, Status> {
        // Fetching follows an offer this Space made: the caller need not trust this Space for
        // anything, but must be the Space the bundle was promoted to (checked below).
        let caller = peer_identity(&req, &self.peering.store, PeerRole::Space)
            .map_err(|r| refuse(ErrorCode::Unauthenticated, r.message))?;
        let pb::FetchChunksRequest { bundle_id, hashes } = req.into_inner();
        if hashes.len() > MAX_HASHES {
            return Err(refuse(
                ErrorCode::Invalid,
                format!("at most {MAX_HASHES} chunks per call"),
            ));
        }
        let state = self.state.clone();
        let promo = state
            .store
            .get_record::<Promotion>(&bundle_id.to_ascii_lowercase())
            .map_err(|e| status(e.into()))?
            .filter(|p| p.target_space.eq_ignore_ascii_case(&caller.space))
            .ok_or_else(|| {
                refuse(
                    ErrorCode::PermissionDenied,
                    format!(
                        "bundle {bundle_id} was not promoted by {} to space '{}'",
                        self.peering.me, caller.space
                    ),
                )
            })?;
        let release = state
            .release(&promo.project, &promo.version)
            .map_err(status)?;
        let mut allowed: HashSet<ChunkHash> = HashSet::new();
        for pin in &release.packages {
            let m = state.package(&pin.id, &pin.version).map_err(status)?;
            allowed.extend(m.chunks.iter().map(|c| c.hash));
        }
        let mut wanted = Vec::with_capacity(hashes.len());
        for h in hashes {
            let hash = ChunkHash::try_from(h.as_slice())
                .map_err(|_| refuse(ErrorCode::Invalid, "a chunk name is not 32 bytes"))?;
            if !allowed.contains(&hash) {
                return Err(refuse(
                    ErrorCode::PermissionDenied,
                    format!(
                        "chunk {} is not part of bundle {bundle_id}",
                        hex::encode(hash)
                    ),
                ));
            }
            wanted.push(hash);
        }
        tracing::info!(bundle = %bundle_id, to = %caller.space, chunks = wanted.len(), "serving bundle chunks");
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        tokio::task::spawn_blocking(move || {
            for hash in wanted {
                let item = state
                    .chunks
                    .get_compressed(&hash)
                    .map(|zstd| pb::ChunkData {
                        hash: hash.to_vec(),
                        zstd,
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
        let caller = self.caller(&req, odcm_pb::TrustKind::Receipts)?;
        let bytes = collect(req.into_inner(), "receipts file").await?;
        let claimed = claimed_sender(&bytes, "/from_space");
        if !claimed.eq_ignore_ascii_case(&caller.space) {
            return Err(refuse(
                ErrorCode::PermissionDenied,
                format!(
                    "space '{}' delivered receipts of space '{claimed}': a Space delivers only its own",
                    caller.space
                ),
            ));
        }
        let a = receipts::import(&self.state, &bytes, &format!("space {}", caller.space))
            .await
            .map_err(status)?;
        Ok(Response::new(pb::DeliverReceiptsResponse {
            applied: a.applied as u32,
            already_applied: a.already as u32,
        }))
    }
}
