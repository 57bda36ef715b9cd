//! Tests for archive validation (`validate_archive`) and its path/link safety rules.

use super::*;
use crate::testutil::{E, pseudo_random, tar_gz, write, zip};

fn validate_tar(entries: &[E<'_>]) -> Result<u64, PackageError> {
    let dir = tempfile::tempdir().unwrap();
    validate_archive(
        &write(dir.path(), "p.tar.gz", &tar_gz(entries)),
        ArchiveFormat::TarGz,
        crate::ExtractLimits::default(),
    )
}

fn validate_zip(entries: &[E<'_>]) -> Result<u64, PackageError> {
    let dir = tempfile::tempdir().unwrap();
    validate_archive(
        &write(dir.path(), "p.zip", &zip(entries)),
        ArchiveFormat::Zip,
        crate::ExtractLimits::default(),
    )
}

fn assert_unsafe(r: Result<u64, PackageError>, needle: &str) {
    match r {
        Err(PackageError::UnsafePath { entry }) => assert!(entry.contains(needle), "{entry}"),
        other => panic!("expected UnsafePath for {needle}, got {other:?}"),
    }
}

fn assert_malformed(r: Result<u64, PackageError>) {
    assert!(
        matches!(r, Err(PackageError::Malformed { .. })),
        "expected Malformed, got {r:?}"
    );
}

#[test]
fn accepts_good_archives() {
    let big = pseudo_random(300_000, 1);
    let entries = [
        E::Dir("./"),
        E::Dir("app/"),
        E::File("app/run.sh", b"#!/bin/sh\necho hi\n", 0o755),
        E::File("app/data.bin", &big, 0o644),
        E::File("app/deep/er/x.txt", b"x", 0o644),
        E::Symlink("app/current", "deep/er"),
        E::Symlink("app/up", "../app/run.sh"),
        E::Hardlink("app/run2.sh", "app/run.sh"),
    ];
    assert_eq!(validate_tar(&entries).unwrap(), 8);
    let zipped = [
        E::Dir("lib/"),
        E::File("lib/a.dll", &big, 0o644),
        E::File("tools/install.ps1", b"Write-Host hi", 0o755),
        E::Symlink("lib/link", "a.dll"),
    ];
    assert_eq!(validate_zip(&zipped).unwrap(), 4);
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "p.nupkg", &zip(&zipped));
    assert_eq!(
        validate_archive(&p, ArchiveFormat::Nupkg, crate::ExtractLimits::default()).unwrap(),
        4
    );
    assert_eq!(validate_zip(&[]).unwrap(), 0);
}

#[test]
fn rejects_truncated_and_corrupt_tar_gz() {
    let big = pseudo_random(200_000, 2);
    let good = tar_gz(&[
        E::File("a.bin", &big, 0o644),
        E::File("b.txt", b"hello", 0o644),
    ]);
    let dir = tempfile::tempdir().unwrap();
    for cut in [good.len() - 4, good.len() - 8, good.len() / 2, 30, 5] {
        let p = write(dir.path(), "t.tar.gz", &good[..cut]);
        assert_malformed(validate_archive(
            &p,
            ArchiveFormat::TarGz,
            crate::ExtractLimits::default(),
        ));
    }
    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x55;
    let p = write(dir.path(), "f.tar.gz", &flipped);
    assert_malformed(validate_archive(
        &p,
        ArchiveFormat::TarGz,
        crate::ExtractLimits::default(),
    ));
    let p = write(dir.path(), "g.tar.gz", &pseudo_random(10_000, 3));
    let err =
        validate_archive(&p, ArchiveFormat::TarGz, crate::ExtractLimits::default()).unwrap_err();
    assert!(err.to_string().contains("malformed"), "{err}");
    let p = write(dir.path(), "e.tar.gz", b"");
    assert!(validate_archive(&p, ArchiveFormat::TarGz, crate::ExtractLimits::default()).is_err());
}

#[test]
fn rejects_truncated_and_corrupt_zip() {
    let big = pseudo_random(200_000, 4);
    let good = zip(&[
        E::File("a.bin", &big, 0o644),
        E::File("b.txt", b"hello", 0o644),
    ]);
    let dir = tempfile::tempdir().unwrap();
    for cut in [good.len() - 1, good.len() - 30, good.len() * 2 / 3, 100, 0] {
        let p = write(dir.path(), "t.zip", &good[..cut]);
        assert_malformed(validate_archive(
            &p,
            ArchiveFormat::Zip,
            crate::ExtractLimits::default(),
        ));
    }
    // Flip a byte inside a.bin's (incompressible, so stored-as-is) data: CRC must catch it.
    let mut flipped = good.clone();
    flipped[50_000] ^= 0x01;
    let p = write(dir.path(), "f.zip", &flipped);
    let err =
        validate_archive(&p, ArchiveFormat::Zip, crate::ExtractLimits::default()).unwrap_err();
    assert!(
        matches!(err, PackageError::Malformed { ref reason } if reason.contains("a.bin")),
        "{err}"
    );
    let p = write(dir.path(), "g.zip", &pseudo_random(10_000, 5));
    assert_malformed(validate_archive(
        &p,
        ArchiveFormat::Zip,
        crate::ExtractLimits::default(),
    ));
    let missing = dir.path().join("nope.zip");
    assert!(matches!(
        validate_archive(
            &missing,
            ArchiveFormat::Zip,
            crate::ExtractLimits::default()
        ),
        Err(PackageError::Io(_))
    ));
}

#[test]
fn rejects_parent_and_absolute_paths() {
    for name in [
        "../evil",
        "a/../../evil",
        "ok/../x",
        "/etc/passwd",
        "\\evil",
        "C:\\evil",
        "a\\..\\..\\evil",
    ] {
        assert_unsafe(validate_tar(&[E::File(name, b"x", 0o644)]), name);
        assert_unsafe(validate_zip(&[E::File(name, b"x", 0o644)]), name);
    }
    let err = validate_tar(&[E::File("../../etc/passwd", b"x", 0o644)]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "archive entry '../../etc/passwd' would be written outside the extraction directory"
    );
}

#[test]
fn rejects_escaping_links() {
    for target in [
        "../outside",
        "/etc/passwd",
        "a/../../x",
        "..",
        "C:\\Windows",
    ] {
        assert_unsafe(validate_tar(&[E::Symlink("link", target)]), target);
        assert_unsafe(validate_zip(&[E::Symlink("link", target)]), target);
    }
    assert_unsafe(validate_tar(&[E::Symlink("d/link", "../../x")]), "d/link");
    validate_tar(&[E::Symlink("d/link", "../x")]).unwrap();
    // Hard links: outside, to nothing, to a symlink.
    assert_unsafe(
        validate_tar(&[E::Hardlink("h", "../../etc/passwd")]),
        "h -> ",
    );
    assert_unsafe(validate_tar(&[E::Hardlink("h", "/etc/passwd")]), "h -> ");
    assert_malformed(validate_tar(&[E::Hardlink("h", "missing")]));
    assert_unsafe(
        validate_tar(&[E::Symlink("d/l", "../x"), E::Hardlink("h", "d/l")]),
        "h -> d/l",
    );
}

#[test]
fn rejects_links_that_escape_through_other_links() {
    // "a" -> "." makes "a/.." the parent of the root.
    assert_unsafe(
        validate_tar(&[E::Symlink("a", "."), E::Symlink("s", "a/..")]),
        "s -> a/..",
    );
    // Same, but the link that makes it escape comes later.
    assert_unsafe(
        validate_tar(&[E::Symlink("s", "a/.."), E::Symlink("a", ".")]),
        "s -> a/..",
    );
    // A loop is refused too.
    assert!(validate_tar(&[E::Symlink("x", "y"), E::Symlink("y", "x")]).is_err());
    // Writing through a symlink (even one pointing inside) is refused.
    assert_unsafe(
        validate_tar(&[
            E::Dir("sub/"),
            E::Symlink("d", "sub"),
            E::File("d/x", b"1", 0o644),
        ]),
        "d/x",
    );
    assert_unsafe(
        validate_zip(&[E::Symlink("d", "."), E::File("d/x", b"1", 0o644)]),
        "d/x",
    );
}

#[test]
fn rejects_devices_and_conflicts() {
    let err = validate_tar(&[E::Fifo("pipe")]).unwrap_err();
    assert!(
        matches!(err, PackageError::UnsupportedEntry { ref entry, .. } if entry == "pipe"),
        "{err}"
    );
    assert_malformed(validate_tar(&[
        E::File("a", b"1", 0o644),
        E::File("a/b", b"2", 0o644),
    ]));
    assert_malformed(validate_tar(&[
        E::File("a/b", b"2", 0o644),
        E::File("a", b"1", 0o644),
    ]));
}

#[test]
fn sanitize_splits_and_normalises() {
    assert_eq!(sanitize("./a//b/./c/").unwrap(), ["a", "b", "c"]);
    assert_eq!(sanitize("a\\b").unwrap(), ["a", "b"]);
    assert!(sanitize(".").unwrap().is_empty());
    assert!(sanitize("..").is_err());
    assert!(matches!(
        sanitize("a\0b"),
        Err(PackageError::Malformed { .. })
    ));
}

#[test]
fn stream_validation_matches_file_validation() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.tar.gz");
    {
        let f = std::fs::File::create(&good).unwrap();
        let gz = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
        let mut t = tar::Builder::new(gz);
        let mut h = tar::Header::new_gnu();
        h.set_size(3);
        h.set_mode(0o644);
        h.set_cksum();
        t.append_data(&mut h, "a.txt", &b"abc"[..]).unwrap();
        t.into_inner().unwrap().finish().unwrap();
    }
    let bytes = std::fs::read(&good).unwrap();
    assert_eq!(
        super::validate_stream(
            &bytes[..],
            ArchiveFormat::TarGz,
            crate::ExtractLimits::default()
        )
        .unwrap(),
        1
    );
    assert!(
        super::validate_stream(
            &bytes[..bytes.len() - 5],
            ArchiveFormat::TarGz,
            crate::ExtractLimits::default()
        )
        .is_err()
    );
    assert!(
        super::validate_stream(
            &bytes[..],
            ArchiveFormat::Zip,
            crate::ExtractLimits::default()
        )
        .is_err()
    );
}
