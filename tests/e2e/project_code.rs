//! Project configuration as code through the real binaries: `project export` in one Space,
//! `project apply` (plan first, all or nothing) in another, and the export there is the same
//! bytes; sensitive values travel only as references.

use e2e::Cli;
use e2e::Space;

const SECRET: &str = "s3cr'et\"pw";

fn text(o: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn set_secret(c: &Cli) {
    let o = c.run_with_stdin(
        &[
            "variable",
            "set",
            "--project",
            "Web",
            "DbPassword",
            "--sensitive",
            "--env",
            "Production",
        ],
        Some(SECRET),
    );
    assert!(o.status.success(), "{}", text(&o).1);
}

/// Web in `c`: two phases, a second channel, a package step and a multi-line script step
/// scoped to that channel, plain values per environment, a sensitive one, a template.
fn build_web(c: &Cli) {
    c.ok(&[
        "lifecycle",
        "create",
        "Standard",
        "--phase",
        "Test:Test:auto",
        "--phase",
        "Prod:Production",
    ]);
    c.ok(&[
        "project",
        "create",
        "Web",
        "--lifecycle",
        "Standard",
        "--description",
        "The shop",
    ]);
    c.ok(&[
        "channel",
        "create",
        "Hotfix",
        "--project",
        "Web",
        "--lifecycle",
        "Standard",
    ]);
    c.ok(&[
        "step",
        "add",
        "--project",
        "Web",
        "--name",
        "Deploy",
        "--package",
        "Acme.Web",
        "--substitute",
        "*.conf",
        "--role",
        "web",
    ]);
    c.ok(&[
        "step",
        "add",
        "--project",
        "Web",
        "--name",
        "Smoke",
        "--channel",
        "Hotfix",
        "--script",
        "set -e\ncurl -fsS \"#{Url}/health\"\n",
    ]);
    c.ok(&[
        "variable",
        "set",
        "--project",
        "Web",
        "Url",
        "https://test.local",
        "--env",
        "Test",
    ]);
    c.ok(&[
        "variable",
        "set",
        "--project",
        "Web",
        "Url",
        "https://prod.local",
        "--env",
        "Production",
    ]);
    set_secret(c);
    c.ok(&[
        "template",
        "set",
        "--project",
        "Web",
        "Region",
        "--mandatory",
        "--default",
        "eu",
    ]);
}

#[test]
fn a_project_exported_from_one_space_applies_in_another_and_exports_the_same_bytes() {
    let (a, b) = (Space::start(), Space::start());
    let (ca, cb) = (a.cli(), b.cli());
    for c in [&ca, &cb] {
        c.ok(&["env", "create", "Test"]);
        c.ok(&["env", "create", "Production"]);
    }
    build_web(&ca);
    let dir = a.dir.join("config");
    std::fs::create_dir_all(&dir).unwrap();
    let o = ca.ok(&["project", "export", "Web", "--out", dir.to_str().unwrap()]);
    let file = dir.join("Web.yaml");
    assert_eq!(o.trim(), file.to_str().unwrap());
    let exported = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        ca.ok(&["project", "export", "Web"]),
        exported,
        "stdout = file"
    );
    assert!(
        exported.starts_with("format: deploy-project/v1\n"),
        "{exported}"
    );
    assert!(
        exported.contains("name: DbPassword\n  sensitive: true"),
        "{exported}"
    );
    assert!(
        !exported.contains("s3cr"),
        "a sensitive value left the Space: {exported}"
    );
    let f = file.to_str().unwrap();

    let dry = cb.run(&["project", "apply", f, "--dry-run"]);
    let (plan, _) = text(&dry);
    assert!(dry.status.success(), "{}", text(&dry).1);
    for line in [
        "+ project 'Web'",
        "+ lifecycle 'Standard'",
        "+ channel 'Hotfix'",
        "+ step 'Smoke'",
        "+ variable 'Url [env=Production]'",
        "+ template 'Region'",
    ] {
        assert!(plan.lines().any(|l| l == line), "{line} in {plan}");
    }
    assert!(
        cb.fails(&["project", "show", "Web"])
            .contains("does not exist"),
        "dry run changed nothing"
    );

    let applied = cb.run(&["project", "apply", f]);
    let (out, err) = text(&applied);
    assert!(applied.status.success(), "{err}");
    assert!(
        out.contains("+ step 'Deploy'") && out.contains("project 'Web' applied"),
        "{out}"
    );
    assert!(
        err.contains(
            "note: 'DbPassword [env=Production]' is sensitive and this Space has no value for it"
        ) && err.contains("--sensitive --env 'Production'"),
        "{err}"
    );
    assert_ne!(
        cb.ok(&["project", "export", "Web"]),
        exported,
        "no value for DbPassword yet"
    );
    set_secret(&cb);
    assert_eq!(
        cb.ok(&["project", "export", "Web"]),
        exported,
        "byte-identical across Spaces"
    );
    assert_eq!(
        cb.ok(&["project", "export", "Web", "--format", "json"]),
        ca.ok(&["project", "export", "Web", "--format", "json"])
    );
    let again = cb.ok(&["project", "apply", f]);
    assert_eq!(again.trim(), "project 'Web': nothing to change");

    // An edit: a changed value, a removed step, a role; the sensitive value stays.
    let edited = exported
        .replace("value: https://test.local", "value: https://qa.local")
        .replace("  roles:\n  - web\n", "  roles:\n  - edge\n");
    let start = edited.find("- name: Smoke").unwrap();
    let end = edited.find("variables:").unwrap();
    let edited = format!("{}{}", &edited[..start], &edited[end..]);
    let edited = edited.replace("    steps:\n    - Smoke\n", "");
    std::fs::write(&file, &edited).unwrap();
    let o = cb.ok(&["project", "apply", f]);
    for line in [
        "~ step 'Deploy' (roles)",
        "- step 'Smoke'",
        "~ variable 'Url [env=Test]' (value)",
    ] {
        assert!(o.lines().any(|l| l == line), "{line} in {o}");
    }
    assert_eq!(cb.ok(&["project", "export", "Web"]), edited);
    let j = cb.json(&["variable", "list", "--project", "Web"]);
    assert!(j.to_string().contains("DbPassword"), "kept: {j}");
}

#[test]
fn a_document_that_does_not_fit_changes_nothing_and_says_what_to_fix() {
    let s = Space::start();
    let c = s.cli();
    c.ok(&["env", "create", "Test"]);
    c.ok(&["env", "create", "Production"]);
    build_web(&c);
    let before = c.ok(&["project", "export", "Web"]);
    let file = s.dir.join("web.yaml");
    let f = file.to_str().unwrap();
    let refused = |doc: String, want: &str| {
        std::fs::write(&file, doc).unwrap();
        let err = c.fails(&["project", "apply", f]);
        assert!(err.contains(want), "{want}: {err}");
        assert_eq!(
            c.ok(&["project", "export", "Web"]),
            before,
            "changed after: {err}"
        );
    };
    // A valid part first, then the broken one: nothing of it lands.
    let changed = before.replace("description: The shop", "description: Changed");
    refused(
        changed.replace("  - Hotfix\n  script:", "  - Nightly\n  script:"),
        "channel 'Nightly'",
    );
    refused(
        changed.replace("- Production\n", "- Staging\n"),
        "'Staging'",
    );
    refused(
        changed.replace("  default: true\n", ""),
        "exactly one channel with default",
    );
    refused(
        changed.replace("format: deploy-project/v1", "format: deploy-project/v2"),
        "reads 'deploy-project/v1'",
    );
    refused(
        changed.replace("value: https://test.local", "value: '#{Url}'"),
        "cycle",
    );
    refused(
        changed.replace("  mandatory: true\n", "  mandatory: true\n  colour: red\n"),
        "unknown field `colour`",
    );
    refused(
        changed.replace("value: https://test.local", "value: 'broken #{'"),
        "close the reference",
    );
    let json = c.ok(&["project", "export", "Web", "--format", "json"]);
    std::fs::write(&file, json.replace("\"The shop\"", "\"Via JSON\"")).unwrap();
    let o = c.ok(&["project", "apply", f]);
    assert!(o.contains("~ project 'Web' (description)"), "{o}");
    assert!(
        c.ok(&["project", "export", "Web"])
            .contains("description: Via JSON")
    );
}
