//! Unit tests of `mod.rs`.

use super::*;
use domain::model::{Scope, Variable};

#[test]
fn phase_rules_roundtrip() {
    for rule in [PhaseRule::All, PhaseRule::AtLeast(1), PhaseRule::Optional] {
        let p = Phase {
            name: "Test".into(),
            environments: vec!["A".into(), "B".into()],
            rule,
            automatic: true,
            prestage: rule == PhaseRule::Optional,
        };
        assert_eq!(Phase::try_from(pb::Phase::from(p.clone())).unwrap(), p);
    }
    let bad = pb::Phase {
        name: "P".into(),
        environments: vec!["A".into()],
        minimum_environments: 3,
        optional: false,
        automatic: false,
        prestage: false,
    };
    assert!(matches!(
        Phase::try_from(bad),
        Err(WireError::Invalid { .. })
    ));
}

#[test]
fn missing_fields_are_named() {
    let e = Environment::try_from(pb::Environment::default()).unwrap_err();
    assert_eq!(e.to_string(), "field 'name' is required");
    let s = StepInput::try_from(pb::Step {
        project: "P".into(),
        name: "S".into(),
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(s, WireError::Missing("action"));
}

#[test]
fn steps_roundtrip() {
    let step = Step {
        name: "Run".into(),
        environments: vec!["Dev".into()],
        roles: vec!["web".into()],
        channels: vec![],
        action: StepAction::RunScript {
            syntax: ScriptSyntax::Bash,
            source: ScriptSource::Inline("echo hi".into()),
        },
    };
    let back = StepInput::try_from(step_to_wire("P", 2, step.clone())).unwrap();
    assert_eq!(back.step, step);
    assert_eq!(back.order, Some(2));
}

#[test]
fn sensitive_values_never_leave() {
    let v = Variable {
        id: "v-1".into(),
        name: "Password".into(),
        value: domain::model::VariableValue::Sensitive(vec![1, 2, 3]),
        scope: Scope::default(),
        description: String::new(),
    };
    let w = variable_to_wire("P", v);
    assert!(w.sensitive);
    assert!(w.value.is_empty());
}
