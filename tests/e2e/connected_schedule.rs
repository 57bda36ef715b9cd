//! Promotions and deployments at a time of the operator's choosing (the RFC's "promote the
//! release at a time of their choosing"): listed as scheduled, done then by themselves,
//! cancellable until.

use std::time::{Duration, Instant};

use e2e::agent::Agent;
use e2e::odcm::Odcm;
use e2e::promotion::{connected_pair, script_project, to_prod_lifecycle};
use e2e::{Space, wait_for};

#[test]
fn a_promotion_waits_for_its_time_and_can_be_cancelled_until_then() {
    let net = Odcm::start("Net");
    let (dev, prod) = connected_pair(&net, &[], &["releases"]);
    let d = dev.cli();
    to_prod_lifecycle(&dev, "");
    script_project(&dev, "Web", "ToProd", "echo hi");
    for v in ["1.0.0", "1.0.1"] {
        d.ok(&["release", "create", "--project", "Web", "--version", v]);
    }
    let promote_at = |v: &str, at: &str| {
        d.ok(&[
            "release",
            "promote",
            "--project",
            "Web",
            "--version",
            v,
            "--to-space",
            "Prod",
            "--at",
            at,
        ])
    };
    let asked = Instant::now();
    promote_at("1.0.0", "+4s");
    promote_at("1.0.1", "+1h");
    let states = || -> Vec<(String, String)> {
        d.json(&["promotion", "list"])
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["version"].as_str().unwrap().to_string(),
                    p["state"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let mut now = states();
    now.sort();
    assert_eq!(
        now,
        vec![
            ("1.0.0".to_string(), "scheduled".to_string()),
            ("1.0.1".to_string(), "scheduled".to_string())
        ]
    );
    let p = prod.cli();
    assert_eq!(
        p.json(&["bundle", "list"]),
        serde_json::json!([]),
        "nothing sent early"
    );
    d.ok(&[
        "promotion",
        "cancel",
        "--project",
        "Web",
        "--version",
        "1.0.1",
        "--to-space",
        "Prod",
    ]);
    wait_for(
        "the scheduled promotion to happen",
        Duration::from_secs(30),
        || {
            p.json(&["bundle", "list"])
                .as_array()
                .is_some_and(|a| a.len() == 1)
        },
    );
    assert!(
        asked.elapsed() >= Duration::from_secs(3),
        "not before its time"
    );
    assert_eq!(p.json(&["bundle", "list"])[0]["version"], "1.0.0");
    assert_eq!(states(), vec![("1.0.0".to_string(), "offered".to_string())]);
    // An offered promotion is the target's now: it cannot be cancelled.
    let e = d.fails(&[
        "promotion",
        "cancel",
        "--project",
        "Web",
        "--version",
        "1.0.0",
        "--to-space",
        "Prod",
    ]);
    assert!(e.contains("offered already"), "{e}");
}

#[test]
fn a_deployment_waits_for_its_time_and_can_be_unscheduled_until_then() {
    let s = Space::start();
    let c = s.cli();
    for e in ["Dev", "Test"] {
        c.ok(&["env", "create", e]);
    }
    c.ok(&[
        "lifecycle",
        "create",
        "Any",
        "--phase",
        "Both:Dev,Test:optional",
    ]);
    let _web = Agent::connected(&s, "web-01", &["Dev", "Test"], &[]);
    script_project(&s, "Web", "Any", "echo hi");
    c.ok(&[
        "release",
        "create",
        "--project",
        "Web",
        "--version",
        "1.0.0",
    ]);
    let asked = Instant::now();
    for (env, at) in [("Dev", "+3s"), ("Test", "+1h")] {
        c.ok(&[
            "release",
            "deploy",
            "--project",
            "Web",
            "--version",
            "1.0.0",
            "--env",
            env,
            "--at",
            at,
        ]);
    }
    let scheduled = c.json(&["deployment", "scheduled"]);
    assert_eq!(scheduled.as_array().map(Vec::len), Some(2), "{scheduled}");
    assert!(
        scheduled
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["state"] == "scheduled")
    );
    assert_eq!(
        c.json(&["deployment", "list"]),
        serde_json::json!([]),
        "nothing ran early"
    );
    c.ok(&[
        "deployment",
        "unschedule",
        "--project",
        "Web",
        "--version",
        "1.0.0",
        "--env",
        "Test",
    ]);
    wait_for(
        "the scheduled deployment to start",
        Duration::from_secs(30),
        || c.json(&["deployment", "scheduled"])[0]["state"] == "started",
    );
    assert!(
        asked.elapsed() >= Duration::from_secs(2),
        "not before its time"
    );
    let id = c.json(&["deployment", "scheduled"])[0]["deployment"]
        .as_str()
        .unwrap()
        .to_string();
    wait_for("it to succeed", Duration::from_secs(30), || {
        c.json(&["deployment", "show", &id])["state"] == "success"
    });
    let d = c.json(&["deployment", "show", &id]);
    assert_eq!(d["environment"], "Dev");
    assert_eq!(d["created_by"], "admin (scheduled)");
    assert_eq!(
        c.json(&["deployment", "scheduled"])
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}
