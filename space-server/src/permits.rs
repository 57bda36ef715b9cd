//! The permission check of the Space API, in one module: which permission each gRPC method
//! needs ([`needed`]; reads need `view`), checked for every call by [`PermitLayer`] (anywhere
//! in the Space: some grant holds it), and by [`require`] where the scope matters (the
//! project, environment and tenant of a deployment, the project of a release, a variable, a
//! step). Reads are limited the same way by [`Viewer`]: a list leaves out what the caller may
//! not see, a read of one thing they may not see is refused. Admin keys pass; keys the interceptor refuses (none, unknown, revoked, expired) and
//! registration tokens (restricted by the interceptor and the Targets service) pass through
//! to be refused or checked there. A refusal is PERMISSION_DENIED naming what is missing.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use domain::access::{Need, Permission, Policy, TenantNeed};
use domain::model::{Environment, Scope};
use http::{Request, Response};
use runtime::auth::{Caller, KeyCheck};
use storage::StoreExt;
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
        "Packages" => match method {
            "CollectGarbage" => Admin,
            _ => PushPackages,
        },
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
    require_of(state, &runtime::auth::caller(req), need)
}

/// [`require`] for `caller`.
pub fn require_of(state: &Arc<SpaceState>, caller: &Caller, need: Need) -> Result<(), ApiError> {
    if caller.registration {
        return Ok(());
    }
    access(state).require(caller, &need)
}

/// [`require`] for `permission` in `environment` of `project`, for `tenant` (None: an
/// untenanted deployment).
pub fn require_at<T>(
    state: &Arc<SpaceState>,
    req: &tonic::Request<T>,
    permission: Permission,
    project: &str,
    environment: &str,
    tenant: Option<&str>,
) -> Result<(), ApiError> {
    require(
        state,
        req,
        Need::at(permission, project, environment, tenant),
    )
}

/// [`require`] for `permission` in `project`.
pub fn may<T>(
    state: &Arc<SpaceState>,
    req: &tonic::Request<T>,
    permission: Permission,
    project: &str,
) -> Result<(), ApiError> {
    require(state, req, Need::in_project(permission, project))
}

/// [`require`] for a value of `project` scoped to `scope`: in every environment it applies
/// in (every environment of the Space when it names none), for each tenant it names
/// (untenanted when it names none). An editor limited to Staging changes Staging's values,
/// not the ones Production uses too.
pub fn require_for_scope<T>(
    state: &Arc<SpaceState>,
    req: &tonic::Request<T>,
    permission: Permission,
    project: &str,
    scope: &Scope,
) -> Result<(), ApiError> {
    require_scope_of(
        state,
        &runtime::auth::caller(req),
        permission,
        project,
        scope,
    )
}

/// [`require_for_scope`] for `caller`.
pub fn require_scope_of(
    state: &Arc<SpaceState>,
    caller: &Caller,
    permission: Permission,
    project: &str,
    scope: &Scope,
) -> Result<(), ApiError> {
    require_of(state, caller, Need::in_project(permission, project))?;
    if caller.admin || caller.registration {
        return Ok(());
    }
    let environments = if scope.environments.is_empty() {
        state
            .store
            .all_records::<Environment>("")?
            .into_iter()
            .map(|e| e.name)
            .collect()
    } else {
        scope.environments.clone()
    };
    let tenants: Vec<Option<&str>> = if scope.tenants.is_empty() {
        vec![None]
    } else {
        scope.tenants.iter().map(|t| Some(t.as_str())).collect()
    };
    for e in &environments {
        for t in &tenants {
            require_of(state, caller, Need::at(permission, project, e, *t))?;
        }
    }
    Ok(())
}

/// `caller` may promote `project` to `to_space`: deploy in the project, and in one of the
/// Space's remote environments here at least, when it has any (a deployer limited to Staging
/// does not send releases to the Space of "Prod: Production").
pub fn require_promote(
    state: &Arc<SpaceState>,
    caller: &Caller,
    project: &str,
    to_space: &str,
) -> Result<(), ApiError> {
    require_of(state, caller, Need::in_project(Permission::Deploy, project))?;
    let remote = state.remote_environments(to_space).unwrap_or_default();
    let mut refused = None;
    for e in &remote {
        let need = Need::at(Permission::Deploy, project, &e.name, None);
        match require_of(state, caller, need) {
            Ok(()) => return Ok(()),
            Err(err) => refused = refused.or(Some(err)),
        }
    }
    refused.map_or(Ok(()), Err)
}

fn access(state: &Arc<SpaceState>) -> AccessService {
    AccessService {
        state: state.clone(),
    }
}

/// What the caller of a request may see: reads answer only about the projects, environments
/// and tenants some `view` grant of theirs covers (lists leave the rest out).
pub struct Viewer {
    name: String,
    /// `None`: everything (an admin key).
    policy: Option<Arc<Policy>>,
}

impl Viewer {
    /// The caller of `req` as a viewer.
    pub fn of<T>(state: &Arc<SpaceState>, req: &tonic::Request<T>) -> Result<Viewer, ApiError> {
        Viewer::of_caller(state, runtime::auth::caller(req))
    }

    /// `caller` as a viewer (a web session's).
    pub fn of_caller(state: &Arc<SpaceState>, caller: Caller) -> Result<Viewer, ApiError> {
        let policy = if caller.admin {
            None
        } else if caller.registration {
            Some(Arc::new(Policy::default()))
        } else {
            Some(access(state).policy()?)
        };
        Ok(Viewer {
            name: caller.name,
            policy,
        })
    }

    /// A viewer who sees everything (the server's own questions, tests).
    pub fn everything() -> Viewer {
        Viewer {
            name: "(system)".into(),
            policy: None,
        }
    }

    fn sees_need(&self, need: &Need) -> bool {
        self.policy
            .as_ref()
            .is_none_or(|p| p.permits(&self.name, need))
    }

    /// The project at all (some of its environments or tenants, at least).
    pub fn sees_project(&self, project: &str) -> bool {
        self.sees_need(&Need::in_project(Permission::View, project))
    }

    /// What happened in `environment` of `project` for `tenant` (None: untenanted).
    pub fn sees(&self, project: &str, environment: &str, tenant: Option<&str>) -> bool {
        self.sees_need(&Need::at(Permission::View, project, environment, tenant))
    }

    /// The tenant (some of its deployments, at least).
    pub fn sees_tenant(&self, tenant: &str) -> bool {
        self.sees_need(&Need {
            tenant: TenantNeed::Tenant(tenant.to_string()),
            ..Need::anywhere(Permission::View)
        })
    }

    /// Refuses a read of `project` the caller may not see.
    pub fn check_project(&self, project: &str) -> Result<(), ApiError> {
        self.check(Need::in_project(Permission::View, project))
    }

    /// Refuses a read of a deployment the caller may not see.
    pub fn check(&self, need: Need) -> Result<(), ApiError> {
        if self.sees_need(&need) {
            return Ok(());
        }
        Err(ApiError::PermissionDenied(format!(
            "'{}' may not {}: that needs a team granting a role with view there",
            self.name,
            need.describe()
        )))
    }
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

/// Why the caller of `req` may not call its method at all; `None`: go on (a refused key
/// is refused by the interceptor; an admin key and a registration token pass here).
fn refusal<B>(state: &Arc<SpaceState>, req: &Request<B>) -> Option<String> {
    let permission = needed(req.uri().path())?;
    let check = KeyCheck::of(req);
    let caller = check.caller()?;
    if caller.admin || caller.registration {
        return None;
    }
    access(state)
        .require(caller, &Need::anywhere(permission))
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
        if let Some(why) = refusal(&self.state, &req) {
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
            ("/space.v1.Packages/CollectGarbage", Some(Admin)),
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
