//! `deploy variable preview` and `deploy variable evaluate`: what variables resolve to in a
//! context (environment, target, roles, step, channel, tenant, release) before deploying, as
//! Octopus' variable preview; sensitive values take part as ********.

use clap::Args;
use proto::space::v1 as pb;
use serde_json::json;

use super::Env;
use crate::output::{Format, cell, emit};

/// Where to pretend to deploy.
#[derive(Args)]
pub struct ContextArgs {
    /// The project's name.
    #[arg(long)]
    pub project: String,
    /// The environment deployed to.
    #[arg(long = "env")]
    pub environment: String,
    /// A role of the target (repeat; default: the --target's roles).
    #[arg(long = "role")]
    pub roles: Vec<String>,
    /// The target deployed to (its name is Machine.Name).
    #[arg(long, default_value = "")]
    pub target: String,
    /// The step being run.
    #[arg(long, default_value = "")]
    pub step: String,
    /// The release's channel (default: the project's default channel, or the release's).
    #[arg(long, default_value = "")]
    pub channel: String,
    /// The tenant deployed for.
    #[arg(long, default_value = "")]
    pub tenant: String,
    /// Use this release's frozen variables (default: the project's current ones).
    #[arg(long, default_value = "")]
    pub release: String,
}

impl From<ContextArgs> for pb::VariableContext {
    fn from(a: ContextArgs) -> Self {
        let ContextArgs {
            project,
            environment,
            roles,
            target,
            step,
            channel,
            tenant,
            release,
        } = a;
        pb::VariableContext {
            project,
            environment,
            roles,
            target,
            step,
            channel,
            tenant,
            release,
        }
    }
}

pub async fn preview(x: &Env, ctx: ContextArgs) -> anyhow::Result<()> {
    let c = &x.client;
    let mut api = c.variables.clone();
    let r = c.call(api.preview(c.req(ctx.into()))).await?;
    let rows = r
        .variables
        .iter()
        .map(|v| {
            let value = if v.error.is_empty() {
                v.value.clone()
            } else {
                format!("(error: {})", v.error)
            };
            vec![v.name.clone(), value]
        })
        .collect();
    emit(
        x.output,
        json!(
            r.variables
                .iter()
                .map(|v| json!({
                    "name": v.name, "value": v.value, "sensitive": v.sensitive,
                    "error": (!v.error.is_empty()).then_some(&v.error),
                }))
                .collect::<Vec<_>>()
        ),
        &["NAME", "VALUE"],
        rows,
    );
    Ok(())
}

pub async fn evaluate(
    x: &Env,
    template: String,
    ctx: ContextArgs,
    mode: Option<String>,
) -> anyhow::Result<()> {
    let c = &x.client;
    let mut api = c.variables.clone();
    let r = c
        .call(api.evaluate(c.req(pb::EvaluateTemplateRequest {
            context: Some(ctx.into()),
            template,
            mode: mode.unwrap_or_default(),
        })))
        .await?;
    for w in &r.warnings {
        eprintln!("warning: {}", cell(w));
    }
    match x.output {
        Format::Json => emit(
            x.output,
            json!({"text": r.text, "warnings": r.warnings, "mode": r.mode}),
            &[],
            vec![],
        ),
        Format::Table => {
            let text = crate::output::printable(&r.text);
            if text.ends_with('\n') {
                print!("{text}");
            } else {
                println!("{text}");
            }
        }
    }
    Ok(())
}
