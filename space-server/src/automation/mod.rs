//! What a connected Space does without a person: promote releases whose automatic phase names
//! another Space (`queue`), import bundles a rule says to import and resume package fetches
//! (`import`), stage a release's packages at Spaces ahead of its promotion (`stage`), start
//! deployments scheduled for a time (`schedule`), stream receipts back to the Spaces releases came from (`outbox`), and ask
//! every peer in the trust set whether it is there (`heartbeat`, for honest staleness). One loop
//! per Space runs the three passes whenever something wakes it (`SpaceState::wake`: a job
//! queued, a bundle offered or fetched, a deployment ended) and at least every [`TICK`].

pub mod active;
pub mod heartbeat;
pub mod import;
pub mod outbox;
pub mod queue;
pub mod queued;
pub mod schedule;
pub mod stage;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::deployments::Engine;
use crate::state::now;

/// The longest the loop sleeps.
pub const TICK: Duration = Duration::from_secs(5);

/// Runs the automation loop until `stop` resolves.
pub async fn run(engine: Arc<Engine>, stop: impl std::future::Future<Output = ()>) {
    let state = engine.state.clone();
    let mut fetch_retry: HashMap<String, i64> = HashMap::new();
    let mut outbox_backoff = outbox::Backoff::new();
    let mut last_beat: Option<std::time::Instant> = None;
    let mut last_outbox: Option<std::time::Instant> = None;
    tokio::pin!(stop);
    loop {
        let next = match queue::work(&engine).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "automatic promotions could not be worked");
                None
            }
        };
        let next = match stage::work(&engine).await {
            Ok(n) => match (next, n) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
            Err(e) => {
                tracing::warn!(error = %e, "packages staged ahead could not be worked");
                next
            }
        };
        let next = match schedule::work(&engine).await {
            Ok(n) => match (next, n) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
            Err(e) => {
                tracing::warn!(error = %e, "scheduled deployments could not be worked");
                next
            }
        };
        if let Err(e) = import::pass(&engine, &mut fetch_retry).await {
            tracing::warn!(error = %e, "automatic imports could not be worked");
        }
        let ended = state
            .outbox_due
            .swap(false, std::sync::atomic::Ordering::SeqCst);
        if ended
            || outbox::retry_due(&outbox_backoff)
            || last_outbox.is_none_or(|t| t.elapsed() >= outbox::LOOK_EVERY)
        {
            last_outbox = Some(std::time::Instant::now());
            if let Err(e) = outbox::pass(&engine, &mut outbox_backoff).await {
                tracing::warn!(error = %e, "the receipt outbox could not be worked");
            }
        }
        let every = heartbeat::interval(state.stale_after());
        if last_beat.is_none_or(|t| t.elapsed() >= every) {
            heartbeat::beat(&state);
            last_beat = Some(std::time::Instant::now());
        }
        let mut sleep = TICK.min(heartbeat::interval(state.stale_after()));
        if let Some(at) = next {
            let secs = (at - now()).clamp(0, TICK.as_secs() as i64) as u64;
            sleep = sleep.min(Duration::from_secs(secs.max(1)));
        }
        tokio::select! {
            _ = state.wake.notified() => {}
            _ = tokio::time::sleep(sleep) => {}
            _ = &mut stop => return,
        }
    }
}

#[cfg(test)]
mod tests;
