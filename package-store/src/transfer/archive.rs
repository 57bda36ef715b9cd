//! Writing and reading transfer archives (format in the module docs), streaming both ways.

use std::collections::HashSet;
use std::io::{self, Read, Write};

use sha2::{Digest, Sha256};

use super::delta::DeltaError;
use super::{FORMAT_MAJOR, FORMAT_MINOR, Inventory, TransferError, eof_as_truncated};
use crate::{ChunkHash, ChunkRef, ChunkStore, MAX_CHUNK_LEN, PackageError, PackageManifest};

const MAGIC: &[u8; 8] = b"DPLYXFER";
const TAG_CHUNK: u8 = 0x01;
const TAG_DELTA: u8 = 0x02;
const TAG_END: u8 = 0xFF;
/// Largest record payload accepted (compressed chunks are never much larger than raw ones).
const MAX_PAYLOAD: u32 = (2 * MAX_CHUNK_LEN) as u32;

/// What to leave out and what to send as deltas.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExportOptions<'a> {
    /// The target's chunks: those are not sent. `None`: send every chunk.
    pub inventory: Option<&'a Inventory>,
    /// Earlier versions of the packages, held by the source: a changed chunk whose byte range
    /// starts inside a chunk of one of them that the target holds travels as a zstd delta
    /// against it (only with an inventory, and only when smaller).
    pub bases: &'a [PackageManifest],
}

/// What an export wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportStats {
    /// Chunks written (whole or delta).
    pub chunks: u64,
    /// Of which as deltas.
    pub deltas: u64,
    /// Distinct chunks left out because the target holds them.
    pub skipped: u64,
    /// Bytes of the whole archive.
    pub bytes: u64,
}

/// What an import stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportStats {
    /// Chunk records in the archive.
    pub chunks: u64,
    /// Chunks that were not in the store before.
    pub new_chunks: u64,
}

struct HashingWriter<W> {
    inner: W,
    sha: Sha256,
    bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    fn put(&mut self, b: &[u8]) -> io::Result<()> {
        self.sha.update(b);
        self.bytes += b.len() as u64;
        self.inner.write_all(b)
    }
}

/// Writes a transfer archive with the chunks `manifests` need, minus those in the inventory.
/// `progress(done, total)` is called after each chunk.
pub fn export(
    store: &ChunkStore,
    manifests: &[PackageManifest],
    opts: ExportOptions<'_>,
    out: impl Write,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<ExportStats, TransferError> {
    let mut seen = HashSet::new();
    let mut needed: Vec<(&PackageManifest, ChunkRef)> = Vec::new();
    let mut stats = ExportStats::default();
    let mut bases = std::collections::HashMap::new();
    for m in manifests {
        for c in &m.chunks {
            if !seen.insert(c.hash) {
                continue;
            }
            if opts.inventory.is_some_and(|inv| inv.contains(&c.hash)) {
                stats.skipped += 1;
            } else {
                needed.push((m, *c));
            }
        }
        if let Some(inv) = opts.inventory {
            bases.extend(super::bases::candidates(m, opts.bases, inv));
        }
    }
    let mut w = HashingWriter {
        inner: io::BufWriter::new(out),
        sha: Sha256::new(),
        bytes: 0,
    };
    w.put(MAGIC)?;
    w.put(&FORMAT_MAJOR.to_be_bytes())?;
    w.put(&FORMAT_MINOR.to_be_bytes())?;
    let total = needed.len() as u64;
    for (m, c) in needed {
        let missing = |e: PackageError| match e {
            PackageError::ChunkMissing { hash } => TransferError::MissingSource {
                package: format!("{}@{}", m.id, m.version),
                hash,
            },
            e => TransferError::Store(e),
        };
        let stored = store.get_compressed_verified(&c.hash).map_err(missing)?;
        let olds: Vec<ChunkHash> = bases
            .get(&c.hash)
            .map(|l: &Vec<&ChunkRef>| l.iter().map(|b| b.hash).collect())
            .unwrap_or_default();
        let delta = super::delta::encode(store, &c.hash, &olds, stored.len());
        match delta {
            Some((base, bytes)) => {
                w.put(&[TAG_DELTA])?;
                w.put(&c.hash)?;
                w.put(&base)?;
                w.put(&(bytes.len() as u32).to_be_bytes())?;
                w.put(&bytes)?;
                stats.deltas += 1;
            }
            None => {
                let len = u32::try_from(stored.len())
                    .ok()
                    .filter(|l| *l <= MAX_PAYLOAD)
                    .ok_or(PackageError::ChunkTooLarge {
                        len: stored.len(),
                        max: MAX_PAYLOAD as usize,
                    })?;
                w.put(&[TAG_CHUNK])?;
                w.put(&c.hash)?;
                w.put(&len.to_be_bytes())?;
                w.put(&stored)?;
            }
        }
        stats.chunks += 1;
        progress(stats.chunks, total);
    }
    w.put(&[TAG_END])?;
    w.put(&stats.chunks.to_be_bytes())?;
    let sum = w.sha.clone().finalize();
    w.inner.write_all(&sum)?;
    w.inner.flush()?;
    stats.bytes = w.bytes + sum.len() as u64;
    Ok(stats)
}

struct HashingReader<R> {
    inner: R,
    sha: Sha256,
}

impl<R: Read> HashingReader<R> {
    fn take(&mut self, buf: &mut [u8], records: u64) -> Result<(), TransferError> {
        self.inner
            .read_exact(buf)
            .map_err(eof_as_truncated(records))?;
        self.sha.update(&*buf);
        Ok(())
    }
    fn u32(&mut self, records: u64) -> Result<u32, TransferError> {
        let mut b = [0u8; 4];
        self.take(&mut b, records)?;
        Ok(u32::from_be_bytes(b))
    }
}

/// Reads a transfer archive into `store`, verifying every chunk against its hash before it is
/// stored and the checksum at the end. Importing the same archive again stores nothing new.
pub fn import(
    store: &ChunkStore,
    input: impl Read,
    progress: &mut dyn FnMut(u64),
) -> Result<ImportStats, TransferError> {
    let mut r = HashingReader {
        inner: io::BufReader::new(input),
        sha: Sha256::new(),
    };
    let mut head = [0u8; 12];
    r.inner
        .read_exact(&mut head)
        .map_err(|_| TransferError::NotArchive("the file is too short".into()))?;
    r.sha.update(head);
    if &head[..8] != MAGIC {
        return Err(TransferError::NotArchive(
            "it does not start with DPLYXFER".into(),
        ));
    }
    let (major, minor) = (
        u16::from_be_bytes([head[8], head[9]]),
        u16::from_be_bytes([head[10], head[11]]),
    );
    if major != FORMAT_MAJOR || minor > FORMAT_MINOR {
        return Err(TransferError::TooNew {
            what: "transfer archive",
            found: format!("{major}.{minor}"),
            supported: format!("{FORMAT_MAJOR}.{FORMAT_MINOR}"),
        });
    }
    let mut stats = ImportStats::default();
    loop {
        let n = stats.chunks;
        let mut tag = [0u8; 1];
        r.take(&mut tag, n)?;
        if tag[0] == TAG_END {
            let mut count = [0u8; 8];
            r.take(&mut count, n)?;
            let expected = r.sha.clone().finalize();
            let mut sum = [0u8; 32];
            r.inner.read_exact(&mut sum).map_err(eof_as_truncated(n))?;
            if sum[..] != expected[..] || u64::from_be_bytes(count) != n {
                return Err(TransferError::BadChecksum);
            }
            if r.inner.read(&mut [0u8; 1])? != 0 {
                return Err(TransferError::NotArchive(
                    "it has data after its checksum".into(),
                ));
            }
            break;
        }
        if tag[0] != TAG_CHUNK && tag[0] != TAG_DELTA {
            return Err(TransferError::NotArchive(format!(
                "unknown record type {:#04x} after {n} records; it was damaged",
                tag[0]
            )));
        }
        let mut hash = [0u8; 32];
        r.take(&mut hash, n)?;
        let mut base = [0u8; 32];
        if tag[0] == TAG_DELTA {
            r.take(&mut base, n)?;
        }
        let corrupt = || TransferError::CorruptChunk {
            hash: hex::encode(hash),
            record: n,
        };
        let len = r.u32(n)?;
        if len > MAX_PAYLOAD {
            return Err(corrupt());
        }
        let mut payload = vec![0u8; len as usize];
        r.take(&mut payload, n)?;
        let existed = store.contains(&hash);
        if tag[0] == TAG_CHUNK {
            match store.put_compressed_unsynced(&hash, &payload) {
                Ok(_) => {}
                Err(PackageError::ChunkCorrupt { .. } | PackageError::ChunkTooLarge { .. }) => {
                    return Err(corrupt());
                }
                Err(e) => return Err(e.into()),
            }
        } else {
            match super::delta::apply(store, &hash, &base, &payload) {
                Ok(_) => {}
                Err(DeltaError::MissingBase(_)) => {
                    return Err(TransferError::MissingBase {
                        hash: hex::encode(hash),
                        base: hex::encode(base),
                    });
                }
                Err(DeltaError::Corrupt) => return Err(corrupt()),
                Err(DeltaError::Store(e)) => return Err(e.into()),
            }
        }
        if !existed {
            stats.new_chunks += 1;
        }
        stats.chunks += 1;
        progress(stats.chunks);
    }
    store.sync()?; // one fsync for the archive, before anything refers to its chunks
    tracing::debug!(
        chunks = stats.chunks,
        new = stats.new_chunks,
        "imported transfer archive"
    );
    Ok(stats)
}
