//! Unit tests of `ingest.rs`.

use super::*;
use crate::testutil::pseudo_random;
use crate::{ArchiveFormat, PackageManifest, PackageReader};

fn manifest_for(ing: &Ingested) -> PackageManifest {
    PackageManifest {
        id: "Acme.Web".into(),
        version: "1.0.0".into(),
        size: ing.size,
        sha256: ing.sha256.clone(),
        format: ArchiveFormat::Zip,
        chunks: ing.chunks.clone(),
        uploaded_at: 0,
    }
}

#[test]
fn ingest_and_read_back_round_trips_many_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let store = ChunkStore::open(dir.path()).unwrap().with_durability(false);
    for (i, size) in [
        0usize, 1, 100, 4095, 4096, 65_536, 65_537, 300_001, 2_000_000,
    ]
    .into_iter()
    .enumerate()
    {
        let data = pseudo_random(size, i as u64 + 1);
        let ing = ingest(&store, &data[..]).unwrap();
        assert_eq!(ing.size, size as u64);
        assert_eq!(ing.sha256, hex::encode(Sha256::digest(&data)));
        assert_eq!(
            ing.chunks.iter().map(|c| c.length as u64).sum::<u64>(),
            size as u64
        );
        assert!(ing.chunks.iter().all(|c| c.length as usize <= CHUNK_MAX));
        if size == 0 {
            assert!(ing.chunks.is_empty());
        }
        let mut out = Vec::new();
        PackageReader::new(store.clone(), &manifest_for(&ing))
            .read_to_end(&mut out)
            .unwrap();
        assert!(out == data, "round trip of {size} bytes differs");
    }
}

#[test]
fn ingesting_the_same_content_twice_writes_nothing_new() {
    let dir = tempfile::tempdir().unwrap();
    let store = ChunkStore::open(dir.path()).unwrap();
    let data = pseudo_random(500_000, 9);
    let first = ingest(&store, &data[..]).unwrap();
    assert_eq!(first.new_bytes, store.stats().unwrap().stored_bytes);
    let second = ingest(&store, &data[..]).unwrap();
    assert_eq!(second.new_bytes, 0);
    assert_eq!(second.chunks, first.chunks);
}

/// Two ~50 MiB poorly compressible inputs differing in 20 scattered 26 KiB regions (~1%):
/// the second must add only a few percent to the store.
#[test]
fn near_identical_inputs_deduplicate() {
    const SIZE: usize = 50 << 20;
    const REGIONS: usize = 20;
    const REGION: usize = 26 << 10;
    let dir = tempfile::tempdir().unwrap();
    let store = ChunkStore::open(dir.path()).unwrap().with_durability(false);

    let mut data = pseudo_random(SIZE, 42);
    let first = ingest(&store, &data[..]).unwrap();
    let before = store.stats().unwrap().stored_bytes;
    assert_eq!(first.new_bytes, before);
    assert!(
        before > (SIZE as u64) * 99 / 100,
        "random data should barely compress"
    );

    let patch = pseudo_random(REGIONS * REGION, 7);
    for r in 0..REGIONS {
        let at = r * (SIZE / REGIONS) + (r * 7919 * 13) % (SIZE / REGIONS - REGION);
        data[at..at + REGION].copy_from_slice(&patch[r * REGION..(r + 1) * REGION]);
    }
    let second = ingest(&store, &data[..]).unwrap();
    let after = store.stats().unwrap().stored_bytes;
    let growth = (after - before) as f64 / before as f64 * 100.0;
    eprintln!(
        "dedup: first {before} bytes, second added {} bytes = {growth:.2}% ({} chunks)",
        after - before,
        second.chunks.len()
    );
    assert_eq!(second.new_bytes, after - before);
    assert!((1.0..5.0).contains(&growth), "store grew {growth:.2}%");
    assert_ne!(second.sha256, first.sha256);
    assert_eq!(second.sha256, hex::encode(Sha256::digest(&data)));
}
