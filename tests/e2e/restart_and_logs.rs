//! End to end: every resource survives a restart; secrets never reach the logs; metrics,
//! print-config and graceful shutdown behave.

use e2e::{Space, write_tar_gz};

const SECRET: &str = "Sup3r-S3cret-Value";

fn populate(s: &Space) {
    let c = s.cli();
    c.ok(&["env", "create", "Dev"]);
    c.ok(&["env", "create", "Prod", "--sort-order", "9"]);
    c.ok(&[
        "lifecycle",
        "create",
        "Main",
        "--phase",
        "Dev:Dev:auto",
        "--phase",
        "Prod:Prod:optional",
    ]);
    c.ok(&[
        "project",
        "create",
        "Acme",
        "--lifecycle",
        "Main",
        "--description",
        "shop",
    ]);
    c.ok(&["channel", "create", "Hotfix", "--project", "Acme"]);
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
    ]);
    c.ok(&[
        "step",
        "add",
        "--project",
        "Acme",
        "--name",
        "Say",
        "--script",
        "echo #{Greeting} #{DbPassword}",
        "--role",
        "web",
    ]);
    c.ok(&[
        "variable",
        "set",
        "--project",
        "Acme",
        "Greeting",
        "hello",
        "--env",
        "Dev",
    ]);
    let o = c.run_with_stdin(
        &[
            "variable",
            "set",
            "--project",
            "Acme",
            "DbPassword",
            "--sensitive",
            "--env",
            "Prod",
        ],
        Some(SECRET),
    );
    assert!(o.status.success());
    c.ok(&[
        "template",
        "set",
        "--project",
        "Acme",
        "ApiUrl",
        "--mandatory",
    ]);
    let pkg = s.dir.join("Acme.Web.2.0.0.tgz");
    write_tar_gz(&pkg, &[("app.conf", b"greeting=#{Greeting}\n", 0o644)]);
    c.ok(&["package", "upload", pkg.to_str().unwrap()]);
    c.ok(&[
        "release",
        "create",
        "--project",
        "Acme",
        "--version",
        "2.0.0",
        "--notes",
        "restart me",
    ]);
    c.ok(&[
        "release",
        "create",
        "--project",
        "Acme",
        "--version",
        "2.0.1",
        "--channel",
        "Hotfix",
    ]);
}

fn snapshot(s: &Space) -> Vec<serde_json::Value> {
    let c = s.cli();
    vec![
        c.json(&["env", "list"]),
        c.json(&["lifecycle", "list"]),
        c.json(&["project", "list"]),
        c.json(&["channel", "list", "--project", "Acme"]),
        c.json(&["step", "list", "--project", "Acme"]),
        c.json(&["variable", "list", "--project", "Acme"]),
        c.json(&["template", "list", "--project", "Acme"]),
        c.json(&["package", "list"]),
        c.json(&["release", "list", "--project", "Acme"]),
    ]
}

/// What the API acknowledged survives a SIGKILL right after it (the database would otherwise
/// flush on a timer: the last ~200 ms of writes were lost before).
#[test]
fn every_acknowledged_write_survives_a_crash_right_after_it() {
    let mut s = Space::start();
    populate(&s);
    let before = snapshot(&s);
    // The last write, then SIGKILL at once (no call in between to give the timer a chance).
    s.cli().ok(&["env", "create", "LastOne"]);
    s.crash();
    s.start_again();
    let after = snapshot(&s);
    let envs = after[0].as_array().unwrap();
    assert!(envs.iter().any(|e| e["name"] == "LastOne"), "{after:?}");
    assert_eq!(before[1..], after[1..]);
}

#[test]
fn every_resource_survives_a_restart() {
    let mut s = Space::start();
    populate(&s);
    let before = snapshot(&s);
    let agents_at = s.agent_address.clone();
    s.restart();
    let after = snapshot(&s);
    assert_eq!(before, after);
    // Started with --agent-listen 127.0.0.1:0, it listens for agents where it did before, so
    // agents registered against it keep working.
    assert_eq!(s.agent_address, agents_at);
    let c = s.cli();
    // The sensitive value is still readable by the server (same master key): comparing the two
    // releases finds it unchanged.
    let cmp = c.json(&[
        "release",
        "compare",
        "--project",
        "Acme",
        "2.0.0",
        "2.0.1",
        "--all",
    ]);
    let pw = cmp["variables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["subject"].as_str().unwrap().starts_with("DbPassword"))
        .unwrap()
        .clone();
    assert_eq!(pw["kind"], "unchanged");
    let out = s.dir.join("back.tgz");
    c.ok(&[
        "package",
        "download",
        "Acme.Web",
        "2.0.0",
        "--out",
        out.to_str().unwrap(),
    ]);
    c.ok(&["env", "create", "Stage"]);
    let key = std::fs::metadata(s.data_dir.join("master.key")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(key.permissions().mode() & 0o777, 0o600);
}

#[test]
fn secrets_never_reach_logs_or_output_and_metrics_count_requests() {
    let mut s = Space::start_with_env(&[("RUST_LOG", "debug"), ("SPACE_LOG_FORMAT", "json")]);
    populate(&s);
    let c = s.cli();
    let mut outputs = String::new();
    for args in [
        vec!["variable", "list", "--project", "Acme"],
        vec!["release", "show", "--project", "Acme", "--version", "2.0.0"],
        vec![
            "release",
            "compare",
            "--project",
            "Acme",
            "2.0.0",
            "2.0.1",
            "--all",
        ],
    ] {
        outputs += &c.ok(&args);
        let mut j = args.clone();
        j.extend(["-o", "json"]);
        outputs += &c.ok(&j);
    }
    assert!(outputs.contains("********"));
    assert!(!outputs.contains(SECRET), "CLI output revealed the secret");
    let metrics_addr = s.metrics.clone().expect("metrics address");
    let body = http_get(&metrics_addr, "/metrics");
    assert!(
        body.contains(
            "grpc_server_requests_total{method=\"/space.v1.Releases/Compare\",code=\"OK\"}"
        ),
        "{body}"
    );
    assert!(
        body.contains("grpc_server_request_duration_seconds_bucket"),
        "{body}"
    );
    s.stop();
    let log = s.log_text();
    assert!(
        log.contains("\"message\":\"variable set\"") || log.contains("variable set"),
        "the run was logged: {log}"
    );
    assert!(
        log.lines()
            .filter(|l| !l.trim().is_empty())
            .all(|l| l.starts_with('{')),
        "JSON log lines"
    );
    assert!(!log.contains(SECRET), "a log line revealed the secret");
    let db = std::fs::read_dir(s.data_dir.join("db")).unwrap();
    for f in db.flatten() {
        if f.path().is_file() {
            let bytes = std::fs::read(f.path()).unwrap();
            assert!(
                !bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
                "the secret is stored in clear in {}",
                f.path().display()
            );
        }
    }
}

fn http_get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let host = addr.trim_start_matches("http://");
    let mut t = std::net::TcpStream::connect(host).unwrap();
    write!(
        t,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut s = String::new();
    t.read_to_string(&mut s).unwrap();
    s
}

#[test]
fn print_config_shows_the_effective_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("space.toml");
    std::fs::write(&cfg, "name = \"Prod\"\nlisten = \"127.0.0.1:9000\"\notlp_endpoint = \"http://u:pw@collector:4317\"\n").unwrap();
    let out = std::process::Command::new(e2e::bin("space-server"))
        .args(["--config", cfg.to_str().unwrap(), "--print-config"])
        .env("SPACE_LISTEN", "127.0.0.1:9001")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("name = \"Prod\""), "{text}");
    assert!(
        text.contains("127.0.0.1:9001"),
        "environment overrides the file: {text}"
    );
    assert!(!text.contains("pw@"), "credentials masked: {text}");
    let bad = std::process::Command::new(e2e::bin("space-server"))
        .args([
            "--config",
            dir.path().join("missing.toml").to_str().unwrap(),
            "--print-config",
        ])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("missing.toml"));
}
