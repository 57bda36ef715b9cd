//! Transfer archive import on arbitrary bytes into a real chunk store: every chunk must be
//! verified against its hash before it is stored; bad input is an error, never a panic.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use package_store::ChunkStore;

fn store() -> &'static ChunkStore {
    static STORE: OnceLock<(tempfile::TempDir, ChunkStore)> = OnceLock::new();
    &STORE
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("a temporary directory");
            let store = ChunkStore::open(dir.path().join("chunks")).expect("a chunk store");
            (dir, store)
        })
        .1
}

fuzz_target!(|data: &[u8]| {
    let _ = package_store::transfer::import(store(), data, &mut |_| {});
});
