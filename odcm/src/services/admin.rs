//! The ODCM's administration rules: Spaces and their enrolment tokens, and trusts (Remote
//! Spaces and the audit log in `admin_more.rs`). Every change is committed together with its
//! audit entry. The Admin gRPC service (`api/admin.rs`) only converts and calls these.

use std::sync::Arc;

use secrets::hash_api_key;
use storage::{Batch, Record, StoreExt, key_of};

use super::{Listed, Page, rfc3339};
use crate::audit::AuditEvent;
use crate::error::{OdcmError, OdcmResult};
use crate::records::{SpaceRecord, TokenRecord, TrustKind, TrustRecord};
use crate::state::{OdcmState, Planned, check_endpoint, check_name, new_token};

pub struct AdminService {
    pub state: Arc<OdcmState>,
}

/// A trust as asked for: `target` accepts `kind` from `source`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustRequest {
    pub source: String,
    pub target: String,
    pub kind: TrustKind,
}

/// A new Space and the token it enrols with (shown once).
#[derive(Debug, Clone)]
pub struct CreatedSpace {
    pub space: SpaceRecord,
    pub token: String,
    pub expires_at: i64,
}

/// What a Space's certificate export holds.
#[derive(Debug, Clone)]
pub struct SpaceCert {
    pub name: String,
    pub cert_pem: String,
    pub fingerprint: String,
    pub odcm: String,
}

impl AdminService {
    /// Refuses a name already used by a Space or a Remote Space.
    pub(super) fn name_free(&self, name: &str) -> OdcmResult<()> {
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

    fn trust_of(&self, r: &TrustRequest) -> OdcmResult<(TrustRecord, bool, bool)> {
        let kind = r.kind;
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

pub(super) fn describe(t: &TrustRecord) -> (String, String) {
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

impl AdminService {
    /// Creates a Space record and a one-time enrolment token for it.
    pub async fn create_space(
        &self,
        who: &str,
        name: &str,
        endpoint: &str,
    ) -> OdcmResult<CreatedSpace> {
        let name = check_name("Space", name)?;
        let endpoint = check_endpoint(endpoint)?;
        let created = self
            .state
            .commit_planned(|| self.create_space_plan(who, &name, &endpoint))
            .await?;
        tracing::info!(space = %name, "space created");
        Ok(created)
    }

    fn create_space_plan(
        &self,
        who: &str,
        name: &str,
        endpoint: &str,
    ) -> OdcmResult<Planned<CreatedSpace>> {
        self.name_free(name)?;
        let name = name.to_string();
        let endpoint = endpoint.to_string();
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
        b.insert_record(&space)?;
        b.insert_record(&TokenRecord {
            token_hash: hash_api_key(&token),
            space: name.clone(),
            expires_at,
            used_at: None,
        })?;
        let ev = AuditEvent::new(
            "space_created",
            who,
            &name,
            format!("enrolment token expires at {}", rfc3339(expires_at)),
        );
        Ok(Planned {
            batch: b,
            events: vec![ev],
            trust_changed: false,
            value: CreatedSpace {
                space,
                token,
                expires_at,
            },
        })
    }

    pub fn list_spaces(&self, page: Page) -> OdcmResult<Listed<SpaceRecord>> {
        let (items, next) =
            self.state
                .store
                .list_records::<SpaceRecord>("", page.after.as_deref(), page.size)?;
        Ok(Listed { items, next })
    }

    /// A Space's current certificate, once it has enrolled.
    pub fn export_space_cert(&self, name: &str) -> OdcmResult<SpaceCert> {
        let s = self.state.space(name)?;
        if s.cert_pem.is_empty() {
            return Err(OdcmError::Precondition(format!(
                "Space '{}' has not enrolled yet: start its server with the enrolment token",
                s.name
            )));
        }
        Ok(SpaceCert {
            name: s.name,
            cert_pem: s.cert_pem,
            fingerprint: s.fingerprint,
            odcm: self.state.name.clone(),
        })
    }

    /// Adds a trust; at least one side must be a Space of this ODCM.
    pub async fn add_trust(&self, who: &str, r: &TrustRequest) -> OdcmResult<TrustRecord> {
        let t = self
            .state
            .commit_planned(|| self.add_trust_plan(who, r))
            .await?;
        tracing::info!(truster = %t.truster, trusted = %t.trusted, kind = t.kind.as_str(), "trust added");
        Ok(t)
    }

    fn add_trust_plan(&self, who: &str, r: &TrustRequest) -> OdcmResult<Planned<TrustRecord>> {
        let (t, own_s, own_t) = self.trust_of(r)?;
        if !own_s && !own_t {
            return Err(OdcmError::Invalid(format!(
                "neither '{}' nor '{}' is a Space of this ODCM: a trust needs at least one",
                t.trusted, t.truster
            )));
        }
        let (subject, detail) = describe(&t);
        if self
            .state
            .store
            .get(TrustRecord::TABLE, &t.key())?
            .is_some()
        {
            return Err(OdcmError::exists("trust", subject));
        }
        let mut b = Batch::new();
        b.insert_record(&t)?;
        let ev = AuditEvent::new("trust_added", who, &subject, detail);
        Ok(Planned {
            batch: b,
            events: vec![ev],
            trust_changed: true,
            value: t,
        })
    }

    pub fn list_trusts(&self, page: Page) -> OdcmResult<Listed<TrustRecord>> {
        let (items, next) =
            self.state
                .store
                .list_records::<TrustRecord>("", page.after.as_deref(), page.size)?;
        Ok(Listed { items, next })
    }

    pub async fn revoke_trust(&self, who: &str, r: &TrustRequest) -> OdcmResult<()> {
        let t = self
            .state
            .commit_planned(|| self.revoke_trust_plan(who, r))
            .await?;
        tracing::info!(truster = %t.truster, trusted = %t.trusted, kind = t.kind.as_str(), "trust revoked");
        Ok(())
    }

    fn revoke_trust_plan(&self, who: &str, r: &TrustRequest) -> OdcmResult<Planned<TrustRecord>> {
        let (t, _, _) = self.trust_of(r)?;
        let (subject, detail) = describe(&t);
        if self
            .state
            .store
            .get_record::<TrustRecord>(&t.key())?
            .is_none()
        {
            return Err(OdcmError::not_found("trust", subject));
        }
        let mut b = Batch::new();
        b.delete(
            TrustRecord::TABLE,
            &key_of(&[&t.truster, &t.trusted, t.kind.as_str()]),
        );
        let ev = AuditEvent::new("trust_revoked", who, &subject, detail);
        Ok(Planned {
            batch: b,
            events: vec![ev],
            trust_changed: true,
            value: t,
        })
    }
}

#[cfg(test)]
#[path = "tests/admin.rs"]
mod tests;
