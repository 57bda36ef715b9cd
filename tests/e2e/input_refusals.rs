//! Bad input through the real CLI and server: names that could drive a terminal or break
//! templates are refused, one value per variable name and scope, a sensitive value that is
//! not a well-formed template is used literally (and the Space says so).

use std::time::Duration;

use e2e::Space;
use e2e::agent::Agent;

use crate::deployments::{setup_envs, start, wait_state};

#[test]
fn variable_names_are_validated_and_one_value_per_scope_is_kept() {
    let s = Space::start();
    let c = s.cli();
    setup_envs(&c, &["Dev"]);
    c.ok(&["lifecycle", "create", "Main", "--phase", "Dev:Dev"]);
    c.ok(&["project", "create", "Acme", "--lifecycle", "Main"]);

    // (An argument holds at most 128 KiB; a NUL cannot be an argument: those go by file.)
    let long = "N".repeat(100 << 10);
    for bad in ["evil\u{1b}[2Jname", "two\nlines", long.as_str()] {
        let e = c.fails(&["variable", "set", "--project", "Acme", bad, "x"]);
        assert!(e.contains("is not allowed"), "{}", &e[..e.len().min(300)]);
        assert!(!e.contains('\u{1b}'), "the refusal echoes no escape");
        assert!(e.len() < 2_000, "the refusal does not echo a 100 KiB name");
    }
    let file = s.dir.join("vars.json");
    let huge = "M".repeat(1 << 20);
    for bad in ["nul\0name", huge.as_str()] {
        let json = serde_json::json!([{ "name": bad, "value": "x" }]);
        std::fs::write(&file, json.to_string()).unwrap();
        let e = c.fails(&[
            "variable",
            "import",
            file.to_str().unwrap(),
            "--project",
            "Acme",
        ]);
        assert!(e.contains("is not allowed"), "{}", &e[..e.len().min(300)]);
        assert!(e.len() < 2_000, "the refusal does not echo a 1 MiB name");
    }
    let listed = c.ok(&["variable", "list", "--project", "Acme"]);
    assert!(
        !listed.contains("evil") && !listed.contains('\u{1b}'),
        "{listed}"
    );

    // The same name and scope twice replaces the value, and says so.
    let set = |value: &str| {
        c.run(&[
            "variable",
            "set",
            "--project",
            "Acme",
            "Region",
            value,
            "--env",
            "Dev",
        ])
    };
    let o = set("north");
    assert!(o.status.success());
    let first: String = String::from_utf8_lossy(&o.stdout).into();
    assert!(first.contains("variable 'Region' set"), "{first}");
    let o = set("south");
    let second: String = String::from_utf8_lossy(&o.stdout).into();
    assert!(
        o.status.success() && second.contains("replaced"),
        "{second}"
    );
    let vars = c.json(&["variable", "list", "--project", "Acme"]);
    let regions: Vec<&serde_json::Value> = vars
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["name"] == "Region")
        .collect();
    assert_eq!(regions.len(), 1, "{vars}");
    assert_eq!(regions[0]["value"], "south");
    // Another value of the same name with another scope is a second value.
    c.ok(&["variable", "set", "--project", "Acme", "Region", "any"]);
    let id = regions[0]["id"].as_str().unwrap().to_string();
    let unscoped = c.json(&["variable", "list", "--project", "Acme"]);
    let other = unscoped
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "Region" && v["id"] != id.as_str())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Giving that one the first one's scope would make two: refused.
    let e = c.fails(&[
        "variable",
        "set",
        "--project",
        "Acme",
        "Region",
        "x",
        "--env",
        "Dev",
        "--id",
        &other,
    ]);
    assert!(e.contains("already has a value with scope env=Dev"), "{e}");
}

#[test]
fn a_sensitive_value_with_an_unterminated_reference_is_used_literally() {
    let s = Space::start();
    let c = s.cli();
    setup_envs(&c, &["Dev"]);
    c.ok(&["lifecycle", "create", "Main", "--phase", "Dev:Dev"]);
    let _web = Agent::connected(&s, "web-01", &["Dev"], &["web"]);
    c.ok(&["project", "create", "Acme", "--lifecycle", "Main"]);
    // A plain value that would never expand is refused at once.
    let e = c.fails(&["variable", "set", "--project", "Acme", "Plain", "a#{b"]);
    assert!(e.contains("unterminated") && e.contains("##{"), "{e}");
    let o = c.run_with_stdin(
        &["variable", "set", "--project", "Acme", "Pw", "--sensitive"],
        Some("p#{ss"),
    );
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "{err}");
    assert!(err.contains("will be used literally"), "{err}");
    assert!(!err.contains("p#{ss"), "the note does not show the value");
    c.ok(&[
        "step",
        "add",
        "--project",
        "Acme",
        "--name",
        "Check",
        "--role",
        "web",
        "--script",
        "if [ \"$Pw\" = 'p#''{ss' ]; then echo literal-ok; else echo literal-wrong; fi",
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
    let d = wait_state(&c, &id, Duration::from_secs(60));
    let logs = c.ok(&["deployment", "logs", &id]);
    assert_eq!(d["state"], "success", "{logs}");
    assert!(logs.contains("literal-ok"), "{logs}");
}
