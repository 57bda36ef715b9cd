//! Unit tests of `secrets.rs`.

use super::*;

#[test]
fn seal_open_roundtrip_and_context_binding() {
    let dir = tempfile::tempdir().unwrap();
    let key = MasterKey::load_or_create(&dir.path().join("master.key")).unwrap();
    let sealed = key.seal("hunter2", "Acme/DbPassword").unwrap();
    assert!(!sealed.windows(7).any(|w| w == b"hunter2"));
    assert_eq!(key.open(&sealed, "Acme/DbPassword").unwrap(), "hunter2");
    assert!(matches!(
        key.open(&sealed, "Other/DbPassword"),
        Err(SecretError::Decrypt)
    ));
    let mut tampered = sealed.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert!(key.open(&tampered, "Acme/DbPassword").is_err());
    assert!(key.open(&[], "x").is_err());
}

#[test]
fn key_file_is_private_and_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("master.key");
    let a = MasterKey::load_or_create(&path).unwrap();
    let sealed = a.seal("v", "c").unwrap();
    let b = MasterKey::load_or_create(&path).unwrap();
    assert_eq!(b.open(&sealed, "c").unwrap(), "v");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    std::fs::write(&path, b"short").unwrap();
    assert!(matches!(
        MasterKey::load_or_create(&path),
        Err(SecretError::BadKeyFile { .. })
    ));
}

#[test]
fn api_keys_are_random_and_hashed() {
    let a = new_api_key().unwrap();
    let b = new_api_key().unwrap();
    assert_ne!(a, b);
    assert!(a.starts_with("dk_") && a.len() == 43);
    assert_eq!(hash_api_key(&a), hash_api_key(&a));
    assert_ne!(hash_api_key(&a), hash_api_key(&b));
    assert!(constant_time_eq(b"abc", b"abc"));
    assert!(!constant_time_eq(b"abc", b"abd"));
    assert!(!constant_time_eq(b"abc", b"ab"));
}
