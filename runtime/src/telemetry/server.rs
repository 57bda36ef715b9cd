//! HTTP endpoint exposing `/metrics` (Prometheus text format) and `/healthz`.

use std::future::Future;

use axum::Router;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;

use super::Metrics;

/// Content type of the Prometheus text exposition format.
pub const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Serves `GET /metrics` (`text/plain; version=0.0.4`) and `GET /healthz`
/// (`ok`) over HTTP/1.1 with axum on an already-bound listener until
/// `shutdown` completes; in-flight requests are then allowed to finish.
pub async fn serve_metrics(
    listener: tokio::net::TcpListener,
    metrics: Metrics,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(metrics))
        .with_graceful_shutdown(shutdown)
        .await
}

/// The axum router behind [`serve_metrics`], for embedding elsewhere.
pub fn router(metrics: Metrics) -> Router {
    Router::new()
        .route("/metrics", get(metrics_handler))
        .route("/healthz", get(healthz))
        .with_state(metrics)
}

async fn metrics_handler(State(metrics): State<Metrics>) -> impl IntoResponse {
    ([(CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE)], metrics.render())
}

async fn healthz() -> &'static str {
    "ok"
}

#[cfg(test)]
#[path = "tests/server.rs"]
mod tests;
