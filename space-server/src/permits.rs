//! The permission check of the Space API, in one module: which permission each gRPC method
//! needs ([`needed`]; reads need `view`), checked for every call by [`PermitLayer`] (anywhere
//! in the Space: some grant holds it), and by [`require`] where the scope matters (the
//! project and environment of a deployment, the project of a release, a variable, a step).
//! Admin keys pass; keys the interceptor refuses (none, unknown, revoked, expired) and
//! registration tokens (restricted by the interceptor and the Targets service) pass through
//! to be refused or checked there. A refusal is PERMISSION_DENIED naming what is missing.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use domain::access::{Need, Permission};
use http::{Request, Response};
use runtime::auth::Caller;
use storage::StoreExt;
use storage::records::ApiKeyRecord;
use tower::{Layer, Service};

use crate::audit::layer::is_read;
use crate::error::ApiError;
use crate::services::access::AccessService;
use crate::state::SpaceState;

/// The permission `path` (`/space.v1.Service/Method`) needs; `None`: none (who am I, the
/// health check, reflection).
pub fn needed(path: &str) -> Option<Permission> {
    use Permission::*;
    let (service, method) = path.trim_start_matches('/').split_once('/')?;
    let service = service.strip_prefix("space.v1.")?;
    if service == "System" {
        return None;
    }
    if matches!(service, "Access" | "Audit") {
        // Users, keys, teams, roles and the trail: their handlers check (admin, or view
        // for the team and role lists).
        return None;
    }
    if is_read(path) {
        return Some(View);
    }
    Some(match service {
        "Environments" | "Lifecycles" | "Targets" | "Tenants" => ManageEnvironments,
        "Projects" | "Channels" | "Process" => EditProject,
        "Variables" => EditVariables,
        "Packages" => PushPackages,
        "Releases" => CreateRelease,
        "Deployments" => Deploy,
        "Promotion" => match method {
            "Promote" | "QueuePromotion" | "CancelPromotion" | "ExportPackages"
            | "ExportReceipts" => Deploy,
            _ => ImportBundles,
        },
        "Peers" => View,
        _ => Admin,
    })
}

/// Refuses `need` for the caller of `req` unless a grant of theirs covers it.
pub fn require<T>(
    state: &Arc<SpaceState>,
    req: &tonic::Request<T>,
    need: Need,
) -> Result<(), ApiError> {
    let caller = runtime::auth::caller(req);
    if caller.registration {
        return Ok(());
    }
    AccessService {
        state: state.clone(),
    }
    .require(&caller, &need)
}

/// [`require`] for `permission` in `project` (and `environment`, where given).
pub fn require_in<T>(
    state: &Arc<SpaceState>,
    req: &tonic::Request<T>,
    permission: Permission,
    project: String,
    environment: Option<String>,
) -> Result<(), ApiError> {
    let need = Need {
        permission,
        project: Some(project),
        environment,
    };
    require(state, req, need)
}

/// [`require`] for `permission` in `project`.
pub fn may<T>(
    state: &Arc<SpaceState>,
    req: &tonic::Request<T>,
    permission: Permission,
    project: &str,
) -> Result<(), ApiError> {
    require_in(state, req, permission, project.to_string(), None)
}

#[derive(Clone)]
pub struct PermitLayer {
    state: Arc<SpaceState>,
}

impl PermitLayer {
    pub fn new(state: Arc<SpaceState>) -> Self {
        Self { state }
    }
}

impl<S> Layer<S> for PermitLayer {
    type Service = PermitService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        PermitService {
            inner,
            state: self.state.clone(),
        }
    }
}

#[derive(Clone)]
pub struct PermitService<S> {
    inner: S,
    state: Arc<SpaceState>,
}

/// Why the caller of a request with these headers may not call `path`; `None`: go on.
fn refusal(state: &Arc<SpaceState>, path: &str, headers: &http::HeaderMap) -> Option<String> {
    let permission = needed(path)?;
    let value = headers.get("authorization")?.to_str().ok()?;
    let key = value.strip_prefix("Bearer ").unwrap_or(value).trim();
    let rec = state
        .store
        .get_record::<ApiKeyRecord>(&secrets::hash_api_key(key))
        .ok()??;
    if rec.admin || rec.registration.is_some() {
        return None;
    }
    let caller = Caller {
        name: rec.user_name().to_string(),
        ..Default::default()
    };
    AccessService {
        state: state.clone(),
    }
    .require(&caller, &Need::anywhere(permission))
    .err()
    .map(|e| e.to_string())
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for PermitService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        if let Some(why) = refusal(&self.state, req.uri().path(), req.headers()) {
            tracing::warn!(method = %req.uri().path(), "{why}");
            let resp = tonic::Status::permission_denied(why).into_http::<ResBody>();
            return Box::pin(async move { Ok(resp) });
        }
        Box::pin(self.inner.call(req))
    }
}

#[cfg(test)]
mod tests {
    use super::needed;
    use domain::access::Permission::*;

    #[test]
    fn every_kind_of_method_needs_its_permission() {
        let cases = [
            ("/space.v1.Projects/List", Some(View)),
            ("/space.v1.Projects/Apply", Some(EditProject)),
            ("/space.v1.Variables/Set", Some(EditVariables)),
            ("/space.v1.Variables/Preview", Some(View)),
            ("/space.v1.Releases/Create", Some(CreateRelease)),
            ("/space.v1.Deployments/Create", Some(Deploy)),
            ("/space.v1.Deployments/Watch", Some(View)),
            ("/space.v1.Environments/Delete", Some(ManageEnvironments)),
            ("/space.v1.Targets/Create", Some(ManageEnvironments)),
            ("/space.v1.Packages/Upload", Some(PushPackages)),
            ("/space.v1.Promotion/ImportBundle", Some(ImportBundles)),
            ("/space.v1.Promotion/Promote", Some(Deploy)),
            ("/space.v1.System/WhoAmI", None),
            ("/grpc.health.v1.Health/Check", None),
        ];
        for (path, want) in cases {
            assert_eq!(needed(path), want, "{path}");
        }
    }
}
