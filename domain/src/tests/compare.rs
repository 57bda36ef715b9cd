//! Unit tests of `compare.rs`.

use super::*;
use crate::model::*;
use std::cmp::Ordering;

fn release(steps: Vec<Step>, vars: Vec<Variable>) -> Release {
    Release {
        project: "P".into(),
        version: "1".into(),
        channel: "Default".into(),
        notes: String::new(),
        packages: vec![],
        process: Process { steps },
        variables: vars,
        templates: vec![],
        created_at: 0,
        origin: None,
        created_by: "t".into(),
    }
}

fn script(name: &str, body: &str) -> Step {
    Step {
        name: name.into(),
        environments: vec![],
        roles: vec![],
        channels: vec![],
        action: StepAction::RunScript {
            syntax: ScriptSyntax::Bash,
            source: ScriptSource::Inline(body.into()),
        },
    }
}

fn var(id: &str, name: &str, value: VariableValue) -> Variable {
    Variable {
        id: id.into(),
        name: name.into(),
        value,
        scope: Scope::default(),
        description: String::new(),
    }
}

#[test]
fn steps_and_variables_diff_without_revealing_secrets() {
    let a = release(
        vec![script("A", "echo 1"), script("B", "echo 2")],
        vec![
            var("v-1", "Url", VariableValue::Plain("http://a".into())),
            var("v-2", "Pw", VariableValue::Sensitive(b"x1".to_vec())),
            var("v-3", "Same", VariableValue::Sensitive(b"s".to_vec())),
        ],
    );
    let b = release(
        vec![script("A", "echo 1"), script("C", "echo 3")],
        vec![
            var("v-1", "Url", VariableValue::Plain("http://b".into())),
            var("v-2", "Pw", VariableValue::Sensitive(b"x2".to_vec())),
            var(
                "v-3",
                "Same",
                VariableValue::Sensitive(b"s-other-cipher".to_vec()),
            ),
        ],
    );
    let reveal = |_: &Release, v: &Variable| -> Option<String> {
        match &v.value {
            VariableValue::Sensitive(c) if c.starts_with(b"x") => {
                Some(String::from_utf8_lossy(c).into_owned())
            }
            VariableValue::Sensitive(_) => Some("same-secret".into()),
            _ => None,
        }
    };
    let c = compare_releases(&a, &b, &reveal);
    let kinds: Vec<(&str, ChangeKind)> = c
        .steps
        .iter()
        .map(|s| (s.subject.as_str(), s.kind))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("A", ChangeKind::Unchanged),
            ("B", ChangeKind::Removed),
            ("C", ChangeKind::Added)
        ]
    );
    let pw = c
        .variables
        .iter()
        .find(|v| v.subject.starts_with("Pw"))
        .unwrap();
    assert_eq!(pw.kind, ChangeKind::Changed);
    assert_eq!((pw.from.as_str(), pw.to.as_str()), (MASK, MASK));
    let same = c
        .variables
        .iter()
        .find(|v| v.subject.starts_with("Same"))
        .unwrap();
    assert_eq!(same.kind, ChangeKind::Unchanged);
    let url = c
        .variables
        .iter()
        .find(|v| v.subject.starts_with("Url"))
        .unwrap();
    assert_eq!(
        (url.from.as_str(), url.to.as_str()),
        ("http://a", "http://b")
    );
    let all = serde_json::to_string(&c).unwrap();
    assert!(!all.contains("x1") && !all.contains("x2") && !all.contains("same-secret"));
}

#[test]
fn version_order() {
    assert_eq!(compare_versions("1.2.10", "1.2.9"), Ordering::Greater);
    assert_eq!(compare_versions("1.0.0-beta", "1.0.0"), Ordering::Less);
    assert_eq!(compare_versions("1.0", "1.0.0"), Ordering::Equal);
    assert_eq!(
        compare_versions("2.0.0-rc.10", "2.0.0-rc.9"),
        Ordering::Greater
    );
    assert_eq!(compare_versions("0.9", "1.0"), Ordering::Less);
}

/// Two values kept under one name and scope (by releases made before duplicates were refused)
/// are compared as what is really there, not as whichever came last.
#[test]
fn several_values_under_one_name_and_scope_compare_as_a_whole() {
    let plain = |s: &str| VariableValue::Plain(s.into());
    let a = release(
        vec![],
        vec![
            var("v-1", "Region", plain("north")),
            var("v-2", "Region", plain("south")),
        ],
    );
    let b = release(
        vec![],
        vec![
            var("v-1", "Region", plain("south")),
            var("v-2", "Region", plain("north")),
        ],
    );
    let none = |_: &Release, _: &Variable| -> Option<String> { None };
    let c = compare_releases(&a, &b, &none);
    assert_eq!(c.variables.len(), 1);
    assert_eq!(
        c.variables[0].kind,
        ChangeKind::Unchanged,
        "{:?}",
        c.variables
    );
    assert_eq!(c.variables[0].from, "north, south");
    let b2 = release(vec![], vec![var("v-1", "Region", plain("north"))]);
    let c = compare_releases(&a, &b2, &none);
    assert_eq!(c.variables[0].kind, ChangeKind::Changed);
    assert_eq!(
        (c.variables[0].from.as_str(), c.variables[0].to.as_str()),
        ("north, south", "north")
    );
}

#[test]
fn scopes_are_the_same_whatever_their_order_and_case() {
    let s = |envs: &[&str], roles: &[&str]| Scope {
        environments: envs.iter().map(|e| e.to_string()).collect(),
        roles: roles.iter().map(|e| e.to_string()).collect(),
        ..Scope::default()
    };
    assert!(s(&["Dev", "Test"], &["web"]).same_as(&s(&["test", "dev"], &["WEB"])));
    assert!(!s(&["Dev"], &[]).same_as(&s(&["Dev", "Test"], &[])));
    assert!(!s(&["Dev"], &[]).same_as(&s(&[], &["Dev"])));
}
