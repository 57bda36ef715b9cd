//! What a target Space holds, for a sneakernet export: the packages whose chunks it holds
//! completely (named with a digest of their chunk list, so the source Space expands each into
//! its chunks from its own copy of the same manifest), plus the chunk hashes no such package
//! covers. Written and read in the versioned inventory file format (see the module above).

use std::io::{self, Read, Write};

use sha2::{Digest, Sha256};

use super::{FORMAT_MAJOR, TransferError};
use crate::{ChunkHash, ChunkRef, ChunkStore, PackageManifest};

const MAGIC: &[u8; 8] = b"DPLYINVT";
/// Minor version of the inventory format this build writes (and the newest it reads):
/// 0 lists every chunk hash; 1 adds the packages held whole.
pub const INVENTORY_MINOR: u16 = 1;
/// Refuse inventories claiming more chunks than this (64 TiB of 16 KiB chunks).
const MAX_COUNT: u64 = 1 << 32;
/// Refuse inventories claiming more packages than this.
const MAX_PACKAGES: u64 = 1 << 24;

/// A package the target holds every chunk of.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct HeldPackage {
    pub id: String,
    pub version: String,
    /// [`chunks_digest`] of the target's manifest.
    pub digest: [u8; 32],
}

/// The digest naming a chunk list: SHA-256 over each chunk's hash and length, in order.
pub fn chunks_digest(chunks: &[ChunkRef]) -> [u8; 32] {
    let mut sha = Sha256::new();
    sha.update(b"deploy chunk list v1\0");
    for c in chunks {
        sha.update(c.hash);
        sha.update(c.length.to_be_bytes());
    }
    sha.finalize().into()
}

/// What a Space holds: packages held whole, and chunk hashes (sorted, distinct). Before
/// [`Inventory::resolve`], [`Inventory::contains`] knows only the listed hashes: a chunk of a
/// held package then reads as absent, which costs bytes, never a missing chunk.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Inventory {
    pub space: String,
    packages: Vec<HeldPackage>,
    hashes: Vec<ChunkHash>,
}

/// What [`Inventory::resolve`] could use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resolved {
    /// Held packages the source has with the same chunk list: their chunks now count.
    pub matched: usize,
    /// Held packages the source does not have, or has with other chunks: ignored.
    pub unknown: usize,
}

impl Inventory {
    /// An inventory of exactly `hashes`.
    pub fn new(space: impl Into<String>, hashes: impl IntoIterator<Item = ChunkHash>) -> Self {
        let mut hashes: Vec<ChunkHash> = hashes.into_iter().collect();
        hashes.sort_unstable();
        hashes.dedup();
        Self {
            space: space.into(),
            packages: Vec::new(),
            hashes,
        }
    }

    /// Every chunk in `store`, each listed (by its index; content is verified when read).
    pub fn from_store(store: &ChunkStore, space: &str) -> Result<Self, TransferError> {
        Ok(Self::new(space, store.hashes()?))
    }

    /// What `store` holds, compactly: each of `manifests` whose chunks are all present is
    /// named once instead of chunk by chunk; the chunks none of them covers are listed.
    pub fn compact(
        store: &ChunkStore,
        space: &str,
        manifests: &[PackageManifest],
    ) -> Result<Self, TransferError> {
        let mut covered = std::collections::HashSet::new();
        let mut packages = Vec::new();
        for m in manifests {
            if m.chunks.iter().all(|c| store.contains(&c.hash)) {
                covered.extend(m.chunks.iter().map(|c| c.hash));
                packages.push(HeldPackage {
                    id: m.id.clone(),
                    version: m.version.clone(),
                    digest: chunks_digest(&m.chunks),
                });
            }
        }
        packages.sort();
        packages.dedup_by(|a, b| a.id == b.id && a.version == b.version);
        let rest = store.hashes()?.into_iter().filter(|h| !covered.contains(h));
        let mut inv = Self::new(space, rest);
        inv.packages = packages;
        Ok(inv)
    }

    /// Counts the chunks of each held package as held, where `chunks_of(id, version)` (the
    /// source's own manifest) has the same chunk list as the target's.
    pub fn resolve(
        &mut self,
        mut chunks_of: impl FnMut(&str, &str) -> Option<Vec<ChunkRef>>,
    ) -> Resolved {
        let mut r = Resolved::default();
        for p in &self.packages {
            match chunks_of(&p.id, &p.version) {
                Some(chunks) if chunks_digest(&chunks) == p.digest => {
                    r.matched += 1;
                    self.hashes.extend(chunks.iter().map(|c| c.hash));
                }
                _ => r.unknown += 1,
            }
        }
        self.hashes.sort_unstable();
        self.hashes.dedup();
        r
    }

    pub fn contains(&self, h: &ChunkHash) -> bool {
        self.hashes.binary_search(h).is_ok()
    }

    /// Chunk hashes known (listed, and those of resolved packages).
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty() && self.packages.is_empty()
    }

    /// The packages held whole.
    pub fn packages(&self) -> &[HeldPackage] {
        &self.packages
    }

    /// Writes the inventory file.
    pub fn write_to(&self, out: impl Write) -> Result<(), TransferError> {
        let mut w = Hashed {
            out: io::BufWriter::new(out),
            sha: Sha256::new(),
        };
        w.put(MAGIC)?;
        w.put(&FORMAT_MAJOR.to_be_bytes())?;
        w.put(&INVENTORY_MINOR.to_be_bytes())?;
        w.text(&self.space, "the Space name")?;
        w.put(&(self.packages.len() as u64).to_be_bytes())?;
        for p in &self.packages {
            w.text(&p.id, "a package id")?;
            w.text(&p.version, "a package version")?;
            w.put(&p.digest)?;
        }
        w.put(&(self.hashes.len() as u64).to_be_bytes())?;
        for h in &self.hashes {
            w.put(h)?;
        }
        let Hashed { mut out, sha } = w;
        out.write_all(&sha.finalize())?;
        out.flush()?;
        Ok(())
    }

    /// Reads an inventory file (this format or the one before it), refusing anything
    /// damaged, unsorted or of a newer format.
    pub fn read_from(input: impl Read) -> Result<Self, TransferError> {
        let mut r = Checked {
            input: io::BufReader::new(input),
            sha: Sha256::new(),
        };
        let mut head = [0u8; 12];
        r.read(&mut head)?;
        if &head[..8] != MAGIC {
            return Err(bad("it does not start with DPLYINVT"));
        }
        let major = u16::from_be_bytes([head[8], head[9]]);
        let minor = u16::from_be_bytes([head[10], head[11]]);
        if major != FORMAT_MAJOR || minor > INVENTORY_MINOR {
            return Err(TransferError::TooNew {
                what: "inventory",
                found: format!("{major}.{minor}"),
                supported: format!("{FORMAT_MAJOR}.{INVENTORY_MINOR}"),
            });
        }
        let space = r.text("the Space name")?;
        if space.chars().any(char::is_control) {
            return Err(bad("the Space name holds control characters"));
        }
        let packages = if minor >= 1 {
            read_packages(&mut r)?
        } else {
            Vec::new()
        };
        let hashes = read_hashes(&mut r)?;
        let expected = r.sha.finalize();
        let mut trailer = [0u8; 32];
        r.input.read_exact(&mut trailer).map_err(eof)?;
        if trailer[..] != expected[..] {
            return Err(bad(
                "its checksum does not match: it was changed or damaged",
            ));
        }
        let mut extra = [0u8; 1];
        if r.input.read(&mut extra)? != 0 {
            return Err(bad("it has data after its checksum"));
        }
        Ok(Self {
            space,
            packages,
            hashes,
        })
    }
}

fn bad(m: &str) -> TransferError {
    TransferError::NotInventory(m.to_string())
}

fn eof(e: io::Error) -> TransferError {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => bad("the file ends early; copy it again"),
        _ => TransferError::Io(e),
    }
}

fn read_packages<R: Read>(r: &mut Checked<R>) -> Result<Vec<HeldPackage>, TransferError> {
    let count = r.count()?;
    if count > MAX_PACKAGES {
        return Err(bad("it claims an impossible number of packages"));
    }
    let mut out: Vec<HeldPackage> = Vec::with_capacity(count.min(1024) as usize);
    for _ in 0..count {
        let id = r.text("a package id")?;
        let version = r.text("a package version")?;
        if crate::validate_id(&id).is_err() || crate::validate_version(&version).is_err() {
            return Err(bad(
                "it names a package that is not a valid package id and version",
            ));
        }
        let mut digest = [0u8; 32];
        r.read(&mut digest)?;
        let p = HeldPackage {
            id,
            version,
            digest,
        };
        if out.last().is_some_and(|last| *last >= p) {
            return Err(bad("its packages are not sorted"));
        }
        out.push(p);
    }
    Ok(out)
}

fn read_hashes<R: Read>(r: &mut Checked<R>) -> Result<Vec<ChunkHash>, TransferError> {
    let count = r.count()?;
    if count > MAX_COUNT {
        return Err(bad("it claims an impossible number of chunks"));
    }
    // Grow with what actually arrives: a few bytes claiming a million hashes must not
    // cost 32 MiB up front (found by fuzzing: `fuzz/fuzz_targets/inventory_parse.rs`).
    let mut hashes: Vec<ChunkHash> = Vec::with_capacity(count.min(4096) as usize);
    for _ in 0..count {
        let mut h = [0u8; 32];
        r.read(&mut h)?;
        if hashes.last().is_some_and(|last| *last >= h) {
            return Err(bad("its hashes are not sorted"));
        }
        hashes.push(h);
    }
    Ok(hashes)
}

/// A writer that hashes what it writes.
struct Hashed<W: Write> {
    out: io::BufWriter<W>,
    sha: Sha256,
}

impl<W: Write> Hashed<W> {
    fn put(&mut self, b: &[u8]) -> Result<(), TransferError> {
        self.sha.update(b);
        self.out.write_all(b)?;
        Ok(())
    }
    /// A u16 length and UTF-8 bytes.
    fn text(&mut self, s: &str, what: &str) -> Result<(), TransferError> {
        let len = u16::try_from(s.len()).map_err(|_| bad(&format!("{what} is too long")))?;
        self.put(&len.to_be_bytes())?;
        self.put(s.as_bytes())
    }
}

/// A reader that hashes what it reads.
struct Checked<R: Read> {
    input: io::BufReader<R>,
    sha: Sha256,
}

impl<R: Read> Checked<R> {
    fn read(&mut self, buf: &mut [u8]) -> Result<(), TransferError> {
        self.input.read_exact(buf).map_err(eof)?;
        self.sha.update(&*buf);
        Ok(())
    }
    fn count(&mut self) -> Result<u64, TransferError> {
        let mut b = [0u8; 8];
        self.read(&mut b)?;
        Ok(u64::from_be_bytes(b))
    }
    fn text(&mut self, what: &str) -> Result<String, TransferError> {
        let mut len = [0u8; 2];
        self.read(&mut len)?;
        let mut b = vec![0u8; usize::from(u16::from_be_bytes(len))];
        self.read(&mut b)?;
        String::from_utf8(b).map_err(|_| bad(&format!("{what} is not UTF-8")))
    }
}
