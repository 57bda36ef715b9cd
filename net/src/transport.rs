//! The one TLS accept loop and the one TLS connector every process uses (API, agent endpoint,
//! peer listener and ODCM alike). tonic's own TLS cannot take a custom verifier, so servers
//! accept TCP here, handshake with tokio-rustls (ALPN h2) and hand the streams to
//! `Server::builder().serve_with_incoming_shutdown(tls_incoming(..), ..)`; tonic implements
//! `Connected` for them, so handlers can read `request.peer_certs()`. Clients connect through
//! [`connect`] with whatever rustls configuration their trust needs (a pinned fingerprint, the
//! PKI verifier, a client certificate or none).

use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::server::TlsStream;
use tokio_stream::wrappers::ReceiverStream;

use crate::tls::{EndpointError, TlsError, error_chain, parse_address};

/// How long a client may take to complete the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// HTTP/2 pings on idle connections: a peer that vanished is noticed within 40 s.
const KEEP_ALIVE: Duration = Duration::from_secs(20);
/// HTTP/2 flow-control window of one stream: how much a sender may have in flight before the
/// receiver reads it. The protocol's default (64 KiB) held a package upload to a few window
/// round trips per MiB; this is what a stream may buffer unread.
pub const H2_STREAM_WINDOW: u32 = 4 << 20;
/// The window of a whole connection: bounds what one connection's streams together buffer.
pub const H2_CONNECTION_WINDOW: u32 = 8 << 20;

/// `tonic`'s server builder with this crate's flow-control windows (every server uses it).
pub fn server_builder() -> tonic::transport::Server {
    tonic::transport::Server::builder()
        .initial_stream_window_size(H2_STREAM_WINDOW)
        .initial_connection_window_size(H2_CONNECTION_WINDOW)
}

/// Accepts connections on `listener` and yields those whose TLS handshake succeeded (each
/// bounded by 10 s, concurrently). A failed handshake is logged and never stops the loop; the
/// loop stops, and the listener closes, when the stream is dropped (the server shut down).
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

/// Opens a gRPC channel to `address` (https://host:port, IPv6 hosts in brackets) over TLS
/// with `config`. `timeout` bounds connecting; each call sets its own deadline (a channel-wide
/// one would cut long transfers short).
pub async fn connect(
    address: &str,
    config: Arc<rustls::ClientConfig>,
    timeout: Duration,
) -> Result<tonic::transport::Channel, TlsError> {
    let bad = || TlsError::Endpoint(EndpointError::BadAddress(address.to_string()));
    let (host, port) = parse_address(address)?;
    let server_name = ServerName::try_from(host.clone()).map_err(|_| bad())?;
    let uri = if host.contains(':') {
        format!("http://[{host}]:{port}")
    } else {
        format!("http://{host}:{port}")
    };
    let connector = tower::service_fn(move |_uri: http::Uri| {
        let cfg = config.clone();
        let server_name = server_name.clone();
        let (host, port) = (host.clone(), port);
        async move {
            let tcp = TcpStream::connect((host.as_str(), port)).await?;
            tcp.set_nodelay(true)?;
            let tls = tokio_rustls::TlsConnector::from(cfg)
                .connect(server_name, tcp)
                .await?;
            Ok::<_, std::io::Error>(TokioIo::new(tls))
        }
    });
    tonic::transport::Endpoint::from_shared(uri)
        .map_err(|_| bad())?
        .connect_timeout(timeout)
        .initial_stream_window_size(H2_STREAM_WINDOW)
        .initial_connection_window_size(H2_CONNECTION_WINDOW)
        .http2_keep_alive_interval(KEEP_ALIVE)
        .keep_alive_timeout(KEEP_ALIVE)
        .keep_alive_while_idle(true)
        .connect_with_connector(connector)
        .await
        .map_err(|e| TlsError::Connect {
            address: address.to_string(),
            reason: error_chain(&e),
        })
}

#[cfg(test)]
#[path = "tests/transport.rs"]
mod tests;
