//! Signing in and out of a web UI with an API key (the same keys as the gRPC API; a web
//! session keeps the key's hash, never the key, and ends when the key is revoked or expires)
//! or, where the server offers it, a user name and password (five wrong ones in a row lock the
//! name out for a minute), and the checks every request makes: the session cookie, and for every form the CSRF token
//! and, when the browser sends one, an `Origin` matching the host.

use axum::response::{IntoResponse, Redirect, Response};
use http::{HeaderMap, StatusCode, header};
use runtime::auth::{ApiKeyAuth, KeyCheck};

use crate::html::{esc, page};
use crate::session::{Session, Sessions, clear_cookie, cookie_id, set_cookie};
use runtime::auth::Caller;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Users with passwords, where a server has them.
pub trait Passwords: Send + Sync {
    /// The caller `user` proves with `password`, or why not.
    fn sign_in(&self, user: &str, password: &str) -> Result<Caller, String>;
    /// Whether a password session's caller still stands.
    fn still_valid(&self, caller: &Caller) -> bool;
}

/// Wrong passwords in a row before a name is locked out, and for how long.
const LOCK_AFTER: u32 = 5;
const LOCK_FOR: Duration = Duration::from_secs(60);
/// Names whose failures are remembered at most.
const MAX_FAILING: usize = 10_000;
/// Password checks at once at most (each hash takes ~32 MiB and ~0.1 s): sign-ins beyond it
/// are told to try again, so nobody can make the server hash without bound.
pub const MAX_CHECKING: usize = 4;

/// What a server's web UI signs people in with.
pub struct Web {
    pub sessions: Sessions,
    pub auth: ApiKeyAuth,
    /// Shown in the header and titles ("Space DevTest", "ODCM Net").
    pub product: String,
    /// Only admin keys sign in (the ODCM's).
    pub admin_only: bool,
    pub passwords: Option<Box<dyn Passwords>>,
    /// User name -> wrong passwords in a row, and when the last was.
    failures: Mutex<HashMap<String, (u32, Instant)>>,
    /// Password checks running now.
    checking: std::sync::atomic::AtomicUsize,
}

/// Counts a running password check while alive.
struct Checking<'a>(&'a std::sync::atomic::AtomicUsize);

impl Drop for Checking<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
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
    pub fn new(sessions: Sessions, auth: ApiKeyAuth, product: String, admin_only: bool) -> Self {
        Web {
            sessions,
            auth,
            product,
            admin_only,
            passwords: None,
            failures: Mutex::new(HashMap::new()),
            checking: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// Password checks running now.
    #[cfg(test)]
    pub(crate) fn checking_now(&self) -> usize {
        self.checking.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Offers sign-in by user name and password too.
    pub fn with_passwords(self, p: Box<dyn Passwords>) -> Self {
        Web {
            passwords: Some(p),
            ..self
        }
    }

    /// The session of a request, if it has a live one whose key (or password) still stands.
    pub fn session(&self, headers: &HeaderMap) -> Option<Session> {
        let id = cookie_id(headers)?;
        let s = self.sessions.get(&id)?;
        if s.caller.key_name == "password" && s.caller.key_hash.starts_with("password:") {
            let ok = self
                .passwords
                .as_ref()
                .is_some_and(|p| p.still_valid(&s.caller));
            if !ok {
                self.sessions.end(&s.id);
            }
            return ok.then_some(s);
        }
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

    /// Signs in with a user name and password: the session, or why not (the same words for
    /// an unknown name and a wrong password).
    pub fn login_password(&self, user: &str, password: &str) -> Result<Session, String> {
        let Some(p) = &self.passwords else {
            return Err("sign in with an API key here".into());
        };
        let user = user.trim();
        if user.is_empty() || password.is_empty() {
            return Err("enter a user name and a password, or an API key".into());
        }
        if let Ok(f) = self.failures.lock()
            && let Some((n, at)) = f.get(user)
            && *n >= LOCK_AFTER
            && at.elapsed() < LOCK_FOR
        {
            return Err(format!(
                "too many wrong passwords for '{user}': try again in a minute"
            ));
        }
        let running = self
            .checking
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let _counted = Checking(&self.checking);
        if running >= MAX_CHECKING {
            return Err("too many sign-ins at once: try again in a moment".into());
        }
        match p.sign_in(user, password) {
            Ok(c) => {
                if let Ok(mut f) = self.failures.lock() {
                    f.remove(user);
                }
                self.sessions
                    .start(c)
                    .ok_or_else(|| "cannot start a session now: try again".to_string())
            }
            Err(why) => {
                if let Ok(mut f) = self.failures.lock() {
                    if f.len() >= MAX_FAILING {
                        f.retain(|_, (_, at)| at.elapsed() < LOCK_FOR);
                    }
                    if f.len() < MAX_FAILING {
                        let e = f.entry(user.to_string()).or_insert((0, Instant::now()));
                        *e = (e.0 + 1, Instant::now());
                    }
                }
                Err(why)
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
        let password = if self.passwords.is_some() {
            "<label for=\"user\">User name</label>\
<input id=\"user\" name=\"user\" type=\"text\" autocomplete=\"username\" autofocus>\
<label for=\"password\">Password</label>\
<input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\">\
<p class=\"hint\">or</p>"
        } else {
            ""
        };
        let body = format!(
            "{err}<form method=\"post\" action=\"/login\" class=\"login\">{password}\
<label for=\"key\">API key</label>\
<input id=\"key\" name=\"key\" type=\"password\" autocomplete=\"off\">\
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
