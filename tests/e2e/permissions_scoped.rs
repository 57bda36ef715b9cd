//! Grants limit reads and tenants too, through the real binaries: a viewer of one project
//! sees only that project (lists leave the others out, a read of one is refused), a deployer
//! limited to a tenant deploys only that tenant's deployments, a variable editor limited to
//! Staging changes only values Staging alone uses, and cancelling or applying a project
//! file needs the permission where it acts.

use e2e::{Cli, Space};

fn user_with(s: &Space, admin: &Cli, name: &str, grants: &[&[&str]]) -> Cli {
    admin.ok(&["user", "create", name]);
    let team = format!("team-{name}");
    admin.ok(&["team", "create", &team, "--member", name]);
    for grant in grants {
        let mut g = vec!["team", "grant", &team];
        g.extend(*grant);
        admin.ok(&g);
    }
    let key = admin.ok(&["apikey", "create", "--user", name]);
    s.cli().with_env("DEPLOY_API_KEY", key.trim())
}

fn setup() -> (Space, Cli) {
    let s = Space::start();
    let admin = s.cli();
    admin.ok(&["env", "create", "Staging"]);
    admin.ok(&["env", "create", "Production"]);
    admin.ok(&[
        "lifecycle",
        "create",
        "Free",
        "--phase",
        "All:Staging,Production",
    ]);
    for p in ["Web", "Api"] {
        admin.ok(&["project", "create", p, "--lifecycle", "Free"]);
        admin.ok(&[
            "step",
            "add",
            "--project",
            p,
            "--name",
            "Hi",
            "--script",
            "echo hi",
        ]);
        admin.ok(&["release", "create", "--project", p, "--version", "1.0.0"]);
    }
    for t in ["Acme", "Globex"] {
        admin.ok(&["tenant", "create", t]);
        for e in ["Staging", "Production"] {
            admin.ok(&["tenant", "connect", t, "--project", "Web", "--env", e]);
        }
    }
    (s, admin)
}

fn deploy(c: &Cli, project: &str, tenant: Option<&str>) -> std::process::Output {
    let mut a = vec![
        "release",
        "deploy",
        "--project",
        project,
        "--version",
        "1.0.0",
        "--env",
        "Staging",
    ];
    if let Some(t) = tenant {
        a.extend(["--tenant", t]);
    }
    c.run(&a)
}

fn names(v: &serde_json::Value, field: &str) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x[field].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn reads_follow_the_grants_and_tenant_grants_hold_only_for_their_tenants() {
    let (s, admin) = setup();
    let _agent = e2e::agent::Agent::connected(&s, "web-1", &["Staging", "Production"], &[]);
    let o = deploy(&admin, "Api", None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    // A viewer of Web: Api is left out of lists and refused when asked for.
    let vera = user_with(
        &s,
        &admin,
        "vera",
        &[&["--role", "viewer", "--project", "Web"]],
    );
    assert_eq!(names(&vera.json(&["project", "list"]), "name"), ["Web"]);
    let err = vera.fails(&["project", "show", "Api"]);
    assert!(
        err.contains("'vera' may not view of project 'Api'"),
        "{err}"
    );
    assert!(
        vera.fails(&["release", "list", "--project", "Api"])
            .contains("may not view")
    );
    assert_eq!(vera.json(&["deployment", "list"]), serde_json::json!([]));
    let err = vera.fails(&["deployment", "show", "Deployments-1"]);
    assert!(
        err.contains("may not view in environment 'Staging' of project 'Api'"),
        "{err}"
    );
    let dash = vera.json(&["dashboard"]);
    assert_eq!(names(&dash["projects"], "name"), ["Web"], "{dash}");
    // Cancelling needs deploy there (checked before anything else is said about it).
    let err = vera.fails(&["deployment", "cancel", "Deployments-1"]);
    assert!(err.contains("'vera' may not deploy"), "{err}");

    // A deployer for tenant Acme: Acme's deployments only.
    let tess = user_with(
        &s,
        &admin,
        "tess",
        &[&["--role", "deployer", "--tenant", "Acme"]],
    );
    let o = deploy(&tess, "Web", Some("Acme"));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&deploy(&tess, "Web", Some("Globex")).stderr).into_owned();
    assert!(err.contains("for tenant 'Globex'"), "{err}");
    let err = String::from_utf8_lossy(&deploy(&tess, "Web", None).stderr).into_owned();
    assert!(err.contains("(untenanted)"), "{err}");
    assert_eq!(names(&tess.json(&["tenant", "list"]), "name"), ["Acme"]);
    let mine = tess.json(&["deployment", "list"]);
    assert_eq!(names(&mine, "tenant"), ["Acme"], "only Acme's: {mine}");
    let who = tess.json(&["whoami"]);
    assert!(
        who["permissions"].to_string().contains("for tenants Acme"),
        "{who}"
    );
    let err = admin.fails(&[
        "team",
        "grant",
        "team-tess",
        "--role",
        "viewer",
        "--tenant",
        "Nope",
    ]);
    assert!(err.contains("tenant 'Nope' does not exist"), "{err}");
}

#[test]
fn scoped_editors_change_only_what_their_scope_covers() {
    let (s, admin) = setup();
    let eddie = user_with(
        &s,
        &admin,
        "eddie",
        &[&["--role", "variable-editor", "--env", "Staging"]],
    );
    let set = |extra: &[&str]| {
        let mut a = vec!["variable", "set", "--project", "Web", "Url", "x"];
        a.extend(extra);
        eddie.run(&a)
    };
    assert!(set(&["--env", "Staging"]).status.success());
    let err = String::from_utf8_lossy(&set(&[]).stderr).into_owned();
    assert!(
        err.contains("may not edit-variables in environment 'Production' of project 'Web'"),
        "a value for every environment is Production's too: {err}"
    );
    assert!(!set(&["--env", "Production"]).status.success());

    // A project file: its changes need their permissions in the project it names.
    let doc = admin.ok(&["project", "export", "Web"]);
    let file = s.dir.join("web.yaml");
    std::fs::write(&file, doc.replace("echo hi", "echo changed")).unwrap();
    let carl = user_with(
        &s,
        &admin,
        "carl",
        &[
            &["--role", "viewer", "--project", "Web"],
            &["--role", "project-contributor", "--project", "Api"],
        ],
    );
    let plan = carl.ok(&["project", "apply", file.to_str().unwrap(), "--dry-run"]);
    assert!(
        plan.contains("step 'Hi'"),
        "a dry run needs view only: {plan}"
    );
    let err = carl.fails(&["project", "apply", file.to_str().unwrap()]);
    assert!(
        err.contains("may not edit-project of project 'Web'"),
        "{err}"
    );
    assert!(
        !admin
            .ok(&["project", "export", "Web"])
            .contains("echo changed")
    );
    let wendy = user_with(
        &s,
        &admin,
        "wendy",
        &[&["--role", "project-contributor", "--project", "Web"]],
    );
    let out = wendy.ok(&["project", "apply", file.to_str().unwrap()]);
    assert!(out.contains("project 'Web' applied: 1 change(s)"), "{out}");
    assert!(
        admin
            .ok(&["project", "export", "Web"])
            .contains("echo changed")
    );
}
