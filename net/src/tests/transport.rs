//! Unit tests of `transport.rs`.

use super::*;
use crate::tls::Identity;

fn server_config(id: &Identity) -> Arc<rustls::ServerConfig> {
    let mut cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![id.cert_der().unwrap()], id.private_key().unwrap())
    .unwrap();
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    Arc::new(cfg)
}

/// The accept loop ends with its stream: the listening port closes (before the fix the agent
/// endpoint's loop went on accepting after its server stopped).
#[tokio::test]
async fn the_accept_loop_stops_when_the_server_does() {
    let dir = tempfile::tempdir().unwrap();
    let id = Identity::load_or_create(dir.path(), "loop-test", &[]).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = tls_incoming(listener, server_config(&id));
    assert!(
        TcpStream::connect(addr).await.is_ok(),
        "accepting while served"
    );
    drop(incoming);
    // Without connecting meanwhile (a connection would wake a loop that only checks for
    // shutdown after accepting one), the port must close by itself.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "the port still accepts after the server stopped"
    );
}

#[tokio::test]
async fn a_bad_address_is_named() {
    let cfg = crate::tls::pinned_client_config(&format!("sha256:{}", "ab".repeat(32))).unwrap();
    let e = connect("no-port-here", Arc::new(cfg), Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no-port-here"), "{e}");
}
