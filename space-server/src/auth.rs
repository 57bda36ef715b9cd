//! API key authentication: every request carries `authorization: Bearer <key>`.

use std::sync::Arc;

use crate::state::SpaceState;

/// Who made a request; inserted into request extensions by [`Authenticator`].
#[derive(Debug, Clone)]
pub struct Caller {
    pub name: String,
    pub admin: bool,
}

/// Reads the caller of an authenticated request.
pub fn caller<T>(req: &tonic::Request<T>) -> Caller {
    req.extensions().get::<Caller>().cloned().unwrap_or(Caller {
        name: "unknown".into(),
        admin: false,
    })
}

/// A tonic interceptor that refuses requests without a valid API key (UNAUTHENTICATED).
#[derive(Clone)]
pub struct Authenticator {
    state: Arc<SpaceState>,
}

impl Authenticator {
    pub fn new(state: Arc<SpaceState>) -> Self {
        Self { state }
    }
}

impl tonic::service::Interceptor for Authenticator {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        let header = req
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let Some(header) = header else {
            tracing::warn!(reason = "no api key", "request refused");
            return Err(tonic::Status::unauthenticated(
                "this request carries no API key: pass one with --api-key or configure a context (deploy context add)",
            ));
        };
        let key = header.strip_prefix("Bearer ").unwrap_or(&header).trim();
        match self.state.authenticate(key) {
            Ok(Some(rec)) => {
                req.extensions_mut().insert(Caller {
                    name: rec.name,
                    admin: rec.admin,
                });
                Ok(req)
            }
            Ok(None) => {
                tracing::warn!(reason = "unknown api key", "request refused");
                Err(tonic::Status::unauthenticated(
                    "the API key is not valid for this Space: check the context's api key (deploy context show)",
                ))
            }
            Err(e) => Err(e.into()),
        }
    }
}
