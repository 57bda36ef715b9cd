//! `deploy variable ...` and `deploy template ...`. Sensitive values are write-only: they are
//! never printed, and can be read from stdin so they stay out of shell history.

use std::io::Read;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use proto::space::v1 as pb;
use serde_json::json;

use super::{Env, all_pages, page};
use crate::output::emit;
use crate::output::{deleted, done};
use domain::variables::MASK;
pub use proto::json::{scope_text, template as template_json, variable as variable_json};

#[derive(Args, Clone, Default)]
pub struct ScopeArgs {
    /// Scope: only in this environment (repeat for several).
    #[arg(long = "env")]
    pub environments: Vec<String>,
    /// Scope: only on targets with this role (repeat for several).
    #[arg(long = "role")]
    pub roles: Vec<String>,
    /// Scope: only on this target (repeat for several).
    #[arg(long = "target")]
    pub targets: Vec<String>,
    /// Scope: only in this step (repeat for several).
    #[arg(long = "step")]
    pub steps: Vec<String>,
    /// Scope: only for releases in this channel (repeat for several).
    #[arg(long = "channel")]
    pub channels: Vec<String>,
    /// Scope: only for this tenant (repeat for several).
    #[arg(long = "tenant")]
    pub tenants: Vec<String>,
}

impl From<ScopeArgs> for pb::Scope {
    fn from(s: ScopeArgs) -> Self {
        pb::Scope {
            environments: s.environments,
            roles: s.roles,
            targets: s.targets,
            steps: s.steps,
            channels: s.channels,
            tenants: s.tenants,
        }
    }
}

#[derive(Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once per process
pub enum VariableCmd {
    /// Set a variable value (a new value, or replace one with --id).
    Set {
        name: String,
        /// The value; omit it to read it from stdin (recommended for sensitive values).
        value: Option<String>,
        /// The project's name.
        #[arg(long)]
        project: String,
        /// Store the value sealed; it is never shown again.
        #[arg(long)]
        sensitive: bool,
        /// Replace the value with this id instead of adding one.
        #[arg(long)]
        id: Option<String>,
        /// A free-text description.
        #[arg(long, default_value = "")]
        description: String,
        #[command(flatten)]
        scope: ScopeArgs,
    },
    /// Set many values at once from a JSON file, all or nothing: an array of objects with
    /// `name`, `value`, and optionally `sensitive`, `description`, `environments`, `roles`,
    /// `targets`, `steps`, `channels`, `tenants` (lists).
    Import {
        file: std::path::PathBuf,
        /// The project's name.
        #[arg(long)]
        project: String,
    },
    /// List a project's variables (sensitive values shown as ********).
    List {
        /// The project's name.
        #[arg(long)]
        project: String,
    },
    /// What every variable resolves to for one deployment context (sensitive ones masked).
    Preview {
        #[command(flatten)]
        context: super::variable_preview::ContextArgs,
    },
    /// Evaluate one template (#{if}, #{each}, filters...) in a deployment context.
    Evaluate {
        /// The template, e.g. '#{Url | ToLower}'.
        template: String,
        #[command(flatten)]
        context: super::variable_preview::ContextArgs,
        /// strict or compatible (default: as the variables say, Deploy.Template.Mode).
        #[arg(long, value_parser = ["strict", "compatible"])]
        mode: Option<String>,
    },
    /// Delete one value by id.
    Delete {
        id: String,
        /// The project's name.
        #[arg(long)]
        project: String,
    },
}

pub fn variable_rows(vs: &[pb::Variable]) -> Vec<Vec<String>> {
    vs.iter()
        .map(|v| {
            vec![
                v.id.clone(),
                v.name.clone(),
                if v.sensitive {
                    MASK.into()
                } else {
                    v.value.clone()
                },
                scope_text(&v.scope),
            ]
        })
        .collect()
}

pub async fn variable(cmd: VariableCmd, x: Env) -> anyhow::Result<()> {
    let c = &x.client;
    let mut api = c.variables.clone();
    match cmd {
        VariableCmd::Set {
            name,
            value,
            project,
            sensitive,
            id,
            description,
            scope,
        } => {
            let value = match value {
                Some(v) => v,
                None => {
                    let mut s = String::new();
                    std::io::stdin()
                        .read_to_string(&mut s)
                        .context("cannot read the value from stdin")?;
                    s.strip_suffix('\n').map(str::to_string).unwrap_or(s)
                }
            };
            let r = c
                .call(api.set(c.req(pb::Variable {
                    project,
                    id: id.unwrap_or_default(),
                    name,
                    value,
                    sensitive,
                    scope: Some(scope.into()),
                    description,
                })))
                .await?;
            let v = r.variable.unwrap_or_default();
            let line = format!(
                "variable '{}' {} ({}, {})",
                crate::output::printable(&v.name),
                if r.replaced {
                    "replaced: it had a value with this scope"
                } else {
                    "set"
                },
                v.id,
                scope_text(&v.scope)
            );
            for n in &r.notes {
                eprintln!("note: {}", crate::output::printable(n));
            }
            done(x.output, variable_json(&v), &line);
        }
        VariableCmd::Import { file, project } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| anyhow::anyhow!("cannot read '{}': {e}", file.display()))?;
            let items: Vec<ImportedVariable> = serde_json::from_str(&text).map_err(|e| {
                anyhow::anyhow!("'{}' is not a JSON array of variables: {e}", file.display())
            })?;
            let n = items.len();
            let variables = items.into_iter().map(Into::into).collect();
            let mut api = c.variables.clone();
            let r = c
                .call(api.set_many(c.req(pb::VariableBatch {
                    project: project.clone(),
                    variables,
                })))
                .await?;
            let sensitive = r.variables.iter().filter(|v| v.sensitive).count();
            done(
                x.output,
                json!({"project": project, "set": n, "sensitive": sensitive}),
                &format!(
                    "{n} variable value(s) set on project '{project}' ({sensitive} sensitive)"
                ),
            );
        }
        VariableCmd::Preview { context } => {
            return super::variable_preview::preview(&x, context).await;
        }
        VariableCmd::Evaluate {
            template,
            context,
            mode,
        } => return super::variable_preview::evaluate(&x, template, context, mode).await,
        VariableCmd::List { project } => {
            let vs = all_pages(|t| {
                let mut api = c.variables.clone();
                let r = c.req(pb::ProjectPage {
                    project: project.clone(),
                    page: Some(page(t)),
                });
                async move {
                    let r = c.call(api.list(r)).await?;
                    Ok((r.variables, r.next_page_token))
                }
            })
            .await?;
            emit(
                x.output,
                json!(vs.iter().map(variable_json).collect::<Vec<_>>()),
                &["ID", "NAME", "VALUE", "SCOPE"],
                variable_rows(&vs),
            );
        }
        VariableCmd::Delete { id, project } => {
            c.call(api.delete(c.req(pb::VariableId {
                project,
                id: id.clone(),
            })))
            .await?;
            done(
                x.output,
                deleted("variable", &id),
                &format!("variable {id} deleted"),
            );
        }
    }
    Ok(())
}

#[derive(Subcommand)]
pub enum TemplateCmd {
    /// Declare (or replace) a variable template.
    Set {
        name: String,
        /// The project's name.
        #[arg(long)]
        project: String,
        /// A short human-readable label for the variable.
        #[arg(long, default_value = "")]
        label: String,
        /// A longer explanation of what value to give.
        #[arg(long = "help-text", default_value = "")]
        help_text: String,
        /// text, multiline, sensitive or boolean.
        #[arg(long, default_value = "text")]
        kind: String,
        /// A release cannot be deployed to an environment without a value (or a default).
        #[arg(long)]
        mandatory: bool,
        /// The value used when none is set (not allowed for sensitive templates).
        #[arg(long)]
        default: Option<String>,
    },
    /// List a project's variable templates.
    List {
        /// The project's name.
        #[arg(long)]
        project: String,
    },
    /// Delete a variable template.
    Delete {
        name: String,
        /// The project's name.
        #[arg(long)]
        project: String,
    },
}

pub async fn template(cmd: TemplateCmd, x: Env) -> anyhow::Result<()> {
    let c = &x.client;
    let mut api = c.variables.clone();
    match cmd {
        TemplateCmd::Set {
            name,
            project,
            label,
            help_text,
            kind,
            mandatory,
            default,
        } => {
            if kind == "sensitive" && default.is_some() {
                bail!("a sensitive template cannot have a default value");
            }
            let t = c
                .call(api.set_template(c.req(pb::VariableTemplate {
                    project,
                    name,
                    label,
                    help_text,
                    kind,
                    mandatory,
                    default_value: default.unwrap_or_default(),
                })))
                .await?;
            done(
                x.output,
                template_json(&t),
                &format!("template '{}' set", t.name),
            );
        }
        TemplateCmd::List { project } => {
            let r = c
                .call(api.list_templates(c.req(pb::ByName { name: project })))
                .await?;
            let rows = r
                .templates
                .iter()
                .map(|t| {
                    vec![
                        t.name.clone(),
                        t.kind.clone(),
                        if t.mandatory {
                            "yes".into()
                        } else {
                            "no".into()
                        },
                        t.default_value.clone(),
                        t.label.clone(),
                    ]
                })
                .collect();
            emit(
                x.output,
                json!(r.templates.iter().map(template_json).collect::<Vec<_>>()),
                &["NAME", "KIND", "MANDATORY", "DEFAULT", "LABEL"],
                rows,
            );
        }
        TemplateCmd::Delete { name, project } => {
            c.call(api.delete_template(c.req(pb::ProjectScoped {
                project,
                name: name.clone(),
            })))
            .await?;
            done(
                x.output,
                deleted("template", &name),
                &format!("template '{name}' deleted"),
            );
        }
    }
    Ok(())
}

/// One entry of a `deploy variable import` file.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportedVariable {
    name: String,
    value: String,
    #[serde(default)]
    sensitive: bool,
    #[serde(default)]
    description: String,
    #[serde(default)]
    environments: Vec<String>,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    targets: Vec<String>,
    #[serde(default)]
    steps: Vec<String>,
    #[serde(default)]
    channels: Vec<String>,
    #[serde(default)]
    tenants: Vec<String>,
}

impl From<ImportedVariable> for pb::Variable {
    fn from(v: ImportedVariable) -> Self {
        pb::Variable {
            project: String::new(),
            id: String::new(),
            name: v.name,
            value: v.value,
            sensitive: v.sensitive,
            scope: Some(pb::Scope {
                environments: v.environments,
                roles: v.roles,
                targets: v.targets,
                steps: v.steps,
                channels: v.channels,
                tenants: v.tenants,
            }),
            description: v.description,
        }
    }
}
