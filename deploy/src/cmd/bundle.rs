//! `deploy bundle add|list|show|import`: Release Bundles received from another Space, kept
//! pending (verified) until they are inspected and imported as a Remote Project's release.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use proto::space::v1 as pb;
use serde_json::json;

use super::Env;
use crate::output::{emit, emit_one, time};

#[derive(Subcommand)]
pub enum BundleCmd {
    /// Verify a bundle file (signature by a Space trusted for releases, schema, target, keys)
    /// and keep it pending. Adding the same bundle again changes nothing.
    Add { file: PathBuf },
    /// List bundles received, pending or imported.
    List,
    /// Show a bundle: packages (present or missing), variables (sensitive masked), templates,
    /// process, earlier deployments.
    Show { id: String },
    /// Connected: fetch the chunks a pending bundle's packages lack from the Space that sent it
    /// (each verified; resumes where an earlier fetch stopped).
    Fetch { id: String },
    /// Import a pending bundle: verify it and every package, then create or update the Remote
    /// Project "<Space>: <project>" and its release, all or nothing.
    Import {
        id: String,
        /// The lifecycle for the Remote Project (needed unless this Space has only one, or the
        /// project exists).
        #[arg(long)]
        lifecycle: Option<String>,
    },
    /// Which Spaces' bundles this Space imports by itself.
    #[command(subcommand)]
    AutoImport(super::automation::AutoImportCmd),
}

fn packages_cell(b: &pb::BundleSummary) -> String {
    if b.packages_missing == 0 {
        return format!("{} present", b.packages);
    }
    let missing = format!("{} of {} missing", b.packages_missing, b.packages);
    match &b.fetch {
        Some(f) if f.bytes_total > 0 => format!(
            "{missing}, fetching {}% ({:.1} MB/s, ETA {}s)",
            f.bytes_done * 100 / f.bytes_total,
            f.bytes_per_second as f64 / 1e6,
            f.eta_seconds
        ),
        _ => missing,
    }
}

use proto::json::bundle_summary as summary_json;

pub async fn run(cmd: BundleCmd, x: Env) -> anyhow::Result<()> {
    let c = &x.client;
    let mut api = c.promotion.clone();
    match cmd {
        BundleCmd::AutoImport(a) => return super::automation::auto_import(a, x).await,
        BundleCmd::Add { file } => {
            let bytes = std::fs::read(&file)
                .with_context(|| format!("cannot read '{}'", file.display()))?;
            let msgs: Vec<pb::FileData> = bytes
                .chunks(1 << 20)
                .map(|d| pb::FileData { data: d.to_vec() })
                .collect();
            let b = c
                .call(api.add_bundle(c.req(tokio_stream::iter(msgs))))
                .await?;
            eprintln!(
                "bundle {} added ({} {} from space '{}', signature verified; packages: {}): inspect it with deploy bundle show {}, import it with deploy bundle import {}",
                b.id,
                b.project,
                b.version,
                b.source_space,
                packages_cell(&b),
                &b.id[..b.id.len().min(12)],
                &b.id[..b.id.len().min(12)]
            );
            if x.output == crate::output::Format::Json {
                crate::output::print_json(&summary_json(&b));
            }
        }
        BundleCmd::List => {
            let bundles = super::all_pages(|t| {
                let mut api = api.clone();
                let c = &c;
                async move {
                    let r = c.call(api.list_bundles(c.req(super::page(t)))).await?;
                    Ok((r.bundles, r.next_page_token))
                }
            })
            .await?;
            let rows = bundles
                .iter()
                .map(|b| {
                    vec![
                        b.id[..b.id.len().min(12)].to_string(),
                        b.source_space.clone(),
                        b.project.clone(),
                        b.version.clone(),
                        b.state.clone(),
                        packages_cell(b),
                        b.added_at
                            .as_ref()
                            .map(|t| time(t.seconds))
                            .unwrap_or_default(),
                    ]
                })
                .collect();
            emit(
                x.output,
                json!(bundles.iter().map(summary_json).collect::<Vec<_>>()),
                &[
                    "ID", "FROM", "PROJECT", "VERSION", "STATE", "PACKAGES", "ADDED",
                ],
                rows,
            );
        }
        BundleCmd::Show { id } => {
            let d = c.call(api.get_bundle(c.req(pb::BundleRef { id }))).await?;
            let b = d.summary.clone().unwrap_or_default();
            if x.output == crate::output::Format::Json {
                let j = proto::json::bundle_detail(&d);
                emit(x.output, j, &[], vec![]);
                return Ok(());
            }
            emit_one(
                x.output,
                json!({}),
                vec![
                    ("bundle", b.id.clone()),
                    ("state", b.state.clone()),
                    (
                        "from space",
                        format!("{} (signed by {})", b.source_space, d.signer),
                    ),
                    ("release", format!("{} {}", b.project, b.version)),
                    ("channel", d.channel.clone()),
                    ("notes", d.notes.clone()),
                    ("schema", b.schema.clone()),
                    ("digest", b.digest.clone()),
                ],
            );
            println!("\nPACKAGES");
            for p in &d.packages {
                let state = if p.chunks_missing == 0 {
                    "present".to_string()
                } else {
                    format!("missing {} of {} chunks", p.chunks_missing, p.chunks)
                };
                println!(
                    "  {} {}  {} bytes  sha256 {}  {state}",
                    p.id, p.version, p.size, p.sha256
                );
            }
            println!("\nPROCESS");
            for s in &d.process {
                let envs = if s.environments.is_empty() {
                    "every environment".to_string()
                } else {
                    s.environments.join(", ")
                };
                println!("  {}. {} ({envs})", s.order, s.name);
            }
            println!("\nVARIABLES");
            for v in &d.variables {
                let value = if v.sensitive {
                    "********"
                } else {
                    v.value.as_str()
                };
                println!(
                    "  {} = {value}  [{}]",
                    v.name,
                    super::variable::scope_text(&v.scope)
                );
            }
            println!("\nTEMPLATES");
            for t in &d.templates {
                println!(
                    "  {} ({}{}{})  {}",
                    t.name,
                    t.kind,
                    if t.mandatory { ", mandatory" } else { "" },
                    if t.default_value.is_empty() {
                        String::new()
                    } else {
                        format!(", default {}", t.default_value)
                    },
                    t.help_text
                );
            }
            if !d.deployments.is_empty() {
                println!("\nEARLIER DEPLOYMENTS");
                for e in &d.deployments {
                    println!("  {}: {}  {}", e.space, e.environment, e.state);
                }
            }
        }
        BundleCmd::Fetch { id } => return super::promotion::fetch(&x, id).await,
        BundleCmd::Import { id, lifecycle } => {
            let r = c
                .call(api.import_bundle(c.req(pb::ImportBundleRequest {
                    id,
                    lifecycle: lifecycle.unwrap_or_default(),
                })))
                .await?;
            eprintln!(
                "release {} of '{}' imported ({}lifecycle {}); signature and every package hash verified",
                r.version,
                r.project,
                if r.project_created {
                    "Remote Project created, "
                } else {
                    ""
                },
                r.lifecycle
            );
            if r.missing.is_empty() {
                eprintln!("every mandatory template value is set: it can be deployed");
            } else {
                eprintln!(
                    "mandatory template values still missing (set them with deploy variable set NAME VALUE --project '{}' --env ENV):",
                    r.project
                );
                super::promotion::print_missing(&x, &r.missing);
            }
        }
    }
    Ok(())
}
