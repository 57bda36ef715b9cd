//! The Space-facing service (mutual TLS): each Space watches its trust set and reports the
//! bundles and receipts that crossed, which go to the audit log, and collects signed
//! checkpoints of that log.

use std::sync::Arc;
use std::time::Duration;

use proto::odcm::v1 as pb;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::calling_space;
use crate::checkpoints;
use crate::error::{OdcmError, OdcmResult};
use crate::services::link::{EventKind, LinkService, ReportedEvent, current_space, trust_set_for};

/// How often an open watch re-checks that the caller's certificate is still accepted.
const RECHECK: Duration = Duration::from_secs(2);

pub struct SpacesApi {
    pub link: Arc<LinkService>,
    /// Becomes true when the server shuts down; open watches end then.
    pub stop: tokio::sync::watch::Receiver<bool>,
}

fn event_kind(k: i32) -> OdcmResult<EventKind> {
    use pb::EventKind as K;
    Ok(match K::try_from(k) {
        Ok(K::BundleSent) => EventKind::BundleSent,
        Ok(K::BundleAccepted) => EventKind::BundleAccepted,
        Ok(K::BundleRefused) => EventKind::BundleRefused,
        Ok(K::ReceiptSent) => EventKind::ReceiptSent,
        Ok(K::ReceiptAccepted) => EventKind::ReceiptAccepted,
        Ok(K::ReceiptRefused) => EventKind::ReceiptRefused,
        _ => {
            return Err(OdcmError::Invalid(
                "the event kind is missing or unknown".into(),
            ));
        }
    })
}

#[tonic::async_trait]
impl pb::spaces_server::Spaces for SpacesApi {
    type WatchTrustSetStream = ReceiverStream<Result<pb::TrustSet, Status>>;

    async fn watch_trust_set(
        &self,
        r: Request<pb::Empty>,
    ) -> Result<Response<Self::WatchTrustSetStream>, Status> {
        let (space, fingerprint) = calling_space(&self.link.state, &r)?;
        let state = self.link.state.clone();
        let mut changes = state.changes.subscribe();
        let mut stop = self.stop.clone();
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tracing::info!(space = %space.name, "trust set watch opened");
        tokio::spawn(async move {
            let mut last: Option<pb::TrustSet> = None;
            let mut tick = tokio::time::interval(RECHECK);
            loop {
                if let Err(e) = current_space(&state, &space.name, &fingerprint) {
                    let _ = tx.send(Err(e.into())).await;
                    break;
                }
                match trust_set_for(&state, &space.name) {
                    Ok(set) if last.as_ref() != Some(&set) => {
                        if tx.send(Ok(set.clone())).await.is_err() {
                            break;
                        }
                        last = Some(set);
                    }
                    Ok(_) => {}
                    Err(e) => {
                        let _ = tx.send(Err(e.into())).await;
                        break;
                    }
                }
                tokio::select! {
                    c = changes.changed() => if c.is_err() { break },
                    _ = tick.tick() => {}
                    _ = tx.closed() => break,
                    _ = stop.wait_for(|v| *v) => break,
                }
            }
            tracing::info!(space = %space.name, "trust set watch closed");
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn report_event(&self, r: Request<pb::Event>) -> Result<Response<pb::Empty>, Status> {
        let (space, _) = calling_space(&self.link.state, &r)?;
        let pb::Event {
            kind,
            peer_space,
            subject,
            detail,
        } = r.into_inner();
        let event = ReportedEvent {
            kind: event_kind(kind)?,
            peer_space,
            subject,
            detail,
        };
        self.link.report(&space.name, event).await?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn checkpoint(
        &self,
        r: Request<pb::CheckpointRequest>,
    ) -> Result<Response<pb::CheckpointResponse>, Status> {
        let (space, _) = calling_space(&self.link.state, &r)?;
        let pb::CheckpointRequest { held } = r.into_inner();
        let (c, problem) = checkpoints::exchange(&self.link.state, &space.name, &held)?;
        Ok(Response::new(pb::CheckpointResponse {
            checkpoint: c.to_bytes(),
            held_consistent: problem.is_none(),
            problem: problem.unwrap_or_default(),
        }))
    }
}
