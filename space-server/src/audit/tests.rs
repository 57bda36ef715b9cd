//! The trail chains, lists newest first, and verification finds a cut or an edit.

use std::sync::Arc;

use storage::{Batch, MemoryStore, Store, StoreExt};

use super::*;

fn call(user: &str, method: &str, code: &str) -> Call {
    Call {
        user: user.into(),
        key: String::new(),
        method: method.into(),
        from: "127.0.0.1:5000".into(),
        code: code.into(),
    }
}

#[test]
fn entries_chain_and_verification_finds_edits_and_cuts() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let trail = AuditTrail::new(store.clone());
    trail.append(call("admin", "/space.v1.Projects/Create", "OK"));
    trail.append(call(
        "alice",
        "/space.v1.Access/CreateUser",
        "PermissionDenied",
    ));
    trail.append(call(
        "(unknown key)",
        "/space.v1.Projects/List",
        "Unauthenticated",
    ));
    assert_eq!(
        trail.verify().unwrap(),
        Verification {
            entries: 3,
            broken: None
        }
    );
    let newest = trail.list(|_| true, 10).unwrap();
    assert_eq!(newest[0].index, 3);
    assert_eq!(newest[1].outcome, "refused");
    assert_eq!(newest[2].prev_hash, "");
    let refused = trail.list(|e| e.outcome == "refused", 10).unwrap();
    assert_eq!(refused.len(), 2);

    // An edited entry breaks the chain at the next one.
    let mut e = store
        .get_record::<AuditEntry>(&format!("{:020}", 2))
        .unwrap()
        .unwrap();
    e.user = "someone else".into();
    let mut b = Batch::new();
    b.put_record(&e).unwrap();
    store.commit(b).unwrap();
    assert_eq!(trail.verify().unwrap().broken.map(|b| b.0), Some(3));

    // A cut tail no longer reaches the head.
    let fresh: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let t = AuditTrail::new(fresh.clone());
    t.append(call("a", "/x/Create", "OK"));
    t.append(call("a", "/x/Delete", "OK"));
    let mut b = Batch::new();
    b.delete(AuditEntry::TABLE, &format!("{:020}", 2));
    fresh.commit(b).unwrap();
    assert!(t.verify().unwrap().broken.is_some());
}
