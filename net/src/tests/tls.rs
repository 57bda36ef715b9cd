//! Unit tests of `tls.rs`.

use super::*;

#[test]
fn identity_persists_with_private_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let a = Identity::load_or_create(dir.path(), "DevTest", &[]).unwrap();
    let b = Identity::load_or_create(dir.path(), "DevTest", &[]).unwrap();
    assert_eq!(a.fingerprint().unwrap(), b.fingerprint().unwrap());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("tls.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(a.private_key().is_ok());
}

#[test]
fn fingerprints_normalise() {
    let f = format!("sha256:{}", "ab".repeat(32));
    assert_eq!(normalize_fingerprint(&f).unwrap(), f);
    let colons = "AB:".repeat(31) + "AB";
    assert_eq!(normalize_fingerprint(&colons).unwrap(), f);
    assert!(normalize_fingerprint("sha256:1234").is_err());
    assert!(normalize_fingerprint(&"zz".repeat(32)).is_err());
}

#[test]
fn addresses_parse() {
    assert_eq!(
        parse_address("https://127.0.0.1:8443").unwrap(),
        ("127.0.0.1".into(), 8443)
    );
    assert_eq!(
        parse_address("localhost:1/").unwrap(),
        ("localhost".into(), 1)
    );
    assert!(parse_address("https://nope").is_err());
    assert!(parse_address("https://:80").is_err());
}
