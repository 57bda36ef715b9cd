//! Automatic import, the target side: per trusted source Space (optionally per project), the
//! Space's choice to import bundles with a named lifecycle as soon as their packages are
//! complete (without a rule they stay pending). The automation loop also resumes the package
//! fetch of any pending bundle that is not complete (after a restart or a broken link).

use std::collections::HashMap;
use std::sync::Arc;

use domain::model::AutoImportRule;
use storage::{Batch, StoreExt, key_of};

use crate::deployments::Engine;
use crate::error::{ApiError, ApiResult};
use crate::promotion::service::PromotionService;
use crate::promotion::{bundles, fetch};
use crate::state::{SpaceState, now};

pub struct AutoImportService {
    pub state: Arc<SpaceState>,
}

impl AutoImportService {
    /// Imports bundles from `source_space` (of `project` only, when not empty) with
    /// `lifecycle` from now on, including those pending now.
    pub async fn set(
        &self,
        source_space: &str,
        project: &str,
        lifecycle: &str,
        who: &str,
    ) -> ApiResult<AutoImportRule> {
        let source = source_space.trim();
        crate::services::check_name("space", source)?;
        if !self.state.is_known_space(source)? {
            return Err(ApiError::Invalid(format!(
                "'{source}' is not a Space this one knows (a peer in its trust set or the owner of a remote environment)"
            )));
        }
        let l = self.state.lifecycle(lifecycle.trim())?;
        let rule = AutoImportRule {
            source_space: source.to_string(),
            project: project.trim().to_string(),
            lifecycle: l.name,
            created_at: now(),
            created_by: who.to_string(),
        };
        let mut b = Batch::new();
        b.put_record(&rule)?;
        self.state.commit(b).await?;
        tracing::info!(from = %rule.source_space, project = %rule.project, lifecycle = %rule.lifecycle, by = %who, "automatic import rule set");
        self.state.wake.notify_one();
        Ok(rule)
    }

    pub fn list(&self) -> ApiResult<Vec<AutoImportRule>> {
        Ok(self.state.store.all_records::<AutoImportRule>("")?)
    }

    pub async fn delete(&self, source_space: &str, project: &str) -> ApiResult<()> {
        let key = key_of(&[source_space.trim(), project.trim()]);
        if self
            .state
            .store
            .get_record::<AutoImportRule>(&key)?
            .is_none()
        {
            return Err(ApiError::not_found(
                "automatic import rule",
                format!("{source_space} {project}").trim().to_string(),
            ));
        }
        let mut b = Batch::new();
        b.delete(<AutoImportRule as storage::Record>::TABLE, &key);
        self.state.commit(b).await?;
        Ok(())
    }
}

/// The rule for a bundle of `project` from `source`: the project's own, else the Space's.
fn rule_for(state: &SpaceState, source: &str, project: &str) -> ApiResult<Option<AutoImportRule>> {
    if let Some(r) = state
        .store
        .get_record::<AutoImportRule>(&key_of(&[source, project]))?
    {
        return Ok(Some(r));
    }
    Ok(state
        .store
        .get_record::<AutoImportRule>(&key_of(&[source, ""]))?)
}

/// Seconds before a pending bundle's fetch is tried again (sooner when its source is heard
/// from).
const RETRY: i64 = 30;

/// One pass over the pending bundles: a complete one with a rule is imported (which starts
/// the Space's own automatic phases); an incomplete one gets its fetch resumed, at most once
/// per [`RETRY`] period per bundle, or when its source is heard from again.
pub async fn pass(engine: &Arc<Engine>, retry_at: &mut HashMap<String, i64>) -> ApiResult<()> {
    let state = &engine.state;
    if state.peering.get().is_none() {
        return Ok(());
    }
    let pending = crate::promotion::index::pending_bundles(state.store.as_ref())?;
    retry_at.retain(|id, _| pending.iter().any(|b| &b.id == id));
    for rb in pending {
        if retry_at.get(&rb.id) == Some(&i64::MAX) {
            continue; // an automatic import was refused before: a person decides
        }
        let fetching = state
            .fetching
            .lock()
            .map(|f| f.contains(&rb.id))
            .unwrap_or(true);
        let rule = rule_for(state, &rb.source_space, &rb.project)?;
        // Due again after RETRY seconds, or as soon as the source was heard from since the
        // last try (a source back from a crash or an outage sends a heartbeat as it starts).
        let due = retry_at.get(&rb.id).is_none_or(|t| {
            *t <= now()
                || state
                    .last_heard(&rb.source_space)
                    .is_some_and(|h| h >= t - RETRY)
        });
        // Without a rule there is nothing to import: the bundle is only looked at (read and
        // verified) every RETRY s, to resume its fetch; with one it is looked at every pass.
        if fetching || (rule.is_none() && !due) {
            continue;
        }
        let v = match bundles::load(state, &rb, false) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(bundle = %rb.id, error = %e, "a pending bundle cannot be read");
                retry_at.insert(rb.id.clone(), now() + RETRY);
                continue;
            }
        };
        let missing: usize = bundles::missing_chunks(state, &v)
            .iter()
            .map(|(_, n)| n)
            .sum();
        if missing > 0 {
            if due && fetch::spawn(state.clone(), rb.id.clone()) {
                retry_at.insert(rb.id.clone(), now() + RETRY);
                tracing::info!(bundle = %rb.id, from = %rb.source_space, missing, "resuming the package fetch of a pending bundle");
            }
            continue;
        }
        let Some(rule) = rule else {
            retry_at.insert(rb.id.clone(), now() + RETRY);
            continue;
        };
        let service = PromotionService {
            engine: engine.clone(),
        };
        let who = format!("automatic import (rule for '{}')", rule.source_space);
        match service.import_bundle(&rb.id, &rule.lifecycle, &who).await {
            Ok(done) => {
                tracing::info!(bundle = %rb.id, project = %done.imported.release.project, release = %done.imported.release.version, lifecycle = %rule.lifecycle, "bundle imported automatically");
            }
            Err(e) => {
                tracing::warn!(bundle = %rb.id, error = %e, "automatic import refused; the bundle stays pending (deploy bundle import decides)");
                retry_at.insert(rb.id.clone(), i64::MAX);
            }
        }
    }
    Ok(())
}
