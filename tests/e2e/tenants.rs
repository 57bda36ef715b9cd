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

/// A deployment for a tenant uses the tenant's values and `Tenant.Name`, extracts under
/// {applications}/{tenant}/{environment}/, and is refused for a tenant not connected there.
#[test]
fn a_tenant_deployment_uses_its_values_and_its_own_directory() {
    let s = Space::start();
    let c = s.cli();
    c.ok(&["env", "create", "Production"]);
    c.ok(&["lifecycle", "create", "Main", "--phase", "P:Production"]);
    let pkg = s.dir.join("Acme.Web.1.0.0.tar.gz");
    e2e::write_tar_gz(
        &pkg,
        &[(
            "app.conf",
            b"url=#{Url} tenant=#{Tenant.Name | ToUpper}\n",
            0o644,
        )],
    );
    c.ok(&["package", "upload", pkg.to_str().unwrap()]);
    c.ok(&["project", "create", "Web", "--lifecycle", "Main"]);
    c.ok(&[
        "step",
        "add",
        "--project",
        "Web",
        "--name",
        "Site",
        "--package",
        "Acme.Web",
        "--substitute",
        "*.conf",
    ]);
    c.ok(&["tenant", "create", "Acme"]);
    c.ok(&["tenant", "create", "Gamma"]);
    c.ok(&[
        "tenant",
        "connect",
        "Acme",
        "--project",
        "Web",
        "--env",
        "Production",
    ]);
    c.ok(&[
        "variable",
        "set",
        "--project",
        "Web",
        "Url",
        "https://default",
    ]);
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
    c.ok(&[
        "release",
        "create",
        "--project",
        "Web",
        "--version",
        "1.0.0",
    ]);
    let _agent = e2e::agent::Agent::connected(&s, "web-1", &["Production"], &[]);
    let deploy = |extra: &[&str]| {
        let mut a = vec![
            "release",
            "deploy",
            "--project",
            "Web",
            "--version",
            "1.0.0",
            "--env",
            "Production",
        ];
        a.extend(extra);
        c.run(&a)
    };
    let o = deploy(&["--tenant", "Acme"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let d = c.json(&["deployment", "show", "Deployments-1"]);
    assert_eq!(d["tenant"], "Acme", "{d}");
    let dir = d["steps"][0]["targets"][0]["installed_to"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(dir.contains("/Acme/Production/Acme.Web/1.0.0"), "{dir}");
    let conf = std::fs::read_to_string(std::path::Path::new(&dir).join("app.conf")).unwrap();
    assert_eq!(conf, "url=https://acme tenant=ACME\n");

    let err = String::from_utf8_lossy(&deploy(&["--tenant", "Gamma"]).stderr).into_owned();
    assert!(
        err.contains("tenant 'Gamma' is not connected to project 'Web' in 'Production'"),
        "{err}"
    );
    let err = String::from_utf8_lossy(&deploy(&["--tenant", "Nope"]).stderr).into_owned();
    assert!(err.contains("tenant 'Nope' does not exist"), "{err}");

    // Without a tenant, Tenant.Name is not defined: the strict template names it.
    let o = deploy(&[]);
    assert!(
        !o.status.success(),
        "Tenant.Name is missing without a tenant (strict)"
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("Tenant.Name"));
}
