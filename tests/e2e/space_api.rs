//! End to end: the space-server and deploy binaries, resource by resource, including refusals.

use e2e::Space;

#[test]
fn requests_without_a_valid_key_are_refused() {
    let s = Space::start();
    let cli = s.cli();
    let err = cli.without_env("DEPLOY_API_KEY").fails(&["env", "list"]);
    assert!(err.contains("no API key"), "{err}");
    let err = cli
        .with_env("DEPLOY_API_KEY", "dk_0000")
        .fails(&["env", "list"]);
    assert!(err.contains("API key is not valid"), "{err}");
    let wrong_fp = format!("sha256:{}", "00".repeat(32));
    let err = cli
        .with_env("DEPLOY_FINGERPRINT", &wrong_fp)
        .fails(&["whoami"]);
    assert!(err.contains("this context trusts"), "{err}");
    let who = cli.json(&["whoami"]);
    assert_eq!(who["space"], "DevTest");
    assert_eq!(who["api_key"], "admin");
}

#[test]
fn contexts_drive_the_cli() {
    let s = Space::start();
    let base = s.cli();
    let bare = base
        .without_env("DEPLOY_SERVER")
        .without_env("DEPLOY_API_KEY")
        .without_env("DEPLOY_FINGERPRINT");
    let err = bare.fails(&["env", "list"]);
    assert!(err.contains("deploy context add"), "{err}");
    bare.ok(&[
        "context",
        "add",
        "dev",
        "--server",
        &s.address,
        "--api-key",
        &s.api_key,
        "--fingerprint",
        &s.fingerprint,
    ]);
    assert_eq!(bare.json(&["whoami"])["space"], "DevTest");
    let shown = bare.ok(&["context", "show"]);
    assert!(
        !shown.contains(&s.api_key),
        "the API key must be masked: {shown}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&bare.config)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the config file holds API keys");
    }
    bare.fails(&["--context", "nope", "whoami"]);
}

#[test]
fn environments_lifecycles_projects_channels_steps() {
    let s = Space::start();
    let c = s.cli();
    c.ok(&["env", "create", "Dev", "--description", "developers"]);
    c.ok(&["env", "create", "Test", "--sort-order", "2"]);
    c.ok(&["env", "create", "QA", "--sort-order", "3"]);
    let err = c.fails(&["env", "create", "dev"]);
    assert!(err.contains("already exists"), "{err}");
    let err = c.fails(&["env", "show", "Nope"]);
    assert!(err.contains("environment 'Nope' does not exist"), "{err}");

    let err = c.fails(&[
        "lifecycle",
        "create",
        "Bad",
        "--phase",
        "Dev:Dev",
        "--phase",
        "Prod:Production",
    ]);
    assert!(
        err.contains("names 'Production', which is neither an environment nor a known Space"),
        "{err}"
    );
    assert_eq!(
        c.json(&["lifecycle", "list"]).as_array().unwrap().len(),
        0,
        "a refused lifecycle must not be stored"
    );
    c.ok(&[
        "lifecycle",
        "create",
        "Default",
        "--phase",
        "Dev:Dev",
        "--phase",
        "Test:Test,QA:min=1:auto",
    ]);
    let l = c.json(&["lifecycle", "show", "Default"]);
    assert_eq!(l["phases"][1]["minimum_environments"], 1);
    assert_eq!(l["phases"][1]["automatic"], true);
    let err = c.fails(&["env", "delete", "Dev", "--yes"]);
    assert!(err.contains("used by lifecycle"), "{err}");

    let err = c.fails(&["project", "create", "Acme", "--lifecycle", "Missing"]);
    assert!(err.contains("lifecycle 'Missing' does not exist"), "{err}");
    c.ok(&["project", "create", "Acme", "--lifecycle", "Default"]);
    c.fails(&["project", "create", "ACME", "--lifecycle", "Default"]);
    let chans = c.json(&["channel", "list", "--project", "Acme"]);
    assert_eq!(chans[0]["name"], "Default");
    assert_eq!(chans[0]["default"], true);
    c.ok(&["channel", "create", "Hotfix", "--project", "Acme"]);
    c.ok(&[
        "channel",
        "update",
        "Hotfix",
        "--project",
        "Acme",
        "--default",
        "--description",
        "urgent",
    ]);
    let hot = c.json(&["channel", "show", "Hotfix", "--project", "Acme"]);
    assert_eq!(
        (hot["default"].as_bool(), hot["description"].as_str()),
        (Some(true), Some("urgent"))
    );
    assert_eq!(
        c.json(&["channel", "show", "Default", "--project", "Acme"])["default"],
        false
    );
    c.ok(&[
        "channel",
        "update",
        "Default",
        "--project",
        "Acme",
        "--default",
    ]);
    let err = c.fails(&["channel", "delete", "Default", "--project", "Acme"]);
    assert!(err.contains("default"), "{err}");

    c.ok(&[
        "step",
        "add",
        "--project",
        "Acme",
        "--name",
        "Migrate",
        "--script",
        "echo migrate",
        "--env",
        "Dev",
        "--role",
        "db",
    ]);
    c.ok(&[
        "step",
        "add",
        "--project",
        "Acme",
        "--name",
        "Web",
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
        "Acme",
        "--name",
        "First",
        "--script",
        "echo first",
        "--order",
        "1",
        "--syntax",
        "sh",
    ]);
    let err = c.fails(&[
        "step",
        "add",
        "--project",
        "Acme",
        "--name",
        "web",
        "--script",
        "x",
    ]);
    assert!(err.contains("already exists"), "{err}");
    let err = c.fails(&[
        "step",
        "add",
        "--project",
        "Acme",
        "--name",
        "X",
        "--script",
        "x",
        "--env",
        "Prod",
    ]);
    assert!(err.contains("environment 'Prod'"), "{err}");
    let err = c.fails(&[
        "step",
        "add",
        "--project",
        "Nope",
        "--name",
        "X",
        "--script",
        "x",
    ]);
    assert!(err.contains("project 'Nope' does not exist"), "{err}");
    let steps = c.json(&["step", "list", "--project", "Acme"]);
    let names: Vec<&str> = steps
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["First", "Migrate", "Web"]);
    c.ok(&[
        "step",
        "update",
        "--project",
        "Acme",
        "--name",
        "First",
        "--order",
        "3",
    ]);
    let steps = c.json(&["step", "list", "--project", "Acme"]);
    assert_eq!(steps[2]["name"], "First");
    assert_eq!(steps[2]["action"]["syntax"], "sh");
    c.ok(&["step", "delete", "--project", "Acme", "--name", "First"]);
    assert_eq!(
        c.json(&["step", "list", "--project", "Acme"])
            .as_array()
            .unwrap()
            .len(),
        2
    );

    c.ok(&["project", "update", "Acme", "--description", "the shop"]);
    assert_eq!(
        c.json(&["project", "show", "Acme"])["description"],
        "the shop"
    );
    let err = c.fails(&["lifecycle", "delete", "Default", "--yes"]);
    assert!(err.contains("used by project"), "{err}");
    // Without a terminal to ask on, a delete says what goes with it and needs --yes.
    let err = c.fails(&["project", "delete", "Acme"]);
    assert!(
        err.contains("delete project 'Acme' (with 2 channels, 2 steps)")
            && err.contains("pass --yes"),
        "{err}"
    );
    c.ok(&["project", "show", "Acme"]);
    c.ok(&["project", "delete", "Acme", "--yes"]);
    c.fails(&["step", "list", "--project", "Acme"]);
    c.ok(&["lifecycle", "delete", "Default", "-y"]);
    assert!(c.fails(&["env", "delete", "QA"]).contains("pass --yes"));
    c.ok(&["env", "delete", "QA", "--yes"]);
}

#[test]
fn variables_templates_and_cycles() {
    let s = Space::start();
    let c = s.cli();
    c.ok(&["env", "create", "Dev"]);
    c.ok(&["lifecycle", "create", "L", "--phase", "Dev:Dev"]);
    c.ok(&["project", "create", "Acme", "--lifecycle", "L"]);
    c.ok(&[
        "variable",
        "set",
        "--project",
        "Acme",
        "Url",
        "http://#{Host}",
    ]);
    c.ok(&[
        "variable",
        "set",
        "--project",
        "Acme",
        "Host",
        "dev.local",
        "--env",
        "Dev",
    ]);
    let out = c.run_with_stdin(
        &[
            "variable",
            "set",
            "--project",
            "Acme",
            "DbPassword",
            "--sensitive",
        ],
        Some("pa55w0rd\n"),
    );
    assert!(out.status.success());
    let vars = c.json(&["variable", "list", "--project", "Acme"]);
    let pw = vars
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "DbPassword")
        .unwrap();
    assert_eq!(pw["value"], "********");
    assert!(!vars.to_string().contains("pa55w0rd"));
    let err = c.fails(&[
        "variable",
        "set",
        "--project",
        "Acme",
        "X",
        "1",
        "--env",
        "Nope",
    ]);
    assert!(err.contains("environment 'Nope'"), "{err}");

    // A -> B -> A is refused, and nothing changes.
    c.ok(&[
        "variable",
        "set",
        "--project",
        "Acme",
        "A",
        "#{B}",
        "--env",
        "Dev",
    ]);
    let before = c.json(&["variable", "list", "--project", "Acme"]);
    let err = c.fails(&["variable", "set", "--project", "Acme", "B", "x#{A}"]);
    assert!(
        err.contains("cycle") && err.contains("A") && err.contains("B"),
        "{err}"
    );
    assert_eq!(c.json(&["variable", "list", "--project", "Acme"]), before);
    // The same references scoped to different environments are not a cycle.
    c.ok(&["env", "create", "Test"]);
    c.ok(&[
        "variable",
        "set",
        "--project",
        "Acme",
        "B",
        "#{A}",
        "--env",
        "Test",
    ]);
    let err = c.fails(&[
        "variable",
        "set",
        "--project",
        "Acme",
        "B",
        "#{A}",
        "--env",
        "Dev",
    ]);
    assert!(err.contains("in environment 'Dev'"), "{err}");

    c.ok(&[
        "template",
        "set",
        "--project",
        "Acme",
        "ConnectionString",
        "--mandatory",
        "--kind",
        "sensitive",
        "--label",
        "Database",
        "--help-text",
        "where the db is",
    ]);
    c.ok(&[
        "template",
        "set",
        "--project",
        "Acme",
        "Replicas",
        "--default",
        "2",
    ]);
    let ts = c.json(&["template", "list", "--project", "Acme"]);
    assert_eq!(ts.as_array().unwrap().len(), 2);
    assert_eq!(ts[0]["mandatory"], true);
    let err = c.fails(&[
        "template",
        "set",
        "--project",
        "Acme",
        "T",
        "--kind",
        "colour",
    ]);
    assert!(err.contains("unknown template kind"), "{err}");
    c.ok(&["template", "delete", "Replicas", "--project", "Acme"]);
    let id = pw["id"].as_str().unwrap();
    c.ok(&["variable", "delete", id, "--project", "Acme"]);
    c.fails(&["variable", "delete", id, "--project", "Acme"]);
}
