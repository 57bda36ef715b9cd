//! `space.v1.Deployments`: start, inspect, follow, cancel deployments; the dashboard.

use std::pin::Pin;
use std::sync::Arc;

use domain::model::{Deployment, LogEntry};
use futures::Stream;
use proto::space::v1 as pb;
use proto::space::v1::deployments_server::Deployments;
use proto::wire::agent::deployment_to_wire;
use proto::wire::timestamp;
use tokio::sync::broadcast::error::RecvError;

use super::engine::{Engine, Event};
use super::queries::{Dashboard, DashboardCell};
use crate::api::{Resp, ok, page, token};
use crate::auth::caller;
use crate::permits::Viewer;
use domain::access::{Need, Permission};

pub struct DeploymentsApi {
    pub engine: Arc<Engine>,
}

impl DeploymentsApi {
    /// The caller may deploy `project` to `environment` for `tenant` (one check,
    /// `crate::permits`).
    fn may_deploy<T>(
        &self,
        req: &tonic::Request<T>,
        project: &str,
        environment: &str,
        tenant: Option<&str>,
    ) -> Result<(), crate::error::ApiError> {
        let deploy = domain::access::Permission::Deploy;
        crate::permits::require_at(
            &self.engine.state,
            req,
            deploy,
            project,
            environment,
            tenant,
        )
    }
}

/// A request's tenant field (empty: untenanted).
fn tenant_of(t: &str) -> Option<&str> {
    (!t.is_empty()).then_some(t)
}

/// What a deployment needs of its caller: `permission` where it ran.
fn need(permission: Permission, d: &Deployment) -> Need {
    Need::at(permission, &d.project, &d.environment, d.tenant.as_deref())
}

fn log_event(e: LogEntry) -> pb::DeploymentEvent {
    pb::DeploymentEvent {
        seq: e.seq,
        at: Some(timestamp(e.at)),
        step: e.step,
        target: e.target,
        stream: e.stream,
        text: e.text,
        deployment: None,
    }
}

fn state_event(d: Deployment) -> pb::DeploymentEvent {
    pb::DeploymentEvent {
        seq: 0,
        at: Some(timestamp(domain::model::now())),
        step: String::new(),
        target: String::new(),
        stream: "state".into(),
        text: d.state.as_str().into(),
        deployment: Some(deployment_to_wire(d)),
    }
}

type Events = Pin<Box<dyn Stream<Item = Result<pb::DeploymentEvent, tonic::Status>> + Send>>;

#[tonic::async_trait]
impl Deployments for DeploymentsApi {
    async fn create(
        &self,
        req: tonic::Request<pb::CreateDeploymentRequest>,
    ) -> Resp<pb::Deployment> {
        let r = req.get_ref();
        self.may_deploy(&req, &r.project, &r.environment, tenant_of(&r.tenant))?;
        let who = caller(&req).name;
        let pb::CreateDeploymentRequest {
            project,
            version,
            environment,
            max_parallel,
            tenant,
        } = req.into_inner();
        let tenant = (!tenant.is_empty()).then_some(tenant);
        let d = self.engine.create(
            &project,
            &version,
            &environment,
            &who,
            max_parallel as usize,
            tenant.as_deref(),
        )?;
        ok(deployment_to_wire(d))
    }

    async fn get(&self, req: tonic::Request<pb::DeploymentRef>) -> Resp<pb::Deployment> {
        let d = self.engine.get(&req.get_ref().id)?;
        Viewer::of(&self.engine.state, &req)?.check(need(Permission::View, &d))?;
        ok(deployment_to_wire(d))
    }

    async fn list(
        &self,
        req: tonic::Request<pb::ListDeploymentsRequest>,
    ) -> Resp<pb::ListDeploymentsResponse> {
        let viewer = Viewer::of(&self.engine.state, &req)?;
        let pb::ListDeploymentsRequest {
            project,
            environment,
            page: p,
        } = req.into_inner();
        let l = self.engine.list(&project, &environment, page(p)?)?;
        ok(pb::ListDeploymentsResponse {
            deployments: l
                .items
                .into_iter()
                .filter(|d| viewer.sees(&d.project, &d.environment, d.tenant.as_deref()))
                .map(deployment_to_wire)
                .collect(),
            next_page_token: token(l.next),
        })
    }

    type WatchStream = Events;

    async fn watch(&self, req: tonic::Request<pb::DeploymentRef>) -> Resp<Events> {
        let d = self.engine.get(&req.get_ref().id)?;
        Viewer::of(&self.engine.state, &req)?.check(need(Permission::View, &d))?;
        let n = d.number;
        // Subscribe before replaying, so nothing falls between the replay and the live events.
        let live = self.engine.subscribe(n);
        let engine = self.engine.clone();
        let (tx, rx) =
            tokio::sync::mpsc::channel::<Result<pb::DeploymentEvent, tonic::Status>>(256);
        tokio::spawn(async move {
            let mut last = 0u64;
            let replay = |last: &mut u64| -> Vec<pb::DeploymentEvent> {
                let lines = engine.logs_after(n, *last).unwrap_or_default();
                if let Some(l) = lines.last() {
                    *last = l.seq;
                }
                lines.into_iter().map(log_event).collect()
            };
            for e in replay(&mut last) {
                if tx.send(Ok(e)).await.is_err() {
                    return;
                }
            }
            let Some(mut live) = live else {
                if let Ok(d) = engine.get(&Deployment::id_for(n)) {
                    let _ = tx.send(Ok(state_event(d))).await;
                }
                return;
            };
            loop {
                match live.recv().await {
                    Ok(Event::Log(e)) if e.seq > last => {
                        last = e.seq;
                        if tx.send(Ok(log_event(e))).await.is_err() {
                            return;
                        }
                    }
                    Ok(Event::Log(_)) => {}
                    Ok(Event::State(d)) => {
                        let done = d.state.is_final();
                        if tx.send(Ok(state_event(*d))).await.is_err() || done {
                            return;
                        }
                    }
                    Err(RecvError::Lagged(_)) => {
                        for e in replay(&mut last) {
                            if tx.send(Ok(e)).await.is_err() {
                                return;
                            }
                        }
                    }
                    Err(RecvError::Closed) => {
                        if let Ok(d) = engine.get(&Deployment::id_for(n)) {
                            for e in replay(&mut last) {
                                let _ = tx.send(Ok(e)).await;
                            }
                            let _ = tx.send(Ok(state_event(d))).await;
                        }
                        return;
                    }
                }
            }
        });
        ok(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx)))
    }

    async fn cancel(&self, req: tonic::Request<pb::DeploymentRef>) -> Resp<pb::Deployment> {
        let d = self.engine.get(&req.get_ref().id)?;
        crate::permits::require(&self.engine.state, &req, need(Permission::Deploy, &d))?;
        ok(deployment_to_wire(self.engine.cancel(&d.id)?))
    }

    async fn import_drop_result(
        &self,
        req: tonic::Request<pb::ImportDropResultRequest>,
    ) -> Resp<pb::ImportDropResultResponse> {
        let who = caller(&req);
        let state = self.engine.state.clone();
        let allowed = {
            let who = who.clone();
            move |d: &Deployment| {
                crate::permits::require_of(&state, &who, need(Permission::Deploy, d))
            }
        };
        let pb::ImportDropResultRequest { receipt } = req.into_inner();
        let (d, changed) = self
            .engine
            .import_drop_result(&receipt, &who.name, &allowed)
            .await?;
        ok(pb::ImportDropResultResponse {
            deployment: Some(deployment_to_wire(d)),
            changed,
        })
    }

    async fn schedule(
        &self,
        req: tonic::Request<pb::ScheduleDeploymentRequest>,
    ) -> Resp<pb::ScheduledDeployment> {
        let r = req.get_ref();
        self.may_deploy(&req, &r.project, &r.environment, tenant_of(&r.tenant))?;
        let who = caller(&req).name;
        let pb::ScheduleDeploymentRequest {
            project,
            version,
            environment,
            at,
            tenant,
        } = req.into_inner();
        let at = at.map_or_else(crate::state::now, |t| t.seconds);
        let s = crate::automation::schedule::schedule(
            &self.engine.state,
            &project,
            &version,
            &environment,
            at,
            &who,
            tenant_of(&tenant),
        )
        .await?;
        ok(scheduled_to_wire(s))
    }

    async fn list_scheduled(
        &self,
        req: tonic::Request<pb::PageRequest>,
    ) -> Resp<pb::ListScheduledResponse> {
        let viewer = Viewer::of(&self.engine.state, &req)?;
        let page = crate::api::page(Some(req.into_inner()))?;
        let l = crate::automation::schedule::list(&self.engine.state, page)?;
        ok(pb::ListScheduledResponse {
            scheduled: l
                .items
                .into_iter()
                .filter(|s| viewer.sees(&s.project, &s.environment, s.tenant.as_deref()))
                .map(scheduled_to_wire)
                .collect(),
            next_page_token: crate::api::token(l.next),
        })
    }

    async fn unschedule(
        &self,
        req: tonic::Request<pb::ScheduleDeploymentRequest>,
    ) -> Resp<pb::Empty> {
        let r = req.get_ref();
        self.may_deploy(&req, &r.project, &r.environment, tenant_of(&r.tenant))?;
        let pb::ScheduleDeploymentRequest {
            project,
            version,
            environment,
            at: _,
            tenant,
        } = req.into_inner();
        crate::automation::schedule::cancel(
            &self.engine.state,
            &project,
            &version,
            &environment,
            tenant_of(&tenant),
        )
        .await?;
        ok(pb::Empty {})
    }

    async fn dashboard(&self, req: tonic::Request<pb::Empty>) -> Resp<pb::DashboardResponse> {
        let viewer = Viewer::of(&self.engine.state, &req)?;
        ok(dashboard_wire(self.engine.dashboard(&viewer)?))
    }
}

/// The dashboard as the API (and the web UI's JSON) gives it.
pub(crate) fn dashboard_wire(d: Dashboard) -> pb::DashboardResponse {
    let Dashboard {
        environments,
        projects,
        cells,
        tenants,
        promotions,
    } = d;
    pb::DashboardResponse {
        tenants: tenants
            .into_iter()
            .map(|t| pb::DashboardTenant {
                project: t.project,
                tenant: t.tenant,
                environments: t.environments,
            })
            .collect(),
        promotions: promotions
            .into_iter()
            .map(|v| pb::DashboardPromotion {
                project: v.job.project,
                version: v.job.version,
                target_space: v.job.target_space,
                state: v.state.into(),
                detail: v.detail,
            })
            .collect(),
        environments,
        projects,
        cells: cells.into_iter().map(cell_to_wire).collect(),
    }
}

fn cell_to_wire(c: DashboardCell) -> pb::DashboardCell {
    let DashboardCell {
        project,
        environment,
        tenant,
        version,
        state,
        deployment_id,
        finished_at,
        operator_reported,
        receipt_received_at,
        last_heard_at,
        stale,
    } = c;
    pb::DashboardCell {
        tenant: tenant.unwrap_or_default(),
        project,
        environment,
        version,
        state: state.as_str().into(),
        deployment_id,
        finished_at: finished_at.map(timestamp),
        operator_reported,
        receipt_received_at: receipt_received_at.map(timestamp),
        last_heard_at: last_heard_at.map(timestamp),
        stale,
    }
}

fn scheduled_to_wire(s: domain::model::ScheduledDeployment) -> pb::ScheduledDeployment {
    use domain::model::ScheduledState;
    let domain::model::ScheduledDeployment {
        project,
        version,
        environment,
        at,
        state,
        created_at: _,
        created_by,
        tenant,
    } = s;
    let (state, deployment_id, reason) = match state {
        ScheduledState::Scheduled => ("scheduled", String::new(), String::new()),
        ScheduledState::Started { deployment_id } => ("started", deployment_id, String::new()),
        ScheduledState::Failed { reason } => ("failed", String::new(), reason),
    };
    pb::ScheduledDeployment {
        project,
        version,
        environment,
        at: Some(timestamp(at)),
        state: state.into(),
        deployment_id,
        reason,
        created_by,
        tenant: tenant.unwrap_or_default(),
    }
}
