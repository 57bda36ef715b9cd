//! Unit tests of `server.rs`.

use super::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn get_raw(addr: std::net::SocketAddr, path: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("write request");
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut buf))
        .await
        .expect("response timed out")
        .expect("read response");
    String::from_utf8(buf).expect("utf-8 response")
}

#[tokio::test]
async fn serves_metrics_and_healthz_then_shuts_down() {
    let metrics = Metrics::new();
    metrics.record(
        "/space.v1.Environments/List",
        "OK",
        Duration::from_millis(4),
    );
    metrics.set_gauge("connected_agents", "Connected agents.", 3.0);

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve_metrics(listener, metrics.clone(), async move {
        let _ = rx.await;
    }));

    let resp = get_raw(addr, "/metrics").await;
    assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"), "{resp}");
    assert!(
        resp.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{resp}"
    );
    assert!(resp.contains(
        "grpc_server_requests_total{method=\"/space.v1.Environments/List\",code=\"OK\"} 1\n"
    ));
    assert!(resp.contains("connected_agents 3.0\n"));

    // Metrics recorded later are visible on the next scrape.
    metrics.record(
        "/space.v1.Environments/List",
        "OK",
        Duration::from_millis(4),
    );
    let resp = get_raw(addr, "/metrics").await;
    assert!(resp.contains(
        "grpc_server_requests_total{method=\"/space.v1.Environments/List\",code=\"OK\"} 2\n"
    ));

    let resp = get_raw(addr, "/healthz").await;
    assert!(resp.starts_with("HTTP/1.1 200 OK\r\n"), "{resp}");
    assert!(resp.ends_with("\r\n\r\nok"), "{resp}");

    let resp = get_raw(addr, "/nope").await;
    assert!(resp.starts_with("HTTP/1.1 404"), "{resp}");

    tx.send(()).expect("server alive");
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("server did not shut down")
        .expect("join")
        .expect("serve");
}
