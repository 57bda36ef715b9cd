//! Tests for the chunk store: round trips, corruption detection, verified transfer.

use super::*;
use crate::pack;
use crate::testutil::overwrite;
use std::fs;

fn chunk(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect()
}

#[test]
fn put_get_contains_stats_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let store = ChunkStore::open(dir.path().join("store")).unwrap();
    let empty = store.stats().unwrap();
    assert_eq!((empty.chunk_count, empty.stored_bytes), (0, 0));

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
    assert_eq!(stats.pack_files, 1);
    assert_eq!(
        stats.pack_bytes,
        pack::MAGIC.len() as u64 + 2 * pack::HEADER_LEN + wa + wb
    );
    let (pack_file, offset, len) = store.location(&ha).unwrap();
    assert_eq!(pack_file, dir.path().join("store/packs/pack-00000001.pack"));
    assert_eq!(offset, (pack::MAGIC.len() as u64) + pack::HEADER_LEN);
    assert_eq!(u64::from(len), wa);

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

    // Valid zstd, wrong content (of the same stored length, written over it in its pack).
    let (path, offset, len) = store.location(&h).unwrap();
    let other = chunk_of_stored_len(len);
    overwrite(&path, offset, &other);
    let err = store.get(&h).unwrap_err();
    assert!(matches!(err, PackageError::ChunkCorrupt { ref hash } if *hash == hex::encode(h)));
    assert!(err.to_string().contains("corrupt"), "{err}");

    // Not zstd at all.
    overwrite(&path, offset, b"garbage");
    assert!(matches!(
        store.get(&h),
        Err(PackageError::ChunkCorrupt { .. })
    ));
    // The pack cut short under a running store.
    let f = fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(offset + u64::from(len) / 2).unwrap();
    assert!(matches!(
        store.get(&h),
        Err(PackageError::ChunkCorrupt { .. })
    ));
}

/// Valid zstd of other content, exactly `len` bytes long (padded with a skippable frame).
fn chunk_of_stored_len(len: u32) -> Vec<u8> {
    let mut z = zstd::bulk::compress(b"something else", 3).unwrap();
    let pad = len as usize - z.len() - 8;
    z.extend_from_slice(&0x184D2A50u32.to_le_bytes());
    z.extend_from_slice(&(pad as u32).to_le_bytes());
    z.resize(len as usize, 0);
    z
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

/// Reopened, the store finds every chunk again from its packs; new chunks go on the same
/// pack.
#[test]
fn a_reopened_store_finds_its_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<Vec<u8>> = (0..20).map(|i| chunk(3000 + i, i as u8)).collect();
    {
        let store = ChunkStore::open(dir.path()).unwrap();
        for d in &data[..10] {
            store.put(&chunk_hash(d), d).unwrap();
        }
    }
    let store = ChunkStore::open(dir.path()).unwrap();
    for d in &data[10..] {
        store.put(&chunk_hash(d), d).unwrap();
    }
    for d in &data {
        assert_eq!(&store.get(&chunk_hash(d)).unwrap(), d);
    }
    assert_eq!(store.stats().unwrap().chunk_count, 20);
    let packs: Vec<_> = fs::read_dir(dir.path().join("packs"))
        .unwrap()
        .filter_map(|e| pack::id_of(&e.unwrap().path()))
        .collect();
    assert_eq!(packs, [1], "a whole pack is written on after a restart");
}

/// A crash in the middle of a write leaves a torn record: the chunks before it are there,
/// the torn one is missing, and new writes begin a new pack.
#[test]
fn a_torn_last_record_is_missing_and_the_rest_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (chunk(4000, 1), chunk(4000, 2));
    let path = {
        let store = ChunkStore::open(dir.path()).unwrap();
        store.put(&chunk_hash(&a), &a).unwrap();
        store.put(&chunk_hash(&b), &b).unwrap();
        let (path, offset, len) = store.location(&chunk_hash(&b)).unwrap();
        let f = fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(offset + u64::from(len) - 10).unwrap();
        path
    };
    let store = ChunkStore::open(dir.path()).unwrap();
    assert_eq!(store.get(&chunk_hash(&a)).unwrap(), a);
    assert!(matches!(
        store.get(&chunk_hash(&b)),
        Err(PackageError::ChunkMissing { .. })
    ));
    store.put(&chunk_hash(&b), &b).unwrap();
    let (again, ..) = store.location(&chunk_hash(&b)).unwrap();
    assert_ne!(again, path, "the torn pack is only read");
    assert_eq!(store.get(&chunk_hash(&b)).unwrap(), b);
}

/// A flipped byte in a record header: the chunks from there on in that pack are missing
/// (named by whoever needs them), the others are read.
#[test]
fn a_damaged_header_loses_only_the_rest_of_its_pack() {
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<Vec<u8>> = (0..3).map(|i| chunk(2000, 10 + i)).collect();
    {
        let store = ChunkStore::open(dir.path()).unwrap();
        for d in &data {
            store.put(&chunk_hash(d), d).unwrap();
        }
        let (path, offset, _) = store.location(&chunk_hash(&data[1])).unwrap();
        overwrite(&path, offset - pack::HEADER_LEN + 3, &[0x55]);
    }
    let store = ChunkStore::open(dir.path()).unwrap();
    assert_eq!(store.get(&chunk_hash(&data[0])).unwrap(), data[0]);
    for d in &data[1..] {
        assert!(!store.contains(&chunk_hash(d)));
    }
}

/// One process at a time: a second open of the same store is refused with a clear error.
#[test]
fn a_store_in_use_is_not_opened_twice() {
    let dir = tempfile::tempdir().unwrap();
    let _first = ChunkStore::open(dir.path()).unwrap();
    let err = ChunkStore::open(dir.path()).unwrap_err();
    assert!(
        err.to_string().contains("in use by another process"),
        "{err}"
    );
}

/// Writers on several threads, some of the same chunks, each stored once; all there after a
/// reopen.
#[test]
fn concurrent_writers_store_each_chunk_once() {
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<Vec<u8>> = (0..64).map(|i| chunk(1500 + i, i as u8)).collect();
    {
        let store = ChunkStore::open(dir.path()).unwrap();
        std::thread::scope(|s| {
            for t in 0..4 {
                let (store, data) = (store.clone(), &data);
                s.spawn(move || {
                    for d in data.iter().skip(t * 8) {
                        store.put_hashed(&chunk_hash(d), d, false).unwrap();
                    }
                    store.sync().unwrap();
                });
            }
        });
        assert_eq!(store.stats().unwrap().chunk_count, 64);
    }
    let store = ChunkStore::open(dir.path()).unwrap();
    for d in &data {
        assert_eq!(&store.get(&chunk_hash(d)).unwrap(), d);
    }
    let (path, ..) = store.location(&chunk_hash(&data[0])).unwrap();
    let records = pack::scan(&fs::File::open(path).unwrap(), u32::MAX).unwrap();
    assert_eq!(records.records.len(), 64, "no chunk written twice");
}
