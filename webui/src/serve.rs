//! Serves an axum router over TLS (HTTP/1.1) on an already-bound listener until `shutdown`
//! resolves. Each connection knows its peer address (handlers read [`Peer`]).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio_stream::StreamExt;

/// The address a request came from (an extension on every request).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

/// Headers on every answer: only this site's own scripts, styles and connections (the pages
/// have no inline script or style), never framed, no sniffing, no referrer to other sites
/// (`same-origin`: a stricter policy makes browsers send `Origin: null` with forms, which the
/// origin check refuses), not cached.
async fn security_headers(mut r: axum::response::Response) -> axum::response::Response {
    use http::HeaderValue;
    use http::header::{
        CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, STRICT_TRANSPORT_SECURITY,
        X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
    };
    let h = r.headers_mut();
    h.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
    );
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(
        STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000"),
    );
    h.entry(CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    r
}

/// A TLS server configuration presenting `cert` and `key` (no client certificates).
pub fn tls_config(
    cert: rustls::pki_types::CertificateDer<'static>,
    key: rustls::pki_types::PrivateKeyDer<'static>,
) -> Result<rustls::ServerConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}

/// Serves `router` on `listener` over TLS until `shutdown`; connections in flight are
/// dropped then (pages reconnect).
pub async fn serve(
    listener: tokio::net::TcpListener,
    tls: rustls::ServerConfig,
    router: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let mut incoming = net::transport::tls_incoming(listener, Arc::new(tls));
    tokio::pin!(shutdown);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    loop {
        let stream = tokio::select! {
            _ = &mut shutdown => break,
            s = incoming.next() => match s {
                Some(Ok(s)) => s,
                Some(Err(e)) => {
                    tracing::info!(error = %e, "web connection failed");
                    continue;
                }
                None => break,
            },
        };
        let Ok(peer) = stream.get_ref().0.peer_addr() else {
            continue;
        };
        let router = router
            .clone()
            .layer(axum::middleware::map_response(security_headers))
            .layer(axum::Extension(Peer(peer)));
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let service = TowerToHyperService::new(router);
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(std::time::Duration::from_secs(10))
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                r = &mut conn => {
                    if let Err(e) = r {
                        tracing::debug!(peer = %peer, error = %e, "web connection ended");
                    }
                }
                _ = stop.wait_for(|v| *v) => {}
            }
        });
    }
    let _ = stop_tx.send(true);
}
