//! Remote Spaces, trusts pushed to watching Spaces within a second, and the audit log.

use std::time::Duration;

use crate::common::{Odcm, trust};
use odcm::records::{AuditRecord, audit_key};
use proto::odcm::v1 as pb;
use storage::{Batch, StoreExt};
use tonic::Code;

async fn next_within(s: &mut tonic::Streaming<pb::TrustSet>, limit: Duration) -> pb::TrustSet {
    tokio::time::timeout(limit, s.message())
        .await
        .expect("a trust set within the limit")
        .unwrap()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn trust_changes_reach_a_watching_space_within_a_second() {
    let o = Odcm::start("NetA", 60).await;
    let dev = o.enrol("DevTest").await;
    let _prod = o.enrol("Prod").await;
    let mut admin = o.admin().await;
    let mut watch = o
        .spaces(&dev)
        .await
        .watch_trust_set(pb::Empty {})
        .await
        .unwrap()
        .into_inner();
    let first = next_within(&mut watch, Duration::from_secs(1)).await;
    assert!(first.trusts.is_empty() && first.peers.is_empty());
    assert_eq!(first.ca_pem, o.state.ca.cert_pem());

    let t = admin
        .add_trust(trust("DevTest", "Prod", pb::TrustKind::Releases))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (t.truster.as_str(), t.trusted.as_str()),
        ("Prod", "DevTest")
    );
    let set = next_within(&mut watch, Duration::from_secs(1)).await;
    assert!(set.version > first.version);
    assert_eq!(set.trusts.len(), 1);
    assert_eq!(set.peers.len(), 1);
    assert_eq!(set.peers[0].name, "Prod");
    assert_eq!(set.peers[0].endpoint, "https://127.0.0.1:9999");
    assert_eq!(set.peers[0].certs.len(), 1);

    let dup = admin
        .add_trust(trust("DevTest", "Prod", pb::TrustKind::Releases))
        .await
        .unwrap_err();
    assert_eq!(dup.code(), Code::AlreadyExists);
    admin
        .revoke_trust(trust("DevTest", "Prod", pb::TrustKind::Releases))
        .await
        .unwrap();
    let set = next_within(&mut watch, Duration::from_secs(1)).await;
    assert!(set.trusts.is_empty() && set.peers.is_empty());
    let missing = admin
        .revoke_trust(trust("DevTest", "Prod", pb::TrustKind::Releases))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
}

#[tokio::test(flavor = "multi_thread")]
async fn remote_spaces_are_registered_by_certificate() {
    let net_b = Odcm::start("NetB", 60).await;
    let _prod = net_b.enrol("Prod").await;
    let pem = net_b
        .admin()
        .await
        .export_space_cert(pb::ByName {
            name: "Prod".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let o = Odcm::start("NetA", 60).await;
    let dev = o.enrol("DevTest").await;
    let mut admin = o.admin().await;
    let bad = admin
        .add_remote_space(pb::AddRemoteSpaceRequest {
            name: "Prod".into(),
            cert_pem: "garbage".into(),
            endpoint: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    let r = admin
        .add_remote_space(pb::AddRemoteSpaceRequest {
            name: "Prod".into(),
            cert_pem: pem.cert_pem.clone(),
            endpoint: "https://10.0.0.2:8443".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.fingerprint, pem.fingerprint);
    assert_eq!(r.odcm, "NetB");
    let dup = admin
        .add_remote_space(pb::AddRemoteSpaceRequest {
            name: "prod".into(),
            cert_pem: pem.cert_pem.clone(),
            endpoint: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(dup.code(), Code::AlreadyExists);
    let clash = admin
        .add_remote_space(pb::AddRemoteSpaceRequest {
            name: "DevTest".into(),
            cert_pem: pem.cert_pem,
            endpoint: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(clash.code(), Code::AlreadyExists);
    admin
        .add_trust(trust("DevTest", "Prod", pb::TrustKind::Releases))
        .await
        .unwrap();
    admin
        .add_trust(trust("DevTest", "Prod", pb::TrustKind::Receipts))
        .await
        .unwrap();
    let mut watch = o
        .spaces(&dev)
        .await
        .watch_trust_set(pb::Empty {})
        .await
        .unwrap()
        .into_inner();
    let set = watch.message().await.unwrap().unwrap();
    assert_eq!(set.trusts.len(), 2);
    assert!(set.peers[0].remote);
    assert_eq!(set.peers[0].certs[0].fingerprint, r.fingerprint);
    admin
        .remove_remote_space(pb::ByName {
            name: "Prod".into(),
        })
        .await
        .unwrap();
    // The watch may pass on a set sent before the removal landed: wait (bounded) for one
    // without the trusts.
    let emptied = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let set = watch.message().await.unwrap().unwrap();
            if set.trusts.is_empty() {
                return set;
            }
        }
    })
    .await;
    assert!(
        emptied.is_ok(),
        "removing a Remote Space removes its trusts"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_audit_log_verifies_and_a_tampered_entry_is_named() {
    let o = Odcm::start("NetA", 60).await;
    let dev = o.enrol("DevTest").await;
    o.enrol("Prod").await;
    let mut admin = o.admin().await;
    admin
        .add_trust(trust("DevTest", "Prod", pb::TrustKind::Releases))
        .await
        .unwrap();
    o.spaces(&dev)
        .await
        .report_event(pb::Event {
            kind: pb::EventKind::BundleSent as i32,
            peer_space: "Prod".into(),
            subject: "Acme.Web 1.0.0".into(),
            detail: "sha256:abc".into(),
        })
        .await
        .unwrap();
    let entries = admin
        .list_audit(pb::PageRequest::default())
        .await
        .unwrap()
        .into_inner()
        .entries;
    let kinds: Vec<&str> = entries.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "odcm_created",
            "space_created",
            "space_enrolled",
            "space_created",
            "space_enrolled",
            "trust_added",
            "bundle_sent"
        ]
    );
    let v = admin
        .verify_audit(pb::VerifyAuditRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(v.ok, "{v:?}");
    assert_eq!(v.entries, 7);

    let store = o.state.store.clone();
    let mut e: AuditRecord = store.get_record(&audit_key(4)).unwrap().unwrap();
    e.subject = "Evil".into();
    let mut b = Batch::new();
    b.put_record(&e).unwrap();
    store.commit(b).unwrap();
    let v = admin
        .verify_audit(pb::VerifyAuditRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(!v.ok);
    assert_eq!(v.broken_index, 4, "{v:?}");
    assert!(v.reason.contains("altered"), "{v:?}");
}
