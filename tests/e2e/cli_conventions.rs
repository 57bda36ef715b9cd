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
