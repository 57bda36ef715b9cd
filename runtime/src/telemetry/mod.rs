//! Telemetry shared by every service: structured logs, optional OpenTelemetry
//! trace export, and Prometheus request metrics.
//!
//! * [`init`] installs the global `tracing` subscriber (text or JSON lines on
//!   stderr, `RUST_LOG` filter) and, when configured, an OTLP/gRPC span
//!   exporter; keep the returned [`TelemetryGuard`] alive for the process.
//! * [`context`] carries W3C trace context in files between Spaces.
//! * [`Metrics`] is the request registry, [`MetricsLayer`] the tonic/tower
//!   middleware feeding it, and [`serve_metrics`] the `/metrics` endpoint.

pub mod context;
mod expo;
mod layer;
mod logs;
mod metrics;
mod server;

pub use layer::{
    CODE_DROPPED, CODE_SERVICE_ERROR, MetricsLayer, MetricsService, ResponseFuture, grpc_code_name,
};
pub use logs::{TelemetryError, TelemetryGuard, init};
pub use metrics::{
    BUCKETS, MAX_SERIES, Metrics, OVERFLOW_METHOD, REQUEST_DURATION, REQUESTS_TOTAL,
};
pub use server::{PROMETHEUS_CONTENT_TYPE, router, serve_metrics};

/// Format of log lines written to stderr.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable single lines (ANSI colours only when stderr is a terminal).
    #[default]
    Text,
    /// One JSON object per line, event fields flattened to the top level.
    Json,
}

/// Telemetry settings, usually part of a service's configuration file.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct TelemetryConfig {
    /// Log line format.
    pub log_format: LogFormat,
    /// OTLP/gRPC collector endpoint, e.g. `http://127.0.0.1:4317`;
    /// `None` disables trace export.
    pub otlp_endpoint: Option<String>,
    /// `service.name` resource attribute of exported spans (the SDK default,
    /// `OTEL_SERVICE_NAME` or `unknown_service`, is used when empty).
    pub service_name: String,
}

#[cfg(test)]
#[path = "tests/telemetry.rs"]
mod tests;
