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
            hasher: Some(Sha256::new()),
            expected_sha256: manifest.sha256.to_ascii_lowercase(),
            expected_size: manifest.size,
            produced: 0,
            failed: None,
        }
    }

    /// Loads the next chunk into `buf`, verified (hash by the store, length here).
    fn load_next(&mut self) -> Result<(), PackageError> {
        let r = self.chunks[self.next_chunk];
        let data = self.store.get(&r.hash)?;
        if data.len() != r.length as usize {
            return Err(PackageError::ChunkCorrupt { hash: r.hash_hex() });
        }
        if let Some(h) = self.hasher.as_mut() {
            h.update(&data);
        }
        self.produced += data.len() as u64;
        self.next_chunk += 1;
        self.buf = data;
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
mod tests {
    use super::*;
    use crate::packages::testutil::pseudo_random;
    use crate::packages::{ArchiveFormat, ingest};

    fn setup(size: usize) -> (tempfile::TempDir, ChunkStore, PackageManifest, Vec<u8>) {
        let dir = tempfile::tempdir().unwrap();
        let store = ChunkStore::open(dir.path()).unwrap().with_durability(false);
        let data = pseudo_random(size, 3);
        let ing = ingest(&store, &data[..]).unwrap();
        let manifest = PackageManifest {
            id: "A".into(),
            version: "1.0".into(),
            size: ing.size,
            sha256: ing.sha256,
            format: ArchiveFormat::TarGz,
            chunks: ing.chunks,
            uploaded_at: 1,
        };
        (dir, store, manifest, data)
    }

    fn read_all(store: &ChunkStore, m: &PackageManifest) -> Result<Vec<u8>, PackageError> {
        let mut out = Vec::new();
        PackageReader::new(store.clone(), m)
            .read_to_end(&mut out)
            .map_err(PackageError::from_io)?;
        Ok(out)
    }

    #[test]
    fn reader_is_send_and_static() {
        fn check<T: Send + 'static>() {}
        check::<PackageReader>();
        check::<ChunkStore>();
    }

    #[test]
    fn small_reads_reassemble_exactly() {
        let (_dir, store, m, data) = setup(200_000);
        let mut r = PackageReader::new(store, &m);
        let mut out = Vec::new();
        let mut buf = [0u8; 777];
        loop {
            let n = r.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        assert!(out == data);
        assert_eq!(r.read(&mut buf).unwrap(), 0, "EOF stays EOF");
    }

    #[test]
    fn whole_file_hash_mismatch_is_reported_at_eof() {
        let (_dir, store, mut m, _) = setup(100_000);
        m.sha256 = "ab".repeat(32);
        let err = read_all(&store, &m).unwrap_err();
        assert!(
            matches!(&err, PackageError::HashMismatch { expected, .. } if *expected == "ab".repeat(32)),
            "{err}"
        );
        m.size += 1;
        assert!(matches!(
            read_all(&store, &m),
            Err(PackageError::SizeMismatch { .. })
        ));
    }

    #[test]
    fn corrupt_or_missing_chunk_fails_the_read() {
        let (_dir, store, m, _) = setup(100_000);
        let victim = m.chunks[1].hash;
        let other = zstd::bulk::compress(b"something else", 3).unwrap();
        std::fs::write(store.chunk_path(&victim), other).unwrap();
        let err = read_all(&store, &m).unwrap_err();
        assert!(
            matches!(&err, PackageError::ChunkCorrupt { hash } if *hash == hex::encode(victim))
        );

        store.remove(&victim).unwrap();
        let mut r = PackageReader::new(store.clone(), &m);
        let mut out = Vec::new();
        let err = r.read_to_end(&mut out).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(matches!(
            PackageError::from_io(err),
            PackageError::ChunkMissing { .. }
        ));
        // Sticky.
        assert!(matches!(
            PackageError::from_io(r.read(&mut [0u8; 10]).unwrap_err()),
            PackageError::ChunkMissing { .. }
        ));
    }
}
