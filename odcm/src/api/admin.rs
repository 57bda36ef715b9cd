//! The Admin service: Spaces and their tokens, Remote Spaces, trusts and the audit log. Every
//! change is committed together with its audit entry.

use std::sync::Arc;

use net::pki::CertInfo;
use proto::odcm::v1 as pb;
use secrets::hash_api_key;
use storage::{Batch, Record, StoreExt, key_of};
use tonic::{Request, Response, Status};

use super::auth::actor;
use super::{audit_pb, kind_from_pb, page, remote_pb, rfc3339, space_pb, trust_pb};
use crate::audit::{self, AuditEvent};
use crate::error::{OdcmError, OdcmResult};
use crate::records::{RemoteSpaceRecord, SpaceRecord, TokenRecord, TrustKind, TrustRecord};
use crate::state::{OdcmState, check_endpoint, check_name, new_token};

pub struct AdminApi {
    pub state: Arc<OdcmState>,
}

impl AdminApi {
    /// Refuses a name already used by a Space or a Remote Space.
    fn name_free(&self, name: &str) -> OdcmResult<()> {
        if self.state.space(name).is_ok() {
            return Err(OdcmError::exists("Space", name));
        }
        if self.state.remote_space(name)?.is_some() {
            return Err(OdcmError::exists("Remote Space", name));
        }
        Ok(())
    }

    /// The stored spelling of a Space or Remote Space name, and whether it is one of ours.
    fn resolve(&self, name: &str) -> OdcmResult<(String, bool)> {
        if let Ok(s) = self.state.space(name) {
            return Ok((s.name, true));
        }
        match self.state.remote_space(name)? {
            Some(r) => Ok((r.name, false)),
            None => Err(OdcmError::NotFound {
                kind: "Space or Remote Space",
                name: name.to_string(),
            }),
        }
    }

    fn trust_of(&self, r: &pb::TrustRequest) -> OdcmResult<(TrustRecord, bool, bool)> {
        let kind = kind_from_pb(r.kind)?;
        let (source, own_s) = self.resolve(&r.source)?;
        let (target, own_t) = self.resolve(&r.target)?;
        if source.eq_ignore_ascii_case(&target) {
            return Err(OdcmError::Invalid(
                "a trust needs two different Spaces".into(),
            ));
        }
        let t = TrustRecord::from_source_target(&source, &target, kind, domain::model::now());
        Ok((t, own_s, own_t))
    }
}

fn describe(t: &TrustRecord) -> (String, String) {
    let (s, d) = t.source_target();
    let what = match t.kind {
        TrustKind::Releases => "release bundles",
        TrustKind::Receipts => "deployment receipts",
    };
    (
        format!("{s} -> {d} ({})", t.kind.as_str()),
        format!("{} accepts {what} from {}", t.truster, t.trusted),
    )
}

#[tonic::async_trait]
impl pb::admin_server::Admin for AdminApi {
    async fn info(&self, _r: Request<pb::Empty>) -> Result<Response<pb::OdcmInfo>, Status> {
        Ok(Response::new(pb::OdcmInfo {
            name: self.state.name.clone(),
            ca_pem: self.state.ca.cert_pem(),
            ca_fingerprint: self.state.ca.cert().fingerprint.clone(),
            server_version: env!("CARGO_PKG_VERSION").into(),
        }))
    }

    async fn create_space(
        &self,
        r: Request<pb::CreateSpaceRequest>,
    ) -> Result<Response<pb::CreateSpaceResponse>, Status> {
        let who = actor(&r);
        let r = r.into_inner();
        let name = check_name("Space", &r.name)?;
        let endpoint = check_endpoint(&r.endpoint)?;
        let _g = self.state.write_lock.lock().await;
        self.name_free(&name)?;
        let now = domain::model::now();
        let token = new_token()?;
        let expires_at = now + self.state.settings.token_validity_secs;
        let space = SpaceRecord {
            name: name.clone(),
            endpoint,
            created_at: now,
            enrolled_at: None,
            cert_pem: String::new(),
            fingerprint: String::new(),
            not_after: 0,
            previous: Vec::new(),
        };
        let mut b = Batch::new();
        b.insert_record(&space).map_err(OdcmError::from)?;
        b.insert_record(&TokenRecord {
            token_hash: hash_api_key(&token),
            space: name.clone(),
            expires_at,
            used_at: None,
        })
        .map_err(OdcmError::from)?;
        let ev = AuditEvent::new(
            "space_created",
            &who,
            &name,
            format!("enrolment token expires at {}", rfc3339(expires_at)),
        );
        self.state.commit(b, &[ev], false).await?;
        tracing::info!(space = %name, "space created");
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
        let (after, limit) = page(r.get_ref());
        let (rows, next) = self
            .state
            .store
            .list_records::<SpaceRecord>("", after.as_deref(), limit)
            .map_err(OdcmError::from)?;
        Ok(Response::new(pb::ListSpacesResponse {
            spaces: rows.iter().map(space_pb).collect(),
            next_page_token: next.unwrap_or_default(),
        }))
    }

    async fn export_space_cert(
        &self,
        r: Request<pb::ByName>,
    ) -> Result<Response<pb::ExportSpaceCertResponse>, Status> {
        let s = self.state.space(&r.get_ref().name)?;
        if s.cert_pem.is_empty() {
            return Err(OdcmError::Precondition(format!(
                "Space '{}' has not enrolled yet: start its server with the enrolment token",
                s.name
            ))
            .into());
        }
        Ok(Response::new(pb::ExportSpaceCertResponse {
            name: s.name,
            cert_pem: s.cert_pem,
            fingerprint: s.fingerprint,
            odcm: self.state.name.clone(),
        }))
    }

    async fn add_remote_space(
        &self,
        r: Request<pb::AddRemoteSpaceRequest>,
    ) -> Result<Response<pb::RemoteSpace>, Status> {
        let who = actor(&r);
        let r = r.into_inner();
        let name = check_name("Remote Space", &r.name)?;
        let endpoint = check_endpoint(&r.endpoint)?;
        let cert = CertInfo::from_pem(&r.cert_pem).map_err(|e| {
            OdcmError::Invalid(format!(
                "the certificate for Remote Space '{name}' is refused: {e}"
            ))
        })?;
        if let Some(why) = cert.validity_problem(domain::model::now()) {
            return Err(OdcmError::Invalid(why).into());
        }
        if cert.is_signed_by(&self.state.ca.cert().der) {
            return Err(OdcmError::Invalid(format!(
                "certificate '{}' was issued by this ODCM: its Spaces are trusted already, register only other networks' Spaces",
                cert.subject
            ))
            .into());
        }
        let _g = self.state.write_lock.lock().await;
        self.name_free(&name)?;
        let all = self
            .state
            .store
            .all_records::<RemoteSpaceRecord>("")
            .map_err(OdcmError::from)?;
        if let Some(dup) = all.iter().find(|x| x.fingerprint == cert.fingerprint) {
            return Err(OdcmError::Invalid(format!(
                "this certificate ({}) is already registered as Remote Space '{}'",
                cert.fingerprint, dup.name
            ))
            .into());
        }
        let rec = RemoteSpaceRecord {
            name: name.clone(),
            odcm: cert.organization.clone(),
            endpoint,
            cert_pem: cert.to_pem(),
            fingerprint: cert.fingerprint.clone(),
            subject: cert.subject.clone(),
            not_after: cert.not_after,
            added_at: domain::model::now(),
        };
        let mut b = Batch::new();
        b.insert_record(&rec).map_err(OdcmError::from)?;
        let ev = AuditEvent::new(
            "remote_space_added",
            &who,
            &name,
            format!("{} subject '{}'", rec.fingerprint, rec.subject),
        );
        self.state.commit(b, &[ev], true).await?;
        tracing::info!(remote_space = %name, fingerprint = %rec.fingerprint, "remote space added");
        Ok(Response::new(remote_pb(&rec)))
    }

    async fn list_remote_spaces(
        &self,
        r: Request<pb::PageRequest>,
    ) -> Result<Response<pb::ListRemoteSpacesResponse>, Status> {
        let (after, limit) = page(r.get_ref());
        let (rows, next) = self
            .state
            .store
            .list_records::<RemoteSpaceRecord>("", after.as_deref(), limit)
            .map_err(OdcmError::from)?;
        Ok(Response::new(pb::ListRemoteSpacesResponse {
            remote_spaces: rows.iter().map(remote_pb).collect(),
            next_page_token: next.unwrap_or_default(),
        }))
    }

    async fn remove_remote_space(
        &self,
        r: Request<pb::ByName>,
    ) -> Result<Response<pb::Empty>, Status> {
        let who = actor(&r);
        let name = r.into_inner().name;
        let _g = self.state.write_lock.lock().await;
        let rec = self
            .state
            .remote_space(&name)?
            .ok_or_else(|| OdcmError::not_found("Remote Space", &name))?;
        let trusts = self
            .state
            .store
            .all_records::<TrustRecord>("")
            .map_err(OdcmError::from)?;
        let mut b = Batch::new();
        b.delete(RemoteSpaceRecord::TABLE, &rec.key());
        let mut events = vec![AuditEvent::new(
            "remote_space_removed",
            &who,
            &rec.name,
            rec.fingerprint.clone(),
        )];
        for t in trusts.iter().filter(|t| {
            t.truster.eq_ignore_ascii_case(&rec.name) || t.trusted.eq_ignore_ascii_case(&rec.name)
        }) {
            b.delete(TrustRecord::TABLE, &t.key());
            let (subject, detail) = describe(t);
            events.push(AuditEvent::new("trust_revoked", &who, &subject, detail));
        }
        self.state.commit(b, &events, true).await?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn add_trust(&self, r: Request<pb::TrustRequest>) -> Result<Response<pb::Trust>, Status> {
        let who = actor(&r);
        let _g = self.state.write_lock.lock().await;
        let (t, own_s, own_t) = self.trust_of(r.get_ref())?;
        if !own_s && !own_t {
            return Err(OdcmError::Invalid(format!(
                "neither '{}' nor '{}' is a Space of this ODCM: a trust needs at least one",
                t.trusted, t.truster
            ))
            .into());
        }
        let (subject, detail) = describe(&t);
        if self
            .state
            .store
            .get(TrustRecord::TABLE, &t.key())
            .map_err(OdcmError::from)?
            .is_some()
        {
            return Err(OdcmError::exists("trust", subject).into());
        }
        let mut b = Batch::new();
        b.insert_record(&t).map_err(OdcmError::from)?;
        let ev = AuditEvent::new("trust_added", &who, &subject, detail);
        self.state.commit(b, &[ev], true).await?;
        tracing::info!(truster = %t.truster, trusted = %t.trusted, kind = t.kind.as_str(), "trust added");
        Ok(Response::new(trust_pb(&t)))
    }

    async fn list_trusts(
        &self,
        r: Request<pb::PageRequest>,
    ) -> Result<Response<pb::ListTrustsResponse>, Status> {
        let (after, limit) = page(r.get_ref());
        let (rows, next) = self
            .state
            .store
            .list_records::<TrustRecord>("", after.as_deref(), limit)
            .map_err(OdcmError::from)?;
        Ok(Response::new(pb::ListTrustsResponse {
            trusts: rows.iter().map(trust_pb).collect(),
            next_page_token: next.unwrap_or_default(),
        }))
    }

    async fn revoke_trust(
        &self,
        r: Request<pb::TrustRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        let who = actor(&r);
        let _g = self.state.write_lock.lock().await;
        let (t, _, _) = self.trust_of(r.get_ref())?;
        let (subject, detail) = describe(&t);
        if self
            .state
            .store
            .get_record::<TrustRecord>(&t.key())
            .map_err(OdcmError::from)?
            .is_none()
        {
            return Err(OdcmError::not_found("trust", subject).into());
        }
        let mut b = Batch::new();
        b.delete(
            TrustRecord::TABLE,
            &key_of(&[&t.truster, &t.trusted, t.kind.as_str()]),
        );
        let ev = AuditEvent::new("trust_revoked", &who, &subject, detail);
        self.state.commit(b, &[ev], true).await?;
        tracing::info!(truster = %t.truster, trusted = %t.trusted, kind = t.kind.as_str(), "trust revoked");
        Ok(Response::new(pb::Empty {}))
    }

    async fn list_audit(
        &self,
        r: Request<pb::PageRequest>,
    ) -> Result<Response<pb::ListAuditResponse>, Status> {
        let (after, limit) = page(r.get_ref());
        let (rows, next) = audit::list(self.state.store.as_ref(), after.as_deref(), limit)?;
        Ok(Response::new(pb::ListAuditResponse {
            entries: rows.iter().map(audit_pb).collect(),
            next_page_token: next.unwrap_or_default(),
        }))
    }

    async fn verify_audit(
        &self,
        _r: Request<pb::Empty>,
    ) -> Result<Response<pb::VerifyAuditResponse>, Status> {
        let v = audit::verify(self.state.store.as_ref(), &self.state.ca.cert().der)?;
        let (broken_index, reason) = v.broken.clone().unwrap_or_default();
        if v.broken.is_some() {
            tracing::warn!(index = broken_index, reason = %reason, "audit log verification failed");
        }
        Ok(Response::new(pb::VerifyAuditResponse {
            ok: v.broken.is_none(),
            entries: v.entries,
            broken_index,
            reason,
        }))
    }
}
