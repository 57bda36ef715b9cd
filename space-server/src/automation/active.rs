//! The index of promotion jobs not known to be deployed at their target (`promotion_active`:
//! one empty row per job, keyed as the job): written with every job unless its target already
//! answered the bundle it offered, deleted with the job, and settled in the batch that applies the
//! first receipt its target sends for the bundle it offered. The dashboard's promotions in
//! flight read these, not every job ever made. Built once from the jobs and the results held
//! by a store that predates it (marker `meta/promotion_active_index`).

use domain::model::{Promotion, PromotionJob, PromotionJobState, RemoteResult};
use storage::{Batch, Record, StorageError, Store, StoreExt, key_of, prefix_of};

pub const TABLE: &str = "promotion_active";
const MARKER_TABLE: &str = "meta";
const MARKER: &str = "promotion_active_index";

/// Marks `job` (being written in `b`) as not deployed yet, unless its target already
/// answered the bundle it offered (a receipt can arrive before the job's offer is written).
pub fn track(store: &dyn Store, b: &mut Batch, job: &PromotionJob) -> Result<(), StorageError> {
    match offered(job) {
        Some(id) if answered(store, id)? => {
            b.delete(TABLE, &job.key());
        }
        _ => {
            b.put(TABLE, &job.key(), Vec::new());
        }
    }
    Ok(())
}

/// Deletes the row of the job under `key` (the job is deleted).
pub fn forget(b: &mut Batch, key: &str) {
    b.delete(TABLE, key);
}

/// A receipt from `from` for promotion `p` is being applied in `b`: the job that offered that
/// bundle is deployed (a receipt for an earlier bundle of a job offered again settles
/// nothing).
pub fn settle(
    store: &dyn Store,
    b: &mut Batch,
    p: &Promotion,
    from: &str,
) -> Result<(), StorageError> {
    if !from.eq_ignore_ascii_case(&p.target_space) {
        return Ok(()); // relayed from further down: the job's own target has not answered
    }
    let key = key_of(&[&p.project, &p.version, &p.target_space]);
    if let Some(job) = store.get_record::<PromotionJob>(&key)?
        && offered(&job).is_some_and(|id| id.eq_ignore_ascii_case(&p.bundle_id))
    {
        b.delete(TABLE, &key);
    }
    Ok(())
}

fn offered(job: &PromotionJob) -> Option<&str> {
    match &job.state {
        PromotionJobState::Offered { bundle_id, .. } => Some(bundle_id),
        _ => None,
    }
}

/// Every job not known to be deployed.
pub fn jobs(store: &dyn Store) -> Result<Vec<PromotionJob>, StorageError> {
    let mut out = Vec::new();
    for (k, _) in store.scan(TABLE, "", None, usize::MAX)? {
        if let Some(j) = store.get_record::<PromotionJob>(&k)? {
            out.push(j);
        }
    }
    Ok(out)
}

/// Whether the target of an offered job answered (a receipt for its bundle is held).
fn answered(store: &dyn Store, bundle_id: &str) -> Result<bool, StorageError> {
    let Some(p) = store.get_record::<Promotion>(&bundle_id.to_ascii_lowercase())? else {
        return Ok(false);
    };
    let prefix = prefix_of(&[&p.target_space, &p.digest]);
    Ok(!store
        .scan(RemoteResult::TABLE, &prefix, None, 1)?
        .is_empty())
}

/// Builds the index from the jobs once.
pub fn ensure(store: &dyn Store) -> Result<(), StorageError> {
    if store.get(MARKER_TABLE, MARKER)?.is_some() {
        return Ok(());
    }
    let mut b = Batch::new();
    for job in store.all_records::<PromotionJob>("")? {
        track(store, &mut b, &job)?;
    }
    b.put(MARKER_TABLE, MARKER, b"1".to_vec());
    store.commit(b)?;
    tracing::info!("promotions in flight indexed");
    Ok(())
}

#[cfg(test)]
#[path = "tests/active.rs"]
mod tests;
