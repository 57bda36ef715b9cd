//! Receipts produced while the link is cut wait in the target's outbox and arrive once, in
//! order, after it heals (a TCP proxy in front of DevTest's peer listener slows the link down
//! and cuts it).

use std::time::Duration;

use e2e::agent::Agent;
use e2e::odcm::Odcm;
use e2e::promotion::{
    connected_pair, importing_target, package_project, script_project, to_prod_lifecycle,
};
use e2e::proxy::Proxy;
use e2e::wait_for;

/// Receipts DevTest applied, from its log.
fn applied(dev: &e2e::Space) -> u64 {
    dev.log_text()
        .lines()
        .filter(|l| l.contains("deployment receipts imported"))
        .filter_map(|l| {
            l.split("applied=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

/// DevTest and Prod with `kinds` trusts, DevTest's peer listener behind a proxy that can cut it.
fn proxied_pair(net: &Odcm, kinds: &[&str]) -> (Proxy, e2e::Space, e2e::Space) {
    let proxy = Proxy::start();
    let endpoint = format!("https://{}", proxy.address);
    let (dev, prod) = connected_pair(net, &[("SPACE_PEER_ENDPOINT", &endpoint)], kinds);
    proxy.forward_to(&dev.peer_address);
    (proxy, dev, prod)
}

#[test]
fn receipts_made_during_a_cut_arrive_once_after_it_heals() {
    let net = Odcm::start("Net");
    let (proxy, dev, prod) = proxied_pair(&net, &["releases", "receipts"]);
    // A long link: 150 ms each way on every call to DevTest (a 300 ms round trip).
    proxy.set_latency(Duration::from_millis(150));
    let ping = prod.cli().json(&["space", "ping", "--peer", "DevTest"]);
    assert!(
        ping["millis"].as_u64().unwrap() >= 300,
        "a round trip at least: {ping}"
    );

    let p = prod.cli();
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
    wait_for(
        "Prod to import the release",
        Duration::from_secs(30),
        || {
            p.json(&["bundle", "list"])
                .as_array()
                .is_some_and(|a| a.len() == 1 && a[0]["state"] == "imported")
        },
    );

    // The link to DevTest is cut; Prod deploys three times meanwhile.
    proxy.set_cut(true);
    for _ in 0..3 {
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
    }
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(applied(&dev), 0, "nothing crossed the cut link");
    assert!(
        prod.log_text().contains("receipts wait in the outbox"),
        "the outbox keeps them while DevTest cannot be reached"
    );
    // Forcing a send says which peer cannot be reached (not the local server's address).
    let o = p.run(&["receipt", "send"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(
        err.contains("calling Space 'DevTest'") && !err.contains("is the server running"),
        "{err}"
    );

    proxy.set_cut(false);
    wait_for(
        "the three receipts to arrive",
        Duration::from_secs(60),
        || applied(&dev) == 3,
    );
    let cell = d.json(&["dashboard"])["projects"][0]["environments"]["Prod: Production"].clone();
    assert_eq!(cell["state"], "success", "{cell}");
    assert!(
        cell["deployment"]
            .as_str()
            .unwrap()
            .ends_with("Deployments-3"),
        "{cell}"
    );
    // Once: the outbox ends empty (a forced send meanwhile only repeats what DevTest has
    // applied already), and nothing is applied twice.
    wait_for("Prod's outbox to be empty", Duration::from_secs(30), || {
        let o = p.run(&["receipt", "send"]);
        o.status.success() && String::from_utf8_lossy(&o.stderr).contains("nothing to send")
    });
    assert_eq!(applied(&dev), 3);
    assert!(!dev.log_text().contains("receipts refused"));
}

/// A fetch cut by the link and then by kill -9 of the target resumes by itself after the
/// restart: the bundle's packages arrive and it is imported by rule, with no command.
#[test]
fn a_fetch_cut_by_a_crash_resumes_by_itself_after_the_restart() {
    let net = Odcm::start("Net");
    let (proxy, dev, mut prod) = proxied_pair(&net, &["releases"]);
    let p = prod.cli();
    importing_target(&prod, "Production:Production");

    let d = dev.cli();
    to_prod_lifecycle(&dev, "");
    package_project(&dev, "Web", "ToProd", 9, 8 << 20);
    d.ok(&[
        "release",
        "create",
        "--project",
        "Web",
        "--version",
        "1.0.0",
    ]);

    // Prod cannot reach DevTest to fetch; the offer (DevTest -> Prod) still lands.
    proxy.set_cut(true);
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
    let pending = p.json(&["bundle", "list"]);
    assert_eq!(pending[0]["state"], "pending", "{pending}");
    assert_ne!(pending[0]["packages_missing"], 0, "{pending}");
    prod.crash(); // kill -9
    proxy.set_cut(false);
    prod.start_again();
    let p = prod.cli();
    wait_for(
        "the fetch to resume and the import to follow",
        Duration::from_secs(60),
        || {
            let l = p.json(&["bundle", "list"]);
            l[0]["state"] == "imported" && l[0]["packages_missing"] == 0
        },
    );
    let r = p.json(&["release", "list", "--project", "DevTest: Web"]);
    assert_eq!(r.as_array().map(Vec::len), Some(1), "{r}");
}

/// kill -9 of the source in the middle of replication: the target keeps what arrived, and
/// once the source is back the fetch resumes by itself from where it stopped; the release
/// arrives once, byte for byte.
#[test]
fn a_source_killed_during_replication_is_resumed_from_once_it_returns() {
    let net = Odcm::start("Net");
    let (proxy, mut dev, prod) = proxied_pair(&net, &["releases"]);
    let p = prod.cli();
    importing_target(&prod, "Production:Production");
    let d = dev.cli();
    to_prod_lifecycle(&dev, ":auto");
    package_project(&dev, "Web", "ToProd", 13, 12 << 20);
    // A long link, so that the fetch (512 chunks per call) takes a few round trips.
    proxy.set_latency(Duration::from_millis(500));
    d.ok(&[
        "release",
        "create",
        "--project",
        "Web",
        "--version",
        "1.0.0",
    ]);
    let mut done_at_kill = 0;
    wait_for("the fetch to be under way", Duration::from_secs(60), || {
        let f = &p.json(&["bundle", "list"])[0]["fetch"];
        done_at_kill = f["chunks_done"].as_u64().unwrap_or(0);
        done_at_kill > 0 && done_at_kill < f["chunks_total"].as_u64().unwrap_or(0)
    });
    dev.crash(); // kill -9 of the source
    wait_for("Prod to notice the cut", Duration::from_secs(30), || {
        p.json(&["bundle", "list"])[0]["fetch"].is_null()
    });
    let pending = p.json(&["bundle", "list"]);
    assert_eq!(pending[0]["state"], "pending", "{pending}");
    assert_ne!(pending[0]["packages_missing"], 0, "{pending}");
    proxy.set_latency(Duration::ZERO);
    dev.start_again();
    let d = dev.cli();
    wait_for(
        "the fetch to resume and the import to follow",
        Duration::from_secs(90),
        || p.json(&["bundle", "list"])[0]["state"] == "imported",
    );
    let l = p.json(&["bundle", "list"]);
    assert_eq!(l.as_array().map(Vec::len), Some(1), "one bundle: {l}");
    let resumed = prod
        .log_text()
        .lines()
        .rev()
        .find(|l| l.contains("bundle packages fetched"))
        .unwrap_or_default()
        .to_string();
    let total = d.json(&["package", "show", "Acme.Web", "1.0.0"])["chunks"]
        .as_u64()
        .unwrap();
    let after: u64 = resumed
        .split_whitespace()
        .find_map(|w| w.strip_prefix("chunks="))
        .and_then(|v| v.parse().ok())
        .unwrap_or(total);
    println!("{done_at_kill} chunks before the kill, {after} after, of {total}");
    assert!(after < total, "resumed, not started over: {resumed}");
    let r = p.json(&["release", "list", "--project", "DevTest: Web"]);
    assert_eq!(r.as_array().map(Vec::len), Some(1), "{r}");
    let back = prod.dir.join("back.tgz");
    p.ok(&[
        "package",
        "download",
        "Acme.Web",
        "1.0.0",
        "--out",
        back.to_str().unwrap(),
    ]);
    assert!(
        std::fs::read(&back).unwrap() == std::fs::read(dev.dir.join("Acme.Web.1.0.0.tgz")).unwrap(),
        "byte for byte"
    );
    let promos = d.json(&["promotion", "list"]);
    assert_eq!(promos.as_array().map(Vec::len), Some(1), "{promos}");
}

/// kill -9 of the Space whose outbox holds receipts (the link to their source cut): after the
/// restart they leave by themselves once the link heals, and each is applied once.
#[test]
fn receipts_waiting_in_an_outbox_survive_a_kill_and_arrive_once() {
    let net = Odcm::start("Net");
    let (proxy, dev, mut prod) = proxied_pair(&net, &["releases", "receipts"]);
    let p = prod.cli();
    importing_target(&prod, "Production:Production");
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
    wait_for(
        "Prod to import the release",
        Duration::from_secs(30),
        || {
            p.json(&["bundle", "list"])
                .as_array()
                .is_some_and(|a| a.len() == 1 && a[0]["state"] == "imported")
        },
    );
    proxy.set_cut(true);
    {
        let _agent = Agent::connected(&prod, "prod-web", &["Production"], &[]);
        for _ in 0..2 {
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
        }
    }
    wait_for("the outbox to hold them", Duration::from_secs(30), || {
        prod.log_text().contains("receipts wait in the outbox")
    });
    prod.crash(); // kill -9 with both receipts unsent
    assert_eq!(applied(&dev), 0);
    proxy.set_cut(false);
    prod.start_again();
    wait_for("both receipts to arrive", Duration::from_secs(60), || {
        applied(&dev) == 2
    });
    let p = prod.cli();
    wait_for("Prod's outbox to be empty", Duration::from_secs(30), || {
        let o = p.run(&["receipt", "send"]);
        o.status.success() && String::from_utf8_lossy(&o.stderr).contains("nothing to send")
    });
    assert_eq!(applied(&dev), 2, "each applied once");
}
