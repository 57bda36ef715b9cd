//! `deploy promotion list` (automatic promotions and where each stands) and
//! `deploy bundle auto-import set|list|delete` (which source Spaces' bundles this Space
//! imports by itself, with which lifecycle).

use clap::Subcommand;
use proto::space::v1 as pb;
use serde_json::json;

use super::{Env, all_pages, page};
use crate::output::{emit, emit_one, time};

#[derive(Subcommand)]
pub enum PromotionCmd {
    /// Automatic promotions (queued when an automatic phase names another Space): queued,
    /// retrying (with the reason), offered, fetching, deployed (with the result), failed.
    List,
}

#[derive(Subcommand)]
pub enum AutoImportCmd {
    /// Import bundles from a Space (of one project, with --project) with a lifecycle as soon as
    /// their packages are complete; the imported release then starts this Space's own
    /// automatic phases. Without a rule bundles stay pending.
    Set {
        /// The source Space.
        #[arg(long = "from")]
        from: String,
        /// The lifecycle of the Remote Project.
        #[arg(long)]
        lifecycle: String,
        /// Only bundles of this project of the source Space.
        #[arg(long, default_value = "")]
        project: String,
    },
    /// The rules in force.
    List,
    /// Stop importing from a Space (or one of its projects) by itself.
    Delete {
        #[arg(long = "from")]
        from: String,
        #[arg(long, default_value = "")]
        project: String,
    },
}

fn opt_time(t: &Option<prost_types::Timestamp>) -> String {
    t.as_ref().map(|t| time(t.seconds)).unwrap_or_default()
}

pub async fn promotions(cmd: PromotionCmd, x: Env) -> anyhow::Result<()> {
    let c = &x.client;
    match cmd {
        PromotionCmd::List => {
            let jobs = all_pages(|t| {
                let mut api = c.promotion.clone();
                async move {
                    let r = c.call(api.list_promotions(c.req(page(t)))).await?;
                    Ok((r.promotions, r.next_page_token))
                }
            })
            .await?;
            let j = json!(jobs.iter().map(|p| json!({
                "project": p.project, "version": p.version, "target_space": p.target_space,
                "state": p.state, "detail": p.detail, "attempts": p.attempts,
                "next_attempt_at": p.next_attempt_at.as_ref().map(|t| time(t.seconds)),
                "bundle_id": p.bundle_id, "updated_at": opt_time(&p.updated_at), "trigger": p.trigger,
            })).collect::<Vec<_>>());
            let rows = jobs
                .iter()
                .map(|p| {
                    vec![
                        p.project.clone(),
                        p.version.clone(),
                        p.target_space.clone(),
                        p.state.clone(),
                        p.detail.clone(),
                        opt_time(&p.updated_at),
                    ]
                })
                .collect();
            emit(
                x.output,
                j,
                &[
                    "PROJECT", "RELEASE", "TO SPACE", "STATE", "DETAIL", "UPDATED",
                ],
                rows,
            );
        }
    }
    Ok(())
}

fn rule_json(r: &pb::AutoImportRule) -> serde_json::Value {
    json!({
        "source_space": r.source_space, "project": r.project, "lifecycle": r.lifecycle,
        "created_at": opt_time(&r.created_at), "created_by": r.created_by,
    })
}

pub async fn auto_import(cmd: AutoImportCmd, x: Env) -> anyhow::Result<()> {
    let c = &x.client;
    let mut api = c.promotion.clone();
    let rule = |from: String, project: String, lifecycle: String| pb::AutoImportRule {
        source_space: from,
        project,
        lifecycle,
        created_at: None,
        created_by: String::new(),
    };
    match cmd {
        AutoImportCmd::Set {
            from,
            lifecycle,
            project,
        } => {
            let r = c
                .call(api.set_auto_import(c.req(rule(from, project, lifecycle))))
                .await?;
            let scope = if r.project.is_empty() {
                "every project".to_string()
            } else {
                format!("project '{}'", r.project)
            };
            eprintln!(
                "bundles from '{}' ({scope}) are imported with lifecycle '{}' as soon as their packages are complete",
                r.source_space, r.lifecycle
            );
            emit_one(
                x.output,
                rule_json(&r),
                vec![
                    ("from", r.source_space.clone()),
                    ("project", scope),
                    ("lifecycle", r.lifecycle.clone()),
                ],
            );
        }
        AutoImportCmd::List => {
            let r = c.call(api.list_auto_imports(c.req(pb::Empty {}))).await?;
            let rows = r
                .rules
                .iter()
                .map(|r| {
                    vec![
                        r.source_space.clone(),
                        if r.project.is_empty() {
                            "*".into()
                        } else {
                            r.project.clone()
                        },
                        r.lifecycle.clone(),
                        opt_time(&r.created_at),
                    ]
                })
                .collect();
            let j = json!(r.rules.iter().map(rule_json).collect::<Vec<_>>());
            emit(
                x.output,
                j,
                &["FROM", "PROJECT", "LIFECYCLE", "SINCE"],
                rows,
            );
        }
        AutoImportCmd::Delete { from, project } => {
            c.call(api.delete_auto_import(c.req(rule(from.clone(), project, String::new()))))
                .await?;
            eprintln!("bundles from '{from}' stay pending again");
        }
    }
    Ok(())
}
