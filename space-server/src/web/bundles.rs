//! Release Bundles in this Space: the pending and imported ones; one bundle's contents
//! (packages present or missing with fetch progress, process, variables with sensitive ones
//! masked, templates); and the import form, which chooses the lifecycle and fills the
//! mandatory template values per environment (and per tenant of the Remote Project) before
//! importing. The same permissions as the API: import-bundles in the Remote Project, and
//! edit-variables where each value applies.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use domain::access::{Need, Permission};
use domain::model::{Scope, VariableInput};
use proto::space::v1 as pb;
use storage::StoreExt;
use webui::html::{esc, seg};
use webui::serve::Peer;

use super::{App, AppState, Signed, audit, check_form, code_name, error_page, html};
use crate::error::{ApiError, ApiResult};
use crate::permits::{Viewer, require_of, require_scope_of};
use crate::promotion::api_wire::{bundle_detail, bundle_summary};
use crate::promotion::{bundles, import};
use crate::services::Page;

pub(super) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/bundles", get(list))
        .route("/bundles/{id}", get(show).post(import_bundle))
}

async fn list(State(app): AppState, Signed(s): Signed) -> Response {
    let service = crate::promotion::service::PromotionService {
        engine: app.engine.clone(),
    };
    let page = service
        .bundles(Page {
            size: 200,
            after: None,
        })
        .await;
    let body = || -> ApiResult<String> {
        let viewer = Viewer::of_caller(&app.state, s.caller.clone())?;
        let mut h = String::from(
            "<div class=\"table-wrap\"><table><thead><tr><th scope=\"col\">Bundle</th><th scope=\"col\">From</th><th scope=\"col\">Release</th><th scope=\"col\">State</th><th scope=\"col\">Packages</th></tr></thead><tbody>",
        );
        let mut any = false;
        for b in page?.items.iter().rev() {
            let v = bundles::load(&app.state, b, false)?;
            if !viewer.sees_project(&import::local_project(&v.contents)) {
                continue;
            }
            any = true;
            let sum = bundle_summary(&app.state, b);
            h.push_str(&format!(
                "<tr><th scope=\"row\"><a href=\"/bundles/{}\">{}</a></th><td>{}</td><td>{} {}</td><td>{}</td><td>{}</td></tr>",
                seg(&sum.id),
                esc(&sum.id),
                esc(&sum.source_space),
                esc(&sum.project),
                esc(&sum.version),
                esc(&sum.state),
                packages_text(&sum)
            ));
        }
        h.push_str("</tbody></table></div>");
        if !any {
            return Ok("<p>No bundles you may see.</p>".into());
        }
        Ok(h)
    };
    match body() {
        Ok(b) => html(&app, &s, "Release Bundles", &b).into_response(),
        Err(e) => error_page(&app, &s, &e),
    }
}

fn packages_text(s: &pb::BundleSummary) -> String {
    let mut t = if s.packages_missing == 0 {
        format!("{} present", s.packages)
    } else {
        format!("{} of {} missing", s.packages_missing, s.packages)
    };
    if let Some(f) = &s.fetch {
        t.push_str(&format!(
            " (fetching: {} of {} chunks)",
            f.chunks_done, f.chunks_total
        ));
    }
    esc(&t)
}

async fn show(State(app): AppState, Signed(s): Signed, Path(id): Path<String>) -> Response {
    let body = || -> ApiResult<String> {
        let rec = bundles::find(&app.state, &id)?;
        let v = bundles::load(&app.state, &rec, false)?;
        let project = import::local_project(&v.contents);
        Viewer::of_caller(&app.state, s.caller.clone())?.check_project(&project)?;
        let d = bundle_detail(&app.state, &rec, v);
        let mut h = detail(&d, &project);
        if d.summary.as_ref().is_some_and(|x| x.state == "pending") {
            let may = crate::services::access::AccessService {
                state: app.state.clone(),
            }
            .may(
                &s.caller,
                &Need::in_project(Permission::ImportBundles, &project),
            )?;
            if may {
                h.push_str(&import_form(&app, &s, &id, &d, &project)?);
            } else {
                h.push_str("<p class=\"hint\" id=\"no-import\">You may not import bundles into this project.</p>");
            }
        }
        Ok(h)
    };
    match body() {
        Ok(b) => html(&app, &s, &format!("Bundle {id}"), &b).into_response(),
        Err(e) => error_page(&app, &s, &e),
    }
}

/// What the bundle holds.
fn detail(d: &pb::BundleDetail, project: &str) -> String {
    let sum = d.summary.clone().unwrap_or_default();
    let mut h = format!(
        "<p>Release {} of {} from Space {}, for the Remote Project <strong>{}</strong> (what built it is read-only here). Signed by {}. State: {}.</p>",
        esc(&sum.version),
        esc(&sum.project),
        esc(&sum.source_space),
        esc(project),
        esc(&d.signer),
        esc(&sum.state)
    );
    h.push_str("<h2>Packages</h2><ul>");
    for p in &d.packages {
        let state = if p.chunks_missing == 0 {
            "present".to_string()
        } else {
            format!("{} of {} chunks missing", p.chunks_missing, p.chunks)
        };
        h.push_str(&format!(
            "<li>{} {} ({} bytes): {}</li>",
            esc(&p.id),
            esc(&p.version),
            p.size,
            esc(&state)
        ));
    }
    h.push_str("</ul><h2>Process</h2><ol>");
    for st in &d.process {
        h.push_str(&format!("<li>{}</li>", esc(&st.name)));
    }
    h.push_str("</ol><h2>Variables</h2><ul>");
    for v in &d.variables {
        let value = if v.sensitive {
            "********".to_string()
        } else {
            esc(&v.value)
        };
        h.push_str(&format!("<li><code>{}</code> = {value}</li>", esc(&v.name)));
    }
    h.push_str("</ul><h2>Variable templates</h2><ul>");
    for t in &d.templates {
        h.push_str(&format!(
            "<li><code>{}</code> {}{}</li>",
            esc(&t.name),
            esc(&t.label),
            if t.mandatory { " (mandatory)" } else { "" }
        ));
    }
    h.push_str("</ul>");
    h
}

/// The templates a value must be given for (mandatory, no default).
fn needed(d: &pb::BundleDetail) -> Vec<&pb::VariableTemplate> {
    d.templates
        .iter()
        .filter(|t| t.mandatory && t.default_value.trim().is_empty())
        .collect()
}

/// Where values can be given now: each local environment, untenanted and for each tenant
/// already connected to the Remote Project there.
fn places(app: &App, project: &str) -> ApiResult<Vec<(String, Option<String>)>> {
    let tenants = app.state.store.all_records::<domain::model::Tenant>("")?;
    let mut out = Vec::new();
    for e in app
        .state
        .store
        .all_records::<domain::model::Environment>("")?
    {
        if e.remote_space.is_some() {
            continue;
        }
        out.push((e.name.clone(), None));
        for t in tenants.iter().filter(|t| t.serves(project, &e.name)) {
            out.push((e.name.clone(), Some(t.name.clone())));
        }
    }
    Ok(out)
}

fn field(template: &str, env: &str, tenant: Option<&str>) -> String {
    serde_json::json!([template, env, tenant.unwrap_or("")]).to_string()
}

fn import_form(
    app: &App,
    s: &webui::Session,
    id: &str,
    d: &pb::BundleDetail,
    project: &str,
) -> ApiResult<String> {
    let mut lifecycles = String::new();
    for l in app
        .state
        .store
        .all_records::<domain::model::Lifecycle>("")?
    {
        lifecycles.push_str(&format!("<option>{}</option>", esc(&l.name)));
    }
    let mut values = String::new();
    let templates = needed(d);
    if !templates.is_empty() {
        values.push_str("<fieldset><legend>Mandatory values (leave empty to set later)</legend>");
        for (n, (env, tenant)) in places(app, project)?.iter().enumerate() {
            for (m, t) in templates.iter().enumerate() {
                let label = match tenant {
                    Some(x) => format!("{} in {env} for tenant {x}", t.name),
                    None => format!("{} in {env}", t.name),
                };
                let kind = if t.kind == "sensitive" {
                    "password"
                } else {
                    "text"
                };
                values.push_str(&format!(
                    "<div><label for=\"v{n}-{m}\">{}</label> <input id=\"v{n}-{m}\" type=\"{kind}\" name=\"{}\" autocomplete=\"off\"></div>",
                    esc(&label),
                    esc(&field(&t.name, env, tenant.as_deref()))
                ));
            }
        }
        values.push_str("</fieldset>");
    }
    Ok(format!(
        "<h2>Import</h2><form method=\"post\" action=\"/bundles/{}\" id=\"import\" class=\"login\">\
<input type=\"hidden\" name=\"csrf\" value=\"{}\">\
<label for=\"lifecycle\">Lifecycle</label><select id=\"lifecycle\" name=\"lifecycle\">{lifecycles}</select>\
{values}<button type=\"submit\">Import the release</button></form>",
        seg(id),
        esc(&s.csrf)
    ))
}

async fn import_bundle(
    State(app): AppState,
    Signed(s): Signed,
    headers: HeaderMap,
    peer: Option<axum::Extension<Peer>>,
    Path(id): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    let peer = peer.map(|p| p.0);
    let what = "POST import bundle";
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if let Err(r) = check_form(&app, &s, get("csrf").unwrap_or(""), &headers, what, peer) {
        return *r;
    }
    match import_with_values(&app, &s, &id, get("lifecycle").unwrap_or(""), &form).await {
        Ok(project) => {
            audit(&app, &s, what, peer, "OK");
            Redirect::to(&format!("/projects/{}", seg(&project))).into_response()
        }
        Err(e) => {
            audit(&app, &s, what, peer, code_name(&e));
            error_page(&app, &s, &e)
        }
    }
}

/// Checks every permission first, imports, then sets the values given.
async fn import_with_values(
    app: &App,
    s: &webui::Session,
    id: &str,
    lifecycle: &str,
    form: &[(String, String)],
) -> ApiResult<String> {
    let rec = bundles::find(&app.state, id)?;
    let v = bundles::load(&app.state, &rec, false)?;
    let project = import::local_project(&v.contents);
    require_of(
        &app.state,
        &s.caller,
        Need::in_project(Permission::ImportBundles, &project),
    )?;
    let sensitive: Vec<String> = v
        .contents
        .templates
        .iter()
        .filter(|t| t.kind == domain::model::TemplateKind::Sensitive)
        .map(|t| t.name.clone())
        .collect();
    let mut inputs = Vec::new();
    for (k, value) in form
        .iter()
        .filter(|(k, v)| k.starts_with('[') && !v.is_empty())
    {
        let (name, env, tenant) =
            serde_json::from_str::<(String, String, String)>(k).map_err(|_| {
                ApiError::Invalid("a value field of the form is not one this page made".into())
            })?;
        let scope = Scope {
            environments: vec![env],
            tenants: if tenant.is_empty() {
                vec![]
            } else {
                vec![tenant]
            },
            ..Default::default()
        };
        require_scope_of(
            &app.state,
            &s.caller,
            Permission::EditVariables,
            &project,
            &scope,
        )?;
        inputs.push(VariableInput {
            project: project.clone(),
            id: None,
            sensitive: sensitive.iter().any(|t| t.eq_ignore_ascii_case(&name)),
            name,
            value: value.clone(),
            scope,
            description: "set at import (web UI)".into(),
        });
    }
    let service = crate::promotion::service::PromotionService {
        engine: app.engine.clone(),
    };
    let done = service.import_bundle(id, lifecycle, &s.caller.name).await?;
    let variables = crate::services::variables::VariableService {
        state: app.state.clone(),
    };
    for input in inputs {
        variables.set(input).await?;
    }
    Ok(done.imported.release.project)
}
