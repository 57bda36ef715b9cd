//! Unit tests of `config.rs`.

use super::*;

#[test]
fn file_then_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("space.toml");
    std::fs::write(&f, "name = \"DevTest\"\nlisten = \"0.0.0.0:1\"\n").unwrap();
    let c = Config::load(&Overrides {
        config: Some(f.clone()),
        listen: Some("127.0.0.1:2".into()),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(c.name, "DevTest");
    assert_eq!(c.listen, "127.0.0.1:2");
    std::fs::write(&f, "nmae = \"typo\"\n").unwrap();
    let e = Config::load(&Overrides {
        config: Some(f),
        ..Default::default()
    })
    .unwrap_err();
    assert!(e.to_string().contains("nmae"), "{e}");
}

#[test]
fn printable_masks_credentials() {
    let c = Config {
        otlp_endpoint: "http://user:secret@collector:4317".into(),
        enrolment_token: "et_topsecret".into(),
        ..Default::default()
    };
    let p = c.printable();
    assert!(!p.contains("secret"));
    assert!(p.contains("enrolment_token = \"********\""), "{p}");
    assert!(p.contains("collector:4317"));
}
