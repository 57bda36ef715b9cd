//! A Space restored from a backup (`runtime::backup::marker`): what happened after the backup
//! is not here, and its peers may have seen more. The peer side answers `SeenFromYou` with the
//! deployment results it holds from the caller, and `SendAgain` by sending the caller's
//! receipts again and queueing anew the releases promoted to it since the backup. The restored
//! side asks each peer once it can reach it, numbers its new deployments past the highest any
//! peer has seen (a reused number would be taken for a receipt applied before and dropped), and
//! says what it found in `deploy space status` and the log.

use std::sync::Arc;
use std::time::Duration;

use domain::model::{Promotion, ReceivedBundle, RemoteResult};
use net::pki::allows;
use proto::odcm::v1::TrustKind;
use runtime::backup::marker::Restored;
use storage::{Record, Store, StoreExt, key_of};

use crate::error::ApiResult;
use crate::peering::{Peering, client};
use crate::state::SpaceState;

/// The deployment counter (`Deployment::id_for`).
const COUNTER: &str = "deployment";
/// How often unanswered peers are asked again.
const RETRY: Duration = Duration::from_secs(5);
/// Most bundle ids a `SendAgain` may name.
const MAX_HELD: usize = 100_000;
/// Claims further ahead than this are not believed (a counter is never moved that far).
const MAX_JUMP: u64 = 10_000_000;

/// What this Space holds from one peer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Seen {
    pub max_deployment: u64,
    pub receipts: u64,
}

/// What this Space holds from `from`: the results of its receipts (nothing when `from` is
/// trusted for releases only; refused when it is trusted for nothing).
pub fn seen_from(state: &SpaceState, from: &str) -> ApiResult<Seen> {
    let p = super::peering(state)?;
    if !allows(&p.trust_set(), &p.me, from, TrustKind::Receipts) {
        super::peer::require_trust(state, from, TrustKind::Releases)?;
        return Ok(Seen::default());
    }
    seen_in(state.store.as_ref(), from)
}

/// [`seen_from`] over the store.
pub fn seen_in(store: &dyn Store, from: &str) -> ApiResult<Seen> {
    let prefix = format!("{}\u{1f}", key_of(&[from]));
    let mut seen = Seen::default();
    let mut after: Option<String> = None;
    loop {
        let rows = store.scan(RemoteResult::TABLE, &prefix, after.as_deref(), 1000)?;
        let Some((last, _)) = rows.last() else { break };
        after = Some(last.clone());
        for (key, _) in &rows {
            seen.receipts += 1;
            let n = key
                .rsplit('\u{1f}')
                .next()
                .and_then(|id| id.strip_prefix("deployments-"))
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0);
            seen.max_deployment = seen.max_deployment.max(n);
        }
    }
    Ok(seen)
}

/// What [`send_again`] set going.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SentAgain {
    pub receipts: bool,
    pub releases: u32,
}

/// `caller` was restored from a backup taken at `since`: its receipts from this Space are
/// sent again in the background (it applies each once), and the releases promoted to it since
/// then of which it holds no bundle (`held`) are queued to be promoted again. Each only where
/// the trusts allow it.
pub async fn send_again(
    state: &Arc<SpaceState>,
    caller: &str,
    since: i64,
    held: &[String],
) -> ApiResult<SentAgain> {
    let p = super::peering(state)?;
    let set = p.trust_set();
    let receipts = allows(&set, caller, &p.me, TrustKind::Receipts);
    let releases = allows(&set, caller, &p.me, TrustKind::Releases);
    if !receipts && !releases {
        super::peer::require_trust(state, caller, TrustKind::Receipts)?;
    }
    let who = format!("Space '{caller}' (restored from a backup)");
    let mut again = SentAgain {
        receipts,
        releases: 0,
    };
    if releases {
        if held.len() > MAX_HELD {
            return Err(crate::error::ApiError::Invalid(format!(
                "at most {MAX_HELD} bundle ids at once"
            )));
        }
        let held: std::collections::BTreeSet<&str> = held.iter().map(String::as_str).collect();
        // Per release promoted to the caller since the backup (a second of slack: the backup's
        // time is in seconds): queued again unless the caller holds one of its bundles.
        let mut by_version: std::collections::BTreeMap<(String, String), bool> = Default::default();
        for x in state.store.all_records::<Promotion>("")? {
            if x.target_space.eq_ignore_ascii_case(caller) && x.created_at >= since - 1 {
                *by_version.entry((x.project, x.version)).or_default() |=
                    held.contains(x.bundle_id.as_str());
            }
        }
        let versions: Vec<(String, String)> = by_version
            .into_iter()
            .filter(|(_, has)| !has)
            .map(|(k, _)| k)
            .collect();
        for (project, version) in versions {
            match crate::automation::queue::schedule_with(
                state,
                &project,
                &version,
                caller,
                crate::state::now(),
                &who,
                true,
            )
            .await
            {
                Ok(_) => again.releases += 1,
                Err(e) => {
                    tracing::warn!(project = %project, version = %version, error = %e, "cannot promote again to a restored Space")
                }
            }
        }
        state.wake.notify_one();
    }
    if receipts {
        let (state, caller, who) = (state.clone(), caller.to_string(), who.clone());
        tokio::spawn(async move {
            match super::service::deliver_all(&state, &caller, &who).await {
                Ok(d) => {
                    tracing::info!(to_space = %caller, receipts = d.map_or(0, |d| d.count), "receipts sent again to a restored Space")
                }
                Err(e) => {
                    tracing::warn!(to_space = %caller, error = %e, "cannot send receipts again to a restored Space")
                }
            }
        });
    }
    tracing::info!(space = %caller, since, releases = again.releases, receipts, "sending again what a restored Space lost");
    Ok(again)
}

/// The ids of the bundles this Space holds from `peer`.
fn held_from(state: &SpaceState, peer: &str) -> Vec<String> {
    state
        .store
        .all_records::<ReceivedBundle>("")
        .unwrap_or_default()
        .into_iter()
        .filter(|b| b.source_space.eq_ignore_ascii_case(peer))
        .map(|b| b.id)
        .take(MAX_HELD)
        .collect()
}

/// The deployment counter's value now.
fn counter(store: &dyn Store) -> u64 {
    store
        .get(storage::COUNTER_TABLE, COUNTER)
        .ok()
        .flatten()
        .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
        .map_or(0, u64::from_be_bytes)
}

/// What one peer's answer means here (and the counter raised when it has seen more).
fn account(store: &dyn Store, peer: &str, seen: Seen) -> ApiResult<String> {
    let had = counter(store);
    if seen.max_deployment <= had {
        return Ok(format!(
            "Space '{peer}' has seen no deployment of this Space newer than the backup"
        ));
    }
    if seen.max_deployment - had > MAX_JUMP {
        tracing::warn!(
            peer,
            claimed = seen.max_deployment,
            had,
            "a peer claims deployment numbers far ahead; not believed"
        );
        return Ok(format!(
            "Space '{peer}' claims deployment {} (not believed)",
            seen.max_deployment
        ));
    }
    store.raise_id(COUNTER, seen.max_deployment)?;
    Ok(format!(
        "Space '{peer}' holds results of deployments up to Deployments-{} from this Space, which had numbered up to Deployments-{had}: Deployments-{} to {} happened after the backup and are not here; new deployments are numbered from Deployments-{}",
        seen.max_deployment,
        had + 1,
        seen.max_deployment,
        seen.max_deployment + 1
    ))
}

/// Runs until every peer in the trust set answered once (asking again every few seconds),
/// then records what they said in the marker. Only when `state`'s data directory came from a
/// restore that was not reconciled yet.
pub fn spawn(
    state: Arc<SpaceState>,
    p: Arc<Peering>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let Some(mut marker) = Restored::load(&state.data_dir).filter(|m| !m.reconciled) else {
        return;
    };
    tracing::warn!(restored = %marker.summary(), "this Space runs on a restored backup: what happened after it is not here");
    tokio::spawn(async move {
        let mut answered: Vec<String> = Vec::new();
        loop {
            let peers: Vec<String> = p.trust_set().peers.iter().map(|x| x.name.clone()).collect();
            let todo: Vec<String> = peers
                .iter()
                .filter(|x| !answered.contains(x))
                .cloned()
                .collect();
            for peer in todo {
                if let Some(line) = ask(&state, &p, &peer, marker.backup_created_at).await {
                    marker.report.extend(line);
                    answered.push(peer);
                }
            }
            if !peers.is_empty() && peers.iter().all(|x| answered.contains(x)) {
                marker.reconciled = true;
                if let Err(e) = marker.save(&state.data_dir) {
                    tracing::error!(error = %e, "cannot record the reconciliation");
                }
                tracing::warn!(restored = %marker.summary(), "restored Space reconciled with its peers");
                break;
            }
            let _ = marker.save(&state.data_dir);
            tokio::select! {
                _ = tokio::time::sleep(RETRY) => {}
                _ = stop.wait_for(|v| *v) => break,
            }
        }
    });
}

/// Asks `peer` once what it has seen and to send again what it sent since `since`: `None` to
/// ask again later; `Some(None)` when no trust involves this Space (it refused); else the line
/// saying what it has seen.
async fn ask(state: &SpaceState, p: &Peering, peer: &str, since: i64) -> Option<Option<String>> {
    match client::seen_from_you(p, peer).await {
        Ok(r) => {
            let seen = Seen {
                max_deployment: r.max_deployment,
                receipts: r.receipts,
            };
            match account(state.store.as_ref(), peer, seen) {
                Ok(mut line) => {
                    match client::send_again(p, peer, since, held_from(state, peer)).await {
                        Ok(a) => line.push_str(&format!(
                            "; it sends again what it sent since the backup: {} release(s) queued to be promoted here again{}",
                            a.releases,
                            if a.receipts { ", its receipts (applied once)" } else { "" }
                        )),
                        Err(s) => tracing::warn!(peer = %peer, error = %s.message(), "a peer cannot send again what it sent"),
                    }
                    tracing::warn!(peer = %peer, "{line}");
                    Some(Some(line))
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot record what a peer has seen");
                    None
                }
            }
        }
        Err(s) if s.code() == tonic::Code::PermissionDenied => Some(None),
        Err(s) => {
            tracing::info!(peer = %peer, error = %s.message(), "asking a peer what it has seen from this restored Space; again later");
            None
        }
    }
}

#[cfg(test)]
#[path = "tests/restored.rs"]
mod tests;
