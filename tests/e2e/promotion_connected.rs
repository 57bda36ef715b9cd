//! End to end, connected Spaces (one ODCM, peer endpoints known): a release is offered to Prod
//! over the peer link (refused until Prod trusts DevTest for releases), Prod fetches the chunks
//! it lacks from DevTest (each verified), imports and deploys it on its own agent, and its
//! outbox delivers the signed receipt back over the link; DevTest's dashboard shows the result.

use std::time::Duration;

use e2e::agent::Agent;
use e2e::odcm::Odcm;
use e2e::peers::{fetch_chunks_as, space_identity};
use e2e::promotion::{audit_kinds, odcm, s, wait_peer};
use e2e::{noise, wait_for, write_stored_tar_gz};

#[test]
fn a_release_is_pushed_fetched_deployed_and_its_receipt_delivered() {
    let net = Odcm::start("Net");
    let (dev, _) = net.enrolled_space("DevTest");
    let (prod, _) = net.enrolled_space("Prod");
    odcm(
        &net,
        &[
            "trust", "add", "--from", "DevTest", "--to", "Prod", "--kind", "receipts",
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
        "Install",
        "--package",
        "Acme.Web",
    ]);
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
    let pkg = dev.dir.join("Acme.Web.1.0.0.tgz");
    write_stored_tar_gz(&pkg, "app.bin", &noise(3, 4 << 20));
    d.ok(&["package", "upload", s(&pkg)]);
    d.ok(&[
        "release",
        "create",
        "--project",
        "Web",
        "--version",
        "1.0.0",
    ]);

    let p = prod.cli();
    p.ok(&["env", "create", "Production"]);
    p.ok(&[
        "lifecycle",
        "create",
        "Only",
        "--phase",
        "Production:Production",
    ]);
    let agent = Agent::polling(&prod, "prod-web");
    agent.register(&prod, &["Production"], &[]);

    // Not trusted for releases yet: refused by Prod, nothing kept there.
    let err = d.fails(&[
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
        err.contains("does not trust space 'DevTest' for releases"),
        "{err}"
    );
    assert_eq!(p.json(&["bundle", "list"]), serde_json::json!([]));
    odcm(
        &net,
        &[
            "trust", "add", "--from", "DevTest", "--to", "Prod", "--kind", "releases",
        ],
    );
    wait_peer(&prod, "DevTest", 2);

    let out = d.json(&[
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
        out["state"].as_str().unwrap().starts_with("offered"),
        "{out}"
    );
    wait_for(
        "Prod to fetch the packages",
        Duration::from_secs(30),
        || {
            let l = p.json(&["bundle", "list"]);
            l.as_array().is_some_and(|a| a.len() == 1) && l[0]["packages_missing"] == 0
        },
    );
    let id = p.json(&["bundle", "list"])[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // DevTest serves chunks only to the Space the bundle went to, only that bundle's.
    let (qa, _) = net.enrolled_space("QA");
    let (qa_id, ca) = space_identity(&qa);
    let (prod_id, _) = space_identity(&prod);
    let m = d.json(&["package", "show", "Acme.Web", "1.0.0"]);
    assert!(m["chunks"].as_u64().unwrap() > 1, "{m}");
    let err = fetch_chunks_as(&dev, &ca, &qa_id, &id, vec![vec![0u8; 32]]).unwrap_err();
    assert!(
        err.contains("PermissionDenied") && err.contains("to space 'QA'"),
        "{err}"
    );
    let err = fetch_chunks_as(&dev, &ca, &prod_id, &id, vec![vec![7u8; 32]]).unwrap_err();
    assert!(
        err.contains("PermissionDenied") && err.contains("not part of bundle"),
        "{err}"
    );
    let err = fetch_chunks_as(&dev, &ca, &prod_id, &id, vec![vec![7u8; 32]; 1025]).unwrap_err();
    assert!(err.contains("InvalidArgument"), "{err}");
    assert_eq!(fetch_chunks_as(&dev, &ca, &prod_id, &id, vec![]), Ok(0));
    let again = p.json(&["bundle", "fetch", &id]);
    assert_eq!(again["chunks_fetched"], 0, "nothing left to fetch: {again}");
    p.ok(&["bundle", "import", &id]);
    let log = p.ok(&[
        "release",
        "deploy",
        "--project",
        "DevTest: Web",
        "--version",
        "1.0.0",
        "--env",
        "Production",
    ]);
    assert!(
        log.contains("hello from Production") || log.contains("hello from"),
        "{log}"
    );

    // The receipt goes back over the link by itself (Prod's outbox), counted as sent once
    // DevTest accepted it; `receipt send` then has nothing left to send.
    wait_for(
        "the receipt to stream back",
        Duration::from_secs(30),
        || {
            let dash = d.json(&["dashboard"]);
            dash["projects"][0]["environments"]["Prod: Production"]["state"] == "success"
        },
    );
    // (The outbox marks them sent just after DevTest applied them: wait for that.)
    wait_for("Prod's outbox to be empty", Duration::from_secs(30), || {
        let o = p.run(&["receipt", "send"]);
        o.status.success() && String::from_utf8_lossy(&o.stderr).contains("nothing to send")
    });
    let dash = d.json(&["dashboard"]);
    let cell = dash["projects"][0]["environments"]["Prod: Production"].clone();
    assert_eq!(cell["state"], "success", "{dash}");
    assert!(cell["receipt_received_at"].is_string(), "{cell}");
    wait_for("the audit events", Duration::from_secs(15), || {
        let k = audit_kinds(&net);
        [
            "bundle_sent",
            "bundle_refused",
            "bundle_accepted",
            "receipt_sent",
            "receipt_accepted",
        ]
        .iter()
        .all(|x| k.iter().any(|y| y.contains(x)))
    });
}
