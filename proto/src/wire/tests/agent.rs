//! Unit tests of `agent.rs`.

use super::*;
use domain::model::{ScriptSource, ScriptSyntax, StepAction};

#[test]
fn work_roundtrips_and_hides_secrets_in_debug() {
    let w = WorkItem {
        job_id: "Deployments-1/1/web".into(),
        deployment_id: "Deployments-1".into(),
        project: "Acme".into(),
        environment: "Dev".into(),
        step: Step {
            name: "Run".into(),
            environments: vec![],
            roles: vec!["web".into()],
            channels: vec![],
            action: StepAction::RunScript {
                syntax: ScriptSyntax::Bash,
                source: ScriptSource::Inline("echo hi".into()),
            },
        },
        variables: vec![StepVariable {
            name: "Pw".into(),
            value: "hunter2".into(),
            sensitive: true,
        }],
        package: None,
        tenant: Some("Acme".into()),
        retention: Some(3),
    };
    assert!(!format!("{w:?}").contains("hunter2"));
    let back = WorkItem::try_from(ab::StepWork::from(w.clone())).unwrap();
    assert_eq!(back, w);
}

#[test]
fn targets_need_a_valid_fingerprint() {
    let t = pb::Target {
        name: "web-01".into(),
        fingerprint: "nope".into(),
        ..Default::default()
    };
    assert!(matches!(
        Target::try_from(t),
        Err(WireError::Invalid {
            field: "fingerprint",
            ..
        })
    ));
}
