//! The on-disk content-addressed chunk store: zstd chunks appended to pack files
//! (`<root>/packs/pack-NNNNNNNN.pack`, format in [`crate::pack`]) with an index in memory
//! built at open, one fsync per batch instead of per chunk, every chunk verified against its
//! hash when read. A store of the older layout (a file per chunk) is migrated at open.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use super::pack;
use super::{ChunkHash, ChunkRef, PackageError};

/// Largest uncompressed chunk the store accepts (ingest never makes chunks over 64 KiB; the
/// headroom is for other chunkers). Also bounds decompression of untrusted chunks.
pub const MAX_CHUNK_LEN: usize = 1 << 20;

/// zstd level used for stored chunks.
pub const ZSTD_LEVEL: i32 = 3;

/// A pack is closed and a new one begun past this size.
pub const PACK_TARGET: u64 = 64 << 20;

/// Largest stored (compressed) chunk: zstd's bound for [`MAX_CHUNK_LEN`], rounded up.
pub(crate) const MAX_STORED_LEN: u32 = (MAX_CHUNK_LEN + (MAX_CHUNK_LEN >> 7) + 4096) as u32;

/// BLAKE3 of `data`: the name a chunk with this content has in the store.
pub fn chunk_hash(data: &[u8]) -> ChunkHash {
    *blake3::hash(data).as_bytes()
}

/// Totals over the chunks currently in a store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    pub chunk_count: u64,
    /// Compressed bytes of the chunks (pack headers and dead records not counted).
    pub stored_bytes: u64,
    /// Pack files and their bytes on disk (what `stored_bytes` does not count is record
    /// headers and chunks deleted or written twice, which a collection reclaims).
    pub pack_files: u64,
    pub pack_bytes: u64,
}

/// Content-addressed chunk store on disk. Cheap to clone (clones share one store) and
/// `Send + Sync + 'static`, so it can move into `spawn_blocking`. One process opens a store
/// at a time (a lock file in `packs/`).
#[derive(Debug, Clone)]
pub struct ChunkStore {
    inner: Arc<Inner>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Loc {
    pub pack: u32,
    pub offset: u64,
    pub len: u32,
}

#[derive(Debug)]
pub(crate) struct Writer {
    pub id: u32,
    pub file: Arc<File>,
    pub len: u64,
    /// The number the next pack gets (the writer's next, or an adopted staging pack).
    pub next: u32,
}

#[derive(Debug)]
pub(crate) struct Inner {
    root: PathBuf,
    pub(crate) packs: PathBuf,
    /// fsync packs before chunks count as written.
    pub(crate) durable: AtomicBool,
    pub(crate) index: RwLock<HashMap<ChunkHash, Loc>>,
    pub(crate) writer: Mutex<Writer>,
    pub(crate) files: RwLock<HashMap<u32, Arc<File>>>,
    _lock: File,
}

pub(crate) fn poisoned<T>(_: T) -> PackageError {
    PackageError::Io(io::Error::other("the chunk store's lock was poisoned"))
}

impl ChunkStore {
    /// Opens (creating if needed) the store rooted at `root`: reads the packs' record headers
    /// into the index and migrates chunks kept in the older one-file-per-chunk layout.
    /// Writes are durable (fsynced).
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, PackageError> {
        let root = root.into();
        let packs = root.join("packs");
        fs::create_dir_all(&packs)
            .map_err(|e| PackageError::io_at("cannot create chunk store directory", &packs, e))?;
        let lock_path = packs.join(".lock");
        let lock = File::create(&lock_path)
            .map_err(|e| PackageError::io_at("cannot create", &lock_path, e))?;
        lock.try_lock().map_err(|_| {
            PackageError::Io(io::Error::other(format!(
                "the chunk store at {} is in use by another process",
                root.display()
            )))
        })?;
        let (index, files, writer) = crate::open::load(&packs, MAX_STORED_LEN)?;
        let store = ChunkStore {
            inner: Arc::new(Inner {
                root,
                packs,
                durable: AtomicBool::new(true),
                index: RwLock::new(index),
                writer: Mutex::new(writer),
                files: RwLock::new(files),
                _lock: lock,
            }),
        };
        crate::migrate::from_chunk_files(&store)?;
        Ok(store)
    }

    /// Turns fsync of new chunks on or off for this store and its clones (off is only
    /// sensible for scratch stores and tests: a power loss may then lose recent chunks).
    pub fn with_durability(self, durable: bool) -> Self {
        self.inner.durable.store(durable, Ordering::Relaxed);
        self
    }

    /// Whether new chunks are fsynced (see [`with_durability`](Self::with_durability)).
    pub(crate) fn is_durable(&self) -> bool {
        self.inner.durable.load(Ordering::Relaxed)
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// Where a chunk's stored bytes lie: its pack file, the payload's offset and length (for
    /// checking tools and tests).
    pub fn location(&self, h: &ChunkHash) -> Option<(PathBuf, u64, u32)> {
        let loc = self.loc(h)?;
        Some((
            self.inner.packs.join(pack::file_name(loc.pack)),
            loc.offset,
            loc.len,
        ))
    }

    fn loc(&self, h: &ChunkHash) -> Option<Loc> {
        self.inner.index.read().ok()?.get(h).copied()
    }

    /// Whether a chunk named `h` is stored (its content is only checked when read).
    pub fn contains(&self, h: &ChunkHash) -> bool {
        self.loc(h).is_some()
    }

    /// Every stored chunk's name.
    pub fn hashes(&self) -> Result<Vec<ChunkHash>, PackageError> {
        Ok(self
            .inner
            .index
            .read()
            .map_err(poisoned)?
            .keys()
            .copied()
            .collect())
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

    /// [`put`](Self::put) for a caller that has just computed `h` from `data` itself,
    /// optionally leaving the fsync to it ([`sync`](Self::sync)), which batches that for
    /// whole packages.
    pub(crate) fn put_hashed(
        &self,
        h: &ChunkHash,
        data: &[u8],
        sync_now: bool,
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
        self.append(h, &compressed, sync_now, false)
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
    /// receiver's [`put_compressed`](Self::put_compressed) does that. A pack cut short under
    /// it reads as a damaged chunk.
    pub fn get_compressed(&self, h: &ChunkHash) -> Result<Vec<u8>, PackageError> {
        let mut buf = Vec::new();
        self.get_compressed_into(h, &mut buf)?;
        Ok(buf)
    }

    /// [`get_compressed`](Self::get_compressed) into `buf` (replacing what it held; its
    /// memory is reused: a reader of many chunks allocates once).
    pub fn get_compressed_into(
        &self,
        h: &ChunkHash,
        buf: &mut Vec<u8>,
    ) -> Result<(), PackageError> {
        let missing = || PackageError::ChunkMissing {
            hash: hex::encode(h),
        };
        let loc = self.loc(h).ok_or_else(missing)?;
        let file = self
            .inner
            .files
            .read()
            .map_err(poisoned)?
            .get(&loc.pack)
            .cloned()
            .ok_or_else(missing)?;
        buf.clear();
        buf.resize(loc.len as usize, 0);
        file.read_exact_at(buf, loc.offset).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                PackageError::ChunkCorrupt {
                    hash: hex::encode(h),
                }
            } else {
                let path = self.inner.packs.join(pack::file_name(loc.pack));
                PackageError::io_at("cannot read chunk from", &path, e)
            }
        })
    }

    /// [`get_compressed`](Self::get_compressed), checked against `h` first (what goes into a
    /// file that travels: a damaged chunk is named here, not after the trip).
    pub fn get_compressed_verified(&self, h: &ChunkHash) -> Result<Vec<u8>, PackageError> {
        let raw = self.get_compressed(h)?;
        if !decompress_limited(&raw).is_ok_and(|d| chunk_hash(&d) == *h) {
            return Err(PackageError::ChunkCorrupt {
                hash: hex::encode(h),
            });
        }
        Ok(raw)
    }

    /// Stores a chunk received in compressed form, after decompressing it and checking it
    /// hashes to `h`. Returns the bytes newly written, 0 if already present.
    pub fn put_compressed(&self, h: &ChunkHash, zstd_bytes: &[u8]) -> Result<u64, PackageError> {
        self.put_compressed_then(h, zstd_bytes, true)
    }

    /// [`put_compressed`](Self::put_compressed) leaving the fsync to a later
    /// [`sync`](Self::sync) (a fetch stores a batch, then syncs once).
    pub fn put_compressed_unsynced(
        &self,
        h: &ChunkHash,
        zstd_bytes: &[u8],
    ) -> Result<u64, PackageError> {
        self.put_compressed_then(h, zstd_bytes, false)
    }

    fn put_compressed_then(
        &self,
        h: &ChunkHash,
        zstd_bytes: &[u8],
        sync_now: bool,
    ) -> Result<u64, PackageError> {
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
        self.append(h, zstd_bytes, sync_now, false)
    }

    /// Deletes a chunk: the packs holding it are written again without it. Returns whether
    /// it existed.
    pub fn remove(&self, h: &ChunkHash) -> Result<bool, PackageError> {
        Ok(crate::gc::retain(self, |x| x != h, false, Duration::ZERO)?.removed > 0)
    }

    /// Keeps the chunks for which `keep` is true and deletes the others from the packs last
    /// written at least `min_age` ago (`dry_run`: only reports what it would free). See
    /// [`crate::gc`].
    pub fn retain(
        &self,
        keep: impl Fn(&ChunkHash) -> bool,
        dry_run: bool,
        min_age: Duration,
    ) -> Result<crate::GcReport, PackageError> {
        crate::gc::retain(self, keep, dry_run, min_age)
    }

    /// Counts the stored chunks and their compressed size.
    pub fn stats(&self) -> Result<StoreStats, PackageError> {
        let (chunk_count, stored_bytes) = {
            let index = self.inner.index.read().map_err(poisoned)?;
            (
                index.len() as u64,
                index.values().map(|l| u64::from(l.len)).sum(),
            )
        };
        let files: Vec<Arc<File>> = self
            .inner
            .files
            .read()
            .map_err(poisoned)?
            .values()
            .cloned()
            .collect();
        let mut pack_bytes = 0;
        for f in &files {
            pack_bytes += f.metadata()?.len();
        }
        Ok(StoreStats {
            chunk_count,
            stored_bytes,
            pack_files: files.len() as u64,
            pack_bytes,
        })
    }

    /// The refs whose chunks are not stored, in first-seen order, each hash once.
    pub fn missing(&self, refs: &[ChunkRef]) -> Vec<ChunkRef> {
        let mut seen = HashSet::new();
        refs.iter()
            .filter(|r| seen.insert(r.hash) && !self.contains(&r.hash))
            .copied()
            .collect()
    }

    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }
}

/// Decompresses a zstd chunk, refusing output over [`MAX_CHUNK_LEN`] (decompression bombs).
pub(crate) fn decompress_limited(zstd_bytes: &[u8]) -> io::Result<Vec<u8>> {
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

#[cfg(test)]
#[path = "tests/chunks.rs"]
mod tests;
