//! The audit checkpoint this Space holds: the newest signed statement of its ODCM's audit log
//! length it was given (`identity/audit-checkpoint.json`). Exchanged with the ODCM while the
//! trust-set watch is open; an ODCM that later offers less than what is held, or another log
//! of the same length, is not believed: the held checkpoint stays, and the problem shows in
//! `deploy space status` and the log.

use std::sync::RwLock;
use std::time::Duration;

use exchange::checkpoint::{Checkpoint, Order};
use proto::odcm::v1 as pb;

use super::{Peering, PeeringError, files};

/// How often a connected Space asks for a fresh checkpoint (and after every trust set).
pub const EVERY: Duration = Duration::from_secs(30);
const CALL_TIMEOUT: Duration = Duration::from_secs(5);
const FILE: &str = "audit-checkpoint.json";

/// The held checkpoint and the last problem met with the ODCM's offers.
#[derive(Debug, Default)]
pub struct Held {
    inner: RwLock<(Option<Checkpoint>, Option<String>)>,
}

impl Held {
    /// Reads the stored checkpoint (signed by the CA in `ca_pem`); a damaged one is logged
    /// and not used.
    pub fn load(dir: &std::path::Path, ca_pem: &str) -> Self {
        let path = dir.join(FILE);
        let held = match std::fs::read(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "the held audit checkpoint cannot be read");
                None
            }
            Ok(bytes) => match verified(&bytes, ca_pem) {
                Ok(c) => Some(c),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "the held audit checkpoint is not used");
                    None
                }
            },
        };
        Self {
            inner: RwLock::new((held, None)),
        }
    }

    pub fn get(&self) -> (Option<Checkpoint>, Option<String>) {
        self.inner.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set(&self, held: Option<Checkpoint>, problem: Option<String>) {
        *self.inner.write().unwrap_or_else(|p| p.into_inner()) = (held, problem);
    }
}

fn verified(bytes: &[u8], ca_pem: &str) -> Result<Checkpoint, PeeringError> {
    let der = net::pki::pem_to_der(ca_pem)?;
    Checkpoint::read_verified(bytes, &der).map_err(|e| PeeringError::Config(e.to_string()))
}

/// What to keep after the ODCM offered `offered`, told whether `held` still matches its log.
/// Returns the checkpoint to hold and the problem to show (None: all is well).
pub fn decide(
    held: Option<Checkpoint>,
    offered: Checkpoint,
    held_consistent: bool,
    odcm_problem: &str,
) -> (Checkpoint, Option<String>) {
    let Some(held) = held else {
        return (offered, None);
    };
    let when = proto::json::time(held.issued_at);
    let problem = match offered.order(&held) {
        Order::Older => Some(format!(
            "the ODCM offered an audit checkpoint of {} entries, fewer than the {} it signed at {when} and this Space holds: its audit log was rolled back",
            offered.entries, held.entries
        )),
        Order::Fork => Some(format!(
            "the ODCM offered another audit log head at entry {} than the one it signed at {when}: its audit log was rewritten",
            held.entries
        )),
        Order::Newer | Order::Same if !held_consistent => Some(format!(
            "the ODCM's audit log no longer matches the checkpoint it signed at {when}: {odcm_problem}"
        )),
        Order::Newer => return (offered, None),
        Order::Same => return (held, None),
    };
    (held, problem)
}

/// Presents the held checkpoint to the ODCM on `ch` and keeps what [`decide`] says.
pub async fn refresh(p: &Peering, ch: tonic::transport::Channel) -> Result<(), PeeringError> {
    let (held, _) = p.checkpoint.get();
    let mut req = tonic::Request::new(pb::CheckpointRequest {
        held: held.as_ref().map(Checkpoint::to_bytes).unwrap_or_default(),
    });
    req.set_timeout(CALL_TIMEOUT);
    let r = pb::spaces_client::SpacesClient::new(ch)
        .checkpoint(req)
        .await
        .map_err(|s| PeeringError::Odcm {
            what: "asking for an audit checkpoint",
            url: p.enrolled.odcm_url.clone(),
            message: super::client::explain(&s),
        })?
        .into_inner();
    let offered = verified(&r.checkpoint, &p.enrolled.ca_pem)?;
    let (keep, problem) = decide(held.clone(), offered, r.held_consistent, &r.problem);
    if let Some(why) = &problem {
        tracing::error!(problem = %why, "audit checkpoint refused; keeping the one held");
    }
    if held.as_ref() != Some(&keep) {
        files::write_atomic(&p.dir.join(FILE), &keep.to_bytes())?;
        tracing::debug!(entries = keep.entries, "audit checkpoint kept");
    }
    p.checkpoint.set(Some(keep), problem);
    Ok(())
}

#[cfg(test)]
#[path = "tests/checkpoint.rs"]
mod tests;
