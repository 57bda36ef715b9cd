//! Reports from Spaces: cleaned and capped before they reach the audit log, refusals
//! rate-limited per reporting Space with the rest counted; concurrent planned writes all land.

use std::sync::Arc;

use super::*;
use crate::config::Config;
use crate::services::Page;
use crate::services::admin::AdminService;
use crate::state::OdcmState;

fn odcm() -> (tempfile::TempDir, Arc<OdcmState>) {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        name: "NetA".into(),
        data_dir: dir.path().join("data"),
        ..Config::default()
    };
    (dir, OdcmState::open(&config).unwrap().state)
}

fn all_entries(state: &Arc<OdcmState>) -> Vec<crate::records::AuditRecord> {
    let admin = AdminService {
        state: state.clone(),
    };
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let l = admin.list_audit(Page { size: 1000, after }).unwrap();
        assert!(l.items.len() <= crate::services::admin_more::AUDIT_PAGE);
        out.extend(l.items);
        match l.next {
            Some(n) => after = Some(n),
            None => return out,
        }
    }
}

fn refused(subject: &str) -> ReportedEvent {
    ReportedEvent {
        kind: EventKind::BundleRefused,
        peer_space: "Stranger\u{1b}[2J".into(),
        subject: subject.into(),
        detail: "no trust\nforged line".into(),
    }
}

#[tokio::test]
async fn a_flood_of_refusals_costs_a_bounded_number_of_small_entries() {
    let (_d, state) = odcm();
    let link = LinkService::new(state.clone());
    let big = "x".repeat(1 << 20);
    for _ in 0..100 {
        link.report("DevTest", refused(&big)).await.unwrap();
    }
    let entries: Vec<_> = all_entries(&state)
        .into_iter()
        .filter(|e| e.kind == "bundle_refused")
        .collect();
    assert_eq!(entries.len(), REFUSALS_PER_MINUTE as usize);
    for e in &entries {
        assert!(
            e.subject.chars().count() < MAX_SUBJECT + 40,
            "subject capped"
        );
        assert!(!domain::text::has_control(&e.detail), "{}", e.detail);
        assert!(e.detail.starts_with("peer Stranger?[2J;"), "{}", e.detail);
    }
    // Other kinds of event are not limited by refusals.
    link.report(
        "DevTest",
        ReportedEvent {
            kind: EventKind::BundleSent,
            peer_space: "Prod".into(),
            subject: "Web 1.0.0".into(),
            detail: String::new(),
        },
    )
    .await
    .unwrap();
    assert!(all_entries(&state).iter().any(|e| e.kind == "bundle_sent"));
    // Another Space has its own allowance.
    link.report("Prod", refused("Web 1.0.1")).await.unwrap();
    assert!(
        all_entries(&state)
            .iter()
            .any(|e| e.actor == "space:Prod" && e.kind == "bundle_refused")
    );
}

#[test]
fn the_count_of_unrecorded_refusals_goes_with_the_next_recorded_one() {
    let (_d, state) = odcm();
    let link = LinkService::new(state);
    for _ in 0..REFUSALS_PER_MINUTE {
        assert_eq!(link.admit_refusal("DevTest").map(|(n, _)| n), Some(0));
    }
    assert_eq!(link.admit_refusal("DevTest"), None);
    assert_eq!(
        link.admit_refusal("devtest"),
        None,
        "names compare case-insensitively"
    );
    // A new minute: the next refusal is recorded with the two counted.
    if let Ok(mut w) = link.windows.lock()
        && let Some(w) = w.get_mut("devtest")
    {
        w.started -= 60;
    }
    let (n, since) = link.admit_refusal("DevTest").unwrap();
    assert_eq!(n, 2);
    assert!(since > 0);
    assert_eq!(link.admit_refusal("DevTest").map(|(n, _)| n), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_planned_writes_all_land_in_one_unbroken_chain() {
    let (_d, state) = odcm();
    let admin = Arc::new(AdminService {
        state: state.clone(),
    });
    let before = admin.verify_audit(&[]).unwrap().verification.entries;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let admin = admin.clone();
        tasks.push(tokio::spawn(async move {
            admin.create_space("admin", &format!("Space{i}"), "").await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let spaces = admin
        .list_spaces(Page {
            size: 100,
            after: None,
        })
        .unwrap();
    assert_eq!(spaces.items.len(), 16);
    let v = admin.verify_audit(&[]).unwrap().verification;
    assert_eq!(v.entries, before + 16);
    assert!(v.broken.is_none(), "{:?}", v.broken);
}
