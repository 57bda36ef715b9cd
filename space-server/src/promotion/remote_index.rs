//! Results received in Deployment Receipts: those of one release (`results_for`, the lifecycle
//! inputs), and the newest per (project, remote environment), so the dashboard
//! reads one row per cell instead of every result ever received: `remote_latest` maps
//! (project, environment) to the `remote_result` key. Written in the batch that applies the
//! receipts (see `receipts_in::import`); a store that predates it is indexed once at start
//! ([`ensure`], marker `meta/remote_latest`).

use domain::model::{Release, RemoteResult, RunState};

use crate::error::ApiResult;
use crate::state::SpaceState;
use storage::{Batch, StorageError, Store, StoreExt, key_of};

pub const LATEST: &str = "remote_latest";
const MARKER_TABLE: &str = "meta";
const MARKER: &str = "remote_latest";

fn cell_key(r: &RemoteResult) -> String {
    key_of(&[&r.project, &r.environment])
}

/// Whether `r` shows instead of `old` in its cell: it finished later (or, finished at the
/// same time, arrived later).
fn newer(r: &RemoteResult, old: &RemoteResult) -> bool {
    (r.finished_at, r.received_at) >= (old.finished_at, old.received_at)
}

/// Adds `r` to `b`'s index entries if it is the newest of its cell, counting the cells `b`
/// already changed (`pending`: the results this returned `true` for earlier, in order).
/// Returns whether `r` became its cell's newest.
pub fn add(
    store: &dyn Store,
    b: &mut Batch,
    r: &RemoteResult,
    pending: &[RemoteResult],
) -> Result<bool, StorageError> {
    let k = cell_key(r);
    let in_batch = pending.iter().rev().find(|p| cell_key(p) == k).cloned();
    let current = match in_batch {
        Some(p) => Some(p),
        None => match store.get(LATEST, &k)? {
            Some(v) => store.get_record::<RemoteResult>(&String::from_utf8_lossy(&v))?,
            None => None,
        },
    };
    let newest = current.as_ref().is_none_or(|old| newer(r, old));
    if newest {
        b.put(LATEST, &k, storage::Record::key(r).into_bytes());
    }
    Ok(newest)
}

/// A page of every result received (in key order: sender, bundle, receipt), each with whether
/// its project was deleted here since (the result is kept all the same).
pub fn received(
    state: &SpaceState,
    page: crate::services::Page,
) -> ApiResult<crate::services::Listed<(RemoteResult, bool)>> {
    let (items, next) =
        state
            .store
            .list_records::<RemoteResult>("", page.after.as_deref(), page.size)?;
    let mut out = Vec::with_capacity(items.len());
    for r in items {
        let deleted = match state.project(&r.project) {
            Ok(_) => false,
            Err(crate::error::ApiError::NotFound { .. }) => true,
            Err(e) => return Err(e),
        };
        out.push((r, deleted));
    }
    Ok(crate::services::Listed { items: out, next })
}

/// The newest result of every (project, remote environment) that has one.
pub fn latest(store: &dyn Store) -> Result<Vec<RemoteResult>, StorageError> {
    let mut out = Vec::new();
    for (_, v) in store.scan(LATEST, "", None, usize::MAX)? {
        if let Some(r) = store.get_record::<RemoteResult>(&String::from_utf8_lossy(&v))? {
            out.push(r);
        }
    }
    Ok(out)
}

/// Indexes every result of a store written before the index existed (once).
pub fn ensure(store: &dyn Store) -> Result<(), StorageError> {
    if store.get(MARKER_TABLE, MARKER)?.is_some() {
        return Ok(());
    }
    let mut b = Batch::new();
    let mut seen: Vec<RemoteResult> = Vec::new();
    let all = store.all_records::<RemoteResult>("")?;
    for r in &all {
        if add(store, &mut b, r, &seen)? {
            seen.push(r.clone());
        }
    }
    b.put(MARKER_TABLE, MARKER, b"1".to_vec());
    store.commit(b)?;
    tracing::info!(results = all.len(), "remote result index built");
    Ok(())
}

/// The results received for bundles of this release (promoted since it was created: a release
/// deleted and created again does not inherit the old one's results).
pub fn results_for(state: &SpaceState, release: &Release) -> ApiResult<Vec<RemoteResult>> {
    let mut out = Vec::new();
    let store = state.store.as_ref();
    for p in super::index::promotions_of_release(store, &release.project, &release.version)? {
        if p.project.eq_ignore_ascii_case(&release.project)
            && p.version == release.version
            && p.created_at >= release.created_at
        {
            // Results are keyed (from Space, bundle digest, receipt): one prefix per promotion.
            let prefix = storage::prefix_of(&[&p.target_space, &p.digest]);
            out.extend(state.store.all_records::<RemoteResult>(&prefix)?);
        }
    }
    Ok(out)
}

/// What succeeded remotely, as lifecycle entries: "Prod: Production" and the Space "Prod".
pub fn remote_successes(state: &SpaceState, release: &Release) -> ApiResult<Vec<String>> {
    let mut out = Vec::new();
    for r in results_for(state, release)? {
        if r.state == RunState::Success {
            out.push(r.environment);
            out.push(r.from_space);
        }
    }
    Ok(out)
}

#[cfg(test)]
#[path = "tests/remote_index.rs"]
mod tests;
