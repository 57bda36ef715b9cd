//! The JSON behind the pages (docs/web-api.md): each answers what the CLI's `-o json` answers
//! for the same data (built by `proto::json` from the same messages), with the same
//! permission checks as the pages and the gRPC API.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::Value;

use super::{App, AppState, Signed, error_json};
use crate::error::ApiResult;
use crate::permits::Viewer;
use crate::promotion::api_wire::{bundle_detail, bundle_summary};
use crate::promotion::{bundles, import};
use crate::services::Page;
use crate::services::releases::ReleaseService;
use domain::access::{Need, Permission};

pub(super) fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/api/projects/{project}/releases", get(releases))
        .route("/api/projects/{project}/releases/{version}", get(release))
        .route("/api/projects/{project}/compare", get(compare))
        .route("/api/deployments/{id}", get(deployment))
        .route("/api/bundles", get(bundle_list))
        .route("/api/bundles/{id}", get(bundle))
}

/// Runs `f` for the signed-in caller; its value as JSON, or the error.
fn answer(app: &App, s: &webui::Session, f: impl FnOnce(&Viewer) -> ApiResult<Value>) -> Response {
    let go = || -> ApiResult<Value> { f(&Viewer::of_caller(&app.state, s.caller.clone())?) };
    match go() {
        Ok(v) => Json(v).into_response(),
        Err(e) => error_json(&e),
    }
}

fn service(app: &App) -> ReleaseService {
    ReleaseService {
        state: app.state.clone(),
        engine: None,
    }
}

/// `deploy release list --project P -o json` (newest first).
async fn releases(
    State(app): AppState,
    Signed(s): Signed,
    Path(project): Path<String>,
) -> Response {
    answer(&app, &s, |v| {
        v.check_project(&project)?;
        let l = service(&app).list(
            &project,
            Page {
                size: 200,
                after: None,
            },
        )?;
        Ok(Value::Array(
            l.items
                .into_iter()
                .map(|r| proto::json::release(&proto::wire::release_to_wire(r)))
                .collect(),
        ))
    })
}

/// `deploy release show -o json`.
async fn release(
    State(app): AppState,
    Signed(s): Signed,
    Path((project, version)): Path<(String, String)>,
) -> Response {
    answer(&app, &s, |v| {
        v.check_project(&project)?;
        let r = service(&app).get(&project, &version)?;
        Ok(proto::json::release(&proto::wire::release_to_wire(r)))
    })
}

#[derive(Deserialize)]
struct Versions {
    from: String,
    to: String,
    #[serde(default)]
    all: bool,
}

/// `deploy release compare -o json [--all]`.
async fn compare(
    State(app): AppState,
    Signed(s): Signed,
    Path(project): Path<String>,
    Query(q): Query<Versions>,
) -> Response {
    answer(&app, &s, |v| {
        v.check_project(&project)?;
        let c = service(&app).compare(&project, &q.from, &q.to)?;
        let c = proto::wire::comparison_to_wire(c);
        Ok(proto::json::comparison(&q.from, &q.to, &c, q.all))
    })
}

/// `deploy deployment show -o json`.
async fn deployment(State(app): AppState, Signed(s): Signed, Path(id): Path<String>) -> Response {
    answer(&app, &s, |v| {
        let d = app.engine.get(&id)?;
        v.check(Need::at(
            Permission::View,
            &d.project,
            &d.environment,
            d.tenant.as_deref(),
        ))?;
        Ok(proto::json::deployment(
            &proto::wire::agent::deployment_to_wire(d),
        ))
    })
}

/// `deploy bundle list -o json` (the bundles the caller may see).
async fn bundle_list(State(app): AppState, Signed(s): Signed) -> Response {
    let service = crate::promotion::service::PromotionService {
        engine: app.engine.clone(),
    };
    let page = service
        .bundles(Page {
            size: 1000,
            after: None,
        })
        .await;
    answer(&app, &s, |v| {
        let mut out = Vec::new();
        for b in page?.items {
            let c = bundles::load(&app.state, &b, false)?;
            if v.sees_project(&import::local_project(&c.contents)) {
                out.push(proto::json::bundle_summary(&bundle_summary(&app.state, &b)));
            }
        }
        Ok(Value::Array(out))
    })
}

/// `deploy bundle show ID -o json`.
async fn bundle(State(app): AppState, Signed(s): Signed, Path(id): Path<String>) -> Response {
    answer(&app, &s, |v| {
        let rec = bundles::find(&app.state, &id)?;
        let c = bundles::load(&app.state, &rec, false)?;
        v.check_project(&import::local_project(&c.contents))?;
        Ok(proto::json::bundle_detail(&bundle_detail(
            &app.state, &rec, c,
        )))
    })
}
