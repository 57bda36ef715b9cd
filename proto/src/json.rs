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

/// A scope as the CLI's tables show it ("env=Production role=web"; "-" for none).
pub fn scope_text(s: &Option<pb::Scope>) -> String {
    let Some(s) = s else { return "-".into() };
    let mut parts = vec![];
    for (k, v) in [
        ("env", &s.environments),
        ("role", &s.roles),
        ("target", &s.targets),
        ("step", &s.steps),
        ("channel", &s.channels),
        ("tenant", &s.tenants),
    ] {
        if !v.is_empty() {
            parts.push(format!("{k}={}", v.join(",")));
        }
    }
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(" ")
    }
}

/// A variable (a sensitive value is never shown: `********`).
pub fn variable(v: &pb::Variable) -> Value {
    let s = v.scope.clone().unwrap_or_default();
    json!({
        "id": v.id, "name": v.name,
        "value": if v.sensitive { domain::variables::MASK.to_string() } else { v.value.clone() },
        "sensitive": v.sensitive, "description": v.description,
        "scope": {"environments": s.environments, "roles": s.roles, "targets": s.targets, "steps": s.steps, "channels": s.channels, "tenants": s.tenants},
    })
}

pub fn template(t: &pb::VariableTemplate) -> Value {
    json!({"name": t.name, "label": t.label, "help_text": t.help_text, "kind": t.kind, "mandatory": t.mandatory, "default": t.default_value})
}

pub fn step(s: &pb::Step) -> Value {
    let action = match &s.action {
        Some(pb::step::Action::Package(p)) => {
            json!({"kind": "package", "package_id": p.package_id, "substitute_files": p.substitute_files, "structured_files": p.structured_files})
        }
        Some(pb::step::Action::Script(sc)) => {
            json!({"kind": "script", "syntax": sc.syntax, "body": sc.body, "package_id": sc.package_id, "script_path": sc.script_path})
        }
        None => Value::Null,
    };
    json!({"order": s.order, "name": s.name, "environments": s.environments, "roles": s.roles, "channels": s.channels, "action": action})
}

pub fn release(r: &pb::Release) -> Value {
    json!({
        "project": r.project, "version": r.version, "channel": r.channel, "notes": r.notes,
        "created_at": secs(&r.created_at).map(time), "created_by": r.created_by,
        "packages": r.packages.iter().map(|p| json!({"step": p.step, "id": p.id, "version": p.version, "sha256": p.sha256})).collect::<Vec<_>>(),
        "process": r.process.iter().map(step).collect::<Vec<_>>(),
        "variables": r.variables.iter().map(variable).collect::<Vec<_>>(),
        "templates": r.templates.iter().map(template).collect::<Vec<_>>(),
        "origin": r.origin.as_ref().map(|o| json!({
            "source_space": o.source_space, "source_project": o.source_project,
            "bundle_id": o.bundle_id, "bundle_digest": o.bundle_digest, "signer": o.signer,
            "imported_at": secs(&o.imported_at).map(time), "imported_by": o.imported_by,
            "earlier_deployments": o.deployments.iter().map(|d| json!({
                "space": d.space, "environment": d.environment, "state": d.state,
            })).collect::<Vec<_>>(),
            "traceparent": o.traceparent,
            "first_space": o.first_space, "first_project": o.first_project,
            "route": o.route.iter().map(|h| json!({
                "space": h.space, "project": h.project, "bundle_id": h.bundle_id, "bundle_digest": h.bundle_digest,
            })).collect::<Vec<_>>(),
        })),
    })
}

pub fn change(c: &pb::Change) -> Value {
    json!({"kind": c.kind, "subject": c.subject, "from": c.from, "to": c.to})
}

/// A comparison of release `from` with `to`: unchanged entries only with `all` (as the CLI's
/// table).
pub fn comparison(from: &str, to: &str, c: &pb::CompareResponse, all: bool) -> Value {
    let shown = |v: &[pb::Change]| {
        v.iter()
            .filter(|ch| all || ch.kind != "unchanged")
            .map(change)
            .collect::<Vec<_>>()
    };
    json!({
        "from": from, "to": to,
        "steps": shown(&c.steps), "variables": shown(&c.variables), "packages": shown(&c.packages),
    })
}

pub fn deployment(d: &pb::Deployment) -> Value {
    json!({
        "id": d.id, "project": d.project, "version": d.version, "environment": d.environment,
        "tenant": (!d.tenant.is_empty()).then_some(&d.tenant),
        "state": d.state, "created_by": d.created_by, "error": d.error,
        "created_at": secs(&d.created_at).map(time), "started_at": secs(&d.started_at).map(time),
        "finished_at": secs(&d.finished_at).map(time),
        "steps": d.steps.iter().map(|s| json!({
            "name": s.name, "state": s.state,
            "targets": s.targets.iter().map(|t| json!({
                "target": t.target, "state": t.state,
                "exit_code": t.has_exit_code.then_some(t.exit_code),
                "error": t.error, "transferred_bytes": t.transferred_bytes, "installed_to": t.installed_to,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "drops": d.drops.iter().map(|x| json!({
            "target": x.target, "folder": x.folder, "manifest_sha256": x.manifest_sha256,
            "report": x.report.as_ref().map(|r| json!({
                "operator_reported": true, "state": r.state,
                "started_at": secs(&r.started_at).map(time), "finished_at": secs(&r.finished_at).map(time),
                "imported_at": secs(&r.imported_at).map(time), "imported_by": r.imported_by,
                "receipt_sha256": r.receipt_sha256,
                "steps": r.steps.iter().map(|s| json!({
                    "name": s.name, "state": s.state,
                    "exit_code": s.has_exit_code.then_some(s.exit_code), "error": s.error,
                })).collect::<Vec<_>>(),
            })),
        })).collect::<Vec<_>>(),
    })
}

pub fn fetch(f: &Option<pb::FetchProgress>) -> Value {
    match f {
        Some(f) => json!({"chunks_done": f.chunks_done, "chunks_total": f.chunks_total,
            "bytes_done": f.bytes_done, "bytes_total": f.bytes_total,
            "bytes_per_second": f.bytes_per_second, "eta_seconds": f.eta_seconds}),
        None => Value::Null,
    }
}

pub fn bundle_summary(b: &pb::BundleSummary) -> Value {
    json!({
        "id": b.id, "digest": b.digest, "source_space": b.source_space, "target_space": b.target_space,
        "project": b.project, "version": b.version, "state": b.state,
        "created_at": secs(&b.created_at).map(time),
        "added_at": secs(&b.added_at).map(time),
        "variables": b.variables, "sensitive": b.sensitive, "packages": b.packages,
        "packages_missing": b.packages_missing, "schema": b.schema, "bytes": b.bytes,
        "fetch": fetch(&b.fetch),
    })
}

/// A bundle with what it holds (values masked).
pub fn bundle_detail(d: &pb::BundleDetail) -> Value {
    let mut j = bundle_summary(&d.summary.clone().unwrap_or_default());
    j["signer"] = json!(d.signer);
    j["notes"] = json!(d.notes);
    j["channel"] = json!(d.channel);
    j["packages"] = json!(
        d.packages
            .iter()
            .map(|p| json!({
                "id": p.id, "version": p.version, "size": p.size, "sha256": p.sha256,
                "chunks": p.chunks, "chunks_missing": p.chunks_missing,
            }))
            .collect::<Vec<_>>()
    );
    j["variables"] = json!(d.variables.iter().map(|v| json!({
        "name": v.name, "value": if v.sensitive { domain::variables::MASK } else { v.value.as_str() },
        "sensitive": v.sensitive, "scope": scope_text(&v.scope),
    })).collect::<Vec<_>>());
    j["templates"] = json!(d.templates.iter().map(|t| json!({
        "name": t.name, "kind": t.kind, "mandatory": t.mandatory, "default": t.default_value,
        "help": t.help_text,
    })).collect::<Vec<_>>());
    j["process"] =
        json!(d.process.iter().map(|s| json!({
        "order": s.order, "name": s.name, "environments": s.environments, "roles": s.roles,
    })).collect::<Vec<_>>());
    j
}

/// The ODCM's answers (`deploy odcm ... -o json` and its web UI's endpoints).
pub mod odcm {
    use serde_json::{Value, json};

    use crate::odcm::v1 as pb;

    pub fn trust_kind(k: i32) -> &'static str {
        match pb::TrustKind::try_from(k) {
            Ok(pb::TrustKind::Releases) => "releases",
            Ok(pb::TrustKind::Receipts) => "receipts",
            _ => "unknown",
        }
    }

    pub fn spaces(all: &[pb::Space]) -> Value {
        json!(all.iter().map(|s| json!({
            "name": s.name, "enrolled": s.enrolled, "fingerprint": s.fingerprint,
            "not_after": s.not_after, "endpoint": s.endpoint,
            "overlapping": s.overlapping.iter().map(|o| json!({"fingerprint": o.fingerprint, "accepted_until": o.refuse_after})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>())
    }

    pub fn remote_spaces(all: &[pb::RemoteSpace]) -> Value {
        json!(all.iter().map(|r| json!({
            "name": r.name, "odcm": r.odcm, "fingerprint": r.fingerprint, "subject": r.subject,
            "not_after": r.not_after, "endpoint": r.endpoint,
        })).collect::<Vec<_>>())
    }

    pub fn trusts(all: &[pb::Trust]) -> Value {
        json!(
            all.iter()
                .map(|t| json!({
                    "source": t.source, "target": t.target, "kind": trust_kind(t.kind),
                    "truster": t.truster, "trusted": t.trusted, "created_at": t.created_at,
                }))
                .collect::<Vec<_>>()
        )
    }

    pub fn audit(all: &[pb::AuditEntry]) -> Value {
        json!(all.iter().map(|e| json!({
            "index": e.index, "at": e.at, "kind": e.kind, "actor": e.actor, "subject": e.subject,
            "detail": e.detail, "prev_hash": e.prev_hash, "signature": e.signature,
        })).collect::<Vec<_>>())
    }
}
