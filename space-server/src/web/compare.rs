//! Two releases of a project side by side: steps, variables (sensitive values compared but
//! never shown) and packages, each row marked added, removed or changed in words and by
//! highlight; unchanged rows hidden unless asked for.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use domain::compare::{Change, ChangeKind};
use serde::Deserialize;
use webui::html::{esc, seg};

use super::{App, AppState, Signed, error_page, html};
use crate::error::ApiResult;
use crate::permits::Viewer;
use crate::services::Page;
use crate::services::releases::ReleaseService;

pub(super) fn routes() -> Router<Arc<App>> {
    Router::new().route("/projects/{project}/compare", get(compare))
}

#[derive(Deserialize)]
struct Versions {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    all: bool,
}

async fn compare(
    State(app): AppState,
    Signed(s): Signed,
    Path(project): Path<String>,
    Query(q): Query<Versions>,
) -> Response {
    let body = || -> ApiResult<String> {
        Viewer::of_caller(&app.state, s.caller.clone())?.check_project(&project)?;
        let service = ReleaseService {
            state: app.state.clone(),
            engine: None,
        };
        let releases = service
            .list(
                &project,
                Page {
                    size: 200,
                    after: None,
                },
            )?
            .items;
        let versions: Vec<&str> = releases.iter().map(|r| r.version.as_str()).collect();
        let mut h = chooser(&project, &versions, &q);
        if q.from.is_empty() || q.to.is_empty() {
            return Ok(h);
        }
        let c = service.compare(&project, &q.from, &q.to)?;
        for (title, changes) in [
            ("Steps", &c.steps),
            ("Variables", &c.variables),
            ("Packages", &c.packages),
        ] {
            h.push_str(&section(title, changes, &q));
        }
        Ok(h)
    };
    match body() {
        Ok(b) => html(&app, &s, &format!("Compare releases of {project}"), &b).into_response(),
        Err(e) => error_page(&app, &s, &e),
    }
}

/// The form choosing the two versions.
fn chooser(project: &str, versions: &[&str], q: &Versions) -> String {
    let options = |chosen: &str| {
        versions
            .iter()
            .map(|v| {
                let sel = if *v == chosen { " selected" } else { "" };
                format!("<option{sel}>{}</option>", esc(v))
            })
            .collect::<String>()
    };
    format!(
        "<form method=\"get\" action=\"/projects/{}/compare\" class=\"inline\" id=\"compare\">\
<label for=\"from\">From</label><select id=\"from\" name=\"from\">{}</select>\
<label for=\"to\">to</label><select id=\"to\" name=\"to\">{}</select>\
<label><input type=\"checkbox\" name=\"all\" value=\"true\"{}> show unchanged</label>\
<button type=\"submit\">Compare</button></form>",
        seg(project),
        options(&q.from),
        options(&q.to),
        if q.all { " checked" } else { "" }
    )
}

fn section(title: &str, changes: &[Change], q: &Versions) -> String {
    let shown: Vec<&Change> = changes
        .iter()
        .filter(|c| q.all || c.kind != ChangeKind::Unchanged)
        .collect();
    let mut h = format!("<h2>{title}</h2>");
    if shown.is_empty() {
        h.push_str("<p class=\"muted\">No differences.</p>");
        return h;
    }
    h.push_str(&format!(
        "<div class=\"table-wrap\"><table class=\"compare\"><thead><tr><th scope=\"col\">Change</th><th scope=\"col\">Name</th><th scope=\"col\">{}</th><th scope=\"col\">{}</th></tr></thead><tbody>",
        esc(&q.from),
        esc(&q.to)
    ));
    for c in shown {
        let kind = c.kind.as_str();
        h.push_str(&format!(
            "<tr class=\"change {kind}\" data-kind=\"{kind}\"><td><strong>{kind}</strong></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&c.subject),
            esc(&c.from),
            esc(&c.to)
        ));
    }
    h.push_str("</tbody></table></div>");
    h
}
