//! Unit tests of `manifest.rs`.

use super::*;

#[test]
fn format_round_trips_through_its_extension() {
    for f in [
        ArchiveFormat::Zip,
        ArchiveFormat::Nupkg,
        ArchiveFormat::TarGz,
    ] {
        assert_eq!(f.extension().parse::<ArchiveFormat>().unwrap(), f);
        assert_eq!(f.to_string(), f.extension());
    }
    assert_eq!(
        ".TGZ".parse::<ArchiveFormat>().unwrap(),
        ArchiveFormat::TarGz
    );
    let err = "rar".parse::<ArchiveFormat>().unwrap_err();
    assert!(err.to_string().contains("'rar'"), "{err}");
}

#[test]
fn manifest_file_name_and_json() {
    let m = PackageManifest {
        id: "Acme.Web".into(),
        version: "1.2.3".into(),
        size: 3,
        sha256: "00".into(),
        format: ArchiveFormat::TarGz,
        chunks: vec![ChunkRef {
            hash: [7; 32],
            length: 3,
        }],
        uploaded_at: 42,
    };
    assert_eq!(m.file_name(), "Acme.Web.1.2.3.tar.gz");
    let json = serde_json::to_string(&m).unwrap();
    assert_eq!(serde_json::from_str::<PackageManifest>(&json).unwrap(), m);
    assert_eq!(m.chunks[0].hash_hex(), "07".repeat(32));
}
