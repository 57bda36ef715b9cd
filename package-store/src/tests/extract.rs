//! Tests for `extract`: contents, modes, links, and refusal to write outside the destination.

use super::*;
use crate::testutil::{E, pseudo_random, tar_gz, write, zip};
use std::os::unix::fs::PermissionsExt;

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

/// Every path under `root` except those under `except`.
fn tree(root: &Path, except: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.starts_with(except) {
                continue;
            }
            if fs::symlink_metadata(&p).unwrap().is_dir() {
                stack.push(p.clone());
            }
            out.push(p);
        }
    }
    out.sort();
    out
}

#[test]
fn extracts_tar_gz_with_modes_and_links() {
    let dir = tempfile::tempdir().unwrap();
    let big = pseudo_random(150_000, 8);
    let archive = write(
        dir.path(),
        "p.tar.gz",
        &tar_gz(&[
            E::Dir("./"),
            E::File("bin/deploy.sh", b"#!/bin/sh\necho deployed\n", 0o755),
            E::File("bin/setuid", b"x", 0o4755),
            E::File("conf/app.json", b"{}", 0o640),
            E::File("data.bin", &big, 0o644),
            E::Dir("ro/"),
            E::Symlink("current", "conf/app.json"),
            E::Hardlink("bin/again.sh", "bin/deploy.sh"),
        ]),
    );
    let dest = dir.path().join("out/nested");
    assert_eq!(
        extract(
            &archive,
            ArchiveFormat::TarGz,
            &dest,
            crate::ExtractLimits::default()
        )
        .unwrap(),
        8
    );
    assert_eq!(
        fs::read(dest.join("bin/deploy.sh")).unwrap(),
        b"#!/bin/sh\necho deployed\n"
    );
    assert_eq!(mode(&dest.join("bin/deploy.sh")), 0o755);
    assert_eq!(
        mode(&dest.join("bin/setuid")),
        0o755,
        "setuid bit is dropped"
    );
    assert_eq!(mode(&dest.join("conf/app.json")), 0o640);
    assert_eq!(mode(&dest.join("data.bin")), 0o644);
    assert!(fs::read(dest.join("data.bin")).unwrap() == big);
    assert_eq!(
        fs::read_link(dest.join("current")).unwrap(),
        Path::new("conf/app.json")
    );
    assert_eq!(
        fs::read(dest.join("bin/again.sh")).unwrap(),
        b"#!/bin/sh\necho deployed\n"
    );

    // Extracting again over the top replaces files (and the link) cleanly.
    assert_eq!(
        extract(
            &archive,
            ArchiveFormat::TarGz,
            &dest,
            crate::ExtractLimits::default()
        )
        .unwrap(),
        8
    );
    assert_eq!(mode(&dest.join("bin/deploy.sh")), 0o755);
}

#[test]
fn extracts_zip_and_keeps_executable_bit() {
    let dir = tempfile::tempdir().unwrap();
    let archive = write(
        dir.path(),
        "p.zip",
        &zip(&[
            E::Dir("scripts/"),
            E::File("scripts/PreDeploy.sh", b"#!/bin/bash\ntrue\n", 0o755),
            E::File("readme.txt", b"hi", 0o644),
            E::Symlink("latest", "scripts/PreDeploy.sh"),
        ]),
    );
    let dest = dir.path().join("out");
    assert_eq!(
        extract(
            &archive,
            ArchiveFormat::Zip,
            &dest,
            crate::ExtractLimits::default()
        )
        .unwrap(),
        4
    );
    assert_eq!(mode(&dest.join("scripts/PreDeploy.sh")), 0o755);
    assert_eq!(mode(&dest.join("readme.txt")), 0o644);
    assert_eq!(
        fs::read(dest.join("latest")).unwrap(),
        b"#!/bin/bash\ntrue\n"
    );
}

#[test]
fn refuses_parent_paths_and_writes_nothing_outside() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("a/b/dest");
    let cases: Vec<(&str, Vec<u8>, ArchiveFormat)> = vec![
        (
            "t.tar.gz",
            tar_gz(&[
                E::File("fine.txt", b"ok", 0o644),
                E::File("../evil", b"x", 0o644),
            ]),
            ArchiveFormat::TarGz,
        ),
        (
            "u.tar.gz",
            tar_gz(&[E::File("../../../evil", b"x", 0o644)]),
            ArchiveFormat::TarGz,
        ),
        (
            "v.tar.gz",
            tar_gz(&[E::File("/tmp/evil-abs", b"x", 0o644)]),
            ArchiveFormat::TarGz,
        ),
        (
            "w.zip",
            zip(&[E::File("x/../../evil", b"x", 0o644)]),
            ArchiveFormat::Zip,
        ),
        (
            "x.zip",
            zip(&[E::File("..\\evil", b"x", 0o644)]),
            ArchiveFormat::Zip,
        ),
    ];
    for (name, bytes, format) in cases {
        let archive = write(dir.path(), name, &bytes);
        let err = extract(&archive, format, &dest, crate::ExtractLimits::default()).unwrap_err();
        assert!(
            matches!(err, PackageError::UnsafePath { .. }),
            "{name}: {err}"
        );
    }
    let outside: Vec<_> = tree(dir.path(), &dest)
        .into_iter()
        .filter(|p| p.extension().is_none_or(|e| e != "gz" && e != "zip"))
        .collect();
    assert_eq!(outside, [dir.path().join("a"), dir.path().join("a/b")]);
    assert!(!Path::new("/tmp/evil-abs").exists());
}

#[test]
fn never_writes_through_symlinks() {
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside");
    fs::create_dir(&outside).unwrap();
    let dest = dir.path().join("dest");
    fs::create_dir(&dest).unwrap();

    // A symlink in the archive pointing out is refused before it is created.
    let a = write(
        dir.path(),
        "a.tar.gz",
        &tar_gz(&[
            E::Symlink("link", "../outside"),
            E::File("link/pwned", b"x", 0o644),
        ]),
    );
    let err = extract(
        &a,
        ArchiveFormat::TarGz,
        &dest,
        crate::ExtractLimits::default(),
    )
    .unwrap_err();
    assert!(
        matches!(err, PackageError::UnsafePath { ref entry } if entry == "link -> ../outside"),
        "{err}"
    );
    assert!(fs::symlink_metadata(dest.join("link")).is_err());

    // A link that only escapes once a later link exists is removed again.
    let b = write(
        dir.path(),
        "b.tar.gz",
        &tar_gz(&[E::Symlink("s", "a/.."), E::Symlink("a", ".")]),
    );
    assert!(matches!(
        extract(
            &b,
            ArchiveFormat::TarGz,
            &dest,
            crate::ExtractLimits::default()
        ),
        Err(PackageError::UnsafePath { .. })
    ));
    assert!(
        fs::symlink_metadata(dest.join("s")).is_err(),
        "escaping link removed"
    );

    // A symlink already in the destination is not followed.
    std::os::unix::fs::symlink(&outside, dest.join("pre")).unwrap();
    let c = write(
        dir.path(),
        "c.tar.gz",
        &tar_gz(&[E::File("pre/pwned", b"x", 0o644)]),
    );
    assert!(matches!(
        extract(
            &c,
            ArchiveFormat::TarGz,
            &dest,
            crate::ExtractLimits::default()
        ),
        Err(PackageError::UnsafePath { .. })
    ));
    // ...nor replaced by writing through it when the entry is the link itself.
    let d = write(
        dir.path(),
        "d.tar.gz",
        &tar_gz(&[E::File("pre", b"replaced", 0o644)]),
    );
    extract(
        &d,
        ArchiveFormat::TarGz,
        &dest,
        crate::ExtractLimits::default(),
    )
    .unwrap();
    assert_eq!(fs::read(dest.join("pre")).unwrap(), b"replaced");
    assert_eq!(
        fs::read_dir(&outside).unwrap().count(),
        0,
        "nothing written outside"
    );
}

#[test]
fn refuses_devices() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "a.tar.gz", &tar_gz(&[E::Fifo("pipe")]));
    let dest = dir.path().join("dest");
    assert!(matches!(
        extract(
            &a,
            ArchiveFormat::TarGz,
            &dest,
            crate::ExtractLimits::default()
        ),
        Err(PackageError::UnsupportedEntry { .. })
    ));
    assert!(fs::symlink_metadata(dest.join("pipe")).is_err());
}

#[test]
fn keeps_long_link_targets_whole() {
    // A symlink whose target is longer than the 100 bytes of a tar header (GNU long link).
    let dir = tempfile::tempdir().unwrap();
    let long_dir = "d".repeat(60) + "/" + &"e".repeat(60);
    let target = format!("{long_dir}/file.txt");
    let archive = dir.path().join("long.tar.gz");
    {
        let f = std::fs::File::create(&archive).unwrap();
        let gz = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
        let mut t = tar::Builder::new(gz);
        let mut h = tar::Header::new_gnu();
        h.set_size(2);
        h.set_mode(0o644);
        t.append_data(&mut h, &target, &b"hi"[..]).unwrap();
        let mut l = tar::Header::new_gnu();
        l.set_entry_type(tar::EntryType::Symlink);
        l.set_size(0);
        l.set_mode(0o777);
        t.append_link(&mut l, "link.txt", &target).unwrap();
        t.into_inner().unwrap().finish().unwrap();
    }
    crate::validate_archive(
        &archive,
        ArchiveFormat::TarGz,
        crate::ExtractLimits::default(),
    )
    .unwrap();
    let dest = dir.path().join("out");
    extract(
        &archive,
        ArchiveFormat::TarGz,
        &dest,
        crate::ExtractLimits::default(),
    )
    .unwrap();
    assert_eq!(
        std::fs::read_link(dest.join("link.txt")).unwrap(),
        PathBuf::from(&target)
    );
    assert_eq!(std::fs::read(dest.join("link.txt")).unwrap(), b"hi");
}
