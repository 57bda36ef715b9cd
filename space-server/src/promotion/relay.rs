//! Receipts relayed along a chain, the sending side: files another Space signed wait in the
//! relay queue (written by `receipts_in` in the commit that applied them here) and leave in the
//! order their issuer signed them, unchanged, to the Space before this one on the release's
//! route. A file leaves the queue once that Space took it, or refused it for good (it does not
//! trust the issuer for receipts, say): a refusal is logged, not retried forever.

use domain::model::RelayedReceipts;
use storage::{Batch, Record, StoreExt, prefix_of};

use super::peering;
use crate::error::ApiResult;
use crate::peering::client;
use crate::state::SpaceState;

/// Files sent per page of the queue.
const PAGE: usize = 50;

/// What a relay pass did for one Space.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Relayed {
    pub delivered: usize,
    pub refused: usize,
}

/// How many files wait to be relayed to `to`.
pub fn waiting(state: &SpaceState, to: &str) -> ApiResult<usize> {
    Ok(state
        .store
        .scan(
            RelayedReceipts::TABLE,
            &prefix_of(&[to]),
            None,
            super::receipts_in::MAX_RELAYED,
        )?
        .len())
}

/// Relays every file waiting for `to`, oldest first; stops at the first failure that may pass
/// (the peer is down), which is returned.
pub async fn deliver(state: &SpaceState, to: &str) -> ApiResult<Relayed> {
    let p = peering(state)?;
    let mut done = Relayed::default();
    loop {
        let (page, _) =
            state
                .store
                .list_records::<RelayedReceipts>(&prefix_of(&[to]), None, PAGE)?;
        if page.is_empty() {
            return Ok(done);
        }
        for rec in page {
            match client::deliver_receipts(p, to, rec.envelope.as_bytes()).await {
                Ok(r) => {
                    state.heard_from(to, "receipts relayed");
                    tracing::info!(to_space = %to, issuer = %rec.from_space, applied = r.applied, already = r.already_applied, "receipts relayed");
                    done.delivered += 1;
                }
                Err(s) if for_good(s.code()) => {
                    tracing::warn!(to_space = %to, issuer = %rec.from_space, file = %rec.digest, error = %s.message(), "space refused relayed receipts; they are not relayed again");
                    done.refused += 1;
                }
                Err(s) => return Err(client::to_api(s)),
            }
            let mut b = Batch::new();
            b.delete(RelayedReceipts::TABLE, &rec.key());
            state.commit(b).await?;
        }
    }
}

/// Whether a peer's refusal will not change by trying again.
fn for_good(code: tonic::Code) -> bool {
    matches!(
        code,
        tonic::Code::PermissionDenied
            | tonic::Code::FailedPrecondition
            | tonic::Code::InvalidArgument
            | tonic::Code::NotFound
            | tonic::Code::AlreadyExists
    )
}
