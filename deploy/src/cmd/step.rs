//! `deploy step ...`: the steps of a project's deployment process.

use anyhow::bail;
use clap::{Args, Subcommand};
use proto::space::v1 as pb;
use serde_json::json;

use super::Env;
use crate::output::{deleted, done};
use crate::output::{emit, emit_one, join};

#[derive(Args, Clone)]
pub struct StepSpec {
    /// Inline script body.
    #[arg(long, conflicts_with_all = ["script_file", "package"])]
    pub script: Option<String>,
    /// Read the inline script body from a file.
    #[arg(long)]
    pub script_file: Option<std::path::PathBuf>,
    /// Script interpreter: bash, sh or python3.
    #[arg(long, default_value = "bash")]
    pub syntax: String,
    /// Deploy this package (id) to the targets.
    #[arg(long)]
    pub package: Option<String>,
    /// Run the script at this path inside --script-package.
    #[arg(long, requires = "script_package")]
    pub script_path: Option<String>,
    /// The package (id) that holds the script run by --script-path.
    #[arg(long)]
    pub script_package: Option<String>,
    /// Files (glob) in which #{...} is substituted (package steps).
    #[arg(long = "substitute")]
    pub substitute: Vec<String>,
    /// JSON/YAML files that get structured variable replacement (package steps).
    #[arg(long = "structured")]
    pub structured: Vec<String>,
    /// Run only in this environment (repeat for several; none: every one, or unchanged on update).
    #[arg(long = "env")]
    pub environments: Vec<String>,
    /// Run only on targets with this role (repeat; none: every target, or unchanged on update).
    #[arg(long = "role")]
    pub roles: Vec<String>,
    /// Run only for releases in this channel (repeat; none: every one, or unchanged on update).
    #[arg(long = "channel")]
    pub channels: Vec<String>,
    /// 1-based position in the process.
    #[arg(long)]
    pub order: Option<u32>,
}

impl StepSpec {
    fn action(&self) -> anyhow::Result<Option<pb::step::Action>> {
        if let Some(id) = &self.package {
            return Ok(Some(pb::step::Action::Package(pb::PackageStep {
                package_id: id.clone(),
                substitute_files: self.substitute.clone(),
                structured_files: self.structured.clone(),
            })));
        }
        let body = match (&self.script, &self.script_file) {
            (Some(b), _) => Some(b.clone()),
            (None, Some(f)) => Some(
                std::fs::read_to_string(f)
                    .map_err(|e| anyhow::anyhow!("cannot read script file {}: {e}", f.display()))?,
            ),
            (None, None) => None,
        };
        if body.is_some() || self.script_path.is_some() {
            return Ok(Some(pb::step::Action::Script(pb::ScriptStep {
                syntax: self.syntax.clone(),
                body: body.unwrap_or_default(),
                package_id: self.script_package.clone().unwrap_or_default(),
                script_path: self.script_path.clone().unwrap_or_default(),
            })));
        }
        Ok(None)
    }
}

#[derive(Subcommand)]
pub enum StepCmd {
    /// Add a step: --package ID for a package step, --script/--script-file for a script step.
    Add {
        /// The project's name.
        #[arg(long)]
        project: String,
        /// The step's name.
        #[arg(long)]
        name: String,
        #[command(flatten)]
        spec: StepSpec,
    },
    /// List a project's process.
    List {
        /// The project's name.
        #[arg(long)]
        project: String,
    },
    /// Show a step of a project's process.
    Show {
        /// The project's name.
        #[arg(long)]
        project: String,
        /// The step's name.
        #[arg(long)]
        name: String,
    },
    /// Replace a step's action and scoping (omitted parts keep their value).
    Update {
        /// The project's name.
        #[arg(long)]
        project: String,
        /// The step's name.
        #[arg(long)]
        name: String,
        #[command(flatten)]
        spec: StepSpec,
    },
    /// Delete a step from a project's process.
    Delete {
        /// The project's name.
        #[arg(long)]
        project: String,
        /// The step's name.
        #[arg(long)]
        name: String,
    },
}

pub use proto::json::step as step_json;

pub fn step_summary(s: &pb::Step) -> String {
    match &s.action {
        Some(pb::step::Action::Package(p)) => format!("deploy package {}", p.package_id),
        Some(pb::step::Action::Script(sc)) if !sc.package_id.is_empty() => {
            format!("{} {} from {}", sc.syntax, sc.script_path, sc.package_id)
        }
        Some(pb::step::Action::Script(sc)) => {
            let first = sc.body.lines().next().unwrap_or("");
            format!("{} script: {first}", sc.syntax)
        }
        None => "-".into(),
    }
}

pub fn step_rows(steps: &[pb::Step]) -> Vec<Vec<String>> {
    steps
        .iter()
        .map(|s| {
            vec![
                s.order.to_string(),
                s.name.clone(),
                step_summary(s),
                join(&s.environments),
                join(&s.roles),
            ]
        })
        .collect()
}

pub const STEP_HEADERS: &[&str] = &["#", "STEP", "ACTION", "ENVIRONMENTS", "ROLES"];

/// A step may name a package before its first version is uploaded (a pipeline sets up the
/// process, then pushes packages); say so on stderr, since `release create` will need one.
async fn warn_if_not_in_feed(x: &Env, s: &pb::Step) -> anyhow::Result<()> {
    let id = match &s.action {
        Some(pb::step::Action::Package(p)) => &p.package_id,
        Some(pb::step::Action::Script(sc)) if !sc.package_id.is_empty() => &sc.package_id,
        _ => return Ok(()),
    };
    let c = &x.client;
    let mut api = c.packages.clone();
    let found = c
        .call(api.list(c.req(pb::ListPackagesRequest {
            id: id.clone(),
            page: Some(pb::PageRequest {
                page_size: 1,
                page_token: String::new(),
            }),
        })))
        .await?;
    if found.packages.is_empty() {
        eprintln!(
            "warning: the feed has no package '{}' yet: upload one (deploy package upload FILE --id {}) before release create",
            crate::output::cell(id),
            crate::output::cell(id)
        );
    }
    Ok(())
}

pub async fn step(cmd: StepCmd, x: Env) -> anyhow::Result<()> {
    let c = &x.client;
    let mut api = c.process.clone();
    match cmd {
        StepCmd::Add {
            project,
            name,
            spec,
        } => {
            let Some(action) = spec.action()? else {
                bail!("say what the step does: --package ID, --script BODY or --script-file FILE");
            };
            let s = c
                .call(api.add_step(c.req(pb::Step {
                    project,
                    name,
                    order: spec.order.unwrap_or(0),
                    environments: spec.environments,
                    roles: spec.roles,
                    action: Some(action),
                    channels: spec.channels,
                })))
                .await?;
            done(
                x.output,
                step_json(&s),
                &format!("step '{}' added at position {}", s.name, s.order),
            );
            warn_if_not_in_feed(&x, &s).await?;
        }
        StepCmd::List { project } => {
            let r = c
                .call(api.list(c.req(pb::ByName { name: project })))
                .await?;
            emit(
                x.output,
                json!(r.steps.iter().map(step_json).collect::<Vec<_>>()),
                STEP_HEADERS,
                step_rows(&r.steps),
            );
        }
        StepCmd::Show { project, name } => {
            let s = c
                .call(api.get_step(c.req(pb::ProjectScoped { project, name })))
                .await?;
            emit_one(
                x.output,
                step_json(&s),
                vec![
                    ("name", s.name.clone()),
                    ("order", s.order.to_string()),
                    ("action", step_summary(&s)),
                    ("environments", join(&s.environments)),
                    ("roles", join(&s.roles)),
                    ("channels", join(&s.channels)),
                ],
            );
        }
        StepCmd::Update {
            project,
            name,
            spec,
        } => {
            let mut s = c
                .call(api.get_step(c.req(pb::ProjectScoped { project, name })))
                .await?;
            if let Some(a) = spec.action()? {
                s.action = Some(a);
            }
            if !spec.environments.is_empty() {
                s.environments = spec.environments;
            }
            if !spec.roles.is_empty() {
                s.roles = spec.roles;
            }
            if !spec.channels.is_empty() {
                s.channels = spec.channels;
            }
            if let Some(o) = spec.order {
                s.order = o;
            }
            let s = c.call(api.update_step(c.req(s))).await?;
            done(
                x.output,
                step_json(&s),
                &format!("step '{}' updated", s.name),
            );
            warn_if_not_in_feed(&x, &s).await?;
        }
        StepCmd::Delete { project, name } => {
            c.call(api.delete_step(c.req(pb::ProjectScoped {
                project,
                name: name.clone(),
            })))
            .await?;
            done(
                x.output,
                deleted("step", &name),
                &format!("step '{name}' deleted"),
            );
        }
    }
    Ok(())
}
