//! Opening a chunk store: its pack files read into the index (record headers only), and new
//! packs created. See `chunks.rs` for the store and `pack.rs` for the format.

use std::collections::HashMap;
use std::fs::{self, File};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use super::chunks::{Loc, Writer};
use super::{ChunkHash, PackageError, pack};

pub(crate) fn create_pack(dir: &Path, id: u32) -> Result<File, PackageError> {
    create_pack_file(&dir.join(pack::file_name(id)))
}

/// A new pack file at `path` (refused if it exists), holding just the magic.
pub(crate) fn create_pack_file(path: &Path) -> Result<File, PackageError> {
    let file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| PackageError::io_at("cannot create pack", path, e))?;
    file.write_all_at(pack::MAGIC, 0)
        .map_err(|e| PackageError::io_at("cannot write", path, e))?;
    Ok(file)
}

/// The index, the open packs and the writer of a store just opened.
type Loaded = (HashMap<ChunkHash, Loc>, HashMap<u32, Arc<File>>, Writer);

/// Reads every pack's records into an index; the last pack, if whole, is written on, else a
/// new one is begun (a torn or damaged pack is only ever read).
pub(crate) fn load(packs: &Path, max_stored: u32) -> Result<Loaded, PackageError> {
    crate::staging::clean(packs);
    let mut ids: Vec<u32> = fs::read_dir(packs)
        .map_err(|e| PackageError::io_at("cannot list", packs, e))?
        .filter_map(|e| e.ok().and_then(|e| pack::id_of(&e.path())))
        .collect();
    ids.sort_unstable();
    let mut index = HashMap::new();
    let mut files = HashMap::new();
    let mut last_whole = None;
    for &id in &ids {
        let path = packs.join(pack::file_name(id));
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| PackageError::io_at("cannot open pack", &path, e))?;
        let s = pack::scan(&file, max_stored)
            .map_err(|e| PackageError::io_at("cannot read pack", &path, e))?;
        if let Some(why) = &s.stopped {
            tracing::warn!(pack = %path.display(), records = s.records.len(), reason = %why, "a pack is read up to where it is whole (a write cut by a crash, or damage); chunks after it are missing");
        }
        for r in &s.records {
            index.entry(r.hash).or_insert(Loc {
                pack: id,
                offset: r.offset,
                len: r.len,
            });
        }
        let file = Arc::new(file);
        last_whole = s.stopped.is_none().then(|| (id, file.clone(), s.valid_len));
        files.insert(id, file);
    }
    let writer = match (last_whole, ids.last()) {
        (Some((id, file, len)), _) => Writer {
            id,
            file,
            len,
            next: id + 1,
        },
        (None, last) => {
            let id = last.map_or(1, |l| l + 1);
            let file = Arc::new(create_pack(packs, id)?);
            files.insert(id, file.clone());
            Writer {
                id,
                file,
                len: pack::MAGIC.len() as u64,
                next: id + 1,
            }
        }
    };
    Ok((index, files, writer))
}
