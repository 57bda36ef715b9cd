//! Packages staged ahead of a promotion (a lifecycle phase with `prestage`): the source tells a
//! Space which chunks a release will need there ([`offer`]); the target fetches those it lacks
//! from it in the background ([`accept`]), by the staging id, which the source serves only to
//! that Space (`peer::chunks_for`). Chunks are content-addressed and checked against their hash
//! as always, so the bundle that comes later finds them stored and moves alone.

use std::collections::HashSet;
use std::sync::Arc;

use domain::model::StagingJob;
use package_store::{ArchiveFormat, ChunkHash, ChunkRef, MAX_CHUNK_LEN, PackageManifest};
use proto::odcm::v1 as odcm_pb;
use proto::peer::v1 as peer_pb;
use sha2::{Digest, Sha256};

use super::{fetch, peer::require_trust, peering};
use crate::error::{ApiError, ApiResult};
use crate::peering::client;
use crate::state::SpaceState;

/// Chunks named per call at most (a long list comes in parts).
pub const PART: usize = 50_000;
/// Parts per staging at most (10 million chunks).
pub const MAX_PARTS: u32 = 200;
/// Packages named per staging at most.
pub const MAX_PACKAGES: usize = 1000;

/// The staging id of `project` `version` for `space`: one per release and Space.
pub fn staging_id(project: &str, version: &str, space: &str) -> String {
    let key = storage::key_of(&[project, version, space]);
    hex::encode(&Sha256::digest(key.as_bytes())[..16])
}

/// What the target lacked when told: chunks and their (uncompressed) bytes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Lacking {
    pub chunks: u64,
    pub bytes: u64,
}

/// The source side: tells `job.target_space` every chunk of the release's packages.
pub async fn offer(state: &SpaceState, job: &StagingJob) -> ApiResult<Lacking> {
    let p = peering(state)?;
    let r = state.release(&job.project, &job.version)?;
    let mut seen = HashSet::new();
    let mut chunks = Vec::new();
    for (i, pin) in r.packages.iter().enumerate() {
        for c in state.package(&pin.id, &pin.version)?.chunks {
            if seen.insert(c.hash) {
                chunks.push(peer_pb::StagedChunk {
                    hash: c.hash.to_vec(),
                    length: c.length,
                    package: i as u32,
                });
            }
        }
    }
    let packages: Vec<String> = r.packages.iter().map(|p| p.id.clone()).collect();
    let mut lacking = Lacking::default();
    for (part, piece) in chunks.chunks(PART).enumerate() {
        let req = peer_pb::StagePackagesRequest {
            staging_id: job.id.clone(),
            project: job.project.clone(),
            version: job.version.clone(),
            part: part as u32,
            chunks: piece.to_vec(),
            packages: packages.clone(),
        };
        let got = client::stage_packages(p, &job.target_space, req)
            .await
            .map_err(client::to_api)?;
        lacking.chunks += u64::from(got.chunks_missing);
        lacking.bytes += got.bytes_missing;
    }
    state.heard_from(&job.target_space, "packages staged");
    tracing::info!(project = %job.project, release = %job.version, to_space = %job.target_space, chunks = chunks.len(), lacking = lacking.chunks, "packages staged ahead of the promotion");
    Ok(lacking)
}

/// The target side: `caller` (trusted for releases) names chunks a release will need here;
/// those not stored yet are fetched from it in the background. Returns what was lacking.
pub async fn accept(
    state: &Arc<SpaceState>,
    caller: &str,
    req: peer_pb::StagePackagesRequest,
) -> ApiResult<Lacking> {
    require_trust(state, caller, odcm_pb::TrustKind::Releases)?;
    let peer_pb::StagePackagesRequest {
        staging_id,
        project,
        version,
        part,
        chunks,
        packages,
    } = req;
    if staging_id.len() != 32 || !staging_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::Invalid("a staging id is 32 hex digits".into()));
    }
    if part >= MAX_PARTS || chunks.len() > PART {
        return Err(ApiError::Invalid(format!(
            "at most {PART} chunks per part and {MAX_PARTS} parts per staging"
        )));
    }
    if packages.len() > MAX_PACKAGES {
        return Err(ApiError::Invalid(format!(
            "at most {MAX_PACKAGES} packages per staging"
        )));
    }
    for id in &packages {
        package_store::validate_id(id)
            .map_err(|e| ApiError::Invalid(format!("a staged package id: {e}")))?;
    }
    let mut by_package: Vec<PackageManifest> = packages
        .iter()
        .map(|id| PackageManifest {
            id: id.clone(),
            version: String::new(), // not an existing version: every held one is a base
            size: 0,
            sha256: String::new(),
            format: ArchiveFormat::TarGz,
            chunks: Vec::new(),
            uploaded_at: 0,
        })
        .collect();
    let mut refs = Vec::with_capacity(chunks.len());
    for c in chunks {
        let hash = ChunkHash::try_from(c.hash.as_slice())
            .map_err(|_| ApiError::Invalid("a chunk name is not 32 bytes".into()))?;
        if c.length == 0 || c.length as usize > MAX_CHUNK_LEN {
            return Err(ApiError::Invalid(format!(
                "chunk {} has a length outside 1..={MAX_CHUNK_LEN}",
                hex::encode(hash)
            )));
        }
        let r = ChunkRef {
            hash,
            length: c.length,
        };
        if !packages.is_empty() {
            by_package
                .get_mut(c.package as usize)
                .ok_or_else(|| {
                    ApiError::Invalid(format!(
                        "chunk {} names package {} of {}",
                        hex::encode(hash),
                        c.package,
                        packages.len()
                    ))
                })?
                .chunks
                .push(r);
        }
        refs.push(r);
    }
    let st = state.clone();
    let (missing, bases) = tokio::task::spawn_blocking(move || {
        let missing = st.chunks.missing(&refs);
        let bases = if missing.is_empty() {
            Ok(Default::default())
        } else {
            fetch::delta_bases(&st, &by_package)
        };
        (missing, bases)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    let bases = bases?;
    let lacking = Lacking {
        chunks: missing.len() as u64,
        bytes: missing.iter().map(|c| u64::from(c.length)).sum(),
    };
    let (project, version) = (
        domain::text::clean(&project, 200),
        domain::text::clean(&version, 100),
    );
    tracing::info!(from = %caller, project = %project, release = %version, part, lacking = lacking.chunks, "packages staged here ahead of a promotion");
    if !missing.is_empty() {
        let (s, from, id) = (state.clone(), caller.to_string(), staging_id.clone());
        fetch::spawn_once(state.clone(), format!("{staging_id}/{part}"), async move {
            match fetch::fetch_missing(&s, &from, &id, missing, &bases).await {
                Ok(done) => {
                    tracing::info!(from = %from, project = %project, release = %version, chunks = done.chunks, deltas = done.deltas, bytes = done.bytes, "staged packages fetched")
                }
                Err(e) => {
                    tracing::warn!(from = %from, project = %project, release = %version, error = %e, "fetching staged packages failed; the promotion fetches what is still missing")
                }
            }
        });
    }
    Ok(lacking)
}
