//! `deploy lifecycle ...`: lifecycles and their phases.

use anyhow::{anyhow, bail};
use clap::Subcommand;
use proto::space::v1 as pb;
use serde_json::json;

use super::{Env, all_pages, page};
use crate::output::{deleted, done};
use crate::output::{emit, emit_one};

#[derive(Subcommand)]
pub enum LifecycleCmd {
    /// Create a lifecycle: phases in order, each `NAME:ENV[,ENV...][:all|:min=N|:optional][:auto][:prestage]`
    /// (`prestage`: a release's packages start replicating to the Spaces the phase names as
    /// soon as the release exists).
    Create {
        name: String,
        /// A phase, `NAME:ENV[,ENV...][:all|:min=N|:optional][:auto][:prestage]` (repeat, in
        /// order).
        #[arg(long = "phase", required = true)]
        phases: Vec<String>,
        /// A free-text description.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List lifecycles.
    List,
    /// Show a lifecycle's phases.
    Show { name: String },
    /// Replace a lifecycle's phases (and optionally description).
    Update {
        name: String,
        /// A phase, `NAME:ENV[,ENV...][:all|:min=N|:optional][:auto][:prestage]` (repeat, in
        /// order; replaces all phases; none: keep them).
        #[arg(long = "phase")]
        phases: Vec<String>,
        /// New description.
        #[arg(long)]
        description: Option<String>,
    },
    /// Delete a lifecycle (refused while a project uses it; asks first).
    Delete {
        name: String,
        /// Delete without asking (scripts; without a terminal this is required).
        #[arg(long, short = 'y')]
        yes: bool,
    },
}

/// Parses `NAME:ENV1,ENV2[:all|:min=N|:optional][:auto][:prestage]`. An ENV may be a remote
/// environment ("Prod: Production": a colon followed by a space stays in the name) or a whole
/// Space ("Prod").
pub fn parse_phase(spec: &str) -> anyhow::Result<pb::Phase> {
    let mut parts = spec.split(':').peekable();
    let name = parts.next().unwrap_or("").trim().to_string();
    let mut envs = parts
        .next()
        .ok_or_else(|| anyhow!("phase '{spec}' lists no environments: use NAME:ENV[,ENV...]"))?
        .to_string();
    while let Some(more) = parts.next_if(|p| p.starts_with(' ')) {
        envs.push(':');
        envs.push_str(more);
    }
    let environments: Vec<String> = envs
        .split(',')
        .map(|e| e.trim().to_string())
        .filter(|e| !e.is_empty())
        .collect();
    let mut phase = pb::Phase {
        name,
        environments,
        minimum_environments: 0,
        optional: false,
        automatic: false,
        prestage: false,
    };
    for opt in parts {
        match opt.trim() {
            "all" => phase.minimum_environments = 0,
            "optional" => phase.optional = true,
            "auto" | "automatic" => phase.automatic = true,
            "prestage" => phase.prestage = true,
            o if o.starts_with("min=") => {
                let n: u32 = o[4..]
                    .parse()
                    .map_err(|_| anyhow!("'{o}' in phase '{spec}': min= needs a number"))?;
                if n == 0 || n as usize > phase.environments.len() {
                    bail!(
                        "'{o}' in phase '{spec}': min= must be between 1 and the phase's {} environment(s) (use optional for a phase that may be skipped, all for every environment)",
                        phase.environments.len()
                    );
                }
                phase.minimum_environments = n;
            }
            o => bail!(
                "unknown phase option '{o}' in '{spec}': use all, min=N, optional, auto or prestage"
            ),
        }
    }
    if phase.name.is_empty() {
        bail!("phase '{spec}' has no name: use NAME:ENV[,ENV...]");
    }
    Ok(phase)
}

pub fn rule(p: &pb::Phase) -> String {
    let r = if p.optional {
        "optional".to_string()
    } else if p.minimum_environments > 0 {
        format!("at least {}", p.minimum_environments)
    } else {
        "all".to_string()
    };
    let mut r = r;
    if p.automatic {
        r.push_str(", automatic");
    }
    if p.prestage {
        r.push_str(", packages staged ahead");
    }
    r
}

fn lifecycle_json(l: &pb::Lifecycle) -> serde_json::Value {
    json!({
        "name": l.name,
        "description": l.description,
        "phases": l.phases.iter().map(|p| json!({
            "name": p.name,
            "environments": p.environments,
            "minimum_environments": p.minimum_environments,
            "optional": p.optional,
            "automatic": p.automatic, "prestage": p.prestage,
        })).collect::<Vec<_>>(),
    })
}

pub async fn run(cmd: LifecycleCmd, x: Env) -> anyhow::Result<()> {
    let c = &x.client;
    let mut api = c.lifecycles.clone();
    match cmd {
        LifecycleCmd::Create {
            name,
            phases,
            description,
        } => {
            let phases = phases
                .iter()
                .map(|p| parse_phase(p))
                .collect::<Result<_, _>>()?;
            let l = c
                .call(api.create(c.req(pb::Lifecycle {
                    name,
                    description,
                    phases,
                })))
                .await?;
            done(
                x.output,
                lifecycle_json(&l),
                &format!(
                    "lifecycle '{}' created with {} phase(s)",
                    l.name,
                    l.phases.len()
                ),
            );
        }
        LifecycleCmd::List => {
            let ls = all_pages(|t| {
                let mut api = c.lifecycles.clone();
                let r = c.req(page(t));
                async move {
                    let r = c.call(api.list(r)).await?;
                    Ok((r.lifecycles, r.next_page_token))
                }
            })
            .await?;
            let rows = ls
                .iter()
                .map(|l| {
                    vec![
                        l.name.clone(),
                        l.phases
                            .iter()
                            .map(|p| p.name.clone())
                            .collect::<Vec<_>>()
                            .join(" -> "),
                    ]
                })
                .collect();
            emit(
                x.output,
                json!(ls.iter().map(lifecycle_json).collect::<Vec<_>>()),
                &["NAME", "PHASES"],
                rows,
            );
        }
        LifecycleCmd::Show { name } => {
            let l = c.call(api.get(c.req(pb::ByName { name }))).await?;
            match x.output {
                crate::output::Format::Json => emit_one(x.output, lifecycle_json(&l), vec![]),
                crate::output::Format::Table => {
                    println!("{} {}", l.name, l.description);
                    let rows = l
                        .phases
                        .iter()
                        .enumerate()
                        .map(|(i, p)| {
                            vec![
                                (i + 1).to_string(),
                                p.name.clone(),
                                p.environments.join(","),
                                rule(p),
                            ]
                        })
                        .collect();
                    emit(
                        x.output,
                        json!(null),
                        &["#", "PHASE", "ENVIRONMENTS", "RULE"],
                        rows,
                    );
                }
            }
        }
        LifecycleCmd::Update {
            name,
            phases,
            description,
        } => {
            let mut l = c.call(api.get(c.req(pb::ByName { name }))).await?;
            if !phases.is_empty() {
                l.phases = phases
                    .iter()
                    .map(|p| parse_phase(p))
                    .collect::<Result<_, _>>()?;
            }
            if let Some(d) = description {
                l.description = d;
            }
            let l = c.call(api.update(c.req(l))).await?;
            done(
                x.output,
                lifecycle_json(&l),
                &format!("lifecycle '{}' updated", l.name),
            );
        }
        LifecycleCmd::Delete { name, yes } => {
            super::confirm::confirm(&format!("delete lifecycle '{name}'"), &[], yes)?;
            c.call(api.delete(c.req(pb::ByName { name: name.clone() })))
                .await?;
            done(
                x.output,
                deleted("lifecycle", &name),
                &format!("lifecycle '{name}' deleted"),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "tests/lifecycle.rs"]
mod tests;
