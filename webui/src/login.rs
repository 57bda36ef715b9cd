//! Signing in and out of a web UI with an API key (the same keys as the gRPC API; a web
//! session keeps the key's hash, never the key, and ends when the key is revoked or expires),
//! and the checks every request makes: the session cookie, and for every form the CSRF token
//! and, when the browser sends one, an `Origin` matching the host.

use axum::response::{IntoResponse, Redirect, Response};
use http::{HeaderMap, StatusCode, header};
use runtime::auth::{ApiKeyAuth, KeyCheck};

use crate::html::{esc, page};
use crate::session::{Session, Sessions, clear_cookie, cookie_id, set_cookie};

/// What a server's web UI signs people in with.
pub struct Web {
    pub sessions: Sessions,
    pub auth: ApiKeyAuth,
    /// Shown in the header and titles ("Space DevTest", "ODCM Net").
    pub product: String,
    /// Only admin keys sign in (the ODCM's).
    pub admin_only: bool,
}

/// Where to go after signing in: a path of this site, else the start page.
pub fn safe_next(next: &str) -> &str {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && next.len() < 1024
        && next.chars().all(|c| !c.is_control());
    if ok { next } else { "/" }
}

/// Equal, in time independent of where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl Web {
    /// The session of a request, if it has a live one whose key is still valid.
    pub fn session(&self, headers: &HeaderMap) -> Option<Session> {
        let id = cookie_id(headers)?;
        let s = self.sessions.get(&id)?;
        match self.auth.lookup_hash(&s.caller.key_hash) {
            KeyCheck::Known(c) if c.admin || !self.admin_only => Some(s),
            _ => {
                self.sessions.end_key(&s.caller.key_hash);
                None
            }
        }
    }

    /// Signs in with `key`: the session, or why not.
    pub fn login(&self, key: &str) -> Result<Session, String> {
        let key = key.trim();
        if key.is_empty() {
            return Err("enter an API key (deploy apikey create --user NAME makes one)".into());
        }
        match self.auth.lookup(Some(key)) {
            KeyCheck::Known(c) if c.registration => {
                Err("this is an agent registration token: it cannot sign in".into())
            }
            KeyCheck::Known(c) if self.admin_only && !c.admin => {
                Err("only admin keys sign in here".into())
            }
            KeyCheck::Known(c) => self
                .sessions
                .start(c)
                .ok_or_else(|| "cannot start a session now: try again".to_string()),
            KeyCheck::Refused(s) => Err(s.message().to_string()),
            KeyCheck::Missing | KeyCheck::Unknown => {
                Err("this API key is not valid here: check it, or ask an admin for one".into())
            }
        }
    }

    /// Ends the request's session (if any).
    pub fn logout(&self, headers: &HeaderMap) {
        if let Some(id) = cookie_id(headers) {
            self.sessions.end(&id);
        }
    }

    /// Refuses a form unless it carries the session's CSRF token and, when the browser says
    /// where it comes from, comes from this site.
    pub fn check_form(&self, s: &Session, csrf: &str, headers: &HeaderMap) -> Result<(), String> {
        same_origin(headers)?;
        if !same(csrf, &s.csrf) {
            return Err(
                "this form expired or did not come from this page: reload and try again".into(),
            );
        }
        Ok(())
    }

    /// The sign-in page.
    pub fn login_page(&self, next: &str, error: Option<&str>) -> String {
        let err = error
            .map(|e| format!("<p role=\"alert\" class=\"error\">{}</p>", esc(e)))
            .unwrap_or_default();
        let body = format!(
            "{err}<form method=\"post\" action=\"/login\" class=\"login\">\
<label for=\"key\">API key</label>\
<input id=\"key\" name=\"key\" type=\"password\" autocomplete=\"current-password\" required autofocus>\
<input type=\"hidden\" name=\"next\" value=\"{}\">\
<button type=\"submit\">Sign in</button></form>\
<p class=\"hint\">An admin makes keys with <code>deploy apikey create --user NAME</code>.</p>",
            esc(safe_next(next))
        );
        page("Sign in", &self.product, &[], None, &body)
    }
}

/// Refuses a request whose `Origin` is another site's.
pub fn same_origin(headers: &HeaderMap) -> Result<(), String> {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if origin.strip_prefix("https://") == Some(host) {
        Ok(())
    } else {
        Err("this form was sent from another site: refused".into())
    }
}

/// After signing in: the cookie, and on to `next`.
pub fn signed_in(s: &Session, next: &str) -> Response {
    (
        [(header::SET_COOKIE, set_cookie(&s.id))],
        Redirect::to(safe_next(next)),
    )
        .into_response()
}

/// After signing out: the cookie cleared, and back to the sign-in page.
pub fn signed_out() -> Response {
    (
        [(header::SET_COOKIE, clear_cookie())],
        Redirect::to("/login"),
    )
        .into_response()
}

/// A page asked for without a session: to the sign-in page, coming back here after.
pub fn to_login(path_and_query: &str) -> Response {
    let next: String = path_and_query
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    Redirect::to(&format!("/login?next={next}")).into_response()
}

/// A JSON endpoint asked for without a session.
pub fn unauthenticated() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        axum::Json(serde_json::json!({"error": "sign in first (POST /login with an API key)"})),
    )
        .into_response()
}
