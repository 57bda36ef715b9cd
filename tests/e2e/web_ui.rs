//! The Space's web UI in a real browser (headless Chromium): sign in with an API key, the
//! dashboard against known deployments including a remote environment whose result came back
//! in a receipt, a cell changing live when a deployment finishes, deploying from a release's
//! page, a viewer who sees no deploy button and is refused when posting anyway, forms without
//! their CSRF token refused, and the JSON endpoint giving what `deploy dashboard -o json`
//! gives. Screenshots go to docs/screenshots/.

use std::time::Duration;

use e2e::browser::Browser;
use e2e::promotion::{connected_pair, importing_target, script_project};
use e2e::{Space, wait_for};

/// DevTest deployed Web 1.0.0 to Staging, promoted it to Prod, and Prod's result came back.
fn promoted_pair() -> (e2e::odcm::Odcm, Space, Space, Vec<e2e::agent::Agent>) {
    let net = e2e::odcm::Odcm::start("Net");
    let (dev, prod) = connected_pair(&net, &[], &["releases", "receipts"]);
    let d = dev.cli();
    d.ok(&["env", "create", "Staging"]);
    d.ok(&[
        "lifecycle",
        "create",
        "Main",
        "--phase",
        "S:Staging",
        "--phase",
        "Production:Prod",
    ]);
    script_project(&dev, "Web", "Main", "echo hello from #{Environment.Name}");
    importing_target(&prod, "Production:Production:auto");
    let agents = vec![
        e2e::agent::Agent::connected(&dev, "web-1", &["Staging"], &[]),
        e2e::agent::Agent::connected(&prod, "prod-1", &["Production"], &[]),
    ];
    d.ok(&[
        "release",
        "create",
        "--project",
        "Web",
        "--version",
        "1.0.0",
    ]);
    d.ok(&[
        "release",
        "deploy",
        "--project",
        "Web",
        "--version",
        "1.0.0",
        "--env",
        "Staging",
    ]);
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
    wait_for(
        "Prod's result back at DevTest",
        Duration::from_secs(60),
        || {
            let dash = d.json(&["dashboard"]);
            dash["projects"][0]["environments"]["Prod: Production"]["state"] == "success"
        },
    );
    (net, dev, prod, agents)
}

#[test]
fn the_dashboard_shows_remote_results_follows_live_and_deploys_where_allowed() {
    let Some(b) = Browser::start() else { return };
    let (_net, dev, _prod, _agents) = promoted_pair();
    let d = dev.cli();

    // Not signed in: to the sign-in page; a wrong key is refused there.
    b.goto(&format!("{}/", dev.web));
    assert!(b.url().contains("/login?next=/"), "{}", b.url());
    b.fill("#key", "dk_not_a_key");
    b.click("form.login button[type=submit]");
    b.wait_text("the refusal", "[role=alert]", |t| {
        t.contains("not valid here")
    });
    b.sign_in(&dev.web, &dev.api_key);

    // The matrix: Staging (local) and "Prod: Production" (remote, from the receipt).
    let head = b.text("table.dashboard thead").unwrap();
    assert!(
        head.contains("Staging") && head.contains("Prod: Production (remote)"),
        "{head}"
    );
    let cells = b.js(
        "return [...document.querySelectorAll('table.dashboard tbody td')].map(td => [td.dataset.state || '', td.innerText]);",
    );
    let cells = cells.as_array().unwrap();
    assert_eq!(cells.len(), 2, "{cells:?}");
    assert_eq!(cells[0][0], "success");
    assert!(cells[0][1].as_str().unwrap().contains("1.0.0"), "{cells:?}");
    assert_eq!(cells[1][0], "success");
    assert!(
        cells[1][1].as_str().unwrap().contains("receipt received")
            && cells[1][1].as_str().unwrap().contains("just now"),
        "{cells:?}"
    );
    assert!(
        cells[0][1].as_str().unwrap().contains("success"),
        "state in words, not colour alone"
    );
    let shot = e2e::browser::screenshot_path(&dev.dir, "dashboard.png");
    b.screenshot(&shot);
    assert!(
        std::fs::metadata(&shot).unwrap().len() > 10_000,
        "a real picture"
    );
    // A narrow window: the page does not scroll sideways (wide tables scroll in their box).
    b.resize(400, 800);
    let fits = b.js("return document.documentElement.scrollWidth <= window.innerWidth + 1;");
    assert_eq!(fits, true, "the page fits a narrow window");
    b.resize(1280, 800);

    // The JSON behind the page is the CLI's `dashboard -o json` (the heartbeat time aside).
    let api =
        b.js_async("fetch('/api/dashboard').then(r => r.json()).then(done, e => done(String(e)));");
    let cli = d.json(&["dashboard"]);
    let strip = |mut v: serde_json::Value| {
        v["projects"][0]["environments"]["Prod: Production"]["last_heard_at"] =
            serde_json::Value::Null;
        v["projects"][0]["environments"]["Prod: Production"]["stale"] = serde_json::Value::Null;
        v
    };
    assert_eq!(strip(api), strip(cli));
    let get = |path: &str| b.get_json(path);
    assert_eq!(
        get("/api/deployments/Deployments-1"),
        d.json(&["deployment", "show", "Deployments-1"])
    );
    assert_eq!(
        get("/api/projects/Web/releases/1.0.0"),
        d.json(&["release", "show", "--project", "Web", "--version", "1.0.0"])
    );
    assert_eq!(
        get("/api/projects/Web/releases"),
        d.json(&["release", "list", "--project", "Web"])
    );

    // Live: a deployment finishing elsewhere changes the cell without a reload.
    b.js("window.notReloaded = true; return null;");
    d.ok(&[
        "release",
        "create",
        "--project",
        "Web",
        "--version",
        "1.0.1",
    ]);
    d.ok(&[
        "release",
        "deploy",
        "--project",
        "Web",
        "--version",
        "1.0.1",
        "--env",
        "Staging",
    ]);
    b.wait_text(
        "the Staging cell to show 1.0.1",
        "table.dashboard tbody td",
        |t| t.contains("1.0.1") && t.contains("success"),
    );
    assert_eq!(b.js("return window.notReloaded === true;"), true);

    // Deploying from the release's page: the form, then the deployment's page.
    b.goto(&format!("{}/projects/Web/releases/1.0.1", dev.web));
    assert!(b.exists("#deploy"), "an admin may deploy");
    b.choose("#target", "Staging");
    b.click("#deploy button[type=submit]");
    b.wait_text("the deployment page", "h1", |t| {
        t.starts_with("Deployment Deployments-")
    });
    b.wait_text("the deployment to end", "#state", |t| t.contains("success"));
    b.wait_text("the log", "pre.log", |t| t.contains("hello from Staging"));

    // Every answer limits the page to this site's own scripts and is never framed.
    let csp = b.js_async(
        "fetch('/').then(r => done([r.headers.get('content-security-policy'), r.headers.get('x-frame-options')]));",
    );
    assert!(
        csp[0].as_str().unwrap().contains("default-src 'self'"),
        "{csp}"
    );
    assert_eq!(csp[1], "DENY");

    // A form without its CSRF token is refused.
    let status = b.js_async(
        "fetch('/projects/Web/releases/1.0.1/deploy', {method: 'POST', body: new URLSearchParams({csrf: 'x', target: JSON.stringify(['Staging', ''])})}).then(r => done(r.status));",
    );
    assert_eq!(status, 403);

    // A viewer: no deploy button, and refused when posting anyway with a good token.
    d.ok(&["user", "create", "vera"]);
    d.ok(&["team", "create", "viewers", "--member", "vera"]);
    d.ok(&["team", "grant", "viewers", "--role", "viewer"]);
    let o = d.run_with_stdin(
        &["user", "password", "vera", "--password-stdin"],
        Some("short\n"),
    );
    assert!(!o.status.success(), "too short a password is refused");
    let o = d.run_with_stdin(
        &["user", "password", "vera", "--password-stdin"],
        Some("vera's long passphrase\n"),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    b.click("form.logout button[type=submit]");
    b.wait_text("the sign-in page", "h1", |t| t == "Sign in");
    b.fill("#user", "vera");
    b.fill("#password", "not her password");
    b.click("form.login button[type=submit]");
    b.wait_text("the refusal", "[role=alert]", |t| {
        t.contains("wrong user name or password")
    });
    b.sign_in_password(&dev.web, "vera", "vera's long passphrase");
    b.goto(&format!("{}/projects/Web/releases/1.0.1", dev.web));
    assert!(!b.exists("#deploy") && b.exists("#no-deploy"));
    let before = d.json(&["deployment", "list"]).as_array().unwrap().len();
    let status = b.js_async(
        "const csrf = document.querySelector('form.logout input[name=csrf]').value;\
         fetch('/projects/Web/releases/1.0.1/deploy', {method: 'POST', body: new URLSearchParams({csrf, target: JSON.stringify(['Staging', ''])})}).then(r => r.text().then(t => done([r.status, t])));",
    );
    assert_eq!(status[0], 403, "{status}");
    assert!(
        status[1]
            .as_str()
            .unwrap()
            .contains("&#39;vera&#39; may not deploy in environment &#39;Staging&#39;"),
        "{status}"
    );
    assert_eq!(
        d.json(&["deployment", "list"]).as_array().unwrap().len(),
        before
    );
    let refused = d.json(&["audit", "list", "--refused", "--user", "vera"]);
    assert!(refused.to_string().contains("web POST deploy"), "{refused}");
}
