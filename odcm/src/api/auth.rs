//! API-key authentication of the Admin service: `authorization: Bearer <key>`.

use std::sync::Arc;

use crate::state::OdcmState;

/// Who made an admin request; inserted into request extensions by [`AdminAuth`].
#[derive(Debug, Clone)]
pub struct Caller {
    pub name: String,
}

/// The audit actor of an authenticated admin request.
pub fn actor<T>(req: &tonic::Request<T>) -> String {
    req.extensions()
        .get::<Caller>()
        .map(|c| c.name.clone())
        .unwrap_or_else(|| "unknown".into())
}

/// A tonic interceptor that refuses requests without a valid admin API key (UNAUTHENTICATED).
#[derive(Clone)]
pub struct AdminAuth {
    state: Arc<OdcmState>,
}

impl AdminAuth {
    pub fn new(state: Arc<OdcmState>) -> Self {
        Self { state }
    }
}

impl tonic::service::Interceptor for AdminAuth {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        let header = req
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let Some(header) = header else {
            tracing::warn!(reason = "no api key", "admin request refused");
            return Err(tonic::Status::unauthenticated(
                "this request carries no ODCM API key: pass one with --odcm-api-key or ODCM_API_KEY",
            ));
        };
        let key = header.strip_prefix("Bearer ").unwrap_or(&header).trim();
        match self.state.authenticate(key) {
            Ok(Some(rec)) if rec.admin => {
                req.extensions_mut().insert(Caller { name: rec.name });
                Ok(req)
            }
            Ok(_) => {
                tracing::warn!(reason = "unknown api key", "admin request refused");
                Err(tonic::Status::unauthenticated(
                    "the API key is not valid for this ODCM: check --odcm-api-key / ODCM_API_KEY",
                ))
            }
            Err(e) => Err(e.into()),
        }
    }
}
