//! `deploy project export` and `deploy project apply`: a project's configuration as a YAML or
//! JSON document for source control, and applied back (plan first, then all or nothing).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use proto::space::v1 as pb;
use serde_json::json;

use super::Env;
use crate::output::{Format, cell, done, print_json};

/// `deploy project export NAME [--out FILE|DIR] [--format yaml|json]`.
pub async fn export(
    x: &Env,
    name: String,
    out: Option<PathBuf>,
    format: Option<String>,
) -> anyhow::Result<()> {
    let format = match (format, &out) {
        (Some(f), _) => f,
        (None, Some(p)) if p.extension().is_some_and(|e| e == "json") => "json".into(),
        _ => "yaml".into(),
    };
    let c = &x.client;
    let mut api = c.projects.clone();
    let doc = c
        .call(api.export(c.req(pb::ExportProjectRequest { name, format })))
        .await?;
    let Some(out) = out else {
        print!("{}", doc.text);
        return Ok(());
    };
    let path = if out.is_dir() {
        out.join(format!("{}.{}", file_name(&doc.project), doc.format))
    } else {
        out
    };
    std::fs::write(&path, &doc.text).with_context(|| format!("cannot write {}", path.display()))?;
    done(
        x.output,
        json!({"project": doc.project, "file": path.display().to_string()}),
        &path.display().to_string(),
    );
    Ok(())
}

/// A project name as a file name: path separators and control characters become `_`.
fn file_name(project: &str) -> String {
    project
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// The documents to apply: FILE, or every .yaml, .yml and .json file of DIR in name order.
fn documents(path: &Path) -> anyhow::Result<Vec<(PathBuf, String)>> {
    let files = if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("cannot read {}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.is_file()
                    && p.extension()
                        .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
            })
            .collect();
        files.sort();
        if files.is_empty() {
            bail!("{} holds no .yaml, .yml or .json file", path.display());
        }
        files
    } else {
        vec![path.to_path_buf()]
    };
    files
        .into_iter()
        .map(|f| {
            let text = std::fs::read_to_string(&f)
                .with_context(|| format!("cannot read {}", f.display()))?;
            Ok((f, text))
        })
        .collect()
}

async fn call(x: &Env, text: &str, dry_run: bool) -> anyhow::Result<pb::ApplyProjectResponse> {
    let c = &x.client;
    let mut api = c.projects.clone();
    c.call(api.apply(c.req(pb::ApplyProjectRequest {
        text: text.to_string(),
        dry_run,
    })))
    .await
}

fn change_line(c: &pb::PlannedChange) -> String {
    let sign = match c.action.as_str() {
        "add" => '+',
        "remove" => '-',
        _ => '~',
    };
    let detail = if c.detail.is_empty() {
        String::new()
    } else {
        format!(" ({})", c.detail)
    };
    cell(&format!("{sign} {} '{}'{detail}", c.kind, c.name))
}

fn answer_json(r: &pb::ApplyProjectResponse) -> serde_json::Value {
    json!({
        "project": r.project, "applied": r.applied, "notes": r.notes,
        "changes": r.changes.iter().map(|c| json!({
            "action": c.action, "kind": c.kind, "name": c.name, "detail": c.detail,
        })).collect::<Vec<_>>(),
    })
}

/// `deploy project apply FILE|DIR [--dry-run]`: every document is planned first (an error in
/// any changes nothing), the plans shown, then each applied.
pub async fn apply(x: &Env, path: PathBuf, dry_run: bool) -> anyhow::Result<()> {
    let docs = documents(&path)?;
    let mut plans = Vec::with_capacity(docs.len());
    for (file, text) in &docs {
        let plan = call(x, text, true)
            .await
            .with_context(|| format!("{}", file.display()))?;
        plans.push(plan);
    }
    let mut answers = Vec::new();
    for ((_, text), plan) in docs.iter().zip(plans) {
        if x.output == Format::Table {
            show_plan(&plan, dry_run);
        }
        if dry_run || plan.changes.is_empty() {
            answers.push(plan);
            continue;
        }
        let r = call(x, text, false).await?;
        if x.output == Format::Table {
            if r.changes != plan.changes {
                eprintln!("the project changed meanwhile; what was applied:");
                for ch in &r.changes {
                    println!("{}", change_line(ch));
                }
            }
            println!(
                "project '{}' applied: {} change(s)",
                cell(&r.project),
                r.changes.len()
            );
        }
        answers.push(r);
    }
    for r in &answers {
        for n in &r.notes {
            eprintln!("note: {}", cell(n));
        }
    }
    if x.output == Format::Json {
        let all: Vec<_> = answers.iter().map(answer_json).collect();
        print_json(&if all.len() == 1 {
            all[0].clone()
        } else {
            json!(all)
        });
    }
    Ok(())
}

fn show_plan(plan: &pb::ApplyProjectResponse, dry_run: bool) {
    if plan.changes.is_empty() {
        println!("project '{}': nothing to change", cell(&plan.project));
        return;
    }
    let what = if dry_run { "would change" } else { "plan" };
    eprintln!("project '{}' {what}:", cell(&plan.project));
    for ch in &plan.changes {
        println!("{}", change_line(ch));
    }
}
