//! `deploy receipt import|export|send|list`: Deployment Receipts both ways (signed files, or
//! delivered over the peer link), operator-reported results of offline drops, and the results
//! this Space received.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Subcommand;
use exec::drop::RECEIPT_KIND;
use proto::space::v1 as pb;

use serde_json::json;

use super::Env;
use crate::output::{emit, time};

#[derive(Subcommand)]
pub enum ReceiptCmd {
    /// Import a file of signed Deployment Receipts (from a Space this one trusts for receipts;
    /// each applied exactly once), or an offline drop's result (operator-reported).
    Import { file: PathBuf },
    /// Write the signed receipts of finished deployments of releases imported from a Space
    /// (those not exported before, unless --all), to carry back to it.
    Export {
        /// File to write the signed receipts to.
        #[arg(long)]
        out: PathBuf,
        /// The Space the releases came from (needed when there are several).
        #[arg(long)]
        space: Option<String>,
        /// Also receipts exported before.
        #[arg(long)]
        all: bool,
        /// Only these deployments, exported before or not: `N..M`, `N..` or `N` (numbers or
        /// Deployments-N ids).
        #[arg(long)]
        range: Option<String>,
    },
    /// The results this Space received in receipts, newest first (also those of projects
    /// deleted here since: they are kept).
    List,
    /// Connected: sign the receipts (as export) and deliver them to the source Space over the
    /// peer link; they count as sent once it accepted them.
    Send {
        /// The Space the releases came from (needed when there are several).
        #[arg(long)]
        space: Option<String>,
        /// Also receipts sent or exported before.
        #[arg(long)]
        all: bool,
        /// Only these deployments, sent before or not: `N..M`, `N..` or `N` (numbers or
        /// Deployments-N ids).
        #[arg(long)]
        range: Option<String>,
    },
}

/// Parses `N..M`, `N..`, `..M` or `N` into an inclusive range (0 = open).
pub fn parse_range(s: &str) -> anyhow::Result<(u64, u64)> {
    let num = |t: &str| -> anyhow::Result<u64> {
        let t = t.trim();
        if t.is_empty() {
            return Ok(0);
        }
        domain::model::Deployment::number_of(t)
            .ok_or_else(|| anyhow::anyhow!("'{t}' in --range is not a deployment number"))
    };
    let (a, b) = match s.split_once("..") {
        Some((a, b)) => (num(a)?, num(b)?),
        None => {
            let n = num(s)?;
            (n, n)
        }
    };
    if a == 0 && b == 0 {
        bail!("--range '{s}' selects nothing: use N..M, N.. or N");
    }
    if b != 0 && a > b {
        bail!("--range '{s}' is empty: the first number is larger than the last");
    }
    Ok((a, b))
}

pub async fn run(cmd: ReceiptCmd, x: Env) -> anyhow::Result<()> {
    match cmd {
        ReceiptCmd::List => list(&x).await,
        ReceiptCmd::Export {
            out,
            space,
            all,
            range,
        } => {
            let range = range.as_deref().map(parse_range).transpose()?;
            super::promotion::export_receipts(&x, space, all, range, Some(&out)).await
        }
        ReceiptCmd::Send { space, all, range } => {
            let range = range.as_deref().map(parse_range).transpose()?;
            super::promotion::export_receipts(&x, space, all, range, None).await
        }
        ReceiptCmd::Import { file } => {
            let bytes = std::fs::read(&file)
                .with_context(|| format!("cannot read '{}'", file.display()))?;
            if exchange::receipt::is_receipts_file(&bytes) {
                return super::promotion::import_receipts(&x, bytes).await;
            }
            let kind = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_string))
                .unwrap_or_default();
            if kind != RECEIPT_KIND {
                bail!(
                    "'{}' is not a receipt this deploy knows (kind '{kind}'; known: signed deployment receipts, {RECEIPT_KIND})",
                    file.display()
                );
            }
            let c = &x.client;
            let mut api = c.deployments.clone();
            let r = c
                .call(api.import_drop_result(c.req(pb::ImportDropResultRequest { receipt: bytes })))
                .await?;
            let d = r.deployment.unwrap_or_default();
            if r.changed {
                eprintln!(
                    "operator-reported result recorded on {} ({} {} to {})",
                    d.id, d.project, d.version, d.environment
                );
            } else {
                eprintln!(
                    "this result was already imported on {}: nothing changed",
                    d.id
                );
            }
            Ok(())
        }
    }
}

async fn list(x: &Env) -> anyhow::Result<()> {
    let c = &x.client;
    let mut all = super::all_pages(|t| {
        let mut api = c.promotion.clone();
        async move {
            let r = c
                .call(api.list_received_results(c.req(super::page(t))))
                .await?;
            Ok((r.results, r.next_page_token))
        }
    })
    .await?;
    all.sort_by_key(|r| std::cmp::Reverse(r.received_at.as_ref().map(|t| t.seconds)));
    let t = |t: &Option<prost_types::Timestamp>| {
        t.as_ref().map(|t| time(t.seconds)).unwrap_or_default()
    };
    let j =
        json!(all.iter().map(|r| json!({
        "from_space": r.from_space, "project": r.project, "version": r.version,
        "environment": r.environment, "state": r.state, "finished_at": t(&r.finished_at),
        "received_at": t(&r.received_at), "receipt_id": r.receipt_id,
        "project_deleted": r.project_deleted,
    })).collect::<Vec<_>>());
    let rows = all
        .iter()
        .map(|r| {
            let project = if r.project_deleted {
                format!("{} (deleted here)", r.project)
            } else {
                r.project.clone()
            };
            vec![
                project,
                r.version.clone(),
                r.environment.clone(),
                r.state.clone(),
                t(&r.finished_at),
                t(&r.received_at),
                format!("{} {}", r.from_space, r.receipt_id),
            ]
        })
        .collect();
    emit(
        x.output,
        j,
        &[
            "PROJECT",
            "RELEASE",
            "ENVIRONMENT",
            "STATE",
            "FINISHED",
            "RECEIVED",
            "RECEIPT",
        ],
        rows,
    );
    Ok(())
}

#[cfg(test)]
#[path = "tests/receipt.rs"]
mod tests;
