//! Deployment Receipts in: a receipts file is verified against a Space this one trusts for
//! receipts, each receipt must answer a bundle this Space sent, and each is applied exactly
//! once. Along a chain the file also travels on: a receipt whose route names a Space before
//! this one queues the file (unchanged, still signed by its issuer) to be relayed there, in the
//! same commit that applies it; a file relayed here applies the receipts whose route names
//! this Space, to the bundle this Space sent.

use std::collections::BTreeSet;

use domain::model::{Environment, Promotion, RelayedReceipts, RemoteResult, RemoteStep};
use exchange::receipt::{Receipt, VerifiedReceipts};
use proto::odcm::v1 as odcm_pb;
use storage::{Batch, Record, StoreExt, key_of, prefix_of};

use super::receipts::receipt_error;
use super::{audit, peering, trusted_for};
use crate::error::{ApiError, ApiResult};
use crate::state::{SpaceState, now};

/// Relayed files waiting for one Space at most. Beyond, receipts that would need relaying
/// there are refused (their issuer keeps them and tries again), never dropped.
pub const MAX_RELAYED: usize = 10_000;

/// What importing a receipts file did.
pub struct Applied {
    pub from_space: String,
    pub applied: usize,
    pub already: usize,
    pub environments: Vec<String>,
    /// Spaces the file was queued to be relayed to.
    pub relay_to: Vec<String>,
    /// Of each receipt applied: its environment and the `traceparent` it carries.
    pub traces: Vec<(String, String)>,
}

/// Verifies a receipts file and applies each receipt not applied before, all in one batch.
pub async fn import(state: &SpaceState, bytes: &[u8], who: &str) -> ApiResult<Applied> {
    let p = peering(state)?;
    let refuse = |e: ApiError| {
        let msg = e.to_string();
        tracing::warn!(error = %msg, "deployment receipts refused");
        audit(
            state,
            odcm_pb::EventKind::ReceiptRefused,
            &super::claimed_sender(bytes, "/from_space"),
            "deployment receipts",
            &format!("{msg} (sender as the file claims it)"),
        );
        e
    };
    let v = exchange::receipt::verify(bytes, &p.me, trusted_for(p, odcm_pb::TrustKind::Receipts))
        .map_err(receipt_error)
        .map_err(refuse)?;
    let from = v.file.from_space.clone();
    // A file it signed is word from it, as of when it was signed.
    state.heard_from_at(&from, v.file.created_at, "receipts it signed");
    if v.file.receipts.is_empty() {
        return Err(refuse(ApiError::Invalid(format!(
            "the receipts file from '{from}' holds no receipt"
        ))));
    }
    let mut ids = std::collections::HashSet::new();
    for r in &v.file.receipts {
        if !ids.insert((r.bundle_digest.as_str(), r.id.to_lowercase())) {
            return Err(refuse(ApiError::Invalid(format!(
                "receipt {} appears twice in the file from '{from}': nothing was applied",
                r.id
            ))));
        }
    }
    let envelope = String::from_utf8(bytes.to_vec())
        .map_err(|_| refuse(ApiError::Invalid("a receipts file is UTF-8 JSON".into())))?;
    let done = state
        .commit_guarded(|| import_plan(state, &v, &envelope, &refuse))
        .await?; // durable: acknowledged promotion steps survive a crash
    if done.applied == 0 {
        tracing::info!(from_space = %from, already = done.already, "deployment receipts: every one was applied before");
        return Ok(done);
    }
    let how = if v.relayed {
        format!(", relayed by way of '{}'", v.file.to_space)
    } else {
        String::new()
    };
    tracing::info!(from_space = %from, applied = done.applied, already = done.already, relay_to = ?done.relay_to, relayed = v.relayed, by = %who, "deployment receipts imported");
    audit(
        state,
        odcm_pb::EventKind::ReceiptAccepted,
        &from,
        &done.environments.join(", "),
        &format!(
            "{} receipt(s) applied, {} already applied{how} ({})",
            done.applied, done.already, v.digest
        ),
    );
    state.changed();
    if !done.relay_to.is_empty() {
        state.outbox_now();
    }
    // Each result joins the trace of its promotion (as a child of the target's deployment).
    for (environment, traceparent) in &done.traces {
        let span = tracing::info_span!("deployment receipt applied", from_space = %from, environment = %environment);
        runtime::telemetry::context::set_parent(&span, traceparent);
        span.in_scope(|| tracing::debug!("result recorded"));
    }
    Ok(done)
}

/// The bundle this Space sent that receipt `r` answers: its id, digest, the project's name
/// here, and the Space it went to. `None` for a relayed file's receipt whose route does not
/// name this Space (it is for other Spaces of the file).
fn answered<'a>(me: &str, v: &'a VerifiedReceipts, r: &'a Receipt) -> Option<[&'a str; 4]> {
    if !v.relayed {
        return Some([
            &r.bundle_id,
            &r.bundle_digest,
            &r.project,
            &v.file.from_space,
        ]);
    }
    let i = r
        .route
        .iter()
        .position(|h| h.space.eq_ignore_ascii_case(me))?;
    let hop = &r.route[i];
    let next = r
        .route
        .get(i + 1)
        .map_or(v.file.to_space.as_str(), |h| h.space.as_str());
    Some([&hop.bundle_id, &hop.bundle_digest, &hop.project, next])
}

/// The Space before this one on `r`'s route, which gets the file relayed (if any).
fn relay_to<'a>(me: &str, v: &VerifiedReceipts, r: &'a Receipt) -> Option<&'a str> {
    let i = if v.relayed {
        r.route
            .iter()
            .position(|h| h.space.eq_ignore_ascii_case(me))?
    } else {
        r.route.len()
    };
    i.checked_sub(1)
        .map(|before| r.route[before].space.as_str())
}

/// What applying the verified receipts file `v` writes, decided on what the store holds now:
/// the batch and what it applies. A refusal is audited by `refuse`.
fn import_plan(
    state: &SpaceState,
    v: &VerifiedReceipts,
    envelope: &str,
    refuse: &dyn Fn(ApiError) -> ApiError,
) -> ApiResult<(Batch, Applied)> {
    let from = v.file.from_space.clone();
    let me = state.name.as_str();
    let mut b = Batch::new();
    let (mut applied, mut already) = (0, 0);
    let mut envs = BTreeSet::new();
    let mut relays: BTreeSet<String> = BTreeSet::new();
    let mut traces = Vec::new();
    let mut newest: Vec<RemoteResult> = Vec::new();
    // A Space running on a restored backup lost the bundles it sent after the backup: their
    // receipts are left out (said in the log), not a reason to refuse the others.
    let restored = runtime::backup::marker::Restored::load(&state.data_dir).is_some();
    for r in &v.file.receipts {
        let Some([bundle_id, digest, project, went_to]) = answered(me, v, r) else {
            continue;
        };
        let known = state
            .store
            .get_record::<Promotion>(bundle_id)?
            .filter(|x| x.digest == digest && x.target_space.eq_ignore_ascii_case(went_to));
        if known.is_none() && restored {
            tracing::warn!(from_space = %from, receipt = %r.id, bundle = %bundle_id, project = %project, version = %r.version, "a receipt answers a bundle sent after this Space's backup: left out (the release is not here)");
            continue;
        }
        let promo = known.ok_or_else(|| {
                refuse(ApiError::Precondition(format!(
                    "receipt {} from '{from}' answers bundle {bundle_id} which this Space never sent to '{went_to}': nothing was applied",
                    r.id
                )))
            })?;
        if !promo.project.eq_ignore_ascii_case(project) || promo.version != r.version {
            return Err(refuse(ApiError::Invalid(format!(
                "receipt {} names {project} {} but bundle {bundle_id} carried {} {}: nothing was applied",
                r.id, r.version, promo.project, promo.version
            ))));
        }
        if state
            .store
            .get_record::<RemoteResult>(&key_of(&[&from, &r.bundle_digest, &r.id]))?
            .is_some()
        {
            already += 1;
            continue;
        }
        let result = remote_result(v, r, &promo, &from);
        envs.insert(result.environment.clone());
        traces.push((result.environment.clone(), r.traceparent.clone()));
        if super::remote_index::add(state.store.as_ref(), &mut b, &result, &newest)? {
            newest.push(result.clone());
        }
        b.insert_record(&result)?;
        crate::automation::active::settle(state.store.as_ref(), &mut b, &promo, &from)?;
        applied += 1;
        if let Some(to) = relay_to(me, v, r) {
            relays.insert(to.to_string());
        }
    }
    for to in &relays {
        queue_relay(state, &mut b, v, envelope, to)?;
    }
    Ok((
        b,
        Applied {
            from_space: from,
            applied,
            already,
            environments: envs.into_iter().collect(),
            relay_to: relays.into_iter().collect(),
            traces,
        },
    ))
}

fn remote_result(v: &VerifiedReceipts, r: &Receipt, promo: &Promotion, from: &str) -> RemoteResult {
    RemoteResult {
        from_space: from.to_string(),
        receipt_id: r.id.clone(),
        bundle_digest: r.bundle_digest.clone(),
        project: promo.project.clone(),
        version: r.version.clone(),
        environment: Environment::remote_name(from, &r.environment),
        state: r.state,
        started_at: r.started_at,
        finished_at: r.finished_at,
        steps: r
            .steps
            .iter()
            .map(|s| RemoteStep {
                name: s.name.clone(),
                state: s.state,
                targets: s.targets,
                failed_targets: s.failed_targets,
            })
            .collect(),
        targets: r.targets,
        received_at: now(),
        file_digest: v.digest.clone(),
    }
}

/// Adds the file to the relay queue for `to`, or refuses (UNAVAILABLE) when that queue is full.
fn queue_relay(
    state: &SpaceState,
    b: &mut Batch,
    v: &VerifiedReceipts,
    envelope: &str,
    to: &str,
) -> ApiResult<()> {
    let waiting = state
        .store
        .scan(RelayedReceipts::TABLE, &prefix_of(&[to]), None, MAX_RELAYED)?
        .len();
    if waiting >= MAX_RELAYED {
        return Err(ApiError::Unavailable(format!(
            "{waiting} receipts files already wait here to be relayed to space '{to}' (the most kept): the receipts were not applied; they are accepted again once '{to}' takes what waits"
        )));
    }
    b.put_record(&RelayedReceipts {
        to_space: to.to_string(),
        from_space: v.file.from_space.clone(),
        created_at: v.file.created_at,
        digest: v.digest.clone(),
        envelope: envelope.to_string(),
        received_at: now(),
    })?;
    Ok(())
}

#[cfg(test)]
#[path = "tests/relay.rs"]
mod tests;
