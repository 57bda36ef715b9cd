//! An Offline Package Drop's `manifest.json` and drop receipt on arbitrary bytes: the manifest
//! is checked against a drop folder holding only it (every listed path must be refused or
//! found inside the folder), the receipt parsed. Must never panic.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn drop_dir() -> &'static PathBuf {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &DIR.get_or_init(|| {
        let d = tempfile::tempdir().expect("a temporary directory");
        let p = d.path().join("drop");
        std::fs::create_dir(&p).expect("the drop folder");
        (d, p)
    })
    .1
}

fuzz_target!(|data: &[u8]| {
    let _ = exec::drop::parse_receipt(data);
    std::fs::write(drop_dir().join("manifest.json"), data).expect("write the manifest");
    let _ = exec::drop::verify(drop_dir());
});
