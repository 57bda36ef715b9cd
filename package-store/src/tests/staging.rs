//! Staged uploads: invisible until adopted, gone when dropped, adopted without a copy and
//! still there after a reopen; a crash's leftovers removed at open; GC after adoption.

use std::fs;
use std::time::Duration;

use crate::{ChunkStore, chunk_hash, ingest, ingest_staged};

fn bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn staging_files(store: &ChunkStore) -> usize {
    fs::read_dir(store.root().join("packs"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("staging-"))
        .count()
}

#[test]
fn staged_chunks_are_invisible_until_adopted_and_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let store = ChunkStore::open(&root).unwrap();
    let shared = bytes(300_000, 1);
    let before = ingest(&store, shared.as_slice()).unwrap();
    let mut data = shared.clone();
    data.extend(bytes(400_000, 2));
    let (ing, staged) = ingest_staged(&store, data.as_slice()).unwrap();
    let new: Vec<_> = ing
        .chunks
        .iter()
        .filter(|c| !before.chunks.contains(c))
        .collect();
    assert!(!new.is_empty());
    assert!(
        new.iter().all(|c| !store.contains(&c.hash)),
        "not visible yet"
    );
    assert!(ing.new_bytes > 0);
    let packs = store.stats().unwrap().pack_files;
    assert_eq!(staged.adopt().unwrap(), new.len());
    assert!(ing.chunks.iter().all(|c| store.contains(&c.hash)));
    assert_eq!(store.stats().unwrap().pack_files, packs + 1);
    assert_eq!(staging_files(&store), 0);
    for c in &ing.chunks {
        assert_eq!(chunk_hash(&store.get(&c.hash).unwrap()), c.hash);
    }
    // Writing goes on in the open pack, and a new pack after it gets a number of its own.
    store.put(&chunk_hash(b"later"), b"later").unwrap();
    drop(store);
    let store = ChunkStore::open(&root).unwrap();
    assert!(ing.chunks.iter().all(|c| store.contains(&c.hash)));
    assert!(store.contains(&chunk_hash(b"later")));
}

#[test]
fn a_stage_dropped_without_adoption_leaves_the_store_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let store = ChunkStore::open(dir.path().join("store")).unwrap();
    ingest(&store, bytes(100_000, 3).as_slice()).unwrap();
    let before = store.stats().unwrap();
    let (ing, staged) = ingest_staged(&store, bytes(500_000, 4).as_slice()).unwrap();
    assert_eq!(staging_files(&store), 1);
    drop(staged);
    assert_eq!(staging_files(&store), 0);
    assert_eq!(store.stats().unwrap(), before);
    assert!(ing.chunks.iter().all(|c| !store.contains(&c.hash)));
}

#[test]
fn a_stage_left_by_a_crash_is_deleted_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let store = ChunkStore::open(&root).unwrap();
    let (ing, staged) = ingest_staged(&store, bytes(200_000, 5).as_slice()).unwrap();
    // A crash: the process ends with the stage neither adopted nor dropped.
    let packs = root.join("packs");
    let left = fs::read_dir(&packs)
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("staging-"))
        .unwrap()
        .path();
    fs::copy(&left, packs.join("staging-999")).unwrap();
    drop(staged);
    drop(store);
    assert!(packs.join("staging-999").exists());
    let store = ChunkStore::open(&root).unwrap();
    assert_eq!(staging_files(&store), 0);
    assert!(ing.chunks.iter().all(|c| !store.contains(&c.hash)));
}

#[test]
fn adopted_packs_are_collected_like_any_other() {
    let dir = tempfile::tempdir().unwrap();
    let store = ChunkStore::open(dir.path().join("store")).unwrap();
    let (a, sa) = ingest_staged(&store, bytes(300_000, 6).as_slice()).unwrap();
    sa.adopt().unwrap();
    let (b, sb) = ingest_staged(&store, bytes(300_000, 7).as_slice()).unwrap();
    sb.adopt().unwrap();
    let keep: std::collections::HashSet<_> = b.chunks.iter().map(|c| c.hash).collect();
    let report = store
        .retain(|h| keep.contains(h), false, Duration::ZERO)
        .unwrap();
    assert_eq!(report.removed as usize, a.chunks.len());
    assert!(b.chunks.iter().all(|c| store.get(&c.hash).is_ok()));
    assert!(a.chunks.iter().all(|c| !store.contains(&c.hash)));
}

#[test]
fn concurrent_stages_and_writes_each_get_their_own_pack() {
    let dir = tempfile::tempdir().unwrap();
    let store = ChunkStore::open(dir.path().join("store")).unwrap();
    let all: Vec<Vec<crate::ChunkRef>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..4u64)
            .map(|i| {
                let store = store.clone();
                s.spawn(move || {
                    if i % 2 == 0 {
                        let (ing, st) =
                            ingest_staged(&store, bytes(250_000, 10 + i).as_slice()).unwrap();
                        st.adopt().unwrap();
                        ing.chunks
                    } else {
                        ingest(&store, bytes(250_000, 10 + i).as_slice())
                            .unwrap()
                            .chunks
                    }
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for chunks in &all {
        for c in chunks {
            assert_eq!(chunk_hash(&store.get(&c.hash).unwrap()), c.hash);
        }
    }
}
