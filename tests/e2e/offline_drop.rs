//! End to end: an Offline Package Drop target. The Space writes the drop, the folder is
//! carried to another directory and run by its launcher (the real `deploy` binary copied
//! into it), and the operator-reported result is imported back onto the dashboard.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use e2e::{Cli, Space, all_bytes, contains, write_tar_gz};

const SECRET: &str = "Sup3r-S3cret-ApiKey";
/// A multi-line sensitive value: no line of it may appear in the drop or its output.
const CERT: &str =
    "-----BEGIN DROP KEY-----\nRHJvcExpbmVPbmVYWFg\nRHJvcExpbmVUd29ZWVk\n-----END DROP KEY-----";
const PASSWORD: &str = "correct horse battery";

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).unwrap(); // keeps the mode
        }
    }
}

/// Runs a drop's launcher (the runner copied into the drop) with `stdin` and extra arguments.
fn launch(drop: &Path, stdin: Option<&str>, args: &[&str], env: &[(&str, &str)]) -> Output {
    let name = drop.file_name().unwrap().to_string_lossy().into_owned();
    run(
        Command::new(drop.join(format!("{name}.sh"))),
        stdin,
        args,
        env,
    )
}

/// Runs a drop with the `deploy` installed on this machine (the README's way).
fn run_installed(drop: &Path, stdin: Option<&str>, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(e2e::bin("deploy"));
    cmd.arg("drop").arg("run").arg(drop);
    run(cmd, stdin, args, env)
}

fn run(mut cmd: Command, stdin: Option<&str>, args: &[&str], env: &[(&str, &str)]) -> Output {
    cmd.args(args)
        // Set but empty counts as unset (a bug once): the password then comes from stdin.
        .env("DEPLOY_DROP_PASSWORD", "")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("run the launcher");
    if let Some(s) = stdin {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    }
    child.wait_with_output().unwrap()
}

/// `deploy` with whitespace-separated arguments; asserts success.
fn ok(c: &Cli, args: &str) -> String {
    c.ok(&args.split_whitespace().collect::<Vec<_>>())
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn deploy(c: &Cli, project: &str, env: &str) -> Output {
    let args = format!("release deploy --project {project} --version 1.0.0 --env {env}");
    c.run(&args.split_whitespace().collect::<Vec<_>>())
}

fn setup(s: &Space, c: &Cli) {
    ok(c, "env create Production");
    ok(c, "lifecycle create ProdOnly --phase Prod:Production");
    let pkg = s.dir.join("Acme.Web.1.0.0.tar.gz");
    write_tar_gz(
        &pkg,
        &[
            ("app.conf", b"url=#{Url}\nkey=#{ApiKey}\n", 0o644),
            (
                "Deploy.sh",
                b"#!/bin/sh\necho \"installing for $Url\"\necho \"##deploy[setVariable name='Port' value='8080']\"\n",
                0o755,
            ),
        ],
    );
    c.ok(&["package", "upload", pkg.to_str().unwrap()]);
    ok(c, "project create Acme --lifecycle ProdOnly");
    ok(
        c,
        "step add --project Acme --name Web --package Acme.Web --substitute *.conf",
    );
    c.ok(&[
        "step", "add", "--project", "Acme", "--name", "Smoke", "--script",
        "echo \"port #{Output.Web.Port} key $ApiKey\" > \"$SMOKE_OUT\"; echo \"api key is $ApiKey\"; echo \"cert: #{Cert}\"",
    ]);
    ok(c, "variable set --project Acme Url http://prod.local");
    let o = c.run_with_stdin(
        &[
            "variable",
            "set",
            "--project",
            "Acme",
            "ApiKey",
            "--sensitive",
        ],
        Some(SECRET),
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = c.run_with_stdin(
        &[
            "variable",
            "set",
            "--project",
            "Acme",
            "Cert",
            "--sensitive",
        ],
        Some(CERT),
    );
    assert!(o.status.success(), "{}", text(&o));
    ok(c, "release create --project Acme --version 1.0.0");
}

#[test]
fn offline_drop_is_written_carried_run_and_reported() {
    let s = Space::start();
    let c = s.cli();
    setup(&s, &c);
    let drops = s.dir.join("drops");
    let drops_s = drops.to_str().unwrap();
    c.ok(&[
        "target",
        "add-drop",
        "ProdDrop",
        "--drop-folder",
        drops_s,
        "--applications-dir",
        "/nonexistent/apps",
        "--working-dir",
        "/nonexistent/work",
        "--env",
        "Production",
    ]);
    assert!(
        c.ok(&["target", "list"])
            .contains(&format!("offline-drop {drops_s}"))
    );

    // Sensitive variables and no password: the deployment fails and says what to do.
    let o = deploy(&c, "Acme", "Production");
    let err = text(&o);
    assert!(!o.status.success(), "{err}");
    assert!(
        err.contains("project 'Acme' has sensitive variables but drop target 'ProdDrop' has no sensitive-variables password")
            && err.contains("deploy target update-drop"),
        "{err}"
    );
    assert!(!drops.exists() || std::fs::read_dir(&drops).unwrap().count() == 0);

    let o = c.run_with_stdin(
        &["target", "update-drop", "ProdDrop", "--password-stdin"],
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(o.status.success(), "{}", text(&o));
    let t = c.json(&["target", "show", "ProdDrop"]);
    assert_eq!(t["mode"], "offline-drop");
    assert_eq!(t["drop"]["has_password"], true);
    assert!(!t.to_string().contains(PASSWORD));

    let o = deploy(&c, "Acme", "Production");
    assert!(o.status.success(), "{}", text(&o));
    let d = c.json(&["deployment", "show", "Deployments-2"]);
    assert_eq!(d["state"], "success");
    let name = "ProdDrop.Acme.Deployments-2";
    let folder = drops.join(name);
    assert_eq!(d["drops"][0]["folder"], folder.to_str().unwrap());
    for step in d["steps"].as_array().unwrap() {
        assert_eq!(step["targets"][0]["state"], "success");
        assert_eq!(step["targets"][0]["installed_to"], folder.to_str().unwrap());
    }
    let pkgs: Vec<String> = std::fs::read_dir(folder.join("packages"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(pkgs.len(), 1);
    assert!(
        pkgs[0].starts_with("Acme.Web.1.0.0_")
            && pkgs[0].ends_with(".tar.gz")
            && pkgs[0].len() == "Acme.Web.1.0.0_.tar.gz".len() + 32,
        "{pkgs:?}"
    );
    for f in [
        format!("{name}.sh"),
        format!("{name}.cmd"),
        format!("{name}.ps1"),
        "deploy".into(),
        "manifest.json".into(),
        "drop.json".into(),
        "sensitive-variables.age".into(),
        "scripts/Smoke.sh".into(),
        "ProdDrop.Acme.Web.variables.json".into(),
        "ProdDrop.Acme.Smoke.variables.json".into(),
    ] {
        assert!(folder.join(&f).is_file(), "{f} missing");
    }
    assert!(
        !contains(&all_bytes(&folder), SECRET),
        "a secret in clear in the drop"
    );
    for line in CERT.lines() {
        assert!(
            !contains(&all_bytes(&folder), line),
            "'{line}' in clear in the drop"
        );
    }
    assert!(!contains(&all_bytes(&drops), ".partial-"));

    // Carried to another machine (directory), with other applications/working directories.
    let there = tempfile::tempdir().unwrap();
    let apps = there.path().join("apps");
    let work = there.path().join("work");
    let smoke = there.path().join("smoke.txt");
    let run_args = [
        "--applications-dir",
        apps.to_str().unwrap(),
        "--working-dir",
        work.to_str().unwrap(),
        "--space-fingerprint",
        &s.fingerprint,
    ];
    let env = [("SMOKE_OUT", smoke.to_str().unwrap())];
    let carried = there.path().join(name);
    copy_dir(&folder, &carried);

    // A wrong password refuses and deploys nothing.
    let o = run_installed(&carried, Some("not it\n"), &run_args, &env);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("wrong sensitive-variables password"),
        "{}",
        text(&o)
    );
    assert!(!apps.exists() && !work.exists() && !carried.join("result.json").exists());

    // A changed file refuses and deploys nothing.
    let tampered = there.path().join("tampered").join(name);
    copy_dir(&folder, &tampered);
    std::fs::write(tampered.join("scripts/Smoke.sh"), "echo pwned").unwrap();
    let o = run_installed(&tampered, Some(&format!("{PASSWORD}\n")), &run_args, &env);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("does not match its manifest") && text(&o).contains("scripts/Smoke.sh"),
        "{}",
        text(&o)
    );
    assert!(!apps.exists() && !work.exists());

    // The runner in the folder replaced and the manifest rewritten to match: the installed
    // deploy checks the Space's signature and refuses before it asks for the password; the
    // replaced runner never runs.
    let replaced = there.path().join("replaced").join(name);
    copy_dir(&folder, &replaced);
    let captured = there.path().join("captured.txt");
    let fake = format!("#!/bin/sh\ncat > '{}'\n", captured.display());
    std::fs::write(replaced.join("deploy"), fake).unwrap();
    let m = exec::drop::build_manifest(&replaced).unwrap();
    std::fs::write(
        replaced.join("manifest.json"),
        serde_json::to_vec_pretty(&m).unwrap(),
    )
    .unwrap();
    exec::drop::verify(&replaced).unwrap();
    let o = run_installed(&replaced, Some(&format!("{PASSWORD}\n")), &run_args, &env);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("not signed by the certificate"),
        "{}",
        text(&o)
    );
    assert!(!captured.exists() && !apps.exists());
    // Nothing pinned at all: refused, and it says what to pin.
    let unpinned = &run_args[..4];
    let o = run_installed(&carried, Some(&format!("{PASSWORD}\n")), unpinned, &env);
    assert!(!o.status.success());
    assert!(text(&o).contains("--space-fingerprint"), "{}", text(&o));

    // The right password from stdin: deployed like an agent would.
    let o = run_installed(&carried, Some(&format!("{PASSWORD}\n")), &run_args, &env);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("api key is ********"), "{out}");
    assert!(out.contains("cert: ********"), "{out}");
    for line in CERT.lines() {
        assert!(
            !out.contains(line),
            "a line of a multi-line secret leaked: {out}"
        );
    }
    assert!(
        !out.contains(SECRET),
        "the secret leaked into the runner's output"
    );
    assert!(out.contains("Summary of Deployments-2"), "{out}");
    assert_eq!(
        std::fs::read_to_string(apps.join("Production/Acme.Web/1.0.0/app.conf")).unwrap(),
        format!("url=http://prod.local\nkey={SECRET}\n")
    );
    assert_eq!(
        std::fs::read_to_string(&smoke).unwrap().trim(),
        format!("port 8080 key {SECRET}"),
        "the output variable of the package step reached the script step"
    );
    let journal = std::fs::read_to_string(work.join("journal.json")).unwrap();
    assert!(
        journal.contains("Acme.Web") && journal.contains("Deployments-2"),
        "{journal}"
    );

    // The result goes back to the Space as operator-reported, once.
    let receipt = PathBuf::from(c.ok(&["drop", "receipt", carried.to_str().unwrap()]).trim());
    assert!(receipt.is_file());
    let r = receipt.to_str().unwrap();
    let o = c.run(&["receipt", "import", r]);
    assert!(
        o.status.success() && text(&o).contains("recorded"),
        "{}",
        text(&o)
    );
    let dash = c.json(&["dashboard"]);
    let cell = &dash["projects"][0]["environments"]["Production"];
    assert_eq!(cell["state"], "success");
    assert_eq!(cell["operator_reported"], true);
    assert!(
        c.ok(&["dashboard"])
            .contains("1.0.0 success (operator-reported)")
    );
    let before = c.json(&["deployment", "show", "Deployments-2"]);
    assert_eq!(before["drops"][0]["report"]["state"], "success");
    assert_eq!(before["drops"][0]["report"]["operator_reported"], true);
    assert!(
        c.ok(&["deployment", "show", "Deployments-2"])
            .contains("operator-reported")
    );
    let o = c.run(&["receipt", "import", r]);
    assert!(
        o.status.success() && text(&o).contains("nothing changed"),
        "{}",
        text(&o)
    );
    assert_eq!(c.json(&["deployment", "show", "Deployments-2"]), before);

    // A result for another drop (manifest) or a deployment that does not exist is refused.
    let mut forged: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&receipt).unwrap()).unwrap();
    forged["drop_manifest_sha256"] = "00".repeat(32).into();
    let fp = there.path().join("forged.json");
    std::fs::write(&fp, forged.to_string()).unwrap();
    let err = c.fails(&["receipt", "import", fp.to_str().unwrap()]);
    assert!(
        err.contains("result refused") && err.contains("manifest"),
        "{err}"
    );
    forged["deployment_id"] = "Deployments-99".into();
    std::fs::write(&fp, forged.to_string()).unwrap();
    assert!(
        c.fails(&["receipt", "import", fp.to_str().unwrap()])
            .contains("does not exist")
    );

    assert!(!s.log_text().contains(SECRET) && !s.log_text().contains(PASSWORD));
}

#[test]
fn a_drop_without_sensitive_variables_needs_no_password() {
    let s = Space::start();
    let c = s.cli();
    ok(&c, "env create Staging");
    ok(&c, "lifecycle create StageOnly --phase Stage:Staging");
    ok(&c, "project create Plain --lifecycle StageOnly");
    c.ok(&[
        "step",
        "add",
        "--project",
        "Plain",
        "--name",
        "Hello",
        "--script",
        "echo \"hello from #{Machine.Name} in #{Environment.Name}\" > \"$OUT\"",
    ]);
    ok(&c, "release create --project Plain --version 1.0.0");
    let drops = s.dir.join("drops");
    c.ok(&[
        "target",
        "add-drop",
        "StageDrop",
        "--drop-folder",
        drops.to_str().unwrap(),
        "--applications-dir",
        "/nonexistent/apps",
        "--working-dir",
        "/nonexistent/work",
        "--env",
        "Staging",
    ]);
    let o = deploy(&c, "Plain", "Staging");
    assert!(o.status.success(), "{}", text(&o));
    let folder = drops.join("StageDrop.Plain.Deployments-1");
    assert!(!folder.join("sensitive-variables.age").exists());
    let there = tempfile::tempdir().unwrap();
    let out = there.path().join("hello.txt");
    let work = there.path().join("work");
    // The launcher in the folder (for a machine without deploy) takes the same pin.
    let o = launch(
        &folder,
        None,
        &[
            "--applications-dir",
            there.path().join("apps").to_str().unwrap(),
            "--working-dir",
            work.to_str().unwrap(),
            "--space-fingerprint",
            &s.fingerprint,
        ],
        &[("OUT", out.to_str().unwrap())],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        std::fs::read_to_string(&out).unwrap().trim(),
        "hello from StageDrop in Staging"
    );
    // Run in place: the drop folder keeps its result, the receipt imports.
    let receipt = c.ok(&[
        "drop",
        "receipt",
        folder.to_str().unwrap(),
        "--out",
        there.path().join("r.json").to_str().unwrap(),
    ]);
    assert!(
        c.run(&["receipt", "import", receipt.trim()])
            .status
            .success()
    );
    assert_eq!(
        c.json(&["deployment", "show", "Deployments-1"])["drops"][0]["report"]["state"],
        "success"
    );
}
