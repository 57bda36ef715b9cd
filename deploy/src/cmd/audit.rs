//! `deploy audit list` and `deploy audit verify`: the Space's own audit trail (admin keys).

use anyhow::bail;
use clap::Subcommand;
use proto::space::v1 as pb;
use serde_json::json;

use super::Env;
use super::deployment::secs;
use crate::output::{emit, time};

#[derive(Subcommand)]
pub enum AuditCmd {
    /// Writes and refusals, newest first: who, what, when, from where, allowed or not.
    List {
        /// Only this user's calls.
        #[arg(long, default_value = "")]
        user: String,
        /// Only methods containing this (e.g. Delete, Projects/).
        #[arg(long, default_value = "")]
        method: String,
        /// Only refused calls (not authenticated or not permitted).
        #[arg(long)]
        refused: bool,
        /// Only calls from the last DURATION (30d, 12h, 90m).
        #[arg(long)]
        since: Option<String>,
        /// At most this many entries (default 100, at most 10,000).
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Recompute the trail's hash chain; fails when an entry was changed or removed.
    Verify,
}

pub async fn run(cmd: AuditCmd, x: Env) -> anyhow::Result<()> {
    let c = &x.client;
    let mut api = c.audit.clone();
    match cmd {
        AuditCmd::List {
            user,
            method,
            refused,
            since,
            limit,
        } => {
            let since = match since {
                Some(d) => {
                    domain::model::now()
                        - i64::try_from(super::access::duration_secs(&d)?).unwrap_or(i64::MAX / 2)
                }
                None => 0,
            };
            let r = c
                .call(api.list(c.req(pb::AuditQuery {
                    user,
                    method,
                    outcome: if refused {
                        "refused".into()
                    } else {
                        String::new()
                    },
                    since,
                    limit,
                })))
                .await?;
            let at = |e: &pb::AuditRecord| secs(&e.at).map(time).unwrap_or_default();
            let rows = r
                .entries
                .iter()
                .map(|e| {
                    vec![
                        e.index.to_string(),
                        at(e),
                        e.user.clone(),
                        e.method.clone(),
                        e.outcome.clone(),
                        e.code.clone(),
                        e.from.clone(),
                    ]
                })
                .collect();
            emit(
                x.output,
                json!(r.entries.iter().map(|e| json!({
                    "index": e.index, "at": at(e), "user": e.user, "key": e.key, "method": e.method,
                    "outcome": e.outcome, "code": e.code, "from": e.from,
                })).collect::<Vec<_>>()),
                &["#", "AT", "USER", "METHOD", "OUTCOME", "CODE", "FROM"],
                rows,
            );
        }
        AuditCmd::Verify => {
            let v = c.call(api.verify(c.req(pb::Empty {}))).await?;
            if !v.intact {
                bail!(
                    "the audit trail is broken at entry {}: {} ({} entries)",
                    v.broken_at,
                    v.reason,
                    v.entries
                );
            }
            crate::output::done(
                x.output,
                json!({"entries": v.entries, "intact": true}),
                &format!("{} entries, hash chain intact", v.entries),
            );
        }
    }
    Ok(())
}
