//! `PackageReader`: reassembles a package from the chunk store as a verified `Read` stream.

use std::io::{self, Read};

use sha2::{Digest, Sha256};

use super::{ChunkRef, ChunkStore, PackageError, PackageManifest};

/// Reassembles a package from the store; implements `Read`; verifies each chunk's hash and, at
/// EOF, the whole-file SHA-256 (returns an io error wrapping `PackageError::HashMismatch` if
/// different; use [`PackageError::from_io`] to get it back).
///
/// Holds one chunk in memory at a time. Owns a clone of the store, so it is `Send + 'static`
/// and can be moved into `spawn_blocking`. Errors are sticky: after one, every read fails.
pub struct PackageReader {
    store: ChunkStore,
    chunks: Vec<ChunkRef>,
    next_chunk: usize,
    buf: Vec<u8>,
    pos: usize,
    /// The current chunk as stored (zstd), and the decompressor, both reused.
    raw: Vec<u8>,
    zstd: Option<zstd::bulk::Decompressor<'static>>,
    hasher: Option<Sha256>,
    expected_sha256: String,
    expected_size: u64,
    produced: u64,
    failed: Option<PackageError>,
}

impl PackageReader {
    /// A reader producing the bytes `manifest` describes from `store`.
    pub fn new(store: ChunkStore, manifest: &PackageManifest) -> Self {
        PackageReader {
            store,
            chunks: manifest.chunks.clone(),
            next_chunk: 0,
            buf: Vec::new(),
            pos: 0,
            raw: Vec::new(),
            zstd: None,
            hasher: Some(Sha256::new()),
            expected_sha256: manifest.sha256.to_ascii_lowercase(),
            expected_size: manifest.size,
            produced: 0,
            failed: None,
        }
    }

    /// Loads the next chunk into `buf`, verified (hash by the store, length here).
    /// Reads, decompresses and verifies the next chunk into `buf`, reusing the buffers and
    /// the decompressor (no allocation per chunk). The manifest's length bounds the output.
    fn load_next(&mut self) -> Result<(), PackageError> {
        let r = self.chunks[self.next_chunk];
        let corrupt = || PackageError::ChunkCorrupt { hash: r.hash_hex() };
        self.store.get_compressed_into(&r.hash, &mut self.raw)?;
        let want = r.length as usize;
        if want > crate::MAX_CHUNK_LEN {
            return Err(corrupt());
        }
        self.buf.clear();
        self.buf.reserve(want);
        let zstd = match &mut self.zstd {
            Some(z) => z,
            None => self.zstd.insert(zstd::bulk::Decompressor::new()?),
        };
        let n = zstd
            .decompress_to_buffer(&self.raw, &mut self.buf)
            .map_err(|_| corrupt())?;
        if n != want || crate::chunk_hash(&self.buf) != r.hash {
            return Err(corrupt());
        }
        if let Some(h) = self.hasher.as_mut() {
            h.update(&self.buf);
        }
        self.produced += n as u64;
        self.next_chunk += 1;
        self.pos = 0;
        Ok(())
    }

    /// At EOF: checks the total size and SHA-256 against the manifest (once).
    fn verify_end(&mut self) -> Result<(), PackageError> {
        let Some(hasher) = self.hasher.take() else {
            return Ok(());
        };
        if self.produced != self.expected_size {
            return Err(PackageError::SizeMismatch {
                expected: self.expected_size,
                actual: self.produced,
            });
        }
        let actual = hex::encode(hasher.finalize());
        if actual != self.expected_sha256 {
            return Err(PackageError::HashMismatch {
                expected: self.expected_sha256.clone(),
                actual,
            });
        }
        Ok(())
    }

    fn fail(&mut self, err: PackageError) -> io::Error {
        self.failed = Some(copy_error(&err));
        err.into_io()
    }
}

impl Read for PackageReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if let Some(err) = &self.failed {
            return Err(copy_error(err).into_io());
        }
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            if self.pos < self.buf.len() {
                let n = out.len().min(self.buf.len() - self.pos);
                out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
                self.pos += n;
                return Ok(n);
            }
            let step = if self.next_chunk < self.chunks.len() {
                self.load_next()
            } else {
                self.buf = Vec::new();
                return match self.verify_end() {
                    Ok(()) => Ok(0),
                    Err(e) => Err(self.fail(e)),
                };
            };
            if let Err(e) = step {
                return Err(self.fail(e));
            }
        }
    }
}

/// A copy of an error this reader produced, to repeat it on later reads.
fn copy_error(err: &PackageError) -> PackageError {
    match err {
        PackageError::HashMismatch { expected, actual } => PackageError::HashMismatch {
            expected: expected.clone(),
            actual: actual.clone(),
        },
        PackageError::SizeMismatch { expected, actual } => PackageError::SizeMismatch {
            expected: *expected,
            actual: *actual,
        },
        PackageError::ChunkCorrupt { hash } => PackageError::ChunkCorrupt { hash: hash.clone() },
        PackageError::ChunkMissing { hash } => PackageError::ChunkMissing { hash: hash.clone() },
        PackageError::Io(e) => PackageError::Io(io::Error::new(e.kind(), e.to_string())),
        other => PackageError::malformed(other.to_string()),
    }
}

#[cfg(test)]
#[path = "tests/reader.rs"]
mod tests;
