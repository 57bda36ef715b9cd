//! The target side of a promotion: bundles are added (verified, kept pending), inspected, and
//! imported, which verifies them again, checks every package against its SHA-256, and creates
//! or updates the Remote Project and its release in one atomic batch.

use std::path::PathBuf;

use domain::model::{BundleState, ReceivedBundle};
use exchange::bundle::VerifiedBundle;
use package_store::PackageManifest;
use proto::odcm::v1 as odcm_pb;
use storage::{Batch, StoreExt};

use super::{audit, bundle_error, peering, trusted_for};
use crate::error::{ApiError, ApiResult};
use crate::state::{SpaceState, now};

fn dir(state: &SpaceState) -> PathBuf {
    state.data_dir.join("bundles")
}

/// Makes a new directory entry durable.
fn sync_dir(dir: &std::path::Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

fn file_of(state: &SpaceState, id: &str) -> PathBuf {
    dir(state).join(format!("{id}.json"))
}

/// Verifies a bundle file for this Space: signature by a Space trusted for releases, schema,
/// target, and that this Space's key opens every sensitive value. A refusal is reported to the
/// audit log when `report` (a bundle arriving or being imported, not one being listed).
fn check(state: &SpaceState, bytes: &[u8], report: bool) -> ApiResult<VerifiedBundle> {
    let p = peering(state)?;
    let refuse = |e: exchange::bundle::BundleError| {
        let msg = e.to_string();
        if !report {
            return bundle_error(e);
        }
        tracing::warn!(error = %msg, "release bundle refused");
        audit(
            state,
            odcm_pb::EventKind::BundleRefused,
            &super::claimed_sender(bytes, "/predicate/source_space"),
            "release bundle",
            &format!("{msg} (sender as the file claims it)"),
        );
        bundle_error(e)
    };
    let v = exchange::bundle::verify(bytes, &p.me, trusted_for(p, odcm_pb::TrustKind::Releases))
        .map_err(refuse)?;
    if report {
        // Arriving or importing: this Space's key must open every value.
        v.decrypt_sensitive(&p.identity.key_pem).map_err(refuse)?;
    }
    Ok(v)
}

/// Finds a received bundle by id or an unambiguous prefix (at least 6 characters).
pub fn find(state: &SpaceState, id: &str) -> ApiResult<ReceivedBundle> {
    let id = id.trim().to_ascii_lowercase();
    if id.len() < 6 {
        return Err(ApiError::Invalid(
            "give at least 6 characters of the bundle id (deploy bundle list)".into(),
        ));
    }
    // Ids are lowercase hex, the record keys: two keys under the prefix make it ambiguous.
    let mut all = Vec::new();
    for (k, v) in state
        .store
        .scan(<ReceivedBundle as storage::Record>::TABLE, &id, None, 2)?
    {
        all.push(storage::decode::<ReceivedBundle>(&k, &v)?);
    }
    match all.len() {
        1 => Ok(all
            .into_iter()
            .next()
            .ok_or_else(|| ApiError::not_found("bundle", &id))?),
        0 => Err(ApiError::not_found("bundle", id)),
        n => Err(ApiError::Invalid(format!(
            "'{id}' matches {n} bundles: give more of the id"
        ))),
    }
}

/// Verified bundles kept in memory at most (pending ones, in practice).
const KEEP_VERIFIED: usize = 64;

/// A received bundle, verified: the copy verified when it arrived (kept in memory, so it is
/// not read and checked again while pending) as long as its signer is still trusted for
/// releases, else its file read and verified again (`report`: audit a refusal).
pub fn load(state: &SpaceState, b: &ReceivedBundle, report: bool) -> ApiResult<VerifiedBundle> {
    let kept = state
        .verified_bundles
        .lock()
        .ok()
        .and_then(|m| m.get(&b.id).cloned())
        .filter(|v| v.digest == b.digest);
    if let Some(v) = kept
        && trusted_for(peering(state)?, odcm_pb::TrustKind::Releases)(&v.signer_keyid).is_some()
    {
        return Ok(VerifiedBundle::clone(&v));
    }
    let path = file_of(state, &b.id);
    let bytes = std::fs::read(&path).map_err(|e| {
        ApiError::Internal(format!("cannot read bundle file {}: {e}", path.display()))
    })?;
    let v = check(state, &bytes, report)?;
    if v.digest != b.digest {
        return Err(ApiError::Internal(format!(
            "bundle file {} no longer matches the bundle that was added",
            path.display()
        )));
    }
    if report {
        keep(state, &b.id, &v);
    }
    Ok(v)
}

/// Keeps a bundle verified for this Space (its key opened every value) for [`load`].
fn keep(state: &SpaceState, id: &str, v: &VerifiedBundle) {
    if let Ok(mut m) = state.verified_bundles.lock() {
        if m.len() >= KEEP_VERIFIED {
            m.clear(); // rare (that many pending at once): they are read from disk again
        }
        m.insert(id.to_string(), std::sync::Arc::new(v.clone()));
    }
}

/// Forgets the verified copy of a bundle that is no longer pending.
pub fn forget(state: &SpaceState, id: &str) {
    if let Ok(mut m) = state.verified_bundles.lock() {
        m.remove(id);
    }
}

/// Verifies a bundle file and keeps it pending. Adding the same bundle again changes nothing.
/// Runs on a blocking thread. The record is committed first, then the file written: a
/// concurrent add of another bundle with the same id loses at the insert and never touches
/// the file; a crash in between leaves a record whose file the sender's next delivery writes.
pub fn add(state: &SpaceState, bytes: &[u8], who: &str) -> ApiResult<ReceivedBundle> {
    let v = check(state, bytes, true)?;
    let c = &v.contents;
    if let Some(old) = state.store.get_record::<ReceivedBundle>(&c.bundle_id)? {
        return added_before(state, old, &v, bytes);
    }
    let rec = ReceivedBundle {
        id: c.bundle_id.clone(),
        digest: v.digest.clone(),
        source_space: c.source_space.clone(),
        project: c.project.name.clone(),
        version: c.release.version.clone(),
        created_at: c.created_at,
        added_at: now(),
        added_by: who.to_string(),
        bytes: bytes.len() as u64,
        state: BundleState::Pending,
    };
    let mut b = Batch::new();
    super::index::put_bundle(&mut b, &rec, true)?;
    match state.commit_blocking(b) {
        Ok(()) => {}
        Err(storage::StorageError::Conflict { .. }) => {
            let old = find(state, &c.bundle_id)?;
            return added_before(state, old, &v, bytes);
        }
        Err(e) => return Err(e.into()),
    }
    write_file(state, &rec.id, bytes)?;
    keep(state, &rec.id, &v);
    tracing::info!(bundle = %rec.id, from = %rec.source_space, project = %rec.project, release = %rec.version, by = %who, "release bundle added");
    Ok(rec)
}

/// Adding a bundle whose id is known: the same bundle changes nothing (its file is written if
/// it is missing), another one is refused.
fn added_before(
    state: &SpaceState,
    old: ReceivedBundle,
    v: &VerifiedBundle,
    bytes: &[u8],
) -> ApiResult<ReceivedBundle> {
    if old.digest != v.digest {
        return Err(ApiError::Precondition(format!(
            "another bundle with id {} was added before (digest {}, this one {}): ids must be unique; ask '{}' to promote again",
            old.id, old.digest, v.digest, v.contents.source_space
        )));
    }
    if !file_of(state, &old.id).exists() {
        write_file(state, &old.id, bytes)?;
    }
    Ok(old)
}

fn write_file(state: &SpaceState, id: &str, bytes: &[u8]) -> ApiResult<()> {
    let path = file_of(state, id);
    secrets::write_private_file(&path, bytes)
        .and_then(|()| sync_dir(&dir(state)))
        .map_err(|e| {
            ApiError::Internal(format!("cannot write bundle file {}: {e}", path.display()))
        })
}

/// How many of each package's chunks this Space lacks.
pub fn missing_chunks(state: &SpaceState, v: &VerifiedBundle) -> Vec<(PackageManifest, usize)> {
    v.manifests()
        .into_iter()
        .map(|m| {
            let n = state.chunks.missing(&m.chunks).len();
            (m, n)
        })
        .collect()
}
