//! The append-only, hash-chained, signed audit log. Entry `i` holds the SHA-256 of entry
//! `i-1`'s canonical bytes (its JSON body plus signature) and the ODCM CA's ECDSA signature over
//! its own body. Entries are appended inside the same storage batch as the change they record,
//! with a precondition on the head pointer, so a change and its entry land together or not at all.

use net::pki::{CertificateAuthority, verify_signature};
use serde::Serialize;
use sha2::{Digest, Sha256};
use storage::{Batch, Record, Store, StoreExt, decode, encode};

use crate::error::{OdcmError, OdcmResult};
use crate::records::{AUDIT_HEAD, AuditRecord, MetaRecord};

/// What one audit entry records.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub kind: String,
    pub actor: String,
    pub subject: String,
    pub detail: String,
}

impl AuditEvent {
    pub fn new(kind: &str, actor: &str, subject: &str, detail: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            actor: actor.into(),
            subject: subject.into(),
            detail: detail.into(),
        }
    }
}

#[derive(Serialize)]
struct Body<'a> {
    index: u64,
    at: i64,
    kind: &'a str,
    actor: &'a str,
    subject: &'a str,
    detail: &'a str,
    prev_hash: &'a str,
}

fn body(e: &AuditRecord) -> Body<'_> {
    Body {
        index: e.index,
        at: e.at,
        kind: &e.kind,
        actor: &e.actor,
        subject: &e.subject,
        detail: &e.detail,
        prev_hash: &e.prev_hash,
    }
}

/// The bytes the signature covers: the entry's JSON body in fixed field order.
pub fn body_bytes(e: &AuditRecord) -> Vec<u8> {
    serde_json::to_vec(&body(e)).unwrap_or_default()
}

/// The bytes the next entry's `prev_hash` covers: the body and the signature.
pub fn canonical(e: &AuditRecord) -> Vec<u8> {
    #[derive(Serialize)]
    struct Canonical<'a> {
        body: Body<'a>,
        signature: &'a str,
    }
    serde_json::to_vec(&Canonical {
        body: body(e),
        signature: &e.signature,
    })
    .unwrap_or_default()
}

pub fn entry_hash(e: &AuditRecord) -> String {
    hex::encode(Sha256::digest(canonical(e)))
}

/// The head as recorded now: the entry count and the last entry's hash.
pub fn head_now(store: &dyn Store) -> OdcmResult<MetaRecord> {
    Ok(head(store)?.1)
}

fn head(store: &dyn Store) -> OdcmResult<(Option<Vec<u8>>, MetaRecord)> {
    let raw = store.get(MetaRecord::TABLE, AUDIT_HEAD)?;
    let head = match &raw {
        Some(b) => decode::<MetaRecord>(AUDIT_HEAD, b)?,
        None => MetaRecord {
            name: AUDIT_HEAD.into(),
            value: 0,
            hash: String::new(),
        },
    };
    Ok((raw, head))
}

/// Adds entries for `events` to `batch`, chained on the current head. The batch fails if
/// another writer moved the head meanwhile (callers hold the ODCM's write lock anyway).
pub fn append(
    store: &dyn Store,
    ca: &CertificateAuthority,
    batch: &mut Batch,
    events: &[AuditEvent],
) -> OdcmResult<()> {
    let (raw, mut head) = head(store)?;
    batch.require(MetaRecord::TABLE, AUDIT_HEAD, raw);
    let at = domain::model::now();
    for ev in events {
        let mut e = AuditRecord {
            index: head.value + 1,
            at,
            kind: ev.kind.clone(),
            actor: ev.actor.clone(),
            subject: ev.subject.clone(),
            detail: ev.detail.clone(),
            prev_hash: head.hash.clone(),
            signature: String::new(),
        };
        e.signature = hex::encode(ca.sign(&body_bytes(&e))?);
        head.value = e.index;
        head.hash = entry_hash(&e);
        batch.insert_record(&e)?;
        tracing::info!(index = e.index, kind = %e.kind, actor = %e.actor, subject = %e.subject, "audit entry appended");
    }
    batch.put_record(&head)?;
    Ok(())
}

/// The result of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub entries: u64,
    /// The first broken entry and why; `None` when the whole log verifies.
    pub broken: Option<(u64, String)>,
}

/// Recomputes the chain and every signature (against the CA certificate `ca_der`) and reports
/// the first broken entry.
pub fn verify(store: &dyn Store, ca_der: &[u8]) -> OdcmResult<Verification> {
    let mut prev_hash = String::new();
    let mut n = 0u64;
    let mut after: Option<String> = None;
    let broken = |n: u64, i: u64, why: String| Verification {
        entries: n,
        broken: Some((i, why)),
    };
    loop {
        let rows = store.scan(AuditRecord::TABLE, "", after.as_deref(), 500)?;
        if rows.is_empty() {
            break;
        }
        for (key, bytes) in &rows {
            let expected = n + 1;
            let idx = key.parse::<u64>().unwrap_or(0);
            if idx != expected {
                return Ok(broken(n, expected, format!("entry {expected} is missing")));
            }
            let e = match decode::<AuditRecord>(key, bytes) {
                Ok(e) => e,
                Err(err) => return Ok(broken(n, idx, format!("the entry is unreadable: {err}"))),
            };
            if e.index != idx {
                return Ok(broken(
                    n,
                    idx,
                    format!("the entry claims index {}", e.index),
                ));
            }
            if e.prev_hash != prev_hash {
                return Ok(broken(
                    n,
                    idx,
                    format!("its previous-entry hash does not match entry {}", idx - 1),
                ));
            }
            let sig = hex::decode(&e.signature).unwrap_or_default();
            if !verify_signature(ca_der, &body_bytes(&e), &sig) {
                return Ok(broken(
                    n,
                    idx,
                    "its signature does not verify with the ODCM CA: the entry was altered".into(),
                ));
            }
            prev_hash = entry_hash(&e);
            n = idx;
        }
        after = rows.last().map(|(k, _)| k.clone());
    }
    let (_, head) = head(store)?;
    if head.value > n {
        return Ok(broken(
            n,
            n + 1,
            format!(
                "entries {} to {} are missing (the log was truncated)",
                n + 1,
                head.value
            ),
        ));
    }
    if head.value != n || head.hash != prev_hash {
        return Ok(broken(
            n,
            n.max(1),
            "the last entry does not match the log's recorded head".into(),
        ));
    }
    Ok(Verification {
        entries: n,
        broken: None,
    })
}

/// A page of entries in order.
pub fn list(
    store: &dyn Store,
    start_after: Option<&str>,
    limit: usize,
) -> OdcmResult<(Vec<AuditRecord>, Option<String>)> {
    store
        .list_records::<AuditRecord>("", start_after, limit)
        .map_err(OdcmError::from)
}

/// Re-encodes a record (for tests that tamper with the store).
pub fn encode_entry(e: &AuditRecord) -> OdcmResult<Vec<u8>> {
    Ok(encode(e)?)
}

#[cfg(test)]
#[path = "tests/audit.rs"]
mod tests;
