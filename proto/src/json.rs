//! The JSON the CLI prints with `-o json` and the web UI's endpoints answer, built once from
//! the gRPC messages, so both give the same data in the same shape.

use serde_json::{Map, Value, json};

use crate::space::v1 as pb;

/// Seconds since the epoch as RFC 3339 UTC.
pub fn time(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| secs.to_string())
}

/// A timestamp's seconds, if set.
pub fn secs(t: &Option<prost_types::Timestamp>) -> Option<i64> {
    t.as_ref().map(|t| t.seconds)
}

/// One dashboard cell.
pub fn cell(c: &pb::DashboardCell) -> Value {
    json!({
        "version": c.version, "state": c.state, "deployment": c.deployment_id,
        "finished_at": secs(&c.finished_at).map(time), "operator_reported": c.operator_reported,
        "receipt_received_at": secs(&c.receipt_received_at).map(time),
        "last_heard_at": secs(&c.last_heard_at).map(time), "stale": c.stale,
    })
}

/// The cell of `project` in `environment` (for `tenant`; "" untenanted).
pub fn find_cell<'a>(
    r: &'a pb::DashboardResponse,
    project: &str,
    environment: &str,
    tenant: &str,
) -> Option<&'a pb::DashboardCell> {
    r.cells.iter().find(|c| {
        c.project.eq_ignore_ascii_case(project)
            && c.environment.eq_ignore_ascii_case(environment)
            && c.tenant.eq_ignore_ascii_case(tenant)
    })
}

/// The tenant rows under `project`.
pub fn tenants_of<'a>(r: &'a pb::DashboardResponse, project: &str) -> Vec<&'a pb::DashboardTenant> {
    r.tenants
        .iter()
        .filter(|t| t.project.eq_ignore_ascii_case(project))
        .collect()
}

/// Whether a tenant row has a cell in `environment` (it is connected there).
pub fn connected(t: &pb::DashboardTenant, environment: &str) -> bool {
    t.environments
        .iter()
        .any(|x| x.eq_ignore_ascii_case(environment))
}

/// The dashboard: environments in order, projects with their cells and tenant rows, and the
/// promotions not deployed at their Space yet.
pub fn dashboard(r: &pb::DashboardResponse) -> Value {
    let envs = |p: &str, t: &str, only: &dyn Fn(&str) -> bool| {
        r.environments
            .iter()
            .filter(|e| only(e))
            .map(|e| {
                let c = find_cell(r, p, e, t).map(cell).unwrap_or(Value::Null);
                (e.clone(), c)
            })
            .collect::<Map<_, _>>()
    };
    json!({
        "environments": r.environments,
        "projects": r.projects.iter().map(|p| json!({
            "name": p,
            "environments": envs(p, "", &|_| true),
            "tenants": tenants_of(r, p).iter().map(|t| json!({
                "name": t.tenant,
                "environments": envs(p, &t.tenant, &|e| connected(t, e)),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "promotions": r.promotions.iter().map(|p| json!({
            "project": p.project, "version": p.version, "target_space": p.target_space,
            "state": p.state, "detail": p.detail,
        })).collect::<Vec<_>>(),
    })
}
