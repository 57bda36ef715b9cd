//! Deployment Receipts out: the target Space signs the results of deployments of releases it
//! imported and exports them (to a file or over the peer link); `receipts_in` applies them at
//! the source.

use std::collections::BTreeSet;

use std::sync::atomic::Ordering;

use domain::model::{Deployment, ReceiptSent, Release, RunState};
use exchange::receipt::{KIND, Receipt, ReceiptError, ReceiptFile, ReceiptStep, SCHEMA};
use proto::odcm::v1 as odcm_pb;
use storage::{Batch, StoreExt};

use super::{audit, peering, signer};
use crate::error::{ApiError, ApiResult};
use crate::state::{SpaceState, now};

pub(super) fn receipt_error(e: ReceiptError) -> ApiError {
    match e {
        ReceiptError::Untrusted { .. }
        | ReceiptError::WrongAddressee { .. }
        | ReceiptError::SchemaTooNew { .. } => ApiError::Precondition(e.to_string()),
        ReceiptError::Sign(m) => ApiError::Internal(m),
        e => ApiError::Invalid(e.to_string()),
    }
}

fn receipt_of(d: &Deployment, r: &Release) -> Option<Receipt> {
    let o = r.origin.as_ref()?;
    let state = crate::deployments::reported_state(d).unwrap_or(d.state);
    let mut targets = BTreeSet::new();
    let steps = d
        .steps
        .iter()
        .map(|s| {
            targets.extend(s.targets.iter().map(|t| t.target.to_lowercase()));
            ReceiptStep {
                name: s.name.clone(),
                state: s.state,
                targets: s.targets.len() as u32,
                failed_targets: s
                    .targets
                    .iter()
                    .filter(|t| t.state == RunState::Failed)
                    .count() as u32,
            }
        })
        .collect();
    Some(Receipt {
        id: d.id.clone(),
        bundle_id: o.bundle_id.clone(),
        bundle_digest: o.bundle_digest.clone(),
        project: o.source_project.clone(),
        version: r.version.clone(),
        environment: d.environment.clone(),
        state,
        started_at: d.started_at,
        finished_at: d.finished_at,
        steps,
        targets: targets.len() as u32,
        // The deployment's span when it was traced (a child of the promotion's), so the
        // source's span for the receipt joins the same trace.
        traceparent: if d.traceparent.is_empty() {
            o.traceparent.clone()
        } else {
            d.traceparent.clone()
        },
        route: o.route.clone(),
    })
}

/// Which receipts to export.
#[derive(Debug, Clone, Copy, Default)]
pub struct Selection {
    /// Also those exported before.
    pub all: bool,
    /// Only deployments numbered in this range (inclusive; `0` = open), exported before or not.
    pub range: Option<(u64, u64)>,
}

impl Selection {
    fn wants(&self, number: u64, sent_before: bool) -> bool {
        match self.range {
            Some((from, to)) => number >= from && (to == 0 || number <= to),
            None => self.all || !sent_before,
        }
    }
}

/// Signs the receipts of finished deployments of releases imported from `space` (by default
/// those not exported before). Returns how many and the file's bytes.
pub async fn export(
    state: &SpaceState,
    space: &str,
    select: Selection,
    who: &str,
) -> ApiResult<(usize, Vec<u8>)> {
    let prepared = prepare(state, space, select).await?;
    mark_sent(state, &prepared, who).await?;
    Ok((prepared.count, prepared.bytes))
}

/// A signed receipts file, not yet counted as exported.
pub struct Prepared {
    pub space: String,
    pub count: usize,
    pub bytes: Vec<u8>,
    numbers: Vec<u64>,
    subjects: String,
}

/// Builds and signs the receipts `select` chooses for `space`, without marking them exported;
/// FAILED_PRECONDITION when there are none.
pub async fn prepare(state: &SpaceState, space: &str, select: Selection) -> ApiResult<Prepared> {
    let (prepared, skipped) = prepare_pending(state, space, select).await?;
    prepared.ok_or_else(|| {
        ApiError::Precondition(format!(
            "no receipts to export for space '{space}' ({skipped} left out: exported before or outside the range; --all exports everything again)"
        ))
    })
}

/// [`prepare`], with `None` when nothing is selected (and how many were left out).
pub async fn prepare_pending(
    state: &SpaceState,
    space: &str,
    select: Selection,
) -> ApiResult<(Option<Prepared>, usize)> {
    let p = peering(state)?;
    // Only unsent receipts wanted: start after the deployments known to be settled.
    let outbox = !select.all && select.range.is_none();
    let floor = if outbox {
        state.outbox_floor.load(Ordering::Relaxed)
    } else {
        0
    };
    let mut settled = floor;
    let mut by_space: Vec<(String, Receipt, u64)> = Vec::new();
    for d in deployments_after(state, floor)? {
        let open = !d.state.is_final();
        let receipt = state
            .release(&d.project, &d.version)
            .ok()
            .and_then(|r| Some((r.origin.clone()?.source_space, receipt_of(&d, &r)?)));
        let waiting = open
            || (receipt.is_some()
                && state
                    .store
                    .get_record::<ReceiptSent>(&storage::records::deployment_key(d.number))?
                    .is_none());
        if !waiting && settled + 1 == d.number {
            settled = d.number;
        }
        if let (false, Some((from, receipt))) = (open, receipt) {
            by_space.push((from, receipt, d.number));
        }
    }
    if outbox {
        state.outbox_floor.fetch_max(settled, Ordering::Relaxed);
    }
    let spaces: BTreeSet<String> = by_space.iter().map(|(s, ..)| s.clone()).collect();
    let space = if space.trim().is_empty() {
        match spaces.len() {
            1 => spaces.into_iter().next().unwrap_or_default(),
            0 => {
                return Err(ApiError::Precondition(
                    "no deployment of an imported release has finished yet: nothing to export"
                        .into(),
                ));
            }
            _ => {
                return Err(ApiError::Invalid(format!(
                    "releases were imported from several Spaces: choose one with --space ({})",
                    spaces.into_iter().collect::<Vec<_>>().join(", ")
                )));
            }
        }
    } else {
        space.trim().to_string()
    };
    let mut receipts = Vec::new();
    let mut numbers = Vec::new();
    let mut skipped = 0;
    for (s, receipt, number) in by_space {
        if !s.eq_ignore_ascii_case(&space) {
            continue;
        }
        let sent = state
            .store
            .get_record::<ReceiptSent>(&storage::records::deployment_key(number))?;
        if !select.wants(number, sent.is_some()) {
            skipped += 1;
            continue;
        }
        receipts.push(receipt);
        numbers.push(number);
    }
    if receipts.is_empty() {
        return Ok((None, skipped));
    }
    let file = ReceiptFile {
        kind: KIND.to_string(),
        schema: SCHEMA.to_string(),
        from_space: p.me.clone(),
        to_space: space.clone(),
        created_at: now(),
        receipts,
    };
    let bytes = file.sign(&signer(p)?).map_err(receipt_error)?;
    let subjects: Vec<String> = file
        .receipts
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {}",
                r.project,
                r.version,
                r.environment,
                r.state.as_str()
            )
        })
        .collect();
    Ok((
        Some(Prepared {
            space,
            count: file.receipts.len(),
            bytes,
            numbers,
            subjects: subjects.join("; "),
        }),
        skipped,
    ))
}

/// Deployments numbered after `floor`, in order.
fn deployments_after(state: &SpaceState, floor: u64) -> ApiResult<Vec<Deployment>> {
    let after = (floor > 0).then(|| storage::records::deployment_key(floor));
    let mut out = Vec::new();
    let mut page = after;
    loop {
        let (items, next) = state
            .store
            .list_records::<Deployment>("", page.as_deref(), 500)?;
        out.extend(items);
        match next {
            Some(n) => page = Some(n),
            None => break,
        }
    }
    Ok(out)
}

/// Records that the receipts of `prepared` left (written to a file or delivered).
pub async fn mark_sent(state: &SpaceState, prepared: &Prepared, who: &str) -> ApiResult<()> {
    let mut b = Batch::new();
    for n in &prepared.numbers {
        b.put_record(&ReceiptSent {
            deployment: *n,
            to_space: prepared.space.clone(),
            at: now(),
        })?;
    }
    state.commit(b).await?; // durable: acknowledged promotion steps survive a crash
    tracing::info!(to_space = %prepared.space, receipts = prepared.count, by = %who, "deployment receipts sent");
    audit(
        state,
        odcm_pb::EventKind::ReceiptSent,
        &prepared.space,
        &prepared.subjects,
        &format!("{} receipt(s)", prepared.count),
    );
    Ok(())
}
