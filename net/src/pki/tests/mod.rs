//! Unit tests: CA and CSR round trips, trust decisions and their messages, audit-style
//! signatures, and real TLS handshakes through [`super::tls_incoming`].

use std::sync::Arc;

use super::*;
use crate::tls::Identity;

const DAY: i64 = 86_400;

fn enrol(ca: &CertificateAuthority, space: &str, nb: i64, na: i64) -> Identity {
    let pending = new_csr(space, "ignored").unwrap();
    let signed = ca.sign_csr(&pending.csr_pem, space, nb, na).unwrap();
    pending.into_identity(signed.pem)
}

fn store_for(ca: &CertificateAuthority) -> TrustSnapshot {
    let mut s = TrustSnapshot::default();
    s.add_ca_pem(ca.odcm(), &ca.cert_pem()).unwrap();
    s
}

#[test]
fn csr_is_signed_with_the_ca_subject_and_validity() {
    let ca = CertificateAuthority::create("NetA").unwrap();
    let now = unix_now();
    let pending = new_csr("Mallory", "Other").unwrap();
    assert!(!format!("{pending:?}").contains("PRIVATE"));
    let signed = ca
        .sign_csr(&pending.csr_pem, "DevTest", now - 60, now + DAY)
        .unwrap();
    let info = CertInfo::from_pem(&signed.pem).unwrap();
    assert_eq!(info.common_name, "DevTest");
    assert_eq!(info.organization, "NetA");
    assert_eq!(info.role, Some(PeerRole::Space));
    assert_eq!(info.not_after, now + DAY);
    assert!(info.is_signed_by(&ca.cert().der));
    let other = CertificateAuthority::create("NetB").unwrap();
    assert!(!info.is_signed_by(&other.cert().der));
    assert!(ca.sign_csr("not a csr", "X", now, now + DAY).is_err());
    let mut tampered = pending.csr_pem.clone();
    tampered.replace_range(80..84, "AAAA");
    assert!(ca.sign_csr(&tampered, "X", now, now + DAY).is_err());
}

#[test]
fn ca_persists_with_private_key_file_and_signs() {
    let dir = tempfile::tempdir().unwrap();
    let a = CertificateAuthority::load_or_create(dir.path(), "NetA").unwrap();
    let b = CertificateAuthority::load_or_create(dir.path(), "NetA").unwrap();
    assert_eq!(a.cert().fingerprint, b.cert().fingerprint);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("ca.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let sig = a.sign(b"entry 1").unwrap();
    assert!(verify_signature(&b.cert().der, b"entry 1", &sig));
    assert!(!verify_signature(&b.cert().der, b"entry 2", &sig));
    let other = CertificateAuthority::create("NetB").unwrap();
    assert!(!verify_signature(&other.cert().der, b"entry 1", &sig));
}

#[test]
fn pem_parsing_refuses_garbage_and_bundles() {
    let ca = CertificateAuthority::create("NetA").unwrap();
    let pem = ca.cert_pem();
    assert_eq!(pem_to_der(&pem).unwrap(), ca.cert().der);
    assert_eq!(der_to_pem(&ca.cert().der), pem);
    assert!(pem_to_der("hello").is_err());
    assert!(pem_to_der(&format!("{pem}{pem}")).is_err());
    let broken = pem.replace("-----END CERTIFICATE-----", "");
    assert!(pem_to_der(&broken).is_err());
}

#[test]
fn trust_store_accepts_own_ca_and_pinned_certificates() {
    let ca = CertificateAuthority::create("NetA").unwrap();
    let now = unix_now();
    let dev = enrol(&ca, "DevTest", now - 60, now + DAY);
    let mut snap = store_for(&ca);
    let id = snap.verify(&dev.cert_der().unwrap(), now).unwrap();
    assert_eq!((id.space.as_str(), id.odcm.as_str()), ("DevTest", "NetA"));
    assert_eq!(id.fingerprint, dev.fingerprint().unwrap());
    assert!(!id.pinned);

    let net_b = CertificateAuthority::create("NetB").unwrap();
    let prod = enrol(&net_b, "Prod", now - 60, now + DAY);
    let err = snap.verify(&prod.cert_der().unwrap(), now).unwrap_err();
    assert_eq!(err.kind, RefusalKind::UnknownIssuer);
    assert!(err.message.contains("CN=Prod"), "{err}");
    assert!(
        err.message
            .contains("expected a certificate issued by 'CN=NetA CA"),
        "{err}"
    );

    let fp = snap.pin_pem("Prod", &prod.cert_pem, None).unwrap();
    let id = snap.verify(&prod.cert_der().unwrap(), now).unwrap();
    assert_eq!(id.space, "Prod");
    assert_eq!(id.odcm, "NetB");
    assert_eq!(id.fingerprint, fp);
    assert!(id.pinned);

    let imposter = enrol(&net_b, "Prod", now - 60, now + DAY);
    let err = snap.verify(&imposter.cert_der().unwrap(), now).unwrap_err();
    assert_eq!(err.kind, RefusalKind::FingerprintMismatch);
    assert!(err.message.contains(&fp), "{err}");
    assert!(err.message.contains("Remote Space 'Prod'"), "{err}");
}

#[test]
fn trust_store_refuses_expired_retired_and_wrong_role() {
    let ca = CertificateAuthority::create("NetA").unwrap();
    let now = unix_now();
    let old = enrol(&ca, "DevTest", now - 3 * DAY, now - DAY);
    let snap = store_for(&ca);
    let err = snap.verify(&old.cert_der().unwrap(), now).unwrap_err();
    assert_eq!(err.kind, RefusalKind::Expired);
    assert!(
        err.message.contains("CN=DevTest") && err.message.contains("expired at"),
        "{err}"
    );

    let cur = enrol(&ca, "DevTest", now - 60, now + DAY);
    let store = TrustStore::new(snap);
    store.verify(&cur.cert_der().unwrap()).unwrap();
    let mut next = (*store.snapshot()).clone();
    next.retire(&cur.fingerprint().unwrap(), now + 3600);
    store.replace(next.clone());
    store.verify(&cur.cert_der().unwrap()).unwrap();
    next.retire(&cur.fingerprint().unwrap(), now - 1);
    store.replace(next);
    let err = store.verify(&cur.cert_der().unwrap()).unwrap_err();
    assert_eq!(err.kind, RefusalKind::Retired);

    let server = ca.issue_server_identity(&[], now + DAY).unwrap();
    let err = store
        .verify_role(&server.cert_der().unwrap(), PeerRole::Space)
        .unwrap_err();
    assert_eq!(err.kind, RefusalKind::WrongRole);
    let rustls_err: rustls::Error = err.into();
    assert!(
        rustls_err
            .to_string()
            .contains("expected a space certificate"),
        "{rustls_err}"
    );
}

/// Handshakes `client` against a server using `tls_incoming`; returns the peer the server saw.
async fn handshake(
    addr: std::net::SocketAddr,
    client: Arc<rustls::ClientConfig>,
) -> std::io::Result<()> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let mut tls = tokio_rustls::TlsConnector::from(client)
        .connect(
            rustls::pki_types::ServerName::try_from("localhost").unwrap(),
            tcp,
        )
        .await?;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    tls.write_all(b"ping").await?;
    let mut buf = [0u8; 4];
    tls.read_exact(&mut buf).await?;
    Ok(())
}

#[tokio::test]
async fn mutual_tls_handshakes_and_refusals_keep_the_accept_loop_alive() {
    use futures::StreamExt;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let ca = CertificateAuthority::create("NetA").unwrap();
    let now = unix_now();
    let store = TrustStore::new(store_for(&ca));
    let server_id = enrol(&ca, "Prod", now - 60, now + DAY);
    let verifier = Arc::new(TrustVerifier::new(store.clone()).expecting(PeerRole::Space));
    let cfg = server_config(&server_id, verifier.clone()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut incoming = tls_incoming(listener, cfg);
    tokio::spawn(async move {
        while let Some(Ok(mut s)) = incoming.next().await {
            let mut buf = [0u8; 4];
            if s.read_exact(&mut buf).await.is_ok() {
                let _ = s.write_all(b"pong").await;
            }
        }
    });
    let good = enrol(&ca, "DevTest", now - 60, now + DAY);
    let other = enrol(
        &CertificateAuthority::create("NetB").unwrap(),
        "Evil",
        now - 60,
        now + DAY,
    );
    let cv = verifier.clone();
    let client = |id: Option<&Identity>| client_config(id, cv.clone()).unwrap();
    assert!(handshake(addr, client(Some(&other))).await.is_err());
    assert!(handshake(addr, client(None)).await.is_err());
    handshake(addr, client(Some(&good))).await.unwrap();
    // The client refuses a server from another CA, naming its subject.
    let evil_store = TrustStore::new(store_for(&CertificateAuthority::create("NetC").unwrap()));
    let evil = client_config(Some(&good), Arc::new(TrustVerifier::new(evil_store))).unwrap();
    let err = handshake(addr, evil).await.unwrap_err().to_string();
    assert!(
        err.contains("CN=Prod") && err.contains("is not trusted"),
        "{err}"
    );
    handshake(addr, client(Some(&good))).await.unwrap();
}

#[test]
fn a_trust_set_becomes_a_snapshot_with_pins_and_retirements() {
    use proto::odcm::v1 as pb;
    let net_a = CertificateAuthority::create("NetA").unwrap();
    let net_b = CertificateAuthority::create("NetB").unwrap();
    let now = unix_now();
    let dev = enrol(&net_a, "DevTest", now - 60, now + DAY);
    let old_dev = enrol(&net_a, "DevTest", now - 60, now + DAY);
    let prod = enrol(&net_b, "Prod", now - 60, now + DAY);
    let set = pb::TrustSet {
        version: 7,
        odcm: "NetA".into(),
        ca_pem: net_a.cert_pem(),
        space: "Stage".into(),
        peers: vec![pb::Peer {
            name: "Prod".into(),
            odcm: "NetB".into(),
            remote: true,
            endpoint: String::new(),
            certs: vec![pb::PeerCert {
                cert_pem: prod.cert_pem.clone(),
                fingerprint: prod.fingerprint().unwrap(),
                not_after: now + DAY,
                accept_until: 0,
            }],
        }],
        trusts: vec![pb::Trust {
            source: "Prod".into(),
            target: "Stage".into(),
            kind: pb::TrustKind::Receipts as i32,
            truster: "Stage".into(),
            trusted: "Prod".into(),
            created_at: now,
        }],
        retired: vec![pb::RetiredCert {
            fingerprint: old_dev.fingerprint().unwrap(),
            refuse_after: now - 1,
            space: "DevTest".into(),
        }],
    };
    let snap = TrustSnapshot::from_trust_set(&set).unwrap();
    assert_eq!(snap.version, 7);
    assert_eq!(
        snap.verify(&dev.cert_der().unwrap(), now).unwrap().space,
        "DevTest"
    );
    assert!(snap.verify(&prod.cert_der().unwrap(), now).unwrap().pinned);
    assert!(snap.verify(&old_dev.cert_der().unwrap(), now).is_err());
    assert!(allows(&set, "stage", "PROD", pb::TrustKind::Receipts));
    assert!(!allows(&set, "Prod", "Stage", pb::TrustKind::Receipts));
    assert!(!allows(&set, "Stage", "Prod", pb::TrustKind::Releases));
}
