//! The permission matrix through the real binaries: for each built-in role (from the same
//! table docs/permissions.md is generated from), a user whose team grants it tries one
//! operation of each permission; it is allowed exactly where the role holds the permission,
//! and a refusal names what is missing. A grant limited to an environment holds only there.

use domain::access::{Permission, builtin_roles};
use e2e::{Cli, Space};

/// One operation needing `p`, as `deploy` arguments (`n` keeps names unique per role).
fn operation(p: Permission, n: &str) -> Vec<String> {
    let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    match p {
        Permission::View => v(&["project", "list"]),
        Permission::EditProject => v(&["project", "update", "Web", "--description", n]),
        Permission::EditVariables => v(&["variable", "set", "--project", "Web", n, "1"]),
        Permission::CreateRelease => v(&[
            "release",
            "create",
            "--project",
            "Web",
            "--version",
            &format!("1.0.{n}"),
        ]),
        Permission::Deploy => v(&[
            "release",
            "deploy",
            "--project",
            "Web",
            "--version",
            "1.0.0",
            "--env",
            "Staging",
            "--no-follow",
        ]),
        Permission::ManageEnvironments => v(&["env", "create", &format!("Env{n}")]),
        Permission::ImportBundles => v(&["bundle", "import", "0000000000"]),
        Permission::PushPackages => v(&["package", "delete", "Nope", "9.9.9"]),
        Permission::Admin => v(&["user", "create", &format!("made-by-{n}")]),
    }
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
    admin.ok(&["project", "create", "Web", "--lifecycle", "Free"]);
    admin.ok(&[
        "step",
        "add",
        "--project",
        "Web",
        "--name",
        "Hi",
        "--script",
        "echo hi",
    ]);
    admin.ok(&[
        "release",
        "create",
        "--project",
        "Web",
        "--version",
        "1.0.0",
    ]);
    (s, admin)
}

fn user_with(s: &Space, admin: &Cli, name: &str, grant: &[&str]) -> Cli {
    admin.ok(&["user", "create", name]);
    admin.ok(&["team", "create", &format!("team-{name}"), "--member", name]);
    let mut g = vec!["team", "grant"];
    let team = format!("team-{name}");
    g.push(&team);
    g.extend(grant);
    admin.ok(&g);
    let key = admin.ok(&["apikey", "create", "--user", name]);
    s.cli().with_env("DEPLOY_API_KEY", key.trim())
}

#[test]
fn each_built_in_role_may_do_exactly_what_the_matrix_says() {
    let (s, admin) = setup();
    for (i, role) in builtin_roles().iter().enumerate() {
        let user = user_with(&s, &admin, &format!("u{i}"), &["--role", &role.name]);
        for p in Permission::ALL {
            let args = operation(p, &format!("{i}{}", p.as_str().len()));
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let o = user.run(&args);
            let err = String::from_utf8_lossy(&o.stderr);
            let refused = err.contains("may not") || err.contains("needs an admin key");
            let allowed = role.permissions.contains(&p);
            assert_eq!(
                !refused,
                allowed,
                "role {} doing {} ({args:?}): {err}",
                role.name,
                p.as_str()
            );
            if refused {
                assert!(
                    err.contains(p.as_str()) || err.contains("admin"),
                    "the refusal names what is missing: {err}"
                );
            }
        }
    }
}

#[test]
fn a_grant_limited_to_an_environment_holds_only_there() {
    let (s, admin) = setup();
    let dora = user_with(
        &s,
        &admin,
        "dora",
        &["--role", "deployer", "--env", "Staging", "--project", "Web"],
    );
    let deploy = |env: &str| {
        dora.run(&[
            "release",
            "deploy",
            "--project",
            "Web",
            "--version",
            "1.0.0",
            "--env",
            env,
            "--no-follow",
        ])
    };
    let staging = deploy("Staging");
    assert!(
        staging.status.success(),
        "{}",
        String::from_utf8_lossy(&staging.stderr)
    );
    let prod = deploy("Production");
    let err = String::from_utf8_lossy(&prod.stderr);
    assert!(
        !prod.status.success()
            && err.contains("'dora' may not deploy in environment 'Production' of project 'Web'"),
        "{err}"
    );
    assert!(
        dora.fails(&["env", "create", "Other"])
            .contains("may not manage-environments")
    );
    let who = dora.json(&["whoami"]);
    assert!(
        who["permissions"]
            .to_string()
            .contains("deploy in Staging of Web (team team-dora, role deployer)"),
        "{who}"
    );
    let refused = admin.json(&["audit", "list", "--refused", "--user", "dora"]);
    assert!(
        refused.to_string().contains("Deployments/Create"),
        "audited: {refused}"
    );
}

/// Imported releases obey the same permissions: a deployer allowed only in Staging for the
/// Remote Project "DevTest: Web" cannot deploy its imported release to Production.
#[test]
fn a_deployer_scoped_to_staging_cannot_deploy_an_imported_release_to_production() {
    use e2e::promotion::{connected_pair, script_project, to_prod_lifecycle};
    let net = e2e::odcm::Odcm::start("Net");
    let (dev, prod) = connected_pair(&net, &[], &["releases", "receipts"]);
    to_prod_lifecycle(&dev, "");
    script_project(&dev, "Web", "ToProd", "echo hi");
    let d = dev.cli();
    d.ok(&[
        "release",
        "create",
        "--project",
        "Web",
        "--version",
        "1.0.0",
    ]);
    let p = prod.cli();
    p.ok(&["env", "create", "Staging"]);
    p.ok(&["env", "create", "Production"]);
    p.ok(&[
        "lifecycle",
        "create",
        "Both",
        "--phase",
        "All:Staging,Production",
    ]);
    p.ok(&[
        "bundle",
        "auto-import",
        "set",
        "--from",
        "DevTest",
        "--lifecycle",
        "Both",
    ]);
    d.ok(&[
        "release",
        "promote",
        "--project",
        "Web",
        "--version",
        "1.0.0",
        "--to-space",
        "Prod",
    ]);
    e2e::wait_for(
        "Prod to import the release",
        std::time::Duration::from_secs(30),
        || p.run(&["project", "show", "DevTest: Web"]).status.success(),
    );
    let dora = user_with(
        &prod,
        &p,
        "dora",
        &[
            "--role",
            "deployer",
            "--env",
            "Staging",
            "--project",
            "DevTest: Web",
        ],
    );
    let deploy = |env: &str| {
        dora.run(&[
            "release",
            "deploy",
            "--project",
            "DevTest: Web",
            "--version",
            "1.0.0",
            "--env",
            env,
            "--no-follow",
        ])
    };
    let staging = deploy("Staging");
    assert!(
        staging.status.success(),
        "{}",
        String::from_utf8_lossy(&staging.stderr)
    );
    let err = String::from_utf8_lossy(&deploy("Production").stderr).into_owned();
    assert!(
        err.contains("may not deploy in environment 'Production' of project 'DevTest: Web'"),
        "{err}"
    );
}

#[test]
fn a_grant_limited_to_a_project_holds_only_there() {
    let (s, admin) = setup();
    admin.ok(&["project", "create", "Other", "--lifecycle", "Free"]);
    let pc = user_with(
        &s,
        &admin,
        "pat",
        &["--role", "project-contributor", "--project", "Web"],
    );
    pc.ok(&["project", "update", "Web", "--description", "mine"]);
    pc.ok(&["channel", "create", "Hotfix", "--project", "Web"]);
    pc.ok(&["variable", "set", "--project", "Web", "Url", "x"]);
    for (args, what) in [
        // `project update` reads the project first: pat may not even see it.
        (
            &["project", "update", "Other", "--description", "x"][..],
            "view of project 'Other'",
        ),
        (
            &["channel", "create", "Hotfix", "--project", "Other"],
            "edit-project of project 'Other'",
        ),
        (
            &["variable", "set", "--project", "Other", "Url", "x"],
            "edit-variables of project 'Other'",
        ),
        (
            &["project", "delete", "Other", "--yes"],
            "edit-project of project 'Other'",
        ),
    ] {
        let err = pc.fails(args);
        assert!(
            err.contains(&format!("'pat' may not {what}")),
            "{args:?}: {err}"
        );
    }
}
