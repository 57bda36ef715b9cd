//! The link to this Space's ODCM over mutual TLS (the ODCM-issued identity as client
//! certificate; the ODCM's server certificate must chain to its CA): the background task that
//! keeps `Spaces.WatchTrustSet` open and applies each set at once (and exchanges audit
//! checkpoints after each set and every 30 s), reconnecting with backoff, and best-effort
//! audit reports.

use std::sync::Arc;
use std::time::Duration;

use net::pki::{PeerRole, TrustVerifier, client_config, connect_mtls};
use proto::odcm::v1 as pb;
use tokio_stream::StreamExt;

use super::{Peering, PeeringError};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const FIRST_RETRY: Duration = Duration::from_millis(200);
const MAX_RETRY: Duration = Duration::from_secs(10);
const REPORT_TIMEOUT: Duration = Duration::from_secs(5);

/// A channel to the ODCM, authenticated by this Space's current certificate.
pub async fn connect_odcm(p: &Peering) -> Result<tonic::transport::Channel, PeeringError> {
    let verifier = TrustVerifier::new(p.odcm_store()?).expecting(PeerRole::Odcm);
    let cfg = client_config(Some(&p.identity), Arc::new(verifier))?;
    Ok(connect_mtls(&p.enrolled.odcm_url, cfg, CONNECT_TIMEOUT).await?)
}

/// Keeps the trust set current until `stop` becomes true. While the ODCM is unreachable the
/// Space keeps enforcing the last set it received (stored in its data directory).
pub fn spawn(
    p: Arc<Peering>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut delay = FIRST_RETRY;
        loop {
            let outcome = tokio::select! {
                r = watch_once(&p) => r,
                _ = stop.wait_for(|v| *v) => break,
            };
            p.set_odcm_connected(false);
            match outcome {
                Ok(true) => delay = FIRST_RETRY,
                Ok(false) => {}
                Err(e) => tracing::warn!(
                    odcm = %p.enrolled.odcm_url,
                    error = %e,
                    retry_in_ms = delay.as_millis() as u64,
                    "trust set watch failed; enforcing the last trust set received"
                ),
            }
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = stop.wait_for(|v| *v) => break,
            }
            delay = (delay * 2).min(MAX_RETRY);
        }
        tracing::debug!("trust set watch stopped");
    })
}

/// One watch: returns `Ok(true)` if at least one set arrived before the stream ended.
async fn watch_once(p: &Peering) -> Result<bool, PeeringError> {
    let ch = connect_odcm(p).await?;
    let odcm_err = |s: tonic::Status| PeeringError::Odcm {
        what: "watching the trust set",
        url: p.enrolled.odcm_url.clone(),
        message: super::client::explain(&s),
    };
    let mut stream = pb::spaces_client::SpacesClient::new(ch.clone())
        .watch_trust_set(pb::Empty {})
        .await
        .map_err(odcm_err)?
        .into_inner();
    let mut got = false;
    let mut tick = tokio::time::interval(super::checkpoint::EVERY);
    loop {
        let set = tokio::select! {
            m = stream.next() => match m {
                Some(set) => set.map_err(odcm_err)?,
                None => break,
            },
            _ = tick.tick() => {
                if got {
                    checkpoint(p, &ch).await;
                }
                continue;
            }
        };
        if !got {
            tracing::info!(odcm = %p.enrolled.odcm_url, "connected to the ODCM");
        }
        got = true;
        p.set_odcm_connected(true);
        if let Err(e) = p.apply(set) {
            tracing::error!(error = %e, "the trust set from the ODCM cannot be applied");
        }
        checkpoint(p, &ch).await;
    }
    Ok(got)
}

/// Exchanges audit checkpoints with the ODCM; a failure is logged, the watch goes on.
async fn checkpoint(p: &Peering, ch: &tonic::transport::Channel) {
    if let Err(e) = super::checkpoint::refresh(p, ch.clone()).await {
        tracing::warn!(error = %e, "no audit checkpoint from the ODCM this time");
    }
}

/// Reports a bundle/receipt event to the audit log, in the background (never blocks a call).
pub fn report(p: Arc<Peering>, kind: pb::EventKind, peer: String, subject: String, detail: String) {
    // What a report carries may come from a caller: clean and capped, as the ODCM keeps it.
    let peer = domain::text::clean(&peer, 200);
    let subject = domain::text::clean(&subject, 300);
    let detail = domain::text::clean(&detail, 1000);
    tokio::spawn(async move {
        let r = async {
            let ch = connect_odcm(&p).await?;
            let mut req = tonic::Request::new(pb::Event {
                kind: kind as i32,
                peer_space: peer.clone(),
                subject,
                detail,
            });
            req.set_timeout(REPORT_TIMEOUT);
            pb::spaces_client::SpacesClient::new(ch.clone())
                .report_event(req)
                .await
                .map_err(|s| PeeringError::Odcm {
                    what: "reporting an event",
                    url: p.enrolled.odcm_url.clone(),
                    message: super::client::explain(&s),
                })?;
            // The log grew: hold a checkpoint that covers this event.
            super::checkpoint::refresh(&p, ch).await?;
            Ok::<_, PeeringError>(())
        };
        match tokio::time::timeout(REPORT_TIMEOUT * 2, r).await {
            Ok(Ok(())) => {
                tracing::debug!(kind = kind.as_str_name(), peer = %peer, "event reported")
            }
            Ok(Err(e)) => {
                tracing::warn!(kind = kind.as_str_name(), peer = %peer, error = %e, "event report failed")
            }
            Err(_) => {
                tracing::warn!(kind = kind.as_str_name(), peer = %peer, "event report timed out")
            }
        }
    });
}
