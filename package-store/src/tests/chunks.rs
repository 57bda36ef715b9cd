//! Tests for the chunk store: round trips, corruption detection, verified transfer.

use super::*;

fn chunk(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect()
}

#[test]
fn put_get_contains_stats_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let store = ChunkStore::open(dir.path().join("store")).unwrap();
    assert_eq!(store.stats().unwrap(), StoreStats::default());

    let a = chunk(10_000, 1);
    let b = chunk(777, 2);
    let (ha, hb) = (chunk_hash(&a), chunk_hash(&b));
    assert!(!store.contains(&ha));
    let wa = store.put(&ha, &a).unwrap();
    assert!(wa > 0);
    assert_eq!(
        store.put(&ha, &a).unwrap(),
        0,
        "second put of same chunk writes nothing"
    );
    let wb = store.put(&hb, &b).unwrap();
    assert!(store.contains(&ha) && store.contains(&hb));
    assert_eq!(store.get(&ha).unwrap(), a);
    assert_eq!(store.get(&hb).unwrap(), b);

    let stats = store.stats().unwrap();
    assert_eq!(stats.chunk_count, 2);
    assert_eq!(stats.stored_bytes, wa + wb);
    let hex_a = hex::encode(ha);
    let expected = dir
        .path()
        .join("store")
        .join(&hex_a[..2])
        .join(format!("{hex_a}.zst"));
    assert!(expected.is_file());
    assert_eq!(store.chunk_path(&ha), expected);
    // No temporary files left behind.
    for f in fs::read_dir(expected.parent().unwrap()).unwrap() {
        let name = f.unwrap().file_name();
        assert!(!name.to_string_lossy().starts_with(TEMP_PREFIX), "{name:?}");
    }

    let refs = [
        ChunkRef {
            hash: ha,
            length: a.len() as u32,
        },
        ChunkRef {
            hash: [9; 32],
            length: 5,
        },
        ChunkRef {
            hash: [9; 32],
            length: 5,
        },
    ];
    assert_eq!(store.missing(&refs), vec![refs[1]]);

    assert!(store.remove(&hb).unwrap());
    assert!(!store.remove(&hb).unwrap());
    assert!(matches!(
        store.get(&hb),
        Err(PackageError::ChunkMissing { .. })
    ));
    assert_eq!(store.stats().unwrap().chunk_count, 1);
}

#[test]
fn put_rejects_data_not_matching_hash() {
    let dir = tempfile::tempdir().unwrap();
    let store = ChunkStore::open(dir.path()).unwrap();
    let err = store.put(&[0; 32], b"hello").unwrap_err();
    assert!(matches!(err, PackageError::ChunkCorrupt { .. }), "{err}");
    assert!(!store.contains(&[0; 32]));
}

#[test]
fn corrupt_chunk_on_disk_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let store = ChunkStore::open(dir.path()).unwrap();
    let data = chunk(5000, 3);
    let h = chunk_hash(&data);
    store.put(&h, &data).unwrap();

    // Valid zstd, wrong content.
    let other = zstd::bulk::compress(&chunk(5000, 4), 3).unwrap();
    fs::write(store.chunk_path(&h), other).unwrap();
    let err = store.get(&h).unwrap_err();
    assert!(matches!(err, PackageError::ChunkCorrupt { ref hash } if *hash == hex::encode(h)));
    assert!(err.to_string().contains("corrupt"), "{err}");

    // Not zstd at all / truncated.
    fs::write(store.chunk_path(&h), b"garbage").unwrap();
    assert!(matches!(
        store.get(&h),
        Err(PackageError::ChunkCorrupt { .. })
    ));
    let good = zstd::bulk::compress(&data, 3).unwrap();
    fs::write(store.chunk_path(&h), &good[..good.len() / 2]).unwrap();
    assert!(matches!(
        store.get(&h),
        Err(PackageError::ChunkCorrupt { .. })
    ));
}

#[test]
fn compressed_transfer_between_stores_is_verified() {
    let dir = tempfile::tempdir().unwrap();
    let src = ChunkStore::open(dir.path().join("a")).unwrap();
    let dst = ChunkStore::open(dir.path().join("b"))
        .unwrap()
        .with_durability(false);
    let data = chunk(20_000, 5);
    let h = chunk_hash(&data);
    src.put(&h, &data).unwrap();
    let raw = src.get_compressed(&h).unwrap();
    assert_eq!(dst.put_compressed(&h, &raw).unwrap(), raw.len() as u64);
    assert_eq!(dst.put_compressed(&h, &raw).unwrap(), 0);
    assert_eq!(dst.get(&h).unwrap(), data);

    let wrong = zstd::bulk::compress(b"not it", 3).unwrap();
    assert!(matches!(
        dst.put_compressed(&[1; 32], &wrong),
        Err(PackageError::ChunkCorrupt { .. })
    ));
    assert!(matches!(
        dst.put_compressed(&[1; 32], b"junk"),
        Err(PackageError::ChunkCorrupt { .. })
    ));
    assert!(!dst.contains(&[1; 32]));

    // A decompression bomb is refused rather than inflated.
    let big = vec![0u8; MAX_CHUNK_LEN + 1];
    let bomb = zstd::bulk::compress(&big, 3).unwrap();
    assert!(matches!(
        dst.put_compressed(&chunk_hash(&big), &bomb),
        Err(PackageError::ChunkCorrupt { .. })
    ));
    assert!(matches!(
        src.put(&chunk_hash(&big), &big),
        Err(PackageError::ChunkTooLarge { .. })
    ));
    assert!(matches!(
        src.get_compressed(&[2; 32]),
        Err(PackageError::ChunkMissing { .. })
    ));
}
