//! The rules of connected promotion, for the peer link's handlers
//! (`peering/promotions.rs`): who may offer, fetch and deliver what. The caller is a Space
//! already identified by its certificate; these decide by the trust set and the records.

use std::collections::HashSet;
use std::sync::Arc;

use domain::model::{Promotion, StagingJob};
use net::pki::allows;
use package_store::ChunkHash;
use proto::odcm::v1 as odcm_pb;
use storage::StoreExt;

use super::{bundles, claimed_sender, fetch, peering, receipts_in};
use crate::error::{ApiError, ApiResult};
use crate::state::SpaceState;

/// Chunks served per call at most.
pub const MAX_HASHES: usize = 1024;

/// What an offer left: the bundle pending here, its packages and the chunks still missing
/// (being fetched in the background when any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offered {
    pub bundle_id: String,
    pub packages: u32,
    pub chunks_missing: u32,
}

/// Refuses `caller` unless this Space trusts it for `kind` (the refusal goes to the audit log).
pub fn require_trust(state: &SpaceState, caller: &str, kind: odcm_pb::TrustKind) -> ApiResult<()> {
    let p = peering(state)?;
    if allows(&p.trust_set(), &p.me, caller, kind) {
        return Ok(());
    }
    let (noun, event) = if kind == odcm_pb::TrustKind::Receipts {
        ("receipts", odcm_pb::EventKind::ReceiptRefused)
    } else {
        ("releases", odcm_pb::EventKind::BundleRefused)
    };
    tracing::warn!(peer = %caller, kind = noun, "peer promotion call refused: no trust");
    let msg = format!(
        "{} does not trust space '{caller}' for {noun}: add the trust in ODCM '{}'",
        p.me, p.enrolled.odcm
    );
    super::audit(state, event, caller, noun, &msg);
    Err(ApiError::PermissionDenied(msg))
}

/// A Space sends only what it signed itself (`pointer`: where the file names its sender;
/// `sent`/`rule`: how the refusal says it).
fn require_own(caller: &str, bytes: &[u8], pointer: &str, sent: &str, rule: &str) -> ApiResult<()> {
    let claimed = claimed_sender(bytes, pointer);
    if claimed.eq_ignore_ascii_case(caller) {
        return Ok(());
    }
    Err(ApiError::PermissionDenied(format!(
        "space '{caller}' {sent} of space '{claimed}': {rule}"
    )))
}

/// A bundle offered by `caller` (trusted for releases, the bundle's signer): added as by file,
/// and its missing chunks fetched from the caller in the background.
pub async fn offer(state: &Arc<SpaceState>, caller: &str, bytes: Vec<u8>) -> ApiResult<Offered> {
    require_trust(state, caller, odcm_pb::TrustKind::Releases)?;
    require_own(
        caller,
        &bytes,
        "/predicate/source_space",
        "offered a bundle",
        "a Space offers only its own bundles",
    )?;
    let s = state.clone();
    let who = format!("space {caller}");
    let rec = tokio::task::spawn_blocking(move || bundles::add(&s, &bytes, &who))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    let v = bundles::load(state, &rec, false)?;
    let missing: u32 = bundles::missing_chunks(state, &v)
        .iter()
        .map(|(_, n)| *n as u32)
        .sum();
    tracing::info!(bundle = %rec.id, from = %caller, missing, "release bundle offered");
    if missing > 0 {
        fetch::spawn(state.clone(), rec.id.clone());
    } else {
        super::verified::start(state, v.manifests());
        state.wake.notify_one(); // complete already: an automatic import may be due
    }
    Ok(Offered {
        bundle_id: rec.id,
        packages: v.contents.packages.len() as u32,
        chunks_missing: missing,
    })
}

/// A chunk to serve and the chunks it may be sent as a delta against.
pub type Wanted = (ChunkHash, Vec<ChunkHash>);

/// The chunks `caller` may fetch: only for a bundle this Space promoted (or packages it
/// staged) to it, only that release's chunks, at most [`MAX_HASHES`] per call. (Fetching
/// follows an offer this Space made: the caller need not be trusted for anything.) `bases`
/// (empty, or parallel to `hashes`) proposes delta bases per chunk; only chunks of releases
/// promoted or staged to the caller are kept (any other could make the delta's size tell the
/// caller something about a chunk it was never given).
pub fn chunks_for(
    state: &SpaceState,
    caller: &str,
    bundle_id: &str,
    hashes: &[Vec<u8>],
    bases: &[Vec<u8>],
) -> ApiResult<Vec<Wanted>> {
    if hashes.len() > MAX_HASHES {
        return Err(ApiError::Invalid(format!(
            "at most {MAX_HASHES} chunks per call"
        )));
    }
    if !bases.is_empty() && bases.len() != hashes.len() {
        return Err(ApiError::Invalid(
            "delta bases must be given for every chunk asked for, or for none".into(),
        ));
    }
    let me = &peering(state)?.me;
    let (project, version) = granted(state, caller, bundle_id)?.ok_or_else(|| {
        ApiError::PermissionDenied(format!(
            "bundle {bundle_id} was not promoted (or staged) by {me} to space '{caller}'"
        ))
    })?;
    let allowed = allowed_chunks(state, caller, bundle_id, (&project, &version))?;
    let name = |h: &[u8]| {
        ChunkHash::try_from(h).map_err(|_| ApiError::Invalid("a chunk name is not 32 bytes".into()))
    };
    let mut usable: Option<HashSet<ChunkHash>> = None;
    let mut wanted = Vec::with_capacity(hashes.len());
    for (i, h) in hashes.iter().enumerate() {
        let hash = name(h)?;
        if !allowed.contains(&hash) {
            return Err(ApiError::PermissionDenied(format!(
                "chunk {} is not part of bundle {bundle_id}",
                hex::encode(hash)
            )));
        }
        let proposed = bases.get(i).map(Vec::as_slice).unwrap_or_default();
        if proposed.len() % 32 != 0 || proposed.len() > 64 {
            return Err(ApiError::Invalid(
                "delta bases are at most two 32-byte chunk names per chunk".into(),
            ));
        }
        let mut kept = Vec::new();
        for b in proposed.chunks(32) {
            let b = name(b)?;
            if usable.is_none() {
                let release = state.release(&project, &version)?;
                usable = Some(delta_bases(state, caller, &release, &allowed)?);
            }
            if usable.as_ref().is_some_and(|u| u.contains(&b)) {
                kept.push(b);
            }
        }
        wanted.push((hash, kept));
    }
    tracing::info!(bundle = %bundle_id, to = %caller, chunks = wanted.len(), "serving bundle chunks");
    Ok(wanted)
}

/// The chunk sets of bundles being fetched, by caller and bundle, with when each was read.
pub type ServedChunks = std::sync::Mutex<
    std::collections::HashMap<String, (std::time::Instant, Arc<HashSet<ChunkHash>>)>,
>;

/// How long the chunk set of a bundle being fetched is kept between calls.
const ALLOWED_FOR: std::time::Duration = std::time::Duration::from_secs(60);
/// Bundles whose chunk sets are kept at most.
const ALLOWED_KEPT: usize = 16;

/// The chunks of the packages of release `version` of `project`, which `caller` may fetch for
/// `bundle_id`. A fetch asks
/// for them in many calls; reading every manifest again for each (26,685 chunks of one
/// package: 52 calls) took a third of a connected replication's time, so the set is kept
/// for a minute per caller and bundle (a release's packages do not change).
fn allowed_chunks(
    state: &SpaceState,
    caller: &str,
    bundle_id: &str,
    (project, version): (&str, &str),
) -> ApiResult<Arc<HashSet<ChunkHash>>> {
    let key = format!(
        "{}\0{}",
        caller.to_ascii_lowercase(),
        bundle_id.to_ascii_lowercase()
    );
    let now = std::time::Instant::now();
    if let Ok(kept) = state.served_chunks.lock()
        && let Some((at, set)) = kept.get(&key)
        && now.duration_since(*at) < ALLOWED_FOR
    {
        return Ok(set.clone());
    }
    let release = state.release(project, version)?;
    let mut allowed: HashSet<ChunkHash> = HashSet::new();
    for pin in &release.packages {
        let m = state.package(&pin.id, &pin.version)?;
        allowed.extend(m.chunks.iter().map(|c| c.hash));
    }
    let allowed = Arc::new(allowed);
    if let Ok(mut kept) = state.served_chunks.lock() {
        kept.retain(|_, (at, _)| now.duration_since(*at) < ALLOWED_FOR);
        if kept.len() >= ALLOWED_KEPT {
            kept.clear();
        }
        kept.insert(key, (now, allowed.clone()));
    }
    Ok(allowed)
}

/// One chunk to serve: as stored, or as a delta against the best of `bases` when smaller
/// (the base it was made against, then).
pub fn serve(
    chunks: &package_store::ChunkStore,
    hash: &ChunkHash,
    bases: &[ChunkHash],
) -> Result<(Vec<u8>, Option<ChunkHash>), package_store::PackageError> {
    let stored = chunks.get_compressed(hash)?;
    Ok(
        match package_store::transfer::delta::encode(chunks, hash, bases, stored.len()) {
            Some((base, delta)) => (delta, Some(base)),
            None => (stored, None),
        },
    )
}

/// The release of bundle (or staging) `id` when it went from here to `caller`.
fn granted(state: &SpaceState, caller: &str, id: &str) -> ApiResult<Option<(String, String)>> {
    let id = id.to_ascii_lowercase();
    if let Some(p) = state
        .store
        .get_record::<Promotion>(&id)?
        .filter(|p| p.target_space.eq_ignore_ascii_case(caller))
    {
        return Ok(Some((p.project, p.version)));
    }
    Ok(state
        .store
        .get_record::<StagingJob>(&id)?
        .filter(|j| j.target_space.eq_ignore_ascii_case(caller))
        .map(|j| (j.project, j.version)))
}

/// Chunks `caller` has been given by this Space that may serve as delta bases for `release`:
/// its own (`allowed`) and those of every version of its packages in a release promoted or
/// staged to the caller before.
fn delta_bases(
    state: &SpaceState,
    caller: &str,
    release: &domain::model::Release,
    allowed: &HashSet<ChunkHash>,
) -> ApiResult<HashSet<ChunkHash>> {
    let mut versions: HashSet<(String, String)> = HashSet::new();
    for pin in &release.packages {
        for v in super::index::given_versions(state.store.as_ref(), caller, &pin.id)? {
            versions.insert((pin.id.clone(), v));
        }
    }
    let mut out = allowed.clone();
    for (id, version) in versions {
        if let Ok(m) = state.package(&id, &version) {
            out.extend(m.chunks.iter().map(|c| c.hash));
        }
    }
    Ok(out)
}

/// Receipts delivered by `caller` (trusted for receipts): its own, or a file addressed to it
/// that it relays (signed by a Space further down the chain, which this Space must trust for
/// receipts too); imported as by file.
pub async fn deliver(
    state: &SpaceState,
    caller: &str,
    bytes: &[u8],
) -> ApiResult<receipts_in::Applied> {
    require_trust(state, caller, odcm_pb::TrustKind::Receipts)?;
    if !claimed_sender(bytes, "/to_space").eq_ignore_ascii_case(caller) {
        require_own(
            caller,
            bytes,
            "/from_space",
            "delivered receipts",
            "a Space delivers only its own, or relays those addressed to it",
        )?;
    }
    receipts_in::import(state, bytes, &format!("space {caller}")).await
}
