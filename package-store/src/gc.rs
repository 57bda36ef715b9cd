//! Reclaiming chunks no one needs: the closed packs holding any chunk `keep` refuses are
//! written again with only the chunks kept (each verified on the way: a damaged one is left
//! out and named), synced, and only then deleted, so a crash in the middle leaves at worst a
//! chunk in two packs, never in none.

use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::FileExt;
use std::time::{Duration, SystemTime};

use super::chunks::{ChunkStore, Loc, chunk_hash, decompress_limited};
use super::{ChunkHash, PackageError, pack};

/// What [`retain`] did (or, on a dry run, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Chunks deleted.
    pub removed: u64,
    /// Bytes on disk freed (packs deleted less the kept chunks written again).
    pub freed_bytes: u64,
    /// Packs written again.
    pub packs_rewritten: u64,
    /// Chunks found damaged while being moved (left out).
    pub damaged: Vec<String>,
}

/// Keeps the chunks for which `keep` is true and deletes the others (`dry_run`: only says
/// what it would free) from the packs last written at least `min_age` ago. Chunks written
/// while it runs are in packs it does not touch.
pub fn retain(
    store: &ChunkStore,
    keep: impl Fn(&ChunkHash) -> bool,
    dry_run: bool,
    min_age: Duration,
) -> Result<GcReport, PackageError> {
    let inner = store.inner();
    // The first pack number not considered: a dry run considers every pack there is (the
    // open one too); a real one closes the open pack (and any adopted after it) first.
    let open = match dry_run {
        true => inner.next_pack()?,
        false => inner.close_open_pack(store)?,
    };
    let old_enough = |e: &fs::DirEntry| {
        min_age.is_zero()
            || e.metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .is_some_and(|age| age >= min_age)
    };
    let mut ids: Vec<u32> = fs::read_dir(inner.packs_dir())?
        .filter_map(|e| e.ok())
        .filter(old_enough)
        .filter_map(|e| pack::id_of(&e.path()))
        .filter(|id| *id < open)
        .collect();
    ids.sort_unstable();
    let mut report = GcReport::default();
    for id in ids {
        let Some(file) = inner.reopen_pack(id) else {
            continue;
        };
        let scanned = pack::scan(&file, u32::MAX)?;
        let here = |h: &ChunkHash, offset: u64| {
            inner
                .index
                .read()
                .ok()
                .and_then(|i| i.get(h).copied())
                .is_some_and(|l: Loc| l.pack == id && l.offset == offset)
        };
        let (live, dead): (Vec<&pack::Record>, Vec<&pack::Record>) = scanned
            .records
            .iter()
            .filter(|r| here(&r.hash, r.offset))
            .partition(|r| keep(&r.hash));
        let whole = scanned.stopped.is_none() && live.len() == scanned.records.len();
        if whole {
            continue; // every record in it is kept and indexed here
        }
        let size = file.metadata()?.len();
        let kept: u64 = live
            .iter()
            .map(|r| pack::HEADER_LEN + u64::from(r.len))
            .sum();
        report.removed += dead.len() as u64;
        report.freed_bytes += size.saturating_sub(kept);
        report.packs_rewritten += 1;
        if dry_run {
            continue;
        }
        let mut gone: HashSet<ChunkHash> = dead.iter().map(|r| r.hash).collect();
        for r in &live {
            let mut buf = vec![0; r.len as usize];
            let ok = file.read_exact_at(&mut buf, r.offset).is_ok()
                && decompress_limited(&buf).is_ok_and(|d| chunk_hash(&d) == r.hash);
            if ok {
                store.append(&r.hash, &buf, false, true)?;
            } else {
                tracing::error!(chunk = %hex::encode(r.hash), pack = id, "a damaged chunk was found while its pack was written again: left out");
                report.damaged.push(hex::encode(r.hash));
                gone.insert(r.hash);
            }
        }
        store.sync()?;
        if let Ok(mut index) = inner.index.write() {
            index.retain(|h, l| !(gone.contains(h) && l.pack == id));
        }
        inner.drop_pack(id)?;
        let path = inner.packs_dir().join(pack::file_name(id));
        fs::remove_file(&path).map_err(|e| PackageError::io_at("cannot delete", &path, e))?;
    }
    if !dry_run && report.packs_rewritten > 0 {
        fs::File::open(inner.packs_dir())
            .and_then(|d| d.sync_all())
            .map_err(|e| PackageError::io_at("cannot fsync", inner.packs_dir(), e))?;
    }
    Ok(report)
}

#[cfg(test)]
#[path = "tests/gc.rs"]
mod tests;
