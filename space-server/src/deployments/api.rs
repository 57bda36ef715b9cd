//! `space.v1.Deployments`: start, inspect, follow, cancel deployments; the dashboard.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;

use domain::model::{Deployment, Environment, LogEntry, Project};
use futures::Stream;
use proto::space::v1 as pb;
use proto::space::v1::deployments_server::Deployments;
use proto::wire::agent::deployment_to_wire;
use proto::wire::timestamp;
use storage::StoreExt;
use tokio::sync::broadcast::error::RecvError;

use super::engine::{Engine, Event};
use crate::api::{Resp, ok, page, token};
use crate::auth::caller;
use crate::error::ApiError;

pub struct DeploymentsApi {
    pub engine: Arc<Engine>,
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
        let who = caller(&req).name;
        let pb::CreateDeploymentRequest {
            project,
            version,
            environment,
            max_parallel,
        } = req.into_inner();
        let d = self.engine.create(
            &project,
            &version,
            &environment,
            &who,
            max_parallel as usize,
        )?;
        ok(deployment_to_wire(d))
    }

    async fn get(&self, req: tonic::Request<pb::DeploymentRef>) -> Resp<pb::Deployment> {
        ok(deployment_to_wire(self.engine.get(&req.into_inner().id)?))
    }

    async fn list(
        &self,
        req: tonic::Request<pb::ListDeploymentsRequest>,
    ) -> Resp<pb::ListDeploymentsResponse> {
        let pb::ListDeploymentsRequest {
            project,
            environment,
            page: p,
        } = req.into_inner();
        let crate::services::Page { size, after } = page(p)?;
        // Newest first: walk the numbered keys backwards in pages of `size`.
        let all = self
            .engine
            .state
            .store
            .all_records::<Deployment>("")
            .map_err(ApiError::from)?;
        let start = match &after {
            Some(a) => a.parse::<usize>().map_err(|_| {
                ApiError::Invalid("page_token is not a token this server issued".into())
            })?,
            None => 0,
        };
        let matching: Vec<Deployment> = all
            .into_iter()
            .rev()
            .filter(|d| project.is_empty() || d.project.eq_ignore_ascii_case(&project))
            .filter(|d| environment.is_empty() || d.environment.eq_ignore_ascii_case(&environment))
            .collect();
        let end = (start + size).min(matching.len());
        ok(pb::ListDeploymentsResponse {
            deployments: matching[start.min(end)..end]
                .iter()
                .cloned()
                .map(deployment_to_wire)
                .collect(),
            next_page_token: if end < matching.len() {
                token(Some(end.to_string()))
            } else {
                String::new()
            },
        })
    }

    type WatchStream = Events;

    async fn watch(&self, req: tonic::Request<pb::DeploymentRef>) -> Resp<Events> {
        let d = self.engine.get(&req.into_inner().id)?;
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
        ok(deployment_to_wire(
            self.engine.cancel(&req.into_inner().id)?,
        ))
    }

    async fn import_drop_result(
        &self,
        req: tonic::Request<pb::ImportDropResultRequest>,
    ) -> Resp<pb::ImportDropResultResponse> {
        let who = caller(&req).name;
        let pb::ImportDropResultRequest { receipt } = req.into_inner();
        let (d, changed) = self.engine.import_drop_result(&receipt, &who).await?;
        ok(pb::ImportDropResultResponse {
            deployment: Some(deployment_to_wire(d)),
            changed,
        })
    }

    async fn dashboard(&self, _req: tonic::Request<pb::Empty>) -> Resp<pb::DashboardResponse> {
        let store = &self.engine.state.store;
        let mut envs = store
            .all_records::<Environment>("")
            .map_err(ApiError::from)?;
        envs.sort_by(|a, b| a.sort_order.cmp(&b.sort_order).then(a.name.cmp(&b.name)));
        let projects = store.all_records::<Project>("").map_err(ApiError::from)?;
        let mut latest: BTreeMap<(String, String), Deployment> = BTreeMap::new();
        for d in store
            .all_records::<Deployment>("")
            .map_err(ApiError::from)?
        {
            latest.insert((d.project.to_lowercase(), d.environment.to_lowercase()), d);
        }
        let mut cells: Vec<pb::DashboardCell> = latest
            .into_values()
            .map(|d| pb::DashboardCell {
                operator_reported: super::drop::reported_state(&d).is_some(),
                state: super::drop::reported_state(&d)
                    .unwrap_or(d.state)
                    .as_str()
                    .into(),
                project: d.project,
                environment: d.environment,
                version: d.version,
                deployment_id: d.id,
                finished_at: d.finished_at.map(timestamp),
                receipt_received_at: None,
            })
            .collect();
        // Remote environments: the latest result each received in a Deployment Receipt.
        let mut remote: BTreeMap<(String, String), domain::model::RemoteResult> = BTreeMap::new();
        for r in store
            .all_records::<domain::model::RemoteResult>("")
            .map_err(ApiError::from)?
        {
            let k = (r.project.to_lowercase(), r.environment.to_lowercase());
            let newer = remote.get(&k).is_none_or(|old| {
                (r.finished_at, r.received_at) >= (old.finished_at, old.received_at)
            });
            if newer {
                remote.insert(k, r);
            }
        }
        let mut env_names: Vec<String> = envs.into_iter().map(|e| e.name).collect();
        for r in remote.into_values() {
            if !env_names
                .iter()
                .any(|e| e.eq_ignore_ascii_case(&r.environment))
            {
                env_names.push(r.environment.clone());
            }
            cells.push(pb::DashboardCell {
                project: r.project,
                environment: r.environment,
                version: r.version,
                state: r.state.as_str().into(),
                deployment_id: format!("{} {}", r.from_space, r.receipt_id),
                finished_at: r.finished_at.map(timestamp),
                operator_reported: false,
                receipt_received_at: Some(timestamp(r.received_at)),
            });
        }
        ok(pb::DashboardResponse {
            environments: env_names,
            projects: projects.into_iter().map(|p| p.name).collect(),
            cells,
        })
    }
}
