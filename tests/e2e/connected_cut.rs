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
        String::from_utf8_lossy(&o.stderr).contains("no receipts to export")
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
