//! More of the web UI in a real browser: a pending Release Bundle imported through its form
//! (lifecycle chosen, the mandatory template value filled per environment), two releases
//! compared side by side, the keyboard reaching the page (skip link first, focus visible),
//! and the ODCM's trust matrix with a trust revoked and added back, and its audit log
//! verified. Screenshots of the comparison and the trust matrix go with the dashboard's.

use std::time::Duration;

use e2e::browser::Browser;
use e2e::promotion::{connected_pair, odcm, script_project, to_prod_lifecycle};
use e2e::wait_for;

#[test]
fn bundles_import_through_the_form_releases_compare_and_trusts_change_on_the_odcm_page() {
    let Some(b) = Browser::start() else { return };
    let net = e2e::odcm::Odcm::start("Net");
    let (dev, prod) = connected_pair(&net, &[], &["releases", "receipts"]);
    let d = dev.cli();
    to_prod_lifecycle(&dev, "");
    script_project(&dev, "Web", "ToProd", "echo #{Greeting} from #{Region}");
    d.ok(&[
        "template",
        "set",
        "Region",
        "--project",
        "Web",
        "--mandatory",
    ]);
    d.ok(&["variable", "set", "--project", "Web", "Greeting", "hello"]);
    d.ok(&[
        "release",
        "create",
        "--project",
        "Web",
        "--version",
        "1.0.0",
    ]);
    d.ok(&["variable", "set", "--project", "Web", "Greeting", "hi"]);
    d.ok(&[
        "release",
        "create",
        "--project",
        "Web",
        "--version",
        "1.0.1",
    ]);
    let p = prod.cli();
    p.ok(&["env", "create", "Production"]);
    p.ok(&["lifecycle", "create", "Only", "--phase", "P:Production"]);
    d.ok(&[
        "release",
        "promote",
        "--project",
        "Web",
        "--version",
        "1.0.0",
        "--to-space",
        "Prod",
    ]);
    wait_for("the bundle at Prod", Duration::from_secs(30), || {
        p.json(&["bundle", "list"])
            .as_array()
            .is_some_and(|a| a.len() == 1)
    });

    // Prod imports the pending bundle through the form, filling Region for Production.
    b.sign_in(&prod.web, &prod.api_key);
    assert_eq!(b.text("h1").unwrap(), "Dashboard");
    b.tab();
    let focused = b.js(
        "const e = document.activeElement; return [e.className, getComputedStyle(e).outlineStyle];",
    );
    assert_eq!(focused[0], "skip", "the skip link comes first: {focused}");
    assert_ne!(focused[1], "none", "focus is visible: {focused}");
    b.goto(&format!("{}/bundles", prod.web));
    b.click("table a[href^='/bundles/']");
    b.wait_text("the bundle's page", "h1", |t| t.starts_with("Bundle "));
    let page = b.text("main").unwrap();
    assert!(
        page.contains("DevTest: Web") && page.contains("Region"),
        "{page}"
    );
    let id = p.json(&["bundle", "list"])[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let get = |path: &str| b.get_json(path);
    assert_eq!(
        get(&format!("/api/bundles/{id}")),
        p.json(&["bundle", "show", &id])
    );
    assert_eq!(get("/api/bundles"), p.json(&["bundle", "list"]));
    b.choose("#lifecycle", "Only");
    b.fill("input[name='[\"Region\",\"Production\",\"\"]']", "eu-west");
    b.click("#import button[type=submit]");
    b.wait_text("the Remote Project's page", "h1", |t| {
        t == "Project DevTest: Web"
    });
    let missing = p.json(&[
        "release",
        "missing-variables",
        "--project",
        "DevTest: Web",
        "--version",
        "1.0.0",
    ]);
    assert_eq!(missing, serde_json::json!([]), "the value set at import");
    let vars = p.ok(&["variable", "list", "--project", "DevTest: Web"]);
    assert!(
        vars.contains("Region") && vars.contains("eu-west"),
        "{vars}"
    );
    let refused = p.json(&["audit", "list", "--method", "web"]);
    assert!(
        refused.to_string().contains("web POST import bundle"),
        "{refused}"
    );

    // DevTest: the two releases side by side.
    b.sign_in(&dev.web, &dev.api_key);
    b.goto(&format!("{}/projects/Web", dev.web));
    b.click("a[href*='/compare?']");
    b.wait_text("the comparison", "h1", |t| {
        t.starts_with("Compare releases")
    });
    let row = b.text("tr.change.changed").unwrap_or_default();
    assert!(
        row.contains("Greeting") && row.contains("hello") && row.contains("hi"),
        "{row}"
    );
    assert!(row.starts_with("changed"), "said in words: {row}");
    b.screenshot(&e2e::browser::screenshot_path(&dev.dir, "compare.png"));
    let api = b.js_async(
        "fetch('/api/projects/Web/compare?from=1.0.0&to=1.0.1').then(r => r.json()).then(done);",
    );
    let cli = d.json(&["release", "compare", "--project", "Web", "1.0.0", "1.0.1"]);
    assert_eq!(api, cli);

    // Promoting 1.0.1 from its page: offered to the Space its lifecycle reaches.
    b.goto(&format!("{}/projects/Web/releases/1.0.0", dev.web));
    let promoted = b.text("#promoted").unwrap_or_default();
    assert!(promoted.contains("bundle to Prod"), "{promoted}");
    b.goto(&format!("{}/projects/Web/releases/1.0.1", dev.web));
    b.choose("#space", "Prod");
    b.click("#promote button[type=submit]");
    b.wait_text("the release page again", "#promoted", |t| {
        t.contains("bundle to Prod")
    });
    wait_for("the second bundle at Prod", Duration::from_secs(30), || {
        p.json(&["bundle", "list"])
            .as_array()
            .is_some_and(|a| a.len() == 2)
    });

    // The ODCM: the trust matrix, a trust revoked and added back through the page.
    b.sign_in(&net.web, &net.api_key);
    assert_eq!(
        b.text("h1").unwrap(),
        "Dashboard".replace("Dashboard", "Spaces")
    );
    let spaces = b.text("#spaces").unwrap();
    assert!(
        spaces.contains("DevTest") && spaces.contains("enrolled"),
        "{spaces}"
    );
    b.goto(&format!("{}/trusts", net.web));
    assert!(b.exists("form[data-trust='DevTest>Prod:receipts']"));
    b.screenshot(&e2e::browser::screenshot_path(&net.dir, "trusts.png"));
    b.click("form[data-trust='DevTest>Prod:receipts'] button");
    b.wait_text("the matrix again", "h1", |t| t == "Trusts");
    assert!(!b.exists("form[data-trust='DevTest>Prod:receipts']"));
    let listed = odcm(&net, &["trust", "list"]);
    assert!(!listed.contains("receipts"), "{listed}");
    b.choose("#from", "DevTest");
    b.choose("#to", "Prod");
    b.choose("#kind", "receipts");
    b.click("#add-trust button");
    b.wait_text("the matrix again", "h1", |t| t == "Trusts");
    assert!(b.exists("form[data-trust='DevTest>Prod:receipts']"));
    let odcm_json = |args: &[&str]| -> serde_json::Value {
        let mut a = vec!["-o", "json"];
        a.extend(args);
        serde_json::from_str(&odcm(&net, &a)).unwrap()
    };
    assert_eq!(get("/api/trusts"), odcm_json(&["trust", "list"]));
    assert_eq!(get("/api/spaces"), odcm_json(&["space", "list"]));
    assert_eq!(get("/api/audit"), odcm_json(&["audit", "list"]));
    b.goto(&format!("{}/audit?verify=true", net.web));
    let v = b.text("#verified").unwrap_or_default();
    assert!(v.contains("intact"), "{v}");
    let log = b.text("#audit").unwrap_or_default();
    assert!(
        log.contains("trust_revoked") && log.contains("admin (web)"),
        "{log}"
    );
}
