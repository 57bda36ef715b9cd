//! Packages staged ahead: a lifecycle phase with `:prestage` naming Prod makes DevTest tell Prod
//! which chunks a new release needs as soon as it exists; Prod fetches them in the background,
//! so the promotion a person makes later finds every chunk there and moves only the bundle.

use std::time::Duration;

use e2e::odcm::Odcm;
use e2e::promotion::{connected_pair, package_project, to_prod_lifecycle};
use e2e::wait_for;

#[test]
fn a_staged_release_is_promoted_with_nothing_left_to_fetch() {
    let net = Odcm::start("Net");
    let (dev, prod) = connected_pair(&net, &[], &["releases"]);
    prod.cli().ok(&["env", "create", "Production"]);
    let d = dev.cli();
    to_prod_lifecycle(&dev, ":prestage");
    let shown = d.ok(&["lifecycle", "show", "ToProd"]);
    assert!(shown.contains("packages staged ahead"), "{shown}");
    package_project(&dev, "Web", "ToProd", 11, 3 << 20);
    d.ok(&[
        "release",
        "create",
        "--project",
        "Web",
        "--version",
        "1.0.0",
    ]);

    wait_for(
        "the packages to be staged at Prod",
        Duration::from_secs(60),
        || {
            let l = d.json(&["promotion", "staged"]);
            l[0]["state"] == "staged"
        },
    );
    let staged = d.json(&["promotion", "staged"]);
    assert_eq!(staged[0]["target_space"], "Prod", "{staged}");
    assert!(
        staged[0]["detail"]
            .as_str()
            .is_some_and(|t| t.contains("chunks it lacked")),
        "{staged}"
    );
    wait_for("Prod to have fetched them", Duration::from_secs(60), || {
        prod.log_text().contains("staged packages fetched")
    });
    // Nothing was promoted yet: no bundle at Prod.
    let p = prod.cli();
    assert_eq!(p.json(&["bundle", "list"]), serde_json::json!([]));

    // The promotion moves only the bundle: every chunk is there at the offer.
    let out = d.ok(&[
        "release",
        "promote",
        "--project",
        "Web",
        "--version",
        "1.0.0",
        "--to-space",
        "Prod",
    ]);
    assert!(
        out.contains("offered") && !out.contains("fetching"),
        "{out}"
    );
    let l = p.json(&["bundle", "list"]);
    assert_eq!(l[0]["packages_missing"], 0, "{l}");
    assert_eq!(l[0]["state"], "pending", "{l}");
}
