//! Package archive validation and extraction (.tar.gz from a stream and a file, .zip from a
//! file) on arbitrary bytes, with small limits. What validates must extract inside the
//! destination; nothing may panic.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use package_store::{ArchiveFormat, ExtractLimits};

fn limits() -> ExtractLimits {
    ExtractLimits {
        max_bytes: 8 << 20,
        max_entries: 1_000,
        max_ratio: 200,
    }
}

/// One scratch directory for the whole run (a new one per input costs more than the input).
fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &DIR.get_or_init(|| {
        let d = tempfile::tempdir().expect("a temporary directory");
        let p = d.path().to_path_buf();
        (d, p)
    })
    .1
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let format = if pick & 1 == 0 {
        ArchiveFormat::TarGz
    } else {
        ArchiveFormat::Zip
    };
    if format == ArchiveFormat::TarGz {
        let _ = package_store::validate_stream(bytes, format, limits());
    }
    let file = scratch().join("package");
    std::fs::write(&file, bytes).expect("write the input");
    if package_store::validate_archive(&file, format, limits()).is_ok() {
        let dest = scratch().join("out");
        let _ = package_store::extract(&file, format, &dest, limits());
        // Nothing may land outside the destination.
        for e in std::fs::read_dir(scratch()).expect("read the scratch directory") {
            let name = e.expect("an entry").file_name();
            assert!(name == "package" || name == "out", "{name:?} escaped");
        }
        let _ = std::fs::remove_dir_all(&dest);
    }
});
