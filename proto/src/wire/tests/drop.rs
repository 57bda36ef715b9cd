//! Unit tests of `drop.rs`.

use super::*;

fn settings(folder: &str) -> pb::DropSettings {
    pb::DropSettings {
        drop_folder: folder.into(),
        applications_dir: "/opt/apps".into(),
        working_dir: "/var/lib/deploy".into(),
    }
}

#[test]
fn drop_targets_need_an_absolute_folder_and_no_fingerprint() {
    let t = pb::Target {
        name: "Drop".into(),
        drop: Some(settings("/srv/drops")),
        drop_password: "pw".into(),
        environments: vec!["Prod".into()],
        ..Default::default()
    };
    let d = Target::try_from(t.clone()).unwrap();
    assert!(d.is_offline_drop());
    assert!(matches!(
        d.mode,
        AgentMode::OfflineDrop { password: None, .. }
    ));
    let w = super::super::agent::target_to_wire(d, false, None);
    assert_eq!(w.drop, Some(settings("/srv/drops")));
    assert!(w.drop_password.is_empty() && !w.has_drop_password);

    let rel = pb::Target {
        drop: Some(settings("drops")),
        ..t.clone()
    };
    assert!(Target::try_from(rel).is_err());
    let fp = pb::Target {
        fingerprint: "sha256:00".into(),
        ..t
    };
    assert!(matches!(
        Target::try_from(fp),
        Err(WireError::Invalid {
            field: "fingerprint",
            ..
        })
    ));
}
