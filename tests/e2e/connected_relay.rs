//! Receipts relayed hop by hop along a chain Dev -> QA -> Ops where Dev and Ops never talk:
//! no release trust between them, Dev only accepts Ops' receipts. With agents in QA and Ops and
//! only `release create` typed in Dev, Dev's dashboard shows QA's result and Ops' result, the
//! latter still signed by Ops and passed on by QA.

use std::time::Duration;

use e2e::agent::Agent;
use e2e::odcm::Odcm;
use e2e::promotion::{odcm, script_project, wait_peer};
use e2e::wait_for;

#[test]
fn ops_result_reaches_dev_by_way_of_qa_still_signed_by_ops() {
    let net = Odcm::start("Net");
    let (dev, _) = net.enrolled_space("Dev");
    let (qa, _) = net.enrolled_space("QA");
    let (ops, _) = net.enrolled_space("Ops");
    for (from, to, kind) in [
        ("Dev", "QA", "releases"),
        ("Dev", "QA", "receipts"),
        ("QA", "Ops", "releases"),
        ("QA", "Ops", "receipts"),
        ("Dev", "Ops", "receipts"), // Dev accepts Ops' receipts; nothing goes Dev -> Ops
    ] {
        odcm(
            &net,
            &["trust", "add", "--from", from, "--to", to, "--kind", kind],
        );
    }
    wait_peer(&dev, "Ops", 3);
    wait_peer(&qa, "Ops", 4);
    wait_peer(&ops, "QA", 3);

    let o = ops.cli();
    o.ok(&["env", "create", "Production"]);
    o.ok(&[
        "lifecycle",
        "create",
        "Keep",
        "--phase",
        "Production:Production:auto",
    ]);
    o.ok(&[
        "bundle",
        "auto-import",
        "set",
        "--from",
        "QA",
        "--lifecycle",
        "Keep",
    ]);
    let _ops_agent = Agent::connected(&ops, "ops-web", &["Production"], &[]);

    let q = qa.cli();
    q.ok(&["env", "create", "Test"]);
    q.ok(&[
        "lifecycle",
        "create",
        "Through",
        "--phase",
        "Test:Test:auto",
        "--phase",
        "Ops:Ops:auto",
    ]);
    q.ok(&[
        "bundle",
        "auto-import",
        "set",
        "--from",
        "Dev",
        "--lifecycle",
        "Through",
    ]);
    let _qa_agent = Agent::connected(&qa, "qa-web", &["Test"], &[]);

    let d = dev.cli();
    d.ok(&["lifecycle", "create", "Out", "--phase", "Next:QA:auto"]);
    script_project(&dev, "Svc", "Out", "echo hi from #{Space.Name}");
    d.ok(&[
        "release",
        "create",
        "--project",
        "Svc",
        "--version",
        "1.0.0",
    ]);

    let cell = |env: &str| d.json(&["dashboard"])["projects"][0]["environments"][env].clone();
    wait_for(
        "QA's and Ops' results on Dev's dashboard",
        Duration::from_secs(120),
        || cell("QA: Test")["state"] == "success" && cell("Ops: Production")["state"] == "success",
    );
    let table = d.ok(&["dashboard"]);
    assert!(table.contains("Ops: Production"), "{table}");
    // Ops named the project after Dev, and its receipt names the whole route.
    let deployments = o.json(&["deployment", "list", "--project", "Dev: Svc"]);
    assert_eq!(deployments[0]["state"], "success", "{deployments}");
    let route = &o.json(&[
        "release",
        "show",
        "--project",
        "Dev: Svc",
        "--version",
        "1.0.0",
    ])["origin"]["route"];
    assert_eq!(route[0]["space"], "Dev", "{route}");
    assert_eq!(route[0]["project"], "Svc", "{route}");
    // Dev applied Ops' file as relayed by QA (Ops never called Dev).
    let audit = net.cli().json(&["odcm", "audit", "list"]);
    let relayed = audit.as_array().unwrap().iter().any(|e| {
        e["detail"]
            .as_str()
            .is_some_and(|t| t.contains("relayed by way of 'QA'"))
    });
    assert!(relayed, "{audit:#}");
    // Nothing is left to relay, and applying it again changes nothing (once, by receipt id).
    wait_for(
        "QA's relay queue to be empty",
        Duration::from_secs(30),
        || {
            let st = q.json(&["space", "status"]);
            st["peers"].as_array().is_some_and(|a| {
                a.iter()
                    .any(|p| p["name"] == "Dev" && p["relay_waiting"] == 0)
            })
        },
    );
}
