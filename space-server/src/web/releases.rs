//! Projects and releases: the projects the user may see; a project's releases with where
//! each was deployed; a release with its frozen process, variables (sensitive ones masked),
//! packages and deployments, and a deploy form offering only the environments (and tenants)
//! the user may deploy to. Deploying checks the same permission as the API and is audited.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use domain::access::{Need, Permission};
use domain::model::{Release, StepAction, VariableValue};
use serde::Deserialize;
use storage::StoreExt;
use webui::html::{esc, seg, state};
use webui::serve::Peer;

use super::{App, AppState, Signed, audit, check_form, error_page, html};
use crate::error::ApiResult;
use crate::permits::Viewer;
use crate::services::Page;

pub(super) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/projects", get(projects))
        .route("/projects/{project}", get(project))
        .route("/projects/{project}/releases/{version}", get(release))
        .route(
            "/projects/{project}/releases/{version}/deploy",
            post(deploy),
        )
}

fn page_of(size: usize) -> Page {
    Page { size, after: None }
}

async fn projects(State(app): AppState, Signed(s): Signed) -> Response {
    let list = || -> ApiResult<String> {
        let viewer = Viewer::of_caller(&app.state, s.caller.clone())?;
        let mut h = String::from("<ul>");
        for p in app.state.store.all_records::<domain::model::Project>("")? {
            if viewer.sees_project(&p.name) {
                let remote = if p.remote.is_some() {
                    " (remote project)"
                } else {
                    ""
                };
                h.push_str(&format!(
                    "<li><a href=\"/projects/{}\">{}</a>{remote}</li>",
                    seg(&p.name),
                    esc(&p.name)
                ));
            }
        }
        h.push_str("</ul>");
        Ok(h)
    };
    match list() {
        Ok(body) => html(&app, &s, "Projects", &body).into_response(),
        Err(e) => error_page(&app, &s, &e),
    }
}

async fn project(State(app): AppState, Signed(s): Signed, Path(name): Path<String>) -> Response {
    let body = || -> ApiResult<String> {
        let viewer = Viewer::of_caller(&app.state, s.caller.clone())?;
        viewer.check_project(&name)?;
        let p = app.state.project(&name)?;
        let releases = crate::services::releases::ReleaseService {
            state: app.state.clone(),
            engine: None,
        }
        .list(&p.name, page_of(100))?;
        let deployments = app.engine.list(&p.name, "", page_of(500))?;
        let mut h = String::new();
        if p.remote.is_some() {
            h.push_str("<p class=\"hint\">A Remote Project: its releases were made in another Space and arrive as bundles; what built them is read-only here.</p>");
        }
        h.push_str("<div class=\"table-wrap\"><table><thead><tr><th scope=\"col\">Release</th><th scope=\"col\">Channel</th><th scope=\"col\">Deployments (newest first)</th></tr></thead><tbody>");
        for r in &releases.items {
            let mut ds = String::new();
            for d in deployments
                .items
                .iter()
                .filter(|d| d.version == r.version)
                .filter(|d| viewer.sees(&d.project, &d.environment, d.tenant.as_deref()))
            {
                ds.push_str(&format!(
                    "<div><a href=\"/deployments/{}\">{}</a> {}{} {}</div>",
                    seg(&d.id),
                    esc(&d.environment),
                    d.tenant
                        .as_deref()
                        .map(|t| format!("for {} ", esc(t)))
                        .unwrap_or_default(),
                    state(d.state.as_str()),
                    esc(&d.id)
                ));
            }
            h.push_str(&format!(
                "<tr><th scope=\"row\"><a href=\"/projects/{}/releases/{}\">{}</a></th><td>{}</td><td>{}</td></tr>",
                seg(&p.name),
                seg(&r.version),
                esc(&r.version),
                esc(&r.channel),
                if ds.is_empty() { "<span class=\"muted\">not deployed</span>".into() } else { ds }
            ));
        }
        h.push_str("</tbody></table></div>");
        if releases.items.len() > 1 {
            let (to, from) = (&releases.items[0].version, &releases.items[1].version);
            h.push_str(&format!(
                "<p><a href=\"/projects/{}/compare?from={}&amp;to={}\">Compare {} with {}</a></p>",
                seg(&p.name),
                seg(from),
                seg(to),
                esc(from),
                esc(to)
            ));
        }
        Ok(h)
    };
    match body() {
        Ok(b) => html(&app, &s, &format!("Project {name}"), &b).into_response(),
        Err(e) => error_page(&app, &s, &e),
    }
}

async fn release(
    State(app): AppState,
    Signed(s): Signed,
    Path((project, version)): Path<(String, String)>,
) -> Response {
    let body = || -> ApiResult<String> {
        Viewer::of_caller(&app.state, s.caller.clone())?.check_project(&project)?;
        let r = app.state.release(&project, &version)?;
        let mut h = deploy_form(&app, &s, &r)?;
        h.push_str(&super::promote::section(&app, &s, &r)?);
        h.push_str(&frozen(&r));
        Ok(h)
    };
    match body() {
        Ok(b) => html(&app, &s, &format!("{project} {version}"), &b).into_response(),
        Err(e) => error_page(&app, &s, &e),
    }
}

/// The deploy form: the environments of the release's lifecycle (and tenants connected
/// there) the user may deploy to; none: no form, and a sentence saying why.
fn deploy_form(app: &App, s: &webui::Session, r: &Release) -> ApiResult<String> {
    let access = crate::services::access::AccessService {
        state: app.state.clone(),
    };
    let lifecycle = app.engine.lifecycle_of(r)?;
    let tenants = app.state.store.all_records::<domain::model::Tenant>("")?;
    let mut options = String::new();
    for e in lifecycle.phases.iter().flat_map(|p| &p.environments) {
        let Ok(env) = app.state.environment(e) else {
            continue; // a whole Space: reached by promotion
        };
        if env.remote_space.is_some() {
            continue;
        }
        let mut targets = vec![None];
        targets.extend(
            tenants
                .iter()
                .filter(|t| t.serves(&r.project, &env.name))
                .map(|t| Some(t.name.as_str())),
        );
        for t in targets {
            let need = Need::at(Permission::Deploy, &r.project, &env.name, t);
            if access.may(&s.caller, &need)? {
                // [environment, tenant] as JSON: names may hold any printable character.
                let value = serde_json::json!([env.name, t.unwrap_or("")]).to_string();
                let label = match t {
                    Some(t) => format!("{} for tenant {t}", env.name),
                    None => env.name.clone(),
                };
                options.push_str(&format!(
                    "<option value=\"{}\">{}</option>",
                    esc(&value),
                    esc(&label)
                ));
            }
        }
    }
    if options.is_empty() {
        return Ok(
            "<p class=\"hint\" id=\"no-deploy\">You may not deploy this release anywhere.</p>"
                .into(),
        );
    }
    Ok(format!(
        "<form method=\"post\" action=\"/projects/{}/releases/{}/deploy\" class=\"inline\" id=\"deploy\">\
<input type=\"hidden\" name=\"csrf\" value=\"{}\">\
<label for=\"target\">Deploy to</label><select id=\"target\" name=\"target\">{options}</select>\
<button type=\"submit\">Deploy</button></form>",
        seg(&r.project),
        seg(&r.version),
        esc(&s.csrf)
    ))
}

/// What the release froze: process, variables (sensitive masked), packages.
fn frozen(r: &Release) -> String {
    let mut h = format!(
        "<p>Channel {}, created {} by {}.</p>",
        esc(&r.channel),
        proto::json::time(r.created_at),
        esc(&r.created_by)
    );
    if !r.notes.is_empty() {
        h.push_str(&format!("<p>{}</p>", esc(&r.notes)));
    }
    h.push_str("<h2>Process</h2><ol>");
    for st in &r.process.steps {
        let what = match &st.action {
            StepAction::DeployPackage { package_id, .. } => {
                format!("deploy package {}", esc(package_id))
            }
            StepAction::RunScript { .. } => "run a script".into(),
        };
        let roles = if st.roles.is_empty() {
            String::new()
        } else {
            format!(" on roles {}", esc(&st.roles.join(", ")))
        };
        h.push_str(&format!(
            "<li><strong>{}</strong>: {what}{roles}</li>",
            esc(&st.name)
        ));
    }
    h.push_str("</ol><h2>Variables</h2><div class=\"table-wrap\"><table><thead><tr><th scope=\"col\">Name</th><th scope=\"col\">Value</th><th scope=\"col\">Scope</th></tr></thead><tbody>");
    for v in &r.variables {
        let value = match &v.value {
            VariableValue::Plain(p) => esc(p),
            VariableValue::Sensitive(_) => "<span title=\"sensitive\">********</span>".into(),
        };
        h.push_str(&format!(
            "<tr><td>{}</td><td>{value}</td><td>{}</td></tr>",
            esc(&v.name),
            esc(&v.scope.to_string())
        ));
    }
    h.push_str("</tbody></table></div><h2>Packages</h2><ul>");
    for p in &r.packages {
        h.push_str(&format!(
            "<li>{} {} for step {} <span class=\"muted\">sha256 {}</span></li>",
            esc(&p.id),
            esc(&p.version),
            esc(&p.step),
            esc(&p.sha256)
        ));
    }
    h.push_str("</ul>");
    h
}

#[derive(Deserialize)]
struct DeployForm {
    #[serde(default)]
    csrf: String,
    target: String,
}

async fn deploy(
    State(app): AppState,
    Signed(s): Signed,
    headers: HeaderMap,
    peer: Option<axum::Extension<Peer>>,
    Path((project, version)): Path<(String, String)>,
    Form(f): Form<DeployForm>,
) -> Response {
    let peer = peer.map(|p| p.0);
    let what = "POST deploy";
    if let Err(r) = check_form(&app, &s, &f.csrf, &headers, what, peer) {
        return *r;
    }
    let Ok((env, tenant)) = serde_json::from_str::<(String, String)>(&f.target) else {
        let e = crate::error::ApiError::Invalid("choose where to deploy from the list".into());
        audit(&app, &s, what, peer, super::code_name(&e));
        return error_page(&app, &s, &e);
    };
    let (env, tenant) = (
        env.as_str(),
        (!tenant.is_empty()).then_some(tenant.as_str()),
    );
    let go = || -> ApiResult<domain::model::Deployment> {
        let need = Need::at(Permission::Deploy, &project, env, tenant);
        crate::permits::require_of(&app.state, &s.caller, need)?;
        app.engine
            .create(&project, &version, env, &s.caller.name, 0, tenant)
    };
    match go() {
        Ok(d) => {
            audit(&app, &s, what, peer, "OK");
            Redirect::to(&format!("/deployments/{}", seg(&d.id))).into_response()
        }
        Err(e) => {
            audit(&app, &s, what, peer, super::code_name(&e));
            error_page(&app, &s, &e)
        }
    }
}
