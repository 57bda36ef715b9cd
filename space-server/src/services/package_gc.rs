//! Garbage collection of the chunk store: the chunks no package of the feed and no pending
//! bundle needs are deleted from packs last written at least a minimum age ago (a transfer
//! archive's chunks wait there for their bundle). Uploads, transfer archive imports and
//! fetches hold `SpaceState::gc_lock` shared from their first chunk to the record that
//! refers to it; a collection holds it alone, so it never deletes a chunk one of them counted
//! as present.

use std::collections::HashSet;
use std::time::Duration;

use package_store::{ChunkHash, GcReport, PackageManifest};
use storage::StoreExt;

use super::packages::PackageService;
use crate::error::{ApiError, ApiResult};
use crate::promotion::{bundles, index};
use crate::state::SpaceState;

/// The manifests of every package in the feed and of every pending bundle. A pending bundle
/// that does not verify stops this when `strict` (its chunks are not known); otherwise it is
/// left out and logged.
pub fn manifests_held(state: &SpaceState, strict: bool) -> ApiResult<Vec<PackageManifest>> {
    let mut out = state.store.all_records::<PackageManifest>("")?;
    for rb in index::pending_bundles(state.store.as_ref())? {
        match bundles::load(state, &rb, false) {
            Ok(v) => out.extend(v.manifests()),
            Err(e) if strict => {
                return Err(ApiError::Precondition(format!(
                    "pending bundle {} cannot be read ({e}), so the chunks it needs are not known: nothing was collected (import or delete it first)",
                    rb.id
                )));
            }
            Err(e) => {
                tracing::warn!(bundle = %rb.id, error = %e, "pending bundle left out: it cannot be read")
            }
        }
    }
    Ok(out)
}

/// The chunks the Space needs: those of every package in the feed and of every pending
/// bundle (verified, so a bundle that does not read stops the collection).
fn needed(state: &SpaceState) -> ApiResult<HashSet<ChunkHash>> {
    let mut live = HashSet::new();
    for m in manifests_held(state, true)? {
        live.extend(m.chunks.iter().map(|c| c.hash));
    }
    Ok(live)
}

impl PackageService {
    /// Deletes the chunks nothing needs from packs at least `min_age` old (`dry_run`: says
    /// what it would free and changes nothing).
    pub async fn collect_garbage(
        &self,
        dry_run: bool,
        min_age: Duration,
        who: &str,
    ) -> ApiResult<GcReport> {
        let _alone = self.state.gc_lock.write().await;
        let state = self.state.clone();
        let report = tokio::task::spawn_blocking(move || -> ApiResult<GcReport> {
            let live = needed(&state)?;
            Ok(state
                .chunks
                .retain(|h| live.contains(h), dry_run, min_age)?)
        })
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
        tracing::info!(
            dry_run,
            chunks = report.removed,
            bytes = report.freed_bytes,
            packs = report.packs_rewritten,
            damaged = report.damaged.len(),
            min_age_secs = min_age.as_secs(),
            by = %who,
            "chunk store garbage collected"
        );
        Ok(report)
    }
}
