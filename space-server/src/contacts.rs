//! Honest staleness: when this Space last heard from each peer Space. Any verified call in
//! either direction, a receipt applied, or an answer to the automation loop's heartbeat counts.
//! Kept in memory and stored (at most every [`STORE_EVERY`] seconds per peer, so a restart
//! remembers); a peer silent for longer than `stale_after` (default 10 minutes) makes its
//! results on the dashboard stale, never a fresh-looking success.

use domain::model::PeerContact;
use storage::{Batch, StoreExt, key_of};

use crate::state::{SpaceState, now};

/// Seconds between two stored contacts of one peer.
pub const STORE_EVERY: i64 = 10;
/// Default seconds of silence before a peer is stale.
pub const DEFAULT_STALE_AFTER: i64 = 600;

impl SpaceState {
    /// Records that `space` was heard from now (`via`: how). Never fails a caller: a storage
    /// error is logged.
    pub fn heard_from(&self, space: &str, via: &str) {
        self.heard_from_at(space, now(), via);
    }

    /// Records that `space` was heard from at `t` (a signed file it made then); an older time
    /// than the one known changes nothing.
    pub fn heard_from_at(&self, space: &str, t: i64, via: &str) {
        let key = space.to_lowercase();
        let t = t.min(now());
        if self.last_heard(space).is_some_and(|known| known >= t) {
            return;
        }
        let store = match self.contacts.lock() {
            Ok(mut m) => {
                let e = m.entry(key).or_insert((t, i64::MIN));
                e.0 = t;
                let due = t.saturating_sub(e.1) >= STORE_EVERY;
                if due {
                    e.1 = t;
                }
                due
            }
            Err(_) => true,
        };
        if !store {
            return;
        }
        let rec = PeerContact {
            space: space.to_string(),
            last_heard: t,
            via: via.to_string(),
        };
        let mut b = Batch::new();
        if let Err(e) = b
            .put_record(&rec)
            .map(|_| ())
            .and_then(|()| self.store.commit(b))
        {
            tracing::warn!(peer = %space, error = %e, "cannot store the last contact with a peer");
        }
    }

    /// When `space` was last heard from, if ever.
    pub fn last_heard(&self, space: &str) -> Option<i64> {
        let key = space.to_lowercase();
        if let Some((t, _)) = self.contacts.lock().ok().and_then(|m| m.get(&key).copied()) {
            return Some(t);
        }
        let stored = self
            .store
            .get_record::<PeerContact>(&key_of(&[space]))
            .ok()
            .flatten()?;
        if let Ok(mut m) = self.contacts.lock() {
            m.entry(key)
                .or_insert((stored.last_heard, stored.last_heard));
        }
        Some(stored.last_heard)
    }

    /// Seconds of silence after which a peer is stale.
    pub fn stale_after(&self) -> i64 {
        self.stale_after
            .get()
            .copied()
            .unwrap_or(DEFAULT_STALE_AFTER)
    }

    /// Whether `space` has been silent for longer than [`SpaceState::stale_after`] (or was
    /// never heard from).
    pub fn is_stale(&self, space: &str) -> bool {
        self.last_heard(space)
            .is_none_or(|t| now() - t > self.stale_after())
    }
}
