//! Users, API keys and agent registration tokens through the real binaries: a key works until
//! it is revoked or expires (refused at once), only an admin manages users and keys, and a
//! registration token registers one agent and can do nothing else.

use std::process::Command;
use std::time::Duration;

use e2e::{Space, bin, wait_for};

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn keys_work_until_revoked_or_expired_and_only_admins_manage_them() {
    let s = Space::start();
    let admin = s.cli();
    assert_eq!(
        admin.ok(&["user", "create", "alice"]).trim(),
        "user 'alice' created"
    );
    admin.ok(&["user", "create", "ci", "--service"]);
    let created = admin.run(&["apikey", "create", "--user", "alice", "--name", "laptop"]);
    assert!(created.status.success(), "{}", stderr(&created));
    let key = String::from_utf8_lossy(&created.stdout).trim().to_string();
    admin.ok(&[
        "team", "create", "readers", "--member", "alice", "--member", "ci",
    ]);
    admin.ok(&["team", "grant", "readers", "--role", "viewer"]);
    assert!(
        key.starts_with("dk_") && !key.contains(' '),
        "the key alone on stdout: {key}"
    );
    assert!(stderr(&created).contains("shown once"));

    let alice = s.cli().with_env("DEPLOY_API_KEY", &key);
    alice.ok(&["project", "list"]);
    let who = alice.json(&["whoami"]);
    assert_eq!(
        (who["user"].as_str(), who["admin"].as_bool()),
        (Some("alice"), Some(false))
    );
    let refused = alice.fails(&["user", "create", "mallory", "--admin"]);
    assert!(refused.contains("needs an admin key"), "{refused}");
    assert!(
        alice
            .fails(&["apikey", "list"])
            .contains("needs an admin key")
    );

    let keys = admin.json(&["apikey", "list", "--user", "alice"]);
    let id = keys[0]["id"].as_str().unwrap().to_string();
    assert!(
        keys[0]["last_used"].is_string(),
        "last use recorded: {keys}"
    );
    assert!(
        !keys.to_string().contains(&key),
        "a key is never shown again"
    );
    admin.ok(&["apikey", "revoke", &id[..8]]);
    let err = alice.fails(&["project", "list"]);
    assert!(err.contains("revoked"), "refused at once: {err}");

    let short = admin.ok(&["apikey", "create", "--user", "ci", "--expires", "2s"]);
    let ci = s.cli().with_env("DEPLOY_API_KEY", short.trim());
    ci.ok(&["project", "list"]);
    wait_for("the key to expire", Duration::from_secs(15), || {
        let o = ci.run(&["project", "list"]);
        !o.status.success() && stderr(&o).contains("expired")
    });

    admin.ok(&["user", "delete", "ci"]);
    let users = admin.json(&["user", "list"]);
    assert!(!users.to_string().contains("\"ci\""), "{users}");
    let last = admin.fails(&["user", "delete", "admin"]);
    assert!(last.contains("last admin"), "{last}");
}

#[test]
fn a_registration_token_registers_one_agent_and_nothing_else() {
    let s = Space::start();
    let admin = s.cli();
    admin.ok(&["env", "create", "Production"]);
    let token = admin.ok(&[
        "target",
        "registration-token",
        "--uses",
        "1",
        "--expires",
        "1h",
    ]);
    let token = token.trim().to_string();
    let register = |name: &str| {
        let (dir, _) = e2e::agent::init(&s, name);
        Command::new(bin("agent"))
            .args([
                "--data-dir",
                dir.to_str().unwrap(),
                "register",
                "--space",
                &s.address,
            ])
            .args(["--api-key", &token, "--space-fingerprint", &s.fingerprint])
            .args(["--name", name, "--env", "Production"])
            .output()
            .unwrap()
    };
    let first = register("web-1");
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(admin.json(&["target", "show", "web-1"])["name"], "web-1");
    let second = register("web-2");
    assert!(!second.status.success());
    assert!(stderr(&second).contains("used up"), "{}", stderr(&second));

    let as_token = s.cli().with_env("DEPLOY_API_KEY", &token);
    for args in [
        &["project", "list"][..],
        &["target", "list"],
        &["target", "delete", "web-1", "--yes"],
    ] {
        let err = as_token.fails(args);
        assert!(err.contains("registration token"), "{args:?}: {err}");
    }
    let keys = admin.json(&["apikey", "list"]);
    assert!(keys.to_string().contains("\"uses_left\":0"), "{keys}");
}

/// Every write and every refusal lands on the Space's audit trail with who, what, from where
/// and the outcome; reads are not recorded; the trail's chain verifies.
#[test]
fn the_audit_trail_records_writes_and_refusals() {
    let s = Space::start();
    let admin = s.cli();
    admin.ok(&["env", "create", "Dev"]);
    admin.ok(&["project", "list"]);
    admin.ok(&["user", "create", "alice"]);
    let key = admin.ok(&["apikey", "create", "--user", "alice"]);
    let alice = s.cli().with_env("DEPLOY_API_KEY", key.trim());
    alice.fails(&["user", "create", "mallory"]);
    s.cli()
        .with_env("DEPLOY_API_KEY", "dk_bogus")
        .fails(&["project", "list"]);
    assert!(
        alice
            .fails(&["audit", "list"])
            .contains("needs an admin key")
    );

    let all = admin.json(&["audit", "list"]);
    let entries = all.as_array().unwrap();
    let find = |method: &str| {
        entries
            .iter()
            .find(|e| e["method"].as_str().unwrap_or("").ends_with(method))
            .unwrap_or_else(|| panic!("{method} in {all}"))
    };
    let created = find("Environments/Create");
    assert_eq!(
        (created["user"].as_str(), created["outcome"].as_str()),
        (Some("admin"), Some("ok"))
    );
    assert!(
        created["from"].as_str().unwrap().starts_with("127.0.0.1:"),
        "{created}"
    );
    assert!(
        !entries
            .iter()
            .any(|e| e["method"] == "/space.v1.Projects/List" && e["outcome"] == "ok")
    );
    let refused = admin.json(&["audit", "list", "--refused"]);
    let refused: Vec<(String, String)> = refused
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["user"].as_str().unwrap().to_string(),
                e["method"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        refused.contains(&("alice".into(), "/space.v1.Access/CreateUser".into())),
        "{refused:?}"
    );
    assert!(
        refused.contains(&("(unknown key)".into(), "/space.v1.Projects/List".into())),
        "{refused:?}"
    );
    assert!(
        refused
            .iter()
            .any(|(u, m)| u == "alice" && m == "/space.v1.Audit/List"),
        "{refused:?}"
    );
    assert_eq!(
        admin
            .json(&["audit", "list", "--user", "alice", "--method", "CreateUser"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let v = admin.ok(&["audit", "verify"]);
    assert!(v.contains("hash chain intact"), "{v}");
}
