//! Enrolment: a Space trades its one-time token and a CSR (for a key it keeps) for its
//! certificate; later it rotates with its current certificate as credential. The Enrolment
//! gRPC service (`api/enrol.rs`) converts and calls these.

use std::sync::Arc;

use net::pki::SignedCert;
use secrets::hash_api_key;
use storage::{Batch, StoreExt, encode};

use super::rfc3339;
use crate::audit::AuditEvent;
use crate::error::{OdcmError, OdcmResult};
use crate::records::{CertIndexRecord, PreviousCert, SpaceRecord, TokenRecord};
use crate::state::{OdcmState, Planned, check_endpoint};

pub struct EnrolmentService {
    pub state: Arc<OdcmState>,
}

/// A Space's new certificate, and until when the one it replaced stays accepted (0: none).
#[derive(Debug, Clone)]
pub struct Issued {
    pub space: SpaceRecord,
    pub previous_accepted_until: i64,
}

impl EnrolmentService {
    /// Signs `csr_pem` for `space` with the configured validity.
    fn issue(&self, csr_pem: &str, space: &str) -> OdcmResult<SignedCert> {
        let now = domain::model::now();
        Ok(self.state.ca.sign_csr(
            csr_pem,
            space,
            now - 300,
            now + self.state.settings.cert_validity_secs,
        )?)
    }

    /// Enrols the Space a valid, unused, unexpired token was made for.
    pub async fn enrol(&self, token: &str, csr_pem: &str, endpoint: &str) -> OdcmResult<Issued> {
        let endpoint = check_endpoint(endpoint)?;
        let hash = hash_api_key(token.trim());
        let issued = self
            .state
            .commit_planned(|| self.enrol_plan(&hash, csr_pem, &endpoint))
            .await?;
        tracing::info!(space = %issued.space.name, fingerprint = %issued.space.fingerprint, "space enrolled");
        Ok(issued)
    }

    fn enrol_plan(&self, hash: &str, csr_pem: &str, endpoint: &str) -> OdcmResult<Planned<Issued>> {
        let raw = self
            .state
            .store
            .get(<TokenRecord as storage::Record>::TABLE, hash)?;
        let Some(mut token) = self.state.store.get_record::<TokenRecord>(hash)? else {
            tracing::warn!(reason = "unknown token", "enrolment refused");
            return Err(OdcmError::Unauthenticated(
                "the enrolment token is not valid for this ODCM: check it was copied whole".into(),
            ));
        };
        let now = domain::model::now();
        if let Some(used) = token.used_at {
            tracing::warn!(space = %token.space, reason = "token reused", "enrolment refused");
            return Err(OdcmError::Precondition(format!(
                "this enrolment token was already used at {} to enrol Space '{}'; a token works once",
                rfc3339(used),
                token.space
            )));
        }
        if now > token.expires_at {
            return Err(OdcmError::Precondition(format!(
                "this enrolment token for Space '{}' expired at {}",
                token.space,
                rfc3339(token.expires_at)
            )));
        }
        let mut space = self.state.space(&token.space)?;
        let signed = self.issue(csr_pem, &space.name)?;
        space.cert_pem = signed.pem.clone();
        space.fingerprint = signed.info.fingerprint.clone();
        space.not_after = signed.info.not_after;
        space.enrolled_at = Some(now);
        if !endpoint.is_empty() {
            space.endpoint = endpoint.to_string();
        }
        token.used_at = Some(now);
        let mut b = Batch::new();
        b.require(<TokenRecord as storage::Record>::TABLE, hash, raw);
        b.put(
            <TokenRecord as storage::Record>::TABLE,
            hash,
            encode(&token)?,
        );
        b.put_record(&space)?;
        b.insert_record(&CertIndexRecord {
            fingerprint: space.fingerprint.clone(),
            space: space.name.clone(),
        })?;
        let ev = AuditEvent::new(
            "space_enrolled",
            &format!("space:{}", space.name),
            &space.name,
            format!(
                "{} valid until {}; endpoint '{}'",
                space.fingerprint,
                rfc3339(space.not_after),
                space.endpoint
            ),
        );
        Ok(Planned {
            batch: b,
            events: vec![ev],
            trust_changed: true,
            value: Issued {
                space,
                previous_accepted_until: 0,
            },
        })
    }

    /// Replaces the certificate of `space`, which called with `fingerprint` (its current
    /// one); the old one stays accepted for the rotation overlap.
    pub async fn rotate(
        &self,
        space: &str,
        fingerprint: &str,
        csr_pem: &str,
    ) -> OdcmResult<Issued> {
        let issued = self
            .state
            .commit_planned(|| self.rotate_plan(space, fingerprint, csr_pem))
            .await?;
        tracing::info!(space = %issued.space.name, new = %issued.space.fingerprint, "certificate rotated");
        Ok(issued)
    }

    fn rotate_plan(
        &self,
        space: &str,
        fingerprint: &str,
        csr_pem: &str,
    ) -> OdcmResult<Planned<Issued>> {
        let (mut space, fingerprint) = super::link::current_space(&self.state, space, fingerprint)?;
        if fingerprint != space.fingerprint {
            return Err(OdcmError::Precondition(format!(
                "certificate {fingerprint} was already replaced by {}: rotate with the current certificate",
                space.fingerprint
            )));
        }
        let signed = self.issue(csr_pem, &space.name)?;
        let now = domain::model::now();
        let until = now + self.state.settings.rotation_overlap_secs;
        space.previous.push(PreviousCert {
            cert_pem: std::mem::take(&mut space.cert_pem),
            fingerprint: space.fingerprint.clone(),
            not_after: space.not_after,
            accept_until: until,
        });
        let old = std::mem::replace(&mut space.fingerprint, signed.info.fingerprint.clone());
        space.cert_pem = signed.pem;
        space.not_after = signed.info.not_after;
        let mut b = Batch::new();
        b.put_record(&space)?;
        b.insert_record(&CertIndexRecord {
            fingerprint: space.fingerprint.clone(),
            space: space.name.clone(),
        })?;
        let ev = AuditEvent::new(
            "cert_rotated",
            &format!("space:{}", space.name),
            &space.name,
            format!(
                "{old} -> {}; the old certificate is accepted until {}",
                space.fingerprint,
                rfc3339(until)
            ),
        );
        Ok(Planned {
            batch: b,
            events: vec![ev],
            trust_changed: true,
            value: Issued {
                space,
                previous_accepted_until: until,
            },
        })
    }
}
