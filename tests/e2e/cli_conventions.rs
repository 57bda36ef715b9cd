//! The command line as people and scripts expect it: errors are one line (`error: ...`, exit
//! 1) whatever RUST_BACKTRACE says, for every binary.

use std::process::Command;

use e2e::bin;

/// Runs `name args` with RUST_BACKTRACE=1; returns (success, stderr).
fn run(name: &str, args: &[&str]) -> (bool, String) {
    let o = Command::new(bin(name))
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .env_remove("RUST_LOG")
        .output()
        .expect("start the binary");
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn assert_one_line(what: &str, (ok, err): (bool, String)) {
    assert!(!ok, "{what} should fail");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(
        lines.len() == 1 && lines[0].starts_with("error: "),
        "{what}: one error line expected, got:\n{err}"
    );
}

#[test]
fn errors_are_one_line_even_with_rust_backtrace_set() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("agent");
    let fp = format!("sha256:{}", "0".repeat(64));
    assert_one_line(
        "agent register with no Space to reach",
        run(
            "agent",
            &[
                "--data-dir",
                data.to_str().unwrap(),
                "register",
                "--space",
                "https://127.0.0.1:1",
                "--api-key",
                "dk_x",
                "--space-fingerprint",
                &fp,
                "--name",
                "web-1",
                "--env",
                "Production",
            ],
        ),
    );
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let inside = file.join("data");
    for name in ["space-server", "odcm"] {
        assert_one_line(
            &format!("{name} on a data directory that cannot exist"),
            run(name, &["--data-dir", inside.to_str().unwrap()]),
        );
    }
    assert_one_line(
        "deploy with no server",
        run(
            "deploy",
            &[
                "--server",
                "https://127.0.0.1:1",
                "--api-key",
                "x",
                "project",
                "list",
            ],
        ),
    );
}

/// What a write created, changed or deleted goes to stdout (one line, or the object with
/// `-o json`), so a script can capture it; progress and hints go to stderr.
#[test]
fn writes_answer_on_stdout_and_logs_come_as_json_too() {
    let s = e2e::Space::start();
    let c = s.cli();
    let out = |args: &[&str]| {
        let o = c.run(args);
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        (
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (o, e) = out(&["env", "create", "Production"]);
    assert_eq!(o.trim(), "environment 'Production' created");
    assert!(e.is_empty(), "{e}");
    let j = c.json(&[
        "lifecycle",
        "create",
        "Only",
        "--phase",
        "Production:Production",
    ]);
    assert_eq!(j["name"], "Only", "{j}");
    let j = c.json(&["project", "create", "Web", "--lifecycle", "Only"]);
    assert_eq!(j["lifecycle"], "Only", "{j}");
    let (o, _) = out(&[
        "step",
        "add",
        "--project",
        "Web",
        "--name",
        "Hello",
        "--script",
        "echo hello",
    ]);
    assert_eq!(o.trim(), "step 'Hello' added at position 1");
    let j = c.json(&["variable", "set", "--project", "Web", "Greeting", "hi"]);
    assert_eq!(j["name"], "Greeting", "{j}");
    let j = c.json(&[
        "release",
        "create",
        "--project",
        "Web",
        "--version",
        "1.0.0",
    ]);
    assert_eq!(j["version"], "1.0.0", "{j}");
    let _agent = e2e::agent::Agent::connected(&s, "web-1", &["Production"], &[]);
    let id = c
        .ok(&[
            "release",
            "deploy",
            "--project",
            "Web",
            "--version",
            "1.0.0",
            "--env",
            "Production",
            "--no-follow",
        ])
        .trim()
        .to_string();
    let logs = c.json(&["deployment", "logs", &id]);
    assert_eq!(logs["state"], "success", "{logs}");
    assert!(
        logs["log"]
            .as_array()
            .is_some_and(|l| l.iter().any(|e| e["text"] == "hello")),
        "{logs}"
    );
    let j = c.json(&["project", "delete", "Web", "--yes"]);
    assert_eq!(j["deleted"]["kind"], "project", "{j}");
}

/// A failed deployment says where and why: the final error names the target, `deployment
/// show` has an ERROR column, and the live log ends with the deployment's final line.
#[test]
fn a_failed_deployment_names_its_targets_and_every_live_log_ends_with_the_outcome() {
    let s = e2e::Space::start();
    let c = s.cli();
    c.ok(&["env", "create", "Production"]);
    c.ok(&["lifecycle", "create", "Only", "--phase", "P:Production"]);
    c.ok(&["project", "create", "Web", "--lifecycle", "Only"]);
    let add = c.run(&[
        "step",
        "add",
        "--project",
        "Web",
        "--name",
        "Later",
        "--package",
        "NoSuchPkg",
    ]);
    assert!(add.status.success());
    let (o, e) = (
        String::from_utf8_lossy(&add.stdout),
        String::from_utf8_lossy(&add.stderr),
    );
    assert_eq!(o.trim(), "step 'Later' added at position 1");
    assert!(
        e.contains("warning: the feed has no package 'NoSuchPkg' yet"),
        "{e}"
    );
    c.ok(&["step", "delete", "--project", "Web", "--name", "Later"]);
    c.ok(&[
        "step",
        "add",
        "--project",
        "Web",
        "--name",
        "Fail",
        "--script",
        "echo starting; exit #{Code}",
    ]);
    c.ok(&["variable", "set", "--project", "Web", "Code", "3"]);
    c.ok(&[
        "release",
        "create",
        "--project",
        "Web",
        "--version",
        "1.0.0",
    ]);
    c.ok(&["variable", "set", "--project", "Web", "Code", "0"]);
    c.ok(&[
        "release",
        "create",
        "--project",
        "Web",
        "--version",
        "1.0.1",
    ]);
    let _agent = e2e::agent::Agent::connected(&s, "web-1", &["Production"], &[]);
    let deploy = |version: &str| {
        c.run(&[
            "release",
            "deploy",
            "--project",
            "Web",
            "--version",
            version,
            "--env",
            "Production",
        ])
    };
    let failed = deploy("1.0.0");
    assert!(!failed.status.success());
    let err = String::from_utf8_lossy(&failed.stderr);
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: deployment Deployments-1")
            && last.contains("step 'Fail' failed on web-1 (")
            && last.contains('3'),
        "{err}"
    );
    let log = String::from_utf8_lossy(&failed.stdout);
    assert!(
        log.lines()
            .last()
            .unwrap_or_default()
            .ends_with("Deployment Deployments-1 failed"),
        "{log}"
    );
    let shown = c.ok(&["deployment", "show", "Deployments-1"]);
    assert!(shown.contains("ERROR"), "{shown}");
    let web = shown
        .lines()
        .find(|l| l.contains("web-1"))
        .unwrap_or_default();
    assert!(web.contains("failed") && web.contains('3'), "{shown}");
    for n in 2..=4 {
        let ok = deploy("1.0.1");
        assert!(
            ok.status.success(),
            "{}",
            String::from_utf8_lossy(&ok.stderr)
        );
        let log = String::from_utf8_lossy(&ok.stdout);
        let want = format!("Deployment Deployments-{n} success");
        assert!(
            log.lines().last().unwrap_or_default().ends_with(&want),
            "{log}"
        );
    }
}
