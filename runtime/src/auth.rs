//! API-key authentication, one copy for every service: each request carries
//! `authorization: Bearer <key>`; the key's SHA-256 is looked up in the service's store (keys
//! are stored only as hashes). A revoked or expired key is refused at once; an agent
//! registration token passes only where registration is served (and is refused elsewhere,
//! PERMISSION_DENIED). The caller is put in the request's extensions for handlers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use domain::error::ErrorCode;
use secrets::hash_api_key;
use storage::records::ApiKeyRecord;
use storage::{Batch, Store, StoreExt};

use crate::status::refuse;

/// How often a key's last use is written (seconds).
const LAST_USED_EVERY: i64 = 60;

/// Who made a request; inserted into request extensions by [`ApiKeyAuth`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Caller {
    /// The user or service account.
    pub name: String,
    pub admin: bool,
    /// The key's label.
    pub key_name: String,
    /// The key's hash (its id), to find its record.
    pub key_hash: String,
    /// An agent registration token: it may register agents and nothing else.
    pub registration: bool,
    pub expires_at: Option<i64>,
}

/// The caller of a request [`ApiKeyAuth`] let through ("unknown" for a request that did not
/// pass through it, such as the health check).
pub fn caller<T>(req: &tonic::Request<T>) -> Caller {
    req.extensions().get::<Caller>().cloned().unwrap_or(Caller {
        name: "unknown".into(),
        ..Default::default()
    })
}

/// What a refused caller is told: how to pass a key, and where to check it.
#[derive(Debug, Clone, Copy)]
pub struct Hints {
    /// Where the refusal is logged from ("request refused", "admin request refused").
    pub log: &'static str,
    pub missing: &'static str,
    pub invalid: &'static str,
}

/// A tonic interceptor that refuses requests without a valid API key (UNAUTHENTICATED), or,
/// with `admin_only`, without an admin key.
#[derive(Clone)]
pub struct ApiKeyAuth {
    store: Arc<dyn Store>,
    admin_only: bool,
    hints: Hints,
    /// Whether agent registration tokens pass (the service that registers agents).
    registration: bool,
    /// Key hash -> when its last use was last written.
    written: Arc<Mutex<HashMap<String, i64>>>,
}

impl ApiKeyAuth {
    pub fn new(store: Arc<dyn Store>, admin_only: bool, hints: Hints) -> Self {
        Self {
            store,
            admin_only,
            hints,
            registration: false,
            written: Default::default(),
        }
    }

    /// The same, letting agent registration tokens through (the service checks what they do).
    pub fn admitting_registration(&self) -> Self {
        Self {
            registration: true,
            ..self.clone()
        }
    }

    /// The key's caller, if it is known (and an admin key when `admin_only`); a revoked or
    /// expired key, or a registration token where registration is not served, is refused.
    pub fn check(&self, key: &str) -> Result<Option<Caller>, tonic::Status> {
        let hash = hash_api_key(key);
        let rec = self
            .store
            .get_record::<ApiKeyRecord>(&hash)
            .map_err(|e| refuse(ErrorCode::Internal, e.to_string()))?;
        let Some(rec) = rec.filter(|r| r.admin || !self.admin_only) else {
            return Ok(None);
        };
        let now = domain::model::now();
        if let Some(at) = rec.revoked_at {
            tracing::warn!(key = %rec.id(), user = %rec.user_name(), "revoked API key refused");
            return Err(refuse(
                ErrorCode::Unauthenticated,
                format!(
                    "this API key was revoked at {}: ask an admin for a new one (deploy apikey create)",
                    when(at)
                ),
            ));
        }
        if let Some(at) = rec.expires_at.filter(|at| *at <= now) {
            tracing::warn!(key = %rec.id(), user = %rec.user_name(), "expired API key refused");
            return Err(refuse(
                ErrorCode::Unauthenticated,
                format!(
                    "this API key expired at {}: ask an admin for a new one (deploy apikey create)",
                    when(at)
                ),
            ));
        }
        if rec.registration.is_some() && !self.registration {
            return Err(refuse(
                ErrorCode::PermissionDenied,
                "this is an agent registration token: it can register an agent (agent register) and do nothing else",
            ));
        }
        self.note_use(&rec, now);
        Ok(Some(Caller {
            name: rec.user_name().to_string(),
            admin: rec.admin,
            key_name: rec.name.clone(),
            key_hash: rec.key_hash.clone(),
            registration: rec.registration.is_some(),
            expires_at: rec.expires_at,
        }))
    }

    /// Records the key's last use, at most once a minute per key (best effort: a failure is
    /// logged, the request goes on).
    fn note_use(&self, rec: &ApiKeyRecord, now: i64) {
        let due = match self.written.lock() {
            Ok(mut w) => {
                let last = w
                    .get(&rec.key_hash)
                    .copied()
                    .or(rec.last_used)
                    .unwrap_or(i64::MIN);
                let due = now.saturating_sub(last) >= LAST_USED_EVERY;
                if due {
                    w.insert(rec.key_hash.clone(), now);
                }
                due
            }
            Err(_) => false,
        };
        if !due {
            return;
        }
        let mut b = Batch::new();
        let updated = ApiKeyRecord {
            last_used: Some(now),
            ..rec.clone()
        };
        if let Err(e) = b
            .put_record(&updated)
            .map(|_| ())
            .and_then(|()| self.store.commit(b))
        {
            tracing::warn!(error = %e, "cannot record an API key's last use");
        }
    }
}

fn when(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| t.to_string())
}

impl tonic::service::Interceptor for ApiKeyAuth {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        let header = req
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let Some(header) = header else {
            tracing::warn!(reason = "no api key", "{}", self.hints.log);
            return Err(refuse(ErrorCode::Unauthenticated, self.hints.missing));
        };
        let key = header.strip_prefix("Bearer ").unwrap_or(&header).trim();
        match self.check(key)? {
            Some(caller) => {
                req.extensions_mut().insert(caller);
                Ok(req)
            }
            None => {
                tracing::warn!(reason = "unknown api key", "{}", self.hints.log);
                Err(refuse(ErrorCode::Unauthenticated, self.hints.invalid))
            }
        }
    }
}

#[cfg(test)]
#[path = "tests/auth.rs"]
mod tests;
