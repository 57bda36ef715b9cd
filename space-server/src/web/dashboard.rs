//! The dashboard page: projects x environments (remote ones beside local ones, a row per
//! tenant), each cell with its release, state as an icon and a word, and when it finished;
//! remote cells say how old their news is and look stale when their Space went silent. The
//! page follows changes live: `/api/events` says "changed" (server-sent events) and the page
//! fetches `/fragments/dashboard` again. `/api/dashboard` is the CLI's `dashboard -o json`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use futures::Stream;
use proto::json::{connected, find_cell, secs, tenants_of, time};
use proto::space::v1 as pb;
use webui::html::{esc, seg, state};

use super::{App, AppState, Signed, error_json, error_page, html};
use crate::permits::Viewer;

pub(super) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/", get(page))
        .route("/fragments/dashboard", get(fragment))
        .route("/api/dashboard", get(json))
        .route("/api/events", get(events))
}

fn load(app: &App, s: &webui::Session) -> Result<pb::DashboardResponse, crate::error::ApiError> {
    let viewer = Viewer::of_caller(&app.state, s.caller.clone())?;
    Ok(crate::deployments::dashboard_wire(
        app.engine.dashboard(&viewer)?,
    ))
}

async fn page(State(app): AppState, Signed(s): Signed) -> Response {
    match load(&app, &s) {
        Ok(d) => {
            let body = format!(
                "<p class=\"hint\">Newest deployment of each project in each environment; remote environments show what their Space reported. This page follows changes as they happen.</p>\
<div data-live=\"dashboard\" aria-live=\"polite\">{}</div>",
                table(&d)
            );
            html(&app, &s, "Dashboard", &body).into_response()
        }
        Err(e) => error_page(&app, &s, &e),
    }
}

async fn fragment(State(app): AppState, Signed(s): Signed) -> Response {
    match load(&app, &s) {
        Ok(d) => Html(table(&d)).into_response(),
        Err(e) => error_json(&e),
    }
}

async fn json(State(app): AppState, Signed(s): Signed) -> Response {
    match load(&app, &s) {
        Ok(d) => axum::Json(proto::json::dashboard(&d)).into_response(),
        Err(e) => error_json(&e),
    }
}

/// "changed" whenever a deployment is stored or receipts arrive, and every 30 s (remote cells
/// turn stale with time alone).
async fn events(State(app): AppState, _signed: Signed) -> Response {
    let rx = app.state.changes.subscribe();
    Sse::new(changes(rx))
        .keep_alive(KeepAlive::default())
        .into_response()
}

fn changes(
    rx: tokio::sync::broadcast::Receiver<()>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    futures::stream::unfold(rx, |mut rx| async move {
        let tick = tokio::time::sleep(Duration::from_secs(30));
        tokio::select! {
            r = rx.recv() => match r {
                Ok(()) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            },
            _ = tick => {}
        }
        // Changes close together arrive as one.
        while rx.try_recv().is_ok() {}
        Some((Ok(Event::default().event("changed").data("dashboard")), rx))
    })
}

/// How long ago, in words ("just now", "12 min ago", "3 h ago", "2 days ago").
fn age(secs: i64) -> String {
    match secs.max(0) {
        0..60 => "just now".into(),
        s @ 60..3600 => format!("{} min ago", s / 60),
        s @ 3600..86_400 => format!("{} h ago", s / 3600),
        s => format!("{} days ago", s / 86_400),
    }
}

/// The grid as HTML.
fn table(d: &pb::DashboardResponse) -> String {
    if d.projects.is_empty() {
        return "<p>No projects you may see yet.</p>".into();
    }
    let mut h = String::from(
        "<div class=\"table-wrap\"><table class=\"dashboard\"><caption class=\"muted\">Projects by environment</caption><thead><tr><th scope=\"col\">Project</th>",
    );
    for e in &d.environments {
        let remote = if e.contains(": ") {
            " <span class=\"muted\">(remote)</span>"
        } else {
            ""
        };
        h.push_str(&format!("<th scope=\"col\">{}{remote}</th>", esc(e)));
    }
    h.push_str("</tr></thead><tbody>");
    for p in &d.projects {
        h.push_str(&format!(
            "<tr><th scope=\"row\"><a href=\"/projects/{}\">{}</a></th>",
            seg(p),
            esc(p)
        ));
        for e in &d.environments {
            h.push_str(&cell(p, find_cell(d, p, e, "")));
        }
        h.push_str("</tr>");
        for t in tenants_of(d, p) {
            h.push_str(&format!(
                "<tr><th scope=\"row\" class=\"row-tenant\">{} <span class=\"muted\">tenant</span> {}</th>",
                esc(p),
                esc(&t.tenant)
            ));
            for e in &d.environments {
                if connected(t, e) {
                    h.push_str(&cell(p, find_cell(d, p, e, &t.tenant)));
                } else {
                    h.push_str("<td><span class=\"muted\">not connected</span></td>");
                }
            }
            h.push_str("</tr>");
        }
    }
    h.push_str("</tbody></table></div>");
    if !d.promotions.is_empty() {
        h.push_str("<h2>Promotions not deployed at their Space yet</h2><ul>");
        for p in &d.promotions {
            h.push_str(&format!(
                "<li>{} {} → {}: {}{}</li>",
                esc(&p.project),
                esc(&p.version),
                esc(&p.target_space),
                esc(&p.state),
                if p.detail.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", esc(&p.detail))
                }
            ));
        }
        h.push_str("</ul>");
    }
    h
}

/// One cell: release, state, when; for a remote result, when its receipt came and whether
/// its Space went silent since.
fn cell(project: &str, c: Option<&pb::DashboardCell>) -> String {
    let Some(c) = c else {
        return "<td><span class=\"muted\">none</span></td>".into();
    };
    let release = format!(
        "<a href=\"/projects/{}/releases/{}\">{}</a>",
        seg(project),
        seg(&c.version),
        esc(&c.version)
    );
    let when = secs(&c.finished_at)
        .map(|t| format!("<time datetime=\"{0}\">{0}</time>", time(t)))
        .unwrap_or_else(|| "not finished".into());
    let mut how = String::new();
    if c.operator_reported {
        how.push_str("<div class=\"muted\">reported by an operator (offline drop)</div>");
    }
    if let Some(at) = secs(&c.receipt_received_at) {
        how.push_str(&format!(
            "<div class=\"muted\">receipt received {} ({})</div>",
            time(at),
            age(domain::model::now() - at)
        ));
    }
    if c.stale {
        let space = c.environment.split(": ").next().unwrap_or(&c.environment);
        let since = secs(&c.last_heard_at)
            .map(|t| format!("silent since {}", time(t)))
            .unwrap_or_else(|| "never heard from".into());
        how.push_str(&format!(
            "<div><strong>Stale:</strong> {} {since}</div>",
            esc(space)
        ));
    }
    let local = !c.deployment_id.is_empty() && c.receipt_received_at.is_none();
    let link = if local {
        format!(
            " <a href=\"/deployments/{}\" class=\"muted\">{}</a>",
            seg(&c.deployment_id),
            esc(&c.deployment_id)
        )
    } else {
        String::new()
    };
    let class = if c.stale { "cell stale" } else { "cell" };
    format!(
        "<td class=\"{class}\" data-state=\"{}\">{release} {}{link}<div class=\"when\">{when}</div>{how}</td>",
        esc(&c.state),
        state(&c.state)
    )
}
