//! Unit tests of `audit.rs`.

use super::*;
use storage::MemoryStore;

fn log(n: usize) -> (MemoryStore, CertificateAuthority) {
    let store = MemoryStore::default();
    let ca = CertificateAuthority::create("NetA").unwrap();
    for i in 0..n {
        let mut b = Batch::new();
        let ev = AuditEvent::new("trust_added", "admin", &format!("s{i}"), "d");
        append(&store, &ca, &mut b, &[ev]).unwrap();
        store.commit(b).unwrap();
    }
    (store, ca)
}

#[test]
fn chain_verifies_and_tampering_is_found_at_its_index() {
    let (store, ca) = log(5);
    let v = verify(&store, &ca.cert().der).unwrap();
    assert_eq!(
        v,
        Verification {
            entries: 5,
            broken: None
        }
    );

    let key = crate::records::audit_key(3);
    let mut e: AuditRecord = store.get_record(&key).unwrap().unwrap();
    e.detail = "edited".into();
    let mut b = Batch::new();
    b.put(AuditRecord::TABLE, &key, encode_entry(&e).unwrap());
    store.commit(b).unwrap();
    let v = verify(&store, &ca.cert().der).unwrap();
    let (i, why) = v.broken.unwrap();
    assert_eq!(i, 3);
    assert!(why.contains("signature"), "{why}");
}

#[test]
fn deleted_entries_and_foreign_keys_are_found() {
    let (store, ca) = log(4);
    let mut b = Batch::new();
    b.delete(AuditRecord::TABLE, &crate::records::audit_key(2));
    store.commit(b).unwrap();
    let v = verify(&store, &ca.cert().der).unwrap();
    assert_eq!(v.broken.unwrap().0, 2);

    let (store, ca) = log(4);
    let mut b = Batch::new();
    b.delete(AuditRecord::TABLE, &crate::records::audit_key(4));
    store.commit(b).unwrap();
    let (i, why) = verify(&store, &ca.cert().der).unwrap().broken.unwrap();
    assert_eq!(i, 4);
    assert!(why.contains("truncated"), "{why}");

    let other = CertificateAuthority::create("NetA").unwrap();
    let (store, _) = log(2);
    assert_eq!(
        verify(&store, &other.cert().der).unwrap().broken.unwrap().0,
        1
    );
}
