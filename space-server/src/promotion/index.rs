//! Indexes over promotions and received bundles, so work done per event reads what it needs
//! and not every promotion or bundle ever recorded (found by the soak: each pass grew with
//! history). Each is written in the batch that writes its record:
//! - `promotion_by_release`: one key per promotion, (project, version) then the bundle id;
//! - `bundle_pending`: the ids of received bundles still pending;
//! - `bundle_upstream`: the Spaces whose bundles were imported here (key lowercase, value the
//!   name as the bundle gave it), those the receipt outbox serves;
//! - `package_given`: (target Space, package id, version) for every package of a release
//!   promoted or staged to a Space (value: the version as written), the bases of deltas.
//!
//! A store that predates them is indexed once at start ([`ensure`], marker
//! `meta/promotion_indexes`).

use std::collections::BTreeSet;

use domain::model::{BundleState, Promotion, ReceivedBundle, Release, StagingJob};
use storage::{Batch, StorageError, Store, StoreExt, key_of, prefix_of};

pub const BY_RELEASE: &str = "promotion_by_release";
pub const PENDING: &str = "bundle_pending";
pub const UPSTREAM: &str = "bundle_upstream";
pub const GIVEN: &str = "package_given";
const MARKER_TABLE: &str = "meta";
const MARKER: &str = "promotion_indexes";
/// Separator inside index keys (names never contain control characters).
const SEP: char = '\u{1f}';

/// Writes `p` (a new promotion) and its index key.
pub fn put_promotion(b: &mut Batch, p: &Promotion) -> Result<(), StorageError> {
    b.put_record(p)?;
    add_promotion(b, p);
    Ok(())
}

fn add_promotion(b: &mut Batch, p: &Promotion) {
    let k = format!("{}{SEP}{}", key_of(&[&p.project, &p.version]), p.bundle_id);
    b.put(BY_RELEASE, &k, Vec::new());
}

/// The promotions under an index prefix.
fn promotions_under(store: &dyn Store, prefix: &str) -> Result<Vec<Promotion>, StorageError> {
    let mut out = Vec::new();
    for (k, _) in store.scan(BY_RELEASE, prefix, None, usize::MAX)? {
        let Some((_, id)) = k.rsplit_once(SEP) else {
            continue;
        };
        if let Some(p) = store.get_record::<Promotion>(id)? {
            out.push(p);
        }
    }
    Ok(out)
}

/// Every promotion of a release (its project and version, compared without case; callers
/// compare the version exactly and the creation time).
pub fn promotions_of_release(
    store: &dyn Store,
    project: &str,
    version: &str,
) -> Result<Vec<Promotion>, StorageError> {
    promotions_under(store, &prefix_of(&[project, version]))
}

/// Records that the packages of `release` were given to `target` (promoted or staged).
pub fn add_given(b: &mut Batch, target: &str, release: &Release) {
    for pin in &release.packages {
        let k = key_of(&[target, &pin.id, &pin.version]);
        b.put(GIVEN, &k, pin.version.clone().into_bytes());
    }
}

/// The versions of package `id` given to `target`.
pub fn given_versions(
    store: &dyn Store,
    target: &str,
    id: &str,
) -> Result<Vec<String>, StorageError> {
    Ok(store
        .scan(GIVEN, &prefix_of(&[target, id]), None, usize::MAX)?
        .into_iter()
        .filter_map(|(_, v)| String::from_utf8(v).ok())
        .collect())
}

/// Writes a received bundle and keeps the pending and upstream indexes in step with its
/// state.
pub fn put_bundle(b: &mut Batch, rb: &ReceivedBundle, insert: bool) -> Result<(), StorageError> {
    if insert {
        b.insert_record(rb)?;
    } else {
        b.put_record(rb)?;
    }
    index_bundle(b, rb);
    Ok(())
}

fn index_bundle(b: &mut Batch, rb: &ReceivedBundle) {
    match rb.state {
        BundleState::Pending => {
            b.put(PENDING, &rb.id, Vec::new());
        }
        BundleState::Imported { .. } => {
            b.delete(PENDING, &rb.id);
            let name = rb.source_space.clone().into_bytes();
            b.put(UPSTREAM, &rb.source_space.to_lowercase(), name);
        }
    }
}

/// The received bundles still pending.
pub fn pending_bundles(store: &dyn Store) -> Result<Vec<ReceivedBundle>, StorageError> {
    let mut out = Vec::new();
    for (id, _) in store.scan(PENDING, "", None, usize::MAX)? {
        match store.get_record::<ReceivedBundle>(&id)? {
            Some(rb) if rb.state == BundleState::Pending => out.push(rb),
            _ => {}
        }
    }
    Ok(out)
}

/// The Spaces whose bundles were imported here.
pub fn upstream_spaces(store: &dyn Store) -> Result<BTreeSet<String>, StorageError> {
    Ok(store
        .scan(UPSTREAM, "", None, usize::MAX)?
        .into_iter()
        .map(|(k, v)| String::from_utf8(v).unwrap_or(k))
        .collect())
}

/// Indexes the promotions and bundles of a store written before these indexes (once).
pub fn ensure(store: &dyn Store) -> Result<(), StorageError> {
    if store.get(MARKER_TABLE, MARKER)?.is_some() {
        return Ok(());
    }
    let mut b = Batch::new();
    let promotions = store.all_records::<Promotion>("")?;
    for p in &promotions {
        add_promotion(&mut b, p);
    }
    let mut given: Vec<(String, String, String)> = promotions
        .iter()
        .map(|p| (p.target_space.clone(), p.project.clone(), p.version.clone()))
        .collect();
    for j in store.all_records::<StagingJob>("")? {
        given.push((j.target_space, j.project, j.version));
    }
    for (target, project, version) in given {
        if let Some(r) = store.get_record::<Release>(&key_of(&[&project, &version]))? {
            add_given(&mut b, &target, &r);
        }
    }
    let bundles = store.all_records::<ReceivedBundle>("")?;
    for rb in &bundles {
        index_bundle(&mut b, rb);
    }
    b.put(MARKER_TABLE, MARKER, b"1".to_vec());
    store.commit(b)?;
    tracing::info!(
        promotions = promotions.len(),
        bundles = bundles.len(),
        "promotion and bundle indexes built"
    );
    Ok(())
}

#[cfg(test)]
#[path = "tests/index.rs"]
mod tests;
