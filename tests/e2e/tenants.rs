//! Tenants through the real binaries: created with tags, connected to a project in this
//! Space's environments (never a remote environment: tenants are owned by the Space where
//! their deployments happen), tenant-specific values as variables scoped to a tenant that
//! exists, and a tenant with such values is not deleted from under them.

use e2e::Space;

#[test]
fn tenants_connect_to_this_spaces_environments_and_scope_values() {
    let s = Space::start();
    let c = s.cli();
    c.ok(&["env", "create", "Production"]);
    c.ok(&[
        "env",
        "add-remote",
        "--space",
        "Prod",
        "--name",
        "Production",
    ]);
    c.ok(&["lifecycle", "create", "Main", "--phase", "P:Production"]);
    c.ok(&["project", "create", "Web", "--lifecycle", "Main"]);
    assert_eq!(
        c.ok(&["tenant", "create", "Acme", "--tag", "gold"]).trim(),
        "tenant 'Acme' created"
    );
    c.ok(&[
        "tenant",
        "connect",
        "Acme",
        "--project",
        "Web",
        "--env",
        "Production",
    ]);
    let err = c.fails(&[
        "tenant",
        "connect",
        "Acme",
        "--project",
        "Web",
        "--env",
        "Prod: Production",
    ]);
    assert!(
        err.contains("'Prod: Production' is an environment of space 'Prod'")
            && err.contains("create the tenant in 'Prod'"),
        "{err}"
    );
    let t = c.json(&["tenant", "show", "Acme"]);
    assert_eq!(t["tags"], serde_json::json!(["gold"]));
    assert_eq!(
        t["projects"][0]["environments"],
        serde_json::json!(["Production"]),
        "{t}"
    );

    c.ok(&[
        "variable",
        "set",
        "--project",
        "Web",
        "Url",
        "https://acme",
        "--tenant",
        "Acme",
    ]);
    let err = c.fails(&[
        "variable",
        "set",
        "--project",
        "Web",
        "Url",
        "x",
        "--tenant",
        "Nope",
    ]);
    assert!(err.contains("tenant 'Nope', which does not exist"), "{err}");
    let err = c.fails(&["tenant", "delete", "Acme"]);
    assert!(err.contains("scoped to tenant 'Acme'"), "{err}");
    let table = c.ok(&["tenant", "list"]);
    assert!(
        table.contains("Acme") && table.contains("Web (Production)"),
        "{table}"
    );
}
