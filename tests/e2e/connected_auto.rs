//! End to end, connected Spaces that run themselves: with Prod willing to import DevTest's
//! bundles and both lifecycles automatic, `release create` in DevTest is the only command. The
//! promotion waits (retrying, with the reason) while Prod is down, is offered when it is back,
//! Prod fetches the packages, imports, deploys on its agent, and the receipt streams back to
//! DevTest's dashboard.

use std::time::Duration;

use e2e::agent::Agent;
use e2e::odcm::Odcm;
use e2e::promotion::{connected_pair, importing_target, package_project, to_prod_lifecycle};
use e2e::wait_for;

fn promotion_state(d: &e2e::Cli) -> (String, String) {
    let l = d.json(&["promotion", "list"]);
    let p = &l[0];
    (
        p["state"].as_str().unwrap_or("").to_string(),
        p["detail"].as_str().unwrap_or("").to_string(),
    )
}

#[test]
fn release_create_in_dev_is_the_only_command_for_a_result_from_prod() {
    let net = Odcm::start("Net");
    // DevTest calls a peer silent after 4 s (a test-sized limit; the default is 10 minutes).
    let stale = [("SPACE_PEER_STALE_AFTER_SECS", "4")];
    let (dev, mut prod) = connected_pair(&net, &stale, &["releases", "receipts"]);

    // Prod: its own automatic lifecycle, an agent, and the choice to import DevTest's bundles.
    let p = prod.cli();
    importing_target(&prod, "Production:Production:auto");
    let rules = p.json(&["bundle", "auto-import", "list"]);
    assert_eq!(rules[0]["lifecycle"], "Only", "{rules}");

    // DevTest: a lifecycle whose first phase is Prod, automatic.
    let d = dev.cli();
    to_prod_lifecycle(&dev, ":auto");
    package_project(&dev, "Web", "ToProd", 5, 2 << 20);
    d.ok(&[
        "step",
        "add",
        "--project",
        "Web",
        "--name",
        "Hello",
        "--script",
        "echo hello from #{Environment.Name} in #{Space.Name}",
    ]);

    // Prod is down when the release is created: the promotion waits and says why.
    prod.stop();
    d.ok(&[
        "release",
        "create",
        "--project",
        "Web",
        "--version",
        "1.0.0",
    ]);
    wait_for(
        "the promotion to be retried",
        Duration::from_secs(40),
        || {
            let (state, detail) = promotion_state(&d);
            state == "retrying" && !detail.is_empty()
        },
    );
    // The dashboard says so too.
    let dash = d.json(&["dashboard"]);
    assert_eq!(dash["promotions"][0]["state"], "retrying", "{dash}");
    assert_eq!(dash["promotions"][0]["target_space"], "Prod", "{dash}");
    let table = d.ok(&["dashboard"]);
    assert!(
        table.contains("Web 1.0.0 -> Prod  retrying: calling Space 'Prod'"),
        "{table}"
    );
    prod.start_again();
    // Its agent joins now.
    let p = prod.cli();
    let agent = Agent::polling(&prod, "prod-web");
    agent.register(&prod, &["Production"], &[]);

    // Nothing else is typed: offered, fetched, imported, deployed, and the receipt comes back.
    wait_for(
        "Prod's result on DevTest's dashboard",
        Duration::from_secs(90),
        || {
            let dash = d.json(&["dashboard"]);
            dash["projects"][0]["environments"]["Prod: Production"]["state"] == "success"
        },
    );
    let (state, detail) = promotion_state(&d);
    assert_eq!(state, "deployed", "{detail}");
    assert_eq!(
        d.json(&["dashboard"])["promotions"],
        serde_json::json!([]),
        "deployed: off the list"
    );
    assert!(detail.contains("success in Prod: Production"), "{detail}");
    let deployments = p.json(&["deployment", "list", "--project", "DevTest: Web"]);
    assert_eq!(deployments[0]["state"], "success", "{deployments}");
    assert_eq!(deployments[0]["created_by"], "lifecycle (automatic phase)");
    // The receipt was sent once: nothing is left in Prod's outbox.
    // (The outbox marks them sent just after DevTest applied them: wait for that.)
    wait_for("Prod's outbox to be empty", Duration::from_secs(30), || {
        let o = p.run(&["receipt", "send"]);
        o.status.success() && String::from_utf8_lossy(&o.stderr).contains("nothing to send")
    });

    // Honest staleness: Prod goes silent, its result on DevTest's dashboard turns stale after
    // the configured time (never a fresh-looking success), and fresh again when it is back.
    let cell = |d: &e2e::Cli| {
        d.json(&["dashboard"])["projects"][0]["environments"]["Prod: Production"].clone()
    };
    assert_eq!(cell(&d)["stale"], false, "{}", cell(&d));
    prod.stop();
    wait_for(
        "Prod's result to turn stale",
        Duration::from_secs(40),
        || cell(&d)["stale"] == true,
    );
    let table = d.ok(&["dashboard"]);
    assert!(table.contains("STALE: Prod silent since"), "{table}");
    let status = d.json(&["space", "status"]);
    let peer = status["peers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Prod")
        .unwrap()
        .clone();
    assert_eq!(peer["stale"], true, "{peer}");
    assert!(peer["last_contact"].is_string(), "{peer}");
    prod.start_again();
    wait_for(
        "Prod's result to be fresh again",
        Duration::from_secs(40),
        || cell(&d)["stale"] == false,
    );
    assert_eq!(cell(&d)["state"], "success");
}
