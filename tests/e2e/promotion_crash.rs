//! A Space killed (SIGKILL) in the middle of importing a bundle holds, after it starts again,
//! none of the import (the bundle still pending, no Remote Project, release or package record),
//! and the import can then be done; one finished before a crash is whole.

use std::time::Duration;

use e2e::promotion::{Pair, s};
use e2e::{noise, wait_for, write_stored_tar_gz};

#[test]
fn an_import_cut_by_a_crash_is_all_or_nothing() {
    let mut pair = Pair::start();
    let d = pair.dev.cli();
    let f = |n: &str| pair.work.join(n);
    d.ok(&[
        "lifecycle",
        "create",
        "ToProd",
        "--phase",
        "Production:Prod",
    ]);
    d.ok(&["project", "create", "Big", "--lifecycle", "ToProd"]);
    d.ok(&[
        "step",
        "add",
        "--project",
        "Big",
        "--name",
        "Install",
        "--package",
        "Big.App",
    ]);
    // Large enough that re-reading it at import takes a while.
    write_stored_tar_gz(&f("Big.App.1.0.0.tgz"), "app.bin", &noise(5, 96 << 20));
    d.ok(&["package", "upload", s(&f("Big.App.1.0.0.tgz"))]);
    d.ok(&[
        "release",
        "create",
        "--project",
        "Big",
        "--version",
        "1.0.0",
    ]);
    d.ok(&[
        "release",
        "promote",
        "--project",
        "Big",
        "--version",
        "1.0.0",
        "--to-space",
        "Prod",
        "--out",
        s(&f("big.bundle")),
    ]);
    d.ok(&[
        "package",
        "export",
        "--bundle",
        s(&f("big.bundle")),
        "--out",
        s(&f("big.xfer")),
    ]);

    let p = pair.prod.cli();
    p.ok(&["env", "create", "Production"]);
    p.ok(&[
        "lifecycle",
        "create",
        "Only",
        "--phase",
        "Production:Production",
    ]);
    p.ok(&["package", "import", s(&f("big.xfer"))]);
    p.ok(&["bundle", "add", s(&f("big.bundle"))]);
    let id = p.json(&["bundle", "list"])[0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Kill the server once the import is under way (it logs before checking the packages).
    let before = pair
        .prod
        .log_text()
        .matches("importing release bundle")
        .count();
    let mut import = p.spawn(&["bundle", "import", &id]);
    wait_for("the import to start", Duration::from_secs(30), || {
        pair.prod
            .log_text()
            .matches("importing release bundle")
            .count()
            > before
    });
    pair.prod.crash();
    let _ = import.wait();
    pair.prod.start_again();

    let p = pair.prod.cli();
    let list = p.json(&["bundle", "list"]);
    let projects = p.json(&["project", "list"]);
    let packages = p.json(&["package", "list"]);
    println!("after the crash the bundle is {}", list[0]["state"]);
    match list[0]["state"].as_str() {
        Some("pending") => {
            assert_eq!(
                projects,
                serde_json::json!([]),
                "half an import: {projects}"
            );
            assert_eq!(
                packages,
                serde_json::json!([]),
                "half an import: {packages}"
            );
        }
        Some("imported") => {
            assert_eq!(projects[0]["name"], "DevTest: Big");
            assert_eq!(packages.as_array().map(Vec::len), Some(1));
        }
        other => panic!("unexpected bundle state {other:?}: {list}"),
    }
    if list[0]["state"] == "pending" {
        p.ok(&["bundle", "import", &id]);
    }
    let r = p.json(&[
        "release",
        "show",
        "--project",
        "DevTest: Big",
        "--version",
        "1.0.0",
    ]);
    assert_eq!(r["origin"]["bundle_id"], id.as_str());
    assert_eq!(p.json(&["bundle", "list"])[0]["state"], "imported");
}
