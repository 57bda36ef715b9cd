//! X.509 reading with x509-parser: subject names, role, validity, fingerprint, and whether a
//! certificate was signed by a given CA certificate.

use base64::Engine;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::{PeerRole, PkiError};
use crate::tls::fingerprint;

/// The facts about one certificate that trust decisions need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    pub der: Vec<u8>,
    pub fingerprint: String,
    /// The subject as `CN=..., O=..., OU=...`.
    pub subject: String,
    pub issuer: String,
    pub common_name: String,
    pub organization: String,
    pub role: Option<PeerRole>,
    pub not_before: i64,
    pub not_after: i64,
}

fn parse(der: &[u8]) -> Result<X509Certificate<'_>, PkiError> {
    X509Certificate::from_der(der)
        .map(|(_, c)| c)
        .map_err(|e| PkiError::BadCertificate {
            what: "the certificate".into(),
            reason: e.to_string(),
        })
}

impl CertInfo {
    pub fn from_der(der: &[u8]) -> Result<Self, PkiError> {
        let c = parse(der)?;
        let first = |it: &mut dyn Iterator<Item = &x509_parser::x509::AttributeTypeAndValue>| {
            it.next()
                .and_then(|a| a.as_str().ok())
                .unwrap_or("")
                .to_string()
        };
        let subject = c.subject();
        let unit = first(&mut subject.iter_organizational_unit());
        Ok(Self {
            der: der.to_vec(),
            fingerprint: fingerprint(der),
            subject: subject.to_string(),
            issuer: c.issuer().to_string(),
            common_name: first(&mut subject.iter_common_name()),
            organization: first(&mut subject.iter_organization()),
            role: PeerRole::parse(&unit),
            not_before: c.validity().not_before.timestamp(),
            not_after: c.validity().not_after.timestamp(),
        })
    }

    /// Parses exactly one PEM certificate; anything else is refused.
    pub fn from_pem(pem: &str) -> Result<Self, PkiError> {
        Self::from_der(&pem_to_der(pem)?)
    }

    pub fn to_pem(&self) -> String {
        der_to_pem(&self.der)
    }

    /// Why the certificate is not valid at `now`, if it is not.
    pub fn validity_problem(&self, now: i64) -> Option<String> {
        if now < self.not_before {
            Some(format!(
                "certificate '{}' is not valid before {}",
                self.subject,
                rfc3339(self.not_before)
            ))
        } else if now > self.not_after {
            Some(format!(
                "certificate '{}' expired at {}",
                self.subject,
                rfc3339(self.not_after)
            ))
        } else {
            None
        }
    }

    /// True if this certificate names `ca` as its issuer and `ca`'s key signed it.
    pub fn is_signed_by(&self, ca_der: &[u8]) -> bool {
        let (Ok(me), Ok(ca)) = (parse(&self.der), parse(ca_der)) else {
            return false;
        };
        me.issuer().as_raw() == ca.subject().as_raw()
            && me.verify_signature(Some(ca.public_key())).is_ok()
    }
}

/// The DER bytes of exactly one PEM `CERTIFICATE` block.
pub fn pem_to_der(pem: &str) -> Result<Vec<u8>, PkiError> {
    let bad = |reason: &str| PkiError::BadCertificate {
        what: "the PEM text".into(),
        reason: reason.into(),
    };
    let mut certs = CertificateDer::pem_slice_iter(pem.as_bytes());
    let first = match certs.next() {
        Some(Ok(c)) => c,
        Some(Err(e)) => return Err(bad(&e.to_string())),
        None => return Err(bad("no -----BEGIN CERTIFICATE----- block found")),
    };
    if certs.next().is_some() {
        return Err(bad("it holds more than one certificate; give exactly one"));
    }
    parse(&first)?;
    Ok(first.to_vec())
}

/// PEM text of a DER certificate.
pub fn der_to_pem(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// UNIX seconds as RFC 3339 UTC (for messages).
pub fn rfc3339(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| secs.to_string())
}
