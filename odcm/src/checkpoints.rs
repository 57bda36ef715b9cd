//! Audit checkpoints on the ODCM side: issuing them (signed by the CA), checking one against
//! the log, and the newest one Spaces presented since this process started. That one is kept
//! in memory on purpose: a store rolled back on disk cannot take with it what Spaces were told.

use std::sync::Mutex;

use exchange::checkpoint::Checkpoint;
use storage::{Store, StoreExt};

use crate::audit;
use crate::error::{OdcmError, OdcmResult};
use crate::records::{AuditRecord, audit_key};
use crate::state::OdcmState;

/// A checkpoint and where it came from ("Space 'QA'", "file 1").
#[derive(Debug, Clone)]
pub struct Sourced {
    pub source: String,
    pub checkpoint: Checkpoint,
}

/// The newest checkpoint Spaces have presented (by entry count).
#[derive(Debug, Default)]
pub struct Collected(Mutex<Option<Sourced>>);

impl Collected {
    /// Keeps `c` if it is newer than the one held.
    pub fn offer(&self, c: Sourced) {
        let mut held = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if held
            .as_ref()
            .is_none_or(|h| c.checkpoint.entries > h.checkpoint.entries)
        {
            *held = Some(c);
        }
    }

    pub fn newest(&self) -> Option<Sourced> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// A checkpoint of the log as it is now.
pub fn issue(state: &OdcmState) -> OdcmResult<Checkpoint> {
    let head = audit::head_now(state.store.as_ref())?;
    Checkpoint::issue(
        &state.name,
        &state.ca.cert().fingerprint,
        head.value,
        &head.hash,
        domain::model::now(),
        |b| state.ca.sign(b).map_err(|e| e.to_string()),
    )
    .map_err(|e| OdcmError::Internal(e.to_string()))
}

/// Reads a checkpoint file and checks that this ODCM's CA signed it.
pub fn read(state: &OdcmState, bytes: &[u8]) -> OdcmResult<Checkpoint> {
    Checkpoint::read_verified(bytes, &state.ca.cert().der)
        .map_err(|e| OdcmError::Invalid(e.to_string()))
}

/// `None` when the log still holds the checkpoint's entries ending in its head; else why not.
pub fn check(store: &dyn Store, c: &Checkpoint) -> OdcmResult<Option<String>> {
    if c.entries == 0 {
        return Ok(None);
    }
    let when = proto::json::time(c.issued_at);
    let has = audit::head_now(store)?.value;
    Ok(
        match store.get_record::<AuditRecord>(&audit_key(c.entries))? {
            None => Some(format!(
                "the checkpoint issued {when} says the log had {} entries; it has {has} now: entries {} to {} were cut",
                c.entries,
                has + 1,
                c.entries
            )),
            Some(e) if audit::entry_hash(&e) != c.head_hash => Some(format!(
                "entry {} is not the one the checkpoint issued {when} signed: the log was rewritten (a fork)",
                c.entries
            )),
            Some(_) => None,
        },
    )
}

/// A Space presented `held` and asks for a fresh checkpoint: `held` is checked against the
/// log (and kept as evidence when it is the newest seen), the answer is the log as it is now.
pub fn exchange(
    state: &OdcmState,
    space: &str,
    held: &[u8],
) -> OdcmResult<(Checkpoint, Option<String>)> {
    let mut problem = None;
    if !held.is_empty() {
        let c = read(state, held)?;
        problem = check(state.store.as_ref(), &c)?;
        if let Some(p) = &problem {
            tracing::error!(space, problem = %p, "a Space holds an audit checkpoint this log no longer matches; restore the ODCM from a backup and run `deploy odcm audit verify`");
        }
        state.checkpoints.offer(Sourced {
            source: format!("Space '{space}'"),
            checkpoint: c,
        });
    }
    Ok((issue(state)?, problem))
}

#[cfg(test)]
#[path = "tests/checkpoints.rs"]
mod tests;
