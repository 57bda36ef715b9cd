//! The Space's own audit trail: who did what, when, from where, and whether it was allowed,
//! for every write and every refusal of the Space API (`layer.rs` records them), in a
//! hash-chained log (entry `i` holds the SHA-256 of entry `i-1`'s canonical bytes) that
//! `verify` recomputes. Entries are appended one at a time under a lock, after the call.

pub(crate) mod layer;

pub use layer::AuditLayer;

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use storage::{Batch, Record, Store, StoreExt};

/// One call of the Space API, as the trail records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub index: u64,
    pub at: i64,
    /// The user behind the key ("(no key)", "(unknown key)" when there was none).
    pub user: String,
    /// The key's id (start of its hash), empty without a known key.
    pub key: String,
    /// `/space.v1.Projects/Delete`.
    pub method: String,
    /// The caller's address.
    pub from: String,
    /// ok, refused (not authenticated or not permitted) or failed (any other error).
    pub outcome: String,
    /// The gRPC code name ("OK", "PermissionDenied").
    pub code: String,
    pub prev_hash: String,
}

impl Record for AuditEntry {
    const TABLE: &'static str = "space_audit";
    const VERSION: u32 = 1;
    fn key(&self) -> String {
        format!("{:020}", self.index)
    }
}

/// The newest entry's index and hash.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct AuditHead {
    index: u64,
    hash: String,
}

impl Record for AuditHead {
    const TABLE: &'static str = "space_audit_head";
    const VERSION: u32 = 1;
    fn key(&self) -> String {
        "head".into()
    }
}

/// The canonical bytes of an entry (its JSON in field order); the next entry's `prev_hash`
/// is their SHA-256.
pub fn entry_hash(e: &AuditEntry) -> String {
    hex::encode(Sha256::digest(serde_json::to_vec(e).unwrap_or_default()))
}

/// What a call was, before it is chained.
#[derive(Debug, Clone)]
pub struct Call {
    pub user: String,
    pub key: String,
    pub method: String,
    pub from: String,
    pub code: String,
}

/// The trail of one Space.
#[derive(Clone)]
pub struct AuditTrail {
    store: Arc<dyn Store>,
    head: Arc<Mutex<Option<AuditHead>>>,
}

/// What [`AuditTrail::verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub entries: u64,
    /// The first broken entry and why.
    pub broken: Option<(u64, String)>,
}

impl AuditTrail {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            head: Default::default(),
        }
    }

    /// Appends `call` to the chain (a failure is logged: the call itself already happened).
    pub fn append(&self, call: Call) {
        let Ok(mut guard) = self.head.lock() else {
            return;
        };
        let head = match guard.take() {
            Some(h) => h,
            None => match self.store.get_record::<AuditHead>("head") {
                Ok(h) => h.unwrap_or_default(),
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the audit trail's head");
                    return;
                }
            },
        };
        let outcome = match call.code.as_str() {
            "OK" => "ok",
            "Unauthenticated" | "PermissionDenied" => "refused",
            _ => "failed",
        };
        let e = AuditEntry {
            index: head.index + 1,
            at: domain::model::now(),
            user: call.user,
            key: call.key,
            method: call.method,
            from: call.from,
            outcome: outcome.into(),
            code: call.code,
            prev_hash: head.hash.clone(),
        };
        let next = AuditHead {
            index: e.index,
            hash: entry_hash(&e),
        };
        let mut b = Batch::new();
        let written = b
            .insert_record(&e)
            .and_then(|b| b.put_record(&next))
            .map(|_| ())
            .and_then(|()| self.store.commit(b));
        match written {
            Ok(()) => *guard = Some(next),
            Err(err) => {
                tracing::error!(error = %err, method = %e.method, "cannot append to the audit trail");
                *guard = Some(head);
            }
        }
    }

    /// Entries newest first that `keep` accepts, at most `limit`.
    pub fn list(
        &self,
        keep: impl Fn(&AuditEntry) -> bool,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, storage::StorageError> {
        let mut all = self.store.all_records::<AuditEntry>("")?;
        all.reverse();
        Ok(all.into_iter().filter(|e| keep(e)).take(limit).collect())
    }

    /// Recomputes the chain from the first entry and checks it ends at the head.
    pub fn verify(&self) -> Result<Verification, storage::StorageError> {
        let all = self.store.all_records::<AuditEntry>("")?;
        let mut prev = String::new();
        for (i, e) in all.iter().enumerate() {
            let want = i as u64 + 1;
            if e.index != want {
                return Ok(broken(
                    all.len(),
                    e.index,
                    format!("entry {want} is missing"),
                ));
            }
            if e.prev_hash != prev {
                return Ok(broken(
                    all.len(),
                    e.index,
                    "its previous hash does not match".into(),
                ));
            }
            prev = entry_hash(e);
        }
        let head = self
            .store
            .get_record::<AuditHead>("head")?
            .unwrap_or_default();
        if head.index != all.len() as u64 || head.hash != prev {
            return Ok(broken(
                all.len(),
                head.index,
                format!(
                    "the head names entry {} but the log ends at {}",
                    head.index,
                    all.len()
                ),
            ));
        }
        Ok(Verification {
            entries: all.len() as u64,
            broken: None,
        })
    }
}

fn broken(n: usize, at: u64, why: String) -> Verification {
    Verification {
        entries: n as u64,
        broken: Some((at, why)),
    }
}

#[cfg(test)]
mod tests;
