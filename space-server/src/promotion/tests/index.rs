//! Unit tests of `index.rs`.

use domain::model::{PinnedPackage, Process, StagingState};
use storage::MemoryStore;

use super::*;

fn bundle(id: &str, from: &str, state: BundleState) -> ReceivedBundle {
    ReceivedBundle {
        id: id.into(),
        digest: format!("sha256:{id}"),
        source_space: from.into(),
        project: "Web".into(),
        version: "1.0.0".into(),
        created_at: 0,
        added_at: 0,
        added_by: "t".into(),
        bytes: 1,
        state,
    }
}

fn imported() -> BundleState {
    BundleState::Imported {
        at: 1,
        by: "t".into(),
        project: "DevTest: Web".into(),
    }
}

fn promotion(id: &str, project: &str, version: &str, to: &str) -> Promotion {
    Promotion {
        bundle_id: id.into(),
        digest: format!("sha256:{id}"),
        project: project.into(),
        version: version.into(),
        target_space: to.into(),
        created_at: 0,
        created_by: "t".into(),
    }
}

fn release(project: &str, version: &str, package: &str) -> Release {
    Release {
        project: project.into(),
        version: version.into(),
        channel: "Default".into(),
        notes: String::new(),
        packages: vec![PinnedPackage {
            step: "Deploy".into(),
            id: package.into(),
            version: version.into(),
            sha256: String::new(),
        }],
        process: Process::default(),
        variables: Vec::new(),
        templates: Vec::new(),
        created_at: 0,
        created_by: "t".into(),
        origin: None,
    }
}

fn ids(v: &[ReceivedBundle]) -> Vec<&str> {
    v.iter().map(|b| b.id.as_str()).collect()
}

#[test]
fn pending_and_upstream_follow_each_bundle_s_state() {
    let s = MemoryStore::new();
    let mut b = Batch::new();
    put_bundle(
        &mut b,
        &bundle("aa01", "DevTest", BundleState::Pending),
        true,
    )
    .unwrap();
    put_bundle(
        &mut b,
        &bundle("bb02", "DevTest", BundleState::Pending),
        true,
    )
    .unwrap();
    s.commit(b).unwrap();
    assert_eq!(ids(&pending_bundles(&s).unwrap()), ["aa01", "bb02"]);
    assert!(upstream_spaces(&s).unwrap().is_empty());

    let mut b = Batch::new();
    put_bundle(&mut b, &bundle("aa01", "DevTest", imported()), false).unwrap();
    s.commit(b).unwrap();
    assert_eq!(ids(&pending_bundles(&s).unwrap()), ["bb02"]);
    let up: Vec<String> = upstream_spaces(&s).unwrap().into_iter().collect();
    assert_eq!(up, ["DevTest"], "the name as the bundle gave it");

    // A Remote Project deleted: its bundles are pending again.
    let mut b = Batch::new();
    put_bundle(
        &mut b,
        &bundle("aa01", "DevTest", BundleState::Pending),
        false,
    )
    .unwrap();
    s.commit(b).unwrap();
    assert_eq!(ids(&pending_bundles(&s).unwrap()), ["aa01", "bb02"]);
}

#[test]
fn promotions_by_release() {
    let s = MemoryStore::new();
    let mut b = Batch::new();
    for p in [
        promotion("p1", "Web", "1.0.0", "Prod"),
        promotion("p2", "Web", "1.0.1", "Prod"),
        promotion("p3", "Web", "1.0.0", "Edge"),
        promotion("p4", "Api", "1.0.0", "Prod"),
    ] {
        put_promotion(&mut b, &p).unwrap();
    }
    s.commit(b).unwrap();
    let of = |v: Vec<Promotion>| {
        let mut ids: Vec<String> = v.into_iter().map(|p| p.bundle_id).collect();
        ids.sort();
        ids
    };
    assert_eq!(
        of(promotions_of_release(&s, "WEB", "1.0.0").unwrap()),
        ["p1", "p3"]
    );
    assert_eq!(
        of(promotions_of_release(&s, "web", "1.0.1").unwrap()),
        ["p2"]
    );
    assert!(promotions_of_release(&s, "Web", "1.0").unwrap().is_empty());
}

#[test]
fn given_versions_per_target_and_package() {
    let s = MemoryStore::new();
    let mut b = Batch::new();
    add_given(&mut b, "Prod", &release("Web", "1.0.0", "web-app"));
    add_given(&mut b, "Prod", &release("Web", "1.0.1", "web-app"));
    add_given(&mut b, "Edge", &release("Web", "2.0.0", "web-app"));
    s.commit(b).unwrap();
    let mut v = given_versions(&s, "prod", "Web-App").unwrap();
    v.sort();
    assert_eq!(v, ["1.0.0", "1.0.1"]);
    assert_eq!(given_versions(&s, "Edge", "web-app").unwrap(), ["2.0.0"]);
    assert!(given_versions(&s, "Prod", "api").unwrap().is_empty());
}

/// A store written before the indexes (records only) is indexed once at start.
#[test]
fn an_older_store_is_indexed_once() {
    let s = MemoryStore::new();
    let mut b = Batch::new();
    b.put_record(&bundle("aa01", "DevTest", BundleState::Pending))
        .unwrap();
    b.put_record(&bundle("bb02", "Other", imported())).unwrap();
    b.put_record(&promotion("p1", "Web", "1.0.0", "Prod"))
        .unwrap();
    b.put_record(&release("Web", "1.0.0", "web-app")).unwrap();
    b.put_record(&release("Web", "1.1.0", "web-app")).unwrap();
    b.put_record(&StagingJob {
        id: "s1".into(),
        project: "Web".into(),
        version: "1.1.0".into(),
        target_space: "Prod".into(),
        state: StagingState::Queued,
        attempts: 0,
        last_error: None,
        next_attempt_at: 0,
        created_at: 0,
        updated_at: 0,
    })
    .unwrap();
    s.commit(b).unwrap();
    assert!(pending_bundles(&s).unwrap().is_empty());

    ensure(&s).unwrap();
    assert_eq!(ids(&pending_bundles(&s).unwrap()), ["aa01"]);
    let up: Vec<String> = upstream_spaces(&s).unwrap().into_iter().collect();
    assert_eq!(up, ["Other"]);
    assert_eq!(promotions_of_release(&s, "Web", "1.0.0").unwrap().len(), 1);
    let mut v = given_versions(&s, "Prod", "web-app").unwrap();
    v.sort();
    assert_eq!(v, ["1.0.0", "1.1.0"], "promoted and staged");

    // Once: a bundle written without its index after the marker is not picked up again.
    let mut b = Batch::new();
    b.put_record(&bundle("cc03", "DevTest", BundleState::Pending))
        .unwrap();
    s.commit(b).unwrap();
    ensure(&s).unwrap();
    assert_eq!(ids(&pending_bundles(&s).unwrap()), ["aa01"]);
}
