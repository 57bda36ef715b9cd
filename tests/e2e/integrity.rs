//! A store that silently lost commits is refused at start: one flipped byte in the middle of
//! the Space's real database file (after a crash) makes sled drop every record after it; the
//! position the server keeps outside the database catches it, and `space-server` exits naming
//! how many commits are missing and pointing to restore, instead of running rolled back. The
//! ODCM keeps the same position (its audit log's tail is what it would lose).

use std::process::{Command, Stdio};

use e2e::{Space, bin};

/// Flips one byte in the middle of the sled file under `data_dir`.
fn damage(data_dir: &std::path::Path) {
    let file = data_dir.join("db").join("db");
    let mut bytes = std::fs::read(&file).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x55;
    std::fs::write(&file, &bytes).unwrap();
}

fn refused_as_rolled_back(err: &str) {
    assert!(
        err.contains("is behind what this server last committed")
            && err.contains("commit(s)")
            && err.contains("restore the data directory from a backup")
            && err.contains("db.position"),
        "{err}"
    );
}

#[test]
fn a_space_whose_database_lost_commits_refuses_to_start() {
    let mut s = Space::start();
    let c = s.cli();
    for i in 0..80 {
        c.ok(&["env", "create", &format!("Env{i:02}")]);
    }
    s.crash();
    damage(&s.data_dir);
    let out = Command::new(bin("space-server"))
        .arg("--data-dir")
        .arg(&s.data_dir)
        .args([
            "--name",
            "DevTest",
            "--listen",
            "127.0.0.1:0",
            "--agent-listen",
            "127.0.0.1:0",
            "--web-listen",
            "",
            "--peer-listen",
            "127.0.0.1:0",
        ])
        .env_remove("SPACE_CONFIG")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "it must not start: {err}");
    refused_as_rolled_back(&err);
}

#[test]
fn an_odcm_whose_audit_log_lost_its_tail_refuses_to_start() {
    let mut o = e2e::odcm::Odcm::start("Net");
    for i in 0..60 {
        e2e::promotion::odcm(&o, &["space", "create", &format!("S{i:02}")]);
    }
    o.crash();
    damage(&o.data_dir);
    let out = Command::new(bin("odcm"))
        .args([
            "--name",
            "Net",
            "--listen",
            "127.0.0.1:0",
            "--web-listen",
            "",
        ])
        .arg("--data-dir")
        .arg(&o.data_dir)
        .env_remove("ODCM_CONFIG")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "it must not start: {err}");
    refused_as_rolled_back(&err);
}
