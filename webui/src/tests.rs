//! Unit tests: escaping, sessions (idle end, cap, revoked keys), cookies, CSRF and origins.

use std::time::Duration;

use http::HeaderMap;
use runtime::auth::Caller;

use crate::html::{esc, seg};
use crate::login::{safe_next, same_origin};
use crate::session::{MAX_SESSIONS, Sessions, cookie_id, set_cookie};

fn caller(name: &str, key: &str) -> Caller {
    Caller {
        name: name.into(),
        key_hash: key.into(),
        ..Default::default()
    }
}

#[test]
fn text_and_names_are_escaped() {
    assert_eq!(
        esc("<a href=\"x\">'&'</a>"),
        "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
    );
    assert_eq!(esc("bell\u{7}"), "bell\u{fffd}");
    assert_eq!(seg("DevTest: Web/1"), "DevTest%3A%20Web%2F1");
}

#[test]
fn sessions_end_when_idle_and_when_their_key_goes() {
    let s = Sessions::new(Duration::from_millis(50));
    let a = s.start(caller("ann", "k1")).unwrap();
    assert_eq!(a.id.len(), 64);
    assert_ne!(a.id, a.csrf);
    assert_eq!(s.get(&a.id).unwrap().caller.name, "ann");
    std::thread::sleep(Duration::from_millis(80));
    assert!(s.get(&a.id).is_none(), "idle too long");
    let s = Sessions::new(Duration::from_secs(60));
    let a = s.start(caller("ann", "k1")).unwrap();
    let b = s.start(caller("bob", "k2")).unwrap();
    s.end_key("k1");
    assert!(s.get(&a.id).is_none() && s.get(&b.id).is_some());
}

#[test]
fn sessions_are_capped_the_oldest_going_first() {
    let s = Sessions::new(Duration::from_secs(60));
    let first = s.start(caller("u", "k")).unwrap();
    for _ in 0..MAX_SESSIONS {
        s.start(caller("u", "k")).unwrap();
    }
    assert!(s.get(&first.id).is_none());
}

#[test]
fn cookies_and_origins_are_checked() {
    let mut h = HeaderMap::new();
    let id = "ab".repeat(32);
    h.insert("cookie", format!("theme=x; session={id}").parse().unwrap());
    assert_eq!(cookie_id(&h), Some(id.clone()));
    h.insert("cookie", "session=../../etc".parse().unwrap());
    assert_eq!(cookie_id(&h), None);
    let c = set_cookie(&id);
    assert!(c.contains("HttpOnly") && c.contains("Secure") && c.contains("SameSite=Strict"));
    let mut h = HeaderMap::new();
    h.insert("host", "127.0.0.1:8446".parse().unwrap());
    assert!(same_origin(&h).is_ok(), "no Origin: a plain navigation");
    h.insert("origin", "https://127.0.0.1:8446".parse().unwrap());
    assert!(same_origin(&h).is_ok());
    h.insert("origin", "https://evil.example".parse().unwrap());
    assert!(same_origin(&h).is_err());
    assert_eq!(
        safe_next("/deployments/Deployments-1"),
        "/deployments/Deployments-1"
    );
    for bad in ["//evil.example", "https://evil.example", "/\\evil", "x"] {
        assert_eq!(safe_next(bad), "/", "{bad}");
    }
}

struct OnePassword;

impl crate::login::Passwords for OnePassword {
    fn sign_in(&self, user: &str, password: &str) -> Result<Caller, String> {
        if password == "right" {
            Ok(Caller {
                name: user.into(),
                key_name: "password".into(),
                key_hash: format!("password:{user}:stamp"),
                ..Default::default()
            })
        } else {
            Err("wrong user name or password".into())
        }
    }
    fn still_valid(&self, c: &Caller) -> bool {
        c.key_hash.ends_with(":stamp")
    }
}

#[test]
fn five_wrong_passwords_lock_the_name_out() {
    let store: std::sync::Arc<dyn storage::Store> =
        std::sync::Arc::new(storage::MemoryStore::new());
    let hints = runtime::auth::Hints {
        log: "refused",
        missing: "no key",
        invalid: "bad key",
    };
    let web = crate::login::Web::new(
        Sessions::new(Duration::from_secs(60)),
        runtime::auth::ApiKeyAuth::new(store, false, hints),
        "Space T".into(),
        false,
    )
    .with_passwords(Box::new(OnePassword));
    let s = web.login_password("ann", "right").unwrap();
    let mut h = HeaderMap::new();
    h.insert("cookie", format!("session={}", s.id).parse().unwrap());
    assert!(
        web.session(&h).is_some(),
        "a password session stands while its stamp does"
    );
    for _ in 0..5 {
        assert!(web.login_password("bob", "wrong").is_err());
    }
    let e = web.login_password("bob", "right").unwrap_err();
    assert!(e.contains("too many wrong passwords"), "{e}");
    assert!(web.login_password("ann", "right").is_ok(), "only that name");
}

struct SlowPassword(std::sync::Arc<std::sync::Barrier>);

impl crate::login::Passwords for SlowPassword {
    fn sign_in(&self, user: &str, _password: &str) -> Result<Caller, String> {
        self.0.wait();
        Err(format!("{user}: wrong user name or password"))
    }
    fn still_valid(&self, _c: &Caller) -> bool {
        false
    }
}

#[test]
fn password_checks_at_once_are_capped() {
    use crate::login::MAX_CHECKING;
    let store: std::sync::Arc<dyn storage::Store> =
        std::sync::Arc::new(storage::MemoryStore::new());
    let hints = runtime::auth::Hints {
        log: "refused",
        missing: "no key",
        invalid: "bad key",
    };
    // MAX_CHECKING checks wait inside the hash until the test lets them go.
    let gate = std::sync::Arc::new(std::sync::Barrier::new(MAX_CHECKING + 1));
    let web = std::sync::Arc::new(
        crate::login::Web::new(
            Sessions::new(Duration::from_secs(60)),
            runtime::auth::ApiKeyAuth::new(store, false, hints),
            "Space T".into(),
            false,
        )
        .with_passwords(Box::new(SlowPassword(gate.clone()))),
    );
    let busy: Vec<_> = (0..MAX_CHECKING)
        .map(|i| {
            let w = web.clone();
            std::thread::spawn(move || w.login_password(&format!("u{i}"), "x").is_err())
        })
        .collect();
    let end = std::time::Instant::now() + Duration::from_secs(10);
    while web.checking_now() < MAX_CHECKING {
        assert!(std::time::Instant::now() < end, "the checks never started");
        std::thread::sleep(Duration::from_millis(10));
    }
    // All of them are inside: one more is refused at once.
    let refused = web.login_password("one-more", "x").unwrap_err();
    assert!(refused.contains("too many sign-ins at once"), "{refused}");
    gate.wait();
    for t in busy {
        assert!(t.join().unwrap());
    }
}
