//! The dashboard's index of remote results: the newest result per cell, built once for a
//! store that predates it, kept current by the batches that apply receipts.

use domain::model::{RemoteResult, RunState};
use storage::{Batch, MemoryStore, Store};

use super::{add, ensure, latest};

fn result(id: &str, env: &str, finished: i64, state: RunState) -> RemoteResult {
    RemoteResult {
        from_space: "Prod".into(),
        receipt_id: id.into(),
        bundle_digest: "sha256:aa".into(),
        project: "Web".into(),
        version: "1.0.0".into(),
        environment: format!("Prod: {env}"),
        state,
        started_at: None,
        finished_at: Some(finished),
        steps: Vec::new(),
        targets: 1,
        received_at: 100,
        file_digest: "sha256:bb".into(),
    }
}

fn cells(store: &dyn Store) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = latest(store)
        .unwrap()
        .into_iter()
        .map(|r| (r.environment, r.receipt_id))
        .collect();
    v.sort();
    v
}

#[test]
fn a_store_from_before_the_index_is_indexed_once_with_the_newest_per_cell() {
    let store = MemoryStore::new();
    let mut b = Batch::new();
    for r in [
        result("Deployments-3", "Production", 30, RunState::Success),
        result("Deployments-1", "Production", 10, RunState::Failed),
        result("Deployments-2", "Staging", 20, RunState::Success),
    ] {
        b.insert_record(&r).unwrap();
    }
    store.commit(b).unwrap();
    assert!(cells(&store).is_empty(), "no index yet");
    ensure(&store).unwrap();
    let want = vec![
        ("Prod: Production".to_string(), "Deployments-3".to_string()),
        ("Prod: Staging".to_string(), "Deployments-2".to_string()),
    ];
    assert_eq!(cells(&store), want);
    // Once: a result stored without the index afterwards is not picked up by a second call.
    let mut b = Batch::new();
    b.insert_record(&result("Deployments-9", "Staging", 90, RunState::Failed))
        .unwrap();
    store.commit(b).unwrap();
    ensure(&store).unwrap();
    assert_eq!(cells(&store), want);
}

#[test]
fn a_batch_keeps_the_newest_result_of_each_cell_including_its_own() {
    let store = MemoryStore::new();
    let mut b = Batch::new();
    let mut pending = Vec::new();
    for r in [
        result("Deployments-5", "Production", 50, RunState::Success),
        result("Deployments-4", "Production", 40, RunState::Failed),
        result("Deployments-6", "Production", 60, RunState::Failed),
    ] {
        if add(&store, &mut b, &r, &pending).unwrap() {
            pending.push(r.clone());
        }
        b.insert_record(&r).unwrap();
    }
    store.commit(b).unwrap();
    assert_eq!(
        cells(&store),
        vec![("Prod: Production".to_string(), "Deployments-6".to_string())]
    );
    // An older result arriving later does not replace the newer one.
    let mut b = Batch::new();
    let late = result("Deployments-2", "Production", 20, RunState::Success);
    assert!(!add(&store, &mut b, &late, &[]).unwrap());
    assert!(b.ops.is_empty());
}
