//! Wire helpers of `space.v1.Promotion` (`api.rs`): bytes as message streams, bundle
//! summaries and details, missing template values.

use std::pin::Pin;

use domain::model::{ReceivedBundle, Variable, VariableValue};
use exchange::bundle::VerifiedBundle;
use proto::space::v1 as pb;
use proto::wire::{step_to_wire, template_to_wire, timestamp, variable_to_wire};
use tokio_stream::Stream;

use super::bundles;
use crate::state::SpaceState;

pub(super) type Out<T> = Pin<Box<dyn Stream<Item = Result<T, tonic::Status>> + Send>>;

pub(super) const PIECE: usize = 1 << 20;

/// Streams `first` (if any), then `bytes` in pieces.
pub(super) fn send_bytes<T: Send + 'static>(
    first: Option<T>,
    bytes: Vec<u8>,
    wrap: fn(Vec<u8>) -> T,
) -> Out<T> {
    let mut items: Vec<Result<T, tonic::Status>> = first.into_iter().map(Ok).collect();
    items.extend(bytes.chunks(PIECE).map(|c| Ok(wrap(c.to_vec()))));
    Box::pin(tokio_stream::iter(items))
}

pub(super) fn summary(
    b: &ReceivedBundle,
    v: Option<&VerifiedBundle>,
    missing: u32,
) -> pb::BundleSummary {
    let (variables, sensitive, packages, schema) = v
        .map(|v| {
            let vars = &v.contents.variables;
            (
                vars.len() as u32,
                vars.iter().filter(|x| x.is_sensitive()).count() as u32,
                v.contents.packages.len() as u32,
                v.schema.to_string(),
            )
        })
        .unwrap_or_default();
    pb::BundleSummary {
        id: b.id.clone(),
        digest: b.digest.clone(),
        source_space: b.source_space.clone(),
        target_space: v
            .map(|v| v.contents.target_space.clone())
            .unwrap_or_default(),
        project: b.project.clone(),
        version: b.version.clone(),
        state: b.state.as_str().into(),
        created_at: Some(timestamp(b.created_at)),
        added_at: Some(timestamp(b.added_at)),
        variables,
        sensitive,
        packages,
        packages_missing: missing,
        schema,
        bytes: b.bytes,
        fetch: None,
    }
}

pub(super) fn missing_wire(m: Vec<super::missing::Missing>) -> Vec<pb::MissingInEnvironment> {
    m.into_iter()
        .map(|m| {
            let super::missing::Missing {
                environment,
                tenant,
                variables,
            } = m;
            pb::MissingInEnvironment {
                environment,
                variables,
                tenant: tenant.unwrap_or_default(),
            }
        })
        .collect()
}

/// A received bundle's summary (verified again; values not opened). Blocking.
pub(crate) fn bundle_summary(state: &SpaceState, b: &ReceivedBundle) -> pb::BundleSummary {
    match bundles::load(state, b, false) {
        Ok(v) => {
            let missing = bundles::missing_chunks(state, &v)
                .iter()
                .filter(|(_, n)| *n > 0)
                .count() as u32;
            let mut s = summary(b, Some(&v), missing);
            s.fetch = fetch_progress(state, &b.id);
            s
        }
        Err(e) => {
            tracing::warn!(bundle = %b.id, error = %e, "stored bundle cannot be verified");
            summary(b, None, 0)
        }
    }
}

/// How far the running fetch of bundle `id` is, if one runs.
fn fetch_progress(state: &SpaceState, id: &str) -> Option<pb::FetchProgress> {
    let p = state.fetch_progress.lock().ok()?.get(id).copied()?;
    let (rate, eta) = p.rate_and_eta();
    Some(pb::FetchProgress {
        chunks_done: p.chunks_done,
        chunks_total: p.chunks_total,
        bytes_done: p.bytes_done,
        bytes_total: p.bytes_total,
        bytes_per_second: rate,
        eta_seconds: eta,
    })
}

/// What `bundle show` prints: the verified contents (sealed values not opened) and which
/// packages still miss chunks here. Blocking.
pub(crate) fn bundle_detail(
    state: &SpaceState,
    rec: &ReceivedBundle,
    v: VerifiedBundle,
) -> pb::BundleDetail {
    let missing = bundles::missing_chunks(state, &v);
    let c = v.contents.clone();
    let project = c.project.name.clone();
    let packages = missing
        .iter()
        .map(|(m, n)| pb::BundlePackageInfo {
            id: m.id.clone(),
            version: m.version.clone(),
            size: m.size,
            sha256: m.sha256.clone(),
            chunks: m.chunks.len() as u32,
            chunks_missing: *n as u32,
        })
        .collect();
    let n_missing = missing.iter().filter(|(_, n)| *n > 0).count() as u32;
    pb::BundleDetail {
        summary: Some(summary(rec, Some(&v), n_missing)),
        description: c.project.description,
        notes: c.release.notes,
        channel: c.release.channel,
        process: c
            .process
            .steps
            .into_iter()
            .enumerate()
            .map(|(i, s)| step_to_wire(&project, i as u32 + 1, s))
            .collect(),
        variables: c
            .variables
            .into_iter()
            .map(|bv| {
                let value = match bv.value {
                    exchange::bundle::BundleValue::Plain(s) => VariableValue::Plain(s),
                    exchange::bundle::BundleValue::Sealed { .. } => {
                        VariableValue::Sensitive(Vec::new())
                    }
                };
                variable_to_wire(
                    &project,
                    Variable {
                        id: bv.id,
                        name: bv.name,
                        value,
                        scope: bv.scope,
                        description: bv.description,
                    },
                )
            })
            .collect(),
        templates: c
            .templates
            .into_iter()
            .map(|t| template_to_wire(&project, t))
            .collect(),
        packages,
        deployments: c
            .deployments
            .into_iter()
            .map(proto::wire::earlier_to_wire)
            .collect(),
        signer: v.signer_keyid,
    }
}

/// An automatic promotion as the wire shows it.
pub fn job_wire(v: crate::automation::queue::JobView) -> pb::PromotionJob {
    let crate::automation::queue::JobView {
        job,
        state,
        detail,
        bundle_id,
    } = v;
    pb::PromotionJob {
        project: job.project,
        version: job.version,
        target_space: job.target_space,
        state: state.into(),
        detail,
        attempts: job.attempts,
        next_attempt_at: matches!(state, "retrying" | "scheduled")
            .then(|| timestamp(job.next_attempt_at)),
        bundle_id,
        updated_at: Some(timestamp(job.updated_at)),
        trigger: job.trigger,
    }
}

pub fn rule_wire(r: domain::model::AutoImportRule) -> pb::AutoImportRule {
    let domain::model::AutoImportRule {
        source_space,
        project,
        lifecycle,
        created_at,
        created_by,
    } = r;
    pb::AutoImportRule {
        source_space,
        project,
        lifecycle,
        created_at: Some(timestamp(created_at)),
        created_by,
    }
}

/// A package staging job as `ListPromotions` shows it.
pub fn staging_wire(j: domain::model::StagingJob) -> pb::PackageStaging {
    let (state, detail) = crate::automation::stage::describe(&j);
    let domain::model::StagingJob {
        project,
        version,
        target_space,
        attempts,
        updated_at,
        ..
    } = j;
    pb::PackageStaging {
        project,
        version,
        target_space,
        state: state.into(),
        detail,
        attempts,
        updated_at: Some(proto::wire::timestamp(updated_at)),
    }
}

/// A result received in a receipt, as `ListReceivedResults` shows it.
pub fn received_wire(r: domain::model::RemoteResult, project_deleted: bool) -> pb::ReceivedResult {
    let domain::model::RemoteResult {
        from_space,
        receipt_id,
        project,
        version,
        environment,
        state,
        finished_at,
        received_at,
        ..
    } = r;
    pb::ReceivedResult {
        from_space,
        project,
        version,
        environment,
        state: state.as_str().into(),
        finished_at: finished_at.map(proto::wire::timestamp),
        received_at: Some(proto::wire::timestamp(received_at)),
        receipt_id,
        project_deleted,
    }
}
