//! The gRPC services (`odcm.v1`): `Admin` (API key), `Enrolment` (token / current certificate)
//! and `Spaces` (mutual TLS), plus the record <-> wire conversions they share.

pub mod admin;
pub mod auth;
pub mod enrol;
pub mod spaces;

use net::pki::PeerRole;
use proto::odcm::v1 as pb;

use crate::error::{OdcmError, OdcmResult};
use crate::records::{AuditRecord, RemoteSpaceRecord, SpaceRecord, TrustKind, TrustRecord};
use crate::services::Page;
use crate::state::OdcmState;

/// The page a wire page request asks for.
pub fn page(p: &pb::PageRequest) -> Page {
    let size = match p.page_size {
        0 => 100,
        n => n.min(1000) as usize,
    };
    Page {
        size,
        after: (!p.page_token.is_empty()).then(|| p.page_token.clone()),
    }
}

pub fn space_pb(s: &SpaceRecord) -> pb::Space {
    let now = domain::model::now();
    pb::Space {
        name: s.name.clone(),
        endpoint: s.endpoint.clone(),
        enrolled: !s.cert_pem.is_empty(),
        fingerprint: s.fingerprint.clone(),
        not_after: s.not_after,
        created_at: s.created_at,
        overlapping: s
            .previous
            .iter()
            .filter(|p| p.accept_until > now)
            .map(|p| pb::RetiredCert {
                fingerprint: p.fingerprint.clone(),
                refuse_after: p.accept_until,
                space: s.name.clone(),
            })
            .collect(),
    }
}

pub fn remote_pb(r: &RemoteSpaceRecord) -> pb::RemoteSpace {
    pb::RemoteSpace {
        name: r.name.clone(),
        odcm: r.odcm.clone(),
        endpoint: r.endpoint.clone(),
        fingerprint: r.fingerprint.clone(),
        subject: r.subject.clone(),
        not_after: r.not_after,
        added_at: r.added_at,
    }
}

pub fn kind_pb(k: TrustKind) -> pb::TrustKind {
    match k {
        TrustKind::Releases => pb::TrustKind::Releases,
        TrustKind::Receipts => pb::TrustKind::Receipts,
    }
}

pub fn kind_from_pb(k: i32) -> OdcmResult<TrustKind> {
    match pb::TrustKind::try_from(k) {
        Ok(pb::TrustKind::Releases) => Ok(TrustKind::Releases),
        Ok(pb::TrustKind::Receipts) => Ok(TrustKind::Receipts),
        _ => Err(OdcmError::Invalid(
            "the trust kind is missing or unknown: use releases or receipts".into(),
        )),
    }
}

pub fn trust_pb(t: &TrustRecord) -> pb::Trust {
    let (source, target) = t.source_target();
    pb::Trust {
        source: source.to_string(),
        target: target.to_string(),
        kind: kind_pb(t.kind) as i32,
        truster: t.truster.clone(),
        trusted: t.trusted.clone(),
        created_at: t.created_at,
    }
}

pub fn audit_pb(e: &AuditRecord) -> pb::AuditEntry {
    pb::AuditEntry {
        index: e.index,
        at: e.at,
        kind: e.kind.clone(),
        actor: e.actor.clone(),
        subject: e.subject.clone(),
        detail: e.detail.clone(),
        prev_hash: e.prev_hash.clone(),
        signature: e.signature.clone(),
    }
}

/// The calling Space of a mutual-TLS request: its certificate chains to this ODCM's CA, is a
/// Space certificate, and is that Space's current certificate or one still in its rotation
/// overlap.
pub fn calling_space<T>(
    state: &OdcmState,
    req: &tonic::Request<T>,
) -> OdcmResult<(SpaceRecord, String)> {
    let id = net::pki::peer_identity(req, &state.trust, PeerRole::Space)
        .map_err(|r| OdcmError::Unauthenticated(r.message))?;
    crate::services::link::current_space(state, &id.space, &id.fingerprint)
}

pub use crate::services::rfc3339;
