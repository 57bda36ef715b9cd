//! Unit tests of `layer.rs`.

use super::*;
use std::convert::Infallible;
use tower::ServiceExt;

fn count(m: &Metrics, method: &str, code: &str) -> Option<u64> {
    let prefix = format!("grpc_server_requests_total{{method=\"{method}\",code=\"{code}\"}} ");
    m.render()
        .lines()
        .find_map(|l| l.strip_prefix(&prefix).map(str::to_owned))
        .and_then(|v| v.parse().ok())
}

fn req(path: &str) -> Request<tonic::body::Body> {
    Request::builder()
        .method("POST")
        .uri(format!("http://localhost{path}"))
        .header("content-type", "application/grpc")
        .body(tonic::body::Body::empty())
        .expect("request")
}

#[tokio::test]
async fn records_code_from_header_or_ok() {
    let m = Metrics::new();
    let svc = tower::service_fn(|r: Request<tonic::body::Body>| async move {
        let mut resp = Response::new(tonic::body::Body::empty());
        if r.uri().path().ends_with("/Missing") {
            resp.headers_mut()
                .insert("grpc-status", http::HeaderValue::from_static("5"));
        }
        Ok::<_, Infallible>(resp)
    });
    let svc = MetricsLayer::new(m.clone()).layer(svc);
    for path in ["/pkg.Svc/Get", "/pkg.Svc/Get", "/pkg.Svc/Missing"] {
        let resp = svc.clone().oneshot(req(path)).await.expect("infallible");
        assert_eq!(resp.status(), http::StatusCode::OK);
    }
    assert_eq!(count(&m, "/pkg.Svc/Get", "OK"), Some(2));
    assert_eq!(count(&m, "/pkg.Svc/Missing", "NotFound"), Some(1));
    assert_eq!(count(&m, "/pkg.Svc/Missing", "OK"), None);
}

#[tokio::test]
async fn records_service_errors_and_dropped_futures() {
    let m = Metrics::new();
    let failing = tower::service_fn(|_r: Request<tonic::body::Body>| async {
        Err::<Response<tonic::body::Body>, _>(std::io::Error::other("boom"))
    });
    let res = MetricsLayer::new(m.clone())
        .layer(failing)
        .oneshot(req("/pkg.Svc/Fail"))
        .await;
    assert!(res.is_err());
    assert_eq!(count(&m, "/pkg.Svc/Fail", CODE_SERVICE_ERROR), Some(1));

    let mut never =
        MetricsLayer::new(m.clone()).layer(tower::service_fn(|_r: Request<tonic::body::Body>| {
            std::future::pending::<Result<Response<tonic::body::Body>, Infallible>>()
        }));
    let fut = never.call(req("/pkg.Svc/Hang"));
    drop(fut);
    assert_eq!(count(&m, "/pkg.Svc/Hang", CODE_DROPPED), Some(1));
}

#[tokio::test]
async fn wraps_tonic_routes() {
    // Default `Routes` answers every path with a trailers-only UNIMPLEMENTED.
    let m = Metrics::new();
    let svc = MetricsLayer::new(m.clone()).layer(tonic::service::Routes::default());
    let resp = svc
        .oneshot(req("/nope.v1.Nope/Call"))
        .await
        .expect("infallible");
    assert_eq!(grpc_code_name(resp.headers()), "Unimplemented");
    assert_eq!(count(&m, "/nope.v1.Nope/Call", "Unimplemented"), Some(1));
}

#[tokio::test]
async fn type_checks_with_tonic_server_builder() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    let m = Metrics::new();
    let serve = tonic::transport::Server::builder()
        .layer(MetricsLayer::new(m))
        .add_routes(tonic::service::Routes::default())
        .serve_with_incoming_shutdown(incoming, async {});
    // The shutdown signal is already complete, so this returns promptly.
    tokio::time::timeout(std::time::Duration::from_secs(10), serve)
        .await
        .expect("server did not stop")
        .expect("serve");
}

#[test]
fn code_names() {
    let mut h = HeaderMap::new();
    assert_eq!(grpc_code_name(&h), "OK");
    h.insert("grpc-status", http::HeaderValue::from_static("0"));
    assert_eq!(grpc_code_name(&h), "OK");
    h.insert("grpc-status", http::HeaderValue::from_static("16"));
    assert_eq!(grpc_code_name(&h), "Unauthenticated");
    h.insert("grpc-status", http::HeaderValue::from_static("garbage"));
    assert_eq!(grpc_code_name(&h), "Unknown");
}
