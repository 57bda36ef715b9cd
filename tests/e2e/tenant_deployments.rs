//! Tenant deployments through the real binaries: each tenant progresses through the lifecycle
//! on its own (in the environments it is connected to), `release missing-variables` says what
//! each tenant still lacks, the dashboard has a row per tenant, and scheduled deployments and
//! offline drops carry the tenant (the drop extracts under {applications}/{tenant}/...).

use std::time::Duration;

use e2e::{Cli, Space, wait_for};

fn deploy(c: &Cli, env: &str, tenant: Option<&str>) -> std::process::Output {
    let mut a = vec![
        "release",
        "deploy",
        "--project",
        "Web",
        "--version",
        "1.0.0",
        "--env",
        env,
    ];
    if let Some(t) = tenant {
        a.extend(["--tenant", t]);
    }
    c.run(&a)
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Sets `Region` for `tenant` in `env`.
fn region(c: &Cli, tenant: &str, env: &str) {
    c.ok(&[
        "variable",
        "set",
        "--project",
        "Web",
        "Region",
        "eu",
        "--tenant",
        tenant,
        "--env",
        env,
    ]);
}

#[test]
fn tenants_progress_on_their_own_and_have_their_rows_on_the_dashboard() {
    let s = Space::start();
    let c = s.cli();
    c.ok(&["env", "create", "Test"]);
    c.ok(&["env", "create", "Production"]);
    c.ok(&[
        "lifecycle",
        "create",
        "Main",
        "--phase",
        "T:Test",
        "--phase",
        "P:Production",
    ]);
    c.ok(&["project", "create", "Web", "--lifecycle", "Main"]);
    c.ok(&[
        "step",
        "add",
        "--project",
        "Web",
        "--name",
        "Hi",
        "--script",
        "echo region #{Region}",
    ]);
    c.ok(&[
        "template",
        "set",
        "Region",
        "--project",
        "Web",
        "--mandatory",
    ]);
    for (t, envs) in [
        ("Acme", &["Test", "Production"][..]),
        ("Globex", &["Test", "Production"][..]),
        ("Solo", &["Production"][..]),
    ] {
        c.ok(&["tenant", "create", t]);
        for e in envs {
            c.ok(&["tenant", "connect", t, "--project", "Web", "--env", e]);
        }
    }
    region(&c, "Acme", "Test");
    region(&c, "Acme", "Production");
    region(&c, "Globex", "Test");
    c.ok(&[
        "release",
        "create",
        "--project",
        "Web",
        "--version",
        "1.0.0",
    ]);

    // What each tenant (and an untenanted deployment) still lacks, per environment.
    let m = c.json(&[
        "release",
        "missing-variables",
        "--project",
        "Web",
        "--version",
        "1.0.0",
    ]);
    let rows: Vec<(String, String)> = m
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["environment"].as_str().unwrap().to_string(),
                r["tenant"].as_str().unwrap_or("-").to_string(),
            )
        })
        .collect();
    let want = [
        ("Test", "-"),
        ("Production", "-"),
        ("Production", "Globex"),
        ("Production", "Solo"),
    ]
    .map(|(e, t)| (e.to_string(), t.to_string()));
    assert_eq!(rows, want, "{m}");
    let table = c.ok(&[
        "release",
        "missing-variables",
        "--project",
        "Web",
        "--version",
        "1.0.0",
        "-o",
        "table",
    ]);
    assert!(
        table.contains("TENANT") && table.contains("Solo"),
        "{table}"
    );

    let _agent = e2e::agent::Agent::connected(&s, "web-1", &["Test", "Production"], &[]);
    let o = deploy(&c, "Test", Some("Acme"));
    assert!(o.status.success(), "{}", stderr(&o));
    // Globex has not passed Test: its own progression says so, whatever Acme did.
    let err = stderr(&deploy(&c, "Production", Some("Globex")));
    assert!(
        err.contains("phase 'T'") && err.contains("is not complete"),
        "{err}"
    );
    let o = deploy(&c, "Production", Some("Acme"));
    assert!(o.status.success(), "{}", stderr(&o));
    // Untenanted deployments progress on their own too.
    let err = stderr(&deploy(&c, "Production", None));
    assert!(err.contains("phase 'T'"), "{err}");
    // Solo is connected to Production only: Test does not gate it, its missing value does.
    let err = stderr(&deploy(&c, "Production", Some("Solo")));
    assert!(
        err.contains("not set for environment 'Production' and tenant 'Solo': Region")
            && err.contains("--tenant 'Solo'"),
        "{err}"
    );
    region(&c, "Solo", "Production");
    let o = deploy(&c, "Production", Some("Solo"));
    assert!(o.status.success(), "{}", stderr(&o));

    let d = c.json(&["dashboard"]);
    let web = &d["projects"][0];
    assert_eq!(web["environments"]["Test"], serde_json::Value::Null, "{d}");
    let tenant = |name: &str| {
        web["tenants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no row for {name}: {d}"))
    };
    let state = |t: &serde_json::Value, e: &str| t["environments"][e]["state"].clone();
    let acme = tenant("Acme");
    assert_eq!(
        (state(&acme, "Test"), state(&acme, "Production")),
        ("success".into(), "success".into())
    );
    let globex = tenant("Globex");
    assert_eq!(globex["environments"]["Test"], serde_json::Value::Null);
    let solo = tenant("Solo");
    assert_eq!(state(&solo, "Production"), "success");
    assert!(
        solo["environments"].get("Test").is_none(),
        "not connected there: {solo}"
    );
    let table = c.ok(&["dashboard", "-o", "table"]);
    assert!(
        table.contains("Web / tenant Acme") && table.contains("Web / tenant Solo"),
        "{table}"
    );
}

#[test]
fn scheduled_deployments_and_offline_drops_carry_the_tenant() {
    let s = Space::start();
    let c = s.cli();
    c.ok(&["env", "create", "Production"]);
    c.ok(&["lifecycle", "create", "Main", "--phase", "P:Production"]);
    let pkg = s.dir.join("Acme.Web.1.0.0.tar.gz");
    e2e::write_tar_gz(&pkg, &[("app.conf", b"tenant=#{Tenant.Name}\n", 0o644)]);
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
        "release",
        "create",
        "--project",
        "Web",
        "--version",
        "1.0.0",
    ]);
    let drops = s.dir.join("drops");
    c.ok(&[
        "target",
        "add-drop",
        "ProdDrop",
        "--drop-folder",
        drops.to_str().unwrap(),
        "--applications-dir",
        "/nonexistent/apps",
        "--working-dir",
        "/nonexistent/work",
        "--env",
        "Production",
    ]);

    // A tenant deployment to a drop target: the drop says whose it is.
    let o = deploy(&c, "Production", Some("Acme"));
    assert!(o.status.success(), "{}", stderr(&o));
    let folder = drops.join("ProdDrop.Web.Deployments-1");
    let def: serde_json::Value =
        serde_json::from_slice(&std::fs::read(folder.join("drop.json")).unwrap()).unwrap();
    assert_eq!(
        (def["tenant"].as_str(), def["version"].as_u64()),
        (Some("Acme"), Some(2))
    );
    let there = tempfile::tempdir().unwrap();
    let apps = there.path().join("apps");
    let run = std::process::Command::new(e2e::bin("deploy"))
        .args([
            "drop",
            "run",
            folder.to_str().unwrap(),
            "--applications-dir",
        ])
        .arg(&apps)
        .arg("--working-dir")
        .arg(there.path().join("work"))
        .args(["--space-fingerprint", &s.fingerprint])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", stderr(&run));
    let conf = apps.join("Acme/Production/Acme.Web/1.0.0/app.conf");
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), "tenant=Acme\n");

    // Scheduled for the tenant: listed with it, started with it, unscheduled by it.
    let at = |when: &str| {
        c.ok(&[
            "release",
            "deploy",
            "--project",
            "Web",
            "--version",
            "1.0.0",
            "--env",
            "Production",
            "--tenant",
            "Acme",
            "--at",
            when,
        ])
    };
    at("+2s");
    let listed = c.json(&["deployment", "scheduled"]);
    assert_eq!(listed[0]["tenant"], "Acme", "{listed}");
    wait_for(
        "the scheduled tenant deployment",
        Duration::from_secs(30),
        || {
            let l = c.json(&["deployment", "list"]);
            l.as_array().is_some_and(|l| l.len() == 2)
        },
    );
    let d = c.json(&["deployment", "show", "Deployments-2"]);
    assert_eq!(d["tenant"], "Acme", "{d}");
    at("+1h");
    let scheduled = |c: &Cli| c.json(&["deployment", "scheduled"])[0]["state"].clone();
    assert_eq!(scheduled(&c), "scheduled");
    let untenanted = c.fails(&[
        "deployment",
        "unschedule",
        "--project",
        "Web",
        "--version",
        "1.0.0",
        "--env",
        "Production",
    ]);
    assert!(untenanted.contains("does not exist"), "{untenanted}");
    c.ok(&[
        "deployment",
        "unschedule",
        "--project",
        "Web",
        "--version",
        "1.0.0",
        "--env",
        "Production",
        "--tenant",
        "Acme",
    ]);
    assert_eq!(c.json(&["deployment", "scheduled"]), serde_json::json!([]));
    let err = c.fails(&[
        "release",
        "deploy",
        "--project",
        "Web",
        "--version",
        "1.0.0",
        "--env",
        "Production",
        "--tenant",
        "Nope",
        "--at",
        "+1h",
    ]);
    assert!(err.contains("tenant 'Nope' does not exist"), "{err}");
}

/// An automatic phase deploys each connected tenant on its own when a release arrives (and the
/// untenanted deployment as before); a tenant's success starts its own next automatic phase.
#[test]
fn automatic_phases_deploy_each_connected_tenant() {
    let s = Space::start();
    let c = s.cli();
    c.ok(&["env", "create", "Dev"]);
    c.ok(&["env", "create", "Test"]);
    c.ok(&[
        "lifecycle",
        "create",
        "Auto",
        "--phase",
        "D:Dev:auto",
        "--phase",
        "T:Test:auto",
    ]);
    c.ok(&["project", "create", "Web", "--lifecycle", "Auto"]);
    c.ok(&[
        "step",
        "add",
        "--project",
        "Web",
        "--name",
        "Hi",
        "--script",
        "echo hi",
    ]);
    c.ok(&["tenant", "create", "Acme"]);
    for e in ["Dev", "Test"] {
        c.ok(&["tenant", "connect", "Acme", "--project", "Web", "--env", e]);
    }
    c.ok(&["tenant", "create", "Beta"]);
    c.ok(&[
        "tenant",
        "connect",
        "Beta",
        "--project",
        "Web",
        "--env",
        "Dev",
    ]);
    let _agent = e2e::agent::Agent::connected(&s, "web-1", &["Dev", "Test"], &[]);
    c.ok(&[
        "release",
        "create",
        "--project",
        "Web",
        "--version",
        "1.0.0",
    ]);
    let done = || -> Vec<(String, String)> {
        let l = c.json(&["deployment", "list"]);
        let mut v: Vec<(String, String)> = l
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["state"] == "success")
            .map(|d| {
                (
                    d["environment"].as_str().unwrap().to_string(),
                    d["tenant"].as_str().unwrap_or("-").to_string(),
                )
            })
            .collect();
        v.sort();
        v
    };
    wait_for(
        "every automatic deployment",
        Duration::from_secs(60),
        || done().len() == 5,
    );
    let want = [
        ("Dev", "-"),
        ("Dev", "Acme"),
        ("Dev", "Beta"),
        ("Test", "-"),
        ("Test", "Acme"),
    ]
    .map(|(e, t)| (e.to_string(), t.to_string()));
    assert_eq!(done(), want);
}
