//! tower middleware recording every gRPC request into [`Metrics`].
//!
//! Use with `tonic::transport::Server::builder().layer(MetricsLayer::new(m))`.
//! The method label is the HTTP/2 path (`/package.Service/Method`); the code
//! label is the gRPC status name taken from the `grpc-status` *response
//! header* (tonic sends errors returned by handlers as trailers-only responses,
//! which put `grpc-status` in the headers) or `OK` when the header is absent.
//! Latency is measured from `call` until the response head is ready: the time
//! spent streaming a response body, and any status sent later in trailers (for
//! example an error in the middle of a server stream), are **not** included.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use http::{HeaderMap, Request, Response};
use tower::{Layer, Service};

use super::Metrics;

/// Code recorded when the inner service fails with a transport-level error.
pub const CODE_SERVICE_ERROR: &str = "Unknown";
/// Code recorded when the response future is dropped before completing
/// (client went away, deadline, server shutdown).
pub const CODE_DROPPED: &str = "Cancelled";

/// tower [`Layer`] that records every request into a [`Metrics`] registry.
#[derive(Clone, Debug)]
pub struct MetricsLayer {
    metrics: Metrics,
}

impl MetricsLayer {
    /// Creates a layer recording into `m`.
    pub fn new(m: Metrics) -> Self {
        Self { metrics: m }
    }
}

impl<S> Layer<S> for MetricsLayer {
    type Service = MetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MetricsService {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// Service produced by [`MetricsLayer`]. Generic over request and response
/// bodies; it forwards `poll_ready`, the response and the error unchanged.
#[derive(Clone, Debug)]
pub struct MetricsService<S> {
    inner: S,
    metrics: Metrics,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for MetricsService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let method = req.uri().path().to_owned();
        let start = Instant::now();
        ResponseFuture {
            inner: Box::pin(self.inner.call(req)),
            pending: Some((self.metrics.clone(), method)),
            start,
        }
    }
}

/// Response future of [`MetricsService`]; records when it resolves, or records
/// [`CODE_DROPPED`] if dropped first. `Send` whenever the inner future is.
pub struct ResponseFuture<F> {
    inner: Pin<Box<F>>,
    pending: Option<(Metrics, String)>,
    start: Instant,
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("start", &self.start)
            .finish_non_exhaustive()
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let result = match this.inner.as_mut().poll(cx) {
            Poll::Ready(r) => r,
            Poll::Pending => return Poll::Pending,
        };
        if let Some((metrics, method)) = this.pending.take() {
            let code = match &result {
                Ok(resp) => grpc_code_name(resp.headers()),
                Err(_) => CODE_SERVICE_ERROR,
            };
            metrics.record(&method, code, this.start.elapsed());
        }
        Poll::Ready(result)
    }
}

impl<F> Drop for ResponseFuture<F> {
    fn drop(&mut self) {
        if let Some((metrics, method)) = self.pending.take() {
            metrics.record(&method, CODE_DROPPED, self.start.elapsed());
        }
    }
}

/// gRPC status name from the `grpc-status` header, `OK` when absent.
/// Names are tonic's `Code` variant names, except `0` which is `OK`;
/// unparseable values map to `Unknown`.
pub fn grpc_code_name(headers: &HeaderMap) -> &'static str {
    match headers.get("grpc-status") {
        None => "OK",
        Some(v) => code_name(tonic::Code::from_bytes(v.as_bytes())),
    }
}

fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "Cancelled",
        Code::Unknown => "Unknown",
        Code::InvalidArgument => "InvalidArgument",
        Code::DeadlineExceeded => "DeadlineExceeded",
        Code::NotFound => "NotFound",
        Code::AlreadyExists => "AlreadyExists",
        Code::PermissionDenied => "PermissionDenied",
        Code::ResourceExhausted => "ResourceExhausted",
        Code::FailedPrecondition => "FailedPrecondition",
        Code::Aborted => "Aborted",
        Code::OutOfRange => "OutOfRange",
        Code::Unimplemented => "Unimplemented",
        Code::Internal => "Internal",
        Code::Unavailable => "Unavailable",
        Code::DataLoss => "DataLoss",
        Code::Unauthenticated => "Unauthenticated",
    }
}

#[cfg(test)]
mod tests {
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

        let mut never = MetricsLayer::new(m.clone()).layer(tower::service_fn(
            |_r: Request<tonic::body::Body>| {
                std::future::pending::<Result<Response<tonic::body::Body>, Infallible>>()
            },
        ));
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
}
