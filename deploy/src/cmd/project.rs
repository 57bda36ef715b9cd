//! `deploy project ...` and `deploy channel ...`.

use clap::Subcommand;
use proto::space::v1 as pb;
use serde_json::json;

use super::{Env, all_pages, page};
use crate::output::{deleted, done};
use crate::output::{emit, emit_one};

#[derive(Subcommand)]
pub enum ProjectCmd {
    /// Create a project (with a "Default" channel and an empty process).
    Create {
        name: String,
        /// The lifecycle its releases follow (unless a channel names another).
        #[arg(long)]
        lifecycle: String,
        /// A free-text description.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List projects.
    List,
    /// Show a project.
    Show { name: String },
    /// Change a project's description or lifecycle.
    Update {
        name: String,
        /// New lifecycle.
        #[arg(long)]
        lifecycle: Option<String>,
        /// New description.
        #[arg(long)]
        description: Option<String>,
    },
    /// Delete a project with its channels, process, variables and releases (asks first).
    Delete {
        name: String,
        /// Delete without asking (scripts; without a terminal this is required).
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Write a project's configuration (process, variables, templates, channels, lifecycles)
    /// as a YAML or JSON document for source control; sensitive values only as references.
    Export {
        name: String,
        /// Write to this file, or into this directory as NAME.yaml (default: stdout).
        #[arg(long)]
        out: Option<std::path::PathBuf>,
        /// yaml or json (default: json for an --out ending in .json, else yaml).
        #[arg(long, value_parser = ["yaml", "json"])]
        format: Option<String>,
    },
    /// Make a project match a document (or each document in a directory), creating it if
    /// needed: shows the plan, then changes everything or, on any error, nothing.
    Apply {
        /// A document written by `project export` (YAML or JSON), or a directory of them.
        path: std::path::PathBuf,
        /// Only show what would change.
        #[arg(long)]
        dry_run: bool,
    },
}

pub async fn project(cmd: ProjectCmd, x: Env) -> anyhow::Result<()> {
    let c = &x.client;
    let mut api = c.projects.clone();
    let pj = |p: &pb::Project| json!({"name": p.name, "lifecycle": p.lifecycle, "description": p.description, "remote_space": p.remote_space, "remote_project": p.remote_project});
    match cmd {
        ProjectCmd::Export { name, out, format } => {
            return super::project_code::export(&x, name, out, format).await;
        }
        ProjectCmd::Apply { path, dry_run } => {
            return super::project_code::apply(&x, path, dry_run).await;
        }
        ProjectCmd::Create {
            name,
            lifecycle,
            description,
        } => {
            let p = c
                .call(api.create(c.req(pb::Project {
                    name,
                    description,
                    lifecycle,
                    ..Default::default()
                })))
                .await?;
            done(
                x.output,
                pj(&p),
                &format!("project '{}' created (lifecycle {})", p.name, p.lifecycle),
            );
        }
        ProjectCmd::List => {
            let ps = all_pages(|t| {
                let mut api = c.projects.clone();
                let r = c.req(page(t));
                async move {
                    let r = c.call(api.list(r)).await?;
                    Ok((r.projects, r.next_page_token))
                }
            })
            .await?;
            let rows = ps
                .iter()
                .map(|p| {
                    vec![
                        p.name.clone(),
                        p.lifecycle.clone(),
                        if p.remote_space.is_empty() {
                            "-".into()
                        } else {
                            format!("remote, from {}", p.remote_space)
                        },
                        p.description.clone(),
                    ]
                })
                .collect();
            emit(
                x.output,
                json!(ps.iter().map(pj).collect::<Vec<_>>()),
                &["NAME", "LIFECYCLE", "ORIGIN", "DESCRIPTION"],
                rows,
            );
        }
        ProjectCmd::Show { name } => {
            let p = c.call(api.get(c.req(pb::ByName { name }))).await?;
            emit_one(
                x.output,
                pj(&p),
                vec![
                    ("name", p.name.clone()),
                    ("lifecycle", p.lifecycle.clone()),
                    ("description", p.description.clone()),
                ],
            );
        }
        ProjectCmd::Update {
            name,
            lifecycle,
            description,
        } => {
            let mut p = c.call(api.get(c.req(pb::ByName { name }))).await?;
            if let Some(l) = lifecycle {
                p.lifecycle = l;
            }
            if let Some(d) = description {
                p.description = d;
            }
            let p = c.call(api.update(c.req(p))).await?;
            done(x.output, pj(&p), &format!("project '{}' updated", p.name));
        }
        ProjectCmd::Delete { name, yes } => {
            let also = if yes {
                Vec::new()
            } else {
                super::confirm::project_parts(&x, &name).await?
            };
            super::confirm::confirm(&format!("delete project '{name}'"), &also, yes)?;
            c.call(api.delete(c.req(pb::ByName { name: name.clone() })))
                .await?;
            done(
                x.output,
                deleted("project", &name),
                &format!("project '{name}' deleted"),
            );
        }
    }
    Ok(())
}

#[derive(Subcommand)]
pub enum ChannelCmd {
    /// Create a channel in a project.
    Create {
        name: String,
        /// The project's name.
        #[arg(long)]
        project: String,
        /// Lifecycle for releases in this channel (default: the project's).
        #[arg(long, default_value = "")]
        lifecycle: String,
        /// A free-text description.
        #[arg(long, default_value = "")]
        description: String,
        /// Make it the project's default channel.
        #[arg(long)]
        default: bool,
    },
    /// List a project's channels.
    List {
        /// The project's name.
        #[arg(long)]
        project: String,
    },
    /// Show a channel.
    Show {
        name: String,
        /// The project's name.
        #[arg(long)]
        project: String,
    },
    /// Change a channel's lifecycle, description, or make it the default.
    Update {
        name: String,
        /// The project's name.
        #[arg(long)]
        project: String,
        /// Lifecycle for this channel; "" for the project's.
        #[arg(long)]
        lifecycle: Option<String>,
        /// New description.
        #[arg(long)]
        description: Option<String>,
        /// Make it the project's default channel (the previous default stops being one).
        #[arg(long)]
        default: bool,
    },
    /// Delete a channel (refused for the project's default channel).
    Delete {
        name: String,
        /// The project's name.
        #[arg(long)]
        project: String,
    },
}

fn channel_json(ch: &pb::Channel) -> serde_json::Value {
    json!({"project": ch.project, "name": ch.name, "default": ch.is_default, "lifecycle": ch.lifecycle, "description": ch.description})
}

pub async fn channel(cmd: ChannelCmd, x: Env) -> anyhow::Result<()> {
    let c = &x.client;
    let mut api = c.channels.clone();
    match cmd {
        ChannelCmd::Create {
            name,
            project,
            lifecycle,
            description,
            default,
        } => {
            let ch = c
                .call(api.create(c.req(pb::Channel {
                    project,
                    name,
                    description,
                    lifecycle,
                    is_default: default,
                })))
                .await?;
            done(
                x.output,
                channel_json(&ch),
                &format!("channel '{}' created in project '{}'", ch.name, ch.project),
            );
        }
        ChannelCmd::List { project } => {
            let chs = all_pages(|t| {
                let mut api = c.channels.clone();
                let r = c.req(pb::ProjectPage {
                    project: project.clone(),
                    page: Some(page(t)),
                });
                async move {
                    let r = c.call(api.list(r)).await?;
                    Ok((r.channels, r.next_page_token))
                }
            })
            .await?;
            let rows = chs
                .iter()
                .map(|ch| {
                    vec![
                        ch.name.clone(),
                        if ch.is_default {
                            "yes".into()
                        } else {
                            "".into()
                        },
                        if ch.lifecycle.is_empty() {
                            "(project's)".into()
                        } else {
                            ch.lifecycle.clone()
                        },
                    ]
                })
                .collect();
            emit(
                x.output,
                json!(chs.iter().map(channel_json).collect::<Vec<_>>()),
                &["NAME", "DEFAULT", "LIFECYCLE"],
                rows,
            );
        }
        ChannelCmd::Show { name, project } => {
            let ch = c
                .call(api.get(c.req(pb::ProjectScoped { project, name })))
                .await?;
            emit_one(
                x.output,
                channel_json(&ch),
                vec![
                    ("project", ch.project.clone()),
                    ("name", ch.name.clone()),
                    ("default", ch.is_default.to_string()),
                    (
                        "lifecycle",
                        if ch.lifecycle.is_empty() {
                            "(project's)".into()
                        } else {
                            ch.lifecycle.clone()
                        },
                    ),
                    ("description", ch.description.clone()),
                ],
            );
        }
        ChannelCmd::Update {
            name,
            project,
            lifecycle,
            description,
            default,
        } => {
            let mut ch = c
                .call(api.get(c.req(pb::ProjectScoped { project, name })))
                .await?;
            if let Some(l) = lifecycle {
                ch.lifecycle = l;
            }
            if let Some(d) = description {
                ch.description = d;
            }
            if default {
                ch.is_default = true;
            }
            let ch = c.call(api.update(c.req(ch))).await?;
            done(
                x.output,
                channel_json(&ch),
                &format!("channel '{}' updated", ch.name),
            );
        }
        ChannelCmd::Delete { name, project } => {
            c.call(api.delete(c.req(pb::ProjectScoped {
                project,
                name: name.clone(),
            })))
            .await?;
            done(
                x.output,
                deleted("channel", &name),
                &format!("channel '{name}' deleted"),
            );
        }
    }
    Ok(())
}
