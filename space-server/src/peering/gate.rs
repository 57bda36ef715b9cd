//! The rules of the `peer.v1` trust calls, for every front end: who a caller is (decided by
//! the TLS layer against the trust store, handed in), which kinds of traffic this Space
//! accepts from it, and what a refusal costs. Anyone who can reach the peer port can be
//! refused, so refusals are reported to the ODCM's audit log at most once per source per
//! [`WINDOW`] and kind of traffic (an identified Space is a source; an unidentified caller's
//! source is its address); the rest are counted and the count goes with the source's next report. What a
//! report carries from the caller is cleaned and capped (`watch::report`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use net::pki::{PeerIdentity, allows};
use proto::odcm::v1 as odcm_pb;

use super::Peering;
use crate::error::{ApiError, ApiResult};

/// How long one source address gets one refusal report.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Source addresses tracked at once; beyond, new sources share one window.
pub const MAX_SOURCES: usize = 4096;

/// Traffic a trust allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Releases,
    Receipts,
}

impl Kind {
    fn odcm(self) -> odcm_pb::TrustKind {
        match self {
            Kind::Releases => odcm_pb::TrustKind::Releases,
            Kind::Receipts => odcm_pb::TrustKind::Receipts,
        }
    }
    fn noun(self) -> &'static str {
        match self {
            Kind::Releases => "releases",
            Kind::Receipts => "receipts",
        }
    }
}

/// A caller the TLS layer could not identify: what its certificate claims and why.
#[derive(Debug, Clone)]
pub struct Unidentified {
    pub claimed: String,
    pub reason: String,
}

/// Whom refusals are counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Source {
    Space(String, Kind),
    Address(Option<IpAddr>, Kind),
}

/// Refusals from one source in its current window.
struct Window {
    started: Instant,
    reported: bool,
    counted: u64,
}

/// Refusals counted per source: one report per source per window.
struct Refusals {
    window: Duration,
    max_sources: usize,
    windows: Mutex<HashMap<Source, Window>>,
}

pub struct PeerGate {
    pub peering: Arc<Peering>,
    /// Where contacts are recorded (an identified caller is a peer heard from).
    pub state: Arc<crate::state::SpaceState>,
    refusals: Refusals,
}

impl PeerGate {
    pub fn new(peering: Arc<Peering>, state: Arc<crate::state::SpaceState>) -> Self {
        Self {
            peering,
            state,
            refusals: Refusals::new(WINDOW, MAX_SOURCES),
        }
    }

    /// The caller, or UNAUTHENTICATED with the reason.
    pub fn identify(&self, id: Result<PeerIdentity, Unidentified>) -> ApiResult<PeerIdentity> {
        if let Ok(c) = &id {
            self.state.heard_from(&c.space, "its call");
        }
        id.map_err(|u| {
            tracing::warn!(claimed = %domain::text::clean(&u.claimed, 200), reason = %u.reason, "peer call refused");
            ApiError::Unauthenticated(u.reason)
        })
    }

    /// The kinds this Space accepts from `caller`; PERMISSION_DENIED if none.
    pub fn trusted_kinds(&self, caller: &PeerIdentity) -> ApiResult<Vec<Kind>> {
        let p = &self.peering;
        let set = p.trust_set();
        let kinds: Vec<Kind> = [Kind::Releases, Kind::Receipts]
            .into_iter()
            .filter(|k| allows(&set, &p.me, &caller.space, k.odcm()))
            .collect();
        if kinds.is_empty() {
            tracing::warn!(peer = %caller.space, odcm = %caller.odcm, "peer call refused: no trust");
            return Err(ApiError::PermissionDenied(format!(
                "Space '{}' (ODCM '{}') is not trusted by {} for releases or receipts: add a trust in ODCM '{}'",
                caller.space, caller.odcm, p.me, p.enrolled.odcm
            )));
        }
        Ok(kinds)
    }

    /// Whether this Space trusts the caller for `kind` (about to send `subject`); every
    /// answer is reported to the ODCM's audit log, refusals within the per-source limit.
    pub fn check(
        &self,
        caller: Result<PeerIdentity, Unidentified>,
        source: Option<IpAddr>,
        kind: Kind,
        subject: &str,
    ) -> ApiResult<PeerIdentity> {
        let p = &self.peering;
        let (what, accepted, refused) = match kind {
            Kind::Receipts => (
                "receipt sent",
                odcm_pb::EventKind::ReceiptAccepted,
                odcm_pb::EventKind::ReceiptRefused,
            ),
            Kind::Releases => (
                "bundle offered",
                odcm_pb::EventKind::BundleAccepted,
                odcm_pb::EventKind::BundleRefused,
            ),
        };
        let refuse = |peer: &str, counted_as: Source, e: ApiError| {
            if let Some(counted) = self.refusals.admit(counted_as, kind) {
                let from = source.map_or_else(|| "an unknown address".into(), |a| a.to_string());
                let mut detail = format!("{e} (call from {from})");
                if counted > 0 {
                    detail.push_str(&format!(
                        "; {counted} more refused calls from this source in the last minute were counted, not reported one by one"
                    ));
                }
                super::watch::report(p.clone(), refused, peer.into(), subject.into(), detail);
            }
            e
        };
        let claimed = caller.as_ref().err().map(|u| u.claimed.clone());
        let caller = match self.identify(caller) {
            Ok(c) => c,
            Err(e) => {
                let claimed = claimed.unwrap_or_default();
                return Err(refuse(&claimed, Source::Address(source, kind), e));
            }
        };
        if !allows(&p.trust_set(), &p.me, &caller.space, kind.odcm()) {
            let noun = kind.noun();
            tracing::warn!(peer = %caller.space, kind = noun, "trust check refused");
            let msg = format!(
                "{what} by space '{}' which {} does not trust for {noun}",
                caller.space, p.me
            );
            let counted_as = Source::Space(caller.space.to_lowercase(), kind);
            return Err(refuse(
                &caller.space,
                counted_as,
                ApiError::PermissionDenied(msg),
            ));
        }
        tracing::info!(peer = %caller.space, kind = kind.noun(), "trust check accepted");
        super::watch::report(
            p.clone(),
            accepted,
            caller.space.clone(),
            subject.into(),
            format!(
                "{} trusts {} for {} ({})",
                p.me,
                caller.space,
                kind.noun(),
                caller.fingerprint
            ),
        );
        Ok(caller)
    }
}

impl Refusals {
    fn new(window: Duration, max_sources: usize) -> Self {
        Self {
            window,
            max_sources,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Whether a refusal from `source` is reported now: `None` (counted only), or how many
    /// were counted since its last report.
    fn admit(&self, source: Source, kind: Kind) -> Option<u64> {
        let mut windows = self.windows.lock().ok()?;
        let now = Instant::now();
        if windows.len() >= self.max_sources && !windows.contains_key(&source) {
            windows.retain(|_, w| now.duration_since(w.started) < self.window);
        }
        let key = if windows.len() >= self.max_sources && !windows.contains_key(&source) {
            Source::Address(None, kind)
        } else {
            source
        };
        let w = windows.entry(key).or_insert(Window {
            started: now,
            reported: false,
            counted: 0,
        });
        if now.duration_since(w.started) >= self.window {
            w.started = now;
            w.reported = false;
        }
        if w.reported {
            w.counted += 1;
            return None;
        }
        w.reported = true;
        Some(std::mem::take(&mut w.counted))
    }
}

#[cfg(test)]
#[path = "tests/gate.rs"]
mod tests;
