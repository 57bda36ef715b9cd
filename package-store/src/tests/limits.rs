//! Extraction limits: a bomb, too many bytes, too many entries are refused while they are
//! read, by validation and by extraction alike, with the limit named.

use std::io::{Read, Write};
use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;

use super::*;
use crate::testutil::{E, tar_gz, write};
use crate::{ArchiveFormat, extract, validate_archive, validate_stream};

/// A tar.gz holding one file of `len` zero bytes (written without holding it in memory).
fn zeros_tar_gz(path: &Path, len: u64) {
    let f = std::fs::File::create(path).unwrap();
    let mut b = tar::Builder::new(GzEncoder::new(f, Compression::fast()));
    let mut h = tar::Header::new_gnu();
    h.set_size(len);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, "zeros.bin", std::io::repeat(0).take(len))
        .unwrap();
    b.into_inner().unwrap().finish().unwrap().flush().unwrap();
}

fn limit_reason(r: Result<u64, PackageError>) -> String {
    match r {
        Err(PackageError::LimitExceeded { reason }) => reason,
        other => panic!("expected LimitExceeded, got {other:?}"),
    }
}

#[test]
fn a_compression_bomb_is_refused_by_validation_and_extraction() {
    let dir = tempfile::tempdir().unwrap();
    let bomb = dir.path().join("bomb.tar.gz");
    zeros_tar_gz(&bomb, RATIO_FLOOR + (16 << 20));
    let packed = std::fs::metadata(&bomb).unwrap().len();
    assert!(packed < 1 << 20, "{packed} bytes");
    let l = ExtractLimits::default();
    let why = limit_reason(validate_archive(&bomb, ArchiveFormat::TarGz, l));
    assert!(why.contains("max_ratio"), "{why}");
    let stream = std::fs::File::open(&bomb).unwrap();
    assert!(limit_reason(validate_stream(stream, ArchiveFormat::TarGz, l)).contains("max_ratio"));
    let dest = dir.path().join("out");
    assert!(limit_reason(extract(&bomb, ArchiveFormat::TarGz, &dest, l)).contains("max_ratio"));
    let written = std::fs::metadata(dest.join("zeros.bin"))
        .map(|m| m.len())
        .unwrap_or(0);
    assert!(
        written <= RATIO_FLOOR + (1 << 20),
        "stopped at the limit: {written}"
    );
    // The same archive passes where the ratio is allowed.
    let lax = ExtractLimits {
        max_ratio: 1_000_000,
        ..l
    };
    assert!(validate_archive(&bomb, ArchiveFormat::TarGz, lax).is_ok());
}

#[test]
fn bytes_and_entries_are_capped() {
    let dir = tempfile::tempdir().unwrap();
    let data = vec![7u8; 5000];
    let p = write(
        dir.path(),
        "p.tar.gz",
        &tar_gz(&[
            E::File("a", &data, 0o644),
            E::File("b", b"x", 0o644),
            E::File("c", b"y", 0o644),
        ]),
    );
    let small = ExtractLimits {
        max_bytes: 4000,
        ..ExtractLimits::default()
    };
    assert!(limit_reason(validate_archive(&p, ArchiveFormat::TarGz, small)).contains("max_bytes"));
    let few = ExtractLimits {
        max_entries: 2,
        ..ExtractLimits::default()
    };
    let why = limit_reason(validate_archive(&p, ArchiveFormat::TarGz, few));
    assert!(why.contains("more than 2 entries"), "{why}");
    assert_eq!(
        validate_archive(&p, ArchiveFormat::TarGz, ExtractLimits::default()).unwrap(),
        3
    );
}

/// `std::env::set_var` is unsafe in edition 2024 and the workspace forbids unsafe code, so the
/// parsing runs in a child process (this test binary, one test) given the variables.
#[test]
fn limits_come_from_the_environment_when_set() {
    let run = |ratio: &str| {
        std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "limits::tests::from_env_child", "--nocapture"])
            .env("PACKAGE_EXTRACT_MAX_RATIO", ratio)
            .env("RUN_FROM_ENV_CHILD", "1")
            .output()
            .unwrap()
    };
    let out = run("50");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("1 passed"), "{text}");
    let out = run("lots");
    assert!(
        !out.status.success(),
        "a value that is not a number is refused"
    );
}

#[test]
fn from_env_child() {
    if std::env::var("RUN_FROM_ENV_CHILD").is_err() {
        return; // run by `limits_come_from_the_environment_when_set` in a child process
    }
    let l = ExtractLimits::from_env().expect("PACKAGE_EXTRACT_MAX_RATIO parses");
    assert_eq!(l.max_ratio, 50);
    assert_eq!(l.max_bytes, ExtractLimits::default().max_bytes);
}
