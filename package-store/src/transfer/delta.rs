//! Changed chunks as zstd deltas against chunks the other side holds, for both transfer paths:
//! the transfer archive (the source picks bases from the target's inventory) and the peer link
//! (the target proposes bases from its own older versions; the source checks it may use them).

use super::Inventory;
use crate::ZSTD_LEVEL;
use crate::{ChunkHash, ChunkRef, ChunkStore, MAX_CHUNK_LEN, PackageError, PackageManifest};

/// Largest delta accepted (a delta is never sent unless smaller than the whole chunk).
pub const MAX_DELTA: usize = 2 * MAX_CHUNK_LEN;

/// For each chunk of `m` that `held` lacks, the chunks `held` has (in an older version of the
/// same package among `olds`) worth trying as a delta dictionary, best first (at most two).
pub fn candidates(
    m: &PackageManifest,
    olds: &[PackageManifest],
    held: &Inventory,
) -> Vec<(ChunkHash, Vec<ChunkHash>)> {
    super::bases::candidates(m, olds, held)
        .into_iter()
        .map(|(h, list)| (h, list.into_iter().map(|b| b.hash).collect()))
        .collect()
}

/// Chunk `c` compressed with the best of `bases` (chunks of this store) as dictionary, if one
/// reads and the result is smaller than `whole_len` (the chunk as stored). Best-effort: any
/// problem means the whole chunk goes instead.
pub fn encode(
    store: &ChunkStore,
    c: &ChunkHash,
    bases: &[ChunkHash],
    whole_len: usize,
) -> Option<(ChunkHash, Vec<u8>)> {
    if bases.is_empty() {
        return None;
    }
    let data = store.get(c).ok()?;
    bases
        .iter()
        .filter_map(|b| {
            let dict = store.get(b).ok()?;
            let bytes = zstd::bulk::Compressor::with_dictionary(ZSTD_LEVEL, &dict)
                .ok()?
                .compress(&data)
                .ok()?;
            (bytes.len() < whole_len && bytes.len() <= MAX_DELTA).then_some((*b, bytes))
        })
        .min_by_key(|(_, bytes)| bytes.len())
}

/// Why a delta could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum DeltaError {
    #[error("base chunk {} is not in this store", hex::encode(.0))]
    MissingBase(ChunkHash),
    #[error("the delta does not decode, or decodes to a chunk that does not match its hash")]
    Corrupt,
    #[error(transparent)]
    Store(PackageError),
}

/// Rebuilds chunk `hash` from `delta` (made by [`encode`] against `base`, held here), checks
/// it against its hash and stores it, unsynced: the caller syncs the store once its batch is
/// written ([`ChunkStore::sync`]). Returns whether it was new.
pub fn apply(
    store: &ChunkStore,
    hash: &ChunkHash,
    base: &ChunkHash,
    delta: &[u8],
) -> Result<bool, DeltaError> {
    if delta.len() > MAX_DELTA {
        return Err(DeltaError::Corrupt);
    }
    let dict = store
        .get(base)
        .map_err(|_| DeltaError::MissingBase(*base))?;
    let data = zstd::bulk::Decompressor::with_dictionary(&dict)
        .and_then(|mut d| d.decompress(delta, MAX_CHUNK_LEN))
        .map_err(|_| DeltaError::Corrupt)?;
    let existed = store.contains(hash);
    if crate::chunk_hash(&data) != *hash {
        return Err(DeltaError::Corrupt);
    }
    match store.put_hashed(hash, &data, false) {
        Ok(_) => Ok(!existed),
        Err(PackageError::ChunkCorrupt { .. } | PackageError::ChunkTooLarge { .. }) => {
            Err(DeltaError::Corrupt)
        }
        Err(e) => Err(DeltaError::Store(e)),
    }
}

/// The chunks of `refs` as an inventory of what `store` holds (for [`candidates`]).
pub fn held_of(store: &ChunkStore, space: &str, refs: &[&[ChunkRef]]) -> Inventory {
    Inventory::new(
        space,
        refs.iter()
            .flat_map(|r| r.iter())
            .filter(|c| store.contains(&c.hash))
            .map(|c| c.hash),
    )
}
