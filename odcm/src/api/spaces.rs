//! The Space-facing service (mutual TLS): each Space watches its trust set and reports the
//! bundles and receipts that crossed, which go to the audit log.

use std::sync::Arc;
use std::time::Duration;

use proto::odcm::v1 as pb;
use storage::StoreExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::{calling_space, current_space, trust_pb};
use crate::audit::AuditEvent;
use crate::error::{OdcmError, OdcmResult};
use crate::records::{RemoteSpaceRecord, SpaceRecord, TrustRecord};
use crate::state::OdcmState;

/// How often an open watch re-checks that the caller's certificate is still accepted.
const RECHECK: Duration = Duration::from_secs(2);

pub struct SpacesApi {
    pub state: Arc<OdcmState>,
    /// Becomes true when the server shuts down; open watches end then.
    pub stop: tokio::sync::watch::Receiver<bool>,
}

fn certs_of(s: &SpaceRecord, now: i64) -> Vec<pb::PeerCert> {
    let mut out = Vec::new();
    if !s.cert_pem.is_empty() {
        out.push(pb::PeerCert {
            cert_pem: s.cert_pem.clone(),
            fingerprint: s.fingerprint.clone(),
            not_after: s.not_after,
            accept_until: 0,
        });
    }
    for p in s.previous.iter().filter(|p| p.accept_until > now) {
        out.push(pb::PeerCert {
            cert_pem: p.cert_pem.clone(),
            fingerprint: p.fingerprint.clone(),
            not_after: p.not_after,
            accept_until: p.accept_until,
        });
    }
    out
}

/// The trust set of Space `space`: the trusts involving it, the certificates and endpoints of
/// the other side of each, and every retired certificate of this ODCM's Spaces.
pub fn trust_set_for(state: &OdcmState, space: &str) -> OdcmResult<pb::TrustSet> {
    let now = domain::model::now();
    let version = state.trust_version()?;
    let trusts: Vec<TrustRecord> = state
        .store
        .all_records::<TrustRecord>("")?
        .into_iter()
        .filter(|t| t.truster.eq_ignore_ascii_case(space) || t.trusted.eq_ignore_ascii_case(space))
        .collect();
    let mut names: Vec<&str> = trusts
        .iter()
        .map(|t| {
            if t.truster.eq_ignore_ascii_case(space) {
                t.trusted.as_str()
            } else {
                t.truster.as_str()
            }
        })
        .collect();
    names.sort_by_key(|n| n.to_lowercase());
    names.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    let spaces = state.store.all_records::<SpaceRecord>("")?;
    let mut peers = Vec::new();
    for n in names {
        if let Some(s) = spaces.iter().find(|s| s.name.eq_ignore_ascii_case(n)) {
            peers.push(pb::Peer {
                name: s.name.clone(),
                odcm: state.name.clone(),
                remote: false,
                endpoint: s.endpoint.clone(),
                certs: certs_of(s, now),
            });
        } else if let Some(r) = state.remote_space(n)? {
            peers.push(remote_peer(&r));
        }
    }
    let retired = spaces
        .iter()
        .flat_map(|s| {
            s.previous.iter().map(|p| pb::RetiredCert {
                fingerprint: p.fingerprint.clone(),
                refuse_after: p.accept_until,
                space: s.name.clone(),
            })
        })
        .collect();
    Ok(pb::TrustSet {
        version,
        odcm: state.name.clone(),
        ca_pem: state.ca.cert_pem(),
        space: space.to_string(),
        peers,
        trusts: trusts.iter().map(trust_pb).collect(),
        retired,
    })
}

fn remote_peer(r: &RemoteSpaceRecord) -> pb::Peer {
    pb::Peer {
        name: r.name.clone(),
        odcm: r.odcm.clone(),
        remote: true,
        endpoint: r.endpoint.clone(),
        certs: vec![pb::PeerCert {
            cert_pem: r.cert_pem.clone(),
            fingerprint: r.fingerprint.clone(),
            not_after: r.not_after,
            accept_until: 0,
        }],
    }
}

fn event_kind(k: i32) -> OdcmResult<&'static str> {
    use pb::EventKind as K;
    Ok(match K::try_from(k) {
        Ok(K::BundleSent) => "bundle_sent",
        Ok(K::BundleAccepted) => "bundle_accepted",
        Ok(K::BundleRefused) => "bundle_refused",
        Ok(K::ReceiptSent) => "receipt_sent",
        Ok(K::ReceiptAccepted) => "receipt_accepted",
        Ok(K::ReceiptRefused) => "receipt_refused",
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
        let (space, fingerprint) = calling_space(&self.state, &r)?;
        let state = self.state.clone();
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
        let (space, _) = calling_space(&self.state, &r)?;
        let e = r.into_inner();
        let kind = event_kind(e.kind)?;
        if e.peer_space.trim().is_empty() {
            return Err(OdcmError::Invalid("the event names no peer Space".into()).into());
        }
        let detail = if e.detail.is_empty() {
            format!("peer {}", e.peer_space)
        } else {
            format!("peer {}; {}", e.peer_space, e.detail)
        };
        let _g = self.state.write_lock.lock().await;
        let ev = AuditEvent::new(kind, &format!("space:{}", space.name), &e.subject, detail);
        self.state
            .commit(storage::Batch::new(), &[ev], false)
            .await?;
        Ok(Response::new(pb::Empty {}))
    }
}
