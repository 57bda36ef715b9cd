//! A promotion at a time of the operator's choosing (the RFC's "promote the release at a time
//! of their choosing"): queued, listed as scheduled, pushed then by itself, cancellable until.

use std::time::{Duration, Instant};

use e2e::odcm::Odcm;
use e2e::promotion::{odcm, wait_peer};
use e2e::wait_for;

#[test]
fn a_promotion_waits_for_its_time_and_can_be_cancelled_until_then() {
    let net = Odcm::start("Net");
    let (dev, _) = net.enrolled_space("DevTest");
    let (prod, _) = net.enrolled_space("Prod");
    odcm(
        &net,
        &[
            "trust", "add", "--from", "DevTest", "--to", "Prod", "--kind", "releases",
        ],
    );
    wait_peer(&dev, "Prod", 1);
    wait_peer(&prod, "DevTest", 1);
    let d = dev.cli();
    d.ok(&[
        "lifecycle",
        "create",
        "ToProd",
        "--phase",
        "Production:Prod",
    ]);
    d.ok(&["project", "create", "Web", "--lifecycle", "ToProd"]);
    d.ok(&[
        "step",
        "add",
        "--project",
        "Web",
        "--name",
        "Hello",
        "--script",
        "echo hi",
    ]);
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
