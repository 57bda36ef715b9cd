//! Unit tests of deployment rules against the memory backend: lifecycle progression, remote
//! environments, and a run that fails for want of targets, recorded and indexed.

use std::sync::Arc;
use std::time::Duration;

use domain::model::{Deployment, RunState};

use crate::agents::Hub;
use crate::deployments::Engine;
use crate::error::ApiError;
use crate::services::tests::{
    env, lifecycle, new_release, project, remote_env, script_step, space,
};
use crate::services::{Page, Services};
use crate::state::SpaceState;

/// Dev -> Test -> "Prod: Production", a project "Web" with one script step, release 1.0.0.
async fn setup(state: &Arc<SpaceState>) -> Arc<Engine> {
    let s = Services::new(state, None);
    s.environments.create(env("Dev")).await.unwrap();
    s.environments.create(env("Test")).await.unwrap();
    s.environments
        .create(remote_env("Production", Some("Prod")))
        .await
        .unwrap();
    let l = lifecycle("Default", &["Dev", "Test", "Prod: Production"]);
    s.lifecycles.create(l).await.unwrap();
    s.projects.create(project("Web", "Default")).await.unwrap();
    let step = script_step("Hello", "echo hello");
    s.process.add_step("Web", None, step).await.unwrap();
    let r = new_release("Web", "1.0.0");
    s.releases.create(r, "tester".into()).await.unwrap();
    let hub = Hub::new(state.clone(), Duration::from_millis(100)).unwrap();
    Engine::new(state.clone(), hub, 2, None).unwrap()
}

async fn finished(engine: &Engine, id: &str) -> Deployment {
    for _ in 0..200 {
        let d = engine.get(id).unwrap();
        if d.state.is_final() {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("deployment {id} did not finish within 5 s");
}

#[tokio::test]
async fn lifecycle_order_and_remote_environments_are_enforced() {
    let (_t, state) = space("DevTest");
    let engine = setup(&state).await;
    // Test comes after Dev, which has no successful deployment yet.
    let e = engine
        .create("Web", "1.0.0", "Test", "tester", 0, None)
        .unwrap_err();
    assert!(matches!(e, ApiError::Precondition(_)), "{e}");
    assert!(e.to_string().contains("cannot be deployed to Test"), "{e}");
    // A remote environment is promoted to, never deployed to.
    let e = engine
        .create("Web", "1.0.0", "Prod: Production", "tester", 0, None)
        .unwrap_err();
    assert!(e.to_string().contains("promote the release there"), "{e}");
    // Nothing was recorded by the refusals.
    let l = engine
        .list(
            "",
            "",
            Page {
                size: 10,
                after: None,
            },
        )
        .unwrap();
    assert!(l.items.is_empty());
}

#[tokio::test]
async fn a_step_without_targets_fails_the_deployment_with_the_reason() {
    let (_t, state) = space("DevTest");
    let engine = setup(&state).await;
    let d = engine
        .create("Web", "1.0.0", "dev", "tester", 0, None)
        .unwrap();
    assert_eq!(d.environment, "Dev");
    let d = finished(&engine, &d.id).await;
    assert_eq!(d.state, RunState::Failed);
    let err = d.error.unwrap_or_default();
    assert!(
        err.contains("no deployment target in environment 'Dev'"),
        "{err}"
    );
    // Listed through the indexes, by project, environment and both; on the dashboard.
    for (p, e) in [("", ""), ("web", ""), ("", "DEV"), ("Web", "Dev")] {
        let l = engine
            .list(
                p,
                e,
                Page {
                    size: 10,
                    after: None,
                },
            )
            .unwrap();
        assert_eq!(l.items.len(), 1, "filter ({p}, {e})");
    }
    assert!(
        engine
            .list(
                "Web",
                "Test",
                Page {
                    size: 10,
                    after: None
                }
            )
            .unwrap()
            .items
            .is_empty()
    );
    let dash = engine
        .dashboard(&crate::permits::Viewer::everything())
        .unwrap();
    assert_eq!(dash.cells.len(), 1);
    assert_eq!(dash.cells[0].state, RunState::Failed);
    assert_eq!(dash.environments, ["Dev", "Prod: Production", "Test"]);
}
