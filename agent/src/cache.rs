//! The agent's package cache: the archives it has assembled, with the manifest of each, and an
//! index of where every chunk lies inside them. A new version asks the Space only for the
//! chunks no cached archive holds; received chunks go to one spill file per transfer (not one
//! file per chunk), and the archive is assembled from both and verified against its SHA-256.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use package_store::{ChunkHash, ChunkRef, MAX_CHUNK_LEN, PackageManifest, chunk_hash};
use sha2::{Digest, Sha256};

const MANIFEST_SUFFIX: &str = ".manifest.json";

#[derive(Debug, Clone)]
struct Loc {
    file: PathBuf,
    offset: u64,
    len: u32,
}

/// Archives on disk plus the chunk index over them.
pub struct PackageCache {
    dir: PathBuf,
    index: Mutex<Option<HashMap<ChunkHash, Loc>>>,
}

/// Chunks received for one transfer, appended to one temporary file.
pub struct Spill {
    file: tempfile::NamedTempFile,
    at: HashMap<ChunkHash, Loc>,
    end: u64,
}

fn locate(index: &mut HashMap<ChunkHash, Loc>, archive: &Path, m: &PackageManifest) {
    let mut offset = 0u64;
    for c in &m.chunks {
        index.entry(c.hash).or_insert(Loc {
            file: archive.to_path_buf(),
            offset,
            len: c.length,
        });
        offset += u64::from(c.length);
    }
}

fn read_at(loc: &Loc, hash: &ChunkHash) -> Result<Vec<u8>, String> {
    let mut f = File::open(&loc.file).map_err(|e| format!("{}: {e}", loc.file.display()))?;
    f.seek(SeekFrom::Start(loc.offset))
        .map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; loc.len as usize];
    f.read_exact(&mut buf).map_err(|e| e.to_string())?;
    if &chunk_hash(&buf) != hash {
        return Err(format!("cached data in {} is damaged", loc.file.display()));
    }
    Ok(buf)
}

impl PackageCache {
    pub fn open(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            index: Mutex::new(None),
        }
    }

    /// Where a package's archive lives in the cache.
    pub fn archive_path(&self, m: &PackageManifest) -> PathBuf {
        self.dir.join(format!(
            "{}.{}_{}.{}",
            m.id,
            m.version,
            m.sha256.to_ascii_lowercase(),
            m.format.extension()
        ))
    }

    fn with_index<T>(&self, f: impl FnOnce(&mut HashMap<ChunkHash, Loc>) -> T) -> T {
        let mut guard = match self.index.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let index = guard.get_or_insert_with(|| self.scan());
        f(index)
    }

    /// Reads the manifests of every cached archive.
    fn scan(&self) -> HashMap<ChunkHash, Loc> {
        let mut index = HashMap::new();
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return index;
        };
        for e in entries.flatten() {
            let path = e.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let Some(archive) = name.strip_suffix(MANIFEST_SUFFIX) else {
                continue;
            };
            let archive = self.dir.join(archive);
            let manifest = std::fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice::<PackageManifest>(&b).ok());
            if let Some(m) = manifest.filter(|_| archive.exists()) {
                locate(&mut index, &archive, &m);
            }
        }
        index
    }

    /// The chunks of `m` that no cached archive holds (each once).
    pub fn missing(&self, m: &PackageManifest) -> Vec<ChunkRef> {
        self.with_index(|index| {
            let mut seen = std::collections::HashSet::new();
            m.chunks
                .iter()
                .filter(|c| !index.contains_key(&c.hash) && seen.insert(c.hash))
                .copied()
                .collect()
        })
    }

    /// A spill file for one transfer.
    pub fn spill(&self) -> Result<Spill, String> {
        Ok(Spill {
            file: tempfile::NamedTempFile::new_in(&self.dir).map_err(|e| e.to_string())?,
            at: HashMap::new(),
            end: 0,
        })
    }

    /// Builds the archive of `m` from received and cached chunks, verifies its size and
    /// SHA-256, and adds it (and its chunks) to the cache. Blocking.
    pub fn assemble(&self, m: &PackageManifest, spill: &Spill) -> Result<PathBuf, String> {
        let dest = self.archive_path(m);
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir).map_err(|e| e.to_string())?;
        let mut sha = Sha256::new();
        let mut size = 0u64;
        for c in &m.chunks {
            let loc = match spill.at.get(&c.hash) {
                Some(l) => l.clone(),
                None => self
                    .with_index(|i| i.get(&c.hash).cloned())
                    .ok_or_else(|| {
                        format!("chunk {} was neither sent nor cached", hex::encode(c.hash))
                    })?,
            };
            let bytes = read_at(&loc, &c.hash)?;
            sha.update(&bytes);
            size += bytes.len() as u64;
            tmp.write_all(&bytes).map_err(|e| e.to_string())?;
        }
        let actual = hex::encode(sha.finalize());
        if size != m.size || actual != m.sha256.to_ascii_lowercase() {
            return Err(format!(
                "package {} {} failed verification: got {size} bytes with SHA-256 {actual}, expected {} bytes with {}",
                m.id, m.version, m.size, m.sha256
            ));
        }
        tmp.persist(&dest).map_err(|e| e.error.to_string())?;
        let manifest = serde_json::to_vec(m).map_err(|e| e.to_string())?;
        let mpath = self.dir.join(format!(
            "{}{MANIFEST_SUFFIX}",
            dest.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
        ));
        std::fs::write(&mpath, manifest).map_err(|e| format!("{}: {e}", mpath.display()))?;
        self.with_index(|index| locate(index, &dest, m));
        Ok(dest)
    }
}

impl Spill {
    /// Verifies one received chunk (zstd, as the Space stores it) and appends it. Blocking.
    pub fn add(&mut self, hash: &ChunkHash, zstd_bytes: &[u8]) -> Result<(), String> {
        let raw = zstd::bulk::decompress(zstd_bytes, MAX_CHUNK_LEN)
            .map_err(|e| format!("a received chunk does not decompress: {e}"))?;
        if &chunk_hash(&raw) != hash {
            return Err(format!(
                "received chunk {} does not match its hash",
                hex::encode(hash)
            ));
        }
        self.file.write_all(&raw).map_err(|e| e.to_string())?;
        self.at.insert(
            *hash,
            Loc {
                file: self.file.path().to_path_buf(),
                offset: self.end,
                len: raw.len() as u32,
            },
        );
        self.end += raw.len() as u64;
        Ok(())
    }

    /// Makes appended data visible to readers of the file.
    pub fn finish(&mut self) -> Result<(), String> {
        self.file.flush().map_err(|e| e.to_string())
    }
}

#[cfg(test)]
#[path = "tests/cache.rs"]
mod tests;
