//! What enrolled Spaces do over mutual TLS: prove they are who they claim (`current_space`),
//! read their trust set (`trust_set_for`), and report the bundles and receipts that crossed,
//! which go to the audit log (`LinkService::report`). A report is cleaned and capped before
//! it is stored, and refusals are rate-limited per reporting Space: past
//! [`REFUSALS_PER_MINUTE`] in a minute they are counted, and the count is recorded with the
//! next refusal recorded (so a flood against a Space costs its ODCM a bounded amount of disk).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use proto::odcm::v1 as pb;
use storage::{Batch, StoreExt};

use super::rfc3339;
use crate::audit::AuditEvent;
use crate::error::{OdcmError, OdcmResult};
use crate::records::{RemoteSpaceRecord, SpaceRecord, TrustRecord};
use crate::state::{OdcmState, Planned};

/// Longest peer name, subject and detail an audit entry keeps from a report (characters).
pub const MAX_PEER: usize = 200;
pub const MAX_SUBJECT: usize = 300;
pub const MAX_DETAIL: usize = 1000;
/// Refusal entries one Space may add per minute; the rest are counted.
pub const REFUSALS_PER_MINUTE: u32 = 30;

/// What crossed (or was refused) between two Spaces, as a Space reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    BundleSent,
    BundleAccepted,
    BundleRefused,
    ReceiptSent,
    ReceiptAccepted,
    ReceiptRefused,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::BundleSent => "bundle_sent",
            EventKind::BundleAccepted => "bundle_accepted",
            EventKind::BundleRefused => "bundle_refused",
            EventKind::ReceiptSent => "receipt_sent",
            EventKind::ReceiptAccepted => "receipt_accepted",
            EventKind::ReceiptRefused => "receipt_refused",
        }
    }

    fn is_refusal(self) -> bool {
        matches!(self, EventKind::BundleRefused | EventKind::ReceiptRefused)
    }
}

/// One report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportedEvent {
    pub kind: EventKind,
    pub peer_space: String,
    pub subject: String,
    pub detail: String,
}

/// Refusals a Space reported in the current minute.
#[derive(Debug, Default)]
struct Window {
    started: i64,
    recorded: u32,
    /// Refusals not recorded one by one, and since when.
    suppressed: u64,
    suppressed_since: i64,
}

pub struct LinkService {
    pub state: Arc<OdcmState>,
    windows: Mutex<HashMap<String, Window>>,
}

impl LinkService {
    pub fn new(state: Arc<OdcmState>) -> Self {
        Self {
            state,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Records what Space `space` (identified by its certificate) reports, in the audit log.
    pub async fn report(&self, space: &str, e: ReportedEvent) -> OdcmResult<()> {
        let peer = domain::text::clean(e.peer_space.trim(), MAX_PEER);
        if peer.is_empty() {
            return Err(OdcmError::Invalid("the event names no peer Space".into()));
        }
        let mut detail = domain::text::clean(&e.detail, MAX_DETAIL);
        if e.kind.is_refusal() {
            match self.admit_refusal(space) {
                None => return Ok(()),
                Some((0, _)) => {}
                Some((n, since)) => detail.push_str(&format!(
                    " ({n} more refusals reported by this Space since {} were counted, not recorded one by one)",
                    rfc3339(since)
                )),
            }
        }
        let detail = if detail.is_empty() {
            format!("peer {peer}")
        } else {
            format!("peer {peer}; {detail}")
        };
        let ev = AuditEvent::new(
            e.kind.as_str(),
            &format!("space:{space}"),
            &domain::text::clean(&e.subject, MAX_SUBJECT),
            detail,
        );
        self.state
            .commit_planned(|| {
                Ok(Planned {
                    batch: Batch::new(),
                    events: vec![ev.clone()],
                    trust_changed: false,
                    value: (),
                })
            })
            .await
    }

    /// Whether a refusal from `space` is recorded now: `None` (counted only), or the number
    /// counted but not recorded before it and since when.
    fn admit_refusal(&self, space: &str) -> Option<(u64, i64)> {
        let now = domain::model::now();
        let mut w = self.windows.lock().ok()?;
        let w = w.entry(space.to_lowercase()).or_default();
        if now - w.started >= 60 {
            w.started = now;
            w.recorded = 0;
        }
        if w.recorded >= REFUSALS_PER_MINUTE {
            if w.suppressed == 0 {
                w.suppressed_since = now;
            }
            w.suppressed += 1;
            return None;
        }
        w.recorded += 1;
        let counted = (w.suppressed, w.suppressed_since);
        w.suppressed = 0;
        Some(counted)
    }
}

/// Checks that `fingerprint` is (still) accepted for Space `name`: its current certificate,
/// or a replaced one inside its rotation overlap.
pub fn current_space(
    state: &OdcmState,
    name: &str,
    fingerprint: &str,
) -> OdcmResult<(SpaceRecord, String)> {
    let space = state.space(name).map_err(|_| {
        OdcmError::Unauthenticated(format!("Space '{name}' is not known to this ODCM"))
    })?;
    if space.fingerprint == fingerprint {
        return Ok((space, fingerprint.to_string()));
    }
    let now = domain::model::now();
    match space.previous.iter().find(|p| p.fingerprint == fingerprint) {
        Some(p) if p.accept_until > now => Ok((space, fingerprint.to_string())),
        Some(p) => Err(OdcmError::Unauthenticated(format!(
            "certificate {fingerprint} of Space '{name}' was replaced and stopped being accepted at {}; use the current certificate ({})",
            rfc3339(p.accept_until),
            space.fingerprint
        ))),
        None => Err(OdcmError::Unauthenticated(format!(
            "certificate {fingerprint} was not issued to Space '{name}' by this ODCM"
        ))),
    }
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
        trusts: trusts.iter().map(crate::api::trust_pb).collect(),
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

#[cfg(test)]
#[path = "tests/link.rs"]
mod tests;
