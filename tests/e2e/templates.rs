//! Octostache templates through the real binaries: a package's configuration file with a
//! conditional, a loop over a JSON array and filters is substituted on an agent and in an
//! offline drop run; a filtered secret stays masked in the log; a broken template in a
//! script is refused at release creation, naming the step, line and column.

use e2e::{Cli, Space, write_tar_gz};

const CONF: &[u8] = b"#{if Environment.Name == \"Production\"}mode=live#{else}mode=offline#{/if}
#{each s in Servers}server.#{Octopus.Template.Each.Index}=#{s.Host | ToLower}:#{s.Port}
#{/each}name=#{Name | ToUpper | Replace \"-\" \"_\"}
region=#{Regions[#{Region}]}
db=#{Config.Database.Host}
";

const WANT: &str = "server.0=web1.local:80
server.1=web2.local:8080
name=ACME_SHOP
region=Frankfurt
db=db.internal
";

const SECRET: &str = "hunter2-Secret";

fn vars(c: &Cli, project: &str) {
    let set = |name: &str, value: &str| {
        c.ok(&["variable", "set", "--project", project, name, value]);
    };
    set(
        "Servers",
        r#"[{"Host":"WEB1.local","Port":80},{"Host":"Web2.Local","Port":8080}]"#,
    );
    set("Name", "acme-shop");
    set("Region", "eu");
    set("Regions", r#"{"eu":"Frankfurt","us":"Virginia"}"#);
    set("Config", r#"{"Database":{"Host":"db.internal"}}"#);
    c.ok(&[
        "step",
        "add",
        "--project",
        project,
        "--name",
        "Config",
        "--package",
        "Acme.Cfg",
        "--substitute",
        "*.conf",
    ]);
}

#[test]
fn a_package_config_with_conditionals_loops_and_filters_deploys_on_an_agent_and_a_drop() {
    let s = Space::start();
    let c = s.cli();
    c.ok(&["env", "create", "Production"]);
    c.ok(&["env", "create", "Offline"]);
    c.ok(&[
        "lifecycle",
        "create",
        "Both",
        "--phase",
        "All:Production,Offline",
    ]);
    let pkg = s.dir.join("Acme.Cfg.1.0.0.tar.gz");
    write_tar_gz(&pkg, &[("app.conf", CONF, 0o644)]);
    c.ok(&["package", "upload", pkg.to_str().unwrap()]);

    // On an agent, with a secret that a script prints through filters.
    c.ok(&["project", "create", "Cfg", "--lifecycle", "Both"]);
    vars(&c, "Cfg");
    let o = c.run_with_stdin(
        &[
            "variable",
            "set",
            "--project",
            "Cfg",
            "Secret",
            "--sensitive",
        ],
        Some(SECRET),
    );
    assert!(o.status.success());
    c.ok(&[
        "step",
        "add",
        "--project",
        "Cfg",
        "--name",
        "Show",
        "--script",
        "echo \"upper #{Secret | ToUpper} b64 #{Secret | ToBase64}\"",
    ]);
    c.ok(&[
        "release",
        "create",
        "--project",
        "Cfg",
        "--version",
        "1.0.0",
    ]);
    let _agent = e2e::agent::Agent::connected(&s, "web-1", &["Production"], &[]);
    let log = c.ok(&[
        "release",
        "deploy",
        "--project",
        "Cfg",
        "--version",
        "1.0.0",
        "--env",
        "Production",
    ]);
    let d = c.json(&["deployment", "show", "Deployments-1"]);
    let dir = d["steps"][0]["targets"][0]["installed_to"]
        .as_str()
        .unwrap();
    let conf = std::fs::read_to_string(std::path::Path::new(dir).join("app.conf")).unwrap();
    assert_eq!(conf, format!("mode=live\n{WANT}"));
    assert!(log.contains("upper ******** b64 ********"), "{log}");
    for leak in ["HUNTER2-SECRET", "aHVudGVyMi1TZWNyZXQ="] {
        assert!(!log.contains(leak), "{leak} in {log}");
        let logs = c.ok(&["deployment", "logs", "Deployments-1"]);
        assert!(!logs.contains(leak), "{leak} in {logs}");
    }

    // In an offline drop, run by the deploy binary somewhere else.
    c.ok(&["project", "create", "CfgDrop", "--lifecycle", "Both"]);
    vars(&c, "CfgDrop");
    c.ok(&[
        "release",
        "create",
        "--project",
        "CfgDrop",
        "--version",
        "1.0.0",
    ]);
    let drops = s.dir.join("drops");
    c.ok(&[
        "target",
        "add-drop",
        "OffDrop",
        "--drop-folder",
        drops.to_str().unwrap(),
        "--env",
        "Offline",
        "--applications-dir",
        "/srv/apps",
        "--working-dir",
        "/srv/work",
    ]);
    c.ok(&[
        "release",
        "deploy",
        "--project",
        "CfgDrop",
        "--version",
        "1.0.0",
        "--env",
        "Offline",
    ]);
    let folder = drops.join("OffDrop.CfgDrop.Deployments-2");
    let there = tempfile::tempdir().unwrap();
    let apps = there.path().join("apps");
    let o = std::process::Command::new(e2e::bin("deploy"))
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
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let conf = std::fs::read_to_string(apps.join("Offline/Acme.Cfg/1.0.0/app.conf")).unwrap();
    assert_eq!(conf, format!("mode=offline\n{WANT}"));
}

#[test]
fn a_broken_template_is_named_at_release_creation_and_compatible_mode_leaves_it() {
    let s = Space::start();
    let c = s.cli();
    c.ok(&["env", "create", "Production"]);
    c.ok(&["lifecycle", "create", "Only", "--phase", "P:Production"]);
    c.ok(&["project", "create", "Web", "--lifecycle", "Only"]);
    c.ok(&[
        "step",
        "add",
        "--project",
        "Web",
        "--name",
        "Greet",
        "--script",
        "echo start\n#{if Missing}\necho never closed",
    ]);
    let err = c.fails(&[
        "release",
        "create",
        "--project",
        "Web",
        "--version",
        "1.0.0",
    ]);
    assert!(
        err.contains(
            "the script of step 'Greet': template error at line 2, column 1: #{if} is not closed"
        ),
        "{err}"
    );
    c.ok(&[
        "step",
        "update",
        "--project",
        "Web",
        "--name",
        "Greet",
        "--script",
        "echo \"[#{Missing | ToUpper}] [#{Known}]\"",
    ]);
    c.ok(&["variable", "set", "--project", "Web", "Known", "yes"]);
    c.ok(&[
        "release",
        "create",
        "--project",
        "Web",
        "--version",
        "1.0.0",
    ]);
    let _agent = e2e::agent::Agent::connected(&s, "web-1", &["Production"], &[]);
    let deploy = || {
        c.run(&[
            "release",
            "deploy",
            "--project",
            "Web",
            "--version",
            "1.0.0",
            "--env",
            "Production",
        ])
    };
    let strict = deploy();
    assert!(!strict.status.success());
    let err = String::from_utf8_lossy(&strict.stderr);
    assert!(err.contains("variable 'Missing' is not defined"), "{err}");
    c.ok(&[
        "variable",
        "set",
        "--project",
        "Web",
        "Deploy.Template.Mode",
        "compatible",
    ]);
    c.ok(&[
        "release",
        "create",
        "--project",
        "Web",
        "--version",
        "1.0.1",
    ]);
    let ok = c.ok(&[
        "release",
        "deploy",
        "--project",
        "Web",
        "--version",
        "1.0.1",
        "--env",
        "Production",
    ]);
    assert!(ok.contains("[#{Missing | ToUpper}] [yes]"), "{ok}");
    assert!(
        ok.contains("WARN variable 'Missing' is not defined"),
        "{ok}"
    );
}

/// `variable preview` and `variable evaluate` answer as a deployment would resolve, through
/// the API, and a secret takes part only as ******** (a condition cannot probe it).
#[test]
fn preview_and_evaluate_show_what_a_deployment_would_see_and_never_a_secret() {
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
    let fp = format!("sha256:{}", "ab".repeat(32));
    c.ok(&[
        "target",
        "add",
        "web-1",
        "--fingerprint",
        &fp,
        "--env",
        "Production",
        "--role",
        "web",
    ]);
    let set = |args: &[&str]| {
        let mut a = vec!["variable", "set", "--project", "Web"];
        a.extend(args);
        c.ok(&a);
    };
    set(&["Url", "http://test.local", "--env", "Test"]);
    set(&["Url", "https://PROD.local", "--env", "Production"]);
    set(&["Region", "us"]);
    set(&["Region", "eu", "--role", "web"]);
    set(&["Conn", "pw=#{Secret}"]);
    set(&["Broken", "#{Nope}"]);
    let o = c.run_with_stdin(
        &[
            "variable",
            "set",
            "--project",
            "Web",
            "Secret",
            "--sensitive",
        ],
        Some("hunter2"),
    );
    assert!(o.status.success());
    c.ok(&[
        "template",
        "set",
        "--project",
        "Web",
        "Size",
        "--default",
        "small",
    ]);

    let p = c.json(&[
        "variable",
        "preview",
        "--project",
        "Web",
        "--env",
        "Production",
        "--target",
        "web-1",
    ]);
    let value = |p: &serde_json::Value, name: &str| {
        p.as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {p}"))
            .clone()
    };
    assert_eq!(value(&p, "Url")["value"], "https://PROD.local");
    assert_eq!(value(&p, "Region")["value"], "eu", "the target's role");
    assert_eq!(value(&p, "Secret")["value"], "********");
    assert_eq!(value(&p, "Conn")["value"], "pw=********");
    assert_eq!(value(&p, "Size")["value"], "small");
    assert_eq!(value(&p, "Machine.Name")["value"], "web-1");
    assert!(
        value(&p, "Broken")["error"]
            .as_str()
            .unwrap()
            .contains("'Nope' is not defined")
    );
    assert!(!p.to_string().contains("hunter2"), "{p}");
    let table = c.ok(&["variable", "preview", "--project", "Web", "--env", "Test"]);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("Url") && l.ends_with("http://test.local")),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("Region") && l.ends_with("us")),
        "{table}"
    );

    let eval = |t: &str, extra: &[&str]| {
        let mut a = vec![
            "variable",
            "evaluate",
            t,
            "--project",
            "Web",
            "--env",
            "Production",
        ];
        a.extend(extra);
        c.run(&a)
    };
    let o = eval("#{Url | ToLower} #{Region}", &["--target", "web-1"]);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "https://prod.local eu\n"
    );
    let o = eval(
        "#{if Secret == \"hunter2\"}LEAK#{/if}[#{Secret | ToUpper}]",
        &[],
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout), "[********]\n");
    let o = eval("#{Missing}", &[]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("variable 'Missing' is not defined"));
    let o = eval("#{Missing}", &["--mode", "compatible"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "#{Missing}\n");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("warning: variable 'Missing' is not defined")
    );
}
