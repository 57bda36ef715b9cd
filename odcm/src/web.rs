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
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use domain::error::{ErrorCode, ServiceError};
use serde::Deserialize;
use webui::html::{Nav, Signed, esc, page};
use webui::login::Web;
use webui::session::Session;

use crate::error::{OdcmError, OdcmResult};
use crate::records::{TrustKind, TrustRecord};
use crate::services::Page;
use crate::services::admin::{AdminService, TrustRequest};
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
        .route("/trusts", get(trusts).post(change_trust))
        .route("/audit", get(audit))
        .route("/api/spaces", get(api_spaces))
        .route("/api/remote-spaces", get(api_remote_spaces))
        .route("/api/trusts", get(api_trusts))
        .route("/api/audit", get(api_audit))
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
    let text = if e.code() == ErrorCode::Internal {
        tracing::error!(error = %e, "web request failed");
        "something went wrong on the server: it is logged; try again".to_string()
    } else {
        e.to_string()
    };
    let body = webui::html::error(&text);
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

/// Every name a trust can name: this network's Spaces, then the Remote Spaces.
fn names(app: &App) -> OdcmResult<Vec<String>> {
    let all = Page {
        size: 1000,
        after: None,
    };
    let mut v: Vec<String> = admin(app)
        .list_spaces(all.clone())?
        .items
        .into_iter()
        .map(|s| s.name)
        .collect();
    v.extend(
        admin(app)
            .list_remote_spaces(all)?
            .items
            .into_iter()
            .map(|r| r.name),
    );
    Ok(v)
}

async fn trusts(State(app): AppState, headers: HeaderMap, uri: Uri) -> Response {
    let s = match signed(&app, &headers, &uri) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    match trusts_body(&app, &s) {
        Ok(b) => html(&app, &s, "Trusts", &b).into_response(),
        Err(e) => error_page(&app, &s, &e),
    }
}

fn trusts_body(app: &App, s: &Session) -> OdcmResult<String> {
    let names = names(app)?;
    let trusts: Vec<TrustRecord> = admin(app)
        .list_trusts(Page {
            size: 10_000,
            after: None,
        })?
        .items;
    let mut h = String::from(
        "<div class=\"table-wrap\"><table id=\"trusts\"><caption class=\"muted\">Promotion from the row's Space to the column's: <strong>releases</strong> — the column's Space accepts release bundles from the row's; <strong>receipts</strong> — the row's Space accepts deployment receipts back from the column's.</caption><thead><tr><th scope=\"col\">From \\ To</th>",
    );
    for n in &names {
        h.push_str(&format!("<th scope=\"col\">{}</th>", esc(n)));
    }
    h.push_str("</tr></thead><tbody>");
    for from in &names {
        h.push_str(&format!("<tr><th scope=\"row\">{}</th>", esc(from)));
        for to in &names {
            let mut cell = String::new();
            for t in trusts.iter().filter(|t| {
                let (a, b) = t.source_target();
                a.eq_ignore_ascii_case(from) && b.eq_ignore_ascii_case(to)
            }) {
                let kind = t.kind.as_str();
                cell.push_str(&format!(
                    "<form method=\"post\" action=\"/trusts\" class=\"inline\" data-trust=\"{0}>{1}:{2}\"><span><span aria-hidden=\"true\">✔</span> {2}</span>\
<input type=\"hidden\" name=\"csrf\" value=\"{3}\"><input type=\"hidden\" name=\"action\" value=\"revoke\">\
<input type=\"hidden\" name=\"from\" value=\"{0}\"><input type=\"hidden\" name=\"to\" value=\"{1}\"><input type=\"hidden\" name=\"kind\" value=\"{2}\">\
<button type=\"submit\" aria-label=\"Revoke {2} from {0} to {1}\">Revoke</button></form>",
                    esc(from),
                    esc(to),
                    kind,
                    esc(&s.csrf)
                ));
            }
            h.push_str(&format!("<td>{cell}</td>"));
        }
        h.push_str("</tr>");
    }
    h.push_str("</tbody></table></div>");
    let options: String = names
        .iter()
        .map(|n| format!("<option>{}</option>", esc(n)))
        .collect();
    h.push_str(&format!(
        "<h2>Add a trust</h2><form method=\"post\" action=\"/trusts\" class=\"inline\" id=\"add-trust\">\
<input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"action\" value=\"add\">\
<label for=\"from\">From</label><select id=\"from\" name=\"from\">{options}</select>\
<label for=\"to\">to</label><select id=\"to\" name=\"to\">{options}</select>\
<label for=\"kind\">kind</label><select id=\"kind\" name=\"kind\"><option>releases</option><option>receipts</option></select>\
<button type=\"submit\">Add trust</button></form>",
        esc(&s.csrf)
    ));
    Ok(h)
}

#[derive(Deserialize)]
struct TrustForm {
    #[serde(default)]
    csrf: String,
    action: String,
    from: String,
    to: String,
    kind: String,
}

async fn change_trust(
    State(app): AppState,
    headers: HeaderMap,
    uri: Uri,
    Form(f): Form<TrustForm>,
) -> Response {
    let s = match signed(&app, &headers, &uri) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    if let Err(why) = app.web.check_form(&s, &f.csrf, &headers) {
        return (
            StatusCode::FORBIDDEN,
            html(&app, &s, "Refused", &webui::html::error(&why)),
        )
            .into_response();
    }
    let kind = match f.kind.as_str() {
        "releases" => TrustKind::Releases,
        "receipts" => TrustKind::Receipts,
        _ => {
            let e = OdcmError::Invalid("a trust's kind is releases or receipts".into());
            return error_page(&app, &s, &e);
        }
    };
    let r = TrustRequest {
        source: f.from.clone(),
        target: f.to.clone(),
        kind,
    };
    let who = format!("{} (web)", s.caller.name);
    let done = match f.action.as_str() {
        "add" => admin(&app).add_trust(&who, &r).await.map(|_| ()),
        "revoke" => admin(&app).revoke_trust(&who, &r).await,
        _ => Err(OdcmError::Invalid("add or revoke".into())),
    };
    match done {
        Ok(()) => Redirect::to("/trusts").into_response(),
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
            let v = admin(&app).verify_audit()?;
            h.push_str(&match v.broken {
                None => format!(
                    "<p role=\"status\" id=\"verified\"><span aria-hidden=\"true\">✔</span> {} entries: hash chain and signatures intact.</p>",
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

/// Every item of a list, as the Admin API converts it.
const ALL: Page = Page {
    size: 10_000,
    after: None,
};

/// The value `f` makes for a signed-in admin, as JSON (401 without a session).
fn json_answer(
    app: &App,
    headers: &HeaderMap,
    f: impl FnOnce() -> OdcmResult<serde_json::Value>,
) -> Response {
    if app.web.session(headers).is_none() {
        return webui::login::unauthenticated();
    }
    match f() {
        Ok(v) => axum::Json(v).into_response(),
        Err(e) => {
            let text = if e.code() == ErrorCode::Internal {
                tracing::error!(error = %e, "web request failed");
                "internal error (logged)".to_string()
            } else {
                e.to_string()
            };
            (
                webui::status_of(e.code()),
                axum::Json(serde_json::json!({ "error": text })),
            )
                .into_response()
        }
    }
}

async fn api_spaces(State(app): AppState, headers: HeaderMap) -> Response {
    json_answer(&app, &headers, || {
        let l = admin(&app).list_spaces(ALL)?;
        let all: Vec<_> = l.items.iter().map(crate::api::space_pb).collect();
        Ok(proto::json::odcm::spaces(&all))
    })
}

async fn api_remote_spaces(State(app): AppState, headers: HeaderMap) -> Response {
    json_answer(&app, &headers, || {
        let l = admin(&app).list_remote_spaces(ALL)?;
        let all: Vec<_> = l.items.iter().map(crate::api::remote_pb).collect();
        Ok(proto::json::odcm::remote_spaces(&all))
    })
}

async fn api_trusts(State(app): AppState, headers: HeaderMap) -> Response {
    json_answer(&app, &headers, || {
        let l = admin(&app).list_trusts(ALL)?;
        let all: Vec<_> = l.items.iter().map(crate::api::trust_pb).collect();
        Ok(proto::json::odcm::trusts(&all))
    })
}

async fn api_audit(State(app): AppState, headers: HeaderMap) -> Response {
    json_answer(&app, &headers, || {
        // Every page, as the CLI reads them.
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let l = admin(&app).list_audit(Page { size: 1000, after })?;
            all.extend(l.items.iter().map(crate::api::audit_pb));
            match l.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        Ok(proto::json::odcm::audit(&all))
    })
}
