//! The Admin service (`odcm.v1.Admin`, admin API key): converts and calls [`AdminService`].

use proto::odcm::v1 as pb;
use tonic::{Request, Response, Status};

use super::auth::actor;
use super::{audit_pb, kind_from_pb, page, remote_pb, space_pb, trust_pb};
use crate::error::OdcmResult;
use crate::services::admin::{AdminService, CreatedSpace, SpaceCert, TrustRequest};

pub struct AdminApi {
    pub service: AdminService,
}

fn trust_request(r: pb::TrustRequest) -> OdcmResult<TrustRequest> {
    let pb::TrustRequest {
        source,
        target,
        kind,
    } = r;
    Ok(TrustRequest {
        source,
        target,
        kind: kind_from_pb(kind)?,
    })
}

#[tonic::async_trait]
impl pb::admin_server::Admin for AdminApi {
    async fn info(&self, _r: Request<pb::Empty>) -> Result<Response<pb::OdcmInfo>, Status> {
        let state = &self.service.state;
        Ok(Response::new(pb::OdcmInfo {
            name: state.name.clone(),
            ca_pem: state.ca.cert_pem(),
            ca_fingerprint: state.ca.cert().fingerprint.clone(),
            server_version: env!("CARGO_PKG_VERSION").into(),
        }))
    }

    async fn create_space(
        &self,
        r: Request<pb::CreateSpaceRequest>,
    ) -> Result<Response<pb::CreateSpaceResponse>, Status> {
        let who = actor(&r);
        let pb::CreateSpaceRequest { name, endpoint } = r.into_inner();
        let CreatedSpace {
            space,
            token,
            expires_at,
        } = self.service.create_space(&who, &name, &endpoint).await?;
        Ok(Response::new(pb::CreateSpaceResponse {
            space: Some(space_pb(&space)),
            enrolment_token: token,
            token_expires_at: expires_at,
        }))
    }

    async fn list_spaces(
        &self,
        r: Request<pb::PageRequest>,
    ) -> Result<Response<pb::ListSpacesResponse>, Status> {
        let l = self.service.list_spaces(page(r.get_ref()))?;
        Ok(Response::new(pb::ListSpacesResponse {
            spaces: l.items.iter().map(space_pb).collect(),
            next_page_token: l.next.unwrap_or_default(),
        }))
    }

    async fn export_space_cert(
        &self,
        r: Request<pb::ByName>,
    ) -> Result<Response<pb::ExportSpaceCertResponse>, Status> {
        let pb::ByName { name } = r.into_inner();
        let SpaceCert {
            name,
            cert_pem,
            fingerprint,
            odcm,
        } = self.service.export_space_cert(&name)?;
        Ok(Response::new(pb::ExportSpaceCertResponse {
            name,
            cert_pem,
            fingerprint,
            odcm,
        }))
    }

    async fn add_remote_space(
        &self,
        r: Request<pb::AddRemoteSpaceRequest>,
    ) -> Result<Response<pb::RemoteSpace>, Status> {
        let who = actor(&r);
        let pb::AddRemoteSpaceRequest {
            name,
            endpoint,
            cert_pem,
        } = r.into_inner();
        let rec = self
            .service
            .add_remote_space(&who, &name, &endpoint, &cert_pem)
            .await?;
        Ok(Response::new(remote_pb(&rec)))
    }

    async fn list_remote_spaces(
        &self,
        r: Request<pb::PageRequest>,
    ) -> Result<Response<pb::ListRemoteSpacesResponse>, Status> {
        let l = self.service.list_remote_spaces(page(r.get_ref()))?;
        Ok(Response::new(pb::ListRemoteSpacesResponse {
            remote_spaces: l.items.iter().map(remote_pb).collect(),
            next_page_token: l.next.unwrap_or_default(),
        }))
    }

    async fn remove_remote_space(
        &self,
        r: Request<pb::ByName>,
    ) -> Result<Response<pb::Empty>, Status> {
        let who = actor(&r);
        let pb::ByName { name } = r.into_inner();
        self.service.remove_remote_space(&who, &name).await?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn add_trust(&self, r: Request<pb::TrustRequest>) -> Result<Response<pb::Trust>, Status> {
        let who = actor(&r);
        let t = trust_request(r.into_inner())?;
        Ok(Response::new(trust_pb(
            &self.service.add_trust(&who, &t).await?,
        )))
    }

    async fn list_trusts(
        &self,
        r: Request<pb::PageRequest>,
    ) -> Result<Response<pb::ListTrustsResponse>, Status> {
        let l = self.service.list_trusts(page(r.get_ref()))?;
        Ok(Response::new(pb::ListTrustsResponse {
            trusts: l.items.iter().map(trust_pb).collect(),
            next_page_token: l.next.unwrap_or_default(),
        }))
    }

    async fn revoke_trust(
        &self,
        r: Request<pb::TrustRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        let who = actor(&r);
        let t = trust_request(r.into_inner())?;
        self.service.revoke_trust(&who, &t).await?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn list_audit(
        &self,
        r: Request<pb::PageRequest>,
    ) -> Result<Response<pb::ListAuditResponse>, Status> {
        let l = self.service.list_audit(page(r.get_ref()))?;
        Ok(Response::new(pb::ListAuditResponse {
            entries: l.items.iter().map(audit_pb).collect(),
            next_page_token: l.next.unwrap_or_default(),
        }))
    }

    async fn verify_audit(
        &self,
        r: Request<pb::VerifyAuditRequest>,
    ) -> Result<Response<pb::VerifyAuditResponse>, Status> {
        let pb::VerifyAuditRequest { checkpoints } = r.into_inner();
        let check = self.service.verify_audit(&checkpoints)?;
        let v = check.verification;
        let ok = v.broken.is_none();
        let (broken_index, reason) = v.broken.unwrap_or_default();
        let (checkpoint_entries, checkpoint_source, checkpoint_issued_at) = match check.against {
            Some(c) => (c.checkpoint.entries, c.source, c.checkpoint.issued_at),
            None => (0, String::new(), 0),
        };
        Ok(Response::new(pb::VerifyAuditResponse {
            ok,
            entries: v.entries,
            broken_index,
            reason,
            checkpoint_entries,
            checkpoint_source,
            checkpoint_issued_at,
        }))
    }
}
