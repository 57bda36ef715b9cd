//! A chain Dev -> QA -> Ops where Dev also reaches Ops directly: Ops names the release after
//! where it was made ("Dev: Svc", not "QA: Dev: Svc"), and the same release arriving by two
//! routes is one release. Only `release create` is typed.

use std::time::Duration;

use e2e::odcm::Odcm;
use e2e::promotion::{odcm, script_project, wait_peer};
use e2e::wait_for;

#[test]
fn a_release_that_reaches_ops_by_two_routes_is_one_release_named_after_dev() {
    let net = Odcm::start("Net");
    let (dev, _) = net.enrolled_space("Dev");
    let (qa, _) = net.enrolled_space("QA");
    let (ops, _) = net.enrolled_space("Ops");
    for (from, to) in [("Dev", "QA"), ("QA", "Ops"), ("Dev", "Ops")] {
        odcm(
            &net,
            &[
                "trust", "add", "--from", from, "--to", to, "--kind", "releases",
            ],
        );
    }
    wait_peer(&dev, "Ops", 2);
    wait_peer(&qa, "Ops", 2);
    wait_peer(&ops, "Dev", 2);

    let o = ops.cli();
    o.ok(&["env", "create", "Production"]);
    o.ok(&[
        "lifecycle",
        "create",
        "Keep",
        "--phase",
        "Production:Production",
    ]);
    for from in ["Dev", "QA"] {
        o.ok(&[
            "bundle",
            "auto-import",
            "set",
            "--from",
            from,
            "--lifecycle",
            "Keep",
        ]);
    }
    let q = qa.cli();
    q.ok(&["lifecycle", "create", "ToOps", "--phase", "Ops:Ops:auto"]);
    q.ok(&[
        "bundle",
        "auto-import",
        "set",
        "--from",
        "Dev",
        "--lifecycle",
        "ToOps",
    ]);
    let d = dev.cli();
    d.ok(&["lifecycle", "create", "Out", "--phase", "Next:QA,Ops:auto"]);
    script_project(&dev, "Svc", "Out", "echo hi");
    d.ok(&[
        "release",
        "create",
        "--project",
        "Svc",
        "--version",
        "1.0.0",
    ]);

    wait_for(
        "both routes to arrive at Ops",
        Duration::from_secs(60),
        || {
            let l = o.json(&["bundle", "list"]);
            l.as_array()
                .is_some_and(|a| a.len() == 2 && a.iter().all(|b| b["state"] == "imported"))
        },
    );
    let sources: Vec<String> = o
        .json(&["bundle", "list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["source_space"].as_str().unwrap().to_string())
        .collect();
    assert!(
        sources.contains(&"Dev".into()) && sources.contains(&"QA".into()),
        "{sources:?}"
    );
    let projects: Vec<String> = o
        .json(&["project", "list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(projects, vec!["Dev: Svc".to_string()], "no 'QA: Dev: Svc'");
    let releases = o.json(&["release", "list", "--project", "Dev: Svc"]);
    assert_eq!(
        releases.as_array().map(Vec::len),
        Some(1),
        "one release: {releases}"
    );
    assert_eq!(qa.cli().json(&["project", "list"])[0]["name"], "Dev: Svc");
}
