//! API-key authentication, one copy for every service: each request carries
//! `authorization: Bearer <key>`; the key's SHA-256 is looked up in the service's store (keys
//! are stored only as hashes). The caller is put in the request's extensions for handlers.

use std::sync::Arc;

use domain::error::ErrorCode;
use secrets::hash_api_key;
use storage::records::ApiKeyRecord;
use storage::{Store, StoreExt};

use crate::status::refuse;

/// Who made a request; inserted into request extensions by [`ApiKeyAuth`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
    pub admin: bool,
}

/// The caller of a request [`ApiKeyAuth`] let through ("unknown" for a request that did not
/// pass through it, such as the health check).
pub fn caller<T>(req: &tonic::Request<T>) -> Caller {
    req.extensions().get::<Caller>().cloned().unwrap_or(Caller {
        name: "unknown".into(),
        admin: false,
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
}

impl ApiKeyAuth {
    pub fn new(store: Arc<dyn Store>, admin_only: bool, hints: Hints) -> Self {
        Self {
            store,
            admin_only,
            hints,
        }
    }

    /// The key's record, if it is known (and an admin key when `admin_only`).
    pub fn check(&self, key: &str) -> Result<Option<Caller>, tonic::Status> {
        let rec = self
            .store
            .get_record::<ApiKeyRecord>(&hash_api_key(key))
            .map_err(|e| refuse(ErrorCode::Internal, e.to_string()))?;
        Ok(rec.filter(|r| r.admin || !self.admin_only).map(|r| Caller {
            name: r.name,
            admin: r.admin,
        }))
    }
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
