//! The ODCM's audit log can prove its length: every enrolled Space holds the newest checkpoint
//! the ODCM signed, so an ODCM brought back on an older copy of its data directory (the store
//! and its position file both older: nothing local can tell) is caught by `deploy odcm audit
//! verify` as soon as a Space presents its checkpoint, and by the checkpoint file later. The
//! Space refuses the older checkpoint the rolled-back ODCM offers, and says so.

use std::time::Duration;

use e2e::copy_dir;
use e2e::odcm::Odcm;
use e2e::promotion::{odcm, s};
use e2e::{Space, wait_for};

fn audit_entries(o: &Odcm) -> u64 {
    o.cli()
        .json(&["odcm", "audit", "list"])
        .as_array()
        .expect("entries")
        .len() as u64
}

fn held_entries(space: &Space) -> u64 {
    space.cli().json(&["space", "status"])["checkpoint"]["entries"]
        .as_u64()
        .unwrap_or(0)
}

/// Waits until `space` holds a checkpoint of exactly the ODCM's current log.
fn wait_held(o: &Odcm, space: &Space) -> u64 {
    let n = audit_entries(o);
    wait_for(
        "the Space to hold the newest checkpoint",
        Duration::from_secs(20),
        || held_entries(space) == n,
    );
    n
}

#[test]
fn a_rolled_back_audit_log_is_caught_by_the_checkpoints_spaces_hold() {
    let mut o = Odcm::start("Net");
    let (dev, _) = o.enrolled_space("DevTest");
    odcm(&o, &["space", "create", "Prod"]);
    odcm(
        &o,
        &[
            "trust", "add", "--from", "DevTest", "--to", "Prod", "--kind", "releases",
        ],
    );
    let old = wait_held(&o, &dev);

    // An older copy of the whole data directory, taken while stopped.
    o.stop();
    let copy = o.dir.join("old-data");
    copy_dir(&o.data_dir, &copy);
    o.start_again_same_address();
    odcm(
        &o,
        &[
            "trust", "add", "--from", "Prod", "--to", "DevTest", "--kind", "receipts",
        ],
    );
    let new = wait_held(&o, &dev);
    assert!(new > old, "{new} > {old}");
    let file = dev.dir.join("checkpoint.json");
    dev.cli().ok(&["space", "checkpoint", "--out", s(&file)]);
    let ok = odcm(&o, &["audit", "verify", "--checkpoint", s(&file)]);
    assert!(
        ok.contains(&format!("matches the newest checkpoint: {new} entries")),
        "{ok}"
    );

    // Back on the older copy: the position file agrees with the store, so it starts.
    o.stop();
    std::fs::remove_dir_all(&o.data_dir).unwrap();
    copy_dir(&copy, &o.data_dir);
    o.start_again_same_address();
    let cut = format!("entries {} to {new} were cut", old + 1);
    wait_for(
        "DevTest to present its checkpoint",
        Duration::from_secs(30),
        || !o.cli().run(&["odcm", "audit", "verify"]).status.success(),
    );
    let e = o.cli().fails(&["odcm", "audit", "verify"]);
    assert!(e.contains(&cut) && e.contains("Space 'DevTest'"), "{e}");
    let e = o
        .cli()
        .fails(&["odcm", "audit", "verify", "--checkpoint", s(&file)]);
    assert!(e.contains(&cut) && e.contains("checkpoint file 1"), "{e}");

    // The Space keeps what it holds and says why.
    wait_for(
        "DevTest to refuse the older checkpoint",
        Duration::from_secs(30),
        || dev.cli().ok(&["space", "status"]).contains("rolled back"),
    );
    assert_eq!(held_entries(&dev), new);
    let status = dev.cli().ok(&["space", "status"]);
    assert!(
        status.contains(&format!("fewer than the {new}")),
        "{status}"
    );
}

#[test]
fn a_checkpoint_of_another_odcm_or_a_changed_one_is_refused() {
    let o = Odcm::start("Net");
    let other = Odcm::start("Other");
    let (x, _) = other.enrolled_space("X");
    wait_for("X to hold a checkpoint", Duration::from_secs(20), || {
        held_entries(&x) > 0
    });
    let file = x.dir.join("checkpoint.json");
    x.cli().ok(&["space", "checkpoint", "--out", s(&file)]);
    let e = o
        .cli()
        .fails(&["odcm", "audit", "verify", "--checkpoint", s(&file)]);
    assert!(
        e.contains("checkpoint file 1") && e.contains("signed by another ODCM ('Other'"),
        "{e}"
    );
    // Other's own checkpoint, with a higher count written in: the signature no longer holds.
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    v["entries"] = serde_json::json!(v["entries"].as_u64().unwrap() + 100);
    std::fs::write(&file, serde_json::to_vec(&v).unwrap()).unwrap();
    let e = other
        .cli()
        .fails(&["odcm", "audit", "verify", "--checkpoint", s(&file)]);
    assert!(e.contains("does not verify with the ODCM CA"), "{e}");
    std::fs::write(&file, b"not a checkpoint").unwrap();
    let e = other
        .cli()
        .fails(&["odcm", "audit", "verify", "--checkpoint", s(&file)]);
    assert!(e.contains("not readable"), "{e}");
}
