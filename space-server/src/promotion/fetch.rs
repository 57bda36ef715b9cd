//! Connected Spaces, the target side: fetching the chunks a pending bundle's packages lack from
//! the Space that sent it, over the peer link. Every chunk is checked against its hash before
//! it is stored (one that does not match is refused and asked for again); what arrived stays,
//! so a fetch cut short resumes where it stopped. Chunks are asked for [`BATCH`] at a time,
//! each with the chunks of an older version held here that it may come as a delta against;
//! up to [`STORING`] of them are checked and stored at once while the next ones arrive, and
//! the batch is synced once.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use package_store::transfer::delta::{self, DeltaError};
use package_store::{ChunkHash, ChunkRef, PackageError, PackageManifest};
use storage::{StoreExt, prefix_of};

use super::{bundles, peering};
use crate::error::{ApiError, ApiResult};
use crate::peering::client;
use crate::state::SpaceState;

/// Chunks asked for per call.
const BATCH: usize = 512;
/// Chunks of a batch being checked and stored at once (on the blocking pool).
const STORING: usize = 8;

/// A chunk checked and stored: its hash, bytes received, whether it came as a delta, and the
/// outcome.
type Stored = (ChunkHash, u64, bool, Result<(), PackageError>);

/// How far a running fetch is: chunks and (uncompressed) bytes received of those missing when
/// it started, and since when.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub chunks_done: u64,
    pub chunks_total: u64,
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub started: std::time::Instant,
}

impl Progress {
    /// Bytes per second so far, and the seconds left at that rate.
    pub fn rate_and_eta(&self) -> (u64, u64) {
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        let rate = (self.bytes_done as f64 / secs) as u64;
        let left = self.bytes_total.saturating_sub(self.bytes_done);
        let eta = if rate == 0 { 0 } else { left.div_ceil(rate) };
        (rate, eta)
    }
}

/// Removes a fetch's progress when the fetch ends, however it ends.
struct Forget<'a> {
    state: &'a SpaceState,
    id: String,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        if let Ok(mut p) = self.state.fetch_progress.lock() {
            p.remove(&self.id);
        }
    }
}

/// What a fetch did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Fetched {
    pub chunks: u64,
    /// Bytes received (compressed, deltas as sent).
    pub bytes: u64,
    /// Of the chunks, how many came as deltas.
    pub deltas: u64,
    /// Still missing afterwards.
    pub missing: usize,
}

fn missing_of(state: &SpaceState, v: &exchange::bundle::VerifiedBundle) -> Vec<ChunkRef> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for m in v.manifests() {
        for c in state.chunks.missing(&m.chunks) {
            if seen.insert(c.hash) {
                out.push(c);
            }
        }
    }
    out
}

/// Rounds of asking again for chunks that arrived damaged (did not match their hash).
const ROUNDS: usize = 3;

/// Fetches every chunk bundle `id` still lacks from its source Space.
pub async fn fetch(state: &Arc<SpaceState>, id: &str) -> ApiResult<Fetched> {
    let rec = bundles::find(state, id)?;
    let v = bundles::load(state, &rec, false)?;
    let s = state.clone();
    let manifests: Vec<PackageManifest> = v.manifests();
    let bases = tokio::task::spawn_blocking(move || delta_bases(&s, &manifests))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    let missing = missing_of(state, &v);
    let mut done = fetch_missing(state, &rec.source_space, &rec.id, missing, &bases).await?;
    done.missing = missing_of(state, &v).len();
    if done.missing == 0 {
        super::verified::start(state, v.manifests());
    }
    tracing::info!(bundle = %rec.id, from = %rec.source_space, chunks = done.chunks, deltas = done.deltas, bytes = done.bytes, missing = done.missing, "bundle packages fetched");
    Ok(done)
}

/// Older versions of a package looked at for delta bases, newest first.
const OLD_VERSIONS: usize = 4;

/// Delta bases per missing chunk of `manifests`: chunks held here of the newest older
/// versions of the same packages (see [`delta::candidates`]).
pub(super) fn delta_bases(
    state: &SpaceState,
    manifests: &[PackageManifest],
) -> ApiResult<HashMap<ChunkHash, Vec<ChunkHash>>> {
    let mut out = HashMap::new();
    for m in manifests {
        let mut olds: Vec<PackageManifest> = state
            .store
            .all_records::<PackageManifest>(&prefix_of(&[&m.id]))?
            .into_iter()
            .filter(|o| o.version != m.version)
            .collect();
        olds.sort_by_key(|o| std::cmp::Reverse(o.uploaded_at));
        olds.truncate(OLD_VERSIONS);
        let mut refs: Vec<&[ChunkRef]> = olds.iter().map(|o| o.chunks.as_slice()).collect();
        refs.push(&m.chunks);
        let held = delta::held_of(&state.chunks, "here", &refs);
        out.extend(delta::candidates(m, &olds, &held));
    }
    Ok(out)
}

/// Fetches the chunks `missing` from Space `from`, which serves them under `id` (a bundle it
/// promoted here, or packages it stages here ahead of a promotion), proposing `bases` for
/// deltas. A chunk that does not match its hash is refused and asked for again, whole (up to
/// [`ROUNDS`] times in all).
pub async fn fetch_missing(
    state: &Arc<SpaceState>,
    from: &str,
    id: &str,
    missing: Vec<ChunkRef>,
    bases: &HashMap<ChunkHash, Vec<ChunkHash>>,
) -> ApiResult<Fetched> {
    let _writing = state.gc_lock.read().await;
    let lengths: HashMap<ChunkHash, u64> = missing
        .iter()
        .map(|c| (c.hash, u64::from(c.length)))
        .collect();
    if let Ok(mut m) = state.fetch_progress.lock() {
        m.insert(
            id.to_string(),
            Progress {
                chunks_done: 0,
                chunks_total: missing.len() as u64,
                bytes_done: 0,
                bytes_total: lengths.values().sum(),
                started: std::time::Instant::now(),
            },
        );
    }
    let _forget = Forget {
        state,
        id: id.to_string(),
    };
    let none = HashMap::new();
    let mut f = Fetch {
        state,
        bundle: id,
        from,
        lengths: &lengths,
        bases,
    };
    let mut done = Fetched::default();
    let mut todo: Vec<ChunkHash> = missing.iter().map(|c| c.hash).collect();
    for round in 1..=ROUNDS {
        let mut damaged = Vec::new();
        for batch in todo.chunks(BATCH) {
            f.batch(batch, &mut done, &mut damaged).await?;
        }
        if damaged.is_empty() {
            break;
        }
        if round == ROUNDS {
            return Err(ApiError::Precondition(format!(
                "'{from}' sent {} chunk(s) that did not match their hash {ROUNDS} times (first {}): they were refused; its copy may be damaged",
                damaged.len(),
                hex::encode(damaged[0])
            )));
        }
        todo = damaged;
        f.bases = &none; // asked again whole
    }
    state.heard_from(from, "chunks fetched");
    Ok(done)
}

/// One fetch from a source Space (of a bundle, or of packages staged ahead).
struct Fetch<'a> {
    state: &'a Arc<SpaceState>,
    bundle: &'a str,
    from: &'a str,
    lengths: &'a HashMap<ChunkHash, u64>,
    bases: &'a HashMap<ChunkHash, Vec<ChunkHash>>,
}

impl Fetch<'_> {
    /// Asks for `batch` and stores what arrives; chunks that did not match their hash go to
    /// `damaged`.
    async fn batch(
        &self,
        batch: &[ChunkHash],
        done: &mut Fetched,
        damaged: &mut Vec<ChunkHash>,
    ) -> ApiResult<()> {
        let p = peering(self.state)?;
        let from = self.from;
        let wanted: HashSet<ChunkHash> = batch.iter().copied().collect();
        let hashes = batch.iter().map(|h| h.to_vec()).collect();
        let bases = self.proposed(batch);
        let mut storing = tokio::task::JoinSet::new();
        let mut stream = client::fetch_chunks(p, from, self.bundle, hashes, bases)
            .await
            .map_err(|s| ApiError::Precondition(s.message().to_string()))?;
        while let Some(c) = stream.message().await.map_err(|s| {
            ApiError::Precondition(format!(
                "fetching chunks from '{from}' was cut short: {} (fetch again to resume)",
                s.message()
            ))
        })? {
            let hash = ChunkHash::try_from(c.hash.as_slice())
                .ok()
                .filter(|h| wanted.contains(h))
                .ok_or_else(|| {
                    ApiError::Precondition(format!("'{from}' sent a chunk that was not asked for"))
                })?;
            let len = c.zstd.len() as u64;
            let base = self.base_of(&hash, &c.base)?;
            let st = self.state.clone();
            // Checked and stored on the blocking pool, several at once, while the next
            // chunks arrive.
            storing.spawn_blocking(move || {
                let stored = match base {
                    None => st
                        .chunks
                        .put_compressed_unsynced(&hash, &c.zstd)
                        .map(|_| ()),
                    Some(b) => match delta::apply(&st.chunks, &hash, &b, &c.zstd) {
                        Ok(_) => Ok(()),
                        Err(DeltaError::Corrupt | DeltaError::MissingBase(_)) => {
                            Err(PackageError::ChunkCorrupt {
                                hash: hex::encode(hash),
                            })
                        }
                        Err(DeltaError::Store(e)) => Err(e),
                    },
                };
                (hash, len, base.is_some(), stored)
            });
            while storing.len() >= STORING {
                if let Some(r) = storing.join_next().await {
                    self.settle(r, done, damaged)?;
                }
            }
        }
        while let Some(r) = storing.join_next().await {
            self.settle(r, done, damaged)?;
        }
        // One fsync per batch, before the chunks count for anything durable (an import).
        let st = self.state.clone();
        tokio::task::spawn_blocking(move || st.chunks.sync())
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
            .map_err(|e| ApiError::Internal(format!("cannot sync the chunk store: {e}")))?;
        Ok(())
    }
}

impl Fetch<'_> {
    /// Counts a chunk stored (or one that did not match its hash, into `damaged`).
    fn settle(
        &self,
        joined: Result<Stored, tokio::task::JoinError>,
        done: &mut Fetched,
        damaged: &mut Vec<ChunkHash>,
    ) -> ApiResult<()> {
        let (hash, len, delta, stored) = joined.map_err(|e| ApiError::Internal(e.to_string()))?;
        let from = self.from;
        match stored {
            Ok(()) => {}
            Err(PackageError::ChunkCorrupt { .. }) => {
                tracing::warn!(bundle = %self.bundle, from = %from, chunk = %hex::encode(hash), "a fetched chunk does not match its hash: refused, asked for again");
                damaged.push(hash);
                return Ok(());
            }
            Err(e) => {
                return Err(ApiError::Precondition(format!(
                    "chunk {} from '{from}' could not be stored: {e}",
                    hex::encode(hash)
                )));
            }
        }
        done.deltas += u64::from(delta);
        done.chunks += 1;
        done.bytes += len;
        let plain = self.lengths.get(&hash).copied().unwrap_or(0);
        if let Ok(mut m) = self.state.fetch_progress.lock()
            && let Some(p) = m.get_mut(self.bundle)
        {
            p.chunks_done += 1;
            p.bytes_done += plain;
        }
        Ok(())
    }

    /// The delta bases proposed for `batch` (empty when none is).
    fn proposed(&self, batch: &[ChunkHash]) -> Vec<Vec<u8>> {
        if !batch.iter().any(|h| self.bases.contains_key(h)) {
            return Vec::new();
        }
        batch
            .iter()
            .map(|h| {
                let list = self.bases.get(h).map(Vec::as_slice).unwrap_or_default();
                list.iter()
                    .take(2)
                    .flat_map(|b| b.iter().copied())
                    .collect()
            })
            .collect()
    }

    /// The base a chunk came as a delta against: one proposed for it, or none (sent whole).
    fn base_of(&self, hash: &ChunkHash, base: &[u8]) -> ApiResult<Option<ChunkHash>> {
        if base.is_empty() {
            return Ok(None);
        }
        ChunkHash::try_from(base)
            .ok()
            .filter(|b| {
                self.bases
                    .get(hash)
                    .is_some_and(|l| l.iter().take(2).any(|x| x == b))
            })
            .map(Some)
            .ok_or_else(|| {
                ApiError::Precondition(format!(
                    "'{}' sent chunk {} as a delta against a chunk that was not proposed",
                    self.from,
                    hex::encode(hash)
                ))
            })
    }
}

/// Starts [`fetch`] in the background unless one runs for the bundle already; failures are
/// logged (the automation loop tries again later, `deploy bundle fetch` forces it). Wakes the
/// automation loop when done (an automatic import may be due). Returns whether it started.
pub fn spawn(state: Arc<SpaceState>, id: String) -> bool {
    let s = state.clone();
    let bundle = id.clone();
    spawn_once(state, id, async move {
        if let Err(e) = fetch(&s, &bundle).await {
            tracing::warn!(bundle = %bundle, error = %e, "fetching the packages of a bundle failed; it is tried again later (deploy bundle fetch forces it)");
        }
    })
}

/// Runs `work` in the background unless work under `key` runs already (`SpaceState::fetching`);
/// wakes the automation loop when it ends. Returns whether it started.
pub fn spawn_once(
    state: Arc<SpaceState>,
    key: String,
    work: impl std::future::Future<Output = ()> + Send + 'static,
) -> bool {
    let started = state
        .fetching
        .lock()
        .map(|mut f| f.insert(key.clone()))
        .unwrap_or(false);
    if !started {
        return false;
    }
    tokio::spawn(async move {
        work.await;
        if let Ok(mut f) = state.fetching.lock() {
            f.remove(&key);
        }
        state.wake.notify_one();
    });
    true
}

#[cfg(test)]
mod tests {
    use super::Progress;

    #[test]
    fn progress_gives_a_rate_and_the_time_left_at_it() {
        let p = Progress {
            chunks_done: 10,
            chunks_total: 40,
            bytes_done: 1_000_000,
            bytes_total: 4_000_000,
            started: std::time::Instant::now() - std::time::Duration::from_secs(2),
        };
        let (rate, eta) = p.rate_and_eta();
        assert!((450_000..=510_000).contains(&rate), "{rate}");
        assert!((5..=7).contains(&eta), "{eta}");
        let none = Progress { bytes_done: 0, ..p };
        assert_eq!(
            none.rate_and_eta(),
            (0, 0),
            "no estimate before the first byte"
        );
    }
}
