//! Streamed receipts, the target side: the outbox is every finished deployment of a release
//! imported from another Space that has no `ReceiptSent` record for it yet (so it survives a
//! crash by construction). Each pass delivers the outbox of every upstream Space over the
//! peer link; a Space that cannot be reached waits with backoff and gets everything once it
//! answers. The source applies each receipt once (by its id), in the order they were signed.
//! After its own receipts, each upstream Space gets the files relayed through this one
//! (`promotion::relay`): receipts of Spaces further down a chain, still signed by them.

use std::collections::HashMap;
use std::sync::Arc;

use crate::deployments::Engine;
use crate::error::ApiResult;
use crate::promotion::receipts::Selection;
use crate::promotion::service::PromotionService;
use crate::state::now;

/// Per upstream Space: failed attempts in a row and when to try again.
pub type Backoff = HashMap<String, (u32, i64)>;

/// The longest the outbox goes unlooked-at (a pass runs when a deployment ended, when a failed
/// delivery may be retried, and at least this often).
pub const LOOK_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Whether a failed delivery may be retried now.
pub fn retry_due(backoff: &Backoff) -> bool {
    backoff.values().any(|(_, at)| *at <= now())
}

pub async fn pass(engine: &Arc<Engine>, backoff: &mut Backoff) -> ApiResult<()> {
    let state = &engine.state;
    if state.peering.get().is_none() {
        return Ok(());
    }
    let upstream = crate::promotion::index::upstream_spaces(state.store.as_ref())?;
    let service = PromotionService {
        engine: engine.clone(),
    };
    for space in upstream {
        let key = space.to_lowercase();
        if backoff.get(&key).is_some_and(|(_, at)| *at > now()) {
            continue;
        }
        let select = Selection {
            all: false,
            range: None,
        };
        let own = service
            .deliver_pending(&space, select, "receipt outbox")
            .await;
        if let Ok(Some(d)) = &own {
            tracing::info!(to_space = %d.space, receipts = d.count, "receipts streamed");
        }
        let relayed = match own {
            Ok(_) => crate::promotion::relay::deliver(state, &space).await,
            Err(e) => Err(e),
        };
        match relayed {
            Ok(_) => {
                backoff.remove(&key);
            }
            Err(e) => {
                let (n, _) = backoff.get(&key).copied().unwrap_or((0, 0));
                let wait = super::queue::backoff(n + 1);
                tracing::warn!(to_space = %space, retry_in_secs = wait, error = %e, "receipts wait in the outbox");
                backoff.insert(key, (n + 1, now() + wait));
            }
        }
    }
    Ok(())
}
