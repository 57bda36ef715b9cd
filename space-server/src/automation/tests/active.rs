//! Unit tests of `active.rs`: which promotions the dashboard shows in flight.

use domain::model::RunState;
use storage::MemoryStore;

use super::*;
use crate::automation::tests::job;

fn offered(version: &str, bundle: &str) -> PromotionJob {
    job(
        version,
        PromotionJobState::Offered {
            bundle_id: bundle.into(),
            chunks_missing: 0,
        },
    )
}

fn promotion(version: &str, bundle: &str) -> Promotion {
    Promotion {
        bundle_id: bundle.into(),
        digest: format!("sha256:{bundle}"),
        project: "Web".into(),
        version: version.into(),
        target_space: "Prod".into(),
        created_at: 0,
        created_by: "t".into(),
    }
}

fn result_for(p: &Promotion) -> RemoteResult {
    RemoteResult {
        from_space: "Prod".into(),
        receipt_id: "r1".into(),
        bundle_digest: p.digest.clone(),
        project: p.project.clone(),
        version: p.version.clone(),
        environment: "Prod: Production".into(),
        state: RunState::Success,
        started_at: None,
        finished_at: None,
        steps: Vec::new(),
        targets: 1,
        received_at: 0,
        file_digest: String::new(),
    }
}

fn versions(store: &dyn Store) -> Vec<String> {
    jobs(store)
        .unwrap()
        .into_iter()
        .map(|j| j.version)
        .collect()
}

fn write(store: &dyn Store, f: impl FnOnce(&mut Batch)) {
    let mut b = Batch::new();
    f(&mut b);
    store.commit(b).unwrap();
}

#[test]
fn a_job_is_in_flight_until_its_target_answers_the_bundle_it_offered() {
    let s = MemoryStore::new();
    let (p0, p1) = (promotion("1.0.0", "b0"), promotion("1.0.0", "b1"));
    write(&s, |b| {
        let j = job("1.0.0", PromotionJobState::Queued);
        b.put_record(&j).unwrap();
        track(&s, b, &j).unwrap();
        b.put_record(&p0).unwrap();
        b.put_record(&p1).unwrap();
    });
    assert_eq!(versions(&s), ["1.0.0"]);
    write(&s, |b| {
        let j = offered("1.0.0", "b1");
        b.put_record(&j).unwrap();
        track(&s, b, &j).unwrap();
    });
    // A late receipt for an earlier bundle, or one relayed from further down, settles nothing.
    write(&s, |b| settle(&s, b, &p0, "Prod").unwrap());
    write(&s, |b| settle(&s, b, &p1, "Edge").unwrap());
    assert_eq!(versions(&s), ["1.0.0"]);
    write(&s, |b| settle(&s, b, &p1, "prod").unwrap());
    assert!(versions(&s).is_empty());
}

/// The receipt can be applied before the job's offer is written: the offer then is not
/// tracked.
#[test]
fn an_offer_already_answered_is_not_tracked() {
    let s = MemoryStore::new();
    let p = promotion("1.0.1", "b2");
    write(&s, |b| {
        b.put_record(&p).unwrap();
        b.put_record(&result_for(&p)).unwrap();
    });
    write(&s, |b| {
        let j = offered("1.0.1", "b2");
        b.put_record(&j).unwrap();
        track(&s, b, &j).unwrap();
    });
    assert!(versions(&s).is_empty());
}

#[test]
fn an_older_store_is_indexed_once_from_its_jobs_and_results() {
    let s = MemoryStore::new();
    let answered_p = promotion("1.0.0", "b0");
    write(&s, |b| {
        b.put_record(&offered("1.0.0", "b0")).unwrap();
        b.put_record(&answered_p).unwrap();
        b.put_record(&result_for(&answered_p)).unwrap();
        b.put_record(&offered("1.0.1", "b1")).unwrap();
        b.put_record(&promotion("1.0.1", "b1")).unwrap();
        b.put_record(&job("1.0.2", PromotionJobState::Failed))
            .unwrap();
    });
    ensure(&s).unwrap();
    assert_eq!(versions(&s), ["1.0.1", "1.0.2"]);
    write(&s, |b| forget(b, &key_of(&["Web", "1.0.2", "Prod"])));
    ensure(&s).unwrap();
    assert_eq!(versions(&s), ["1.0.1"], "built once");
}
