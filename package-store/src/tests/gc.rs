//! Unit tests of `gc.rs`: chunks no one keeps are deleted from closed packs.

use super::*;
use crate::testutil::pseudo_random;
use std::time::Duration;

fn stored(store: &ChunkStore, n: usize) -> Vec<(ChunkHash, Vec<u8>)> {
    (0..n)
        .map(|i| {
            let d = pseudo_random(5000, i as u64);
            let h = chunk_hash(&d);
            store.put(&h, &d).unwrap();
            (h, d)
        })
        .collect()
}

fn pack_count(store: &ChunkStore) -> usize {
    fs::read_dir(store.inner().packs_dir())
        .unwrap()
        .filter(|e| pack::id_of(&e.as_ref().unwrap().path()).is_some())
        .count()
}

#[test]
fn a_dry_run_says_what_it_would_free_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = ChunkStore::open(dir.path()).unwrap();
    let chunks = stored(&store, 10);
    let keep: HashSet<ChunkHash> = chunks[..4].iter().map(|(h, _)| *h).collect();
    let before = store.stats().unwrap();
    let r = store
        .retain(|h| keep.contains(h), true, Duration::ZERO)
        .unwrap();
    assert_eq!((r.removed, r.packs_rewritten), (6, 1));
    assert!(r.freed_bytes > 6 * 4000, "{r:?}");
    assert_eq!(store.stats().unwrap(), before);

    let done = store
        .retain(|h| keep.contains(h), false, Duration::ZERO)
        .unwrap();
    assert_eq!((done.removed, done.freed_bytes), (r.removed, r.freed_bytes));
    for (h, d) in &chunks {
        match keep.contains(h) {
            true => assert_eq!(&store.get(h).unwrap(), d),
            false => assert!(!store.contains(h)),
        }
    }
    // What is left is all there after a reopen, and what was deleted stays deleted.
    drop(store);
    let store = ChunkStore::open(dir.path()).unwrap();
    assert_eq!(store.stats().unwrap().chunk_count, 4);
    for (h, d) in &chunks[..4] {
        assert_eq!(&store.get(h).unwrap(), d);
    }
    // Nothing more to free.
    assert_eq!(
        store
            .retain(|h| keep.contains(h), false, Duration::ZERO)
            .unwrap()
            .removed,
        0
    );
}

/// Chunks written while a collection runs are in a pack it does not touch; a crash between
/// writing the kept chunks again and deleting the old pack leaves them in two packs.
#[test]
fn new_chunks_and_a_crash_in_the_middle_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = ChunkStore::open(dir.path()).unwrap();
    let old = stored(&store, 6);
    // A chunk written while the collection runs (from inside its `keep`), unknown to `keep`.
    let new = pseudo_random(5000, 99);
    let written = std::sync::Once::new();
    let r = store
        .retain(
            |h| {
                written.call_once(|| {
                    store.put(&chunk_hash(&new), &new).unwrap();
                });
                *h == old[0].0
            },
            false,
            Duration::ZERO,
        )
        .unwrap();
    assert_eq!(r.removed, 5);
    assert_eq!(
        store.get(&chunk_hash(&new)).unwrap(),
        new,
        "written during the collection"
    );
    assert!(
        store
            .location(&chunk_hash(&new))
            .unwrap()
            .0
            .ends_with(pack::file_name(2))
    );

    // The crash: the pack of the kept chunk copied back in place beside its new copy.
    let copy = dir.path().join("packs").join(pack::file_name(1));
    let (now, ..) = store.location(&old[0].0).unwrap();
    drop(store);
    fs::copy(&now, &copy).unwrap();
    let store = ChunkStore::open(dir.path()).unwrap();
    assert_eq!(store.get(&old[0].0).unwrap(), old[0].1);
    assert!(pack_count(&store) >= 2);
    // The duplicate is reclaimed by the next collection.
    let r = store.retain(|_| true, false, Duration::ZERO).unwrap();
    assert_eq!(r.removed, 0);
    assert_eq!(store.get(&old[0].0).unwrap(), old[0].1);
}

/// A kept chunk found damaged while it is moved is left out and named.
#[test]
fn a_damaged_kept_chunk_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let store = ChunkStore::open(dir.path()).unwrap();
    let chunks = stored(&store, 3);
    let (path, offset, _) = store.location(&chunks[1].0).unwrap();
    crate::testutil::overwrite(&path, offset + 20, b"xxxx");
    let r = store
        .retain(|h| *h != chunks[0].0, false, Duration::ZERO)
        .unwrap();
    assert_eq!(r.damaged, [hex::encode(chunks[1].0)]);
    assert!(!store.contains(&chunks[1].0));
    assert_eq!(store.get(&chunks[2].0).unwrap(), chunks[2].1);
}

/// Packs written more recently than the minimum age are left alone (chunks a transfer
/// archive brought for a bundle not added yet).
#[test]
fn recent_packs_are_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = ChunkStore::open(dir.path()).unwrap();
    let chunks = stored(&store, 3);
    let r = store
        .retain(|_| false, false, Duration::from_secs(3600))
        .unwrap();
    assert_eq!(r, GcReport::default());
    assert_eq!(store.stats().unwrap().chunk_count, 3);
    let r = store.retain(|_| false, true, Duration::ZERO).unwrap();
    assert_eq!(r.removed, 3);
    assert!(store.contains(&chunks[0].0), "a dry run deletes nothing");
}
