//! The ODCM's administration rules, continued: Remote Spaces (another network's Spaces, known
//! by their certificates) and the audit log as the admin reads and verifies it.

use net::pki::CertInfo;
use storage::{Batch, Record, StoreExt};

use super::Listed;
use super::Page;
use super::admin::{AdminService, describe};
use crate::audit::{self, AuditEvent, Verification};
use crate::checkpoints::{self, Sourced};
use crate::error::{OdcmError, OdcmResult};
use crate::records::{AuditRecord, RemoteSpaceRecord, TrustRecord};
use crate::state::{Planned, check_endpoint, check_name};

/// Most audit entries one page holds, and characters of a subject or detail it shows: 200
/// entries of three 2,000-character fields stay well under the 4 MiB message limit.
pub const AUDIT_PAGE: usize = 200;
pub const AUDIT_SHOWN: usize = 2_000;
/// Most checkpoint files one verification takes.
pub const MAX_CHECKPOINT_FILES: usize = 16;

/// What [`AdminService::verify_audit`] found, and the newest checkpoint it checked against.
#[derive(Debug, Clone)]
pub struct AuditCheck {
    pub verification: Verification,
    pub against: Option<Sourced>,
}

impl AdminService {
    /// Registers another network's Space by its certificate (valid now, not issued here, not
    /// registered yet).
    pub async fn add_remote_space(
        &self,
        who: &str,
        name: &str,
        endpoint: &str,
        cert_pem: &str,
    ) -> OdcmResult<RemoteSpaceRecord> {
        let name = check_name("Remote Space", name)?;
        let endpoint = check_endpoint(endpoint)?;
        let cert = CertInfo::from_pem(cert_pem).map_err(|e| {
            OdcmError::Invalid(format!(
                "the certificate for Remote Space '{name}' is refused: {e}"
            ))
        })?;
        if let Some(why) = cert.validity_problem(domain::model::now()) {
            return Err(OdcmError::Invalid(why));
        }
        if cert.is_signed_by(&self.state.ca.cert().der) {
            return Err(OdcmError::Invalid(format!(
                "certificate '{}' was issued by this ODCM: its Spaces are trusted already, register only other networks' Spaces",
                cert.subject
            )));
        }
        let rec = self
            .state
            .commit_planned(|| self.add_remote_space_plan(who, &name, &endpoint, &cert))
            .await?;
        tracing::info!(remote_space = %name, fingerprint = %rec.fingerprint, "remote space added");
        Ok(rec)
    }

    fn add_remote_space_plan(
        &self,
        who: &str,
        name: &str,
        endpoint: &str,
        cert: &CertInfo,
    ) -> OdcmResult<Planned<RemoteSpaceRecord>> {
        self.name_free(name)?;
        let (name, endpoint) = (name.to_string(), endpoint.to_string());
        let all = self.state.store.all_records::<RemoteSpaceRecord>("")?;
        if let Some(dup) = all.iter().find(|x| x.fingerprint == cert.fingerprint) {
            return Err(OdcmError::Invalid(format!(
                "this certificate ({}) is already registered as Remote Space '{}'",
                cert.fingerprint, dup.name
            )));
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
        b.insert_record(&rec)?;
        let ev = AuditEvent::new(
            "remote_space_added",
            who,
            &name,
            format!("{} subject '{}'", rec.fingerprint, rec.subject),
        );
        Ok(Planned {
            batch: b,
            events: vec![ev],
            trust_changed: true,
            value: rec,
        })
    }

    pub fn list_remote_spaces(&self, page: Page) -> OdcmResult<Listed<RemoteSpaceRecord>> {
        let (items, next) = self.state.store.list_records::<RemoteSpaceRecord>(
            "",
            page.after.as_deref(),
            page.size,
        )?;
        Ok(Listed { items, next })
    }

    /// Removes a Remote Space and revokes every trust that names it.
    pub async fn remove_remote_space(&self, who: &str, name: &str) -> OdcmResult<()> {
        self.state
            .commit_planned(|| self.remove_remote_space_plan(who, name))
            .await
    }

    fn remove_remote_space_plan(&self, who: &str, name: &str) -> OdcmResult<Planned<()>> {
        let rec = self
            .state
            .remote_space(name)?
            .ok_or_else(|| OdcmError::not_found("Remote Space", name))?;
        let trusts = self.state.store.all_records::<TrustRecord>("")?;
        let mut b = Batch::new();
        b.delete(RemoteSpaceRecord::TABLE, &rec.key());
        let mut events = vec![AuditEvent::new(
            "remote_space_removed",
            who,
            &rec.name,
            rec.fingerprint.clone(),
        )];
        for t in trusts.iter().filter(|t| {
            t.truster.eq_ignore_ascii_case(&rec.name) || t.trusted.eq_ignore_ascii_case(&rec.name)
        }) {
            b.delete(TrustRecord::TABLE, &t.key());
            let (subject, detail) = describe(t);
            events.push(AuditEvent::new("trust_revoked", who, &subject, detail));
        }
        Ok(Planned {
            batch: b,
            events,
            trust_changed: true,
            value: (),
        })
    }

    /// A page of the audit log, at most [`AUDIT_PAGE`] entries, each subject and detail shown
    /// to at most [`AUDIT_SHOWN`] characters (the stored entries, which `verify_audit` checks,
    /// are whole): no page can outgrow the message limit, whatever older entries hold.
    pub fn list_audit(&self, page: Page) -> OdcmResult<Listed<AuditRecord>> {
        let (items, next) = audit::list(
            self.state.store.as_ref(),
            page.after.as_deref(),
            page.size.min(AUDIT_PAGE),
        )?;
        let items = items
            .into_iter()
            .map(|e| AuditRecord {
                subject: domain::text::clean(&e.subject, AUDIT_SHOWN),
                detail: domain::text::clean(&e.detail, AUDIT_SHOWN),
                actor: domain::text::clean(&e.actor, AUDIT_SHOWN),
                ..e
            })
            .collect();
        Ok(Listed { items, next })
    }

    /// Checks the audit log's hash chain and signatures, then the log against every checkpoint
    /// `files` holds (each must be this ODCM's) and the newest one Spaces presented: a log
    /// shorter than a checkpoint, or with another entry where it ends, fails.
    pub fn verify_audit(&self, files: &[Vec<u8>]) -> OdcmResult<AuditCheck> {
        if files.len() > MAX_CHECKPOINT_FILES {
            return Err(OdcmError::Invalid(format!(
                "at most {MAX_CHECKPOINT_FILES} checkpoint files at once"
            )));
        }
        let store = self.state.store.as_ref();
        let mut v = audit::verify(store, &self.state.ca.cert().der)?;
        let mut given = Vec::new();
        for (i, f) in files.iter().enumerate() {
            let c = checkpoints::read(&self.state, f)
                .map_err(|e| OdcmError::Invalid(format!("checkpoint file {}: {e}", i + 1)))?;
            given.push(Sourced {
                source: format!("checkpoint file {}", i + 1),
                checkpoint: c,
            });
        }
        given.extend(self.state.checkpoints.newest());
        given.sort_by_key(|c| std::cmp::Reverse(c.checkpoint.entries));
        if v.broken.is_none() {
            for c in &given {
                if let Some(problem) = checkpoints::check(store, &c.checkpoint)? {
                    let at = c.checkpoint.entries.min(v.entries + 1);
                    v.broken = Some((at, format!("{problem} (checked against {})", c.source)));
                    break;
                }
            }
        }
        if let Some((index, reason)) = &v.broken {
            tracing::warn!(index, reason = %reason, "audit log verification failed");
        }
        Ok(AuditCheck {
            verification: v,
            against: given.into_iter().next(),
        })
    }
}
