//! What people look at: deployments listed newest first (through the indexes) and the
//! dashboard (the newest deployment per project and environment, per tenant on the tenants'
//! rows, and the newest result each remote environment received in a Deployment Receipt),
//! limited to what the viewer may see.

use domain::model::{Deployment, Environment, Project, RunState, Timestamp};
use storage::StoreExt;

use super::Engine;
use super::index;
use crate::error::ApiResult;
use crate::permits::Viewer;
use crate::services::{Listed, Page};

/// One cell of the dashboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DashboardCell {
    pub project: String,
    pub environment: String,
    /// The tenant of a tenant row's cell.
    pub tenant: Option<String>,
    pub version: String,
    pub state: RunState,
    /// A local deployment's id, or "<Space> <receipt id>" for a remote result.
    pub deployment_id: String,
    pub finished_at: Option<Timestamp>,
    /// The state was reported by an operator for an offline drop (not signed).
    pub operator_reported: bool,
    /// When the receipt carrying a remote result arrived.
    pub receipt_received_at: Option<Timestamp>,
    /// For a remote result: when its Space was last heard from, and whether that is longer
    /// ago than the Space's staleness limit (the result may be out of date).
    pub last_heard_at: Option<Timestamp>,
    pub stale: bool,
}

/// Environments in display order (remote ones that only receipts named, after them),
/// projects, and cells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dashboard {
    pub environments: Vec<String>,
    pub projects: Vec<String>,
    pub cells: Vec<DashboardCell>,
    /// Tenant rows: each tenant connected to a project, with its environments there.
    pub tenants: Vec<TenantRow>,
    /// Promotions to other Spaces not deployed there yet (newest first, at most
    /// [`crate::automation::queue::DASHBOARD_JOBS`]).
    pub promotions: Vec<crate::automation::queue::JobView>,
}

/// A tenant's row under a project on the dashboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantRow {
    pub project: String,
    pub tenant: String,
    /// The environments the tenant is connected to in the project.
    pub environments: Vec<String>,
}

fn local_cell(d: Deployment) -> DashboardCell {
    DashboardCell {
        last_heard_at: None,
        stale: false,
        operator_reported: super::drop::reported_state(&d).is_some(),
        state: super::drop::reported_state(&d).unwrap_or(d.state),
        project: d.project,
        environment: d.environment,
        tenant: d.tenant,
        version: d.version,
        deployment_id: d.id,
        finished_at: d.finished_at,
        receipt_received_at: None,
    }
}

impl Engine {
    /// Deployments newest first, filtered by project and/or environment (empty: any).
    pub fn list(
        &self,
        project: &str,
        environment: &str,
        page: Page,
    ) -> ApiResult<Listed<Deployment>> {
        let (items, next) = index::page(
            self.state.store.as_ref(),
            project,
            environment,
            page.after.as_deref(),
            page.size,
        )?;
        Ok(Listed { items, next })
    }

    pub fn dashboard(&self, viewer: &Viewer) -> ApiResult<Dashboard> {
        let store = &self.state.store;
        let mut envs = store.all_records::<Environment>("")?;
        envs.sort_by(|a, b| a.sort_order.cmp(&b.sort_order).then(a.name.cmp(&b.name)));
        let projects = store.all_records::<Project>("")?;
        let mut cells: Vec<DashboardCell> = index::latest(store.as_ref())?
            .into_iter()
            .chain(index::latest_tenanted(store.as_ref())?)
            .map(local_cell)
            .collect();
        let mut tenants = Vec::new();
        for t in store.all_records::<domain::model::Tenant>("")? {
            for p in t.projects {
                tenants.push(TenantRow {
                    project: p.project,
                    tenant: t.name.clone(),
                    environments: p.environments,
                });
            }
        }
        tenants.retain(|r| {
            r.environments
                .iter()
                .any(|e| viewer.sees(&r.project, e, Some(&r.tenant)))
        });
        // Remote environments: the latest result each received in a Deployment Receipt.
        let remote = crate::promotion::remote_index::latest(store.as_ref())?;
        let mut environments: Vec<String> = envs.into_iter().map(|e| e.name).collect();
        for r in remote {
            if !environments
                .iter()
                .any(|e| e.eq_ignore_ascii_case(&r.environment))
            {
                environments.push(r.environment.clone());
            }
            cells.push(DashboardCell {
                project: r.project,
                environment: r.environment,
                tenant: None,
                version: r.version,
                state: r.state,
                deployment_id: format!("{} {}", r.from_space, r.receipt_id),
                finished_at: r.finished_at,
                operator_reported: false,
                receipt_received_at: Some(r.received_at),
                last_heard_at: self.state.last_heard(&r.from_space),
                stale: self.state.is_stale(&r.from_space),
            });
        }
        cells.retain(|c| viewer.sees(&c.project, &c.environment, c.tenant.as_deref()));
        Ok(Dashboard {
            environments,
            projects: projects
                .into_iter()
                .map(|p| p.name)
                .filter(|p| viewer.sees_project(p))
                .collect(),
            cells,
            tenants,
            promotions: crate::automation::queue::in_flight(&self.state)?,
        })
    }
}
