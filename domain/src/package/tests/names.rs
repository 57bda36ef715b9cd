//! Unit tests of `names.rs`.

use super::*;
use ArchiveFormat::*;

#[test]
fn parses_file_names() {
    let table = [
        ("Acme.Web.1.2.3.tar.gz", "Acme.Web", "1.2.3", TarGz),
        ("Acme.Web.1.2.3.tgz", "Acme.Web", "1.2.3", TarGz),
        ("Acme.Web.1.2.3.zip", "Acme.Web", "1.2.3", Zip),
        ("Acme.Web.1.2.3.nupkg", "Acme.Web", "1.2.3", Nupkg),
        ("Acme.Web.1.2.3.ZIP", "Acme.Web", "1.2.3", Zip),
        ("Acme.Web.1.2.3-beta.1.zip", "Acme.Web", "1.2.3-beta.1", Zip),
        (
            "Acme.1.0.0-rc.2+build.77.tar.gz",
            "Acme",
            "1.0.0-rc.2+build.77",
            TarGz,
        ),
        ("my-app_v2.2024.10.1.zip", "my-app_v2", "2024.10.1", Zip),
        ("7zip.1.0.zip", "7zip", "1.0", Zip),
        ("1.2.3.zip", "1", "2.3", Zip),
        ("Acme.5.nupkg", "Acme", "5", Nupkg),
        ("C:\\uploads\\Acme.1.2.zip", "Acme", "1.2", Zip),
        ("some/dir/Acme.1.2.zip", "Acme", "1.2", Zip),
    ];
    for (name, id, version, format) in table {
        let got = parse_file_name(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(got, (id.to_string(), version.to_string(), format), "{name}");
        assert_eq!(format_from_file_name(name).unwrap(), format);
    }
}

#[test]
fn rejects_bad_file_names() {
    let table = [
        ("Acme.Web.tar.gz", "no version"),
        ("Acme.zip", "no version"),
        (".1.2.zip", "must not be empty"),
        ("Acme..1.2.zip", "must not end with '.'"),
        ("Acme.1.2..zip", "must not end with '.'"),
        ("Acme Web.1.2.zip", "contains ' '"),
        ("Acme.1.2 .zip", "contains ' '"),
        ("-rf.1.0.zip", "must start with a letter or digit"),
    ];
    for (name, why) in table {
        let err = parse_file_name(name).unwrap_err();
        assert!(
            matches!(err, NameError::BadFileName { .. }),
            "{name}: {err}"
        );
        let msg = err.to_string();
        assert!(msg.contains(why) && msg.contains(name), "{name}: {msg}");
    }
    for name in ["Acme.1.2.rar", "Acme.1.2", "Acme.1.2.tar", "Acme.1.2.gz"] {
        let err = parse_file_name(name).unwrap_err();
        assert!(
            matches!(err, NameError::UnknownFormat { .. }),
            "{name}: {err}"
        );
        assert!(format_from_file_name(name).is_err());
    }
}

#[test]
fn validates_ids_and_versions() {
    for ok in ["Acme", "Acme.Web", "a-b_c.d9", "9lives"] {
        validate_id(ok).unwrap();
    }
    for bad in [
        "",
        "..",
        "a/b",
        "a\\b",
        "a..b",
        "a.",
        ".a",
        "a b",
        "ä",
        "a:b",
        &"x".repeat(101),
    ] {
        let err = validate_id(bad).unwrap_err();
        assert!(
            matches!(err, NameError::InvalidId { ref id, .. } if id == bad),
            "{bad:?}"
        );
        assert!(err.to_string().contains(&format!("'{bad}'")), "{err}");
    }
    for ok in [
        "1",
        "1.2.3",
        "1.2.3-beta.1",
        "1.0.0+sha.abc",
        "2024.1.1_hotfix",
    ] {
        validate_version(ok).unwrap();
    }
    for bad in [
        "",
        "v1",
        "1/2",
        "1..2",
        "1.",
        "1 2",
        "../1",
        "1\\2",
        &"1".repeat(129),
    ] {
        let err = validate_version(bad).unwrap_err();
        assert!(
            matches!(err, NameError::InvalidVersion { ref version, .. } if version == bad),
            "{bad:?}"
        );
    }
    assert!(
        validate_version("1/2")
            .unwrap_err()
            .to_string()
            .contains("path separator")
    );
}
