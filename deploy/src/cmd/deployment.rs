//! `deploy release deploy`, `deploy deployment ...` and `deploy dashboard`: start deployments,
//! follow their logs live, list history, cancel, and the projects x environments view.

use anyhow::bail;
use clap::Subcommand;
use proto::space::v1 as pb;
use serde_json::json;

use super::{Env, all_pages};
use crate::output::{Format, emit, emit_one, time};

#[derive(Subcommand)]
pub enum DeploymentCmd {
    /// List deployments, newest first.
    List {
        /// List only this project's deployments.
        #[arg(long)]
        project: Option<String>,
        /// List only the deployments to this environment.
        #[arg(long)]
        env: Option<String>,
    },
    /// Show a deployment with its per-step, per-target results.
    Show { id: String },
    /// Print a deployment's log, following it live until it ends.
    Logs { id: String },
    /// Cancel a running deployment.
    Cancel { id: String },
    /// Deployments scheduled for a time (`release deploy --at`): scheduled, started, failed.
    Scheduled,
    /// Cancel a scheduled deployment that has not started.
    Unschedule {
        /// The project's name.
        #[arg(long)]
        project: String,
        /// The release's version.
        #[arg(long)]
        version: String,
        /// The environment it was scheduled to deploy to.
        #[arg(long = "env")]
        environment: String,
        /// The tenant it was scheduled for (none: the untenanted one).
        #[arg(long)]
        tenant: Option<String>,
    },
}

pub use proto::json::deployment as deployment_json;
pub(crate) use proto::json::secs;

fn duration(d: &pb::Deployment) -> String {
    match (secs(&d.started_at), secs(&d.finished_at)) {
        (Some(a), Some(b)) => format!("{}s", b - a),
        (Some(_), None) => "running".into(),
        _ => "-".into(),
    }
}

/// The offline drops of a deployment and what their operators reported, as text lines.
fn print_drops(d: &pb::Deployment) {
    for x in &d.drops {
        println!("offline drop for {}: {}", x.target, x.folder);
        match &x.report {
            None => println!("  not run yet (or its result not imported: deploy receipt import)"),
            Some(r) => {
                println!(
                    "  {} (operator-reported, imported by {} at {})",
                    r.state,
                    r.imported_by,
                    secs(&r.imported_at).map(time).unwrap_or_default()
                );
                for s in &r.steps {
                    let code = if s.has_exit_code {
                        format!(" exit {}", s.exit_code)
                    } else {
                        String::new()
                    };
                    println!("    {:<10} {}{code}", s.state, s.name);
                }
            }
        }
    }
}

fn event_json(e: &pb::DeploymentEvent) -> serde_json::Value {
    json!({"at": secs(&e.at).map(time), "step": e.step, "target": e.target,
        "stream": e.stream, "text": e.text})
}

fn print_event(e: &pb::DeploymentEvent) {
    let at = secs(&e.at).map(time).unwrap_or_default();
    let at = at.get(11..19).unwrap_or(&at);
    let whence = match (e.step.is_empty(), e.target.is_empty()) {
        (true, _) => String::new(),
        (false, true) => format!("[{}] ", e.step),
        (false, false) => format!("[{} @ {}] ", e.step, e.target),
    };
    let tag = match e.stream.as_str() {
        "stderr" => "ERR ",
        "warn" => "WARN ",
        _ => "",
    };
    let line = format!("{whence}{tag}{}", e.text);
    println!("{at} {}", crate::output::printable(&line));
}

/// Follows a deployment until it ends (its log printed as it comes, in table form); returns
/// its final state.
pub async fn follow(x: &Env, id: &str) -> anyhow::Result<pb::Deployment> {
    follow_collecting(x, id, &mut Vec::new()).await
}

/// [`follow`], keeping the log lines in `log` (for `-o json`).
async fn follow_collecting(
    x: &Env,
    id: &str,
    log: &mut Vec<pb::DeploymentEvent>,
) -> anyhow::Result<pb::Deployment> {
    let c = &x.client;
    let mut api = c.deployments.clone();
    let mut stream = c
        .call(api.watch(c.req(pb::DeploymentRef { id: id.to_string() })))
        .await?;
    let mut last = None;
    let mut cancelled = false;
    loop {
        let next = tokio::select! {
            m = stream.message() => m.map_err(|s| crate::client::status_error(&c.server, s))?,
            _ = tokio::signal::ctrl_c(), if !cancelled => {
                cancelled = true;
                eprintln!("cancelling {id} (Ctrl-C again to stop watching)");
                let mut api = c.deployments.clone();
                c.call(api.cancel(c.req(pb::DeploymentRef { id: id.to_string() }))).await?;
                continue;
            }
        };
        let Some(e) = next else { break };
        if let Some(d) = e.deployment {
            last = Some(d);
            continue;
        }
        if x.output == Format::Table {
            print_event(&e);
        } else {
            log.push(e);
        }
    }
    match last {
        Some(d) => Ok(d),
        None => {
            let mut api = c.deployments.clone();
            c.call(api.get(c.req(pb::DeploymentRef { id: id.to_string() })))
                .await
        }
    }
}

/// Ends with a non-zero exit unless the deployment succeeded.
pub fn conclude(x: &Env, d: &pb::Deployment) -> anyhow::Result<()> {
    if x.output == Format::Json {
        crate::output::print_json(&deployment_json(d));
    }
    if d.state != "success" {
        let why = if d.error.is_empty() {
            String::new()
        } else {
            format!(": {}", d.error)
        };
        bail!(
            "deployment {} of {} {} to {} {}{why}",
            d.id,
            d.project,
            d.version,
            d.environment,
            d.state
        );
    }
    eprintln!(
        "deployment {} of {} {} to {} succeeded ({})",
        d.id,
        d.project,
        d.version,
        d.environment,
        duration(d)
    );
    Ok(())
}

/// `deploy release deploy`.
pub async fn deploy_release(
    x: &Env,
    request: pb::CreateDeploymentRequest,
    no_follow: bool,
) -> anyhow::Result<()> {
    let c = &x.client;
    let mut api = c.deployments.clone();
    let d = c.call(api.create(c.req(request))).await?;
    eprintln!(
        "{} created: {} {} to {}",
        d.id, d.project, d.version, d.environment
    );
    if no_follow {
        if x.output == Format::Json {
            crate::output::print_json(&deployment_json(&d));
        } else {
            println!("{}", d.id);
        }
        return Ok(());
    }
    let d = follow(x, &d.id).await?;
    conclude(x, &d)
}

pub async fn run(cmd: DeploymentCmd, x: Env) -> anyhow::Result<()> {
    let c = &x.client;
    let mut api = c.deployments.clone();
    match cmd {
        DeploymentCmd::Scheduled => return super::automation::list_scheduled(&x).await,
        DeploymentCmd::Unschedule {
            project,
            version,
            environment,
            tenant,
        } => return super::automation::unschedule(&x, project, version, environment, tenant).await,
        DeploymentCmd::List { project, env } => {
            let ds = all_pages(|t| {
                let mut api = c.deployments.clone();
                let r = c.req(pb::ListDeploymentsRequest {
                    project: project.clone().unwrap_or_default(),
                    environment: env.clone().unwrap_or_default(),
                    page: Some(super::page(t)),
                });
                async move {
                    let r = c.call(api.list(r)).await?;
                    Ok((r.deployments, r.next_page_token))
                }
            })
            .await?;
            let rows = ds
                .iter()
                .map(|d| {
                    vec![
                        d.id.clone(),
                        d.project.clone(),
                        d.version.clone(),
                        d.environment.clone(),
                        d.state.clone(),
                        duration(d),
                        d.created_by.clone(),
                        secs(&d.created_at).map(time).unwrap_or_default(),
                    ]
                })
                .collect();
            emit(
                x.output,
                json!(ds.iter().map(deployment_json).collect::<Vec<_>>()),
                &[
                    "ID",
                    "PROJECT",
                    "RELEASE",
                    "ENVIRONMENT",
                    "STATE",
                    "DURATION",
                    "BY",
                    "CREATED",
                ],
                rows,
            );
        }
        DeploymentCmd::Show { id } => {
            let d = c.call(api.get(c.req(pb::DeploymentRef { id }))).await?;
            match x.output {
                Format::Json => emit_one(x.output, deployment_json(&d), vec![]),
                Format::Table => {
                    println!(
                        "{}: {} {} to {} — {} ({}), by {}",
                        d.id,
                        d.project,
                        d.version,
                        d.environment,
                        d.state,
                        duration(&d),
                        d.created_by
                    );
                    if !d.error.is_empty() {
                        println!("error: {}", d.error);
                    }
                    let rows = d
                        .steps
                        .iter()
                        .flat_map(|s| {
                            let mut v = vec![vec![
                                s.name.clone(),
                                String::new(),
                                s.state.clone(),
                                String::new(),
                                String::new(),
                                String::new(),
                            ]];
                            v.extend(s.targets.iter().map(|t| {
                                vec![
                                    String::new(),
                                    t.target.clone(),
                                    t.state.clone(),
                                    if t.has_exit_code {
                                        t.exit_code.to_string()
                                    } else {
                                        "-".into()
                                    },
                                    t.transferred_bytes.to_string(),
                                    t.error.clone(),
                                ]
                            }));
                            v
                        })
                        .collect();
                    emit(
                        x.output,
                        json!(null),
                        &["STEP", "TARGET", "STATE", "EXIT", "BYTES", "ERROR"],
                        rows,
                    );
                    print_drops(&d);
                }
            }
        }
        DeploymentCmd::Logs { id } => {
            let mut log = Vec::new();
            let d = follow_collecting(&x, &id, &mut log).await?;
            if x.output == Format::Json {
                let lines: Vec<_> = log.iter().map(event_json).collect();
                let j = json!({"id": d.id, "state": d.state, "log": lines});
                crate::output::emit(x.output, j, &[], vec![]);
            }
            eprintln!("{} {}", d.id, d.state);
        }
        DeploymentCmd::Cancel { id } => {
            let d = c.call(api.cancel(c.req(pb::DeploymentRef { id }))).await?;
            eprintln!("cancel requested for {}", d.id);
        }
    }
    Ok(())
}
