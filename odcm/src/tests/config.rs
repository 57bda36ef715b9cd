//! Unit tests of `config.rs`.

use super::*;

#[test]
fn file_then_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("odcm.toml");
    std::fs::write(&f, "name = \"NetA\"\nrotation_overlap_secs = 5\n").unwrap();
    let c = Config::load(&Overrides {
        config: Some(f.clone()),
        listen: Some("127.0.0.1:2".into()),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(c.name, "NetA");
    assert_eq!(c.rotation_overlap_secs, 5);
    assert_eq!(c.cert_validity_days, 365);
    assert_eq!(c.listen, "127.0.0.1:2");
    std::fs::write(&f, "nmae = \"typo\"\n").unwrap();
    let e = Config::load(&Overrides {
        config: Some(f),
        ..Default::default()
    })
    .unwrap_err();
    assert!(e.to_string().contains("nmae"), "{e}");
}
