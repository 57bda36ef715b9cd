//! Mutual-TLS configuration for the PKI between ODCMs and Spaces: server and client configs
//! over the trust store's verifier, and [`peer_identity`], which checks a caller's certificate
//! again per call. Connections and the accept loop are `crate::transport`'s.

use std::sync::Arc;
use std::time::Duration;

use super::{PeerIdentity, PeerRole, PkiError, Refusal, RefusalKind, TrustStore, TrustVerifier};
use crate::tls::{Identity, TlsError};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn cfg_err(e: impl std::fmt::Display) -> PkiError {
    PkiError::Config(e.to_string())
}

/// A server configuration presenting `identity` and checking clients with `verifier`.
pub fn server_config(
    identity: &Identity,
    verifier: Arc<TrustVerifier>,
) -> Result<Arc<rustls::ServerConfig>, PkiError> {
    let cert = identity.cert_der().map_err(cfg_err)?;
    let key = identity.private_key().map_err(cfg_err)?;
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(cfg_err)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![cert], key)
        .map_err(cfg_err)?;
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(cfg))
}

/// A client configuration checking the server with `verifier` and presenting `identity`
/// (if any) as its client certificate.
pub fn client_config(
    identity: Option<&Identity>,
    verifier: Arc<TrustVerifier>,
) -> Result<Arc<rustls::ClientConfig>, PkiError> {
    let b = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(cfg_err)?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut cfg = match identity {
        Some(id) => b
            .with_client_auth_cert(
                vec![id.cert_der().map_err(cfg_err)?],
                id.private_key().map_err(cfg_err)?,
            )
            .map_err(cfg_err)?,
        None => b.with_no_client_auth(),
    };
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(cfg))
}

pub use crate::transport::tls_incoming;

/// Opens a gRPC channel to `address` (https://host:port) with `config` (see [`client_config`]).
pub async fn connect_mtls(
    address: &str,
    config: Arc<rustls::ClientConfig>,
    timeout: Duration,
) -> Result<tonic::transport::Channel, TlsError> {
    crate::transport::connect(address, config, timeout).await
}

/// The verified identity of the caller of a request served over [`tls_incoming`]: its client
/// certificate is checked again with `store` (which may have changed since the handshake) and
/// must be for `role`. Map the refusal to `UNAUTHENTICATED` with its message.
pub fn peer_identity<T>(
    req: &tonic::Request<T>,
    store: &TrustStore,
    role: PeerRole,
) -> Result<PeerIdentity, Refusal> {
    let certs = req.peer_certs();
    let Some(first) = certs.as_ref().and_then(|c| c.first()) else {
        return Err(Refusal {
            kind: RefusalKind::Missing,
            message: format!(
                "this call requires a client certificate: connect with a {role} certificate issued by a trusted ODCM"
            ),
        });
    };
    store.verify_role(first, role)
}
