//! Automatic phases: when a release arrives (created, imported) or a deployment succeeds,
//! the phases that became due start: local environments are deployed, other Spaces (and their
//! remote environments) get a queued promotion.

use std::sync::Arc;

use domain::model::Release;
use storage::StoreExt;

use super::Engine;

impl Engine {
    /// A release arrived (created, imported): the automatic phases due for untenanted
    /// deployments, and for each tenant connected to its project, its own.
    pub fn start_automatic_arrived(self: &Arc<Self>, release: &Release, after: &str) {
        self.start_automatic(release, after, None);
        let tenants = self
            .state
            .store
            .all_records::<domain::model::Tenant>("")
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "cannot read tenants for automatic phases");
                Vec::new()
            });
        for t in tenants.iter().filter(|t| {
            t.projects
                .iter()
                .any(|p| p.project.eq_ignore_ascii_case(&release.project))
        }) {
            self.start_automatic(release, after, Some(&t.name));
        }
    }

    /// Starts deployments to automatic phases that became due (for `tenant`, after one of
    /// its deployments: its own next phases, in the environments it is connected to).
    pub fn start_automatic(self: &Arc<Self>, release: &Release, after: &str, tenant: Option<&str>) {
        let Ok(lifecycle) = self.lifecycle_of(release) else {
            return;
        };
        let lifecycle = match tenant.map(|t| self.state.tenant(t)) {
            None => lifecycle,
            Some(Ok(t)) => {
                domain::lifecycle::for_tenant(&lifecycle, |e| t.serves(&release.project, e))
            }
            Some(Err(_)) => return,
        };
        let Ok((ok, any)) = self.history(release, tenant) else {
            return;
        };
        for env in domain::lifecycle::automatic_due(&lifecycle, &ok, &any) {
            // Remote environments and whole Spaces are reached by promotion: queued for the
            // automation loop, which offers the release there.
            if let Some(space) = crate::automation::queue::space_reached(&self.state, &env) {
                if let Err(e) =
                    crate::automation::queue::enqueue(&self.state, release, &space, after)
                {
                    tracing::warn!(environment = %env, to_space = %space, error = %e, "automatic promotion could not be queued");
                }
                continue;
            }
            match self.create(
                &release.project,
                &release.version,
                &env,
                "lifecycle (automatic phase)",
                0,
                tenant,
            ) {
                Ok(d) => {
                    tracing::info!(deployment = %d.id, environment = %env, after = %after, "automatic phase started")
                }
                Err(e) => {
                    tracing::warn!(environment = %env, error = %e, "automatic phase could not start")
                }
            }
        }
    }
}
