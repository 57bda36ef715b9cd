//! End to end, disconnected promotion: two networks, an `odcm` each, no network path between
//! the two Spaces (nothing in either trust set has an endpoint): DevTest deploys 1.0.0 to Dev
//! and Test, promotes it to Prod by file with a sensitive value and a template value Prod must
//! fill; Prod imports it (after the packages), fills the value, deploys to Production on its
//! own agent; the receipt file goes back and DevTest's dashboard shows "Prod: Production".
//! Then 1.0.1 with a 1% package change travels as an archive of only the changed chunks.
//! Every refusal on the way is checked to change nothing.

use e2e::agent::Agent;
use e2e::odcm::Odcm;
use e2e::promotion::{odcm, s, wait_peer};
use e2e::{noise, write_stored_tar_gz};

use crate::promotion_later::{
    PKG_LEN, audit_saw_the_crossings, next_release_travels_as_changed_chunks,
    receipts_flow_back_once, secret_is_nowhere,
};

const SECRET: &str = "pr0d-s3cret-Pw";

#[test]
fn a_release_is_promoted_by_file_deployed_in_prod_and_its_result_flows_back() {
    let a = Odcm::start("NetA");
    let b = Odcm::start("NetB");
    let (dev, _) = a.enrolled_space("DevTest");
    let (prod, _) = b.enrolled_space("Prod");
    let work = a.dir.join("carried");
    std::fs::create_dir_all(&work).unwrap();
    let f = |n: &str| work.join(n);
    odcm(
        &a,
        &[
            "space",
            "export-cert",
            "DevTest",
            "--out",
            s(&f("devtest.pem")),
        ],
    );
    odcm(
        &b,
        &["space", "export-cert", "Prod", "--out", s(&f("prod.pem"))],
    );
    // No endpoints: the Spaces cannot reach each other, files are the only path.
    odcm(
        &a,
        &["remote-space", "add", "Prod", "--cert", s(&f("prod.pem"))],
    );
    odcm(
        &b,
        &[
            "remote-space",
            "add",
            "DevTest",
            "--cert",
            s(&f("devtest.pem")),
        ],
    );
    // DevTest knows Prod (it needs its certificate to encrypt for it) but trusts no receipts yet.
    odcm(
        &a,
        &[
            "trust", "add", "--from", "Prod", "--to", "DevTest", "--kind", "releases",
        ],
    );
    wait_peer(&dev, "Prod", 1);

    // ---- DevTest: environments, a remote environment, lifecycle, project, release 1.0.0.
    let d = dev.cli();
    d.ok(&["env", "create", "Dev"]);
    d.ok(&["env", "create", "Test"]);
    d.ok(&[
        "env",
        "add-remote",
        "--space",
        "Prod",
        "--name",
        "Production",
    ]);
    let envs = d.json(&["env", "list"]);
    assert!(
        envs.as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "Prod: Production" && e["remote_space"] == "Prod"),
        "{envs}"
    );
    d.ok(&[
        "lifecycle",
        "create",
        "Main",
        "--phase",
        "Dev:Dev",
        "--phase",
        "Test:Test",
        "--phase",
        "Production:Prod: Production",
    ]);
    d.ok(&["project", "create", "Web", "--lifecycle", "Main"]);
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
        "step", "add", "--project", "Web", "--name", "Verify", "--env", "Prod: Production",
        "--script",
        &format!(
            "printf %s \"#{{DbPassword}}\" > '{}'; echo \"password is #{{DbPassword}} in #{{Region}} via #{{Url}} logging #{{LogLevel}}\"",
            s(&prod.dir.join("seen-secret"))
        ),
    ]);
    // Two values in one import; an import naming an unknown environment changes nothing.
    std::fs::write(
        f("bad-vars.json"),
        r#"[{"name": "Url", "value": "x"}, {"name": "Url", "value": "y", "environments": ["Nope"]}]"#,
    )
    .unwrap();
    let err = d.fails(&[
        "variable",
        "import",
        s(&f("bad-vars.json")),
        "--project",
        "Web",
    ]);
    assert!(err.contains("'Nope', which does not exist"), "{err}");
    assert_eq!(
        d.json(&["variable", "list", "--project", "Web"]),
        serde_json::json!([])
    );
    std::fs::write(
        f("vars.json"),
        r#"[{"name": "Url", "value": "http://dev.local", "environments": ["Dev", "Test"]},
            {"name": "Url", "value": "https://www.example.com", "environments": ["Prod: Production"]}]"#,
    )
    .unwrap();
    d.ok(&["variable", "import", s(&f("vars.json")), "--project", "Web"]);
    d.ok(&[
        "variable",
        "set",
        "--project",
        "Web",
        "DbPassword",
        SECRET,
        "--sensitive",
        "--env",
        "Prod: Production",
    ]);
    d.ok(&[
        "template",
        "set",
        "--project",
        "Web",
        "Region",
        "--mandatory",
    ]);
    // A template with a default: nobody sets it, the default applies.
    d.ok(&[
        "template",
        "set",
        "--project",
        "Web",
        "LogLevel",
        "--mandatory",
        "--default",
        "info",
    ]);
    d.ok(&[
        "variable",
        "set",
        "--project",
        "Web",
        "Region",
        "eu-dev",
        "--env",
        "Dev",
        "--env",
        "Test",
    ]);
    // A value for one of DevTest's tenants stays in DevTest.
    d.ok(&["tenant", "create", "Globex"]);
    d.ok(&[
        "variable",
        "set",
        "--project",
        "Web",
        "Url",
        "https://globex-only",
        "--tenant",
        "Globex",
    ]);
    let base = noise(42, PKG_LEN);
    let pkg = f("Acme.Web.1.0.0.tgz");
    write_stored_tar_gz(&pkg, "app.bin", &base);
    d.ok(&["package", "upload", s(&pkg)]);
    d.ok(&[
        "release",
        "create",
        "--project",
        "Web",
        "--version",
        "1.0.0",
    ]);
    let dev_agent = Agent::polling(&dev, "dev-web");
    dev_agent.register(&dev, &["Dev", "Test"], &[]);

    // Not yet: the lifecycle wants Dev and Test first, and a remote environment is not deployed to.
    let err = d.fails(&[
        "release",
        "promote",
        "--project",
        "Web",
        "--version",
        "1.0.0",
        "--to-space",
        "Prod",
        "--out",
        s(&f("early.bundle")),
    ]);
    assert!(err.contains("cannot be promoted to space 'Prod'"), "{err}");
    assert!(!f("early.bundle").exists());
    let err = d.fails(&[
        "release",
        "deploy",
        "--project",
        "Web",
        "--version",
        "1.0.0",
        "--env",
        "Prod: Production",
    ]);
    assert!(
        err.contains("remote environment owned by space 'Prod'"),
        "{err}"
    );
    for env in ["Dev", "Test"] {
        d.ok(&[
            "release",
            "deploy",
            "--project",
            "Web",
            "--version",
            "1.0.0",
            "--env",
            env,
        ]);
    }

    // ---- Promote: the bundle holds no secret in the clear.
    let bundle = f("web-1.0.0.bundle.json");
    let out = d.json(&[
        "release",
        "promote",
        "--project",
        "Web",
        "--version",
        "1.0.0",
        "--to-space",
        "Prod",
        "--out",
        s(&bundle),
    ]);
    assert_eq!(out["sensitive"], 1, "{out}");
    let bytes = std::fs::read(&bundle).unwrap();
    assert!(!String::from_utf8_lossy(&bytes).contains(SECRET));
    let env_json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(env_json["payloadType"], "application/vnd.in-toto+json");

    // ---- Prod: its own environment, lifecycle and agent; an inventory of what it holds.
    let p = prod.cli();
    p.ok(&["env", "create", "Production"]);
    p.ok(&[
        "lifecycle",
        "create",
        "ProdLife",
        "--phase",
        "Production:Production",
    ]);
    let prod_agent = Agent::polling(&prod, "prod-web");
    prod_agent.register(&prod, &["Production"], &[]);

    // Refused while Prod does not trust DevTest for releases; nothing is kept.
    let err = p.fails(&["bundle", "add", s(&bundle)]);
    assert!(err.contains("does not trust for releases"), "{err}");
    assert_eq!(p.json(&["bundle", "list"]), serde_json::json!([]));
    odcm(
        &b,
        &[
            "trust", "add", "--from", "DevTest", "--to", "Prod", "--kind", "releases",
        ],
    );
    wait_peer(&prod, "DevTest", 1);
    // A changed byte is refused.
    let mut tampered = bytes.clone();
    let i = tampered.len() / 2;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    std::fs::write(f("tampered.json"), &tampered).unwrap();
    assert!(
        p.fails(&["bundle", "add", s(&f("tampered.json"))])
            .contains("bundle")
    );
    assert_eq!(p.json(&["bundle", "list"]), serde_json::json!([]));

    p.ok(&["bundle", "add", s(&bundle)]);
    p.ok(&["bundle", "add", s(&bundle)]); // again: nothing changes
    let list = p.json(&["bundle", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["state"], "pending");
    assert_eq!(list[0]["packages_missing"], 1);
    let id = list[0]["id"].as_str().unwrap().to_string();
    let json = p.ok(&["bundle", "show", &id[..10], "-o", "json"]);
    assert!(
        !json.contains("globex"),
        "tenant values never travel: {json}"
    );
    assert!(
        json.lines().count() > 10,
        "indented like every -o json: {json}"
    );
    let shown = p.ok(&["bundle", "show", &id[..10]]);
    assert!(
        shown.contains("DbPassword = ********") && !shown.contains(SECRET),
        "{shown}"
    );
    assert!(
        shown.contains("missing") && shown.contains("Region"),
        "{shown}"
    );

    // A package missing at import: refused, nothing created.
    let err = p.fails(&["bundle", "import", &id]);
    assert!(err.contains("import its transfer archive first"), "{err}");
    assert_eq!(p.json(&["project", "list"]), serde_json::json!([]));

    // Packages by file: the inventory goes to DevTest, the archive comes back.
    p.ok(&["package", "inventory", "--out", s(&f("prod.inv"))]);
    let archive = f("web-1.0.0.xfer");
    d.ok(&[
        "package",
        "export",
        "--bundle",
        s(&bundle),
        "--inventory",
        s(&f("prod.inv")),
        "--out",
        s(&archive),
    ]);
    // A chunk changed in transit is refused.
    let mut bad = std::fs::read(&archive).unwrap();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x55;
    std::fs::write(f("bad.xfer"), &bad).unwrap();
    let err = p.fails(&["package", "import", s(&f("bad.xfer"))]);
    assert!(
        err.contains("does not match") || err.contains("checksum"),
        "{err}"
    );
    p.ok(&["package", "import", s(&archive)]);

    let out = p.ok(&["bundle", "import", &id]);
    assert!(
        out.contains("Region"),
        "missing values are listed at import: {out}"
    );
    let project = "DevTest: Web";
    let missing = p.json(&[
        "release",
        "missing-variables",
        "--project",
        project,
        "--version",
        "1.0.0",
    ]);
    assert_eq!(
        missing,
        serde_json::json!([{"environment": "Production", "tenant": null, "variables": ["Region"]}])
    );
    let err = p.fails(&[
        "release",
        "deploy",
        "--project",
        project,
        "--version",
        "1.0.0",
        "--env",
        "Production",
    ]);
    assert!(
        err.contains("Region") && err.contains("Production"),
        "{err}"
    );
    // What built the release is read-only; template values are not.
    let err = p.fails(&[
        "step",
        "add",
        "--project",
        project,
        "--name",
        "Extra",
        "--script",
        "true",
    ]);
    assert!(err.contains("Remote Project"), "{err}");
    let err = p.fails(&[
        "variable",
        "set",
        "--project",
        project,
        "Url",
        "http://elsewhere",
    ]);
    assert!(err.contains("not a variable template"), "{err}");
    p.ok(&[
        "variable",
        "set",
        "--project",
        project,
        "Region",
        "eu-prod",
        "--env",
        "Production",
    ]);
    let log = p.ok(&[
        "release",
        "deploy",
        "--project",
        project,
        "--version",
        "1.0.0",
        "--env",
        "Production",
    ]);
    assert!(
        log.contains("password is ******** in eu-prod via https://www.example.com logging info"),
        "{log}"
    );
    assert!(!log.contains(SECRET));
    assert_eq!(
        std::fs::read_to_string(prod.dir.join("seen-secret")).unwrap(),
        SECRET
    );

    // ---- Receipts back: refused until DevTest trusts Prod for receipts, then applied once.
    receipts_flow_back_once(&a, &dev, &d, &p, &work);

    // ---- 1.0.1 with a 1% change: only the changed chunks travel.
    next_release_travels_as_changed_chunks(&d, &p, &work, &base, project);

    // ---- The secret is in no log line and in no file of either Space, except where the
    // script that was meant to see it wrote it.
    std::fs::remove_file(prod.dir.join("seen-secret")).unwrap();
    secret_is_nowhere(&[&dev, &prod], SECRET);
    audit_saw_the_crossings(&a, &b);
}
