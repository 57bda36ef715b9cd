//! The Enrolment service (`odcm.v1.Enrolment`: a token, or the current certificate for a
//! rotation): identifies the caller, converts and calls [`EnrolmentService`].

use proto::odcm::v1 as pb;
use tonic::{Request, Response, Status};

use crate::error::OdcmError;
use crate::services::enrol::{EnrolmentService, Issued};

pub struct EnrolmentApi {
    pub service: EnrolmentService,
}

impl EnrolmentApi {
    fn answer(&self, i: Issued) -> pb::EnrolResponse {
        let Issued {
            space: s,
            previous_accepted_until,
        } = i;
        let state = &self.service.state;
        pb::EnrolResponse {
            space: s.name,
            odcm: state.name.clone(),
            cert_pem: s.cert_pem,
            ca_pem: state.ca.cert_pem(),
            fingerprint: s.fingerprint,
            not_after: s.not_after,
            previous_accepted_until,
        }
    }
}

#[tonic::async_trait]
impl pb::enrolment_server::Enrolment for EnrolmentApi {
    async fn enrol(
        &self,
        r: Request<pb::EnrolRequest>,
    ) -> Result<Response<pb::EnrolResponse>, Status> {
        let pb::EnrolRequest {
            token,
            csr_pem,
            endpoint,
        } = r.into_inner();
        let issued = self.service.enrol(&token, &csr_pem, &endpoint).await?;
        Ok(Response::new(self.answer(issued)))
    }

    async fn rotate(
        &self,
        r: Request<pb::RotateRequest>,
    ) -> Result<Response<pb::EnrolResponse>, Status> {
        // The caller is the Space its certificate names (checked against the trust store).
        let id = net::pki::peer_identity(&r, &self.service.state.trust, net::pki::PeerRole::Space)
            .map_err(|e| OdcmError::Unauthenticated(e.message))?;
        let pb::RotateRequest { csr_pem } = r.into_inner();
        let issued = self
            .service
            .rotate(&id.space, &id.fingerprint, &csr_pem)
            .await?;
        Ok(Response::new(self.answer(issued)))
    }
}
