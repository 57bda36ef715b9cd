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
