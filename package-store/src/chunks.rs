//! The on-disk content-addressed chunk store (`<root>/<2 hex>/<64 hex>.zst`, zstd, atomic writes).

use std::collections::HashSet;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{ChunkHash, ChunkRef, PackageError};

/// Largest uncompressed chunk the store accepts (ingest never makes chunks over 64 KiB; the
/// headroom is for other chunkers). Also bounds decompression of untrusted chunks.
pub const MAX_CHUNK_LEN: usize = 1 << 20;

/// zstd level used for stored chunks.
pub const ZSTD_LEVEL: i32 = 3;
/// Prefix of in-flight temporary files; never counted or served as chunks.
const TEMP_PREFIX: &str = ".tmp-";

/// BLAKE3 of `data`: the name a chunk with this content has in the store.
pub fn chunk_hash(data: &[u8]) -> ChunkHash {
    *blake3::hash(data).as_bytes()
}

/// Totals over the chunks currently in a store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    pub chunk_count: u64,
    /// Compressed bytes on disk.
    pub stored_bytes: u64,
}

/// Content-addressed chunk store on disk: <root>/<first 2 hex>/<64 hex>.zst, zstd-compressed,
/// written atomically (temp file + rename), so a crash never leaves a partial chunk under its
/// final name.
///
/// Cheap to clone (the clones share one root) and `Send + Sync + 'static`, so it can move into
/// `spawn_blocking`. Every chunk read back is verified against its hash.
#[derive(Debug, Clone)]
pub struct ChunkStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    root: PathBuf,
    /// fsync chunk files (and their directory) before they count as written.
    durable: bool,
}

impl ChunkStore {
    /// Opens (creating if needed) the store rooted at `root`. Writes are durable (fsynced).
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, PackageError> {
        let root = root.into();
        fs::create_dir_all(&root)
            .map_err(|e| PackageError::io_at("cannot create chunk store directory", &root, e))?;
        Ok(ChunkStore {
            inner: Arc::new(Inner {
                root,
                durable: true,
            }),
        })
    }

    /// Turns fsync of new chunks on or off (off is only sensible for scratch stores and tests:
    /// writes stay atomic, but a power loss may then lose recently written chunks).
    pub fn with_durability(self, durable: bool) -> Self {
        ChunkStore {
            inner: Arc::new(Inner {
                root: self.inner.root.clone(),
                durable,
            }),
        }
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    fn shard_dir(&self, h: &ChunkHash) -> PathBuf {
        self.inner.root.join(hex::encode(&h[..1]))
    }

    /// Where the chunk `h` lives (whether or not it exists).
    pub fn chunk_path(&self, h: &ChunkHash) -> PathBuf {
        self.shard_dir(h).join(format!("{}.zst", hex::encode(h)))
    }

    /// Whether a chunk named `h` is stored (its content is only checked when read).
    pub fn contains(&self, h: &ChunkHash) -> bool {
        self.chunk_path(h).is_file()
    }

    /// Stores `data` under `h` after checking `blake3(data) == h`. Returns the compressed bytes
    /// newly written, 0 if the chunk was already present.
    pub fn put(&self, h: &ChunkHash, data: &[u8]) -> Result<u64, PackageError> {
        if chunk_hash(data) != *h {
            return Err(PackageError::ChunkCorrupt {
                hash: hex::encode(h),
            });
        }
        self.put_hashed(h, data, true)
    }

    /// [`put`](Self::put) for a caller that has just computed `h` from `data` itself, optionally
    /// leaving the directory fsync to it ([`sync_shards`](Self::sync_shards)), which batches
    /// that for whole packages.
    pub(crate) fn put_hashed(
        &self,
        h: &ChunkHash,
        data: &[u8],
        sync_dir: bool,
    ) -> Result<u64, PackageError> {
        if data.len() > MAX_CHUNK_LEN {
            return Err(PackageError::ChunkTooLarge {
                len: data.len(),
                max: MAX_CHUNK_LEN,
            });
        }
        if self.contains(h) {
            return Ok(0);
        }
        let compressed = zstd::bulk::compress(data, ZSTD_LEVEL)?;
        self.write_atomic(h, &compressed, sync_dir)
    }

    /// Returns the chunk's uncompressed content, verified against `h`.
    pub fn get(&self, h: &ChunkHash) -> Result<Vec<u8>, PackageError> {
        let raw = self.get_compressed(h)?;
        let corrupt = || PackageError::ChunkCorrupt {
            hash: hex::encode(h),
        };
        let data = decompress_limited(&raw).map_err(|_| corrupt())?;
        if chunk_hash(&data) != *h {
            return Err(corrupt());
        }
        Ok(data)
    }

    /// Returns the chunk exactly as stored (zstd), for transfer; not verified here, the
    /// receiver's [`put_compressed`](Self::put_compressed) does that.
    pub fn get_compressed(&self, h: &ChunkHash) -> Result<Vec<u8>, PackageError> {
        let path = self.chunk_path(h);
        fs::read(&path).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                PackageError::ChunkMissing {
                    hash: hex::encode(h),
                }
            } else {
                PackageError::io_at("cannot read chunk", &path, e)
            }
        })
    }

    /// Stores a chunk received in compressed form, after decompressing it and checking it
    /// hashes to `h`. Returns the bytes newly written, 0 if already present.
    pub fn put_compressed(&self, h: &ChunkHash, zstd_bytes: &[u8]) -> Result<u64, PackageError> {
        let corrupt = || PackageError::ChunkCorrupt {
            hash: hex::encode(h),
        };
        let data = decompress_limited(zstd_bytes).map_err(|_| corrupt())?;
        if chunk_hash(&data) != *h {
            return Err(corrupt());
        }
        if self.contains(h) {
            return Ok(0);
        }
        self.write_atomic(h, zstd_bytes, true)
    }

    /// Deletes a chunk (for garbage collection). Returns whether it existed.
    pub fn remove(&self, h: &ChunkHash) -> Result<bool, PackageError> {
        let path = self.chunk_path(h);
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(PackageError::io_at("cannot delete chunk", &path, e)),
        }
    }

    /// Counts the stored chunks and their on-disk size (ignores temporary files).
    pub fn stats(&self) -> Result<StoreStats, PackageError> {
        let mut stats = StoreStats::default();
        let root = &self.inner.root;
        let dirs = fs::read_dir(root)
            .map_err(|e| PackageError::io_at("cannot list chunk store", root, e))?;
        for dir in dirs {
            let dir = dir?;
            let shard = dir.file_name();
            let Some(shard) = shard.to_str() else {
                continue;
            };
            if shard.len() != 2 || !is_lower_hex(shard) || !dir.file_type()?.is_dir() {
                continue;
            }
            let files = fs::read_dir(dir.path())
                .map_err(|e| PackageError::io_at("cannot list chunk store", &dir.path(), e))?;
            for file in files {
                let file = file?;
                let name = file.file_name();
                let Some(name) = name.to_str() else { continue };
                let Some(stem) = name.strip_suffix(".zst") else {
                    continue;
                };
                if stem.len() != 64 || !is_lower_hex(stem) || !stem.starts_with(shard) {
                    continue;
                }
                let meta = match file.metadata() {
                    Ok(m) => m,
                    // Removed concurrently (garbage collection): just not counted.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e.into()),
                };
                if meta.is_file() {
                    stats.chunk_count += 1;
                    stats.stored_bytes += meta.len();
                }
            }
        }
        Ok(stats)
    }

    /// The refs whose chunks are not stored, in first-seen order, each hash once.
    pub fn missing(&self, refs: &[ChunkRef]) -> Vec<ChunkRef> {
        let mut seen = HashSet::new();
        refs.iter()
            .filter(|r| seen.insert(r.hash) && !self.contains(&r.hash))
            .copied()
            .collect()
    }

    /// fsyncs the shard directories of `hashes`, making earlier renames into them durable.
    pub(crate) fn sync_shards<'a>(
        &self,
        hashes: impl IntoIterator<Item = &'a ChunkHash>,
    ) -> Result<(), PackageError> {
        if !self.inner.durable {
            return Ok(());
        }
        let shards: HashSet<u8> = hashes.into_iter().map(|h| h[0]).collect();
        for shard in shards {
            sync_dir(&self.shard_dir(&[shard; 32]))?;
        }
        Ok(())
    }

    fn write_atomic(
        &self,
        h: &ChunkHash,
        bytes: &[u8],
        sync_dir_now: bool,
    ) -> Result<u64, PackageError> {
        let dir = self.shard_dir(h);
        fs::create_dir_all(&dir)
            .map_err(|e| PackageError::io_at("cannot create chunk directory", &dir, e))?;
        let mut tmp = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempfile_in(&dir)
            .map_err(|e| PackageError::io_at("cannot create temporary chunk file in", &dir, e))?;
        let tmp_path = tmp.path().to_path_buf();
        tmp.write_all(bytes)
            .map_err(|e| PackageError::io_at("cannot write", &tmp_path, e))?;
        if self.inner.durable {
            tmp.as_file()
                .sync_data()
                .map_err(|e| PackageError::io_at("cannot fsync", &tmp_path, e))?;
        }
        let path = self.chunk_path(h);
        // A concurrent writer of the same chunk writes identical bytes; either rename wins.
        tmp.persist(&path)
            .map_err(|e| PackageError::io_at("cannot move chunk into place at", &path, e.error))?;
        if sync_dir_now && self.inner.durable {
            sync_dir(&dir)?;
        }
        Ok(bytes.len() as u64)
    }
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Decompresses a zstd chunk, refusing output over [`MAX_CHUNK_LEN`] (decompression bombs).
fn decompress_limited(zstd_bytes: &[u8]) -> io::Result<Vec<u8>> {
    let mut decoder = zstd::stream::read::Decoder::with_buffer(zstd_bytes)?;
    let mut out = Vec::with_capacity(64 * 1024);
    (&mut decoder)
        .take(MAX_CHUNK_LEN as u64 + 1)
        .read_to_end(&mut out)?;
    if out.len() > MAX_CHUNK_LEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "chunk too large",
        ));
    }
    Ok(out)
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> Result<(), PackageError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| PackageError::io_at("cannot fsync directory", dir, e))
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> Result<(), PackageError> {
    Ok(())
}

#[cfg(test)]
#[path = "tests/chunks.rs"]
mod tests;
