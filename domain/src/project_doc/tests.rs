//! Documents: canonical rendering, byte-identical round trips, refusals, plans.

use super::*;
use crate::model::{
    Channel, Lifecycle, Phase, PhaseRule, Process, Project, Scope, ScriptSource, ScriptSyntax,
    Step, StepAction, TemplateKind, Variable, VariableTemplate, VariableValue,
};

fn space_parts() -> ProjectParts {
    let project = Project {
        name: "Web".into(),
        description: "The shop".into(),
        lifecycle: "Standard".into(),
        remote: None,
    };
    let lifecycle = Lifecycle {
        name: "Standard".into(),
        description: String::new(),
        phases: vec![
            Phase {
                name: "Test".into(),
                environments: vec!["Test".into(), "QA".into()],
                rule: PhaseRule::AtLeast(1),
                automatic: true,
                prestage: false,
            },
            Phase {
                name: "Prod".into(),
                environments: vec!["Production".into()],
                rule: PhaseRule::All,
                automatic: false,
                prestage: true,
            },
        ],
    };
    let channel = |name: &str, default| Channel {
        project: "Web".into(),
        name: name.into(),
        description: String::new(),
        lifecycle: None,
        is_default: default,
    };
    let steps = vec![
        Step {
            name: "Deploy".into(),
            environments: vec![],
            roles: vec!["web".into()],
            channels: vec![],
            action: StepAction::DeployPackage {
                package_id: "Acme.Web".into(),
                substitute_files: vec!["*.conf".into()],
                structured_files: vec![],
            },
        },
        Step {
            name: "Smoke".into(),
            environments: vec!["Production".into()],
            roles: vec![],
            channels: vec!["Hotfix".into()],
            action: StepAction::RunScript {
                syntax: ScriptSyntax::Bash,
                source: ScriptSource::Inline("set -e\necho \"#{Url}\"\n".into()),
            },
        },
    ];
    let var = |id: &str, name: &str, value: VariableValue, envs: &[&str]| Variable {
        id: id.into(),
        name: name.into(),
        value,
        scope: Scope {
            environments: envs.iter().map(|e| e.to_string()).collect(),
            ..Default::default()
        },
        description: String::new(),
    };
    let variables = vec![
        var(
            "v-3",
            "Url",
            VariableValue::Plain("https://prod".into()),
            &["Production"],
        ),
        var(
            "v-1",
            "Url",
            VariableValue::Plain("https://test".into()),
            &["QA", "Test"],
        ),
        var(
            "v-2",
            "DbPassword",
            VariableValue::Sensitive(b"sealed-bytes".to_vec()),
            &[],
        ),
    ];
    let templates = vec![VariableTemplate {
        name: "Region".into(),
        label: "Region".into(),
        help_text: "Where it runs".into(),
        kind: TemplateKind::Text,
        mandatory: true,
        default_value: Some("eu".into()),
    }];
    ProjectParts::from_space(
        &project,
        vec![lifecycle],
        vec![channel("Hotfix", false), channel("Default", true)],
        Process { steps },
        &variables,
        templates,
    )
}

#[test]
fn a_document_read_back_renders_the_same_bytes_in_both_formats() {
    let doc = ProjectDoc::from_parts(&space_parts());
    for format in [DocFormat::Yaml, DocFormat::Json] {
        let text = doc.render(format);
        let again = ProjectDoc::parse(&text).expect("parse");
        let parts = again.into_parts().expect("parts");
        assert_eq!(ProjectDoc::from_parts(&parts).render(format), text);
    }
}

#[test]
fn the_rendering_is_sorted_and_keeps_no_sensitive_value() {
    let text = ProjectDoc::from_parts(&space_parts()).render(DocFormat::Yaml);
    assert!(text.starts_with("format: deploy-project/v1\n"), "{text}");
    assert!(!text.contains("sealed"), "{text}");
    let pw = text.find("name: DbPassword").expect("DbPassword");
    let url = text.find("name: Url").expect("Url");
    assert!(pw < url, "variables sorted by name: {text}");
    assert!(
        text.find("https://prod") < text.find("https://test"),
        "{text}"
    );
    assert!(
        text.find("name: Default") < text.find("name: Hotfix"),
        "{text}"
    );
    // scope values sorted; a multi-line script stays readable
    let vars = &text[text.find("variables:").expect("variables")..];
    assert!(vars.find("- QA\n") < vars.find("- Test\n"), "{text}");
    assert!(text.contains("body: |"), "{text}");
    assert!(!text.contains("id: v-"), "ids are the Space's own: {text}");
}

#[test]
fn documents_that_do_not_fit_are_refused_with_what_to_fix() {
    let yaml = ProjectDoc::from_parts(&space_parts()).render(DocFormat::Yaml);
    let refused = |text: String, want: &str| {
        let e = ProjectDoc::parse(&text)
            .and_then(|d| d.into_parts())
            .expect_err("refused");
        assert!(e.0.contains(want), "{want}: {}", e.0);
    };
    refused(
        yaml.replace("deploy-project/v1", "deploy-project/v9"),
        "reads 'deploy-project/v1'",
    );
    refused(
        yaml.replace("  description: The shop", "  descripton: The shop"),
        "unknown field",
    );
    refused(
        yaml.replace("minimum: 1", "minimum: 1\n    optional: true"),
        "optional and has a minimum",
    );
    refused(yaml.replace("minimum: 1", "minimum: 0"), "minimum 0");
    refused(yaml.replace("  value: https://prod\n", ""), "has no value");
    refused(
        yaml.replace("syntax: bash", "syntax: cobol"),
        "unknown script syntax",
    );
    refused(
        yaml.replace("kind: text", "kind: colour"),
        "unknown template kind",
    );
    refused(
        yaml.replace(
            "  - web\n",
            "  - web\n  script:\n    syntax: sh\n    body: x\n",
        ),
        "exactly one of package and script",
    );
    refused("x".repeat(MAX_BYTES + 1), "at most");
}

#[test]
fn a_plan_names_what_is_added_changed_moved_and_removed() {
    let cur = ProjectDoc::from_parts(&space_parts());
    let all = plan(None, &[], &cur);
    assert_eq!(all[0].to_string(), "+ project 'Web'");
    assert!(
        all.iter()
            .any(|c| c.to_string() == "+ lifecycle 'Standard'")
    );
    assert!(
        all.iter()
            .any(|c| c.to_string() == "+ variable 'Url [env=Production]'")
    );
    assert!(plan(Some(&cur), &cur.lifecycles, &cur).is_empty());

    let mut want = cur.clone();
    want.steps.swap(0, 1);
    want.steps[0].roles = vec!["edge".into()];
    want.variables.retain(|v| v.name != "DbPassword");
    want.variables[0].value = Some("https://new".into());
    want.project.description = "Shop".into();
    let shown: Vec<String> = plan(Some(&cur), &cur.lifecycles, &want)
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(
        shown,
        [
            "~ project 'Web' (description)",
            "~ step 'Smoke' (roles, moved from 2 to 1)",
            "~ step 'Deploy' (moved from 1 to 2)",
            "~ variable 'Url [env=Production]' (value)",
            "- variable 'DbPassword'",
        ]
    );
}
