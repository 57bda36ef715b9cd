//! Mutual TLS with pinned certificates, as between a Space and its agents (like Tentacle):
//! each side creates its own self-signed identity and trusts exactly the certificates whose
//! fingerprints it was told. Connections and the accept loop are `crate::transport`'s.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::DistinguishedName;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};

use crate::tls::{Identity, TlsError, fingerprint, normalize_fingerprint};

/// A set of trusted certificate fingerprints that can change while servers run.
#[derive(Clone, Default, Debug)]
pub struct FingerprintSet(Arc<RwLock<HashSet<String>>>);

impl FingerprintSet {
    pub fn new(items: impl IntoIterator<Item = String>) -> Self {
        Self(Arc::new(RwLock::new(items.into_iter().collect())))
    }
    pub fn contains(&self, fp: &str) -> bool {
        self.0.read().map(|s| s.contains(fp)).unwrap_or(false)
    }
    pub fn insert(&self, fp: String) {
        if let Ok(mut s) = self.0.write() {
            s.insert(fp);
        }
    }
    pub fn remove(&self, fp: &str) {
        if let Ok(mut s) = self.0.write() {
            s.remove(fp);
        }
    }
    pub fn replace(&self, items: impl IntoIterator<Item = String>) {
        if let Ok(mut s) = self.0.write() {
            *s = items.into_iter().collect();
        }
    }
}

/// Requires a client certificate whose fingerprint is in the set.
#[derive(Debug)]
struct PinnedClients {
    allowed: FingerprintSet,
    what: &'static str,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ClientCertVerifier for PinnedClients {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let fp = fingerprint(end_entity);
        if self.allowed.contains(&fp) {
            Ok(ClientCertVerified::assertion())
        } else {
            tracing::warn!(fingerprint = %fp, peer = self.what, "refused a client certificate that is not registered");
            Err(rustls::Error::General(format!(
                "certificate {fp} is not registered as {}",
                self.what
            )))
        }
    }

    crate::verify_signatures_with_provider!();
}

/// A server configuration presenting `identity` and accepting only clients whose certificate
/// fingerprint is in `allowed` (`what` names them in refusals, e.g. "a deployment target").
pub fn server_config(
    identity: &Identity,
    allowed: FingerprintSet,
    what: &'static str,
) -> Result<rustls::ServerConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(PinnedClients {
        allowed,
        what,
        provider: provider.clone(),
    });
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Generate(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![identity.cert_der()?], identity.private_key()?)
        .map_err(|e| TlsError::Generate(e.to_string()))?;
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    Ok(cfg)
}

/// A client configuration presenting `identity` and trusting only the server certificate
/// with fingerprint `server` (`advice`: see [`crate::tls::pinned_server_verifier`]).
pub fn client_config(
    identity: &Identity,
    server: &str,
    advice: &str,
) -> Result<rustls::ClientConfig, TlsError> {
    let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| TlsError::Generate(e.to_string()))?
    .dangerous()
    .with_custom_certificate_verifier(crate::tls::pinned_server_verifier(server, advice)?)
    .with_client_auth_cert(vec![identity.cert_der()?], identity.private_key()?)
    .map_err(|e| TlsError::Generate(e.to_string()))?;
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    Ok(cfg)
}

pub use crate::transport::tls_incoming;

/// Opens a gRPC channel to `address` with mutual TLS: presents `identity`, trusts only the
/// server certificate `server_fingerprint` (`advice` ends the refusal of another one).
pub async fn connect(
    address: &str,
    server_fingerprint: &str,
    identity: &Identity,
    timeout: Duration,
    advice: &str,
) -> Result<tonic::transport::Channel, TlsError> {
    let cfg = Arc::new(client_config(identity, server_fingerprint, advice)?);
    crate::transport::connect(address, cfg, timeout).await
}

/// The SHA-256 fingerprint of the client certificate of a request served over [`tls_incoming`].
pub fn peer_fingerprint<T>(req: &tonic::Request<T>) -> Option<String> {
    req.peer_certs()
        .and_then(|c| c.first().map(|c| fingerprint(c)))
}

/// Normalises a fingerprint given on a command line.
pub fn parse_fingerprint(s: &str) -> Result<String, TlsError> {
    normalize_fingerprint(s).map_err(TlsError::from)
}
