//! Heartbeats: the automation loop calls every peer in the trust set now and then, so "last
//! heard" means something even when no release or receipt crosses. An answer of any kind from
//! the peer (a refusal included: mutual TLS showed it is that Space) counts as contact; only a
//! peer that cannot be reached does not.

use std::sync::Arc;
use std::time::Duration;

use crate::peering::client;
use crate::state::SpaceState;

/// How often peers are called: a fifth of the staleness limit, between 1 s and 60 s.
pub fn interval(stale_after_secs: i64) -> Duration {
    Duration::from_secs((stale_after_secs / 5).clamp(1, 60) as u64)
}

/// Calls every peer once, in the background.
pub fn beat(state: &Arc<SpaceState>) {
    let Some(p) = state.peering.get().cloned() else {
        return;
    };
    for peer in p.trust_set().peers.iter().map(|x| x.name.clone()) {
        let (state, p) = (state.clone(), p.clone());
        tokio::spawn(async move {
            let answered = match client::ping(&p, &peer, "").await {
                Ok(_) => true,
                Err(s) => !matches!(
                    s.code(),
                    tonic::Code::Unavailable | tonic::Code::DeadlineExceeded
                ),
            };
            if answered {
                state.heard_from(&peer, "heartbeat");
            } else {
                tracing::debug!(peer = %peer, "heartbeat: no answer");
            }
        });
    }
}
