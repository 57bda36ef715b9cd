//! A Space restored from a backup (`runtime::backup::marker`): what happened after the backup
//! is not here, and its peers may have seen more. The peer side answers `SeenFromYou` with the
//! deployment results it holds from the caller; the restored side asks each peer once it can
//! reach it, numbers its new deployments past the highest any peer has seen (a reused number
//! would be taken for a receipt applied before and dropped), and says what it found in
//! `deploy space status` and the log.

use std::sync::Arc;
use std::time::Duration;

use domain::model::RemoteResult;
use net::pki::allows;
use proto::odcm::v1::TrustKind;
use runtime::backup::marker::Restored;
use storage::{Record, Store, key_of};

use crate::error::ApiResult;
use crate::peering::{Peering, client};
use crate::state::SpaceState;

/// The deployment counter (`Deployment::id_for`).
const COUNTER: &str = "deployment";
/// How often unanswered peers are asked again.
const RETRY: Duration = Duration::from_secs(5);
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
                if let Some(line) = ask(&state, &p, &peer).await {
                    marker.report.extend(line);
                    answered.push(peer);
                }
            }
            if !peers.is_empty() && peers.iter().all(|x| answered.contains(x)) {
                marker.reconciled = true;
                marker.report.push(format!(
                    "results received after the backup are not here: in each peer, `deploy receipt send --all --space {}` sends them again (ones applied before are skipped)",
                    p.me
                ));
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

/// Asks `peer` once: `None` to ask again later; `Some(None)` when it holds nothing from this
/// Space by trust (it refused); else the line saying what it has seen.
async fn ask(state: &SpaceState, p: &Peering, peer: &str) -> Option<Option<String>> {
    match client::seen_from_you(p, peer).await {
        Ok(r) => {
            let seen = Seen {
                max_deployment: r.max_deployment,
                receipts: r.receipts,
            };
            match account(state.store.as_ref(), peer, seen) {
                Ok(line) => {
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
