//! A deployment's page: its steps and targets with results and reasons, the live log
//! (`/api/deployments/{id}/log`, server-sent events: "log" lines, then "state"), and a cancel
//! button for who may deploy there. The same checks as the API: view to read, deploy to
//! cancel.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use domain::access::{Need, Permission};
use domain::model::Deployment;
use futures::{Stream, StreamExt};
use serde::Deserialize;
use webui::html::{esc, seg, state};
use webui::serve::Peer;

use super::{App, AppState, Signed, audit, check_form, code_name, error_json, error_page, html};
use crate::deployments::Engine;
use crate::error::ApiResult;
use crate::permits::Viewer;

pub(super) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/deployments/{id}", get(page))
        .route("/deployments/{id}/cancel", post(cancel))
        .route("/api/deployments/{id}/log", get(log))
}

fn need(p: Permission, d: &Deployment) -> Need {
    Need::at(p, &d.project, &d.environment, d.tenant.as_deref())
}

/// The deployment `id`, if the session's user may see it.
fn visible(app: &App, s: &webui::Session, id: &str) -> ApiResult<Deployment> {
    let d = app.engine.get(id)?;
    Viewer::of_caller(&app.state, s.caller.clone())?.check(need(Permission::View, &d))?;
    Ok(d)
}

async fn page(State(app): AppState, Signed(s): Signed, Path(id): Path<String>) -> Response {
    let body = || -> ApiResult<String> {
        let d = visible(&app, &s, &id)?;
        let access = crate::services::access::AccessService {
            state: app.state.clone(),
        };
        let mut h = format!(
            "<p><a href=\"/projects/{}/releases/{}\">{} {}</a> to {}{} — <span id=\"state\">{}</span></p>",
            seg(&d.project),
            seg(&d.version),
            esc(&d.project),
            esc(&d.version),
            esc(&d.environment),
            d.tenant
                .as_deref()
                .map(|t| format!(" for tenant {}", esc(t)))
                .unwrap_or_default(),
            state(d.state.as_str())
        );
        if let Some(e) = &d.error {
            h.push_str(&format!("<p class=\"error\" role=\"alert\">{}</p>", esc(e)));
        }
        if !d.state.is_final() && access.may(&s.caller, &need(Permission::Deploy, &d))? {
            h.push_str(&format!(
                "<form method=\"post\" action=\"/deployments/{}/cancel\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><button type=\"submit\">Cancel deployment</button></form>",
                seg(&d.id),
                esc(&s.csrf)
            ));
        }
        h.push_str("<h2>Steps</h2><div class=\"table-wrap\"><table><thead><tr><th scope=\"col\">Step</th><th scope=\"col\">Target</th><th scope=\"col\">Result</th><th scope=\"col\">Why</th></tr></thead><tbody>");
        for st in &d.steps {
            for t in &st.targets {
                let why = match (&t.error, t.exit_code) {
                    (Some(e), _) => esc(e),
                    (None, Some(c)) if c != 0 => format!("exit code {c}"),
                    _ => String::new(),
                };
                h.push_str(&format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{why}</td></tr>",
                    esc(&st.name),
                    esc(&t.target),
                    state(t.state.as_str())
                ));
            }
        }
        h.push_str("</tbody></table></div><h2>Log</h2>");
        let lines = app.engine.logs_after(d.number, 0)?;
        let mut text = String::new();
        for l in &lines {
            text.push_str(&esc(&l.text));
            text.push('\n');
        }
        let live = if d.state.is_final() {
            String::new()
        } else {
            format!(
                " data-log-for=\"{}\" data-after=\"{}\"",
                esc(&d.id),
                lines.last().map_or(0, |l| l.seq)
            )
        };
        h.push_str(&format!(
            "<pre class=\"log\" aria-live=\"polite\" tabindex=\"0\"{live}>{text}</pre>"
        ));
        Ok(h)
    };
    match body() {
        Ok(b) => html(&app, &s, &format!("Deployment {id}"), &b).into_response(),
        Err(e) => error_page(&app, &s, &e),
    }
}

#[derive(Deserialize)]
struct LogQuery {
    #[serde(default)]
    after: u64,
}

async fn log(
    State(app): AppState,
    Signed(s): Signed,
    Path(id): Path<String>,
    q: axum::extract::Query<LogQuery>,
) -> Response {
    match visible(&app, &s, &id) {
        Ok(d) => {
            let after = q.after;
            Sse::new(follow(app.engine.clone(), d, after))
                .keep_alive(KeepAlive::default())
                .into_response()
        }
        Err(e) => error_json(&e),
    }
}

/// The log lines after `after`, then each new one, and the state when it changes; ends after
/// the final state. Woken by the deployment's events, and every second in any case.
fn follow(
    engine: Arc<Engine>,
    d: Deployment,
    after: u64,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let live = engine.subscribe(d.number);
    let start = (engine, d.number, after, String::new(), live, false);
    futures::stream::unfold(start, |(engine, n, mut last, mut seen, mut live, done)| async move {
        if done {
            return None;
        }
        if let Some(rx) = live.as_mut() {
            let _ = tokio::time::timeout(Duration::from_secs(1), rx.recv()).await;
        } else {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let mut events = Vec::new();
        for l in engine.logs_after(n, last).unwrap_or_default() {
            last = l.seq;
            let line = serde_json::json!({"seq": l.seq, "text": l.text, "step": l.step, "target": l.target});
            events.push(Event::default().event("log").data(line.to_string()));
        }
        let mut finished = false;
        if let Ok(d) = engine.get(&Deployment::id_for(n))
            && d.state.as_str() != seen
        {
            seen = d.state.as_str().to_string();
            finished = d.state.is_final();
            let st = serde_json::json!({"state": seen, "final": finished});
            events.push(Event::default().event("state").data(st.to_string()));
        }
        let batch = futures::stream::iter(events.into_iter().map(Ok));
        Some((batch, (engine, n, last, seen, live, finished)))
    })
    .flatten()
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn cancel(
    State(app): AppState,
    Signed(s): Signed,
    headers: HeaderMap,
    peer: Option<axum::Extension<Peer>>,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Response {
    let peer = peer.map(|p| p.0);
    let what = "POST cancel";
    if let Err(r) = check_form(&app, &s, &f.csrf, &headers, what, peer) {
        return *r;
    }
    let go = || -> ApiResult<Deployment> {
        let d = app.engine.get(&id)?;
        crate::permits::require_of(&app.state, &s.caller, need(Permission::Deploy, &d))?;
        app.engine.cancel(&d.id)
    };
    match go() {
        Ok(d) => {
            audit(&app, &s, what, peer, "OK");
            Redirect::to(&format!("/deployments/{}", seg(&d.id))).into_response()
        }
        Err(e) => {
            audit(&app, &s, what, peer, code_name(&e));
            error_page(&app, &s, &e)
        }
    }
}
