//! The promotion service: what `space.v1.Promotion` (and any other front end) asks for,
//! with the rules in one place: promote (write a bundle, or offer it to the peer now), add,
//! list and import bundles (an import reports the template values still missing and starts
//! automatic phases that became due), send receipts to the peer (counted as sent only once
//! the source Space accepted them), import receipts.

use std::sync::Arc;

use domain::model::ReceivedBundle;
use storage::StoreExt;

use super::import::Imported;
use super::promote::Promoted;
use super::receipts::Selection;
use super::receipts_in::Applied;
use super::{bundles, missing, receipts};
use crate::deployments::Engine;
use crate::error::{ApiError, ApiResult};
use crate::peering::client;
use crate::state::SpaceState;

pub struct PromotionService {
    pub engine: Arc<Engine>,
}

/// A promotion and where its bundle went.
pub struct Sent {
    pub promoted: Promoted,
    /// "written" (to a file), "offered", or "offered, fetching packages".
    pub state: &'static str,
    /// Chunks the target still lacked when it was offered.
    pub chunks_missing: u32,
}

/// An import and the template values still missing per environment.
pub struct ImportOutcome {
    pub imported: Imported,
    pub missing: Vec<missing::Missing>,
}

/// Receipts delivered to their Space.
pub struct Delivered {
    pub space: String,
    pub count: usize,
}

impl PromotionService {
    /// Writes a bundle of `project` `version` for `to_space`; with `push`, offers it to that
    /// Space now over the peer link.
    pub async fn promote(
        &self,
        project: String,
        version: String,
        to_space: String,
        push: bool,
        who: String,
    ) -> ApiResult<Sent> {
        let e = self.engine.clone();
        let promoted = tokio::task::spawn_blocking(move || {
            super::promote::promote(&e, &project, &version, &to_space, &who)
        })
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
        if !push {
            return Ok(Sent {
                promoted,
                state: "written",
                chunks_missing: 0,
            });
        }
        let c = &promoted.bundle.contents;
        let peering = super::peering(&self.engine.state)?;
        let r = client::offer_bundle(peering, &c.target_space, &promoted.bytes)
            .await
            .map_err(client::to_api)?;
        tracing::info!(bundle = %r.bundle_id, to_space = %c.target_space, chunks_missing = r.chunks_missing, "release bundle pushed");
        self.engine
            .state
            .heard_from(&c.target_space, "bundle offered");
        let state = if r.chunks_missing == 0 {
            "offered"
        } else {
            "offered, fetching packages"
        };
        Ok(Sent {
            promoted,
            state,
            chunks_missing: r.chunks_missing,
        })
    }

    pub async fn add_bundle(&self, bytes: Vec<u8>, who: String) -> ApiResult<ReceivedBundle> {
        let state = self.engine.state.clone();
        tokio::task::spawn_blocking(move || bundles::add(&state, &bytes, &who))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?
    }

    /// A page of the received bundles (in id order), oldest first within the page.
    pub async fn bundles(
        &self,
        page: crate::services::Page,
    ) -> ApiResult<crate::services::Listed<ReceivedBundle>> {
        let state = self.engine.state.clone();
        tokio::task::spawn_blocking(move || {
            let (mut items, next) =
                state
                    .store
                    .list_records::<ReceivedBundle>("", page.after.as_deref(), page.size)?;
            items.sort_by_key(|b| b.added_at);
            Ok(crate::services::Listed { items, next })
        })
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
    }

    /// Imports a pending bundle; then lists the template values still missing and starts the
    /// automatic phases that became due (neither can undo or fail the import).
    pub async fn import_bundle(
        &self,
        id: &str,
        lifecycle: &str,
        who: &str,
    ) -> ApiResult<ImportOutcome> {
        let state = &self.engine.state;
        let imported = super::import::import(state, id, lifecycle, who).await?;
        let missing = state
            .lifecycle(&imported.lifecycle)
            .and_then(|l| missing::missing(state, &imported.release, &l))
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "cannot list the missing template values after an import");
                Vec::new()
            });
        crate::automation::stage::for_new_release(&self.engine, &imported.release);
        self.engine
            .start_automatic_arrived(&imported.release, "bundle import");
        Ok(ImportOutcome { imported, missing })
    }

    /// The template values a release still lacks per environment of its lifecycle.
    pub fn missing(&self, project: &str, version: &str) -> ApiResult<Vec<missing::Missing>> {
        let r = self.engine.state.release(project, version)?;
        let l = self.engine.lifecycle_of(&r)?;
        missing::missing(&self.engine.state, &r, &l)
    }

    /// Delivers the receipts `select` chooses to `space` over the peer link; they count as
    /// sent once that Space accepted them.
    pub async fn deliver_receipts(
        &self,
        space: &str,
        select: Selection,
        who: &str,
    ) -> ApiResult<Delivered> {
        let prepared = receipts::prepare(&self.engine.state, space, select).await?;
        self.deliver(prepared, who).await
    }

    /// [`PromotionService::deliver_receipts`], with `None` when nothing waits for `space`.
    pub async fn deliver_pending(
        &self,
        space: &str,
        select: Selection,
        who: &str,
    ) -> ApiResult<Option<Delivered>> {
        match receipts::prepare_pending(&self.engine.state, space, select).await? {
            (Some(prepared), _) => self.deliver(prepared, who).await.map(Some),
            (None, _) => Ok(None),
        }
    }

    async fn deliver(&self, prepared: receipts::Prepared, who: &str) -> ApiResult<Delivered> {
        deliver_prepared(&self.engine.state, prepared, who).await
    }

    /// Imports a receipts file; a file whose every receipt was applied before changes nothing.
    pub async fn import_receipts(&self, bytes: &[u8], who: &str) -> ApiResult<Applied> {
        super::receipts_in::import(&self.engine.state, bytes, who).await
    }
}

/// Delivers every receipt for `space` again, sent before or not (it applies each once).
pub async fn deliver_all(
    state: &SpaceState,
    space: &str,
    who: &str,
) -> ApiResult<Option<Delivered>> {
    let select = Selection {
        all: true,
        range: None,
    };
    match receipts::prepare_pending(state, space, select).await? {
        (Some(prepared), _) => deliver_prepared(state, prepared, who).await.map(Some),
        (None, _) => Ok(None),
    }
}

/// Delivers a prepared receipts file over the peer link and marks its receipts sent.
async fn deliver_prepared(
    state: &SpaceState,
    prepared: receipts::Prepared,
    who: &str,
) -> ApiResult<Delivered> {
    let peering = super::peering(state)?;
    let r = client::deliver_receipts(peering, &prepared.space, &prepared.bytes)
        .await
        .map_err(client::to_api)?;
    state.heard_from(&prepared.space, "receipts delivered");
    receipts::mark_sent(state, &prepared, who).await?;
    tracing::info!(to_space = %prepared.space, applied = r.applied, already = r.already_applied, "deployment receipts delivered");
    Ok(Delivered {
        space: prepared.space.clone(),
        count: prepared.count,
    })
}
