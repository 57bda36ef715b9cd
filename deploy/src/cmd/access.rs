//! `deploy user ...`, `deploy apikey ...` and `deploy target registration-token`: users and
//! service accounts, their API keys (shown once), and tokens that only register agents.

use anyhow::{Context as _, bail};
use clap::Subcommand;
use proto::space::v1 as pb;
use serde_json::json;

use super::Env;
use super::deployment::secs;
use crate::output::{done, emit, time};

#[derive(Subcommand)]
pub enum UserCmd {
    /// Create a user (or a service account for automation); give it keys with apikey create.
    Create {
        name: String,
        /// A service account (automation) rather than a person.
        #[arg(long)]
        service: bool,
        /// May do everything, managing users and keys included.
        #[arg(long)]
        admin: bool,
    },
    /// List users and service accounts.
    List,
    /// Delete a user and revoke every key of it (the last admin stays).
    Delete { name: String },
    /// Set a user's web sign-in password (admins for anyone; a user for themself): asked
    /// twice on a terminal, or the first line of stdin with --password-stdin.
    Password {
        name: String,
        /// Read the password from stdin (its first line), for scripts.
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Subcommand)]
pub enum ApiKeyCmd {
    /// Create an API key for a user; the key is printed once (stdout) and never again.
    Create {
        /// The user or service account it acts for.
        #[arg(long)]
        user: String,
        /// A label to recognise it by ("laptop", "ci").
        #[arg(long, default_value = "")]
        name: String,
        /// Expire after this long (30d, 12h, 90m, 3600s; default: never).
        #[arg(long)]
        expires: Option<String>,
    },
    /// List API keys (ids, users, expiry, last use, revoked), never the keys themselves.
    List {
        /// Only this user's keys.
        #[arg(long, default_value = "")]
        user: String,
    },
    /// Revoke a key at once, by its id (at least 8 characters, from apikey list).
    Revoke { id: String },
}

/// `30d`, `12h`, `90m`, `45s` or bare seconds, as seconds.
pub fn duration_secs(s: &str) -> anyhow::Result<u64> {
    let s = s.trim();
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = n
        .parse()
        .with_context(|| format!("'{s}' is not a duration: write 30d, 12h, 90m or 45s"))?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => bail!("'{s}' is not a duration: write 30d, 12h, 90m or 45s"),
    };
    n.checked_mul(mult)
        .with_context(|| format!("'{s}' is too long"))
}

fn when(t: &Option<prost_types::Timestamp>) -> String {
    secs(t).map(time).unwrap_or_else(|| "-".into())
}

pub fn key_json(k: &pb::ApiKeyInfo) -> serde_json::Value {
    json!({
        "id": k.id, "name": k.name, "user": k.user, "created_at": secs(&k.created_at).map(time),
        "expires_at": secs(&k.expires_at).map(time), "revoked_at": secs(&k.revoked_at).map(time),
        "last_used": secs(&k.last_used).map(time), "registration": k.registration,
        "uses_left": k.limited.then_some(k.uses_left),
    })
}

/// Prints a key that was just created: the key alone on stdout (or the object with -o json),
/// what it is on stderr.
pub fn print_created(x: &Env, c: pb::CreatedApiKey, what: &str) {
    let info = c.info.unwrap_or_default();
    eprintln!(
        "{what} {} for '{}' created (expires {}); it is shown once: store it now",
        info.id,
        info.user,
        when(&info.expires_at)
    );
    let mut j = key_json(&info);
    j["key"] = json!(c.key);
    done(x.output, j, &c.key);
}

/// A new password: the first line of stdin, or asked twice on a terminal.
fn new_password(from_stdin: bool) -> anyhow::Result<String> {
    use std::io::{IsTerminal, Read};
    if from_stdin {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("cannot read the password from stdin")?;
        return Ok(s.lines().next().unwrap_or_default().to_string());
    }
    if !std::io::stdin().is_terminal() {
        bail!("no terminal to ask for the password on: pass it on stdin with --password-stdin");
    }
    let a = rpassword::prompt_password("New password: ").context("cannot read the password")?;
    let b = rpassword::prompt_password("Again: ").context("cannot read the password")?;
    if a != b {
        bail!("the two passwords differ: nothing was changed");
    }
    Ok(a)
}

pub async fn users(cmd: UserCmd, x: Env) -> anyhow::Result<()> {
    let c = &x.client;
    let mut api = c.access.clone();
    match cmd {
        UserCmd::Create {
            name,
            service,
            admin,
        } => {
            let u = c
                .call(api.create_user(c.req(pb::User {
                    name,
                    service,
                    admin,
                    created_at: None,
                    has_password: false,
                })))
                .await?;
            let kind = if u.service { "service account" } else { "user" };
            done(
                x.output,
                json!({"name": u.name, "service": u.service, "admin": u.admin}),
                &format!("{kind} '{}' created", u.name),
            );
        }
        UserCmd::List => {
            let r = c.call(api.list_users(c.req(pb::Empty {}))).await?;
            let rows = r
                .users
                .iter()
                .map(|u| {
                    vec![
                        u.name.clone(),
                        if u.service { "service" } else { "user" }.into(),
                        if u.admin { "yes" } else { "no" }.into(),
                        if u.has_password { "yes" } else { "no" }.into(),
                        when(&u.created_at),
                    ]
                })
                .collect();
            emit(
                x.output,
                json!(r.users.iter().map(|u| json!({"name": u.name, "service": u.service, "admin": u.admin, "has_password": u.has_password, "created_at": secs(&u.created_at).map(time)})).collect::<Vec<_>>()),
                &["NAME", "KIND", "ADMIN", "PASSWORD", "CREATED"],
                rows,
            );
        }
        UserCmd::Password {
            name,
            password_stdin,
        } => {
            let password = new_password(password_stdin)?;
            c.call(api.set_password(c.req(pb::SetPasswordRequest {
                user: name.clone(),
                password,
            })))
            .await?;
            done(
                x.output,
                json!({"name": name, "has_password": true}),
                &format!("password of '{name}' set: it signs in to the web UI"),
            );
        }
        UserCmd::Delete { name } => {
            c.call(api.delete_user(c.req(pb::ByName { name: name.clone() })))
                .await?;
            done(
                x.output,
                crate::output::deleted("user", &name),
                &format!("user '{name}' deleted, its keys revoked"),
            );
        }
    }
    Ok(())
}

pub async fn keys(cmd: ApiKeyCmd, x: Env) -> anyhow::Result<()> {
    let c = &x.client;
    let mut api = c.access.clone();
    match cmd {
        ApiKeyCmd::Create {
            user,
            name,
            expires,
        } => {
            let expires_in_seconds = expires
                .as_deref()
                .map(duration_secs)
                .transpose()?
                .unwrap_or(0);
            let k = c
                .call(api.create_api_key(c.req(pb::CreateApiKeyRequest {
                    user,
                    name,
                    expires_in_seconds,
                })))
                .await?;
            print_created(&x, k, "API key");
        }
        ApiKeyCmd::List { user } => {
            let r = c
                .call(api.list_api_keys(c.req(pb::ListApiKeysRequest { user })))
                .await?;
            let rows = r
                .keys
                .iter()
                .map(|k| {
                    let state = if k.revoked_at.is_some() {
                        format!("revoked {}", when(&k.revoked_at))
                    } else if k.registration {
                        match k.limited {
                            true => format!("registration, {} use(s) left", k.uses_left),
                            false => "registration".into(),
                        }
                    } else {
                        "active".into()
                    };
                    vec![
                        k.id.clone(),
                        k.user.clone(),
                        k.name.clone(),
                        state,
                        when(&k.expires_at),
                        when(&k.last_used),
                    ]
                })
                .collect();
            emit(
                x.output,
                json!(r.keys.iter().map(key_json).collect::<Vec<_>>()),
                &["ID", "USER", "NAME", "STATE", "EXPIRES", "LAST USED"],
                rows,
            );
        }
        ApiKeyCmd::Revoke { id } => {
            let k = c
                .call(api.revoke_api_key(c.req(pb::ApiKeyRef { id })))
                .await?;
            done(
                x.output,
                key_json(&k),
                &format!("API key {} of '{}' revoked", k.id, k.user),
            );
        }
    }
    Ok(())
}

/// `deploy target registration-token`.
pub async fn registration_token(
    x: &Env,
    uses: u32,
    expires: Option<String>,
    name: String,
) -> anyhow::Result<()> {
    let c = &x.client;
    let mut api = c.access.clone();
    let expires_in_seconds = expires
        .as_deref()
        .map(duration_secs)
        .transpose()?
        .unwrap_or(0);
    let k = c
        .call(
            api.create_registration_token(c.req(pb::CreateRegistrationTokenRequest {
                uses,
                expires_in_seconds,
                name,
            })),
        )
        .await?;
    print_created(x, k, "registration token");
    Ok(())
}

/// `deploy whoami`: the Space, the user behind the key (admin or not), the key and its expiry.
pub async fn whoami(x: &Env) -> anyhow::Result<()> {
    let c = &x.client;
    let mut api = c.system.clone();
    let w = c.call(api.who_am_i(c.req(pb::Empty {}))).await?;
    let expires = secs(&w.key_expires_at).map(time);
    crate::output::emit_one(
        x.output,
        json!({"space": w.space_name, "user": w.user, "admin": w.admin, "api_key": w.api_key_name,
            "permissions": w.permissions,
            "key_expires_at": expires, "server_version": w.server_version, "server": c.server}),
        vec![
            ("space", w.space_name.clone()),
            (
                "user",
                format!("{}{}", w.user, if w.admin { " (admin)" } else { "" }),
            ),
            ("api key", w.api_key_name.clone()),
            (
                "key expires",
                expires.clone().unwrap_or_else(|| "never".into()),
            ),
            (
                "may",
                if w.permissions.is_empty() {
                    "nothing yet (no team grants this user a role)".into()
                } else {
                    w.permissions.join("; ")
                },
            ),
            ("server", c.server.clone()),
            ("server version", w.server_version.clone()),
        ],
    );
    Ok(())
}
