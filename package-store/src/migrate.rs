//! The older chunk store layout — a file per chunk, `<root>/<2 hex>/<64 hex>.zst` — moved
//! into packs at open: each chunk verified, appended, the packs synced, and only then the old
//! files deleted, so a crash in the middle leaves the rest to the next open. A chunk that
//! does not verify is left where it is and named.

use std::fs;
use std::path::Path;

use super::chunks::{ChunkStore, chunk_hash, decompress_limited};
use super::{ChunkHash, PackageError};

fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A chunk file's stem: 64 lowercase hex digits.
fn parse_hash(s: &str) -> Option<ChunkHash> {
    if s.len() != 64 || !is_lower_hex(s) {
        return None;
    }
    let mut h = [0u8; 32];
    hex::decode_to_slice(s, &mut h).ok()?;
    Some(h)
}

/// The shard directories of the older layout under `root`.
fn shards(root: &Path) -> Result<Vec<std::path::PathBuf>, PackageError> {
    let mut out = Vec::new();
    for e in fs::read_dir(root).map_err(|e| PackageError::io_at("cannot list", root, e))? {
        let e = e?;
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.len() == 2 && is_lower_hex(name) && e.file_type()?.is_dir() {
            out.push(e.path());
        }
    }
    out.sort();
    Ok(out)
}

/// Moves every chunk file of the older layout into packs.
pub fn from_chunk_files(store: &ChunkStore) -> Result<(), PackageError> {
    let shards = shards(store.root())?;
    if shards.is_empty() {
        return Ok(());
    }
    let (mut moved, mut damaged) = (0u64, Vec::new());
    let mut done = Vec::new();
    for dir in &shards {
        for e in fs::read_dir(dir).map_err(|e| PackageError::io_at("cannot list", dir, e))? {
            let path = e?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.starts_with(".tmp-") {
                done.push(path); // a write cut by a crash in the older layout
                continue;
            }
            let Some(h) = name.strip_suffix(".zst").and_then(parse_hash) else {
                continue;
            };
            let bytes =
                fs::read(&path).map_err(|e| PackageError::io_at("cannot read", &path, e))?;
            if !decompress_limited(&bytes).is_ok_and(|d| chunk_hash(&d) == h) {
                tracing::error!(chunk = %hex::encode(h), file = %path.display(), "a chunk of the older layout does not match its hash: left in place, not moved");
                damaged.push(hex::encode(h));
                continue;
            }
            store.append(&h, &bytes, false, false)?;
            moved += 1;
            done.push(path);
        }
    }
    store.sync()?;
    for path in &done {
        fs::remove_file(path).map_err(|e| PackageError::io_at("cannot delete", path, e))?;
    }
    for dir in &shards {
        let _ = fs::remove_dir(dir); // stays if a damaged chunk is left in it
    }
    tracing::info!(
        chunks = moved,
        damaged = damaged.len(),
        "chunk store moved into pack files"
    );
    Ok(())
}

#[cfg(test)]
#[path = "tests/migrate.rs"]
mod tests;
