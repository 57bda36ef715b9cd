//! Unit tests of `index.rs`.

use domain::model::RunState;
use storage::MemoryStore;

use super::*;

fn deployment(n: u64, project: &str, env: &str) -> Deployment {
    Deployment {
        id: Deployment::id_for(n),
        number: n,
        project: project.into(),
        version: "1.0.0".into(),
        environment: env.into(),
        state: RunState::Success,
        created_by: "t".into(),
        created_at: 0,
        started_at: None,
        finished_at: None,
        steps: Vec::new(),
        error: None,
        drops: Vec::new(),
        release_created_at: None,
        tenant: None,
        traceparent: String::new(),
    }
}

fn numbers(v: &[Deployment]) -> Vec<u64> {
    v.iter().map(|d| d.number).collect()
}

fn store_with(ds: &[Deployment], indexed: bool) -> MemoryStore {
    let s = MemoryStore::new();
    let mut b = Batch::new();
    for d in ds {
        b.put_record(d).unwrap();
        if indexed {
            add(&mut b, d);
        }
    }
    s.commit(b).unwrap();
    s
}

/// The "all deployments" index keys of an older layout and its marker.
fn older_layout(ds: &[Deployment], marker: &[u8]) -> Batch {
    let mut b = Batch::new();
    for d in ds {
        let v = d.number.to_string().into_bytes();
        let k = format!("{}{}", prefix("", ""), newest_first(d.number));
        b.put(INDEX, &k, v);
    }
    b.put(MARKER_TABLE, MARKER, marker.to_vec());
    b
}

fn sample() -> Vec<Deployment> {
    vec![
        deployment(1, "Web", "Dev"),
        deployment(2, "Api", "Dev"),
        deployment(3, "Web", "Test"),
        deployment(4, "Web", "Dev"),
        deployment(5, "Api", "Prod: Production"),
    ]
}

#[test]
fn pages_newest_first_by_each_filter() {
    let s = store_with(&sample(), true);
    let (all, next) = page(&s, "", "", None, 10).unwrap();
    assert_eq!((numbers(&all), next), (vec![5, 4, 3, 2, 1], None));
    let (web, _) = page(&s, "WEB", "", None, 10).unwrap();
    assert_eq!(numbers(&web), [4, 3, 1]);
    let (dev, _) = page(&s, "", "dev", None, 10).unwrap();
    assert_eq!(numbers(&dev), [4, 2, 1]);
    let (web_dev, _) = page(&s, "Web", "Dev", None, 10).unwrap();
    assert_eq!(numbers(&web_dev), [4, 1]);
    // paging continues after the last key returned
    let (first, next) = page(&s, "", "", None, 2).unwrap();
    assert_eq!(numbers(&first), [5, 4]);
    let (second, next) = page(&s, "", "", next.as_deref(), 2).unwrap();
    assert_eq!(numbers(&second), [3, 2]);
    let (third, next) = page(&s, "", "", next.as_deref(), 2).unwrap();
    assert_eq!((numbers(&third), next), (vec![1], None));
}

#[test]
fn latest_is_the_newest_per_project_and_environment() {
    let s = store_with(&sample(), true);
    let mut got = numbers(&latest(&s).unwrap());
    got.sort();
    assert_eq!(got, [2, 3, 4, 5]);
}

/// A store written before the indexes existed is indexed once at start, and then answers as
/// one indexed from the beginning.
#[test]
fn old_stores_are_indexed_once() {
    let s = store_with(&sample(), false);
    assert!(page(&s, "", "", None, 10).unwrap().0.is_empty());
    ensure(&s).unwrap();
    let (all, _) = page(&s, "", "", None, 10).unwrap();
    assert_eq!(numbers(&all), [5, 4, 3, 2, 1]);
    // a second start does not rebuild (the marker is there)
    let mut b = Batch::new();
    b.put_record(&deployment(6, "Web", "Dev")).unwrap();
    s.commit(b).unwrap();
    ensure(&s).unwrap();
    assert_eq!(
        numbers(&page(&s, "", "", None, 10).unwrap().0),
        [5, 4, 3, 2, 1]
    );
}

/// Layout 1 put tenant deployments in `deployment_latest`, hiding the untenanted one: a store
/// marked "1" is indexed again, each tenant getting its own newest.
#[test]
fn layout_1_stores_are_indexed_again_with_tenants_apart() {
    let tenanted = |n, t: &str| Deployment {
        tenant: Some(t.into()),
        ..deployment(n, "Web", "Dev")
    };
    let ds = vec![
        deployment(1, "Web", "Dev"),
        tenanted(2, "Acme"),
        tenanted(3, "Globex"),
        tenanted(4, "Acme"),
    ];
    let s = store_with(&ds, false);
    let mut b = older_layout(&ds, b"1");
    for d in &ds {
        let v = d.number.to_string().into_bytes();
        b.put(LATEST, &key_of(&[&d.project, &d.environment]), v);
    }
    s.commit(b).unwrap();
    assert_eq!(
        numbers(&latest(&s).unwrap()),
        [4],
        "layout 1: the tenant's hides it"
    );
    ensure(&s).unwrap();
    assert_eq!(numbers(&latest(&s).unwrap()), [1]);
    let mut t = numbers(&latest_tenanted(&s).unwrap());
    t.sort();
    assert_eq!(t, [3, 4]);
    assert_eq!(
        numbers(&page(&s, "", "", None, 10).unwrap().0),
        [4, 3, 2, 1]
    );
}

/// A release's deployments come from its own index keys; a store indexed by layout 2 (no
/// release keys) gets them at the next start.
#[test]
fn a_release_s_deployments_and_layout_2_stores_indexed_again() {
    let other_version = Deployment {
        version: "1.0.1".into(),
        ..deployment(6, "Web", "Dev")
    };
    let mut ds = sample();
    ds.push(other_version);
    let s = store_with(&ds, true);
    assert_eq!(numbers(&of_release(&s, "web", "1.0.0").unwrap()), [4, 3, 1]);
    assert_eq!(numbers(&of_release(&s, "Web", "1.0.1").unwrap()), [6]);
    assert!(of_release(&s, "Web", "1.0.2").unwrap().is_empty());

    let old = store_with(&ds, false);
    old.commit(older_layout(&ds, b"2")).unwrap();
    assert!(of_release(&old, "Web", "1.0.0").unwrap().is_empty());
    ensure(&old).unwrap();
    assert_eq!(
        numbers(&of_release(&old, "Web", "1.0.0").unwrap()),
        [4, 3, 1]
    );
    assert_eq!(
        numbers(&page(&old, "", "", None, 10).unwrap().0),
        [6, 5, 4, 3, 2, 1]
    );
}
