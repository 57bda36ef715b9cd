//! End to end: polling and listening agents, deployments through a lifecycle, package
//! transfer by chunks, refused certificates (failures and automatic phases: `deployment_failures.rs`).

use std::time::Duration;

use e2e::agent::Agent;
use e2e::{Cli, Space, all_bytes, contains, noise, wait_for, write_tar_gz};

const SECRET: &str = "s3cr3t-Pa55";
/// A multi-line sensitive value (a key in PEM form): every line must stay hidden.
const CERT: &str =
    "-----BEGIN TEST KEY-----\nQmFzZTY0TGluZU9uZQ\nU2Vjb25kTGluZVR3bw\n-----END TEST KEY-----";

pub(crate) fn deployment(c: &Cli, id: &str) -> serde_json::Value {
    c.json(&["deployment", "show", id])
}

/// Starts a deployment without following it; returns its id.
pub(crate) fn start(c: &Cli, project: &str, version: &str, env: &str) -> String {
    c.ok(&[
        "release",
        "deploy",
        "--project",
        project,
        "--version",
        version,
        "--env",
        env,
        "--no-follow",
    ])
    .trim()
    .to_string()
}

pub(crate) fn wait_state(c: &Cli, id: &str, limit: Duration) -> serde_json::Value {
    let mut last = serde_json::Value::Null;
    wait_for(&format!("{id} to end"), limit, || {
        last = deployment(c, id);
        !matches!(last["state"].as_str(), Some("queued" | "running"))
    });
    last
}

pub(crate) fn setup_envs(c: &Cli, envs: &[&str]) {
    for e in envs {
        c.ok(&["env", "create", e]);
    }
}

#[test]
fn polling_and_listening_agents_deploy_through_the_lifecycle() {
    let s = Space::start();
    let c = s.cli();
    setup_envs(&c, &["Dev", "Test", "Quarantine"]);
    c.ok(&[
        "lifecycle",
        "create",
        "Main",
        "--phase",
        "Dev:Dev",
        "--phase",
        "Test:Test",
    ]);
    let web = Agent::polling(&s, "web-01");
    web.register(&s, &["Dev", "Test"], &["web"]);
    let db = Agent::listening(&s, "db-01", &s.fingerprint);
    db.register(&s, &["Dev", "Test"], &["db"]);
    wait_for(
        "the polling agent to connect",
        Duration::from_secs(60),
        || c.json(&["target", "show", "web-01"])["connected"] == true,
    );

    let pkg = s.dir.join("Acme.Web.1.0.0.tar.gz");
    write_tar_gz(
        &pkg,
        &[
            ("app.conf", b"url=#{Url}\nenv=#{Environment.Name}\n", 0o644),
            (
                "Deploy.sh",
                b"#!/bin/sh\necho \"installing in $(pwd) for $Url\"\necho \"##deploy[setVariable name='Port' value='8080']\"\n",
                0o755,
            ),
        ],
    );
    c.ok(&["package", "upload", pkg.to_str().unwrap()]);
    c.ok(&["project", "create", "Acme", "--lifecycle", "Main"]);
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
    c.ok(&["step", "add", "--project", "Acme", "--name", "Db", "--role", "db", "--script", "echo \"db on #{Machine.Name} sees port #{Output.Web.Port}\"; echo \"password is #{DbPassword}\"; echo \"key: #{Cert}\""]);
    c.ok(&[
        "variable",
        "set",
        "--project",
        "Acme",
        "Url",
        "http://dev.local",
        "--env",
        "Dev",
    ]);
    c.ok(&[
        "variable",
        "set",
        "--project",
        "Acme",
        "Url",
        "http://test.local",
        "--env",
        "Test",
    ]);
    assert!(
        c.run_with_stdin(
            &[
                "variable",
                "set",
                "--project",
                "Acme",
                "DbPassword",
                "--sensitive"
            ],
            Some(SECRET)
        )
        .status
        .success()
    );
    assert!(
        c.run_with_stdin(
            &[
                "variable",
                "set",
                "--project",
                "Acme",
                "Cert",
                "--sensitive"
            ],
            Some(CERT)
        )
        .status
        .success()
    );
    c.ok(&[
        "release",
        "create",
        "--project",
        "Acme",
        "--version",
        "1.0.0",
    ]);

    let err = c.fails(&[
        "release",
        "deploy",
        "--project",
        "Acme",
        "--version",
        "1.0.0",
        "--env",
        "Test",
    ]);
    assert!(
        err.contains("phase 'Dev'") && err.contains("not complete"),
        "{err}"
    );

    let out = c.run(&[
        "release",
        "deploy",
        "--project",
        "Acme",
        "--version",
        "1.0.0",
        "--env",
        "Dev",
    ]);
    let log = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "deploy to Dev failed: {log}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        log.contains("db on db-01 sees port 8080"),
        "output variable reached the next step on another target: {log}"
    );
    assert!(log.contains("password is ********"), "{log}");
    assert!(!log.contains(SECRET), "the secret leaked into the live log");
    assert!(log.contains("key: ********"), "{log}");
    for line in CERT.lines() {
        assert!(
            !log.contains(line),
            "a line of a multi-line secret leaked: {log}"
        );
    }
    let conf =
        std::fs::read_to_string(web.applications().join("Dev/Acme.Web/1.0.0/app.conf")).unwrap();
    assert_eq!(conf, "url=http://dev.local\nenv=Dev\n");

    c.ok(&[
        "release",
        "deploy",
        "--project",
        "Acme",
        "--version",
        "1.0.0",
        "--env",
        "Test",
    ]);
    assert_eq!(
        std::fs::read_to_string(web.applications().join("Test/Acme.Web/1.0.0/app.conf")).unwrap(),
        "url=http://test.local\nenv=Test\n"
    );
    // Redeploying the same version extracts next to the first one.
    c.ok(&[
        "release",
        "deploy",
        "--project",
        "Acme",
        "--version",
        "1.0.0",
        "--env",
        "Dev",
    ]);
    assert!(
        web.applications()
            .join("Dev/Acme.Web/1.0.0_1/app.conf")
            .exists()
    );

    let dash = c.json(&["dashboard"]);
    let acme = &dash["projects"][0];
    assert_eq!(acme["environments"]["Dev"]["state"], "success");
    assert_eq!(acme["environments"]["Test"]["version"], "1.0.0");
    let history = c.json(&["deployment", "list", "--project", "Acme", "--env", "Dev"]);
    assert_eq!(history.as_array().unwrap().len(), 2);
    assert_eq!(history[0]["created_by"], "admin");
    let id = history[0]["id"].as_str().unwrap().to_string();
    let stored = c.ok(&["deployment", "logs", &id]);
    assert!(stored.contains("password is ********") && !stored.contains(SECRET));
    let db_files = all_bytes(&s.data_dir.join("db"));
    for line in CERT.lines() {
        assert!(!stored.contains(line), "stored log: {stored}");
        assert!(
            !contains(&db_files, line),
            "'{line}' is in the Space database"
        );
    }
    assert!(
        !s.log_text().contains(SECRET)
            && !web.log_text().contains(SECRET)
            && !db.log_text().contains(SECRET)
    );

    // A polling agent whose certificate is not registered is refused at the handshake.
    let rogue = Agent::polling(&s, "rogue");
    wait_for(
        "the unregistered agent to be refused",
        Duration::from_secs(20),
        || rogue.log_text().contains("Is this agent registered"),
    );
    assert!(
        c.json(&["target", "list"])
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["name"] != "rogue")
    );
    assert!(
        s.log_text().contains("not registered"),
        "the Space logs the refusal"
    );
    // A listening target registered with another certificate than its agent's is refused.
    let mut imposter = Agent::listening(&s, "imposter", &s.fingerprint);
    c.ok(&[
        "target",
        "add",
        "imposter",
        "--fingerprint",
        &e2e::agent::init(&s, "stranger").1,
        "--env",
        "Quarantine",
        "--listening-address",
        imposter.address.as_deref().unwrap(),
    ]);
    c.ok(&[
        "lifecycle",
        "create",
        "Q",
        "--phase",
        "Quarantine:Quarantine",
    ]);
    c.ok(&["project", "create", "Probe", "--lifecycle", "Q"]);
    c.ok(&[
        "step",
        "add",
        "--project",
        "Probe",
        "--name",
        "Hello",
        "--script",
        "echo hello",
    ]);
    c.ok(&["release", "create", "--project", "Probe", "--version", "1"]);
    let err = c.fails(&[
        "release",
        "deploy",
        "--project",
        "Probe",
        "--version",
        "1",
        "--env",
        "Quarantine",
    ]);
    assert!(err.contains("failed"), "{err}");
    let d = c.json(&["deployment", "list", "--project", "Probe"]);
    let why = d[0]["steps"][0]["targets"][0]["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        why.contains("presented certificate") && why.contains("deploy target update"),
        "refusal names the certificate and the fix for a target: {why}"
    );
    imposter.kill();
}

#[test]
fn a_new_package_version_transfers_only_changed_chunks() {
    // Agents keep one extraction per package: older ones are removed using the journal.
    let s = Space::start_with_env(&[("SPACE_PACKAGE_RETENTION", "1")]);
    let c = s.cli();
    setup_envs(&c, &["Dev"]);
    c.ok(&["lifecycle", "create", "L", "--phase", "Dev:Dev"]);
    let agent = Agent::polling(&s, "app-01");
    agent.register(&s, &["Dev"], &[]);
    c.ok(&["project", "create", "Big", "--lifecycle", "L"]);
    c.ok(&[
        "step",
        "add",
        "--project",
        "Big",
        "--name",
        "Install",
        "--package",
        "Big.App",
    ]);
    let base = noise(11, 8 * 1024 * 1024);
    let mut next = base.clone();
    for i in 0..4 {
        let at = i * 2 * 1024 * 1024 + 4321;
        next[at..at + 20_000].copy_from_slice(&noise(50 + i as u64, 20_000));
    }
    for (v, data) in [("1.0.0", &base), ("1.0.1", &next)] {
        let p = s.dir.join(format!("Big.App.{v}.tar.gz"));
        e2e::write_stored_tar_gz(&p, "app.bin", data);
        c.ok(&["package", "upload", p.to_str().unwrap()]);
        c.ok(&[
            "release",
            "create",
            "--project",
            "Big",
            "--version",
            v,
            "--package",
            &format!("Big.App:{v}"),
        ]);
    }
    let sent = |v: &str| -> u64 {
        c.ok(&[
            "release",
            "deploy",
            "--project",
            "Big",
            "--version",
            v,
            "--env",
            "Dev",
        ]);
        let d = c.json(&["deployment", "list", "--project", "Big"]);
        d[0]["steps"][0]["targets"][0]["transferred_bytes"]
            .as_u64()
            .unwrap()
    };
    let first = sent("1.0.0");
    let second = sent("1.0.1");
    eprintln!("package bytes sent to the agent: first version {first}, second version {second}");
    assert!(
        first > 8 * 1024 * 1024,
        "the first version travels whole: {first}"
    );
    assert!(
        second < first / 10,
        "only changed chunks travel: {second} of {first}"
    );
    assert!(second > 0);
    assert_eq!(
        std::fs::read(agent.applications().join("Dev/Big.App/1.0.1/app.bin")).unwrap(),
        next
    );
    assert!(
        !agent.applications().join("Dev/Big.App/1.0.0").exists(),
        "retention removed the older extraction"
    );
    let journal = std::fs::read_to_string(agent.data_dir.join("work/journal.json")).unwrap();
    assert!(journal.contains("\"removed\": true"), "{journal}");
}
