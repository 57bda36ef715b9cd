//! `deploy target ...`: deployment targets: agents, registered by certificate fingerprint, and
//! offline drop targets (`add-drop`, `update-drop`).

use clap::Subcommand;
use proto::space::v1 as pb;
use serde_json::json;

use super::{Env, all_pages};
use crate::output::{deleted, done};
use crate::output::{emit, emit_one, join, time};

#[derive(Subcommand)]
pub enum TargetCmd {
    /// Register an agent as a deployment target.
    Add {
        name: String,
        /// The agent's certificate fingerprint (`agent init` prints it).
        #[arg(long)]
        fingerprint: String,
        /// An environment the target serves (repeat for several).
        #[arg(long = "env", required = true)]
        environments: Vec<String>,
        /// A role of the target, by which steps select it (repeat for several).
        #[arg(long = "role")]
        roles: Vec<String>,
        /// For a listening agent: where the Space connects (https://HOST:PORT). Omit for polling.
        #[arg(long)]
        listening_address: Option<String>,
    },
    /// List targets (optionally of one environment) with their connection state.
    List {
        /// List only the targets of this environment.
        #[arg(long)]
        env: Option<String>,
    },
    /// Show a target.
    Show { name: String },
    /// Change a target's environments, roles, fingerprint or address.
    Update {
        name: String,
        /// The agent's new certificate fingerprint.
        #[arg(long)]
        fingerprint: Option<String>,
        /// An environment the target serves (repeat; replaces the current ones; none: kept).
        #[arg(long = "env")]
        environments: Vec<String>,
        /// A role of the target (repeat; replaces the current ones; none: kept).
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Where the Space connects to a listening agent (https://HOST:PORT); "" for polling.
        #[arg(long)]
        listening_address: Option<String>,
    },
    /// Delete a target: its agent's certificate is no longer accepted (asks first).
    Delete {
        name: String,
        /// Delete without asking (scripts; without a terminal this is required).
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Where polling agents connect, and the Space certificate they must trust.
    Endpoint,
    /// Create a token that can register agents (agent register --api-key TOKEN) and nothing
    /// else; printed once.
    RegistrationToken {
        /// How many agents it may register (0: any number until it expires).
        #[arg(long, default_value_t = 1)]
        uses: u32,
        /// Expire after this long (e.g. 1h, 7d; default 24h, at most 30d).
        #[arg(long)]
        expires: Option<String>,
        /// A label to recognise it by.
        #[arg(long, default_value = "")]
        name: String,
    },
    /// Register an offline drop target: deploying to it writes a folder to run elsewhere.
    AddDrop(super::drop::DropTargetArgs),
    /// Change an offline drop target (only what is given changes).
    UpdateDrop(super::drop::DropTargetArgs),
}

fn mode(t: &pb::Target) -> String {
    if let Some(d) = &t.drop {
        format!("offline-drop {}", d.drop_folder)
    } else if t.listening_address.is_empty() {
        "polling".into()
    } else {
        format!("listening {}", t.listening_address)
    }
}

fn target_json(t: &pb::Target) -> serde_json::Value {
    json!({
        "name": t.name, "fingerprint": t.fingerprint,
        "mode": if t.drop.is_some() { "offline-drop" } else if t.listening_address.is_empty() { "polling" } else { "listening" },
        "listening_address": t.listening_address, "environments": t.environments, "roles": t.roles,
        "connected": t.connected, "last_seen": t.last_seen.as_ref().map(|x| time(x.seconds)),
        "drop": t.drop.as_ref().map(|d| json!({
            "drop_folder": d.drop_folder, "applications_dir": d.applications_dir,
            "working_dir": d.working_dir, "has_password": t.has_drop_password,
        })),
    })
}

pub async fn run(cmd: TargetCmd, x: Env) -> anyhow::Result<()> {
    let c = &x.client;
    let mut api = c.targets.clone();
    match cmd {
        TargetCmd::Add {
            name,
            fingerprint,
            environments,
            roles,
            listening_address,
        } => {
            let t = c
                .call(api.create(c.req(pb::Target {
                    name,
                    fingerprint,
                    listening_address: listening_address.unwrap_or_default(),
                    environments,
                    roles,
                    connected: false,
                    last_seen: None,
                    ..Default::default()
                })))
                .await?;
            done(
                x.output,
                target_json(&t),
                &format!("target '{}' registered ({})", t.name, mode(&t)),
            );
        }
        TargetCmd::List { env } => {
            let ts = all_pages(|t| {
                let mut api = c.targets.clone();
                let r = c.req(pb::ListTargetsRequest {
                    environment: env.clone().unwrap_or_default(),
                    page: Some(super::page(t)),
                });
                async move {
                    let r = c.call(api.list(r)).await?;
                    Ok((r.targets, r.next_page_token))
                }
            })
            .await?;
            let rows = ts
                .iter()
                .map(|t| {
                    vec![
                        t.name.clone(),
                        mode(t),
                        join(&t.environments),
                        join(&t.roles),
                        if t.connected {
                            "connected".into()
                        } else {
                            "-".into()
                        },
                    ]
                })
                .collect();
            emit(
                x.output,
                json!(ts.iter().map(target_json).collect::<Vec<_>>()),
                &["NAME", "MODE", "ENVIRONMENTS", "ROLES", "STATE"],
                rows,
            );
        }
        TargetCmd::Show { name } => {
            let t = c.call(api.get(c.req(pb::ByName { name }))).await?;
            emit_one(
                x.output,
                target_json(&t),
                vec![
                    ("name", t.name.clone()),
                    ("fingerprint", t.fingerprint.clone()),
                    ("mode", mode(&t)),
                    ("environments", join(&t.environments)),
                    ("roles", join(&t.roles)),
                    ("connected", t.connected.to_string()),
                ]
                .into_iter()
                .chain(
                    t.drop
                        .as_ref()
                        .map(|d| {
                            [
                                ("applications dir", d.applications_dir.clone()),
                                ("working dir", d.working_dir.clone()),
                                (
                                    "sensitive-variables password",
                                    if t.has_drop_password {
                                        "set"
                                    } else {
                                        "not set"
                                    }
                                    .into(),
                                ),
                            ]
                        })
                        .into_iter()
                        .flatten(),
                )
                .collect(),
            );
        }
        TargetCmd::Update {
            name,
            fingerprint,
            environments,
            roles,
            listening_address,
        } => {
            let mut t = c.call(api.get(c.req(pb::ByName { name }))).await?;
            if let Some(f) = fingerprint {
                t.fingerprint = f;
            }
            if !environments.is_empty() {
                t.environments = environments;
            }
            if !roles.is_empty() {
                t.roles = roles;
            }
            if let Some(a) = listening_address {
                t.listening_address = a;
            }
            let t = c.call(api.update(c.req(t))).await?;
            done(
                x.output,
                target_json(&t),
                &format!("target '{}' updated", t.name),
            );
        }
        TargetCmd::RegistrationToken {
            uses,
            expires,
            name,
        } => return super::access::registration_token(&x, uses, expires, name).await,
        TargetCmd::Delete { name, yes } => {
            super::confirm::confirm(
                &format!("delete target '{name}'"),
                &["its agent's access (its deployment history stays)".into()],
                yes,
            )?;
            c.call(api.delete(c.req(pb::ByName { name: name.clone() })))
                .await?;
            done(
                x.output,
                deleted("target", &name),
                &format!("target '{name}' deleted"),
            );
        }
        TargetCmd::AddDrop(a) => super::drop::add_drop(&x, a).await?,
        TargetCmd::UpdateDrop(a) => super::drop::update_drop(&x, a).await?,
        TargetCmd::Endpoint => {
            let e = c.call(api.agent_endpoint(c.req(pb::Empty {}))).await?;
            emit_one(
                x.output,
                json!({"address": e.address, "fingerprint": e.fingerprint}),
                vec![
                    ("address", e.address.clone()),
                    ("fingerprint", e.fingerprint.clone()),
                ],
            );
        }
    }
    Ok(())
}
