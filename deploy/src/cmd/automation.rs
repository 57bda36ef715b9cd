//! `deploy promotion list|staged|cancel` (automatic promotions and packages staged ahead, where
//! each stands) and
//! `deploy bundle auto-import set|list|delete` (which source Spaces' bundles this Space
//! imports by itself, with which lifecycle).

use clap::Subcommand;
use proto::space::v1 as pb;
use serde_json::json;

use super::{Env, all_pages, page};
use crate::output::{emit, emit_one, time};

#[derive(Subcommand)]
pub enum PromotionCmd {
    /// Automatic and scheduled promotions: scheduled, queued, retrying (with the reason),
    /// offered, fetching, deployed (with the result), failed.
    List {
        /// Only this project's promotions.
        #[arg(long)]
        project: Option<String>,
        /// Only this release's (with --project).
        #[arg(long, requires = "project")]
        version: Option<String>,
    },
    /// Releases whose packages are replicated to a Space ahead of the promotion (lifecycle
    /// phases with `:prestage`): queued, retrying (with the reason), staged, failed.
    Staged,
    /// Cancel a promotion not offered yet.
    Cancel {
        /// The project's name.
        #[arg(long)]
        project: String,
        /// The release's version.
        #[arg(long)]
        version: String,
        /// The Space the release was to be promoted to.
        #[arg(long)]
        to_space: String,
    },
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
        /// The source Space.
        #[arg(long = "from")]
        from: String,
        /// The project of the source Space whose rule goes (default: the Space-wide rule).
        #[arg(long, default_value = "")]
        project: String,
    },
}

fn opt_time(t: &Option<prost_types::Timestamp>) -> String {
    t.as_ref().map(|t| time(t.seconds)).unwrap_or_default()
}

/// A page of the promotions of a project (and release), or of all when empty.
fn of_page(token: String, project: &str, version: &str) -> pb::ListPromotionsRequest {
    let p = page(token);
    pb::ListPromotionsRequest {
        page_size: p.page_size,
        page_token: p.page_token,
        project: project.to_string(),
        version: version.to_string(),
    }
}

pub async fn promotions(cmd: PromotionCmd, x: Env) -> anyhow::Result<()> {
    let c = &x.client;
    match cmd {
        PromotionCmd::Staged => {
            let mut api = c.promotion.clone();
            let r = c
                .call(api.list_promotions(c.req(of_page(String::new(), "", ""))))
                .await?;
            let j =
                json!(r.stagings.iter().map(|s| json!({
                "project": s.project, "version": s.version, "target_space": s.target_space,
                "state": s.state, "detail": s.detail, "attempts": s.attempts,
                "updated_at": opt_time(&s.updated_at),
            })).collect::<Vec<_>>());
            let rows = r
                .stagings
                .iter()
                .map(|s| {
                    vec![
                        s.project.clone(),
                        s.version.clone(),
                        s.target_space.clone(),
                        s.state.clone(),
                        s.detail.clone(),
                        opt_time(&s.updated_at),
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
        PromotionCmd::List { project, version } => {
            let (project, version) = (project.unwrap_or_default(), version.unwrap_or_default());
            let jobs = all_pages(|t| {
                let mut api = c.promotion.clone();
                let req = of_page(t, &project, &version);
                async move {
                    let r = c.call(api.list_promotions(c.req(req))).await?;
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
        PromotionCmd::Cancel {
            project,
            version,
            to_space,
        } => {
            let mut api = c.promotion.clone();
            c.call(api.cancel_promotion(c.req(pb::PromotionJobRef {
                project: project.clone(),
                version: version.clone(),
                to_space: to_space.clone(),
            })))
            .await?;
            eprintln!("promotion of {project} {version} to '{to_space}' cancelled");
        }
    }
    Ok(())
}

/// A time as people give it: RFC 3339, or `+N` seconds/minutes/hours/days from now (`+90s`,
/// `+10m`, `+2h`, `+1d`).
pub fn parse_at(s: &str) -> anyhow::Result<i64> {
    let s = s.trim();
    if let Some(rel) = s.strip_prefix('+') {
        let split = rel.find(|c: char| !c.is_ascii_digit()).unwrap_or(rel.len());
        let (n, unit) = rel.split_at(split);
        let n: i64 = n
            .parse()
            .map_err(|_| anyhow::anyhow!("'{s}' is not a time: use RFC 3339 or +30s, +10m, +2h"))?;
        let mult = match unit {
            "" | "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            u => anyhow::bail!("'{u}' in '{s}' is not a unit: use s, m, h or d"),
        };
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        return Ok(now + n.saturating_mul(mult));
    }
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|e| {
            anyhow::anyhow!(
                "'{s}' is not a time (RFC 3339, e.g. 2026-12-24T18:00:00Z, or +10m): {e}"
            )
        })
}

/// `release promote --at`: queues the promotion for that time.
pub async fn schedule(
    x: &Env,
    project: String,
    version: String,
    to_space: String,
    at: &str,
) -> anyhow::Result<()> {
    let c = &x.client;
    let at = parse_at(at)?;
    let mut api = c.promotion.clone();
    let j = c
        .call(api.queue_promotion(c.req(pb::QueuePromotionRequest {
            project,
            version,
            to_space,
            at: Some(prost_types::Timestamp {
                seconds: at,
                nanos: 0,
            }),
        })))
        .await?;
    eprintln!(
        "promotion of {} {} to '{}' {} for {} (deploy promotion list; deploy promotion cancel)",
        j.project,
        j.version,
        j.target_space,
        j.state,
        time(at)
    );
    emit_one(
        x.output,
        json!({"project": j.project, "version": j.version, "target_space": j.target_space,
            "state": j.state, "at": time(at)}),
        vec![("state", j.state.clone()), ("at", time(at))],
    );
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

fn at_ts(at: i64) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp {
        seconds: at,
        nanos: 0,
    })
}

/// `release deploy --at`: schedules the deployment.
pub async fn schedule_deployment(
    x: &Env,
    project: String,
    version: String,
    environment: String,
    at: &str,
    tenant: Option<String>,
) -> anyhow::Result<()> {
    let c = &x.client;
    let at = parse_at(at)?;
    let mut api = c.deployments.clone();
    let s = c
        .call(api.schedule(c.req(pb::ScheduleDeploymentRequest {
            project,
            version,
            environment,
            at: at_ts(at),
            tenant: tenant.unwrap_or_default(),
        })))
        .await?;
    eprintln!(
        "deployment of {} {} to {}{} scheduled for {} (deploy deployment scheduled; deploy deployment unschedule)",
        s.project,
        s.version,
        s.environment,
        for_tenant(&s.tenant),
        time(at)
    );
    emit_one(
        x.output,
        scheduled_json(&s),
        vec![("state", s.state.clone()), ("at", time(at))],
    );
    Ok(())
}

/// " for tenant T", or nothing for an untenanted deployment.
fn for_tenant(t: &str) -> String {
    if t.is_empty() {
        String::new()
    } else {
        format!(" for tenant {}", crate::output::cell(t))
    }
}

fn scheduled_json(s: &pb::ScheduledDeployment) -> serde_json::Value {
    json!({"project": s.project, "version": s.version, "environment": s.environment,
        "tenant": (!s.tenant.is_empty()).then_some(&s.tenant),
        "at": opt_time(&s.at), "state": s.state, "deployment": s.deployment_id,
        "reason": s.reason, "created_by": s.created_by})
}

pub async fn list_scheduled(x: &Env) -> anyhow::Result<()> {
    let c = &x.client;
    let all = all_pages(|t| {
        let mut api = c.deployments.clone();
        async move {
            let r = c.call(api.list_scheduled(c.req(page(t)))).await?;
            Ok((r.scheduled, r.next_page_token))
        }
    })
    .await?;
    let rows = all
        .iter()
        .map(|s| {
            let detail = if s.deployment_id.is_empty() {
                s.reason.clone()
            } else {
                s.deployment_id.clone()
            };
            vec![
                s.project.clone(),
                s.version.clone(),
                s.environment.clone(),
                s.tenant.clone(),
                opt_time(&s.at),
                s.state.clone(),
                detail,
            ]
        })
        .collect();
    let j = json!(all.iter().map(scheduled_json).collect::<Vec<_>>());
    emit(
        x.output,
        j,
        &[
            "PROJECT",
            "RELEASE",
            "ENVIRONMENT",
            "TENANT",
            "AT",
            "STATE",
            "DETAIL",
        ],
        rows,
    );
    Ok(())
}

pub async fn unschedule(
    x: &Env,
    project: String,
    version: String,
    environment: String,
    tenant: Option<String>,
) -> anyhow::Result<()> {
    let c = &x.client;
    let mut api = c.deployments.clone();
    let tenant = tenant.unwrap_or_default();
    c.call(api.unschedule(c.req(pb::ScheduleDeploymentRequest {
        project: project.clone(),
        version: version.clone(),
        environment: environment.clone(),
        at: None,
        tenant: tenant.clone(),
    })))
    .await?;
    eprintln!(
        "deployment of {project} {version} to {environment}{} unscheduled",
        for_tenant(&tenant)
    );
    Ok(())
}
