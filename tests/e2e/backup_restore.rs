//! Backups through the real binaries: `space-server backup` asks the running server for a
//! consistent online snapshot (store, files, keys when asked, package chunks), `restore`
//! brings it back into a new data directory the server then runs on with everything in
//! place; a changed backup is refused and creates nothing; a backup without keys needs them
//! given back. `odcm backup` / `odcm restore` the same for an ODCM.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use e2e::odcm::Odcm;
use e2e::promotion::s;
use e2e::{Space, bin};

fn run(binary: &str, data_dir: &Path, args: &[&str]) -> Output {
    Command::new(bin(binary))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("SPACE_CONFIG")
        .env_remove("ODCM_CONFIG")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn ok(binary: &str, data_dir: &Path, args: &[&str]) -> String {
    let o = run(binary, data_dir, args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "{binary} {args:?}: {text}");
    text
}

/// `BINARY --data-dir DIR --name NAME backup --out OUT EXTRA...`, which must succeed.
fn backup(binary: &str, data_dir: &Path, name: &str, out: &Path, extra: &[&str]) -> String {
    let mut args = vec!["--name", name, "backup", "--out", s(out)];
    args.extend(extra);
    ok(binary, data_dir, &args)
}

fn fails(binary: &str, data_dir: &Path, args: &[&str]) -> String {
    let o = run(binary, data_dir, args);
    assert!(!o.status.success(), "{binary} {args:?} must fail");
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_space_backed_up_online_restores_elsewhere_with_its_packages_and_secrets() {
    let mut sp = Space::start();
    let c = sp.cli();
    for e in ["Dev", "Test", "Production"] {
        c.ok(&["env", "create", e]);
    }
    let pkg = sp.dir.join("Acme.Web.1.0.0.tar.gz");
    e2e::write_tar_gz(&pkg, &[("app.txt", &e2e::noise(7, 300_000), 0o644)]);
    c.ok(&["package", "upload", s(&pkg)]);
    c.ok(&["lifecycle", "create", "Main", "--phase", "Dev:Dev"]);
    c.ok(&["project", "create", "Web", "--lifecycle", "Main"]);
    c.ok(&[
        "variable",
        "set",
        "--project",
        "Web",
        "DbPassword",
        "s3cr3t-pw",
        "--sensitive",
    ]);

    // Online: the server is running and answers over its control socket.
    let full = sp.dir.join("full.backup");
    let out = backup(
        "space-server",
        &sp.data_dir,
        "DevTest",
        &full,
        &["--include-keys"],
    );
    assert!(
        out.contains("THIS FILE HOLDS THE PRIVATE KEYS") && out.contains("Signed by sha256:"),
        "{out}"
    );
    assert!(!e2e::contains(&std::fs::read(&full).unwrap(), "s3cr3t-pw"));
    c.ok(&["env", "create", "AfterTheBackup"]);
    sp.stop();
    assert!(
        !sp.data_dir.join("control.sock").exists(),
        "a stopped server leaves no control socket behind"
    );

    // A changed file is refused and creates nothing.
    let mut bytes = std::fs::read(&full).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x20;
    let changed = sp.dir.join("changed.backup");
    std::fs::write(&changed, &bytes).unwrap();
    let elsewhere = sp.dir.join("elsewhere");
    let e = fails("space-server", &elsewhere, &["restore", s(&changed)]);
    assert!(e.contains("damaged or was changed"), "{e}");
    assert!(!elsewhere.exists());

    // "Another machine": the data directory is gone; the backup brings it back.
    let old = sp.dir.join("old-data");
    std::fs::rename(&sp.data_dir, &old).unwrap();
    let out = ok("space-server", &sp.data_dir, &["restore", s(&full)]);
    assert!(out.contains("Restored space 'DevTest'"), "{out}");
    sp.start_again();
    let c = sp.cli();
    let envs = c.ok(&["env", "list"]);
    assert!(
        envs.contains("Production") && !envs.contains("AfterTheBackup"),
        "{envs}"
    );
    let back = sp.dir.join("back.tar.gz");
    c.ok(&[
        "package",
        "download",
        "Acme.Web",
        "1.0.0",
        "--out",
        s(&back),
    ]);
    assert_eq!(std::fs::read(&back).unwrap(), std::fs::read(&pkg).unwrap());
    let vars = c.ok(&["variable", "list", "--project", "Web"]);
    assert!(
        vars.contains("DbPassword") && !vars.contains("s3cr3t-pw"),
        "{vars}"
    );

    // Without keys (offline: the server is stopped), restore needs them given back.
    sp.stop();
    let bare = sp.dir.join("bare.backup");
    let out = backup(
        "space-server",
        &sp.data_dir,
        "DevTest",
        &bare,
        &["--chunks", "referenced"],
    );
    assert!(out.contains("Private keys are not in it"), "{out}");
    let third = sp.dir.join("third");
    let e = fails("space-server", &third, &["restore", s(&bare)]);
    assert!(
        e.contains("--keys-from DIR") && e.contains("master.key"),
        "{e}"
    );
    let chunks = sp.data_dir.join("chunks");
    let out = ok(
        "space-server",
        &third,
        &[
            "restore",
            s(&bare),
            "--keys-from",
            s(&sp.data_dir),
            "--chunks-from",
            s(&chunks),
        ],
    );
    assert!(out.contains("Restored space"), "{out}");
    assert_eq!(
        std::fs::read(third.join("master.key")).unwrap(),
        std::fs::read(sp.data_dir.join("master.key")).unwrap()
    );
}

#[test]
fn an_odcm_backed_up_online_restores_with_its_audit_log_intact() {
    let mut o = Odcm::start("Net");
    for n in ["DevTest", "Prod"] {
        o.cli().ok(&["odcm", "space", "create", n]);
    }
    let file = o.dir.join("odcm.backup");
    let out = backup("odcm", &o.data_dir, "Net", &file, &["--include-keys"]);
    assert!(out.contains("Backup written"), "{out}");
    let entries = o
        .cli()
        .json(&["odcm", "audit", "list"])
        .as_array()
        .unwrap()
        .len();
    o.stop();
    std::fs::rename(&o.data_dir, o.dir.join("old-data")).unwrap();
    let out = ok("odcm", &o.data_dir, &["restore", s(&file)]);
    assert!(out.contains("Restored odcm 'Net'"), "{out}");
    o.start_again();
    let v = o.cli().ok(&["odcm", "audit", "verify"]);
    assert!(v.contains(&format!("{entries} entries")), "{v}");
    let spaces = o.cli().ok(&["odcm", "space", "list"]);
    assert!(
        spaces.contains("DevTest") && spaces.contains("Prod"),
        "{spaces}"
    );
}

/// Prod is restored from a backup older than what DevTest has seen from it: it asks DevTest,
/// says deployments after the backup are not here, numbers new ones past them (so a new
/// deployment of the same release is not taken for one whose receipt was applied before), and
/// DevTest promotes again the release Prod lost.
#[test]
fn a_restored_space_learns_what_its_peers_saw_and_new_results_still_arrive() {
    use e2e::promotion::automatic_pair;
    use e2e::wait_for;
    use std::time::Duration;

    let net = Odcm::start("Net");
    let (dev, mut prod, _agent) = automatic_pair(&net);
    let d = dev.cli();
    let results = || d.json(&["receipt", "list"]).as_array().map_or(0, Vec::len);
    let wait_results =
        |n: usize, what: &str| wait_for(what, Duration::from_secs(90), || results() == n);
    d.ok(&[
        "release",
        "create",
        "--project",
        "Web",
        "--version",
        "1.0.0",
    ]);
    wait_results(1, "Prod's first result in DevTest");

    let file = prod.dir.join("prod.backup");
    backup(
        "space-server",
        &prod.data_dir,
        "Prod",
        &file,
        &["--include-keys"],
    );
    // After the backup: a new release (Deployments-2) and a redeployment (Deployments-3).
    d.ok(&[
        "release",
        "create",
        "--project",
        "Web",
        "--version",
        "1.0.1",
    ]);
    wait_results(2, "1.0.1's result, made after the backup");
    let deploy = [
        "release",
        "deploy",
        "--project",
        "DevTest: Web",
        "--version",
        "1.0.0",
        "--env",
        "Production",
    ];
    prod.cli().ok(&deploy);
    wait_results(3, "a redeployment's result, made after the backup");

    prod.stop();
    std::fs::remove_dir_all(&prod.data_dir).unwrap();
    ok("space-server", &prod.data_dir, &["restore", s(&file)]);
    prod.start_again();
    let p = prod.cli();
    wait_for(
        "Prod to ask DevTest what it has seen",
        Duration::from_secs(60),
        || {
            p.ok(&["space", "status"])
                .contains("Deployments-2 to 3 happened after the backup")
        },
    );
    let status = p.json(&["space", "status"]);
    let restored = status["restored"].as_str().unwrap_or("");
    assert!(
        restored.contains("from Deployments-4")
            && restored.contains("1 release(s) queued to be promoted here again"),
        "{restored}"
    );
    // The release Prod lost comes back by itself, and deploys (its phase is automatic).
    wait_results(4, "1.0.1 promoted to Prod again");
    // A new deployment of 1.0.0 is numbered past what DevTest has seen: its result arrives.
    p.ok(&deploy);
    wait_results(5, "the new deployment's result in DevTest");
    let ids: Vec<String> = p
        .json(&["deployment", "list", "--project", "DevTest: Web"])
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(ids.contains(&"Deployments-5".to_string()), "{ids:?}");
    assert!(
        !ids.iter()
            .any(|x| x == "Deployments-2" || x == "Deployments-3"),
        "numbers DevTest has seen are not reused: {ids:?}"
    );
}

/// DevTest (the source) is restored from a backup: Prod sends its receipts again; the result
/// of a deployment made after the backup comes back, and the receipt of a release DevTest
/// made after the backup (lost with it) is left out instead of refusing the whole file.
#[test]
fn a_restored_source_gets_its_results_sent_again() {
    use e2e::promotion::automatic_pair;
    use e2e::wait_for;
    use std::time::Duration;

    let net = Odcm::start("Net");
    let (mut dev, prod, _agent) = automatic_pair(&net);
    let results = |dev: &Space| {
        dev.cli()
            .json(&["receipt", "list"])
            .as_array()
            .map_or(0, Vec::len)
    };
    let wait_results = |dev: &Space, n: usize, what: &str| {
        wait_for(what, Duration::from_secs(90), || results(dev) == n)
    };
    dev.cli().ok(&[
        "release",
        "create",
        "--project",
        "Web",
        "--version",
        "1.0.0",
    ]);
    wait_results(&dev, 1, "the first result in DevTest");

    let file = dev.dir.join("dev.backup");
    backup(
        "space-server",
        &dev.data_dir,
        "DevTest",
        &file,
        &["--include-keys"],
    );
    // After the backup: a redeployment of 1.0.0 and a new release 1.0.1, both with results.
    let redeploy = [
        "release",
        "deploy",
        "--project",
        "DevTest: Web",
        "--version",
        "1.0.0",
        "--env",
        "Production",
    ];
    prod.cli().ok(&redeploy);
    wait_results(&dev, 2, "the redeployment's result");
    dev.cli().ok(&[
        "release",
        "create",
        "--project",
        "Web",
        "--version",
        "1.0.1",
    ]);
    wait_results(&dev, 3, "1.0.1's result");

    dev.stop();
    std::fs::remove_dir_all(&dev.data_dir).unwrap();
    ok("space-server", &dev.data_dir, &["restore", s(&file)]);
    dev.start_again();
    // Back to one result, then the redeployment's comes again; 1.0.1's has no release here.
    wait_results(&dev, 2, "the redeployment's result sent again");
    let status = dev.cli().json(&["space", "status"]);
    let restored = status["restored"].as_str().unwrap_or("");
    assert!(
        restored.contains("its receipts (applied once)"),
        "{restored}"
    );
    assert!(
        dev.log_text()
            .contains("a receipt answers a bundle sent after this Space's backup"),
        "the left-out receipt is said in the log"
    );
    let versions: Vec<String> = dev
        .cli()
        .json(&["receipt", "list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["version"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(versions, ["1.0.0", "1.0.0"], "{versions:?}");
}
