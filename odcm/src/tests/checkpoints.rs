//! Unit tests of `checkpoints.rs`: a checkpoint against a log cut short, a rewritten log and
//! an intact one, and which checkpoint is kept.

use super::*;
use crate::audit::{AuditEvent, append};
use net::pki::CertificateAuthority;
use storage::{Batch, MemoryStore, Record};

fn add(store: &MemoryStore, ca: &CertificateAuthority, what: &str) {
    let mut b = Batch::new();
    append(
        store,
        ca,
        &mut b,
        &[AuditEvent::new("trust_added", "admin", what, "d")],
    )
    .unwrap();
    store.commit(b).unwrap();
}

fn checkpoint_now(store: &MemoryStore, ca: &CertificateAuthority) -> Checkpoint {
    let head = audit::head_now(store).unwrap();
    Checkpoint::issue(
        ca.odcm(),
        &ca.cert().fingerprint,
        head.value,
        &head.hash,
        1,
        |b| ca.sign(b).map_err(|e| e.to_string()),
    )
    .unwrap()
}

/// Drops entries after `keep` and moves the head back, as a store rolled back on disk would.
fn cut_to(store: &MemoryStore, keep: u64) {
    let head = audit::head_now(store).unwrap();
    let mut b = Batch::new();
    for i in keep + 1..=head.value {
        b.delete(AuditRecord::TABLE, &audit_key(i));
    }
    let last: AuditRecord = store.get_record(&audit_key(keep)).unwrap().unwrap();
    let mut h = head.clone();
    h.value = keep;
    h.hash = audit::entry_hash(&last);
    b.put_record(&h).unwrap();
    store.commit(b).unwrap();
}

#[test]
fn an_intact_log_matches_its_checkpoints_old_and_new() {
    let store = MemoryStore::default();
    let ca = CertificateAuthority::create("NetA").unwrap();
    for i in 0..3 {
        add(&store, &ca, &format!("s{i}"));
    }
    let old = checkpoint_now(&store, &ca);
    add(&store, &ca, "s3");
    assert_eq!(check(&store, &old).unwrap(), None);
    assert_eq!(check(&store, &checkpoint_now(&store, &ca)).unwrap(), None);
}

#[test]
fn a_cut_tail_and_a_fork_are_named() {
    let store = MemoryStore::default();
    let ca = CertificateAuthority::create("NetA").unwrap();
    for i in 0..5 {
        add(&store, &ca, &format!("s{i}"));
    }
    let held = checkpoint_now(&store, &ca);
    cut_to(&store, 3);
    let why = check(&store, &held).unwrap().expect("cut");
    assert!(
        why.contains("had 5 entries; it has 3 now: entries 4 to 5 were cut"),
        "{why}"
    );

    // Two new entries bring the count back, with other contents: a fork.
    add(&store, &ca, "other-4");
    add(&store, &ca, "other-5");
    let why = check(&store, &held).unwrap().expect("fork");
    assert!(
        why.contains("entry 5 is not the one") && why.contains("fork"),
        "{why}"
    );
}

#[test]
fn the_newest_presented_checkpoint_is_kept() {
    let store = MemoryStore::default();
    let ca = CertificateAuthority::create("NetA").unwrap();
    add(&store, &ca, "a");
    let one = checkpoint_now(&store, &ca);
    add(&store, &ca, "b");
    let two = checkpoint_now(&store, &ca);
    let kept = Collected::default();
    let src = |s: &str, c: &Checkpoint| Sourced {
        source: s.into(),
        checkpoint: c.clone(),
    };
    kept.offer(src("Space 'QA'", &two));
    kept.offer(src("Space 'Dev'", &one));
    let n = kept.newest().unwrap();
    assert_eq!((n.source.as_str(), n.checkpoint.entries), ("Space 'QA'", 2));
}
