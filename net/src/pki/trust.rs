//! The [`TrustStore`]: which CAs and pinned certificates a process accepts peers from, which
//! certificate fingerprints it no longer accepts, and the decision for one presented certificate.
//! The store is shared (`Clone` is cheap) and swapped whole: verifiers built from it see a new
//! snapshot on their next handshake, without a restart.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::cert::{CertInfo, rfc3339};
use super::{PeerIdentity, PeerRole, PkiError};

/// A CA whose certificates identify peers by their subject (`CN` = Space, `O` = ODCM).
#[derive(Debug, Clone)]
pub struct TrustedCa {
    pub odcm: String,
    pub cert: CertInfo,
}

/// A certificate accepted exactly (a Remote Space registered by its fingerprint).
#[derive(Debug, Clone)]
pub struct PinnedCert {
    pub space: String,
    pub odcm: String,
    pub cert: CertInfo,
    /// Stop accepting it after this time (rotation overlap); `None`: until it expires.
    pub accept_until: Option<i64>,
}

/// One immutable view of what is trusted.
#[derive(Debug, Clone, Default)]
pub struct TrustSnapshot {
    /// The trust set version it came from (0: built locally).
    pub version: u64,
    pub cas: Vec<TrustedCa>,
    /// By fingerprint.
    pub pinned: HashMap<String, PinnedCert>,
    /// Fingerprint -> time after which the certificate is refused (retired by rotation).
    pub retired: HashMap<String, i64>,
}

impl TrustSnapshot {
    /// Trusts certificates issued by the CA in `ca_pem` (the ODCM named `odcm`).
    pub fn add_ca_pem(&mut self, odcm: &str, ca_pem: &str) -> Result<(), PkiError> {
        let cert = CertInfo::from_pem(ca_pem)?;
        self.cas.retain(|c| c.cert.fingerprint != cert.fingerprint);
        self.cas.push(TrustedCa {
            odcm: odcm.to_string(),
            cert,
        });
        Ok(())
    }

    /// Trusts exactly the certificate in `pem` as Space `space`; returns its fingerprint.
    pub fn pin_pem(
        &mut self,
        space: &str,
        pem: &str,
        accept_until: Option<i64>,
    ) -> Result<String, PkiError> {
        let cert = CertInfo::from_pem(pem)?;
        let fp = cert.fingerprint.clone();
        self.pinned.insert(
            fp.clone(),
            PinnedCert {
                space: space.to_string(),
                odcm: cert.organization.clone(),
                cert,
                accept_until,
            },
        );
        Ok(fp)
    }

    /// Refuses the certificate with `fingerprint` from `refuse_after` on.
    pub fn retire(&mut self, fingerprint: &str, refuse_after: i64) {
        self.retired.insert(fingerprint.to_string(), refuse_after);
    }

    /// Decides whether the DER certificate `der` is an acceptable peer at `now`.
    pub fn verify(&self, der: &[u8], now: i64) -> Result<PeerIdentity, Refusal> {
        let cert = CertInfo::from_der(der).map_err(|e| Refusal {
            kind: RefusalKind::Malformed,
            message: format!("the peer's certificate cannot be read: {e}"),
        })?;
        let fp = &cert.fingerprint;
        if let Some(&after) = self.retired.get(fp)
            && now >= after
        {
            return Err(Refusal {
                kind: RefusalKind::Retired,
                message: format!(
                    "certificate '{}' ({fp}) was replaced and stopped being accepted at {}; the peer must use its current certificate",
                    cert.subject,
                    rfc3339(after)
                ),
            });
        }
        let expired = |msg: String| Refusal {
            kind: RefusalKind::Expired,
            message: msg,
        };
        if let Some(p) = self.pinned.get(fp) {
            if let Some(m) = cert.validity_problem(now) {
                return Err(expired(m));
            }
            if let Some(until) = p.accept_until
                && now >= until
            {
                return Err(Refusal {
                    kind: RefusalKind::Retired,
                    message: format!(
                        "certificate '{}' ({fp}) of Space '{}' stopped being accepted at {}",
                        cert.subject,
                        p.space,
                        rfc3339(until)
                    ),
                });
            }
            return Ok(PeerIdentity {
                space: p.space.clone(),
                odcm: p.odcm.clone(),
                fingerprint: fp.clone(),
                role: cert.role.unwrap_or(PeerRole::Space),
                pinned: true,
            });
        }
        for ca in &self.cas {
            if cert.is_signed_by(&ca.cert.der) {
                if let Some(m) = cert.validity_problem(now) {
                    return Err(expired(m));
                }
                let Some(role) = cert.role.filter(|_| !cert.common_name.is_empty()) else {
                    return Err(Refusal {
                        kind: RefusalKind::UnknownIssuer,
                        message: format!(
                            "certificate '{}' was issued by '{}' but names no Space (CN) and role (OU)",
                            cert.subject, ca.cert.subject
                        ),
                    });
                };
                return Ok(PeerIdentity {
                    space: cert.common_name.clone(),
                    odcm: ca.odcm.clone(),
                    fingerprint: fp.clone(),
                    role,
                    pinned: false,
                });
            }
        }
        Err(self.unknown(&cert))
    }

    fn unknown(&self, cert: &CertInfo) -> Refusal {
        let same_name: Vec<&PinnedCert> = self
            .pinned
            .values()
            .filter(|p| p.space.eq_ignore_ascii_case(&cert.common_name))
            .collect();
        if let Some(p) = same_name.first() {
            return Refusal {
                kind: RefusalKind::FingerprintMismatch,
                message: format!(
                    "certificate '{}' ({}) does not match the registered certificate of Remote Space '{}' ({}); re-register it if the Space rotated its certificate",
                    cert.subject, cert.fingerprint, p.space, p.cert.fingerprint
                ),
            };
        }
        let cas: Vec<String> = self
            .cas
            .iter()
            .map(|c| format!("'{}'", c.cert.subject))
            .collect();
        let cas = if cas.is_empty() {
            "no CA".to_string()
        } else {
            cas.join(" or ")
        };
        Refusal {
            kind: RefusalKind::UnknownIssuer,
            message: format!(
                "certificate '{}' issued by '{}' ({}) is not trusted: expected a certificate issued by {cas} or one of {} registered Remote Space certificate(s)",
                cert.subject,
                cert.issuer,
                cert.fingerprint,
                self.pinned.len()
            ),
        }
    }
}

/// Why a peer certificate was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    Malformed,
    UnknownIssuer,
    Expired,
    Retired,
    FingerprintMismatch,
    WrongRole,
    /// A valid certificate, but of another Space than the one expected.
    WrongSpace,
    Missing,
}

/// A refusal with a message naming the certificate and what was expected.
#[derive(Clone, PartialEq, Eq)]
pub struct Refusal {
    pub kind: RefusalKind,
    pub message: String,
}

impl std::fmt::Debug for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Refusal {}

impl From<Refusal> for rustls::Error {
    fn from(r: Refusal) -> Self {
        rustls::Error::InvalidCertificate(rustls::CertificateError::Other(rustls::OtherError(
            Arc::new(r),
        )))
    }
}

/// A shared, hot-swappable [`TrustSnapshot`].
#[derive(Debug, Clone, Default)]
pub struct TrustStore {
    inner: Arc<RwLock<Arc<TrustSnapshot>>>,
}

impl TrustStore {
    pub fn new(snapshot: TrustSnapshot) -> Self {
        Self {
            inner: Arc::new(RwLock::new(Arc::new(snapshot))),
        }
    }

    /// Replaces what is trusted; the next handshake and the next check use it.
    pub fn replace(&self, snapshot: TrustSnapshot) {
        let mut g = match self.inner.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        *g = Arc::new(snapshot);
    }

    pub fn snapshot(&self) -> Arc<TrustSnapshot> {
        match self.inner.read() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// [`TrustSnapshot::verify`] on the current snapshot at the current time.
    pub fn verify(&self, der: &[u8]) -> Result<PeerIdentity, Refusal> {
        self.snapshot().verify(der, super::unix_now())
    }

    /// Like [`TrustStore::verify`], and the certificate must be for `role`.
    pub fn verify_role(&self, der: &[u8], role: PeerRole) -> Result<PeerIdentity, Refusal> {
        let id = self.verify(der)?;
        if id.role != role {
            return Err(Refusal {
                kind: RefusalKind::WrongRole,
                message: format!(
                    "certificate of '{}' (ODCM '{}', {}) is a {} certificate; expected a {role} certificate",
                    id.space, id.odcm, id.fingerprint, id.role
                ),
            });
        }
        Ok(id)
    }
}
