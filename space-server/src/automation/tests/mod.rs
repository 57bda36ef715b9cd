//! Unit tests of the automation pieces against the memory backend: the promotion queue (one
//! job per release and Space, backoff, states as listed) and peer contacts (staleness).

use domain::model::{PromotionJob, PromotionJobState};
use storage::{Batch, StoreExt};

use super::queue::{MAX_BACKOFF_SECS, backoff, enqueue, list};
use crate::services::Page;
use crate::services::tests::space;

/// A promotion job of Web to Prod.
pub(super) fn job(version: &str, state: PromotionJobState) -> PromotionJob {
    PromotionJob {
        project: "Web".into(),
        version: version.into(),
        target_space: "Prod".into(),
        state,
        attempts: 1,
        last_error: None,
        next_attempt_at: 0,
        created_at: 0,
        updated_at: 0,
        trigger: "t".into(),
    }
}

fn release(version: &str) -> domain::model::Release {
    domain::model::Release {
        project: "Web".into(),
        version: version.into(),
        channel: "Default".into(),
        notes: String::new(),
        packages: vec![],
        process: Default::default(),
        variables: vec![],
        templates: vec![],
        created_at: 1,
        created_by: "t".into(),
        origin: None,
    }
}

fn all() -> super::queue::Of {
    super::queue::Of::new("", "").unwrap()
}

fn page() -> Page {
    Page {
        size: 100,
        after: None,
    }
}

#[test]
fn backoff_doubles_up_to_five_minutes() {
    assert_eq!(backoff(1), 2);
    assert_eq!(backoff(2), 4);
    assert_eq!(backoff(8), 256);
    assert_eq!(backoff(9), MAX_BACKOFF_SECS);
    assert_eq!(backoff(u32::MAX), MAX_BACKOFF_SECS);
}

#[tokio::test]
async fn a_release_is_queued_once_per_space_and_listed_with_its_state() {
    let (_tmp, state) = space("DevTest");
    let r = release("1.0.0");
    enqueue(&state, &r, "Prod", "release creation").unwrap();
    enqueue(&state, &r, "prod", "a later phase").unwrap();
    enqueue(&state, &r, "QA", "release creation").unwrap();
    let l = list(&state, &all(), page()).unwrap();
    assert_eq!(l.items.len(), 2, "one job per release and Space");
    assert!(l.items.iter().all(|v| v.state == "queued"));

    // A failed attempt shows as retrying, with the reason.
    let mut job: PromotionJob = state
        .store
        .all_records::<PromotionJob>("")
        .unwrap()
        .into_iter()
        .find(|j| j.target_space == "Prod")
        .unwrap();
    job.attempts = 1;
    job.last_error = Some("calling Space 'Prod': connection refused".into());
    let mut b = Batch::new();
    b.put_record(&job).unwrap();
    state.store.commit(b).unwrap();
    let v = list(&state, &all(), page())
        .unwrap()
        .items
        .into_iter()
        .find(|v| v.job.target_space == "Prod")
        .unwrap();
    assert_eq!(
        (v.state, v.detail.as_str()),
        ("retrying", "calling Space 'Prod': connection refused")
    );

    // Offered with chunks missing: fetching; failed: failed with the reason.
    job.state = PromotionJobState::Offered {
        bundle_id: "b1".into(),
        chunks_missing: 3,
    };
    let mut b = Batch::new();
    b.put_record(&job).unwrap();
    state.store.commit(b).unwrap();
    let v = list(&state, &all(), page())
        .unwrap()
        .items
        .into_iter()
        .find(|v| v.job.target_space == "Prod")
        .unwrap();
    assert_eq!(v.state, "fetching");
}

#[test]
fn a_peer_is_stale_when_never_heard_from_or_silent_too_long() {
    let (_tmp, state) = space("DevTest");
    assert!(state.is_stale("Prod"), "never heard from");
    state.heard_from("Prod", "test");
    assert!(!state.is_stale("prod"), "names compare case-insensitively");
    assert!(state.last_heard("Prod").is_some());
    // A signed file from an hour ago is older news than now: it changes nothing.
    let t = state.last_heard("Prod").unwrap();
    state.heard_from_at("Prod", t - 3600, "old receipts");
    assert_eq!(state.last_heard("Prod"), Some(t));
    // Long silent: an hour-old contact with a 10-minute limit.
    state.heard_from_at("QA", crate::state::now() - 3600, "old receipts");
    assert!(state.is_stale("QA"));
}

/// A scheduled deployment stored before tenants (record version 1) reads as untenanted, under
/// the key an untenanted one still has, so it is listed and can be cancelled.
#[tokio::test]
async fn a_version_1_scheduled_deployment_reads_as_untenanted_and_cancels() {
    use domain::model::ScheduledDeployment;
    let (_tmp, state) = space("DevTest");
    let v1 = br#"{"v":1,"data":{"project":"Web","version":"1.0.0","environment":"Production","at":5,"state":"Scheduled","created_at":1,"created_by":"dora"}}"#;
    let key = storage::key_of(&["Web", "1.0.0", "Production"]);
    let s: ScheduledDeployment = storage::decode(&key, v1).unwrap();
    assert_eq!(s.tenant, None);
    assert_eq!(
        storage::Record::key(&s),
        key,
        "an untenanted record keeps the old key"
    );
    let mut b = Batch::new();
    b.put(
        <ScheduledDeployment as storage::Record>::TABLE,
        &key,
        v1.to_vec(),
    );
    state.commit(b).await.unwrap();
    let l = super::schedule::list(&state, page()).unwrap();
    assert_eq!(l.items, [s]);
    super::schedule::cancel(&state, "Web", "1.0.0", "Production", None)
        .await
        .unwrap();
    assert!(
        super::schedule::list(&state, page())
            .unwrap()
            .items
            .is_empty()
    );
}

/// Jobs made before the index existed are found once it is built; a job that is no longer
/// queued leaves it; offered jobs do not count toward the queue's cap.
#[tokio::test]
async fn the_queued_index_is_built_from_older_jobs_and_follows_their_state() {
    use super::queued;
    let (_tmp, state) = space("DevTest");
    let store = state.store.as_ref();
    // As an older build wrote them: jobs only, and no marker yet.
    let mut b = Batch::new();
    b.put_record(&job("1.0.0", PromotionJobState::Queued))
        .unwrap();
    b.put_record(&job("1.0.1", PromotionJobState::Failed))
        .unwrap();
    b.put_record(&job(
        "1.0.2",
        PromotionJobState::Offered {
            bundle_id: "b".into(),
            chunks_missing: 0,
        },
    ))
    .unwrap();
    b.delete("meta", "promotion_queued_index");
    store.commit(b).unwrap();
    queued::ensure::<PromotionJob>(store).unwrap();
    let keys = queued::keys::<PromotionJob>(store, 100).unwrap();
    assert_eq!(keys, [storage::key_of(&["Web", "1.0.0", "Prod"])]);

    let mut b = Batch::new();
    queued::put(&mut b, &job("1.0.0", PromotionJobState::Failed), false).unwrap();
    store.commit(b).unwrap();
    assert!(queued::keys::<PromotionJob>(store, 100).unwrap().is_empty());
}

/// 10,000 promotions done (offered) do not fill the queue: only jobs waiting count.
#[tokio::test]
async fn finished_promotions_do_not_fill_the_queue() {
    use super::queue::MAX_JOBS;
    let (_tmp, state) = space("DevTest");
    let mut b = Batch::new();
    for i in 0..MAX_JOBS {
        let offered = PromotionJobState::Offered {
            bundle_id: format!("b{i}"),
            chunks_missing: 0,
        };
        b.put_record(&job(&format!("1.0.{i}"), offered)).unwrap();
    }
    state.store.commit(b).unwrap();
    let r = release("2.0.0");
    enqueue(&state, &r, "Prod", "release creation").expect("queued despite 10,000 done");
    assert_eq!(
        super::queued::keys::<PromotionJob>(state.store.as_ref(), 10)
            .unwrap()
            .len(),
        1
    );
}

/// 10,000 releases staged ahead do not fill the staging queue: only jobs waiting count (the
/// cap counted every job ever made, as the promotion queue's did).
#[tokio::test]
async fn finished_stagings_do_not_fill_the_staging_queue() {
    use domain::model::{StagingJob, StagingState};
    let (_tmp, state) = space("DevTest");
    let mut b = Batch::new();
    for i in 0..super::stage::MAX_JOBS {
        b.put_record(&StagingJob {
            id: format!("s{i}"),
            project: "Web".into(),
            version: format!("1.0.{i}"),
            target_space: "Prod".into(),
            state: StagingState::Staged { chunks_missing: 0 },
            attempts: 1,
            last_error: None,
            next_attempt_at: 0,
            created_at: 0,
            updated_at: 0,
        })
        .unwrap();
    }
    state.store.commit(b).unwrap();
    let r = release("2.0.0");
    super::stage::enqueue_one(&state, &r, "Prod").expect("queued despite 10,000 staged");
    let queued = super::queued::keys::<StagingJob>(state.store.as_ref(), 10).unwrap();
    assert_eq!(queued.len(), 1);
}

/// `promotion list --project P [--version V]` reads that project's (release's) jobs only.
#[tokio::test]
async fn a_list_of_one_project_or_release() {
    use super::queue::Of;
    let (_tmp, state) = space("DevTest");
    for (project, version) in [("Web", "1.0.1"), ("Web", "1.0.10"), ("Api", "1.0.1")] {
        let r = domain::model::Release {
            project: project.into(),
            ..release(version)
        };
        enqueue(&state, &r, "Prod", "release creation").unwrap();
    }
    let shown = |of: Of| -> Vec<String> {
        list(&state, &of, page())
            .unwrap()
            .items
            .into_iter()
            .map(|j| format!("{} {}", j.job.project, j.job.version))
            .collect()
    };
    assert_eq!(shown(all()).len(), 3);
    assert_eq!(
        shown(Of::new("web", "").unwrap()),
        ["Web 1.0.1", "Web 1.0.10"]
    );
    assert_eq!(shown(Of::new("Web", "1.0.1").unwrap()), ["Web 1.0.1"]);
    assert!(shown(Of::new("Web", "2.0").unwrap()).is_empty());
    assert!(Of::new("", "1.0.1").is_err(), "a version needs its project");
}
