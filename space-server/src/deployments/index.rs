//! Indexes over deployments, so listing and the dashboard never walk every deployment:
//! `deployment_index` holds, newest first, one key per deployment under all, its project, its
//! environment, both, and its release (project and version; value: the deployment number); `deployment_latest` holds the newest
//! untenanted deployment per (project, environment), `deployment_latest_tenant` the newest per
//! (project, environment, tenant). All are written in the batch that creates the deployment
//! (project, environment and tenant never change afterwards). A store that predates them is
//! indexed once at start ([`ensure`], marker `meta/deployment_index`: "3" since the release
//! key; a store marked "1" had tenant deployments in `deployment_latest`, one marked "2" lacks
//! the release keys: both are indexed again).

use domain::model::Deployment;
use storage::records::deployment_key;
use storage::{Batch, StorageError, Store, StoreExt, key_of};

pub const INDEX: &str = "deployment_index";
pub const LATEST: &str = "deployment_latest";
pub const LATEST_TENANT: &str = "deployment_latest_tenant";
const MARKER_TABLE: &str = "meta";
const MARKER: &str = "deployment_index";
/// The index layout this build writes.
const LAYOUT: &[u8] = b"3";
/// Separator inside index keys (names never contain control characters).
const SEP: char = '\u{1f}';

/// Sorts newer deployments first.
fn newest_first(n: u64) -> String {
    format!("{:020}", u64::MAX - n)
}

/// The index prefix for a filter (empty strings: no filter on that field).
pub fn prefix(project: &str, environment: &str) -> String {
    let (p, e) = (project.to_lowercase(), environment.to_lowercase());
    match (p.is_empty(), e.is_empty()) {
        (true, true) => format!("a{SEP}"),
        (false, true) => format!("p{SEP}{p}{SEP}"),
        (true, false) => format!("e{SEP}{e}{SEP}"),
        (false, false) => format!("pe{SEP}{p}{SEP}{e}{SEP}"),
    }
}

/// The index prefix of a release's deployments.
fn release_prefix(project: &str, version: &str) -> String {
    format!("r{SEP}{}{SEP}", key_of(&[project, version]))
}

/// Adds the index entries of a new deployment to `b`.
pub fn add(b: &mut Batch, d: &Deployment) {
    let n = newest_first(d.number);
    let v = d.number.to_string().into_bytes();
    for (p, e) in [
        ("", ""),
        (d.project.as_str(), ""),
        ("", d.environment.as_str()),
        (d.project.as_str(), d.environment.as_str()),
    ] {
        b.put(INDEX, &format!("{}{n}", prefix(p, e)), v.clone());
    }
    let r = release_prefix(&d.project, &d.version);
    b.put(INDEX, &format!("{r}{n}"), v.clone());
    match &d.tenant {
        Some(t) => b.put(LATEST_TENANT, &key_of(&[&d.project, &d.environment, t]), v),
        None => b.put(LATEST, &key_of(&[&d.project, &d.environment]), v),
    };
}

fn number(table: &str, key: &str, v: &[u8]) -> Result<u64, StorageError> {
    std::str::from_utf8(v)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| StorageError::Corrupt {
            table: table.into(),
            key: key.into(),
            reason: "not a deployment number".into(),
        })
}

/// Up to `size` deployments matching the filter, newest first, after the index key `after`;
/// and the key to continue after.
pub fn page(
    store: &dyn Store,
    project: &str,
    environment: &str,
    after: Option<&str>,
    size: usize,
) -> Result<(Vec<Deployment>, Option<String>), StorageError> {
    let rows = store.scan(INDEX, &prefix(project, environment), after, size + 1)?;
    let more = rows.len() > size;
    let mut out = Vec::with_capacity(rows.len().min(size));
    let mut last = None;
    for (k, v) in rows.into_iter().take(size) {
        let n = number(INDEX, &k, &v)?;
        if let Some(d) = store.get_record::<Deployment>(&deployment_key(n))? {
            out.push(d);
        }
        last = Some(k);
    }
    Ok((out, if more { last } else { None }))
}

/// Every deployment of a release (of every release with that project and version: callers
/// tell apart one deleted and created again by `release_created_at`), newest first.
pub fn of_release(
    store: &dyn Store,
    project: &str,
    version: &str,
) -> Result<Vec<Deployment>, StorageError> {
    let mut out = Vec::new();
    let prefix = release_prefix(project, version);
    for (k, v) in store.scan(INDEX, &prefix, None, usize::MAX)? {
        let n = number(INDEX, &k, &v)?;
        if let Some(d) = store.get_record::<Deployment>(&deployment_key(n))? {
            out.push(d);
        }
    }
    Ok(out)
}

/// The newest untenanted deployment of every (project, environment) that has one.
pub fn latest(store: &dyn Store) -> Result<Vec<Deployment>, StorageError> {
    newest_in(store, LATEST)
}

/// The newest deployment of every (project, environment, tenant) that has one.
pub fn latest_tenanted(store: &dyn Store) -> Result<Vec<Deployment>, StorageError> {
    newest_in(store, LATEST_TENANT)
}

fn newest_in(store: &dyn Store, table: &str) -> Result<Vec<Deployment>, StorageError> {
    let mut out = Vec::new();
    for (k, v) in store.scan(table, "", None, usize::MAX)? {
        let n = number(table, &k, &v)?;
        if let Some(d) = store.get_record::<Deployment>(&deployment_key(n))? {
            out.push(d);
        }
    }
    Ok(out)
}

/// Indexes every deployment of a store written before this layout (once).
pub fn ensure(store: &dyn Store) -> Result<(), StorageError> {
    let marker = store.get(MARKER_TABLE, MARKER)?;
    if marker.as_deref() == Some(LAYOUT) {
        return Ok(());
    }
    let mut b = Batch::new();
    // The newest-per-cell tables are rebuilt whole (layout 1 kept tenant deployments in
    // `deployment_latest`); deployments are read in number order, so the newest is put last.
    for table in [LATEST, LATEST_TENANT] {
        for (k, _) in store.scan(table, "", None, usize::MAX)? {
            b.delete(table, &k);
        }
    }
    let all = store.all_records::<Deployment>("")?;
    for d in &all {
        add(&mut b, d);
    }
    b.put(MARKER_TABLE, MARKER, LAYOUT.to_vec());
    store.commit(b)?;
    tracing::info!(deployments = all.len(), from = ?marker.map(|m| String::from_utf8_lossy(&m).into_owned()), "deployment indexes built");
    Ok(())
}

#[cfg(test)]
#[path = "tests/index.rs"]
mod tests;
