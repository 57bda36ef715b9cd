//! `deploy context ...` and `deploy env ...`: contexts, and environments.

use anyhow::bail;
use clap::Subcommand;
use proto::space::v1 as pb;
use serde_json::json;

use super::{Env, all_pages, page};
use crate::context::{ConfigFile, Ctx, config_path};
use crate::output::{Format, emit, emit_one};
use crate::output::{deleted, done};

#[derive(Subcommand)]
pub enum ContextCmd {
    /// Add (or replace) a named context.
    Add {
        name: String,
        /// https://HOST:PORT of the Space server.
        #[arg(long)]
        server: String,
        /// The API key to authenticate with (stored in the context).
        #[arg(long, env = "DEPLOY_API_KEY")]
        api_key: String,
        /// The server certificate's fingerprint (printed by the server at start).
        #[arg(long)]
        fingerprint: String,
        /// Make it the current context.
        #[arg(long = "use")]
        make_current: bool,
    },
    /// Make a context the current one.
    Use { name: String },
    /// List contexts.
    List,
    /// Show the current (or named) context, API key masked.
    Show { name: Option<String> },
    /// Delete a context.
    Delete { name: String },
}

pub fn context(cmd: ContextCmd, output: Format) -> anyhow::Result<()> {
    let mut file = ConfigFile::load()?;
    match cmd {
        ContextCmd::Add {
            name,
            server,
            api_key,
            fingerprint,
            make_current,
        } => {
            net::tls::parse_address(&server)?;
            let fingerprint = net::tls::normalize_fingerprint(&fingerprint)?;
            file.contexts.insert(
                name.clone(),
                Ctx {
                    server,
                    api_key,
                    fingerprint,
                },
            );
            if make_current || file.current.is_none() {
                file.current = Some(name.clone());
            }
            file.save()?;
            eprintln!("context '{name}' saved in {}", config_path()?.display());
        }
        ContextCmd::Use { name } => {
            if !file.contexts.contains_key(&name) {
                bail!("context '{name}' does not exist: list them with 'deploy context list'");
            }
            file.current = Some(name);
            file.save()?;
        }
        ContextCmd::List => {
            let rows = file
                .contexts
                .iter()
                .map(|(n, c)| {
                    let cur = if file.current.as_deref() == Some(n) {
                        "*"
                    } else {
                        ""
                    };
                    vec![cur.to_string(), n.clone(), c.server.clone()]
                })
                .collect();
            let j = json!({"current": file.current, "contexts": file.contexts.iter().map(|(n, c)| json!({"name": n, "server": c.server, "fingerprint": c.fingerprint})).collect::<Vec<_>>()});
            emit(output, j, &["CURRENT", "NAME", "SERVER"], rows);
        }
        ContextCmd::Show { name } => {
            let Some(name) = name.or(file.current.clone()) else {
                bail!("there is no current context: add one with 'deploy context add'");
            };
            let Some(c) = file.contexts.get(&name) else {
                bail!("context '{name}' does not exist");
            };
            emit_one(
                output,
                json!({"name": name, "server": c.server, "fingerprint": c.fingerprint, "api_key": domain::variables::MASK}),
                vec![
                    ("name", name.clone()),
                    ("server", c.server.clone()),
                    ("fingerprint", c.fingerprint.clone()),
                    ("api_key", domain::variables::MASK.into()),
                ],
            );
        }
        ContextCmd::Delete { name } => {
            if file.contexts.remove(&name).is_none() {
                bail!("context '{name}' does not exist");
            }
            if file.current.as_deref() == Some(&name) {
                file.current = None;
            }
            file.save()?;
        }
    }
    Ok(())
}

#[derive(Subcommand)]
pub enum EnvCmd {
    /// Create an environment.
    Create {
        name: String,
        /// A free-text description.
        #[arg(long, default_value = "")]
        description: String,
        /// Position on dashboards (lower first).
        #[arg(long, default_value_t = 0)]
        sort_order: u32,
    },
    /// Add a Remote Environment: a placeholder for an environment another Space owns, named
    /// "<Space>: <name>". Steps and variable values can be scoped to it, lifecycles can hold
    /// it, and its results come back in Deployment Receipts.
    AddRemote {
        /// The Space that owns the environment (a Remote Space in this Space's ODCM).
        #[arg(long)]
        space: String,
        /// The environment's name in that Space.
        #[arg(long)]
        name: String,
        /// A free-text description.
        #[arg(long, default_value = "")]
        description: String,
        /// Position on dashboards (lower first).
        #[arg(long, default_value_t = 0)]
        sort_order: u32,
    },
    /// List environments.
    List,
    /// Show one environment.
    Show { name: String },
    /// Change an environment's description or sort order.
    Update {
        name: String,
        /// New description.
        #[arg(long)]
        description: Option<String>,
        /// New position on dashboards (lower first).
        #[arg(long)]
        sort_order: Option<u32>,
    },
    /// Delete an environment (refused while a lifecycle uses it; asks first).
    Delete {
        name: String,
        /// Delete without asking (scripts; without a terminal this is required).
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

fn env_json(e: &pb::Environment) -> serde_json::Value {
    json!({"name": e.name, "description": e.description, "sort_order": e.sort_order, "remote_space": e.remote_space})
}

pub async fn env(cmd: EnvCmd, x: Env) -> anyhow::Result<()> {
    let c = &x.client;
    match cmd {
        EnvCmd::Create {
            name,
            description,
            sort_order,
        } => {
            let m = pb::Environment {
                name,
                description,
                sort_order,
                remote_space: String::new(),
            };
            let mut api = c.environments.clone();
            let e = c.call(api.create(c.req(m))).await?;
            done(
                x.output,
                env_json(&e),
                &format!("environment '{}' created", e.name),
            );
        }
        EnvCmd::AddRemote {
            space,
            name,
            description,
            sort_order,
        } => {
            let m = pb::Environment {
                name,
                description,
                sort_order,
                remote_space: space,
            };
            let mut api = c.environments.clone();
            let e = c.call(api.create(c.req(m))).await?;
            done(
                x.output,
                env_json(&e),
                &format!(
                    "remote environment '{}' created (owned by space '{}')",
                    e.name, e.remote_space
                ),
            );
        }
        EnvCmd::List => {
            let envs = all_pages(|t| {
                let mut api = c.environments.clone();
                let r = c.req(page(t));
                async move {
                    let r = c.call(api.list(r)).await?;
                    Ok((r.environments, r.next_page_token))
                }
            })
            .await?;
            let rows = envs
                .iter()
                .map(|e| {
                    vec![
                        e.name.clone(),
                        e.sort_order.to_string(),
                        if e.remote_space.is_empty() {
                            "-".into()
                        } else {
                            e.remote_space.clone()
                        },
                        e.description.clone(),
                    ]
                })
                .collect();
            emit(
                x.output,
                json!(envs.iter().map(env_json).collect::<Vec<_>>()),
                &["NAME", "ORDER", "REMOTE SPACE", "DESCRIPTION"],
                rows,
            );
        }
        EnvCmd::Show { name } => {
            let mut api = c.environments.clone();
            let e = c.call(api.get(c.req(pb::ByName { name }))).await?;
            emit_one(
                x.output,
                env_json(&e),
                vec![
                    ("name", e.name.clone()),
                    ("description", e.description.clone()),
                    ("sort_order", e.sort_order.to_string()),
                ],
            );
        }
        EnvCmd::Update {
            name,
            description,
            sort_order,
        } => {
            let mut api = c.environments.clone();
            let mut e = c.call(api.get(c.req(pb::ByName { name }))).await?;
            if let Some(d) = description {
                e.description = d;
            }
            if let Some(s) = sort_order {
                e.sort_order = s;
            }
            let e = c.call(api.update(c.req(e))).await?;
            done(
                x.output,
                env_json(&e),
                &format!("environment '{}' updated", e.name),
            );
        }
        EnvCmd::Delete { name, yes } => {
            let also = if yes {
                Vec::new()
            } else {
                super::confirm::environment_parts(&x, &name).await?
            };
            super::confirm::confirm(&format!("delete environment '{name}'"), &also, yes)?;
            let mut api = c.environments.clone();
            c.call(api.delete(c.req(pb::ByName { name: name.clone() })))
                .await?;
            done(
                x.output,
                deleted("environment", &name),
                &format!("environment '{name}' deleted"),
            );
        }
    }
    Ok(())
}
