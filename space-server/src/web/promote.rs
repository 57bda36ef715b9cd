//! A release's promotions on its page: where it was promoted (each bundle sent, and what the
//! receiving Spaces reported back in receipts), and a form offering it to a Space its
//! lifecycle reaches, for who may promote there (`permits::require_promote`, as the API).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use domain::model::{Promotion, Release, RemoteResult};
use serde::Deserialize;
use storage::StoreExt;
use webui::html::{esc, seg, state};
use webui::serve::Peer;

use super::{App, AppState, Signed, audit, check_form, code_name, error_page};
use crate::error::ApiResult;

pub(super) fn routes() -> Router<Arc<App>> {
    Router::new().route(
        "/projects/{project}/releases/{version}/promote",
        post(promote),
    )
}

/// The Spaces `r`'s lifecycle reaches (named whole, or by a remote environment).
fn spaces_reached(app: &App, r: &Release) -> ApiResult<Vec<String>> {
    let lifecycle = app.engine.lifecycle_of(r)?;
    let mut out: Vec<String> = Vec::new();
    for e in lifecycle.phases.iter().flat_map(|p| &p.environments) {
        if let Some(space) = crate::automation::queue::space_reached(&app.state, e)
            && !out.iter().any(|x| x.eq_ignore_ascii_case(&space))
        {
            out.push(space);
        }
    }
    Ok(out)
}

/// "Promoted to" and the promote form, for the release page.
pub(super) fn section(app: &App, s: &webui::Session, r: &Release) -> ApiResult<String> {
    let mut h = String::from("<h2>Promoted to</h2>");
    let sent: Vec<Promotion> = app
        .state
        .store
        .all_records::<Promotion>("")?
        .into_iter()
        .filter(|p| p.project.eq_ignore_ascii_case(&r.project) && p.version == r.version)
        .collect();
    let results: Vec<RemoteResult> = app
        .state
        .store
        .all_records::<RemoteResult>("")?
        .into_iter()
        .filter(|x| x.project.eq_ignore_ascii_case(&r.project) && x.version == r.version)
        .collect();
    if sent.is_empty() && results.is_empty() {
        h.push_str("<p class=\"muted\">Not promoted to another Space yet.</p>");
    } else {
        h.push_str("<ul id=\"promoted\">");
        for p in &sent {
            h.push_str(&format!(
                "<li>bundle to <strong>{}</strong> {} by {}</li>",
                esc(&p.target_space),
                proto::json::time(p.created_at),
                esc(&p.created_by)
            ));
        }
        for x in &results {
            h.push_str(&format!(
                "<li>{} reported {} in {}</li>",
                esc(&x.from_space),
                state(x.state.as_str()),
                esc(&x.environment)
            ));
        }
        h.push_str("</ul>");
    }
    let allowed: Vec<String> = spaces_reached(app, r)?
        .into_iter()
        .filter(|space| {
            crate::permits::require_promote(&app.state, &s.caller, &r.project, space).is_ok()
        })
        .collect();
    if !allowed.is_empty() {
        let options: String = allowed
            .iter()
            .map(|x| format!("<option>{}</option>", esc(x)))
            .collect();
        h.push_str(&format!(
            "<form method=\"post\" action=\"/projects/{}/releases/{}/promote\" class=\"inline\" id=\"promote\">\
<input type=\"hidden\" name=\"csrf\" value=\"{}\">\
<label for=\"space\">Promote to</label><select id=\"space\" name=\"space\">{options}</select>\
<button type=\"submit\">Promote</button></form>",
            seg(&r.project),
            seg(&r.version),
            esc(&s.csrf)
        ));
    }
    Ok(h)
}

#[derive(Deserialize)]
struct PromoteForm {
    #[serde(default)]
    csrf: String,
    space: String,
}

async fn promote(
    State(app): AppState,
    Signed(s): Signed,
    headers: HeaderMap,
    peer: Option<axum::Extension<Peer>>,
    Path((project, version)): Path<(String, String)>,
    Form(f): Form<PromoteForm>,
) -> Response {
    let peer = peer.map(|p| p.0);
    let what = "POST promote";
    if let Err(r) = check_form(&app, &s, &f.csrf, &headers, what, peer) {
        return *r;
    }
    let done = async {
        crate::permits::require_promote(&app.state, &s.caller, &project, &f.space)?;
        crate::promotion::service::PromotionService {
            engine: app.engine.clone(),
        }
        .promote(
            project.clone(),
            version.clone(),
            f.space.clone(),
            true,
            s.caller.name.clone(),
        )
        .await
    }
    .await;
    match done {
        Ok(_) => {
            audit(&app, &s, what, peer, "OK");
            Redirect::to(&format!(
                "/projects/{}/releases/{}",
                seg(&project),
                seg(&version)
            ))
            .into_response()
        }
        Err(e) => {
            audit(&app, &s, what, peer, code_name(&e));
            error_page(&app, &s, &e)
        }
    }
}
