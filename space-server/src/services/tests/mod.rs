//! Unit tests of the service layer, against the memory backend (no server, no gRPC).

use std::sync::Arc;

use domain::model::{Environment, Lifecycle, Phase, PhaseRule, Project};
use storage::MemoryStore;

use super::*;
use crate::state::SpaceState;

/// A Space over a memory store (keys and chunks in a temporary directory).
pub(crate) fn space(name: &str) -> (tempfile::TempDir, Arc<SpaceState>) {
    let tmp = tempfile::tempdir().unwrap();
    let opened = SpaceState::open_with(tmp.path(), name, &[], |_| {
        Ok(Arc::new(MemoryStore::new()) as Arc<dyn storage::Store>)
    })
    .unwrap();
    (tmp, opened.state)
}

pub(crate) fn env(name: &str) -> Environment {
    remote_env(name, None)
}

pub(crate) fn remote_env(name: &str, space: Option<&str>) -> Environment {
    Environment {
        name: name.into(),
        description: String::new(),
        sort_order: 0,
        remote_space: space.map(Into::into),
    }
}

/// A lifecycle with one manual phase per environment, in order.
pub(crate) fn lifecycle(name: &str, envs: &[&str]) -> Lifecycle {
    Lifecycle {
        name: name.into(),
        description: String::new(),
        phases: envs
            .iter()
            .map(|e| Phase {
                name: (*e).into(),
                environments: vec![(*e).into()],
                automatic: false,
                rule: PhaseRule::All,
            })
            .collect(),
    }
}

#[tokio::test]
async fn environments_are_unique_and_refuse_bad_names() {
    let (_t, state) = space("DevTest");
    let s = Services::new(&state, None);
    s.environments.create(env("Dev")).await.unwrap();
    let e = s.environments.create(env("DEV")).await.unwrap_err();
    assert!(matches!(e, ApiError::AlreadyExists { .. }), "{e}");
    let e = s
        .environments
        .create(env("Bad\u{1b}[31m"))
        .await
        .unwrap_err();
    assert!(matches!(e, ApiError::Invalid(_)), "{e}");
    let e = s.environments.create(env("Prod: Live")).await.unwrap_err();
    assert!(e.to_string().contains("add-remote"), "{e}");
}

#[tokio::test]
async fn remote_environments_are_named_after_their_space() {
    let (_t, state) = space("DevTest");
    let s = Services::new(&state, None);
    let e = s
        .environments
        .create(remote_env("Production", Some("Prod")))
        .await
        .unwrap();
    assert_eq!(e.name, "Prod: Production");
    let err = s
        .environments
        .create(remote_env("X", Some("DevTest")))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("is this Space"), "{err}");
}

#[tokio::test]
async fn what_is_in_use_cannot_be_deleted() {
    let (_t, state) = space("DevTest");
    let s = Services::new(&state, None);
    s.environments.create(env("Dev")).await.unwrap();
    s.lifecycles
        .create(lifecycle("Default", &["Dev"]))
        .await
        .unwrap();
    let e = s.environments.delete("Dev").await.unwrap_err();
    assert!(matches!(e, ApiError::Precondition(_)), "{e}");
    s.projects.create(project("Web", "default")).await.unwrap();
    let e = s.lifecycles.delete("Default").await.unwrap_err();
    assert!(e.to_string().contains("Web"), "{e}");
    // the project got its default channel, named as the lifecycle is spelled
    let p = s.projects.get("web").unwrap();
    assert_eq!(p.lifecycle, "Default");
    let ch = s
        .channels
        .list(
            "Web",
            Page {
                size: 10,
                after: None,
            },
        )
        .unwrap();
    assert_eq!(ch.items.len(), 1);
    assert!(ch.items[0].is_default);
    let e = s
        .channels
        .delete("Web", &ch.items[0].name)
        .await
        .unwrap_err();
    assert!(matches!(e, ApiError::Precondition(_)), "{e}");
    // deleting the project frees the lifecycle, then the environment
    s.projects.delete("Web").await.unwrap();
    s.lifecycles.delete("Default").await.unwrap();
    s.environments.delete("Dev").await.unwrap();
    assert!(
        s.environments
            .list(Page {
                size: 10,
                after: None
            })
            .unwrap()
            .items
            .is_empty()
    );
}

#[tokio::test]
async fn lifecycles_name_existing_environments_once() {
    let (_t, state) = space("DevTest");
    let s = Services::new(&state, None);
    s.environments.create(env("Dev")).await.unwrap();
    let e = s
        .lifecycles
        .create(lifecycle("L", &["Nowhere"]))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("neither an environment"), "{e}");
    let e = s
        .lifecycles
        .create(lifecycle("L", &["Dev", "dev"]))
        .await
        .unwrap_err();
    assert!(matches!(e, ApiError::Invalid(_)), "{e}");
}

/// A project on `lifecycle`.
pub(crate) fn project(name: &str, lifecycle: &str) -> Project {
    Project {
        name: name.into(),
        description: String::new(),
        lifecycle: lifecycle.into(),
        remote: None,
    }
}

/// An inline bash step for every environment, role and channel.
pub(crate) fn script_step(name: &str, body: &str) -> domain::model::Step {
    use domain::model::{ScriptSource, ScriptSyntax, StepAction};
    domain::model::Step {
        name: name.into(),
        environments: vec![],
        roles: vec![],
        channels: vec![],
        action: StepAction::RunScript {
            syntax: ScriptSyntax::Bash,
            source: ScriptSource::Inline(body.into()),
        },
    }
}

/// Release `version` of `project` on its default channel, pinning the newest packages.
pub(crate) fn new_release(project: &str, version: &str) -> releases::NewRelease {
    releases::NewRelease {
        project: project.into(),
        version: version.into(),
        channel: String::new(),
        notes: String::new(),
        packages: vec![],
    }
}
