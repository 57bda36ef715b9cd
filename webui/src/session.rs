//! Sessions of the web UI: a random id in an HttpOnly, Secure, SameSite=Strict cookie; each
//! holds the caller its API key proved, a CSRF token for its forms, and when it was last
//! used. Idle sessions end; their number is capped (the oldest goes first), so logins cannot
//! grow memory without bound.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use runtime::auth::Caller;

/// The cookie's name.
pub const COOKIE: &str = "session";
/// Sessions kept at most.
pub const MAX_SESSIONS: usize = 10_000;

/// One logged-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub caller: Caller,
    /// Every form carries it; a POST without it is refused.
    pub csrf: String,
    last_used: Instant,
}

/// Every session of one server.
pub struct Sessions {
    idle: Duration,
    map: Mutex<HashMap<String, Session>>,
}

fn random_hex() -> String {
    let mut b = [0u8; 32];
    if secrets::random_bytes(&mut b).is_err() {
        // The system random source failed: no session can be made safely.
        return String::new();
    }
    hex::encode(b)
}

impl Sessions {
    /// Sessions ending after `idle` without a request.
    pub fn new(idle: Duration) -> Self {
        Self {
            idle,
            map: Mutex::new(HashMap::new()),
        }
    }

    /// A new session for `caller`; `None` if no random id could be made.
    pub fn start(&self, caller: Caller) -> Option<Session> {
        let (id, csrf) = (random_hex(), random_hex());
        if id.is_empty() || csrf.is_empty() {
            return None;
        }
        let s = Session {
            id: id.clone(),
            caller,
            csrf,
            last_used: Instant::now(),
        };
        let mut map = self.map.lock().ok()?;
        let now = Instant::now();
        map.retain(|_, s| now.duration_since(s.last_used) < self.idle);
        if map.len() >= MAX_SESSIONS
            && let Some(oldest) = map
                .values()
                .min_by_key(|s| s.last_used)
                .map(|s| s.id.clone())
        {
            map.remove(&oldest);
        }
        map.insert(id, s.clone());
        Some(s)
    }

    /// The session `id` names, if it exists and was used within the idle time (then it counts
    /// as used now).
    pub fn get(&self, id: &str) -> Option<Session> {
        let mut map = self.map.lock().ok()?;
        let now = Instant::now();
        let s = map.get_mut(id)?;
        if now.duration_since(s.last_used) >= self.idle {
            map.remove(id);
            return None;
        }
        s.last_used = now;
        Some(s.clone())
    }

    pub fn end(&self, id: &str) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(id);
        }
    }

    /// Ends every session of the key with this hash (it was revoked).
    pub fn end_key(&self, key_hash: &str) {
        if let Ok(mut map) = self.map.lock() {
            map.retain(|_, s| s.caller.key_hash != key_hash);
        }
    }
}

/// The session id in a request's `Cookie` header.
pub fn cookie_id(headers: &http::HeaderMap) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The `Set-Cookie` value starting a session.
pub fn set_cookie(id: &str) -> String {
    format!("{COOKIE}={id}; Path=/; HttpOnly; Secure; SameSite=Strict")
}

/// The `Set-Cookie` value ending it.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0")
}
