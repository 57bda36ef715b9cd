//! Records too large to answer: refused when written (a clear error naming the limit), and a
//! project that holds some from before the limits is readable again (lists paged by bytes,
//! over-long text shown cut).

use domain::model::{Release, VariableValue};
use storage::records::VariableSetRecord;
use storage::{Batch, SledStore, Store, StoreExt, key_of};

use crate::deployments::setup_envs;
use e2e::Space;

#[test]
fn oversized_values_and_notes_are_refused_and_old_ones_stay_readable() {
    let mut s = Space::start();
    let c = s.cli();
    setup_envs(&c, &["Dev"]);
    c.ok(&["lifecycle", "create", "Main", "--phase", "Dev:Dev"]);
    c.ok(&["project", "create", "Acme", "--lifecycle", "Main"]);

    let big = "v".repeat(7 << 20);
    let o = c.run_with_stdin(&["variable", "set", "--project", "Acme", "Big"], Some(&big));
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(!o.status.success());
    assert!(err.contains("limits.variable_value_bytes"), "{err}");
    let notes = "n".repeat(100 << 10);
    let e = c.fails(&[
        "release",
        "create",
        "--project",
        "Acme",
        "--version",
        "0.9.0",
        "--notes",
        &notes,
    ]);
    assert!(
        e.contains("limits.release_notes_bytes"),
        "{}",
        &e[..e.len().min(300)]
    );

    // Records stored before the limits existed: put there behind the server's back.
    c.ok(&["variable", "set", "--project", "Acme", "Old", "small"]);
    for v in ["1.0.0", "1.0.1"] {
        c.ok(&["release", "create", "--project", "Acme", "--version", v]);
    }
    s.stop();
    {
        let store = SledStore::open(&s.data_dir.join("db")).expect("open the Space store");
        let mut set: VariableSetRecord = store
            .get_record(&key_of(&["Acme"]))
            .expect("read")
            .expect("variable set");
        set.variables[0].value = VariableValue::Plain(big.clone());
        let mut b = Batch::new();
        b.put_record(&set).expect("encode");
        for v in ["1.0.0", "1.0.1"] {
            let mut r: Release = store
                .get_record(&key_of(&["Acme", v]))
                .expect("read")
                .expect("release");
            r.notes = big.clone();
            b.put_record(&r).expect("encode");
        }
        store.commit(b).expect("write");
        store.flush().expect("flush");
    }
    s.start_again();
    let c = s.cli();
    let vars = c.json(&["variable", "list", "--project", "Acme"]);
    let old = vars[0]["value"].as_str().unwrap();
    assert!(
        old.len() < 300 << 10 && old.contains("more bytes not shown"),
        "{}",
        old.len()
    );
    let releases = c.json(&["release", "list", "--project", "Acme"]);
    assert_eq!(releases.as_array().unwrap().len(), 2, "paged through both");
    for r in releases.as_array().unwrap() {
        assert!(
            r["notes"]
                .as_str()
                .unwrap()
                .contains("more bytes not shown")
        );
    }
    let shown = c.json(&["release", "show", "--project", "Acme", "--version", "1.0.1"]);
    assert!(shown["notes"].as_str().unwrap().len() < 300 << 10);
    // And it can be repaired: the old value replaced within the limit.
    c.ok(&["variable", "set", "--project", "Acme", "Old", "small again"]);
}
