//! Packages by file: this Space's chunk inventory, the transfer archive of a bundle's packages
//! (only the chunks the target's inventory lacks, changed chunks as deltas when smaller), and
//! importing an archive into the chunk store (every chunk verified before it is stored).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use domain::model::Promotion;
use exchange::bundle::VerifiedBundle;
use package_store::PackageManifest;
use package_store::transfer::{ExportOptions, ExportStats, ImportStats, Inventory, TransferError};
use storage::StoreExt;

use super::{bundle_error, peering};
use crate::error::{ApiError, ApiResult};
use crate::state::SpaceState;

fn transfer_error(e: TransferError) -> ApiError {
    match e {
        TransferError::Io(e) => ApiError::Internal(e.to_string()),
        TransferError::Store(e) => ApiError::Package(e),
        TransferError::MissingSource { .. } => ApiError::Precondition(e.to_string()),
        e => ApiError::Invalid(e.to_string()),
    }
}

fn blocking_error(e: tokio::task::JoinError) -> ApiError {
    ApiError::Internal(format!("background task failed: {e}"))
}

/// This Space's inventory file.
pub async fn inventory(state: &Arc<SpaceState>) -> ApiResult<Vec<u8>> {
    let state = state.clone();
    tokio::task::spawn_blocking(move || {
        let held = crate::services::package_gc::manifests_held(&state, false)?;
        let inv = Inventory::compact(&state.chunks, &state.name, &held).map_err(transfer_error)?;
        let mut out = Vec::with_capacity(inv.len() * 32 + inv.packages().len() * 64 + 64);
        inv.write_to(&mut out).map_err(transfer_error)?;
        tracing::info!(
            packages = inv.packages().len(),
            chunks = inv.len(),
            bytes = out.len(),
            "chunk inventory written"
        );
        Ok(out)
    })
    .await
    .map_err(blocking_error)?
}

/// A temporary file in the Space's tmp directory, removed when dropped.
pub struct TempFile(pub PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn temp_path(state: &SpaceState, what: &str) -> ApiResult<TempFile> {
    let mut r = [0u8; 8];
    secrets::random_bytes(&mut r)?;
    Ok(TempFile(
        state.tmp_dir().join(format!("{what}-{}", hex::encode(r))),
    ))
}

/// Writes the transfer archive for a bundle this Space signed into a temporary file.
pub async fn export(
    state: &Arc<SpaceState>,
    bundle: Vec<u8>,
    inventory: Option<Vec<u8>>,
) -> ApiResult<(TempFile, ExportStats, u64)> {
    let p = peering(state)?;
    let v = match exchange::bundle::verify_signed_by(&bundle, &p.cert) {
        Ok(v) => v,
        // Signed before this Space's certificate was rotated: ours if we recorded sending it.
        Err(exchange::bundle::BundleError::Untrusted { .. }) => {
            promoted_here(state, &bundle)?.ok_or_else(|| {
                ApiError::Precondition(format!(
                    "this bundle was not written by Space '{}': export packages from the Space that promoted the release",
                    p.me
                ))
            })?
        }
        Err(e) => return Err(bundle_error(e)),
    };
    let inventory = match inventory {
        None => None,
        Some(bytes) => {
            let mut inv = Inventory::read_from(bytes.as_slice()).map_err(transfer_error)?;
            if !inv.space.eq_ignore_ascii_case(&v.contents.target_space) {
                return Err(ApiError::Invalid(format!(
                    "the inventory is of space '{}' but the bundle is for '{}': make the inventory in the target Space",
                    inv.space, v.contents.target_space
                )));
            }
            // The packages the target holds whole count by this Space's own manifests.
            let r = inv.resolve(|id, version| state.package(id, version).ok().map(|m| m.chunks));
            tracing::debug!(
                matched = r.matched,
                unknown = r.unknown,
                "inventory packages resolved"
            );
            Some(inv)
        }
    };
    let manifests = v.manifests();
    let mut bases: Vec<PackageManifest> = Vec::new();
    for m in &manifests {
        bases.extend(
            state
                .package_versions(&m.id)?
                .into_iter()
                .filter(|b| b.version != m.version),
        );
    }
    let package_bytes = manifests.iter().map(|m| m.size).sum::<u64>();
    let tmp = temp_path(state, "export")?;
    let path = tmp.0.clone();
    let st = state.clone();
    let stats = tokio::task::spawn_blocking(move || -> ApiResult<ExportStats> {
        let file = std::fs::File::create(&path)
            .map_err(|e| ApiError::Internal(format!("cannot create {}: {e}", path.display())))?;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        let opts = ExportOptions {
            inventory: inventory.as_ref(),
            bases: &bases,
        };
        let stats =
            package_store::transfer::export(&st.chunks, &manifests, opts, &mut out, &mut |_, _| {})
                .map_err(transfer_error)?;
        out.flush()
            .map_err(|e| ApiError::Internal(format!("cannot write {}: {e}", path.display())))?;
        Ok(stats)
    })
    .await
    .map_err(blocking_error)??;
    tracing::info!(
        bundle = %v.contents.bundle_id, to_space = %v.contents.target_space,
        chunks = stats.chunks, deltas = stats.deltas, skipped = stats.skipped,
        bytes = stats.bytes, package_bytes, "transfer archive written"
    );
    Ok((tmp, stats, package_bytes))
}

/// A bundle this Space signed with an earlier certificate: accepted when its payload digest is
/// that of a promotion this Space recorded (so its contents are what this Space wrote).
fn promoted_here(state: &SpaceState, bundle: &[u8]) -> ApiResult<Option<VerifiedBundle>> {
    use sha2::{Digest, Sha256};
    let Ok(parts) = exchange::bundle::envelope_parts(bundle) else {
        return Ok(None);
    };
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(&parts.payload)));
    #[derive(serde::Deserialize)]
    struct Statement {
        predicate: exchange::bundle::BundleContents,
    }
    // Read to find the promotion it claims to be; used only if that promotion's recorded
    // digest is this payload's.
    let Ok(st) = serde_json::from_slice::<Statement>(&parts.payload) else {
        return Ok(None);
    };
    let recorded = state
        .store
        .get_record::<Promotion>(&st.predicate.bundle_id)?
        .is_some_and(|p| p.digest == digest);
    if !recorded {
        return Ok(None);
    }
    Ok(Some(VerifiedBundle {
        contents: st.predicate,
        digest,
        signer_keyid: parts
            .signatures
            .first()
            .map(|(k, _)| k.clone())
            .unwrap_or_default(),
        schema: exchange::bundle::SCHEMA_VERSION,
    }))
}

/// A place to receive an uploaded archive.
pub fn upload_target(state: &SpaceState) -> ApiResult<TempFile> {
    temp_path(state, "import")
}

/// Imports a received archive file into the chunk store.
pub async fn import(state: &Arc<SpaceState>, path: &Path) -> ApiResult<ImportStats> {
    let _writing = state.gc_lock.read().await;
    let st = state.clone();
    let path = path.to_path_buf();
    let stats = tokio::task::spawn_blocking(move || {
        let file = std::fs::File::open(&path)
            .map_err(|e| ApiError::Internal(format!("cannot open {}: {e}", path.display())))?;
        package_store::transfer::import(&st.chunks, file, &mut |_| {}).map_err(transfer_error)
    })
    .await
    .map_err(blocking_error)?;
    match &stats {
        Ok(s) => {
            tracing::info!(
                chunks = s.chunks,
                new_chunks = s.new_chunks,
                "transfer archive imported"
            )
        }
        Err(e) => tracing::warn!(error = %e, "transfer archive refused"),
    }
    stats
}
