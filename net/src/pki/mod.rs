//! The shared PKI of ODCMs and Space servers: the ODCM's certificate authority (ECDSA P-256),
//! CSRs made where the private key lives, X.509 reading, a hot-swappable [`TrustStore`], the
//! rustls verifiers both sides of mutual TLS use, and the tonic server/client plumbing.
//!
//! Subject convention of every certificate an ODCM issues:
//! `CN = <Space name>` (or the ODCM name for its own server certificate), `O = <ODCM name>`,
//! `OU = space | odcm | ca` ([`PeerRole`]).
//!
//! How a Space server uses this (the contract with `odcm`, see `proto/odcm/v1/odcm.proto`):
//! 1. First start with an enrolment token: [`new_csr`], write the key (0600) before sending;
//!    call `Enrolment.Enrol{token, csr_pem, endpoint}` over `tls::connect_pinned` (the ODCM's
//!    fingerprint); keep `cert_pem` + `ca_pem`. A reused token is FAILED_PRECONDITION.
//! 2. Then connect to the ODCM with [`connect_mtls`] + [`client_config`]`(Some(identity),
//!    TrustVerifier::new(store_with_ca).expecting(PeerRole::Odcm))` and keep
//!    `Spaces.WatchTrustSet` open (reconnect with backoff). Store each set locally and apply it
//!    with `store.replace(TrustSnapshot::from_trust_set(&set)?)`; start from the stored set
//!    when the ODCM is unreachable.
//! 3. Peer service: `server_config(identity, Arc::new(TrustVerifier::new(store.clone())
//!    .expecting(PeerRole::Space)))`, serve `tls_incoming(listener, cfg)` with
//!    `serve_with_incoming_shutdown`; in each call [`peer_identity`]`(&req, &store,
//!    PeerRole::Space)` then [`allows`]`(&set, me, &peer.space, kind)`. Peer clients use
//!    [`client_config`] with the same store. Rotation: `Enrolment.Rotate{csr_pem}` over mTLS
//!    with the current certificate; swap identities when it answers.

mod ca;
mod cert;
mod net;
#[cfg(test)]
mod tests;
mod trust;
mod trustset;
mod verifier;

pub use ca::{
    CertificateAuthority, PendingIdentity, SignedCert, new_csr, sign_with_key, verify_signature,
    verify_with_cert,
};
pub use cert::{CertInfo, der_to_pem, pem_to_der};
pub use net::{client_config, connect_mtls, peer_identity, server_config, tls_incoming};
pub use trust::{PinnedCert, Refusal, RefusalKind, TrustSnapshot, TrustStore, TrustedCa};
pub use trustset::allows;
pub use verifier::TrustVerifier;

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("cannot read or write {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} is not a valid PEM certificate: {reason}")]
    BadCertificate { what: String, reason: String },
    #[error("the certificate signing request is invalid: {0}")]
    BadCsr(String),
    #[error("{0} holds no valid private key")]
    BadKey(String),
    #[error("cannot create certificate: {0}")]
    Generate(String),
    #[error("cannot sign: {0}")]
    Sign(String),
    #[error("cannot configure TLS: {0}")]
    Config(String),
}

/// What a certificate is for, from its `OU`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum PeerRole {
    /// A Space server (client and server of the peer service, client of its ODCM).
    Space,
    /// An ODCM's own API server certificate.
    Odcm,
    /// An ODCM's certificate authority.
    Ca,
}

impl PeerRole {
    pub fn as_str(self) -> &'static str {
        match self {
            PeerRole::Space => "space",
            PeerRole::Odcm => "odcm",
            PeerRole::Ca => "ca",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "space" => Some(PeerRole::Space),
            "odcm" => Some(PeerRole::Odcm),
            "ca" => Some(PeerRole::Ca),
            _ => None,
        }
    }
}

impl std::fmt::Display for PeerRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who is on the other end of a verified mutual-TLS connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerIdentity {
    /// The Space's name (or the ODCM's name for an ODCM server certificate).
    pub space: String,
    /// The ODCM that issued (or, for a Remote Space, registered) the certificate.
    pub odcm: String,
    /// `sha256:<hex>` of the certificate presented.
    pub fingerprint: String,
    pub role: PeerRole,
    /// Known by a pinned certificate (a Remote Space) rather than through a CA.
    pub pinned: bool,
}

/// Seconds since the UNIX epoch now.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
