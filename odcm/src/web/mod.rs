//! The ODCM's web UI (admin keys only): the Spaces and their enrolment, Remote Spaces with
//! their fingerprints, the trusts as a matrix (who accepts releases and receipts from whom)
//! with add and revoke, and the audit log with its verification. Changes go through the same
//! `AdminService` as the gRPC API, so each is committed with its audit entry. The JSON behind
//! the pages (`/api/spaces`, `/api/remote-spaces`, `/api/trusts`, `/api/audit`) is what
//! `deploy odcm ... list -o json` prints, built by `proto::json::odcm`.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use domain::error::ServiceError;
use serde::Deserialize;
use webui::html::{Nav, Signed, esc, page};
use webui::login::Web;
use webui::session::Session;

mod api;
mod trusts;

use crate::error::{OdcmError, OdcmResult};
use crate::services::Page;
use crate::services::admin::AdminService;
use crate::state::OdcmState;

struct App {
    state: Arc<OdcmState>,
    web: Web,
}

type AppState = State<Arc<App>>;

/// Serves the web UI on `listener` until `shutdown`.
pub async fn serve(
    state: Arc<OdcmState>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let tls = webui::serve::tls_config(
        state.identity.cert_der().map_err(|e| e.to_string())?,
        state.identity.private_key().map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let app = Arc::new(App {
        web: Web::new(
            webui::Sessions::new(std::time::Duration::from_secs(30 * 60)),
            crate::api::auth::admin_auth(&state),
            format!("ODCM {}", state.name),
            true,
        ),
        state,
    });
    let router = Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/", get(spaces))
        .route("/trusts", get(trusts::page).post(trusts::change))
        .route("/audit", get(audit))
        .route("/api/spaces", get(api::spaces))
        .route("/api/remote-spaces", get(api::remote_spaces))
        .route("/api/trusts", get(api::trusts))
        .route("/api/audit", get(api::audit))
        .merge(webui::assets::router())
        .with_state(app);
    webui::serve(listener, tls, router, shutdown).await;
    Ok(())
}

fn admin(app: &App) -> AdminService {
    AdminService {
        state: app.state.clone(),
    }
}

fn signed(app: &App, headers: &HeaderMap, uri: &Uri) -> Result<Session, Box<Response>> {
    app.web.session(headers).ok_or_else(|| {
        Box::new(webui::login::to_login(
            uri.path_and_query().map_or("/", |p| p.as_str()),
        ))
    })
}

fn html(app: &App, s: &Session, title: &str, body: &str) -> Html<String> {
    let nav = [
        Nav {
            href: "/",
            label: "Spaces",
        },
        Nav {
            href: "/trusts",
            label: "Trusts",
        },
        Nav {
            href: "/audit",
            label: "Audit log",
        },
    ];
    let who = Signed {
        user: &s.caller.name,
        csrf: &s.csrf,
    };
    Html(page(title, &app.web.product, &nav, Some(who), body))
}

fn error_page(app: &App, s: &Session, e: &OdcmError) -> Response {
    let body = webui::html::error(&webui::public_message(e.code(), &e.to_string()));
    (
        webui::status_of(e.code()),
        html(app, s, "Cannot do that", &body),
    )
        .into_response()
}

#[derive(Deserialize)]
struct Next {
    #[serde(default)]
    next: String,
}

async fn login_page(State(app): AppState, q: Query<Next>) -> Html<String> {
    Html(app.web.login_page(&q.next, None))
}

#[derive(Deserialize)]
struct LoginForm {
    key: String,
    #[serde(default)]
    next: String,
}

async fn login(State(app): AppState, headers: HeaderMap, Form(f): Form<LoginForm>) -> Response {
    let refused = |why: &str| {
        (
            StatusCode::UNAUTHORIZED,
            Html(app.web.login_page(&f.next, Some(why))),
        )
            .into_response()
    };
    if let Err(why) = webui::login::same_origin(&headers) {
        return refused(&why);
    }
    match app.web.login(&f.key) {
        Ok(s) => webui::login::signed_in(&s, &f.next),
        Err(why) => {
            tracing::warn!("ODCM web sign-in refused");
            refused(&why)
        }
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(State(app): AppState, headers: HeaderMap, Form(f): Form<CsrfForm>) -> Response {
    if let Some(s) = app.web.session(&headers)
        && app.web.check_form(&s, &f.csrf, &headers).is_err()
    {
        return StatusCode::FORBIDDEN.into_response();
    }
    app.web.logout(&headers);
    webui::login::signed_out()
}

async fn spaces(State(app): AppState, headers: HeaderMap, uri: Uri) -> Response {
    let s = match signed(&app, &headers, &uri) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let body = || -> OdcmResult<String> {
        let all = Page {
            size: 1000,
            after: None,
        };
        let mut h = String::from(
            "<h2>Spaces of this network</h2><div class=\"table-wrap\"><table id=\"spaces\"><thead><tr><th scope=\"col\">Space</th><th scope=\"col\">Enrolment</th><th scope=\"col\">Endpoint</th><th scope=\"col\">Certificate</th></tr></thead><tbody>",
        );
        for sp in admin(&app).list_spaces(all.clone())?.items {
            let state = match sp.enrolled_at {
                Some(t) => format!("enrolled {}", crate::services::rfc3339(t)),
                None => "waiting for enrolment (token issued)".into(),
            };
            h.push_str(&format!(
                "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                esc(&sp.name),
                esc(&state),
                esc(&sp.endpoint),
                esc(&sp.fingerprint)
            ));
        }
        h.push_str("</tbody></table></div><h2>Remote Spaces</h2><div class=\"table-wrap\"><table id=\"remote-spaces\"><thead><tr><th scope=\"col\">Space</th><th scope=\"col\">Its ODCM</th><th scope=\"col\">Endpoint</th><th scope=\"col\">Fingerprint</th></tr></thead><tbody>");
        for r in admin(&app).list_remote_spaces(all)?.items {
            h.push_str(&format!(
                "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                esc(&r.name),
                esc(&r.odcm),
                esc(if r.endpoint.is_empty() {
                    "none (by file)"
                } else {
                    &r.endpoint
                }),
                esc(&r.fingerprint)
            ));
        }
        h.push_str("</tbody></table></div>");
        Ok(h)
    };
    match body() {
        Ok(b) => html(&app, &s, "Spaces", &b).into_response(),
        Err(e) => error_page(&app, &s, &e),
    }
}

#[derive(Deserialize)]
struct AuditQuery {
    #[serde(default)]
    verify: bool,
}

async fn audit(
    State(app): AppState,
    headers: HeaderMap,
    uri: Uri,
    Query(q): Query<AuditQuery>,
) -> Response {
    let s = match signed(&app, &headers, &uri) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    let body = || -> OdcmResult<String> {
        let mut h = String::from(
            "<form method=\"get\" action=\"/audit\" class=\"inline\"><input type=\"hidden\" name=\"verify\" value=\"true\"><button type=\"submit\">Verify the log</button></form>",
        );
        if q.verify {
            let check = admin(&app).verify_audit(&[])?;
            let v = check.verification;
            let against = match &check.against {
                Some(c) => format!(
                    " Length matches the newest checkpoint ({} entries, {}).",
                    c.checkpoint.entries,
                    esc(&c.source)
                ),
                None => " No Space has presented a checkpoint since this ODCM started.".into(),
            };
            h.push_str(&match v.broken {
                None => format!(
                    "<p role=\"status\" id=\"verified\"><span aria-hidden=\"true\">✔</span> {} entries: hash chain and signatures intact.{against}</p>",
                    v.entries
                ),
                Some((i, why)) => format!(
                    "<p role=\"alert\" class=\"error\" id=\"verified\"><span aria-hidden=\"true\">✖</span> entry {i} is broken: {}</p>",
                    esc(&why)
                ),
            });
        }
        h.push_str("<div class=\"table-wrap\"><table id=\"audit\"><thead><tr><th scope=\"col\">#</th><th scope=\"col\">When</th><th scope=\"col\">What</th><th scope=\"col\">Who</th><th scope=\"col\">Subject</th><th scope=\"col\">Detail</th></tr></thead><tbody>");
        let entries = admin(&app)
            .list_audit(Page {
                size: 1000,
                after: None,
            })?
            .items;
        for e in entries.iter().rev().take(200) {
            h.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                e.index,
                crate::services::rfc3339(e.at),
                esc(&e.kind),
                esc(&e.actor),
                esc(&e.subject),
                esc(&e.detail)
            ));
        }
        h.push_str("</tbody></table></div>");
        Ok(h)
    };
    match body() {
        Ok(b) => html(&app, &s, "Audit log", &b).into_response(),
        Err(e) => error_page(&app, &s, &e),
    }
}
