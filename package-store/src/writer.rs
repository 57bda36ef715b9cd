//! Writing a chunk store's packs: appending records to the open pack, closing it and
//! beginning the next, syncing, adopting a staging pack, and the pack bookkeeping garbage
//! collection uses. The store itself, its index and reads are in `chunks.rs`.

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use super::chunks::{ChunkStore, Inner, Loc, MAX_STORED_LEN, PACK_TARGET, Writer, poisoned};
use super::{ChunkHash, PackageError, pack};

impl ChunkStore {
    /// Appends one record to the open pack (a new one past [`PACK_TARGET`]) and indexes it;
    /// `moving`: garbage collection moves a chunk the index has elsewhere.
    pub(crate) fn append(
        &self,
        h: &ChunkHash,
        stored: &[u8],
        sync_now: bool,
        moving: bool,
    ) -> Result<u64, PackageError> {
        let len = u32::try_from(stored.len())
            .ok()
            .filter(|l| *l <= MAX_STORED_LEN)
            .ok_or(PackageError::ChunkTooLarge {
                len: stored.len(),
                max: MAX_STORED_LEN as usize,
            })?;
        let file = {
            let mut w = self.inner().writer.lock().map_err(poisoned)?;
            if !moving && self.contains(h) {
                return Ok(0); // a concurrent writer of the same chunk won
            }
            let record = pack::HEADER_LEN + u64::from(len);
            if w.len > pack::MAGIC.len() as u64 && w.len + record > PACK_TARGET {
                self.roll(&mut w)?;
            }
            let mut buf = Vec::with_capacity(record as usize);
            buf.extend_from_slice(&pack::header(h, len));
            buf.extend_from_slice(stored);
            let path = || self.inner().packs.join(pack::file_name(w.id));
            w.file
                .write_all_at(&buf, w.len)
                .map_err(|e| PackageError::io_at("cannot write chunk to", &path(), e))?;
            let loc = Loc {
                pack: w.id,
                offset: w.len + pack::HEADER_LEN,
                len,
            };
            w.len += record;
            self.inner()
                .index
                .write()
                .map_err(poisoned)?
                .insert(*h, loc);
            w.file.clone()
        };
        if sync_now && self.is_durable() {
            file.sync_data()
                .map_err(|e| PackageError::Io(io::Error::new(e.kind(), e)))?;
        }
        Ok(u64::from(len))
    }

    /// Closes the open pack (synced) and begins the next.
    pub(crate) fn roll(&self, w: &mut Writer) -> Result<(), PackageError> {
        if self.is_durable() {
            w.file.sync_data()?;
        }
        let id = w.next;
        let file = Arc::new(crate::open::create_pack(&self.inner().packs, id)?);
        self.inner()
            .files
            .write()
            .map_err(poisoned)?
            .insert(id, file.clone());
        *w = Writer {
            id,
            file,
            len: pack::MAGIC.len() as u64,
            next: id + 1,
        };
        Ok(())
    }

    /// Makes every chunk written so far durable: one fsync of the open pack (closed packs
    /// were synced as they were closed).
    pub fn sync(&self) -> Result<(), PackageError> {
        if !self.is_durable() {
            return Ok(());
        }
        let file = self.inner().writer.lock().map_err(poisoned)?.file.clone();
        file.sync_data()?;
        Ok(())
    }
}

impl Inner {
    pub(crate) fn packs_dir(&self) -> &Path {
        &self.packs
    }

    /// The number the next pack will get: every pack there is has a lower one.
    pub(crate) fn next_pack(&self) -> Result<u32, PackageError> {
        Ok(self.writer.lock().map_err(poisoned)?.next)
    }

    /// The pack being written to, closed (synced) so that everything before it (staging
    /// packs adopted after it included) can be rewritten; returns the first pack number not
    /// closed.
    pub(crate) fn close_open_pack(&self, store: &ChunkStore) -> Result<u32, PackageError> {
        let mut w = self.writer.lock().map_err(poisoned)?;
        if w.len > pack::MAGIC.len() as u64 || w.next > w.id + 1 {
            store.roll(&mut w)?;
        }
        Ok(w.id)
    }

    /// Makes a synced staging pack the next pack: renamed (the directory synced when the
    /// store is durable), opened for reading, its records (`locate(id)`) indexed where the index has
    /// no copy yet. The open pack stays the one written to.
    pub(crate) fn adopt_pack(
        &self,
        from: &Path,
        file: Arc<File>,
        locate: impl FnOnce(u32) -> Vec<(ChunkHash, Loc)>,
    ) -> Result<(), PackageError> {
        let mut w = self.writer.lock().map_err(poisoned)?;
        let id = w.next;
        let to = self.packs.join(pack::file_name(id));
        fs::rename(from, &to).map_err(|e| PackageError::io_at("cannot rename", from, e))?;
        if self.durable.load(std::sync::atomic::Ordering::Relaxed) {
            File::open(&self.packs)
                .and_then(|d| d.sync_all())
                .map_err(|e| PackageError::io_at("cannot sync", &self.packs, e))?;
        }
        w.next = id + 1;
        self.files.write().map_err(poisoned)?.insert(id, file);
        let mut index = self.index.write().map_err(poisoned)?;
        for (h, loc) in locate(id) {
            index.entry(h).or_insert(loc);
        }
        Ok(())
    }

    /// Forgets pack `id` (its file is being deleted).
    pub(crate) fn drop_pack(&self, id: u32) -> Result<(), PackageError> {
        self.files.write().map_err(poisoned)?.remove(&id);
        Ok(())
    }

    pub(crate) fn reopen_pack(&self, id: u32) -> Option<Arc<File>> {
        self.files.read().ok()?.get(&id).cloned()
    }
}
