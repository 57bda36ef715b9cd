//! `deploy tenant ...`: tenants of this Space, their tags and the projects and environments
//! they are connected to. Tenant-specific values are variables scoped with `--tenant`.

use anyhow::bail;
use clap::Subcommand;
use proto::space::v1 as pb;
use serde_json::json;

use super::Env;
use crate::output::{done, emit, emit_one, join};

#[derive(Subcommand)]
pub enum TenantCmd {
    /// Create a tenant.
    Create {
        name: String,
        /// A tag (repeat for several).
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// A free-text description.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// Connect a tenant to a project in some of this Space's environments.
    Connect {
        name: String,
        /// The project's name.
        #[arg(long)]
        project: String,
        /// An environment of this Space (repeat for several).
        #[arg(long = "env", required = true)]
        environments: Vec<String>,
    },
    /// List tenants with their tags and connections.
    List,
    /// Show a tenant.
    Show { name: String },
    /// Delete a tenant (refused while a variable value is scoped to it).
    Delete { name: String },
}

fn connections(t: &pb::Tenant) -> String {
    t.projects
        .iter()
        .map(|p| format!("{} ({})", p.project, p.environments.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}

fn tenant_json(t: &pb::Tenant) -> serde_json::Value {
    json!({"name": t.name, "description": t.description, "tags": t.tags,
        "projects": t.projects.iter().map(|p| json!({"project": p.project, "environments": p.environments})).collect::<Vec<_>>()})
}

pub async fn run(cmd: TenantCmd, x: Env) -> anyhow::Result<()> {
    let c = &x.client;
    let mut api = c.tenants.clone();
    match cmd {
        TenantCmd::Create {
            name,
            tags,
            description,
        } => {
            let t = c
                .call(api.create(c.req(pb::Tenant {
                    name,
                    description,
                    tags,
                    projects: vec![],
                })))
                .await?;
            done(
                x.output,
                tenant_json(&t),
                &format!("tenant '{}' created", t.name),
            );
        }
        TenantCmd::Connect {
            name,
            project,
            environments,
        } => {
            let mut t = c.call(api.get(c.req(pb::ByName { name }))).await?;
            if environments.is_empty() {
                bail!("name at least one environment with --env");
            }
            match t.projects.iter_mut().find(|p| p.project == project) {
                Some(p) => p.environments.extend(environments),
                None => t.projects.push(pb::TenantProject {
                    project,
                    environments,
                }),
            }
            let t = c.call(api.update(c.req(t))).await?;
            done(
                x.output,
                tenant_json(&t),
                &format!("tenant '{}' connected: {}", t.name, connections(&t)),
            );
        }
        TenantCmd::List => {
            let ts = c.call(api.list(c.req(pb::Empty {}))).await?.tenants;
            let rows = ts
                .iter()
                .map(|t| vec![t.name.clone(), join(&t.tags), connections(t)])
                .collect();
            emit(
                x.output,
                json!(ts.iter().map(tenant_json).collect::<Vec<_>>()),
                &["TENANT", "TAGS", "PROJECTS (ENVIRONMENTS)"],
                rows,
            );
        }
        TenantCmd::Show { name } => {
            let t = c.call(api.get(c.req(pb::ByName { name }))).await?;
            emit_one(
                x.output,
                tenant_json(&t),
                vec![
                    ("name", t.name.clone()),
                    ("description", t.description.clone()),
                    ("tags", join(&t.tags)),
                    ("projects", connections(&t)),
                ],
            );
        }
        TenantCmd::Delete { name } => {
            c.call(api.delete(c.req(pb::ByName { name: name.clone() })))
                .await?;
            done(
                x.output,
                crate::output::deleted("tenant", &name),
                &format!("tenant '{name}' deleted"),
            );
        }
    }
    Ok(())
}
