//! Enrolment with one-time tokens, API-key refusals, mutual-TLS refusals and rotation overlap.

use std::time::Duration;

use crate::common::{Odcm, eventually};
use net::pki::{CertificateAuthority, new_csr};
use proto::odcm::v1 as pb;
use tonic::Code;

#[tokio::test(flavor = "multi_thread")]
async fn a_token_enrols_once_and_the_certificate_names_the_space() {
    let o = Odcm::start("NetA", 60).await;
    let mut admin = o.admin().await;
    let created = admin
        .create_space(pb::CreateSpaceRequest {
            name: "DevTest".into(),
            endpoint: "https://127.0.0.1:7000".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let token = created.enrolment_token;
    assert!(token.starts_with("et_"));
    let pending = new_csr("DevTest", "NetA").unwrap();
    let mut enrol = o.enrolment().await;
    let r = enrol
        .enrol(pb::EnrolRequest {
            token: token.clone(),
            csr_pem: pending.csr_pem.clone(),
            endpoint: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let info = net::pki::CertInfo::from_pem(&r.cert_pem).unwrap();
    assert_eq!(
        (info.common_name.as_str(), info.organization.as_str()),
        ("DevTest", "NetA")
    );
    assert!(info.not_after > net::pki::unix_now() + 364 * 86_400);
    assert_eq!(r.ca_pem, o.state.ca.cert_pem());
    let exported = admin
        .export_space_cert(pb::ByName {
            name: "devtest".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(exported.fingerprint, r.fingerprint);

    let again = enrol
        .enrol(pb::EnrolRequest {
            token,
            csr_pem: new_csr("DevTest", "NetA").unwrap().csr_pem,
            endpoint: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
    assert!(again.message().contains("already used"), "{again:?}");
    let bogus = enrol
        .enrol(pb::EnrolRequest {
            token: "et_nope".into(),
            csr_pem: pending.csr_pem,
            endpoint: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(bogus.code(), Code::Unauthenticated);

    let e = o
        .admin_with_key("dk_wrong")
        .await
        .list_spaces(pb::PageRequest::default())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
    let dup = admin
        .create_space(pb::CreateSpaceRequest {
            name: "DEVTEST".into(),
            endpoint: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(dup.code(), Code::AlreadyExists);
}

#[tokio::test(flavor = "multi_thread")]
async fn space_calls_need_a_certificate_from_this_odcm() {
    let o = Odcm::start("NetA", 60).await;
    let id = o.enrol("DevTest").await;
    // No client certificate: connected, but the call is refused with a clear message.
    let anon = o.mtls(None).await.unwrap();
    let e = pb::spaces_client::SpacesClient::new(anon)
        .watch_trust_set(pb::Empty {})
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
    assert!(
        e.message().contains("requires a client certificate"),
        "{e:?}"
    );
    // A certificate from another CA is refused during the handshake.
    let other = CertificateAuthority::create("NetB").unwrap();
    let pending = new_csr("DevTest", "NetB").unwrap();
    let now = net::pki::unix_now();
    let signed = other
        .sign_csr(&pending.csr_pem, "DevTest", now - 60, now + 86_400)
        .unwrap();
    let foreign = pending.into_identity(signed.pem);
    let refused = match o.mtls(Some(&foreign)).await {
        Err(_) => true,
        Ok(ch) => pb::spaces_client::SpacesClient::new(ch)
            .report_event(pb::Event::default())
            .await
            .is_err(),
    };
    assert!(refused, "a foreign certificate must be refused");
    // The enrolled identity works.
    let mut s = o.spaces(&id).await;
    let set = s
        .watch_trust_set(pb::Empty {})
        .await
        .unwrap()
        .into_inner()
        .message()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(set.space, "DevTest");
    assert_eq!(set.odcm, "NetA");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_certificate_is_accepted_during_the_overlap_then_refused() {
    let o = Odcm::start("NetA", 2).await;
    let old = o.enrol("DevTest").await;
    let old_fp = old.fingerprint().unwrap();
    let pending = new_csr("DevTest", "NetA").unwrap();
    let mut by_old = pb::enrolment_client::EnrolmentClient::new(o.mtls(Some(&old)).await.unwrap());
    let r = by_old
        .rotate(pb::RotateRequest {
            csr_pem: pending.csr_pem.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_ne!(r.fingerprint, old_fp);
    assert!(r.previous_accepted_until > 0);
    let new = pending.into_identity(r.cert_pem);
    let event = || pb::Event {
        kind: pb::EventKind::BundleSent as i32,
        peer_space: "Prod".into(),
        subject: "Acme.Web 1.0.0".into(),
        detail: String::new(),
    };
    let mut old_client = o.spaces(&old).await;
    let mut new_client = o.spaces(&new).await;
    old_client
        .report_event(event())
        .await
        .expect("old certificate accepted during the overlap");
    new_client.report_event(event()).await.unwrap();
    eventually(
        "the old certificate to be refused",
        Duration::from_secs(6),
        || {
            let mut c = old_client.clone();
            async move { c.report_event(event()).await.is_err() }
        },
    )
    .await;
    let refused = old_client.report_event(event()).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    let last = refused.message();
    assert!(last.contains("stopped being accepted"), "{last}");
    new_client
        .report_event(event())
        .await
        .expect("the new certificate keeps working");
    let err = by_old
        .rotate(pb::RotateRequest {
            csr_pem: new_csr("DevTest", "NetA").unwrap().csr_pem,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
}
