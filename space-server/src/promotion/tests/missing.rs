//! Which mandatory template values count as set for an environment.

use domain::model::{Release, Scope, TemplateKind, Variable, VariableTemplate, VariableValue};

use super::missing_for;

fn template(name: &str, mandatory: bool, default: Option<&str>) -> VariableTemplate {
    VariableTemplate {
        name: name.into(),
        label: String::new(),
        help_text: String::new(),
        kind: TemplateKind::Text,
        mandatory,
        default_value: default.map(Into::into),
    }
}

fn value(name: &str, v: &str, scope: Scope) -> Variable {
    Variable {
        id: format!("v-{name}"),
        name: name.into(),
        value: VariableValue::Plain(v.into()),
        scope,
        description: String::new(),
    }
}

fn release(templates: Vec<VariableTemplate>) -> Release {
    Release {
        project: "DevTest: Web".into(),
        version: "1.0.0".into(),
        channel: "Default".into(),
        notes: String::new(),
        packages: vec![],
        process: Default::default(),
        variables: vec![],
        templates,
        created_at: 0,
        created_by: "t".into(),
        origin: None,
    }
}

#[test]
fn only_values_every_target_of_the_environment_gets_count() {
    let r = release(vec![
        template("Region", true, None),
        template("LogLevel", true, Some("info")),
        template("Optional", false, None),
    ]);
    let env = |e: &str| Scope {
        environments: vec![e.into()],
        ..Default::default()
    };
    assert_eq!(missing_for(&r, &[], "Production", None), vec!["Region"]);
    // Another environment's value, an empty value, or one for a single role: still missing.
    let not_enough = [
        value("Region", "eu", env("Test")),
        value("region", "  ", env("Production")),
        value(
            "Region",
            "eu",
            Scope {
                environments: vec!["Production".into()],
                roles: vec!["web".into()],
                ..Default::default()
            },
        ),
    ];
    assert_eq!(
        missing_for(&r, &not_enough, "Production", None),
        vec!["Region"]
    );
    // Unscoped, or scoped to the environment (names compare case-insensitively).
    assert!(
        missing_for(
            &r,
            &[value("REGION", "eu", Scope::default())],
            "Production",
            None
        )
        .is_empty()
    );
    assert!(
        missing_for(
            &r,
            &[value("Region", "eu", env("production"))],
            "Production",
            None
        )
        .is_empty()
    );
}

#[test]
fn a_tenants_value_counts_for_that_tenant_only() {
    let r = release(vec![template("Region", true, None)]);
    let acme = value(
        "Region",
        "eu",
        Scope {
            environments: vec!["Production".into()],
            tenants: vec!["Acme".into()],
            ..Default::default()
        },
    );
    let vars = [acme];
    assert!(missing_for(&r, &vars, "Production", Some("acme")).is_empty());
    assert_eq!(
        missing_for(&r, &vars, "Production", Some("Globex")),
        vec!["Region"]
    );
    assert_eq!(missing_for(&r, &vars, "Production", None), vec!["Region"]);
    assert_eq!(missing_for(&r, &vars, "Test", Some("Acme")), vec!["Region"]);
    let everyone = [value("Region", "us", Scope::default())];
    assert!(missing_for(&r, &everyone, "Production", Some("Globex")).is_empty());
}
