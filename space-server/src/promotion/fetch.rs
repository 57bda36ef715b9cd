//! Connected Spaces, the target side: fetching the chunks a pending bundle's packages lack from
//! the Space that sent it, over the peer link. Every chunk is checked against its hash before
//! it is stored; what arrived stays, so a fetch cut short resumes where it stopped.

use std::collections::HashSet;
use std::sync::Arc;

use package_store::{ChunkHash, ChunkRef};

use super::{bundles, peering};
use crate::error::{ApiError, ApiResult};
use crate::peering::client;
use crate::state::SpaceState;

/// Chunks asked for per call.
const BATCH: usize = 512;

/// What a fetch did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Fetched {
    pub chunks: u64,
    pub bytes: u64,
    /// Still missing afterwards.
    pub missing: usize,
}

fn missing_of(state: &SpaceState, v: &exchange::bundle::VerifiedBundle) -> Vec<ChunkRef> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for m in v.manifests() {
        for c in state.chunks.missing(&m.chunks) {
            if seen.insert(c.hash) {
                out.push(c);
            }
        }
    }
    out
}

/// Fetches every chunk bundle `id` still lacks from its source Space.
pub async fn fetch(state: &Arc<SpaceState>, id: &str) -> ApiResult<Fetched> {
    let p = peering(state)?;
    let rec = bundles::find(state, id)?;
    let v = bundles::load(state, &rec, false)?;
    let missing = missing_of(state, &v);
    let mut done = Fetched::default();
    for batch in missing.chunks(BATCH) {
        let wanted: HashSet<ChunkHash> = batch.iter().map(|c| c.hash).collect();
        let mut stream = client::fetch_chunks(
            p,
            &rec.source_space,
            &rec.id,
            batch.iter().map(|c| c.hash.to_vec()).collect(),
        )
        .await
        .map_err(|s| ApiError::Precondition(s.message().to_string()))?;
        while let Some(c) = stream.message().await.map_err(|s| {
            ApiError::Precondition(format!(
                "fetching chunks from '{}' was cut short: {} (fetch again to resume)",
                rec.source_space,
                s.message()
            ))
        })? {
            let Ok(hash) = ChunkHash::try_from(c.hash.as_slice()) else {
                return Err(ApiError::Precondition(format!(
                    "'{}' sent a chunk name that is not 32 bytes",
                    rec.source_space
                )));
            };
            if !wanted.contains(&hash) {
                return Err(ApiError::Precondition(format!(
                    "'{}' sent chunk {} which was not asked for",
                    rec.source_space,
                    hex::encode(hash)
                )));
            }
            let st = state.clone();
            let len = c.zstd.len() as u64;
            tokio::task::spawn_blocking(move || st.chunks.put_compressed(&hash, &c.zstd))
                .await
                .map_err(|e| ApiError::Internal(e.to_string()))?
                .map_err(|e| {
                    ApiError::Precondition(format!(
                        "chunk {} from '{}' was refused: {e}",
                        hex::encode(hash),
                        rec.source_space
                    ))
                })?;
            done.chunks += 1;
            done.bytes += len;
        }
    }
    state.heard_from(&rec.source_space, "chunks fetched");
    done.missing = missing_of(state, &v).len();
    tracing::info!(bundle = %rec.id, from = %rec.source_space, chunks = done.chunks, bytes = done.bytes, missing = done.missing, "bundle packages fetched");
    Ok(done)
}

/// Starts [`fetch`] in the background unless one runs for the bundle already; failures are
/// logged (the automation loop tries again later, `deploy bundle fetch` forces it). Wakes the
/// automation loop when done (an automatic import may be due). Returns whether it started.
pub fn spawn(state: Arc<SpaceState>, id: String) -> bool {
    let started = state
        .fetching
        .lock()
        .map(|mut f| f.insert(id.clone()))
        .unwrap_or(false);
    if !started {
        return false;
    }
    tokio::spawn(async move {
        if let Err(e) = fetch(&state, &id).await {
            tracing::warn!(bundle = %id, error = %e, "fetching the packages of a bundle failed; it is tried again later (deploy bundle fetch forces it)");
        }
        if let Ok(mut f) = state.fetching.lock() {
            f.remove(&id);
        }
        state.wake.notify_one();
    });
    true
}
