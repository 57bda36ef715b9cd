//! Conversions for offline drop targets and operator-reported drop results (`space.v1`).

use crate::space::v1 as pb;

use super::{WireError, required, timestamp};
use domain::model::{AgentMode, DropWritten, OperatorReport, ReportedStep, Target};

/// An offline drop target from its wire form. The password is left out: the API seals it.
pub(super) fn drop_target(
    name: String,
    fingerprint: String,
    listening_address: String,
    d: pb::DropSettings,
    environments: Vec<String>,
    roles: Vec<String>,
) -> Result<Target, WireError> {
    let pb::DropSettings {
        drop_folder,
        applications_dir,
        working_dir,
    } = d;
    if !fingerprint.trim().is_empty() {
        return Err(WireError::Invalid {
            field: "fingerprint",
            reason: "an offline drop target has no agent, so no certificate fingerprint".into(),
        });
    }
    if !listening_address.trim().is_empty() {
        return Err(WireError::Invalid {
            field: "listening_address",
            reason: "an offline drop target has no agent to connect to".into(),
        });
    }
    let drop_folder = required("drop.drop_folder", drop_folder)?;
    if !std::path::Path::new(&drop_folder).is_absolute() {
        return Err(WireError::Invalid {
            field: "drop.drop_folder",
            reason: format!("'{drop_folder}' must be an absolute path on the Space's machine"),
        });
    }
    Ok(Target {
        name: required("name", name)?,
        fingerprint: String::new(),
        mode: AgentMode::OfflineDrop {
            drop_folder,
            applications_dir: required("drop.applications_dir", applications_dir)?,
            working_dir: required("drop.working_dir", working_dir)?,
            password: None,
        },
        environments,
        roles,
        created_at: domain::model::now(),
    })
}

fn reported_step_to_wire(s: ReportedStep) -> pb::ReportedStep {
    let ReportedStep {
        name,
        state,
        exit_code,
        error,
    } = s;
    pb::ReportedStep {
        name,
        state: state.as_str().into(),
        has_exit_code: exit_code.is_some(),
        exit_code: exit_code.unwrap_or(0),
        error: error.unwrap_or_default(),
    }
}

fn report_to_wire(r: OperatorReport) -> pb::OperatorReport {
    let OperatorReport {
        state,
        started_at,
        finished_at,
        steps,
        imported_at,
        imported_by,
        receipt_sha256,
    } = r;
    pb::OperatorReport {
        state: state.as_str().into(),
        started_at: started_at.map(timestamp),
        finished_at: finished_at.map(timestamp),
        steps: steps.into_iter().map(reported_step_to_wire).collect(),
        imported_at: Some(timestamp(imported_at)),
        imported_by,
        receipt_sha256,
    }
}

pub(super) fn drop_written_to_wire(d: DropWritten) -> pb::DropWritten {
    let DropWritten {
        target,
        folder,
        manifest_sha256,
        report,
    } = d;
    pb::DropWritten {
        target,
        folder,
        manifest_sha256,
        report: report.map(report_to_wire),
    }
}

#[cfg(test)]
#[path = "tests/drop.rs"]
mod tests;
