//! The Enrolment service: a Space trades its one-time token and a CSR (for a key it keeps) for
//! its certificate; later it rotates with its current certificate as credential.

use std::sync::Arc;

use proto::odcm::v1 as pb;
use secrets::hash_api_key;
use storage::{Batch, StoreExt, encode};
use tonic::{Request, Response, Status};

use super::{calling_space, rfc3339};
use crate::audit::AuditEvent;
use crate::error::{OdcmError, OdcmResult};
use crate::records::{CertIndexRecord, PreviousCert, SpaceRecord, TokenRecord};
use crate::state::{OdcmState, check_endpoint};

pub struct EnrolmentApi {
    pub state: Arc<OdcmState>,
}

impl EnrolmentApi {
    /// Signs `csr_pem` for `space` with the configured validity.
    fn issue(&self, csr_pem: &str, space: &str) -> OdcmResult<net::pki::SignedCert> {
        let now = domain::model::now();
        Ok(self.state.ca.sign_csr(
            csr_pem,
            space,
            now - 300,
            now + self.state.settings.cert_validity_secs,
        )?)
    }

    fn answer(&self, s: &SpaceRecord, previous_until: i64) -> pb::EnrolResponse {
        pb::EnrolResponse {
            space: s.name.clone(),
            odcm: self.state.name.clone(),
            cert_pem: s.cert_pem.clone(),
            ca_pem: self.state.ca.cert_pem(),
            fingerprint: s.fingerprint.clone(),
            not_after: s.not_after,
            previous_accepted_until: previous_until,
        }
    }
}

#[tonic::async_trait]
impl pb::enrolment_server::Enrolment for EnrolmentApi {
    async fn enrol(
        &self,
        r: Request<pb::EnrolRequest>,
    ) -> Result<Response<pb::EnrolResponse>, Status> {
        let r = r.into_inner();
        let endpoint = check_endpoint(&r.endpoint)?;
        let hash = hash_api_key(r.token.trim());
        let _g = self.state.write_lock.lock().await;
        let raw = self
            .state
            .store
            .get(<TokenRecord as storage::Record>::TABLE, &hash)
            .map_err(OdcmError::from)?;
        let Some(mut token) = self
            .state
            .store
            .get_record::<TokenRecord>(&hash)
            .map_err(OdcmError::from)?
        else {
            tracing::warn!(reason = "unknown token", "enrolment refused");
            return Err(OdcmError::Unauthenticated(
                "the enrolment token is not valid for this ODCM: check it was copied whole".into(),
            )
            .into());
        };
        let now = domain::model::now();
        if let Some(used) = token.used_at {
            tracing::warn!(space = %token.space, reason = "token reused", "enrolment refused");
            return Err(OdcmError::Precondition(format!(
                "this enrolment token was already used at {} to enrol Space '{}'; a token works once",
                rfc3339(used),
                token.space
            ))
            .into());
        }
        if now > token.expires_at {
            return Err(OdcmError::Precondition(format!(
                "this enrolment token for Space '{}' expired at {}",
                token.space,
                rfc3339(token.expires_at)
            ))
            .into());
        }
        let mut space = self.state.space(&token.space)?;
        let signed = self.issue(&r.csr_pem, &space.name)?;
        space.cert_pem = signed.pem.clone();
        space.fingerprint = signed.info.fingerprint.clone();
        space.not_after = signed.info.not_after;
        space.enrolled_at = Some(now);
        if !endpoint.is_empty() {
            space.endpoint = endpoint;
        }
        token.used_at = Some(now);
        let mut b = Batch::new();
        b.require(<TokenRecord as storage::Record>::TABLE, &hash, raw);
        b.put(
            <TokenRecord as storage::Record>::TABLE,
            &hash,
            encode(&token).map_err(OdcmError::from)?,
        );
        b.put_record(&space).map_err(OdcmError::from)?;
        b.insert_record(&CertIndexRecord {
            fingerprint: space.fingerprint.clone(),
            space: space.name.clone(),
        })
        .map_err(OdcmError::from)?;
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
        self.state.commit(b, &[ev], true).await?;
        tracing::info!(space = %space.name, fingerprint = %space.fingerprint, "space enrolled");
        Ok(Response::new(self.answer(&space, 0)))
    }

    async fn rotate(
        &self,
        r: Request<pb::RotateRequest>,
    ) -> Result<Response<pb::EnrolResponse>, Status> {
        let _g = self.state.write_lock.lock().await;
        let (mut space, fingerprint) = calling_space(&self.state, &r)?;
        if fingerprint != space.fingerprint {
            return Err(OdcmError::Precondition(format!(
                "certificate {fingerprint} was already replaced by {}: rotate with the current certificate",
                space.fingerprint
            ))
            .into());
        }
        let signed = self.issue(&r.get_ref().csr_pem, &space.name)?;
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
        b.put_record(&space).map_err(OdcmError::from)?;
        b.insert_record(&CertIndexRecord {
            fingerprint: space.fingerprint.clone(),
            space: space.name.clone(),
        })
        .map_err(OdcmError::from)?;
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
        self.state.commit(b, &[ev], true).await?;
        tracing::info!(space = %space.name, old = %old, new = %space.fingerprint, "certificate rotated");
        Ok(Response::new(self.answer(&space, until)))
    }
}
