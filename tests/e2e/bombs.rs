//! A compression bomb (200 MiB of zeros in a few hundred KiB) is refused when uploaded, and
//! an agent refuses it again while extracting even where the Space was told to accept it,
//! leaving nothing behind.

use std::time::Duration;

use e2e::agent::Agent;
use e2e::{Space, write_zeros_tar_gz};

use crate::deployments::{setup_envs, start, wait_state};

const BOMB: u64 = 200 << 20;

#[test]
fn a_compression_bomb_is_refused_at_upload_and_again_on_the_agent() {
    let s = Space::start();
    let c = s.cli();
    let bomb = s.dir.join("Acme.Bomb.1.0.0.tar.gz");
    write_zeros_tar_gz(&bomb, "Deploy.sh", BOMB);
    let packed = std::fs::metadata(&bomb).unwrap().len();
    let e = c.fails(&["package", "upload", bomb.to_str().unwrap()]);
    assert!(
        e.contains("max_ratio") && e.contains("compression bomb"),
        "{e}"
    );
    let listed = c.json(&["package", "list"]);
    assert_eq!(listed.as_array().map(Vec::len), Some(0), "{listed}");
    // What the upload staged while it was being validated went with the refusal.
    assert_eq!(c.json(&["package", "stats"])["chunks"], 0);
    let packs = s.data_dir.join("chunks").join("packs");
    let staged = std::fs::read_dir(&packs)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("staging-"))
        .count();
    assert_eq!(staged, 0, "no staging pack left in {}", packs.display());

    // A Space configured to accept it; its agent keeps its own (default) limits.
    let cfg = s.dir.join("lax.toml");
    std::fs::write(&cfg, "[limits.extract]\nmax_ratio = 1000000\n").unwrap();
    let lax = Space::start_with_args(&["--config", cfg.to_str().unwrap()]);
    let c = lax.cli();
    c.ok(&["package", "upload", bomb.to_str().unwrap()]);
    setup_envs(&c, &["Dev"]);
    c.ok(&["lifecycle", "create", "Main", "--phase", "Dev:Dev"]);
    let web = Agent::connected(&lax, "web-01", &["Dev"], &["web"]);
    c.ok(&["project", "create", "Acme", "--lifecycle", "Main"]);
    c.ok(&[
        "step",
        "add",
        "--project",
        "Acme",
        "--name",
        "Bomb",
        "--package",
        "Acme.Bomb",
        "--role",
        "web",
    ]);
    c.ok(&[
        "release",
        "create",
        "--project",
        "Acme",
        "--version",
        "1.0.0",
    ]);
    let id = start(&c, "Acme", "1.0.0", "Dev");
    let d = wait_state(&c, &id, Duration::from_secs(120));
    let logs = c.ok(&["deployment", "logs", &id]);
    assert_eq!(d["state"], "failed", "{logs}");
    assert!(logs.contains("max_ratio"), "{logs}");
    let extracted = web.applications().join("Dev/Acme.Bomb");
    let left: Vec<_> = std::fs::read_dir(&extracted)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "nothing left behind: {left:?}");
    eprintln!("bomb: {BOMB} bytes of zeros in {packed} bytes; refused at upload and on the agent");
}
