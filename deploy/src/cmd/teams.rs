//! `deploy team ...` and `deploy role ...`: teams grant roles (built-in or custom) to their
//! members, each limited to some projects, environments and tenants or not
//! (docs/permissions.md).

use anyhow::bail;
use clap::Subcommand;
use proto::space::v1 as pb;
use serde_json::json;

use super::Env;
use crate::output::{done, emit, join};

#[derive(Subcommand)]
pub enum TeamCmd {
    /// Create a team (grant it roles with team grant).
    Create {
        name: String,
        /// A member (repeat for several).
        #[arg(long = "member")]
        members: Vec<String>,
    },
    /// Add a user to a team.
    AddMember { name: String, user: String },
    /// Grant a team a role, limited to some projects, environments and tenants or not.
    Grant {
        name: String,
        /// The role (deploy role list).
        #[arg(long)]
        role: String,
        /// Only in this project (repeat; none: every project).
        #[arg(long = "project")]
        projects: Vec<String>,
        /// Only in this environment (repeat; none: every environment).
        #[arg(long = "env")]
        environments: Vec<String>,
        /// Only for this tenant's deployments and values (repeat; none: every tenant and the
        /// untenanted ones).
        #[arg(long = "tenant")]
        tenants: Vec<String>,
    },
    /// List teams with their members and grants.
    List,
    /// Delete a team (its members lose what it granted).
    Delete { name: String },
}

#[derive(Subcommand)]
pub enum RoleCmd {
    /// List built-in and custom roles with their permissions.
    List,
    /// Create (or replace) a custom role: a named set of permissions.
    Create {
        name: String,
        /// A permission (repeat): view, edit-project, edit-variables, create-release, deploy,
        /// manage-environments, import-bundles, push-packages, admin.
        #[arg(long = "permission", required = true)]
        permissions: Vec<String>,
    },
    /// Delete a custom role (refused while a team grants it).
    Delete { name: String },
}

fn grant_text(g: &pb::Grant) -> String {
    let mut s = g.role.clone();
    if !g.projects.is_empty() {
        s.push_str(&format!(" projects={}", g.projects.join(",")));
    }
    if !g.environments.is_empty() {
        s.push_str(&format!(" envs={}", g.environments.join(",")));
    }
    if !g.tenants.is_empty() {
        s.push_str(&format!(" tenants={}", g.tenants.join(",")));
    }
    s
}

fn team_json(t: &pb::Team) -> serde_json::Value {
    json!({"name": t.name, "members": t.members, "grants": t.grants.iter().map(|g| json!({
        "role": g.role, "projects": g.projects, "environments": g.environments,
        "tenants": g.tenants,
    })).collect::<Vec<_>>()})
}

async fn team(x: &Env, name: &str) -> anyhow::Result<pb::Team> {
    let c = &x.client;
    let mut api = c.access.clone();
    let teams = c.call(api.list_teams(c.req(pb::Empty {}))).await?.teams;
    match teams.into_iter().find(|t| t.name == name) {
        Some(t) => Ok(t),
        None => bail!("team '{name}' does not exist"),
    }
}

async fn set(x: &Env, t: pb::Team, what: &str) -> anyhow::Result<()> {
    let c = &x.client;
    let mut api = c.access.clone();
    let t = c.call(api.set_team(c.req(t))).await?;
    done(
        x.output,
        team_json(&t),
        &format!("team '{}' {what}", t.name),
    );
    Ok(())
}

pub async fn teams(cmd: TeamCmd, x: Env) -> anyhow::Result<()> {
    match cmd {
        TeamCmd::Create { name, members } => {
            if team(&x, &name).await.is_ok() {
                bail!("team '{name}' already exists: change it with team add-member or team grant");
            }
            let t = pb::Team {
                name,
                members,
                grants: vec![],
            };
            set(&x, t, "created").await
        }
        TeamCmd::AddMember { name, user } => {
            let mut t = team(&x, &name).await?;
            if !t.members.contains(&user) {
                t.members.push(user);
            }
            set(&x, t, "changed").await
        }
        TeamCmd::Grant {
            name,
            role,
            projects,
            environments,
            tenants,
        } => {
            let mut t = team(&x, &name).await?;
            t.grants.push(pb::Grant {
                role,
                projects,
                environments,
                tenants,
            });
            set(&x, t, "granted the role").await
        }
        TeamCmd::List => {
            let c = &x.client;
            let mut api = c.access.clone();
            let teams = c.call(api.list_teams(c.req(pb::Empty {}))).await?.teams;
            let rows = teams
                .iter()
                .map(|t| {
                    vec![
                        t.name.clone(),
                        join(&t.members),
                        t.grants
                            .iter()
                            .map(grant_text)
                            .collect::<Vec<_>>()
                            .join("; "),
                    ]
                })
                .collect();
            emit(
                x.output,
                json!(teams.iter().map(team_json).collect::<Vec<_>>()),
                &["TEAM", "MEMBERS", "GRANTS"],
                rows,
            );
            Ok(())
        }
        TeamCmd::Delete { name } => {
            let c = &x.client;
            let mut api = c.access.clone();
            c.call(api.delete_team(c.req(pb::ByName { name: name.clone() })))
                .await?;
            done(
                x.output,
                crate::output::deleted("team", &name),
                &format!("team '{name}' deleted"),
            );
            Ok(())
        }
    }
}

pub async fn roles(cmd: RoleCmd, x: Env) -> anyhow::Result<()> {
    let c = &x.client;
    let mut api = c.access.clone();
    match cmd {
        RoleCmd::List => {
            let roles = c.call(api.list_roles(c.req(pb::Empty {}))).await?.roles;
            let rows = roles
                .iter()
                .map(|r| {
                    vec![
                        r.name.clone(),
                        if r.builtin { "built-in" } else { "custom" }.into(),
                        r.permissions.join(", "),
                    ]
                })
                .collect();
            emit(
                x.output,
                json!(roles.iter().map(|r| json!({"name": r.name, "builtin": r.builtin, "permissions": r.permissions})).collect::<Vec<_>>()),
                &["ROLE", "KIND", "PERMISSIONS"],
                rows,
            );
        }
        RoleCmd::Create { name, permissions } => {
            let r = c
                .call(api.set_role(c.req(pb::Role {
                    name,
                    permissions,
                    builtin: false,
                })))
                .await?;
            done(
                x.output,
                json!({"name": r.name, "permissions": r.permissions}),
                &format!("role '{}' set", r.name),
            );
        }
        RoleCmd::Delete { name } => {
            c.call(api.delete_role(c.req(pb::ByName { name: name.clone() })))
                .await?;
            done(
                x.output,
                crate::output::deleted("role", &name),
                &format!("role '{name}' deleted"),
            );
        }
    }
    Ok(())
}
