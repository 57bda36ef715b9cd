//! Packages of received bundles checked whole, once per manifest: every chunk present, the
//! bytes reassembling to the package's SHA-256, a safe archive. A check starts as soon as a
//! bundle's packages are complete (offer, end of a fetch), so the import that follows finds
//! it done (or waits for the one running); a check that fails is not kept and runs again.
//! Chunks are content-addressed and checked against their hash whenever read, so a package
//! checked here stays whole.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use package_store::{
    ArchiveFormat, PackageError, PackageManifest, PackageReader, validate_archive, validate_stream,
};
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use crate::error::{ApiError, ApiResult};
use crate::state::SpaceState;

/// Checks remembered at most (then forgotten all at once; they run again when needed).
const KEEP: usize = 4096;

/// Successful checks by manifest (see [`key`]); a cell being filled is a check running.
#[derive(Default)]
pub struct Checked(Mutex<HashMap<[u8; 32], Arc<OnceCell<()>>>>);

/// What a check depends on: the package's name, its whole-file hash, format and chunks.
fn key(m: &PackageManifest) -> [u8; 32] {
    let mut h = Sha256::new();
    for part in [m.id.as_bytes(), m.version.as_bytes(), m.sha256.as_bytes()] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    h.update(m.format.extension().as_bytes());
    for c in &m.chunks {
        h.update(c.hash);
        h.update(c.length.to_be_bytes());
    }
    h.finalize().into()
}

fn cell(state: &SpaceState, m: &PackageManifest) -> Arc<OnceCell<()>> {
    let Ok(mut map) = state.checked_packages.0.lock() else {
        return Arc::default(); // poisoned: check without remembering
    };
    if map.len() >= KEEP {
        map.clear();
    }
    map.entry(key(m)).or_default().clone()
}

/// Checks every package of `manifests` (each once; up to one per core at a time).
pub async fn check_all(state: &Arc<SpaceState>, manifests: &[PackageManifest]) -> ApiResult<()> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let gate = Arc::new(tokio::sync::Semaphore::new(threads));
    let checks = manifests.iter().map(|m| {
        let (state, gate, m) = (state.clone(), gate.clone(), m.clone());
        async move {
            let cell = cell(&state, &m);
            cell.get_or_try_init(|| async move {
                let _permit = gate
                    .acquire_owned()
                    .await
                    .map_err(|e| ApiError::Internal(e.to_string()))?;
                tokio::task::spawn_blocking(move || check(&state, &m))
                    .await
                    .map_err(|e| ApiError::Internal(e.to_string()))?
            })
            .await
            .map(|_| ())
        }
    });
    futures::future::try_join_all(checks).await.map(|_| ())
}

/// Starts checking the packages of a bundle that are complete here, in the background.
pub fn start(state: &Arc<SpaceState>, manifests: Vec<PackageManifest>) {
    let state = state.clone();
    tokio::spawn(async move {
        let s = state.clone();
        let complete = tokio::task::spawn_blocking(move || {
            manifests
                .into_iter()
                .filter(|m| s.chunks.missing(&m.chunks).is_empty())
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
        if let Err(e) = check_all(&state, &complete).await {
            tracing::warn!(error = %e, "a received package failed its check (the import says so)");
        }
    });
}

/// Checks a package is whole here, as a feed upload would be: every chunk present, the bytes
/// reassembling to its SHA-256, and a safe archive (no `..`, absolute paths, escaping links).
fn check(state: &SpaceState, m: &PackageManifest) -> ApiResult<()> {
    let missing = state.chunks.missing(&m.chunks).len();
    if missing > 0 {
        return Err(ApiError::Precondition(format!(
            "package {} {} is missing {missing} of its {} chunks: import its transfer archive first (deploy package import ARCHIVE)",
            m.id,
            m.version,
            m.chunks.len()
        )));
    }
    let bad = |e: PackageError| {
        ApiError::Precondition(format!(
            "package {} {} cannot be imported: {e}",
            m.id, m.version
        ))
    };
    let mut r = PackageReader::new(state.chunks.clone(), m);
    if m.format == ArchiveFormat::TarGz {
        validate_stream(&mut r, m.format, state.limits().extract).map_err(bad)?;
        // The rest (if any), so the whole-file SHA-256 is checked at the end.
        std::io::copy(&mut r, &mut std::io::sink()).map_err(|e| bad(PackageError::from_io(e)))?;
        return Ok(());
    }
    let tmp = super::packages::upload_target(state)?;
    let mut f = std::fs::File::create(&tmp.0)
        .map_err(|e| ApiError::Internal(format!("cannot write {}: {e}", tmp.0.display())))?;
    std::io::copy(&mut r, &mut f).map_err(|e| bad(PackageError::from_io(e)))?;
    drop(f);
    validate_archive(&tmp.0, m.format, state.limits().extract).map_err(bad)?;
    Ok(())
}
