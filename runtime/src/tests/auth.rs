//! Unit tests of `auth.rs`.

use storage::{Batch, MemoryStore};
use tonic::service::Interceptor;

use super::*;

const HINTS: Hints = Hints {
    log: "request refused",
    missing: "no key: pass --api-key",
    invalid: "key not valid here",
};

fn store_with(keys: &[(&str, &str, bool)]) -> Arc<dyn Store> {
    let s = MemoryStore::new();
    let mut b = Batch::new();
    for (name, key, admin) in keys {
        b.insert_record(&ApiKeyRecord {
            name: (*name).into(),
            key_hash: hash_api_key(key),
            admin: *admin,
            created_at: 0,
        })
        .unwrap();
    }
    s.commit(b).unwrap();
    Arc::new(s)
}

fn request(key: Option<&str>) -> tonic::Request<()> {
    let mut r = tonic::Request::new(());
    if let Some(k) = key {
        r.metadata_mut()
            .insert("authorization", format!("Bearer {k}").parse().unwrap());
    }
    r
}

#[test]
fn known_keys_pass_with_their_caller() {
    let mut auth = ApiKeyAuth::new(store_with(&[("ci", "k-ci", false)]), false, HINTS);
    let req = auth.call(request(Some("k-ci"))).unwrap();
    assert_eq!(
        caller(&req),
        Caller {
            name: "ci".into(),
            admin: false
        }
    );
}

#[test]
fn missing_and_unknown_keys_are_unauthenticated_with_the_hint() {
    let mut auth = ApiKeyAuth::new(store_with(&[("ci", "k-ci", false)]), false, HINTS);
    let e = auth.call(request(None)).unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unauthenticated);
    assert_eq!(e.message(), HINTS.missing);
    let e = auth.call(request(Some("k-other"))).unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unauthenticated);
    assert_eq!(e.message(), HINTS.invalid);
}

#[test]
fn admin_only_refuses_other_keys() {
    let store = store_with(&[("ci", "k-ci", false), ("admin", "k-admin", true)]);
    let mut auth = ApiKeyAuth::new(store, true, HINTS);
    assert!(auth.call(request(Some("k-ci"))).is_err());
    let req = auth.call(request(Some("k-admin"))).unwrap();
    assert!(caller(&req).admin);
}
