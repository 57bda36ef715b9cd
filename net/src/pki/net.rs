//! Mutual-TLS plumbing for tonic. tonic's `ServerTlsConfig` cannot take a custom verifier, so a
//! server accepts TCP itself, handshakes with tokio-rustls (ALPN h2) and hands the TLS streams to
//! `Server::builder().serve_with_incoming_shutdown(tls_incoming(..), ..)`; tonic implements
//! `Connected` for tokio-rustls server streams, so handlers can read `request.peer_certs()`
//! (see [`peer_identity`]). A failed handshake is logged and never stops the accept loop.

use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::server::TlsStream;
use tokio_stream::wrappers::ReceiverStream;

use super::{PeerIdentity, PeerRole, PkiError, Refusal, RefusalKind, TrustStore, TrustVerifier};
use crate::tls::{Identity, TlsError, error_chain, parse_address};

/// How long a client may take to complete the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

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

/// Accepts connections on `listener` and yields those whose TLS handshake succeeded. The
/// accept loop stops when the stream is dropped (the server shut down).
pub fn tls_incoming(
    listener: TcpListener,
    config: Arc<rustls::ServerConfig>,
) -> ReceiverStream<Result<TlsStream<TcpStream>, std::io::Error>> {
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    tokio::spawn(async move {
        loop {
            let (tcp, addr) = tokio::select! {
                _ = tx.closed() => break,
                r = listener.accept() => match r {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(error = %e, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let _ = tcp.set_nodelay(true);
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => {
                        let _ = tx.send(Ok(tls)).await;
                    }
                    Ok(Err(e)) => {
                        tracing::info!(peer = %addr, error = %error_chain(&e), "TLS handshake refused")
                    }
                    Err(_) => tracing::info!(peer = %addr, "TLS handshake timed out"),
                }
            });
        }
        tracing::debug!("accept loop stopped");
    });
    ReceiverStream::new(rx)
}

/// Opens a gRPC channel to `address` (https://host:port) with `config` (see [`client_config`]).
pub async fn connect_mtls(
    address: &str,
    config: Arc<rustls::ClientConfig>,
    timeout: Duration,
) -> Result<tonic::transport::Channel, TlsError> {
    let (host, port) = parse_address(address)?;
    let server_name = ServerName::try_from(host.clone()).map_err(|_| {
        TlsError::Endpoint(crate::tls::EndpointError::BadAddress(address.to_string()))
    })?;
    let target = format!("{host}:{port}");
    let connector = tower::service_fn(move |_uri: http::Uri| {
        let cfg = config.clone();
        let server_name = server_name.clone();
        let target = target.clone();
        async move {
            let tcp = TcpStream::connect(&target).await?;
            tcp.set_nodelay(true)?;
            let tls = tokio_rustls::TlsConnector::from(cfg)
                .connect(server_name, tcp)
                .await?;
            Ok::<_, std::io::Error>(TokioIo::new(tls))
        }
    });
    let uri = if host.contains(':') {
        format!("http://[{host}]:{port}")
    } else {
        format!("http://{host}:{port}")
    };
    tonic::transport::Endpoint::from_shared(uri)
        .map_err(|_| {
            TlsError::Endpoint(crate::tls::EndpointError::BadAddress(address.to_string()))
        })?
        .connect_timeout(timeout)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_while_idle(true)
        .connect_with_connector(connector)
        .await
        .map_err(|e| TlsError::Connect {
            address: address.to_string(),
            reason: error_chain(&e),
        })
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
