//! End to end: bundles that must not be used are refused and change nothing: one encrypted for
//! another Space, the same re-addressed and validly re-signed (values sealed for another key),
//! one of a newer schema major; and a lifecycle through a whole Space, then a remote
//! environment of another.

use e2e::odcm::Odcm;
use e2e::promotion::{odcm, resign, s, wait_peer};

#[test]
fn bundles_for_another_space_or_a_newer_schema_are_refused_and_change_nothing() {
    let a = Odcm::start("NetA");
    let b = Odcm::start("NetB");
    let (mut dev, _) = a.enrolled_space("DevTest");
    let (prod, _) = b.enrolled_space("Prod");
    let (qa, _) = b.enrolled_space("QA");
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
        &[
            "remote-space",
            "add",
            "DevTest",
            "--cert",
            s(&f("devtest.pem")),
        ],
    );
    for name in ["Prod", "QA"] {
        let pem = f(&format!("{name}.pem"));
        odcm(&b, &["space", "export-cert", name, "--out", s(&pem)]);
        odcm(&a, &["remote-space", "add", name, "--cert", s(&pem)]);
        odcm(
            &a,
            &[
                "trust", "add", "--from", "DevTest", "--to", name, "--kind", "receipts",
            ],
        );
        odcm(
            &b,
            &[
                "trust", "add", "--from", "DevTest", "--to", name, "--kind", "releases",
            ],
        );
    }
    wait_peer(&dev, "QA", 2);
    wait_peer(&prod, "DevTest", 1);
    wait_peer(&qa, "DevTest", 1);

    // A lifecycle through a whole Space (QA) and then a remote environment of another.
    let d = dev.cli();
    d.ok(&[
        "env",
        "add-remote",
        "--space",
        "Prod",
        "--name",
        "Production",
    ]);
    let err = d.fails(&["lifecycle", "create", "L", "--phase", "Staging:Nowhere"]);
    assert!(
        err.contains("neither an environment nor a known Space"),
        "{err}"
    );
    d.ok(&[
        "lifecycle",
        "create",
        "L",
        "--phase",
        "Staging:QA",
        "--phase",
        "Production:Prod: Production",
    ]);
    d.ok(&["project", "create", "Api", "--lifecycle", "L"]);
    d.ok(&[
        "step",
        "add",
        "--project",
        "Api",
        "--name",
        "Hello",
        "--script",
        "echo hello",
    ]);
    d.ok(&[
        "template",
        "set",
        "--project",
        "Api",
        "Token",
        "--kind",
        "sensitive",
    ]);
    d.ok(&[
        "variable",
        "set",
        "--project",
        "Api",
        "Token",
        "t0ken-for-qa",
    ]);
    let listed = d.json(&["variable", "list", "--project", "Api"]);
    assert_eq!(
        listed[0]["sensitive"], true,
        "a sensitive template's value is sealed: {listed}"
    );
    d.ok(&[
        "release",
        "create",
        "--project",
        "Api",
        "--version",
        "2.0.0",
    ]);
    let err = d.fails(&[
        "release",
        "promote",
        "--project",
        "Api",
        "--version",
        "2.0.0",
        "--to-space",
        "Prod",
        "--out",
        s(&f("x")),
    ]);
    assert!(
        err.contains("phase 'Staging'"),
        "Prod comes after QA: {err}"
    );
    let err = d.fails(&[
        "release",
        "promote",
        "--project",
        "Api",
        "--version",
        "2.0.0",
        "--to-space",
        "Elsewhere",
        "--out",
        s(&f("x")),
    ]);
    assert!(err.contains("not in the trust set"), "{err}");
    let qa_bundle = f("api-qa.bundle.json");
    d.ok(&[
        "release",
        "promote",
        "--project",
        "Api",
        "--version",
        "2.0.0",
        "--to-space",
        "QA",
        "--out",
        s(&qa_bundle),
    ]);
    let bytes = std::fs::read(&qa_bundle).unwrap();

    // Encrypted for QA: Prod cannot use it, and keeps nothing.
    let p = prod.cli();
    let err = p.fails(&["bundle", "add", s(&qa_bundle)]);
    assert!(
        err.contains("encrypted for space 'QA', not 'Prod'"),
        "{err}"
    );
    // The same bundle re-addressed to Prod (and validly re-signed): its values are still sealed
    // for QA's key.
    let readdressed = resign(&bytes, &dev, |st| {
        st["predicate"]["target_space"] = "Prod".into()
    });
    std::fs::write(f("readdressed.json"), &readdressed).unwrap();
    let err = p.fails(&["bundle", "add", s(&f("readdressed.json"))]);
    assert!(err.contains("not for this key"), "{err}");
    // A newer schema major, signed properly: refused naming both versions.
    let newer = resign(&bytes, &dev, |st| {
        st["predicateType"] = "urn:deploy:release-bundle:v2.0".into();
        st["predicate"]["target_space"] = "Prod".into();
    });
    std::fs::write(f("newer.json"), &newer).unwrap();
    let err = p.fails(&["bundle", "add", s(&f("newer.json"))]);
    assert!(
        err.contains("schema 2.0 is newer") && err.contains("(1.2)"),
        "{err}"
    );
    assert_eq!(p.json(&["bundle", "list"]), serde_json::json!([]));
    assert_eq!(p.json(&["project", "list"]), serde_json::json!([]));

    // QA takes it: a whole-Space phase of the source lifecycle, and exactly one lifecycle here.
    let q = qa.cli();
    q.ok(&["env", "create", "Staging"]);
    q.ok(&["lifecycle", "create", "Only", "--phase", "Staging:Staging"]);
    q.ok(&["bundle", "add", s(&qa_bundle)]);
    let id = q.json(&["bundle", "list"])[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let err = q.fails(&["bundle", "import", &id[..4]]);
    assert!(err.contains("at least 6 characters"), "{err}");
    q.ok(&["bundle", "import", &id[..8]]);
    let err = q.fails(&["bundle", "import", &id]);
    assert!(err.contains("already exists"), "{err}");
    let r = q.json(&[
        "release",
        "show",
        "--project",
        "DevTest: Api",
        "--version",
        "2.0.0",
    ]);
    assert_eq!(r["origin"]["source_space"], "DevTest", "{r}");
    let projects = q.json(&["project", "list"]);
    assert_eq!(projects[0]["remote_space"], "DevTest", "{projects}");
    let err = q.fails(&[
        "release",
        "create",
        "--project",
        "DevTest: Api",
        "--version",
        "2.0.1",
    ]);
    assert!(err.contains("Remote Project"), "{err}");

    // The source rotates its certificate: the bundles it signed before are still its own for
    // `package export` (it recorded them); a bundle it never wrote is not.
    let out = std::process::Command::new(e2e::bin("space-server"))
        .arg("rotate-cert")
        .arg("--data-dir")
        .arg(&dev.data_dir)
        .env_remove("SPACE_CONFIG")
        .output()
        .expect("rotate-cert");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dev.restart();
    let d = dev.cli();
    d.ok(&[
        "package",
        "export",
        "--bundle",
        s(&qa_bundle),
        "--out",
        s(&f("after-rotation.xfer")),
    ]);
    let err = d.fails(&[
        "package",
        "export",
        "--bundle",
        s(&f("readdressed.json")),
        "--out",
        s(&f("x.xfer")),
    ]);
    assert!(err.contains("not written by Space 'DevTest'"), "{err}");
}
