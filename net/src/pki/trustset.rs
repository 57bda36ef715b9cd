//! From an ODCM's `odcm.v1.TrustSet` to what a Space server enforces: the [`TrustSnapshot`] its
//! verifiers use, and the per-call trust check.

use proto::odcm::v1 as pb;

use super::{PkiError, TrustSnapshot};

impl TrustSnapshot {
    /// What a Space accepts given its trust set: certificates from its own ODCM's CA, each
    /// Remote Space peer's certificates pinned (with their rotation overlap), and every
    /// retired fingerprint refused from its time on.
    pub fn from_trust_set(set: &pb::TrustSet) -> Result<Self, PkiError> {
        let mut s = TrustSnapshot {
            version: set.version,
            ..Default::default()
        };
        s.add_ca_pem(&set.odcm, &set.ca_pem)?;
        for p in set.peers.iter().filter(|p| p.remote) {
            for c in &p.certs {
                let until = (c.accept_until > 0).then_some(c.accept_until);
                s.pin_pem(&p.name, &c.cert_pem, until)?;
            }
        }
        for r in &set.retired {
            s.retire(&r.fingerprint, r.refuse_after);
        }
        Ok(s)
    }
}

/// True if `set` holds a trust in which `truster` accepts `kind` from `trusted` (names compare
/// case-insensitively). E.g. on OfferBundle, the receiving Space checks
/// `allows(set, me, caller, Releases)`; on a receipt, `allows(set, me, caller, Receipts)`.
pub fn allows(set: &pb::TrustSet, truster: &str, trusted: &str, kind: pb::TrustKind) -> bool {
    set.trusts.iter().any(|t| {
        t.kind == kind as i32
            && t.truster.eq_ignore_ascii_case(truster)
            && t.trusted.eq_ignore_ascii_case(trusted)
    })
}
