//! `deploy release ...`: create releases (frozen process, variables and package versions),
//! list, show, compare two side by side, delete.

use anyhow::anyhow;
use clap::Subcommand;
use proto::space::v1 as pb;
use serde_json::json;

use super::step::{STEP_HEADERS, step_rows};
use super::variable::variable_rows;
use super::{Env, all_pages, page};
use crate::output::{Format, emit, time};
use crate::output::{deleted, done};

#[derive(Subcommand)]
pub enum ReleaseCmd {
    /// Create a release; packages default to their latest version in the feed.
    Create {
        /// The project's name.
        #[arg(long)]
        project: String,
        /// The release's version.
        #[arg(long)]
        version: String,
        /// The channel (default: the project's default channel).
        #[arg(long, default_value = "")]
        channel: String,
        /// Release notes (free text).
        #[arg(long, default_value = "")]
        notes: String,
        /// Pin a package version: ID:VERSION (repeatable).
        #[arg(long = "package")]
        packages: Vec<String>,
    },
    /// List a project's releases.
    List {
        /// The project's name.
        #[arg(long)]
        project: String,
    },
    /// Show a release with its frozen process and variables.
    Show {
        /// The project's name.
        #[arg(long)]
        project: String,
        /// The release's version.
        #[arg(long)]
        version: String,
    },
    /// Compare the process, variables and packages of two releases.
    Compare {
        /// The project's name.
        #[arg(long)]
        project: String,
        from: String,
        to: String,
        /// Also list what did not change.
        #[arg(long)]
        all: bool,
    },
    /// Delete a release (refused for one imported from another Space).
    Delete {
        /// The project's name.
        #[arg(long)]
        project: String,
        /// The release's version.
        #[arg(long)]
        version: String,
    },
    /// Deploy a release to an environment and follow its log (exit code says how it went).
    Deploy {
        /// The project's name.
        #[arg(long)]
        project: String,
        /// The release's version.
        #[arg(long)]
        version: String,
        /// The environment to deploy to.
        #[arg(long = "env")]
        environment: String,
        /// Targets per step at once (default: the server's).
        #[arg(long, default_value_t = 0)]
        max_parallel: u32,
        /// Print the deployment id and return at once.
        #[arg(long)]
        no_follow: bool,
        /// Deploy at this time instead of now (RFC 3339, or +30s, +10m, +2h): listed by
        /// `deploy deployment scheduled`, cancellable with `deploy deployment unschedule`.
        #[arg(long)]
        at: Option<String>,
        /// Deploy for this tenant: its values apply, its packages extract under
        /// {applications}/{tenant}/{environment}/.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Promote a release to another Space: write its signed Release Bundle to a file (--out;
    /// sensitive values encrypted for that Space; packages: deploy package export), or, for a
    /// connected Space, offer it over the peer link (the Space then fetches the chunks it lacks).
    Promote {
        /// The project's name.
        #[arg(long)]
        project: String,
        /// The release's version.
        #[arg(long)]
        version: String,
        /// The Space to promote to (a Remote Space in this Space's ODCM).
        #[arg(long)]
        to_space: String,
        /// Write the bundle here (disconnected); without it the bundle is pushed.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
        /// Push it at this time instead of now (RFC 3339, or +30s, +10m, +2h): queued, listed by
        /// `deploy promotion list`, cancellable with `deploy promotion cancel` until then.
        #[arg(long, conflicts_with = "out")]
        at: Option<String>,
    },
    /// List, per environment, the mandatory variable-template values the release still lacks.
    MissingVariables {
        /// The project's name.
        #[arg(long)]
        project: String,
        /// The release's version.
        #[arg(long)]
        version: String,
    },
}

/// The entries of a comparison to show: unchanged ones only with --all (table and JSON).
fn shown(v: &[pb::Change], all: bool) -> impl Iterator<Item = &pb::Change> {
    v.iter().filter(move |ch| all || ch.kind != "unchanged")
}

use proto::json::release as release_json;

pub async fn run(cmd: ReleaseCmd, x: Env) -> anyhow::Result<()> {
    let c = &x.client;
    let mut api = c.releases.clone();
    match cmd {
        ReleaseCmd::Create {
            project,
            version,
            channel,
            notes,
            packages,
        } => {
            let packages = packages
                .iter()
                .map(|p| {
                    p.rsplit_once(':')
                        .map(|(id, v)| pb::PackageRef {
                            id: id.to_string(),
                            version: v.to_string(),
                        })
                        .ok_or_else(|| anyhow!("--package '{p}' must be ID:VERSION"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let r = c
                .call(api.create(c.req(pb::CreateReleaseRequest {
                    project,
                    version,
                    channel,
                    notes,
                    packages,
                })))
                .await?;
            done(
                x.output,
                release_json(&r),
                &format!(
                    "release {} of '{}' created ({} steps, {} variables, {} packages)",
                    r.version,
                    r.project,
                    r.process.len(),
                    r.variables.len(),
                    r.packages.len()
                ),
            );
        }
        ReleaseCmd::List { project } => {
            let rs = all_pages(|t| {
                let mut api = c.releases.clone();
                let r = c.req(pb::ProjectPage {
                    project: project.clone(),
                    page: Some(page(t)),
                });
                async move {
                    let r = c.call(api.list(r)).await?;
                    Ok((r.releases, r.next_page_token))
                }
            })
            .await?;
            let rows = rs
                .iter()
                .map(|r| {
                    vec![
                        r.version.clone(),
                        r.channel.clone(),
                        r.created_at
                            .as_ref()
                            .map(|t| time(t.seconds))
                            .unwrap_or_default(),
                        r.created_by.clone(),
                        r.notes.lines().next().unwrap_or("").to_string(),
                    ]
                })
                .collect();
            emit(
                x.output,
                json!(rs.iter().map(release_json).collect::<Vec<_>>()),
                &["VERSION", "CHANNEL", "CREATED", "BY", "NOTES"],
                rows,
            );
        }
        ReleaseCmd::Show { project, version } => {
            let r = c
                .call(api.get(c.req(pb::ReleaseRef { project, version })))
                .await?;
            match x.output {
                Format::Json => emit(x.output, release_json(&r), &[], vec![]),
                Format::Table => {
                    println!(
                        "Release {} of {} (channel {})",
                        r.version, r.project, r.channel
                    );
                    if let Some(t) = &r.created_at {
                        println!("Created {} by {}", time(t.seconds), r.created_by);
                    }
                    if !r.notes.is_empty() {
                        println!("Notes: {}", r.notes);
                    }
                    if let Some(o) = &r.origin {
                        println!(
                            "Imported from space {} (project {}) by {}, bundle {} signed by {}",
                            o.source_space, o.source_project, o.imported_by, o.bundle_id, o.signer
                        );
                        if !o.route.is_empty() {
                            let hops: Vec<String> = o
                                .route
                                .iter()
                                .map(|h| format!("{} ({})", h.space, h.project))
                                .collect();
                            println!("  route: {} -> {}", hops.join(" -> "), o.source_space);
                        }
                        for d in &o.deployments {
                            println!("  earlier: {}: {} {}", d.space, d.environment, d.state);
                        }
                    }
                    println!("\nPackages:");
                    let rows = r
                        .packages
                        .iter()
                        .map(|p| {
                            vec![
                                p.step.clone(),
                                p.id.clone(),
                                p.version.clone(),
                                p.sha256.clone(),
                            ]
                        })
                        .collect();
                    emit(
                        x.output,
                        json!(null),
                        &["STEP", "PACKAGE", "VERSION", "SHA256"],
                        rows,
                    );
                    println!("\nProcess:");
                    emit(x.output, json!(null), STEP_HEADERS, step_rows(&r.process));
                    println!("\nVariables:");
                    emit(
                        x.output,
                        json!(null),
                        &["ID", "NAME", "VALUE", "SCOPE"],
                        variable_rows(&r.variables),
                    );
                }
            }
        }
        ReleaseCmd::Compare {
            project,
            from,
            to,
            all,
        } => {
            let r = c
                .call(api.compare(c.req(pb::CompareRequest {
                    project,
                    from_version: from.clone(),
                    to_version: to.clone(),
                })))
                .await?;
            let shown = |v| shown(v, all);
            match x.output {
                Format::Json => emit(
                    x.output,
                    proto::json::comparison(&from, &to, &r, all),
                    &[],
                    vec![],
                ),
                Format::Table => {
                    for (title, changes) in [
                        ("Steps", &r.steps),
                        ("Variables", &r.variables),
                        ("Packages", &r.packages),
                    ] {
                        println!("{title}:");
                        let rows: Vec<Vec<String>> = shown(changes)
                            .map(|ch| {
                                vec![
                                    ch.kind.clone(),
                                    ch.subject.clone(),
                                    ch.from.clone(),
                                    ch.to.clone(),
                                ]
                            })
                            .collect();
                        if rows.is_empty() {
                            println!("  (no changes)");
                        } else {
                            emit(x.output, json!(null), &["CHANGE", "WHAT", &from, &to], rows);
                        }
                        println!();
                    }
                }
            }
        }
        ReleaseCmd::Promote {
            project,
            version,
            to_space,
            out,
            at,
        } => match (out, at) {
            (_, Some(at)) => {
                super::automation::schedule(&x, project, version, to_space, &at).await?
            }
            (Some(out), None) => {
                super::promotion::promote(&x, project, version, to_space, &out).await?
            }
            (None, None) => super::promotion::push(&x, project, version, to_space).await?,
        },
        ReleaseCmd::MissingVariables { project, version } => {
            super::promotion::missing_variables(&x, project, version).await?
        }
        ReleaseCmd::Deploy {
            project,
            version,
            environment,
            max_parallel,
            no_follow,
            at,
            tenant,
        } => {
            if let Some(at) = at {
                return super::automation::schedule_deployment(
                    &x,
                    project,
                    version,
                    environment,
                    &at,
                    tenant,
                )
                .await;
            }
            let request = pb::CreateDeploymentRequest {
                project,
                version,
                environment,
                max_parallel,
                tenant: tenant.unwrap_or_default(),
            };
            return super::deployment::deploy_release(&x, request, no_follow).await;
        }
        ReleaseCmd::Delete { project, version } => {
            c.call(api.delete(c.req(pb::ReleaseRef {
                project,
                version: version.clone(),
            })))
            .await?;
            done(
                x.output,
                deleted("release", &version),
                &format!("release {version} deleted"),
            );
        }
    }
    Ok(())
}
