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
#[path = "tests/layer.rs"]
mod tests;
