//! The second half of the disconnected promotion scenario (`promotion.rs`): the next release
//! travels as only its changed chunks, and afterwards no secret is anywhere and both audit
//! logs saw what crossed and verify.

use std::path::Path;
use std::time::Duration;

use e2e::odcm::Odcm;
use e2e::promotion::{audit_kinds, files_under, odcm, s, wait_peer};
use e2e::{Cli, Space, wait_for, write_stored_tar_gz};

pub(crate) const PKG_LEN: usize = 8 * 1024 * 1024;

/// Version 1.0.1: about 1% of the bytes changed, in 20 places spread over the file.
fn changed(base: &[u8]) -> Vec<u8> {
    let mut next = base.to_vec();
    for i in 0..20 {
        let at = i * (PKG_LEN / 20) + 7777;
        for (k, b) in next[at..at + 4096].iter_mut().enumerate() {
            *b ^= (k as u8) | 1;
        }
    }
    next
}

/// Prod (`p`) exports the receipt of its deployment (a file that cannot be written marks
/// nothing exported); DevTest (`d`, Space `dev` of ODCM `a`) refuses it until it trusts Prod for
/// receipts, then applies it once; a range exports again and applying it changes nothing;
/// DevTest's dashboard shows Prod's result.
pub(crate) fn receipts_flow_back_once(a: &Odcm, dev: &Space, d: &Cli, p: &Cli, work: &Path) {
    let f = |n: &str| work.join(n);
    let receipts = f("receipts.json");
    // A file that cannot be written does not mark the receipts exported.
    let nowhere = work.join("no-such-dir").join("r.json");
    assert!(
        !p.fails(&["receipt", "export", "--out", s(&nowhere)])
            .is_empty()
    );
    p.ok(&["receipt", "export", "--out", s(&receipts)]);
    let err = d.fails(&["receipt", "import", s(&receipts)]);
    assert!(err.contains("does not trust for receipts"), "{err}");
    odcm(
        a,
        &[
            "trust", "add", "--from", "DevTest", "--to", "Prod", "--kind", "receipts",
        ],
    );
    wait_peer(dev, "Prod", 2);
    let r = d.json(&["receipt", "import", s(&receipts)]);
    assert_eq!(r["applied"], 1, "{r}");
    // Applying it again is not an error: nothing new (exit 0, stdout says 0 applied).
    let o = d.run(&["receipt", "import", s(&receipts), "-o", "json"]);
    assert!(o.status.success());
    let again: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (again["applied"].as_u64(), again["already_applied"].as_u64()),
        (Some(0), Some(1))
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("nothing new"));
    // Nothing new to export, but a range exports again; applying it again changes nothing.
    let err = p.fails(&["receipt", "export", "--out", s(&f("none.json"))]);
    assert!(err.contains("no receipts to export"), "{err}");
    p.ok(&[
        "receipt",
        "export",
        "--out",
        s(&f("again.json")),
        "--range",
        "1..",
    ]);
    let again = d.json(&["receipt", "import", s(&f("again.json"))]);
    assert_eq!(again["applied"], 0, "{again}");
    let dash = d.json(&["dashboard"]);
    let cell = dash["projects"][0]["environments"]["Prod: Production"].clone();
    assert_eq!(cell["version"], "1.0.0");
    assert_eq!(cell["state"], "success");
    assert!(cell["receipt_received_at"].is_string(), "{cell}");
    let table = d.ok(&["dashboard"]);
    assert!(table.contains("Prod: Production"), "{table}");
}

/// DevTest (`d`) releases 1.0.1 with a 1% change, deploys it to Dev and Test and promotes it;
/// the transfer archive made with Prod's (`p`) inventory holds only the changed chunks; Prod
/// imports and deploys it to Production of `project` (its template value still applies).
pub(crate) fn next_release_travels_as_changed_chunks(
    d: &Cli,
    p: &Cli,
    work: &Path,
    base: &[u8],
    project: &str,
) {
    let f = |n: &str| work.join(n);
    let pkg2 = f("Acme.Web.1.0.1.tgz");
    write_stored_tar_gz(&pkg2, "app.bin", &changed(base));
    d.ok(&["package", "upload", s(&pkg2)]);
    d.ok(&[
        "release",
        "create",
        "--project",
        "Web",
        "--version",
        "1.0.1",
    ]);
    for env in ["Dev", "Test"] {
        d.ok(&[
            "release",
            "deploy",
            "--project",
            "Web",
            "--version",
            "1.0.1",
            "--env",
            env,
        ]);
    }
    let bundle2 = f("web-1.0.1.bundle.json");
    d.ok(&[
        "release",
        "promote",
        "--project",
        "Web",
        "--version",
        "1.0.1",
        "--to-space",
        "Prod",
        "--out",
        s(&bundle2),
    ]);
    p.ok(&["package", "inventory", "--out", s(&f("prod2.inv"))]);
    let full = d.json(&[
        "package",
        "export",
        "--bundle",
        s(&bundle2),
        "--out",
        s(&f("full.xfer")),
    ]);
    let delta = d.json(&[
        "package",
        "export",
        "--bundle",
        s(&bundle2),
        "--inventory",
        s(&f("prod2.inv")),
        "--out",
        s(&f("delta.xfer")),
    ]);
    let full_len = std::fs::metadata(f("full.xfer")).unwrap().len();
    let delta_len = std::fs::metadata(f("delta.xfer")).unwrap().len();
    // Prod holds 1.0.0 whole: its inventory names the package, not its chunks.
    let inv_len = std::fs::metadata(f("prod2.inv")).unwrap().len();
    assert!(inv_len < 512, "inventory of {inv_len} bytes");
    println!(
        "1% change of {PKG_LEN} bytes: archive {delta_len} bytes with the inventory ({inv_len} bytes), {full_len} without ({full} / {delta})"
    );
    assert!(full_len > PKG_LEN as u64 / 2, "{full}");
    assert!(
        delta_len < PKG_LEN as u64 / 10,
        "only changed chunks travel: {delta}"
    );
    p.ok(&["package", "import", s(&f("delta.xfer"))]);
    p.ok(&["bundle", "add", s(&bundle2)]);
    let list = p.json(&["bundle", "list"]);
    let id2 = list
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["version"] == "1.0.1")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    p.ok(&["bundle", "import", &id2]);
    let log = p.ok(&[
        "release",
        "deploy",
        "--project",
        project,
        "--version",
        "1.0.1",
        "--env",
        "Production",
    ]);
    assert!(
        log.contains("eu-prod"),
        "the filled template value applies to later releases: {log}"
    );
}

/// No log line and no file of `spaces` holds `secret` in the clear.
pub(crate) fn secret_is_nowhere(spaces: &[&Space], secret: &str) {
    for space in spaces {
        assert!(
            !space.log_text().contains(secret),
            "a log line holds the secret"
        );
        for file in files_under(&space.dir) {
            let bytes = std::fs::read(&file).unwrap_or_default();
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{} holds the secret in the clear",
                file.display()
            );
        }
    }
}

/// Both ODCMs' audit logs saw what crossed (reported in the background), and verify.
pub(crate) fn audit_saw_the_crossings(a: &Odcm, b: &Odcm) {
    for (o, kinds) in [
        (a, ["bundle_sent", "receipt_refused", "receipt_accepted"]),
        (b, ["bundle_refused", "bundle_accepted", "receipt_sent"]),
    ] {
        wait_for("the audit events", Duration::from_secs(15), || {
            let seen = audit_kinds(o);
            kinds.iter().all(|k| seen.iter().any(|x| x.contains(k)))
        });
    }
    assert!(odcm(a, &["audit", "verify"]).contains("audit log verified"));
    assert!(odcm(b, &["audit", "verify"]).contains("audit log verified"));
}
