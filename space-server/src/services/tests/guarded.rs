//! Rules that depend on a scan ("no lifecycle uses this environment", "a deleted project
//! leaves no release behind") hold under concurrent writers on the sled store, with no write
//! lock: every such write is a guarded commit that plans again when another one landed first.

use std::sync::Arc;

use storage::{StoreExt, prefix_of};

use super::{env, lifecycle, new_release, web_project};
use crate::services::Services;
use crate::state::SpaceState;

fn sled_space() -> (tempfile::TempDir, Arc<SpaceState>) {
    let tmp = tempfile::tempdir().unwrap();
    let state = SpaceState::open(tmp.path(), "DevTest", &[]).unwrap().state;
    (tmp, state)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_environment_deleted_while_a_lifecycle_names_it_is_never_left_dangling() {
    let (_tmp, state) = sled_space();
    let s = Arc::new(Services::new(&state, None));
    let n = 12;
    for i in 0..n {
        s.environments.create(env(&format!("E{i}"))).await.unwrap();
    }
    let mut tasks = Vec::new();
    for i in 0..n {
        let (a, b) = (s.clone(), s.clone());
        tasks.push(tokio::spawn(async move {
            a.environments.delete(&format!("E{i}")).await.is_ok()
        }));
        tasks.push(tokio::spawn(async move {
            let e = format!("E{i}");
            b.lifecycles
                .create(lifecycle(&format!("L{i}"), &[&e]))
                .await
                .is_ok()
        }));
    }
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    for i in 0..n {
        let (deleted, created) = (outcomes[2 * i], outcomes[2 * i + 1]);
        assert!(
            deleted != created,
            "E{i}: exactly one of delete and the lifecycle naming it wins"
        );
        let env_there = state.environment(&format!("E{i}")).is_ok();
        let lc_there = state.lifecycle(&format!("L{i}")).is_ok();
        assert_eq!(env_there, lc_there, "E{i}: a lifecycle names a missing one");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_project_deleted_while_releases_are_created_leaves_none_behind() {
    let (_tmp, state) = sled_space();
    let s = Arc::new(Services::new(&state, None));
    web_project(&s).await;
    let mut creates = Vec::new();
    for i in 0..16 {
        let s = s.clone();
        creates.push(tokio::spawn(async move {
            s.releases
                .create(new_release("Web", &format!("1.0.{i}")), "tester".into())
                .await
                .is_ok()
        }));
    }
    let deleter = {
        let s = s.clone();
        tokio::spawn(async move { s.projects.delete("Web").await })
    };
    let mut created = 0;
    for t in creates {
        created += usize::from(t.await.unwrap());
    }
    deleter.await.unwrap().unwrap();
    assert!(state.project("Web").is_err());
    let left = state
        .store
        .all_records::<domain::model::Release>(&prefix_of(&["Web"]))
        .unwrap();
    assert!(
        left.is_empty(),
        "{} of {created} releases outlived their project",
        left.len()
    );
}
