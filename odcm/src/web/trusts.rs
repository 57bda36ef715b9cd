//! The trust matrix page: who accepts releases and receipts from whom, with a revoke button
//! on each trust and a form to add one (through `AdminService`, audited).

use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use webui::html::esc;
use webui::session::Session;

use super::{App, AppState, admin, error_page, html, signed};
use crate::error::{OdcmError, OdcmResult};
use crate::records::{TrustKind, TrustRecord};
use crate::services::Page;
use crate::services::admin::TrustRequest;

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

pub(super) async fn page(State(app): AppState, headers: HeaderMap, uri: Uri) -> Response {
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
pub(super) struct TrustForm {
    #[serde(default)]
    csrf: String,
    action: String,
    from: String,
    to: String,
    kind: String,
}

pub(super) async fn change(
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
