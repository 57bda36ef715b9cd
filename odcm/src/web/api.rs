//! The JSON behind the ODCM's pages: what `deploy odcm ... list -o json` prints, built by
//! `proto::json::odcm` from the Admin API's messages.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use domain::error::ServiceError;

use super::{App, AppState, admin};
use crate::error::OdcmResult;
use crate::services::Page;

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
            let text = webui::public_message(e.code(), &e.to_string());
            (
                webui::status_of(e.code()),
                axum::Json(serde_json::json!({ "error": text })),
            )
                .into_response()
        }
    }
}

pub(super) async fn spaces(State(app): AppState, headers: HeaderMap) -> Response {
    json_answer(&app, &headers, || {
        let l = admin(&app).list_spaces(ALL)?;
        let all: Vec<_> = l.items.iter().map(crate::api::space_pb).collect();
        Ok(proto::json::odcm::spaces(&all))
    })
}

pub(super) async fn remote_spaces(State(app): AppState, headers: HeaderMap) -> Response {
    json_answer(&app, &headers, || {
        let l = admin(&app).list_remote_spaces(ALL)?;
        let all: Vec<_> = l.items.iter().map(crate::api::remote_pb).collect();
        Ok(proto::json::odcm::remote_spaces(&all))
    })
}

pub(super) async fn trusts(State(app): AppState, headers: HeaderMap) -> Response {
    json_answer(&app, &headers, || {
        let l = admin(&app).list_trusts(ALL)?;
        let all: Vec<_> = l.items.iter().map(crate::api::trust_pb).collect();
        Ok(proto::json::odcm::trusts(&all))
    })
}

pub(super) async fn audit(State(app): AppState, headers: HeaderMap) -> Response {
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
