//! Unit tests of `reader.rs`.

use super::*;
use crate::testutil::pseudo_random;
use crate::{ArchiveFormat, ingest};

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
    let (path, offset, _) = store.location(&victim).unwrap();
    crate::testutil::overwrite(&path, offset, b"garbage");
    let err = read_all(&store, &m).unwrap_err();
    assert!(matches!(&err, PackageError::ChunkCorrupt { hash } if *hash == hex::encode(victim)));

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

#[test]
fn a_manifest_whose_chunk_length_lies_is_refused() {
    // The chunk is intact, but the manifest says it is shorter (or longer) than it is: the
    // reader decompresses into exactly the length the manifest names and refuses the chunk.
    let (_dir, store, m, _) = setup(100_000);
    for delta in [-1i64, 1] {
        let mut lying = m.clone();
        let c = &mut lying.chunks[0];
        c.length = (i64::from(c.length) + delta) as u32;
        let err = read_all(&store, &lying).unwrap_err();
        assert!(
            matches!(&err, PackageError::ChunkCorrupt { hash } if *hash == hex::encode(m.chunks[0].hash)),
            "{err}"
        );
    }
}
