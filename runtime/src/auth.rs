//! API-key authentication, one copy for every service: each request carries
//! `authorization: Bearer <key>`; the key's SHA-256 is looked up in the service's store (keys
//! are stored only as hashes). A revoked or expired key is refused at once; an agent
//! registration token passes only where registration is served (and is refused elsewhere,
//! PERMISSION_DENIED). The caller is put in the request's extensions for handlers.
//!
//! A server with several layers that need the caller (audit, permissions) puts [`KeyLayer`]
//! outermost: it looks the key up once and leaves the [`KeyCheck`] in the request's
//! extensions, where the layers and the interceptor read it instead of looking again.

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

    /// What the request's `authorization` header (if any) names: one store lookup; a revoked
    /// or expired key is refused here; the last use is noted.
    pub fn lookup(&self, header: Option<&str>) -> KeyCheck {
        let Some(header) = header else {
            return KeyCheck::Missing;
        };
        let key = header.strip_prefix("Bearer ").unwrap_or(header).trim();
        self.lookup_hash(&hash_api_key(key))
    }

    /// [`Self::lookup`] by the key's hash (a web session keeps the hash, never the key).
    pub fn lookup_hash(&self, hash: &str) -> KeyCheck {
        let rec = match self.store.get_record::<ApiKeyRecord>(hash) {
            Ok(Some(rec)) => rec,
            Ok(None) => return KeyCheck::Unknown,
            Err(e) => return KeyCheck::Refused(refuse(ErrorCode::Internal, e.to_string())),
        };
        let now = domain::model::now();
        if let Some(at) = rec.revoked_at {
            tracing::warn!(key = %rec.id(), user = %rec.user_name(), "revoked API key refused");
            return KeyCheck::Refused(refuse(
                ErrorCode::Unauthenticated,
                format!(
                    "this API key was revoked at {}: ask an admin for a new one (deploy apikey create)",
                    when(at)
                ),
            ));
        }
        if let Some(at) = rec.expires_at.filter(|at| *at <= now) {
            tracing::warn!(key = %rec.id(), user = %rec.user_name(), "expired API key refused");
            return KeyCheck::Refused(refuse(
                ErrorCode::Unauthenticated,
                format!(
                    "this API key expired at {}: ask an admin for a new one (deploy apikey create)",
                    when(at)
                ),
            ));
        }
        self.note_use(&rec, now);
        KeyCheck::Known(Caller {
            name: rec.user_name().to_string(),
            admin: rec.admin,
            key_name: rec.name.clone(),
            key_hash: rec.key_hash.clone(),
            registration: rec.registration.is_some(),
            expires_at: rec.expires_at,
        })
    }

    /// Whether this service lets `check`'s caller in: the caller, or the refusal.
    fn admit(&self, check: KeyCheck) -> Result<Caller, tonic::Status> {
        match check {
            KeyCheck::Missing => {
                tracing::warn!(reason = "no api key", "{}", self.hints.log);
                Err(refuse(ErrorCode::Unauthenticated, self.hints.missing))
            }
            KeyCheck::Refused(status) => Err(status),
            KeyCheck::Known(c) if c.admin || !self.admin_only => {
                if c.registration && !self.registration {
                    return Err(refuse(
                        ErrorCode::PermissionDenied,
                        "this is an agent registration token: it can register an agent (agent register) and do nothing else",
                    ));
                }
                Ok(c)
            }
            KeyCheck::Unknown | KeyCheck::Known(_) => {
                tracing::warn!(reason = "unknown api key", "{}", self.hints.log);
                Err(refuse(ErrorCode::Unauthenticated, self.hints.invalid))
            }
        }
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
        let check = match req.extensions().get::<KeyCheck>() {
            Some(done) => done.clone(),
            None => self.lookup(
                req.metadata()
                    .get("authorization")
                    .and_then(|v| v.to_str().ok()),
            ),
        };
        let caller = self.admit(check)?;
        req.extensions_mut().insert(caller);
        Ok(req)
    }
}

/// What a request's key turned out to be (found once per request, see [`KeyLayer`]).
#[derive(Debug, Clone)]
pub enum KeyCheck {
    /// No `authorization` header.
    Missing,
    /// No such key.
    Unknown,
    /// Revoked, expired, or the store failed: this refusal.
    Refused(tonic::Status),
    Known(Caller),
}

impl KeyCheck {
    /// The caller, if the key is known and usable.
    pub fn caller(&self) -> Option<&Caller> {
        match self {
            KeyCheck::Known(c) => Some(c),
            _ => None,
        }
    }

    /// The check a layer below [`KeyLayer`] finds in `req` (`Missing` without one).
    pub fn of<B>(req: &http::Request<B>) -> KeyCheck {
        req.extensions()
            .get::<KeyCheck>()
            .cloned()
            .unwrap_or(KeyCheck::Missing)
    }
}

/// tower layer looking each request's key up once (see the module's text).
#[derive(Clone)]
pub struct KeyLayer {
    auth: ApiKeyAuth,
}

impl KeyLayer {
    pub fn new(auth: ApiKeyAuth) -> Self {
        Self { auth }
    }
}

impl<S> tower::Layer<S> for KeyLayer {
    type Service = KeyService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        KeyService {
            inner,
            auth: self.auth.clone(),
        }
    }
}

#[derive(Clone)]
pub struct KeyService<S> {
    inner: S,
    auth: ApiKeyAuth,
}

impl<S, B> tower::Service<http::Request<B>> for KeyService<S>
where
    S: tower::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let header = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        let check = self.auth.lookup(header);
        req.extensions_mut().insert(check);
        self.inner.call(req)
    }
}

#[cfg(test)]
#[path = "tests/auth.rs"]
mod tests;
