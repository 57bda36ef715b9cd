//! Tests of package steps: extraction, substitution, structured variables, scripts, journal,
//! retention.

use serde_json::json;

use super::structured::{apply_json, apply_yaml};
use super::testutil::*;
use super::*;

const APPSETTINGS: &str = r#"{
  "Logging": {"Level": "Info", "Verbose": false},
  "Servers": [{"Host": "a", "Port": 80}, {"Host": "b", "Port": 81}],
  "Name": "x"
}"#;

const SETTINGS_YAML: &str = "logging:\n  level: info\nservers:\n  - host: a\n    port: 80\n";

const DEPLOY_SH: &str = r###"echo "greet=$Greeting rel=$Release_Number dep=$DEPLOY_DEPLOYMENT_ID"
echo "step=$DEPLOY_STEP env=$DEPLOY_ENVIRONMENT pkg=$DEPLOY_PACKAGE_ID@$DEPLOY_PACKAGE_VERSION"
echo "cwd=$(pwd)"
echo "raw=#{Greeting}"
echo deploy >> order.txt
echo "##deploy[setVariable name='Installed' value='yes']"
echo "to stderr" >&2
"###;

fn web_files() -> Vec<(&'static str, &'static str, u32)> {
    vec![
        (
            "app.conf",
            "greeting=#{Greeting}\nrelease=#{Release.Number}\n",
            0o644,
        ),
        ("config/nested/db.json", "{\"conn\": \"#{DbHost}\"}", 0o644),
        ("config/top.json", "{\"plain\": true}", 0o644),
        ("appsettings.json", APPSETTINGS, 0o644),
        ("settings.yaml", SETTINGS_YAML, 0o644),
        ("PreDeploy.sh", "echo pre > order.txt\n", 0o755),
        ("Deploy.sh", DEPLOY_SH, 0o755),
        (
            "postdeploy.py",
            "open('order.txt', 'a').write('post\\n')\n",
            0o644,
        ),
    ]
}

fn web_vars() -> Resolved {
    vars(&[
        ("Greeting", "hello", false),
        ("Release.Number", "1.2.3", false),
        ("DbHost", "db1", false),
        ("Logging:Level", "Debug", false),
        ("Logging:Verbose", "true", false),
        ("Servers:0:Port", "8080", false),
        ("Servers:1:Host", "beta", false),
        ("Servers:5:Host", "ignored", false),
        ("Missing:Path", "ignored", false),
    ])
}

#[test]
fn package_step_end_to_end_and_redeploy() {
    let fx = Fixture::new(None);
    let pkg = fx.package("Acme.Web", "1.0.0", &web_files());
    let action = deploy_action(
        "Acme.Web",
        &["*.conf", "config/**/*.json", "nothing/*.txt"],
        &["appsettings.json", "settings.yaml"],
    );
    let j = job(action, Some(pkg), web_vars());
    let (out, log) = fx.run(&j);
    assert!(out.success, "{:?} {log:?}", out.error);
    assert_eq!(out.exit_code, Some(0));
    let dir = fx.path("apps/Production/Acme.Web/1.0.0");
    assert_eq!(out.installed_to.as_deref(), Some(dir.as_path()));

    // Substitution in glob-matched files only; a pattern matching nothing warns.
    assert_eq!(
        read(&dir.join("app.conf")),
        "greeting=hello\nrelease=1.2.3\n"
    );
    assert_eq!(
        read(&dir.join("config/nested/db.json")),
        "{\"conn\": \"db1\"}"
    );
    let warns = lines(&log, LogStream::Warn);
    assert!(
        warns.iter().any(|w| w.contains("'nothing/*.txt'")),
        "{warns:?}"
    );

    // Structured JSON: nested key, array index, types kept, missing paths ignored.
    let doc: serde_json::Value =
        serde_json::from_str(&read(&dir.join("appsettings.json"))).unwrap();
    assert_eq!(doc["Logging"], json!({"Level": "Debug", "Verbose": true}));
    assert_eq!(doc["Servers"][0], json!({"Host": "a", "Port": 8080}));
    assert_eq!(doc["Servers"][1], json!({"Host": "beta", "Port": 81}));
    assert_eq!(doc["Name"], json!("x"));
    assert!(doc.get("Missing").is_none());

    // Structured YAML (keys matched case-insensitively), number kept.
    let yaml: serde_yaml::Value = serde_yaml::from_str(&read(&dir.join("settings.yaml"))).unwrap();
    assert_eq!(yaml["logging"]["level"].as_str(), Some("Debug"));
    assert_eq!(yaml["servers"][0]["port"].as_u64(), Some(8080));
    assert_eq!(yaml["servers"][0]["host"].as_str(), Some("a"));

    // Scripts ran in order with the extraction dir as cwd and variables in the environment;
    // package scripts are not substituted.
    assert_eq!(read(&dir.join("order.txt")), "pre\ndeploy\npost\n");
    let stdout = lines(&log, LogStream::Stdout);
    assert!(stdout.contains(&"greet=hello rel=1.2.3 dep=Deployments-7".to_string()));
    assert!(stdout.contains(&"step=Deploy web env=Production pkg=Acme.Web@1.0.0".to_string()));
    assert!(stdout.contains(&format!("cwd={}", dir.display())));
    assert!(stdout.contains(&"raw=#{Greeting}".to_string()));
    assert_eq!(
        lines(&log, LogStream::Stderr),
        vec!["to stderr".to_string()]
    );
    assert!(!logged(&log, "##deploy["));
    assert_eq!(
        out.output_variables,
        vec![OutputVariable {
            name: "Installed".into(),
            value: "yes".into(),
            sensitive: false
        }]
    );

    let journal = fx.journal();
    assert_eq!(journal.len(), 1);
    let e = &journal[0];
    assert_eq!(
        (
            e.deployment_id.as_str(),
            e.project.as_str(),
            e.environment.as_str()
        ),
        ("Deployments-7", "Acme", "Production")
    );
    assert_eq!(
        (e.step.as_str(), e.package_id.as_str()),
        ("Deploy web", "Acme.Web")
    );
    assert_eq!(
        (e.version.as_str(), e.path.as_path()),
        ("1.0.0", dir.as_path())
    );
    assert!(e.success && !e.removed && e.at > 0);

    // Redeploying the same version goes to a fresh `_1` directory.
    let (again, _) = fx.run(&j);
    assert!(again.success);
    let dir1 = fx.path("apps/Production/Acme.Web/1.0.0_1");
    assert_eq!(again.installed_to.as_deref(), Some(dir1.as_path()));
    assert_eq!(
        read(&dir1.join("app.conf")),
        "greeting=hello\nrelease=1.2.3\n"
    );
    assert_eq!(fx.journal().len(), 2);
    assert!(dir.exists());
}

#[test]
fn retention_keeps_newest_n() {
    let fx = Fixture::new(Some(2));
    let files = [("Deploy.sh", "exit ${FAIL:-0}\n", 0o755)];
    let mut paths = Vec::new();
    for (version, fail) in [
        ("1.0.0", "0"),
        ("1.0.1", "1"),
        ("1.0.2", "0"),
        ("1.0.3", "0"),
    ] {
        let pkg = fx.package("Acme.Api", version, &files);
        let j = job(
            deploy_action("Acme.Api", &[], &[]),
            Some(pkg),
            vars(&[("FAIL", fail, false)]),
        );
        let (out, log) = fx.run(&j);
        assert_eq!(out.success, fail == "0", "{log:?}");
        paths.push(out.installed_to.unwrap());
    }
    // Kept: 1.0.3 (current) and 1.0.2; removed: 1.0.0 (old success) and 1.0.1 (failed).
    let exists: Vec<bool> = paths.iter().map(|p| p.exists()).collect();
    assert_eq!(exists, vec![false, false, true, true]);
    let journal = fx.journal();
    let removed: Vec<bool> = journal.iter().map(|e| e.removed).collect();
    assert_eq!(removed, vec![true, true, false, false]);
    let success: Vec<bool> = journal.iter().map(|e| e.success).collect();
    assert_eq!(success, vec![true, false, true, true]);

    // Another environment's extractions are not touched.
    let pkg = fx.package("Acme.Api", "1.0.4", &files);
    let mut j = job(deploy_action("Acme.Api", &[], &[]), Some(pkg), vars(&[]));
    j.environment = "Staging".into();
    assert!(fx.run(&j).0.success);
    assert!(paths[2].exists() && paths[3].exists());
}

#[test]
fn failing_deploy_script_fails_the_step_and_is_journaled() {
    let fx = Fixture::new(None);
    let pkg = fx.package(
        "Acme.Web",
        "2.0.0",
        &[("deploy.sh", "echo about to fail\nexit 4\n", 0o644)],
    );
    let (out, log) = fx.run(&job(
        deploy_action("Acme.Web", &[], &[]),
        Some(pkg),
        vars(&[]),
    ));
    assert!(!out.success);
    assert_eq!(out.exit_code, Some(4));
    let err = out.error.unwrap();
    assert!(
        err.contains("deploy.sh") && err.contains("exit code 4"),
        "{err}"
    );
    assert!(logged(&log, "about to fail"));
    assert!(out.installed_to.is_some());
    let journal = fx.journal();
    assert_eq!(journal.len(), 1);
    assert!(!journal[0].success);
}

#[test]
fn missing_variable_in_substituted_file_names_file_and_variable() {
    let fx = Fixture::new(None);
    let pkg = fx.package(
        "Acme.Web",
        "1.0.0",
        &[
            ("web.conf", "url=#{Missing.Url}\n", 0o644),
            ("Deploy.sh", "echo should-not-run\n", 0o755),
        ],
    );
    let (out, log) = fx.run(&job(
        deploy_action("Acme.Web", &["*.conf"], &[]),
        Some(pkg),
        vars(&[]),
    ));
    assert!(!out.success);
    let err = out.error.unwrap();
    assert!(
        err.contains("web.conf") && err.contains("Missing.Url"),
        "{err}"
    );
    assert!(!err.contains('\n'));
    assert!(!logged(&log, "should-not-run"));
    assert!(!fx.journal()[0].success);
}

#[test]
fn package_problems_are_clear_errors() {
    let fx = Fixture::new(None);
    let action = deploy_action("Acme.Web", &[], &[]);
    let (out, _) = fx.run(&job(action.clone(), None, vars(&[])));
    assert!(out.error.unwrap().contains("needs package 'Acme.Web'"));

    let other = fx.package("Other", "1.0.0", &[("a", "b", 0o644)]);
    let (out, _) = fx.run(&job(action.clone(), Some(other), vars(&[])));
    assert!(out.error.unwrap().contains("was given 'Other'"));

    // A corrupt archive: nothing installed, the partial directory removed, journaled.
    let mut bad = fx.package("Acme.Web", "1.0.0", &[("a", "b", 0o644)]);
    bad.archive = fx.path("garbage.tar.gz");
    std::fs::write(&bad.archive, b"not a tarball").unwrap();
    let (out, _) = fx.run(&job(action.clone(), Some(bad), vars(&[])));
    assert!(
        out.error
            .unwrap()
            .contains("cannot extract package Acme.Web 1.0.0")
    );
    assert!(out.installed_to.is_none());
    assert!(!fx.path("apps/Production/Acme.Web/1.0.0").exists());
    let j = fx.journal();
    assert!(!j[0].success && j[0].removed);

    let pkg = fx.package("Acme.Web", "1.0.0", &[("a.json", "{", 0o644)]);
    let (out, _) = fx.run(&job(
        deploy_action("Acme.Web", &["../*"], &[]),
        Some(pkg.clone()),
        vars(&[]),
    ));
    assert!(out.error.unwrap().contains("'../*' must be relative"));
    let (out, _) = fx.run(&job(
        deploy_action("Acme.Web", &[], &["a.json"]),
        Some(pkg),
        vars(&[]),
    ));
    assert!(out.error.unwrap().contains("'a.json' is not valid JSON"));
}

#[test]
fn sensitive_values_are_masked_in_package_script_output() {
    let fx = Fixture::new(None);
    let pkg = fx.package(
        "Acme.Web",
        "1.0.0",
        &[("Deploy.sh", "echo \"password is $Db_Password\"\n", 0o755)],
    );
    let v = vars(&[("Db.Password", "hunter2-secret", true)]);
    let (out, log) = fx.run(&job(deploy_action("Acme.Web", &[], &[]), Some(pkg), v));
    assert!(out.success);
    assert!(lines(&log, LogStream::Stdout).contains(&"password is ********".to_string()));
    assert!(!logged(&log, "hunter2-secret"));
}

#[test]
fn structured_replacement_rules() {
    let v = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    let doc = r#"{"n": 1, "b": true, "s": "x", "o": {"k": 1}, "a": [1, 2], "z": null}"#;
    let (count, text) = apply_json(
        doc,
        &v(&[
            ("n", "not-a-number"),
            ("b", "FALSE"),
            ("s", "42"),
            ("o", "{\"k\": 2}"),
            ("a:1", "2.5"),
            ("z", "7"),
            ("nope:x", "1"),
        ]),
    )
    .unwrap();
    assert_eq!(count, 6);
    let got: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        got,
        json!({"n": "not-a-number", "b": false, "s": "42", "o": {"k": 2}, "a": [1, 2.5], "z": "7"})
    );
    // Nothing matching leaves the text untouched.
    assert_eq!(
        apply_json(doc, &v(&[("x:y", "1")])).unwrap(),
        (0, doc.to_string())
    );

    let yaml = "a:\n  b: [1, 2]\n  c: yes-string\n  d: false\n";
    let (count, text) = apply_yaml(
        yaml,
        &v(&[("A:B:0", "10"), ("a:c", "123"), ("a:d", "true")]),
    )
    .unwrap();
    assert_eq!(count, 3);
    let got: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    assert_eq!(got["a"]["b"][0].as_u64(), Some(10));
    assert_eq!(got["a"]["c"].as_str(), Some("123"));
    assert_eq!(got["a"]["d"].as_bool(), Some(true));
}

#[test]
fn env_dir_and_env_name_rules() {
    use super::package::env_dir;
    assert_eq!(env_dir("Prod/EU"), "Prod_EU");
    assert_eq!(env_dir(".."), "_");
    assert_eq!(env_dir("Staging 2"), "Staging 2");
    assert_eq!(env_name("Release.Number"), "Release_Number");
    assert_eq!(env_name("Output.Step 1.X"), "Output_Step_1_X");
    assert_eq!(env_name("Logging:Level-2"), "Logging_Level_2");
}
