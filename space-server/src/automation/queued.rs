//! The index of promotion jobs waiting their turn (`promotion_queued`: one empty row per
//! queued job, written in the same batch as the job). The queue's passes and its cap read only
//! these, not every job ever made: jobs stay after their promotion as its history, and a cap
//! on all of them stopped automatic promotions for good after 10,000 (found by the soak).
//! Built from the jobs at the first start of a build that has it.

use domain::model::{PromotionJob, PromotionJobState};
use storage::{Batch, Record, StorageError, Store, StoreExt};

pub const TABLE: &str = "promotion_queued";
const MARKER_TABLE: &str = "meta";
const MARKER: &str = "promotion_queued_index";

/// Writes `job` (inserted when `insert`: the batch fails if it exists) and its index row.
pub fn put(b: &mut Batch, job: &PromotionJob, insert: bool) -> Result<(), StorageError> {
    if insert {
        b.insert_record(job)?;
    } else {
        b.put_record(job)?;
    }
    if job.state == PromotionJobState::Queued {
        b.put(TABLE, &job.key(), Vec::new());
    } else {
        b.delete(TABLE, &job.key());
    }
    Ok(())
}

/// Deletes the job under `key` and its index row.
pub fn remove(b: &mut Batch, key: &str) {
    b.delete(PromotionJob::TABLE, key);
    b.delete(TABLE, key);
}

/// The keys of up to `limit` queued jobs.
pub fn keys(store: &dyn Store, limit: usize) -> Result<Vec<String>, StorageError> {
    Ok(store
        .scan(TABLE, "", None, limit)?
        .into_iter()
        .map(|(k, _)| k)
        .collect())
}

/// Builds the index from the jobs once.
pub fn ensure(store: &dyn Store) -> Result<(), StorageError> {
    if store.get(MARKER_TABLE, MARKER)?.is_some() {
        return Ok(());
    }
    let mut b = Batch::new();
    let mut queued = 0;
    for job in store.all_records::<PromotionJob>("")? {
        if job.state == PromotionJobState::Queued {
            b.put(TABLE, &job.key(), Vec::new());
            queued += 1;
        }
    }
    b.put(MARKER_TABLE, MARKER, b"1".to_vec());
    store.commit(b)?;
    tracing::info!(queued, "promotion queue index built");
    Ok(())
}
