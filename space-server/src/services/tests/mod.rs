//! Unit tests of the service layer, against the memory backend (no server, no gRPC).

use std::sync::Arc;

use domain::model::{Environment, Lifecycle, Phase, PhaseRule, Project};
use storage::MemoryStore;

use super::*;

mod guarded;
mod limits;
mod passwords;
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

/// Environment Dev, lifecycle Default (Dev) and project Web on it.
pub(crate) async fn web_project(s: &Services) {
    s.environments.create(env("Dev")).await.unwrap();
    s.lifecycles
        .create(lifecycle("Default", &["Dev"]))
        .await
        .unwrap();
    s.projects.create(project("Web", "Default")).await.unwrap();
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
                prestage: false,
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

/// Concurrent read-modify-writes of one project's process, without the write lock and on the
/// sled store (optimistic transactions run again on conflict): no step is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_step_changes_lose_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let state = SpaceState::open(tmp.path(), "DevTest", &[]).unwrap().state;
    let s = Arc::new(Services::new(&state, None));
    web_project(&s).await;
    let mut tasks = Vec::new();
    for i in 0..24 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let step = script_step(&format!("Step {i}"), "true");
            s.process.add_step("web", None, step).await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let steps = s.process.list("Web").unwrap().process.steps;
    assert_eq!(steps.len(), 24, "lost updates");
    // a step can be found, moved and deleted the same way
    s.process.delete_step("Web", "step 3").await.unwrap();
    let e = s.process.delete_step("Web", "Step 3").await.unwrap_err();
    assert!(matches!(e, ApiError::NotFound { .. }), "{e}");
    assert_eq!(s.process.list("Web").unwrap().process.steps.len(), 23);
}

/// Concurrent variable sets on the sled store: each is a transaction (a plain store read inside
/// one would wait forever, so the whole test is bounded), none is lost, ids stay unique.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_variable_sets_lose_nothing() {
    use domain::model::VariableInput;
    let tmp = tempfile::tempdir().unwrap();
    let state = SpaceState::open(tmp.path(), "DevTest", &[]).unwrap().state;
    let s = Arc::new(Services::new(&state, None));
    web_project(&s).await;
    let run = async {
        let mut tasks = Vec::new();
        for i in 0..16 {
            let s = s.clone();
            tasks.push(tokio::spawn(async move {
                let input = VariableInput {
                    project: "Web".into(),
                    id: None,
                    name: format!("Name{i}"),
                    value: format!("#{{Name{}}}", (i + 1) % 16),
                    sensitive: i % 2 == 0,
                    scope: Default::default(),
                    description: String::new(),
                };
                s.variables.set(input).await
            }));
        }
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.unwrap());
        }
        results
    };
    let results = tokio::time::timeout(std::time::Duration::from_secs(30), run)
        .await
        .expect("variable sets did not finish within 30 s");
    // The last one to land closes the ring Name0 -> Name1 -> ... -> Name0: refused as a cycle.
    let refused = results.iter().filter(|r| r.is_err()).count();
    assert_eq!(refused, 1, "exactly the cycle-closing set is refused");
    let (_, l) = s
        .variables
        .list(
            "Web",
            Page {
                size: 100,
                after: None,
            },
        )
        .unwrap();
    assert_eq!(l.items.len(), 15);
    let mut ids: Vec<&str> = l.items.iter().map(|v| v.id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 15, "ids are unique");
}
