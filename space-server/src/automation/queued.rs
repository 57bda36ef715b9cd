//! Indexes of jobs waiting their turn: one empty row per queued job, written in the same
//! batch as the job — `promotion_queued` for promotion jobs, `staging_queued` for staging
//! jobs. The queues' passes and caps read only these, not every job ever made: jobs stay
//! after they ran as their history, and a cap on all of them stopped automatic promotions for
//! good after 10,000 (found by the soak; staging ahead had the same cap). Each is built from
//! the jobs at the first start of a build that has it (a marker row in `meta`).

use domain::model::{PromotionJob, PromotionJobState, StagingJob, StagingState};
use storage::{Batch, Record, StorageError, Store, StoreExt};

/// A job kept in a queue with an index of those waiting.
pub trait Queued: Record {
    /// The index table.
    const INDEX: &'static str;
    /// The marker row (in `meta`) saying the index was built.
    const MARKER: &'static str;
    /// Whether the job waits its turn.
    fn waiting(&self) -> bool;
}

impl Queued for PromotionJob {
    const INDEX: &'static str = "promotion_queued";
    const MARKER: &'static str = "promotion_queued_index";
    fn waiting(&self) -> bool {
        self.state == PromotionJobState::Queued
    }
}

impl Queued for StagingJob {
    const INDEX: &'static str = "staging_queued";
    const MARKER: &'static str = "staging_queued_index";
    fn waiting(&self) -> bool {
        self.state == StagingState::Queued
    }
}

const MARKER_TABLE: &str = "meta";

/// Writes `job` (inserted when `insert`: the batch fails if it exists) and its index row.
pub fn put<J: Queued>(b: &mut Batch, job: &J, insert: bool) -> Result<(), StorageError> {
    if insert {
        b.insert_record(job)?;
    } else {
        b.put_record(job)?;
    }
    if job.waiting() {
        b.put(J::INDEX, &job.key(), Vec::new());
    } else {
        b.delete(J::INDEX, &job.key());
    }
    Ok(())
}

/// Deletes the job under `key` and its index row.
pub fn remove<J: Queued>(b: &mut Batch, key: &str) {
    b.delete(J::TABLE, key);
    b.delete(J::INDEX, key);
}

/// Up to `limit` queued jobs; index rows whose job is gone are deleted in `stale`.
pub fn jobs<J: Queued>(
    store: &dyn Store,
    limit: usize,
    stale: &mut Batch,
) -> Result<Vec<J>, StorageError> {
    let mut out = Vec::new();
    for key in keys::<J>(store, limit)? {
        match store.get_record::<J>(&key)? {
            Some(j) => out.push(j),
            None => {
                stale.delete(J::INDEX, &key);
            }
        }
    }
    Ok(out)
}

/// The keys of up to `limit` queued jobs.
pub fn keys<J: Queued>(store: &dyn Store, limit: usize) -> Result<Vec<String>, StorageError> {
    Ok(store
        .scan(J::INDEX, "", None, limit)?
        .into_iter()
        .map(|(k, _)| k)
        .collect())
}

/// Builds the index from the jobs once.
pub fn ensure<J: Queued>(store: &dyn Store) -> Result<(), StorageError> {
    if store.get(MARKER_TABLE, J::MARKER)?.is_some() {
        return Ok(());
    }
    let mut b = Batch::new();
    let mut queued = 0;
    for job in store.all_records::<J>("")? {
        if job.waiting() {
            b.put(J::INDEX, &job.key(), Vec::new());
            queued += 1;
        }
    }
    b.put(MARKER_TABLE, J::MARKER, b"1".to_vec());
    store.commit(b)?;
    tracing::info!(table = J::TABLE, queued, "queue index built");
    Ok(())
}
