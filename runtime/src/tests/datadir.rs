//! Unit tests of `datadir.rs`.

use storage::{MemoryStore, StoreExt};

use super::*;

#[test]
fn the_first_admin_key_is_made_once() {
    let s = MemoryStore::new();
    let (key, b) = admin_key_batch(&s).unwrap().unwrap();
    s.commit(b).unwrap();
    let rec = s
        .get_record::<ApiKeyRecord>(&hash_api_key(&key))
        .unwrap()
        .unwrap();
    assert!(rec.admin);
    assert!(admin_key_batch(&s).unwrap().is_none());
}

#[cfg(unix)]
#[test]
fn the_directory_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("a/b");
    create_private(&d).unwrap();
    let mode = std::fs::metadata(&d).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
}
