//! A receipt for a project deleted at the source meanwhile is kept and listed, not dropped:
//! `deploy receipt list` shows it, marked "deleted here".

use std::time::Duration;

use e2e::agent::Agent;
use e2e::odcm::Odcm;
use e2e::promotion::{connected_pair, importing_target, script_project, to_prod_lifecycle};
use e2e::wait_for;

#[test]
fn a_receipt_for_a_project_deleted_at_the_source_is_kept_and_listed() {
    let net = Odcm::start("Net");
    let (dev, prod) = connected_pair(&net, &[], &["releases", "receipts"]);
    importing_target(&prod, "Production:Production");
    let _agent = Agent::connected(&prod, "prod-web", &["Production"], &[]);
    let d = dev.cli();
    to_prod_lifecycle(&dev, ":auto");
    script_project(&dev, "Web", "ToProd", "echo hello");
    d.ok(&[
        "release",
        "create",
        "--project",
        "Web",
        "--version",
        "1.0.0",
    ]);
    let p = prod.cli();
    wait_for("Prod to import the bundle", Duration::from_secs(60), || {
        p.json(&["bundle", "list"])[0]["state"] == "imported"
    });

    d.ok(&["project", "delete", "Web", "--yes"]);
    p.ok(&[
        "release",
        "deploy",
        "--project",
        "DevTest: Web",
        "--version",
        "1.0.0",
        "--env",
        "Production",
    ]);
    wait_for(
        "the receipt to reach DevTest",
        Duration::from_secs(60),
        || {
            d.json(&["receipt", "list"])
                .as_array()
                .is_some_and(|a| !a.is_empty())
        },
    );
    let l = d.json(&["receipt", "list"]);
    assert_eq!(l[0]["project"], "Web", "{l}");
    assert_eq!(l[0]["project_deleted"], true, "{l}");
    assert_eq!(l[0]["environment"], "Prod: Production", "{l}");
    assert_eq!(l[0]["state"], "success", "{l}");
    let table = d.ok(&["receipt", "list"]);
    assert!(table.contains("Web (deleted here)"), "{table}");
}
