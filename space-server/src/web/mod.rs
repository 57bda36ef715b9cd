//! The Space's web UI: pages and JSON endpoints over TLS on their own listener, signed in with
//! the Space's API keys (`webui`), calling the same services and the same permission checks
//! (`crate::permits`) as the gRPC API. Writes go on the Space's audit trail like API calls.
//! Pages: the dashboard (live), a project's releases, a release with its deploy form, two
//! releases compared, Release Bundles with their import form, a deployment with its live
//! log; JSON under `/api/` (docs/web-api.md).

mod api;
mod bundles;
mod compare;
mod dashboard;
mod deployments;
mod promote;
mod releases;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use domain::error::{ErrorCode, ServiceError};
use serde::Deserialize;
use webui::html::{Nav, page};
use webui::login::Web;
use webui::serve::Peer;
use webui::session::Session;

use crate::audit::{AuditTrail, Call};
use crate::deployments::Engine;
use crate::error::ApiError;
use crate::state::SpaceState;

/// Space users with passwords, for the sign-in page.
pub struct SpacePasswords {
    pub access: crate::services::access::AccessService,
}

impl webui::login::Passwords for SpacePasswords {
    fn sign_in(&self, user: &str, password: &str) -> Result<runtime::auth::Caller, String> {
        self.access
            .sign_in_with_password(user, password)
            .map_err(|e| e.to_string())
    }

    fn still_valid(&self, caller: &runtime::auth::Caller) -> bool {
        self.access.password_session_valid(caller)
    }
}

/// How long a web session lasts without a request.
pub const IDLE: std::time::Duration = std::time::Duration::from_secs(30 * 60);

/// What every handler reaches.
pub struct App {
    pub state: Arc<SpaceState>,
    pub engine: Arc<Engine>,
    pub web: Web,
    pub trail: AuditTrail,
}

type AppState = State<Arc<App>>;

/// Serves the web UI on `listener` until `shutdown`.
pub async fn serve(
    app: Arc<App>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let identity = &app.state.identity;
    let tls = webui::serve::tls_config(
        identity.cert_der().map_err(|e| e.to_string())?,
        identity.private_key().map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    webui::serve(listener, tls, router(app), shutdown).await;
    Ok(())
}

fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .merge(dashboard::routes())
        .merge(compare::routes())
        .merge(bundles::routes())
        .merge(api::routes())
        .merge(promote::routes())
        .merge(releases::routes())
        .merge(deployments::routes())
        .merge(webui::assets::router())
        .with_state(app)
}

/// The request's session, or the way to get one (the sign-in page; 401 for JSON).
fn signed(app: &App, headers: &HeaderMap, uri: &Uri) -> Result<Session, Box<Response>> {
    app.web.session(headers).ok_or_else(|| {
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        Box::new(
            if path.starts_with("/api/") || path.starts_with("/fragments/") {
                webui::login::unauthenticated()
            } else {
                webui::login::to_login(path)
            },
        )
    })
}

/// The signed-in session of a request, as a handler argument: without one, a page answers
/// with the sign-in page (coming back after), JSON with 401.
pub struct Signed(pub Session);

impl axum::extract::FromRequestParts<Arc<App>> for Signed {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        app: &Arc<App>,
    ) -> Result<Self, Self::Rejection> {
        signed(app, &parts.headers, &parts.uri)
            .map(Signed)
            .map_err(|r| *r)
    }
}

/// A whole page for `s`.
fn html(app: &App, s: &Session, title: &str, body: &str) -> Html<String> {
    let nav = [
        Nav {
            href: "/",
            label: "Dashboard",
        },
        Nav {
            href: "/projects",
            label: "Projects",
        },
        Nav {
            href: "/bundles",
            label: "Bundles",
        },
    ];
    let signed = webui::html::Signed {
        user: &s.caller.name,
        csrf: &s.csrf,
    };
    Html(page(title, &app.web.product, &nav, Some(signed), body))
}

/// An error as a page (internal details logged, not shown).
fn error_page(app: &App, s: &Session, e: &ApiError) -> Response {
    let code = e.code();
    let title = if code == ErrorCode::PermissionDenied {
        "Not allowed"
    } else {
        "Cannot do that"
    };
    let body = webui::html::error(&webui::public_message(code, &e.to_string()));
    (webui::status_of(code), html(app, s, title, &body)).into_response()
}

/// An error as JSON.
fn error_json(e: &ApiError) -> Response {
    let text = webui::public_message(e.code(), &e.to_string());
    (
        webui::status_of(e.code()),
        axum::Json(serde_json::json!({ "error": text })),
    )
        .into_response()
}

/// Puts a web write (or its refusal) on the audit trail, as the gRPC layer does for calls.
fn audit(app: &App, s: &Session, what: &str, peer: Option<Peer>, code: &str) {
    app.trail.append(Call {
        user: s.caller.name.clone(),
        key: s.caller.key_hash.chars().take(12).collect(),
        method: format!("web {what}"),
        from: peer.map(|p| p.0.to_string()).unwrap_or_default(),
        code: code.to_string(),
    });
}

/// Checks a form's CSRF token (and origin); a refusal is audited.
fn check_form(
    app: &App,
    s: &Session,
    csrf: &str,
    headers: &HeaderMap,
    what: &str,
    peer: Option<Peer>,
) -> Result<(), Box<Response>> {
    app.web.check_form(s, csrf, headers).map_err(|why| {
        audit(app, s, what, peer, "PermissionDenied");
        Box::new(
            (
                StatusCode::FORBIDDEN,
                html(app, s, "Refused", &webui::html::error(&why)),
            )
                .into_response(),
        )
    })
}

#[derive(Deserialize)]
struct Next {
    #[serde(default)]
    next: String,
}

async fn login_page(State(app): AppState, q: axum::extract::Query<Next>) -> Html<String> {
    Html(app.web.login_page(&q.next, None))
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    key: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

async fn login(
    State(app): AppState,
    headers: HeaderMap,
    peer: Option<axum::Extension<Peer>>,
    Form(f): Form<LoginForm>,
) -> Response {
    let from = peer.map(|p| p.0.0.to_string()).unwrap_or_default();
    if let Err(why) = webui::login::same_origin(&headers) {
        return (
            StatusCode::FORBIDDEN,
            Html(app.web.login_page(&f.next, Some(&why))),
        )
            .into_response();
    }
    let signed = if f.key.trim().is_empty() {
        // The password hash takes a while: off the async threads.
        let (a, user, password) = (app.clone(), f.user.clone(), f.password.clone());
        tokio::task::spawn_blocking(move || a.web.login_password(&user, &password))
            .await
            .unwrap_or_else(|_| Err("cannot sign in now: try again".into()))
    } else {
        app.web.login(&f.key)
    };
    match signed {
        Ok(s) => {
            tracing::info!(user = %s.caller.name, from = %from, "web sign-in");
            webui::login::signed_in(&s, &f.next)
        }
        Err(why) => {
            tracing::warn!(from = %from, "web sign-in refused");
            app.trail.append(Call {
                user: "(unknown key)".into(),
                key: String::new(),
                method: "web POST /login".into(),
                from,
                code: "Unauthenticated".into(),
            });
            (
                StatusCode::UNAUTHORIZED,
                Html(app.web.login_page(&f.next, Some(&why))),
            )
                .into_response()
        }
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(
    State(app): AppState,
    headers: HeaderMap,
    uri: Uri,
    Form(f): Form<CsrfForm>,
) -> Response {
    let s = match signed(&app, &headers, &uri) {
        Ok(s) => s,
        Err(_) => return webui::login::signed_out(),
    };
    if let Err(r) = check_form(&app, &s, &f.csrf, &headers, "POST /logout", None) {
        return *r;
    }
    app.web.logout(&headers);
    webui::login::signed_out()
}

/// The gRPC name of an error's code, as the audit trail records API calls.
fn code_name(e: &ApiError) -> &'static str {
    match e.code() {
        ErrorCode::NotFound => "NotFound",
        ErrorCode::AlreadyExists => "AlreadyExists",
        ErrorCode::Invalid => "InvalidArgument",
        ErrorCode::FailedPrecondition => "FailedPrecondition",
        ErrorCode::Aborted => "Aborted",
        ErrorCode::Unauthenticated => "Unauthenticated",
        ErrorCode::PermissionDenied => "PermissionDenied",
        ErrorCode::Unavailable => "Unavailable",
        _ => "Internal",
    }
}
