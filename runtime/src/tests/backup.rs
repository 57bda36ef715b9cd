//! Unit tests of `backup/`: a backup restores to the same rows and files; a changed, cut or
//! re-signed file, a path out of the directory and a non-empty target are refused and leave
//! nothing; keys left out must be given back.

use super::*;
use crate::control::BackupRequest;
use storage::{Batch, SledStore};

const SIGNER: &[(&str, &str)] = &[("ca.crt", "ca.key")];

/// A data directory with a store, a CA (the signer), a secret key file and two chunks.
fn data_dir(root: &Path) -> (PathBuf, SledStore) {
    let dir = root.join("data");
    crate::datadir::create_private(&dir).unwrap();
    net::pki::CertificateAuthority::load_or_create(&dir, "Net").unwrap();
    std::fs::write(dir.join("master.key"), b"0123456789abcdef").unwrap();
    std::fs::create_dir_all(dir.join("identity")).unwrap();
    std::fs::write(dir.join("identity/odcm.json"), b"{}").unwrap();
    std::fs::create_dir_all(dir.join("chunks/ab")).unwrap();
    std::fs::write(dir.join("chunks/ab/abcd"), b"chunk one").unwrap();
    std::fs::write(dir.join("chunks/ab/abce"), b"chunk two").unwrap();
    let store = SledStore::open(&dir.join("db")).unwrap();
    let mut b = Batch::new();
    b.put("things", "a", b"1".to_vec())
        .put("things", "b", b"2".to_vec());
    store.commit(b).unwrap();
    store.next_id("ids").unwrap();
    (dir, store)
}

fn backup(dir: &Path, store: &SledStore, out: &Path, keys: bool, chunks: Chunks) -> Summary {
    let req = BackupRequest {
        out: out.to_path_buf(),
        include_keys: keys,
        chunks,
    };
    run("odcm", "Net", dir, store, SIGNER, &req).unwrap()
}

#[test]
fn a_backup_restores_rows_files_keys_and_chunks() {
    let t = tempfile::tempdir().unwrap();
    let (dir, store) = data_dir(t.path());
    let out = t.path().join("net.backup");
    let s = backup(&dir, &store, &out, true, Chunks::Included);
    assert_eq!((s.rows, s.chunks, s.keys_included), (3, 2, true));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let target = t.path().join("restored");
    let r = restore(&out, &target, &RestoreFrom::default()).unwrap();
    assert!(r.missing_chunks.is_empty());
    assert_eq!(r.header.name, "Net");
    let rows = SledStore::open(&target.join("db"))
        .unwrap()
        .snapshot()
        .unwrap();
    assert_eq!(rows, store.snapshot().unwrap());
    for f in [
        "master.key",
        "ca.key",
        "ca.crt",
        "identity/odcm.json",
        "chunks/ab/abce",
    ] {
        assert_eq!(
            std::fs::read(target.join(f)).unwrap(),
            std::fs::read(dir.join(f)).unwrap(),
            "{f}"
        );
    }
    let mode = std::fs::metadata(target.join("master.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "keys stay private");
}

#[test]
fn keys_left_out_must_be_given_back_and_chunks_by_reference_are_copied() {
    let t = tempfile::tempdir().unwrap();
    let (dir, store) = data_dir(t.path());
    let out = t.path().join("net.backup");
    backup(&dir, &store, &out, false, Chunks::Referenced);
    let bytes = std::fs::read(&out).unwrap();
    assert!(!e2e_contains(
        &zstd::decode_all(bytes.as_slice()).unwrap(),
        b"0123456789abcdef"
    ));

    let target = t.path().join("restored");
    let e = restore(&out, &target, &RestoreFrom::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("--keys-from DIR") && e.contains("ca.key") && e.contains("master.key"),
        "{e}"
    );
    assert!(!target.exists(), "a refused restore leaves nothing");

    let (other_chunks, keys) = (dir.join("chunks"), dir.as_path());
    std::fs::remove_file(dir.join("chunks/ab/abce")).unwrap();
    let from = RestoreFrom {
        keys: Some(keys),
        chunks: Some(&other_chunks),
        signer: None,
    };
    let r = restore(&out, &target, &from).unwrap();
    assert_eq!(r.missing_chunks, vec!["ab/abce".to_string()]);
    assert_eq!(
        std::fs::read(target.join("chunks/ab/abcd")).unwrap(),
        b"chunk one"
    );
    assert_eq!(
        std::fs::read(target.join("master.key")).unwrap(),
        b"0123456789abcdef"
    );
}

fn e2e_contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn a_changed_or_cut_backup_is_refused_and_changes_nothing() {
    let t = tempfile::tempdir().unwrap();
    let (dir, store) = data_dir(t.path());
    let out = t.path().join("net.backup");
    backup(&dir, &store, &out, true, Chunks::Included);
    let plain = zstd::decode_all(std::fs::read(&out).unwrap().as_slice()).unwrap();
    let target = t.path().join("restored");
    let refused = |bytes: &[u8], want: &str| {
        let f = t.path().join("changed.backup");
        std::fs::write(&f, zstd::encode_all(bytes, 3).unwrap()).unwrap();
        let e = restore(&f, &target, &RestoreFrom::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "{want}: {e}");
        assert!(!target.exists() && !t.path().join(".restored.restoring").exists());
    };
    // One byte of a file's contents ("chunk one" -> "chunk ond").
    let at = plain.windows(9).position(|w| w == b"chunk one").unwrap() + 8;
    let mut changed = plain.clone();
    changed[at] ^= 1;
    refused(&changed, "do not match the digest");
    refused(&plain[..plain.len() - 40], "cannot be read to its end");
    refused(&plain[..plain.len() / 2], "cannot be read to its end");
    let mut longer = plain.clone();
    longer.push(0);
    refused(&longer, "data after its end");
    refused(b"DPLYBKP0", "not a backup file");
    // The right file, but signed by someone else than the operator insists on.
    let from = RestoreFrom {
        signer: Some("sha256:00"),
        ..Default::default()
    };
    let e = restore(&out, &target, &from).unwrap_err().to_string();
    assert!(e.contains("not by sha256:00"), "{e}");
}

#[test]
fn a_file_entry_outside_the_directory_and_a_non_empty_target_are_refused() {
    let t = tempfile::tempdir().unwrap();
    let (dir, _store) = data_dir(t.path());
    let (cert, key) = signer(&dir, SIGNER).unwrap();
    let mut w = frame::Writer::new(Vec::new());
    w.raw(MAGIC).unwrap();
    let header = Header {
        format: "deploy-backup".into(),
        version: VERSION,
        kind: "odcm".into(),
        name: "Net".into(),
        created_at: 0,
        keys_included: true,
        keys_left_out: vec![],
        chunks: Chunks::Included,
        signer_cert_pem: cert,
    };
    w.json(b'H', &header).unwrap();
    w.file("../escaped", 0o644, b"x").unwrap();
    let (bytes, _) = w.finish();
    let f = t.path().join("evil.backup");
    std::fs::write(&f, zstd::encode_all(bytes.as_slice(), 3).unwrap()).unwrap();
    let target = t.path().join("restored");
    let e = restore(&f, &target, &RestoreFrom::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("outside the data directory"), "{e}");
    assert!(!t.path().join("escaped").exists());
    let _ = key;

    let e = restore(&f, &dir, &RestoreFrom::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("holds data already"), "{e}");
}
