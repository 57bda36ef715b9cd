//! Streaming ingest: content-defined chunking of an upload into the chunk store.

use std::collections::HashSet;
use std::io::{self, Read};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread;

use fastcdc::v2020::StreamCDC;
use sha2::{Digest, Sha256};

use super::chunks::chunk_hash;
use super::{ChunkHash, ChunkRef, ChunkStore, PackageError, Staged};

/// Smallest chunk FastCDC cuts (except the last one).
pub const CHUNK_MIN: usize = 4 * 1024;
/// Target average chunk size.
pub const CHUNK_AVG: usize = 16 * 1024;
/// Largest chunk FastCDC cuts.
pub const CHUNK_MAX: usize = 64 * 1024;

/// What [`ingest`] learned about the stream it stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingested {
    /// Total bytes read.
    pub size: u64,
    /// Lowercase hex SHA-256 of everything read.
    pub sha256: String,
    /// The chunks, in order.
    pub chunks: Vec<ChunkRef>,
    /// Compressed bytes newly written to the store (chunks already present cost nothing).
    pub new_bytes: u64,
}

/// Chunk writers working in parallel: compression and, above all, fsync latency overlap.
const WRITERS: usize = 4;

/// Streams `reader` through FastCDC (min 4 KiB, avg 16 KiB, max 64 KiB), hashing the whole
/// with SHA-256 and each chunk with BLAKE3, storing each new chunk compressed (zstd level 3).
/// Never holds more than a few chunks in memory.
///
/// New chunks are compressed and written by a few writer threads (at most `2 * WRITERS`
/// chunks in flight) and are durable before this returns (when the store is durable), so a
/// manifest recorded afterwards never points at chunks a crash could lose.
pub fn ingest(store: &ChunkStore, reader: impl Read) -> Result<Ingested, PackageError> {
    let ingested = ingest_into(store, reader)?;
    store.sync()?;
    Ok(ingested)
}

/// [`ingest`] into a [`Staged`] pack of its own: the new chunks join the store only when the
/// caller [adopts](Staged::adopt) them (after validating the upload); dropped, they are gone.
pub fn ingest_staged(
    store: &ChunkStore,
    reader: impl Read,
) -> Result<(Ingested, Staged), PackageError> {
    let staged = store.stage()?;
    let ingested = ingest_into(&staged, reader)?;
    Ok((ingested, staged))
}

/// Where [`ingest`] puts new chunks: the store itself, or a stage apart from it.
trait Sink: Sync {
    /// Stores chunk `h` (just computed from `data`); the compressed bytes newly written.
    fn put(&self, h: &ChunkHash, data: &[u8]) -> Result<u64, PackageError>;
    /// Whether the store already holds `h` (then it is not queued at all).
    fn held(&self, h: &ChunkHash) -> bool;
}

impl Sink for ChunkStore {
    fn put(&self, h: &ChunkHash, data: &[u8]) -> Result<u64, PackageError> {
        self.put_hashed(h, data, false)
    }
    fn held(&self, h: &ChunkHash) -> bool {
        self.contains(h)
    }
}

impl Sink for Staged {
    fn put(&self, h: &ChunkHash, data: &[u8]) -> Result<u64, PackageError> {
        self.put_hashed(h, data)
    }
    fn held(&self, h: &ChunkHash) -> bool {
        self.store_holds(h)
    }
}

fn ingest_into(sink: &impl Sink, reader: impl Read) -> Result<Ingested, PackageError> {
    let mut source = HashingReader {
        inner: reader,
        hasher: Sha256::new(),
        count: 0,
    };
    let mut chunks = Vec::new();
    let new_bytes = AtomicU64::new(0);
    let failure: Mutex<Option<PackageError>> = Mutex::new(None);
    let (tx, rx) = mpsc::sync_channel::<(ChunkHash, Vec<u8>)>(WRITERS);
    let rx = Mutex::new(rx);
    let chunked = thread::scope(|scope| {
        for _ in 0..WRITERS {
            scope.spawn(|| write_chunks(sink, &rx, &new_bytes, &failure));
        }
        // `tx` moves into chunk_stream and is dropped when it returns: the writers then
        // drain the queue and exit, and the scope joins them.
        chunk_stream(sink, &mut source, tx, &mut chunks)
    });
    if let Some(err) = failure.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(err);
    }
    chunked?;
    let new_bytes = new_bytes.into_inner();
    let HashingReader { hasher, count, .. } = source;
    tracing::debug!(
        size = count,
        chunks = chunks.len(),
        new_bytes,
        "ingested package content"
    );
    Ok(Ingested {
        size: count,
        sha256: hex::encode(hasher.finalize()),
        chunks,
        new_bytes,
    })
}

/// Cuts `source` into chunks, records them in `chunks`, and queues the ones the store lacks.
fn chunk_stream<R: Read>(
    sink: &impl Sink,
    source: &mut HashingReader<R>,
    tx: SyncSender<(ChunkHash, Vec<u8>)>,
    chunks: &mut Vec<ChunkRef>,
) -> Result<(), PackageError> {
    let mut queued = HashSet::new();
    for item in StreamCDC::new(source, CHUNK_MIN, CHUNK_AVG, CHUNK_MAX) {
        let chunk = item.map_err(|e| PackageError::Io(io::Error::from(e)))?;
        let hash = chunk_hash(&chunk.data);
        let length = u32::try_from(chunk.data.len())
            .map_err(|_| PackageError::malformed("chunker produced an oversized chunk"))?;
        chunks.push(ChunkRef { hash, length });
        if queued.insert(hash) && !sink.held(&hash) && tx.send((hash, chunk.data)).is_err() {
            // Every writer stopped: one failed, and its error is reported instead.
            break;
        }
    }
    Ok(())
}

/// Writer thread: stores queued chunks until the queue closes or a write fails.
fn write_chunks(
    sink: &impl Sink,
    rx: &Mutex<Receiver<(ChunkHash, Vec<u8>)>>,
    new_bytes: &AtomicU64,
    failure: &Mutex<Option<PackageError>>,
) {
    loop {
        let job = match rx.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok((hash, data)) = job else { return };
        match sink.put(&hash, &data) {
            Ok(n) => {
                new_bytes.fetch_add(n, Ordering::Relaxed);
            }
            Err(err) => {
                if let Ok(mut slot) = failure.lock() {
                    slot.get_or_insert(err);
                }
                // Dropping out closes our share of the queue; the others drain it.
                return;
            }
        }
    }
}

/// Passes reads through while hashing and counting them.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
#[path = "tests/ingest.rs"]
mod tests;
