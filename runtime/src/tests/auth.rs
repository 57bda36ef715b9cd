//! Unit tests of `auth.rs`.

use storage::{Batch, MemoryStore};
use tonic::service::Interceptor;

use super::*;

const HINTS: Hints = Hints {
    log: "request refused",
    missing: "no key: pass --api-key",
    invalid: "key not valid here",
};

fn record(name: &str, key: &str, admin: bool) -> ApiKeyRecord {
    ApiKeyRecord {
        name: name.into(),
        key_hash: hash_api_key(key),
        admin,
        created_at: 0,
        user: String::new(),
        expires_at: None,
        revoked_at: None,
        last_used: None,
        registration: None,
    }
}

fn store_of(records: Vec<ApiKeyRecord>) -> Arc<dyn Store> {
    let s = MemoryStore::new();
    let mut b = Batch::new();
    for r in records {
        b.insert_record(&r).unwrap();
    }
    s.commit(b).unwrap();
    Arc::new(s)
}

fn store_with(keys: &[(&str, &str, bool)]) -> Arc<dyn Store> {
    store_of(keys.iter().map(|(n, k, a)| record(n, k, *a)).collect())
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
    let c = caller(&req);
    assert_eq!(
        (c.name.as_str(), c.admin, c.registration),
        ("ci", false, false)
    );
    assert_eq!(c.key_hash, hash_api_key("k-ci"));
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

#[test]
fn revoked_expired_and_registration_keys_are_refused_where_they_must_be() {
    let now = domain::model::now();
    let revoked = ApiKeyRecord {
        revoked_at: Some(now - 5),
        ..record("old", "k-old", false)
    };
    let expired = ApiKeyRecord {
        expires_at: Some(now - 1),
        ..record("tmp", "k-tmp", false)
    };
    let fresh = ApiKeyRecord {
        expires_at: Some(now + 3600),
        user: "alice".into(),
        ..record("laptop", "k-alice", false)
    };
    let token = ApiKeyRecord {
        registration: Some(storage::records::RegistrationGrant { uses_left: Some(1) }),
        ..record("agents", "k-reg", false)
    };
    let store = store_of(vec![revoked, expired, fresh, token]);
    let mut auth = ApiKeyAuth::new(store.clone(), false, HINTS);
    let e = auth.call(request(Some("k-old"))).unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unauthenticated);
    assert!(e.message().contains("revoked"), "{}", e.message());
    let e = auth.call(request(Some("k-tmp"))).unwrap_err();
    assert!(e.message().contains("expired"), "{}", e.message());
    let c = caller(&auth.call(request(Some("k-alice"))).unwrap());
    assert_eq!((c.name.as_str(), c.key_name.as_str()), ("alice", "laptop"));
    let e = auth.call(request(Some("k-reg"))).unwrap_err();
    assert_eq!(e.code(), tonic::Code::PermissionDenied);
    let mut registering = auth.admitting_registration();
    assert!(caller(&registering.call(request(Some("k-reg"))).unwrap()).registration);
    // The last use is written (once a minute at most).
    let rec: ApiKeyRecord = store.get_record(&hash_api_key("k-alice")).unwrap().unwrap();
    assert!(rec.last_used.is_some_and(|t| t >= now));
}

#[test]
fn a_version_1_key_reads_with_its_name_as_its_user() {
    let v1 = br#"{"v":1,"data":{"name":"admin","key_hash":"abc","admin":true,"created_at":5}}"#;
    let r: ApiKeyRecord = storage::decode("abc", v1).unwrap();
    assert_eq!(r.user_name(), "admin");
    assert_eq!(
        (r.expires_at, r.revoked_at, r.registration.clone()),
        (None, None, None)
    );
}

/// Behind `KeyLayer` the interceptor takes the check already made (one lookup per request),
/// and still applies its own rules to it (admin only, registration tokens).
#[test]
fn a_check_made_by_the_key_layer_is_used_not_repeated() {
    let store = store_with(&[("ci", "k-ci", false)]);
    let layer_auth = ApiKeyAuth::new(store, false, HINTS);
    let check = layer_auth.lookup(Some("Bearer k-ci"));
    assert_eq!(check.caller().map(|c| c.name.as_str()), Some("ci"));
    // An interceptor over an empty store: it can only know the caller from the extension.
    let mut auth = ApiKeyAuth::new(store_of(vec![]), false, HINTS);
    let mut req = request(None);
    req.extensions_mut().insert(check.clone());
    assert_eq!(caller(&auth.call(req).unwrap()).name, "ci");
    let mut admin_only = ApiKeyAuth::new(store_of(vec![]), true, HINTS);
    let mut req = request(None);
    req.extensions_mut().insert(check);
    assert_eq!(
        admin_only.call(req).unwrap_err().code(),
        tonic::Code::Unauthenticated
    );
    assert!(matches!(layer_auth.lookup(None), KeyCheck::Missing));
    assert!(matches!(
        layer_auth.lookup(Some("Bearer nope")),
        KeyCheck::Unknown
    ));
}
