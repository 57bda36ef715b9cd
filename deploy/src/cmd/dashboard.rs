//! `deploy dashboard`: projects x environments with the latest release and state in each
//! (remote cells from receipts, marked stale when their Space went silent), a row per tenant
//! under the projects tenants are connected to, and the promotions not deployed at their
//! Space yet.

use proto::space::v1 as pb;
use serde_json::json;

use super::Env;
use super::deployment::secs;
use crate::output::{Format, emit, time};

/// `deploy dashboard`: projects x environments, latest release and state per cell; under a
/// project, a row for each tenant connected to it.
pub async fn dashboard(x: Env) -> anyhow::Result<()> {
    let c = &x.client;
    let mut api = c.deployments.clone();
    let r = c.call(api.dashboard(c.req(pb::Empty {}))).await?;
    let cell = |p: &str, e: &str, t: &str| proto::json::find_cell(&r, p, e, t);
    match x.output {
        Format::Json => emit(x.output, proto::json::dashboard(&r), &[], vec![]),
        Format::Table => {
            let mut headers = vec!["PROJECT"];
            headers.extend(r.environments.iter().map(String::as_str));
            let mut rows = Vec::new();
            for p in &r.projects {
                let mut row = vec![p.clone()];
                row.extend(
                    r.environments
                        .iter()
                        .map(|e| cell(p, e, "").map_or_else(|| "-".into(), cell_text)),
                );
                rows.push(row);
                for t in proto::json::tenants_of(&r, p) {
                    let mut row = vec![format!("  {p} / tenant {}", t.tenant)];
                    row.extend(r.environments.iter().map(|e| {
                        if !proto::json::connected(t, e) {
                            return String::new();
                        }
                        cell(p, e, &t.tenant).map_or_else(|| "-".into(), cell_text)
                    }));
                    rows.push(row);
                }
            }
            emit(x.output, json!(null), &headers, rows);
            if !r.promotions.is_empty() {
                println!("\nPromotions not deployed at their Space yet:");
                for p in &r.promotions {
                    let detail = if p.detail.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", p.detail)
                    };
                    println!(
                        "  {} {} -> {}  {}{}",
                        crate::output::cell(&p.project),
                        p.version,
                        crate::output::cell(&p.target_space),
                        p.state,
                        crate::output::cell(&detail)
                    );
                }
            }
        }
    }
    Ok(())
}

/// "1.2.0 success", with how it is known for results not seen here.
fn cell_text(c: &pb::DashboardCell) -> String {
    let how = if c.operator_reported {
        " (operator-reported)".to_string()
    } else if let Some(at) = secs(&c.receipt_received_at) {
        let stale = if c.stale {
            match secs(&c.last_heard_at) {
                Some(h) => format!(
                    ", STALE: {} silent since {}",
                    space_of(&c.environment),
                    time(h)
                ),
                None => format!(", STALE: never heard from {}", space_of(&c.environment)),
            }
        } else {
            String::new()
        };
        format!(" (receipt {}{stale})", time(at))
    } else {
        String::new()
    };
    format!("{} {}{how}", c.version, c.state)
}

/// The Space of a remote environment name ("Prod: Production" -> "Prod").
fn space_of(environment: &str) -> &str {
    environment.split_once(": ").map_or(environment, |(s, _)| s)
}
