//! Unit tests of `migrate.rs`: a store of the one-file-per-chunk layout opens as packs.

use super::*;
use crate::testutil::pseudo_random;

/// Writes a chunk file as the older layout did.
fn old_chunk(root: &Path, data: &[u8]) -> ChunkHash {
    let h = chunk_hash(data);
    let hex = hex::encode(h);
    let dir = root.join(&hex[..2]);
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join(format!("{hex}.zst")),
        zstd::bulk::compress(data, 3).unwrap(),
    )
    .unwrap();
    h
}

#[test]
fn an_older_store_is_moved_into_packs_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let data: Vec<Vec<u8>> = (0..30).map(|i| pseudo_random(3000, i)).collect();
    let hashes: Vec<ChunkHash> = data.iter().map(|d| old_chunk(root, d)).collect();
    // A damaged chunk file and a temporary file cut by a crash.
    let bad = old_chunk(root, b"will be damaged");
    let bad_hex = hex::encode(bad);
    let bad_path = root.join(&bad_hex[..2]).join(format!("{bad_hex}.zst"));
    fs::write(&bad_path, b"not zstd").unwrap();
    fs::write(root.join(&bad_hex[..2]).join(".tmp-123"), b"partial").unwrap();

    let store = ChunkStore::open(root).unwrap();
    for (h, d) in hashes.iter().zip(&data) {
        assert_eq!(&store.get(h).unwrap(), d);
        assert!(store.location(h).unwrap().0.starts_with(root.join("packs")));
    }
    assert!(!store.contains(&bad), "a damaged chunk is not moved");
    assert!(bad_path.is_file(), "and is left in place");
    let left: Vec<_> = fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != "packs")
        .collect();
    assert_eq!(
        left,
        [bad_hex[..2].to_string()],
        "the other chunk files are gone"
    );
    assert_eq!(
        fs::read_dir(root.join(&bad_hex[..2])).unwrap().count(),
        1,
        "the temporary file is gone"
    );
    drop(store);
    // Opened again: nothing moved twice.
    let store = ChunkStore::open(root).unwrap();
    assert_eq!(store.stats().unwrap().chunk_count, 30);
    let (path, ..) = store.location(&hashes[0]).unwrap();
    let s = crate::pack::scan(&fs::File::open(path).unwrap(), u32::MAX).unwrap();
    assert_eq!(s.records.len(), 30);
}
