//! Unit tests of `cache.rs`.

use super::*;
use package_store::{ArchiveFormat, ChunkStore, ingest};

fn manifest(store: &ChunkStore, data: &[u8], version: &str) -> PackageManifest {
    let i = ingest(store, data).unwrap();
    PackageManifest {
        id: "App".into(),
        version: version.into(),
        size: i.size,
        sha256: i.sha256,
        format: ArchiveFormat::TarGz,
        chunks: i.chunks,
        uploaded_at: 0,
    }
}

#[test]
fn second_version_needs_only_changed_chunks_and_assembles_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let server = ChunkStore::open(dir.path().join("server")).unwrap();
    let mut a: Vec<u8> = (0..600_000u32)
        .flat_map(|i| (i.wrapping_mul(2654435761)).to_le_bytes())
        .collect();
    let m1 = manifest(&server, &a, "1");
    a[1_000_000..1_010_000].iter_mut().for_each(|b| *b ^= 0x5a);
    let m2 = manifest(&server, &a, "2");
    let cache_dir = dir.path().join("cache");
    std::fs::create_dir_all(&cache_dir).unwrap();
    let cache = PackageCache::open(&cache_dir);
    for (m, expect_all) in [(&m1, true), (&m2, false)] {
        let missing = cache.missing(m);
        if expect_all {
            assert_eq!(missing.len(), m.chunks.len());
        } else {
            assert!(
                !missing.is_empty() && missing.len() < m.chunks.len() / 4,
                "{} of {}",
                missing.len(),
                m.chunks.len()
            );
        }
        let mut spill = cache.spill().unwrap();
        for c in &missing {
            spill
                .add(&c.hash, &server.get_compressed(&c.hash).unwrap())
                .unwrap();
        }
        spill.finish().unwrap();
        let path = cache.assemble(m, &spill).unwrap();
        assert_eq!(
            hex::encode(Sha256::digest(std::fs::read(&path).unwrap())),
            m.sha256
        );
    }
    // A fresh cache object finds both archives' chunks again from the manifests on disk.
    assert!(PackageCache::open(&cache_dir).missing(&m2).is_empty());
    // A chunk that does not match its hash is refused.
    let mut spill = cache.spill().unwrap();
    let c = m1.chunks[0];
    let other = server.get_compressed(&m1.chunks[1].hash).unwrap();
    assert!(spill.add(&c.hash, &other).is_err());
}
