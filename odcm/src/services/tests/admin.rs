//! Unit tests of the ODCM's admin service (no server, no gRPC).

use std::sync::Arc;

use super::*;
use crate::config::Config;
use crate::records::TrustKind;
use crate::state::OdcmState;

fn odcm() -> (tempfile::TempDir, AdminService) {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        name: "NetA".into(),
        data_dir: dir.path().join("data"),
        ..Config::default()
    };
    let state: Arc<OdcmState> = OdcmState::open(&config).unwrap().state;
    (dir, AdminService { state })
}

fn first_page() -> Page {
    Page {
        size: 100,
        after: None,
    }
}

#[tokio::test]
async fn spaces_get_a_token_and_unique_names() {
    let (_d, s) = odcm();
    let c = s.create_space("admin", "DevTest", "").await.unwrap();
    assert!(!c.token.is_empty());
    assert!(c.expires_at > c.space.created_at);
    let e = s.create_space("admin", "devtest", "").await.unwrap_err();
    assert!(matches!(e, OdcmError::AlreadyExists { .. }), "{e}");
    let e = s.export_space_cert("DevTest").unwrap_err();
    assert!(e.to_string().contains("has not enrolled"), "{e}");
    assert_eq!(s.list_spaces(first_page()).unwrap().items.len(), 1);
}

#[tokio::test]
async fn trusts_need_one_own_space_and_are_audited() {
    let (_d, s) = odcm();
    s.create_space("admin", "DevTest", "").await.unwrap();
    s.create_space("admin", "Prod", "").await.unwrap();
    let t = TrustRequest {
        source: "devtest".into(),
        target: "PROD".into(),
        kind: TrustKind::Releases,
    };
    let rec = s.add_trust("alice", &t).await.unwrap();
    assert_eq!(
        (rec.truster.as_str(), rec.trusted.as_str()),
        ("Prod", "DevTest")
    );
    let e = s.add_trust("alice", &t).await.unwrap_err();
    assert!(matches!(e, OdcmError::AlreadyExists { .. }), "{e}");
    let e = s
        .add_trust(
            "alice",
            &TrustRequest {
                source: "Prod".into(),
                target: "Prod".into(),
                kind: TrustKind::Receipts,
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(e, OdcmError::Invalid(_)), "{e}");
    s.revoke_trust("bob", &t).await.unwrap();
    let e = s.revoke_trust("bob", &t).await.unwrap_err();
    assert!(matches!(e, OdcmError::NotFound { .. }), "{e}");
    // created, 2 spaces, trust added, trust revoked: all in the signed chain
    let audit = s.list_audit(first_page()).unwrap().items;
    let kinds: Vec<&str> = audit.iter().map(|a| a.kind.as_str()).collect();
    assert!(
        kinds.contains(&"trust_added") && kinds.contains(&"trust_revoked"),
        "{kinds:?}"
    );
    let v = s.verify_audit(&[]).unwrap().verification;
    assert!(v.broken.is_none());
    assert_eq!(v.entries, audit.len() as u64);
}
