//! Quarantine for an upload: its new chunks go to a pack of their own (`packs/staging-*`),
//! invisible to the store, while the upload is still being validated. Validated, the pack is
//! adopted whole (synced, renamed to the next pack number, indexed: no byte copied); refused
//! or abandoned, the file is deleted and the store is as it was. Staging files a crash left
//! behind are deleted when the store opens.

use std::collections::HashMap;
use std::fs::{self, File};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::chunks::{ChunkStore, Loc, MAX_CHUNK_LEN, ZSTD_LEVEL};
use super::{ChunkHash, PackageError, pack};

/// File names of staging packs start with this (never a pack name, so never loaded).
pub(crate) const PREFIX: &str = "staging-";

/// What a stage has written: where each payload lies in its file, and the file's length.
type Written = (HashMap<ChunkHash, (u64, u32)>, u64);

/// New chunks of one upload, held apart from the store until [`Staged::adopt`].
#[derive(Debug)]
pub struct Staged {
    store: ChunkStore,
    path: PathBuf,
    file: File,
    state: Mutex<Written>,
    /// Renamed into the store: nothing to delete when dropped.
    adopted: bool,
}

impl ChunkStore {
    /// Begins a staging pack for one upload.
    pub fn stage(&self) -> Result<Staged, PackageError> {
        // One process holds the store (its lock file): a counter names stages uniquely.
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = self.inner().packs_dir().join(format!("{PREFIX}{n}"));
        let file = crate::open::create_pack_file(&path)?;
        Ok(Staged {
            store: self.clone(),
            path,
            file,
            state: Mutex::new((HashMap::new(), pack::MAGIC.len() as u64)),
            adopted: false,
        })
    }
}

impl Staged {
    /// Stages chunk `h` (computed from `data` by the caller) unless the store or this stage
    /// holds it; returns the compressed bytes written (0 if held).
    pub fn put_hashed(&self, h: &ChunkHash, data: &[u8]) -> Result<u64, PackageError> {
        if data.len() > MAX_CHUNK_LEN {
            return Err(PackageError::ChunkTooLarge {
                len: data.len(),
                max: MAX_CHUNK_LEN,
            });
        }
        if self.store.contains(h) || self.lock()?.0.contains_key(h) {
            return Ok(0);
        }
        let stored = zstd::bulk::compress(data, ZSTD_LEVEL)?;
        let len = u32::try_from(stored.len()).map_err(|_| PackageError::ChunkTooLarge {
            len: stored.len(),
            max: u32::MAX as usize,
        })?;
        let mut record = Vec::with_capacity(pack::HEADER_LEN as usize + stored.len());
        record.extend_from_slice(&pack::header(h, len));
        record.extend_from_slice(&stored);
        let mut st = self.lock()?;
        if st.0.contains_key(h) {
            return Ok(0); // another writer of this upload staged it meanwhile
        }
        let at = st.1;
        self.file
            .write_all_at(&record, at)
            .map_err(|e| PackageError::io_at("cannot write chunk to", &self.path, e))?;
        st.0.insert(*h, (at + pack::HEADER_LEN, len));
        st.1 = at + record.len() as u64;
        Ok(u64::from(len))
    }

    /// Makes the staged chunks part of the store, durably: the file is synced, renamed to the
    /// next pack number (the directory synced) and its records indexed. Returns the chunks
    /// adopted. A stage with nothing in it is just deleted.
    pub fn adopt(mut self) -> Result<usize, PackageError> {
        let records: Vec<(ChunkHash, (u64, u32))> = self.lock()?.0.drain().collect();
        if records.is_empty() {
            return Ok(0);
        }
        if self.store.is_durable() {
            self.file.sync_data()?;
        }
        let file = Arc::new(
            self.file
                .try_clone()
                .map_err(|e| PackageError::io_at("cannot reopen", &self.path, e))?,
        );
        let n = records.len();
        let locate = |id| {
            records
                .into_iter()
                .map(|(h, (offset, len))| {
                    (
                        h,
                        Loc {
                            pack: id,
                            offset,
                            len,
                        },
                    )
                })
                .collect()
        };
        self.store.inner().adopt_pack(&self.path, file, locate)?;
        self.adopted = true;
        Ok(n)
    }

    /// Whether the store itself (not this stage) holds `h`.
    pub(crate) fn store_holds(&self, h: &ChunkHash) -> bool {
        self.store.contains(h)
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Written>, PackageError> {
        self.state
            .lock()
            .map_err(|_| PackageError::Io(std::io::Error::other("a staging lock was poisoned")))
    }
}

impl Drop for Staged {
    /// Not adopted (refused, failed, abandoned): the staged chunks are deleted.
    fn drop(&mut self) {
        if !self.adopted {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Deletes the staging packs of uploads a crash cut short (at open, before anything runs).
pub(crate) fn clean(packs: &std::path::Path) {
    let Ok(dir) = fs::read_dir(packs) else { return };
    for e in dir.flatten() {
        if e.file_name().to_string_lossy().starts_with(PREFIX) {
            tracing::info!(file = %e.path().display(), "staging pack of an interrupted upload deleted");
            let _ = fs::remove_file(e.path());
        }
    }
}

#[cfg(test)]
#[path = "tests/staging.rs"]
mod tests;
