//! rustls verifiers for both ends of mutual TLS, deciding with a [`TrustStore`]: a peer is
//! accepted only if its certificate chains to a trusted CA or is a pinned certificate, is within
//! its validity period, is not retired, and (optionally) has the expected role.

use std::sync::Arc;

use rustls::DistinguishedName;
use rustls::client::danger::{ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};

use super::{PeerIdentity, PeerRole, Refusal, RefusalKind, TrustStore};

/// Verifies peers against a [`TrustStore`]. Use one instance as a `ClientCertVerifier` on a
/// server and as a `ServerCertVerifier` on a client. Host names are not checked: peers are
/// identified by their certificate, not by the address they were reached at.
#[derive(Debug)]
pub struct TrustVerifier {
    store: TrustStore,
    expect: Option<PeerRole>,
    allow_anonymous: bool,
    defer: bool,
    expect_space: Option<String>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl TrustVerifier {
    /// Accepts any role; a server using it requires a client certificate.
    pub fn new(store: TrustStore) -> Self {
        Self {
            store,
            expect: None,
            allow_anonymous: false,
            defer: false,
            expect_space: None,
            provider: Arc::new(rustls::crypto::ring::default_provider()),
        }
    }

    /// Refuses certificates not made for `role` (e.g. `Odcm` when connecting to an ODCM,
    /// `Space` on a peer service).
    pub fn expecting(mut self, role: PeerRole) -> Self {
        self.expect = Some(role);
        self
    }

    /// As a server verifier: lets clients without a certificate connect (each call must then
    /// check [`super::peer_identity`] itself). A certificate that is presented is still verified.
    pub fn allow_anonymous(mut self) -> Self {
        self.allow_anonymous = true;
        self
    }

    /// Refuses a certificate that does not name Space `space` (as a client verifier: the server
    /// reached at a peer's endpoint must be that peer).
    pub fn expecting_space(mut self, space: &str) -> Self {
        self.expect_space = Some(space.to_string());
        self
    }

    /// As a server verifier: completes the handshake with any readable client certificate
    /// (its key must still sign the handshake) or none, and leaves the trust decision to each
    /// call, which must use [`super::peer_identity`]. The caller then gets the refusal's reason
    /// (expired, unknown CA, fingerprint mismatch, retired) as a gRPC status instead of a bare
    /// TLS alert.
    pub fn defer_to_calls(mut self) -> Self {
        self.allow_anonymous = true;
        self.defer = true;
        self
    }

    pub fn store(&self) -> &TrustStore {
        &self.store
    }

    /// The decision for one certificate, logged when refused.
    pub fn check(&self, der: &[u8], side: &str) -> Result<PeerIdentity, Refusal> {
        let r = match self.expect {
            Some(role) => self.store.verify_role(der, role),
            None => self.store.verify(der),
        };
        let r = match (r, &self.expect_space) {
            (Ok(id), Some(want)) if !id.space.eq_ignore_ascii_case(want) => Err(Refusal {
                kind: RefusalKind::WrongSpace,
                message: format!(
                    "the peer presented the certificate of Space '{}' (ODCM '{}', {}) but Space '{want}' was expected at this address",
                    id.space, id.odcm, id.fingerprint
                ),
            }),
            (r, _) => r,
        };
        match &r {
            Ok(id) => {
                tracing::debug!(peer = %id.space, odcm = %id.odcm, fingerprint = %id.fingerprint, side, "peer certificate accepted")
            }
            Err(e) => tracing::warn!(reason = %e.message, side, "peer certificate refused"),
        }
        r
    }
}

impl ClientCertVerifier for TrustVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        !self.allow_anonymous
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if self.defer {
            super::CertInfo::from_der(end_entity).map_err(|e| {
                rustls::Error::InvalidCertificate(rustls::CertificateError::Other(
                    rustls::OtherError(Arc::new(e)),
                ))
            })?;
            return Ok(ClientCertVerified::assertion());
        }
        self.check(end_entity, "client")?;
        Ok(ClientCertVerified::assertion())
    }

    crate::verify_signatures_with_provider!();
}

impl ServerCertVerifier for TrustVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.check(end_entity, "server")?;
        Ok(ServerCertVerified::assertion())
    }

    crate::verify_signatures_with_provider!();
}
