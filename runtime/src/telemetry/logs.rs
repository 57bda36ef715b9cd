//! Global `tracing` subscriber setup: stderr log lines plus optional OTLP export.

use std::io::IsTerminal as _;
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::filter::{EnvFilter, LevelFilter, filter_fn};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{Layer as _, fmt};

use super::{LogFormat, TelemetryConfig};

/// How long dropping the guard may wait for queued spans to be exported.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// Targets never forwarded to the OTLP exporter: the exporter's own transport
/// stack would otherwise trace its own exports.
const EXPORTER_INTERNAL_TARGETS: [&str; 5] = ["h2", "hyper", "tonic", "tower", "opentelemetry"];

/// Errors from [`init`].
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// A global `tracing` subscriber (or `log` logger) is already installed.
    #[error("telemetry is already initialised (a global tracing subscriber is set)")]
    AlreadyInitialized(#[source] Option<tracing_subscriber::util::TryInitError>),
    /// OTLP export was requested outside a tokio runtime.
    #[error("OTLP export needs a tokio runtime: call telemetry::init inside one")]
    NoRuntime,
    /// The OTLP span exporter could not be built (e.g. invalid endpoint, or
    /// an `https://` endpoint: TLS is not enabled for the exporter).
    #[error("building the OTLP span exporter for {endpoint}")]
    Exporter {
        /// The configured endpoint.
        endpoint: String,
        /// Underlying cause.
        #[source]
        source: opentelemetry_otlp::ExporterBuildError,
    },
}

/// Keeps telemetry running; dropping it flushes queued spans and shuts the
/// OTLP exporter down (waiting at most 5 s). The log subscriber stays
/// installed. Drop it in `main` after the servers stopped, from a
/// multi-threaded runtime or outside any runtime: on a `current_thread`
/// runtime the flush cannot make progress and only times out.
#[must_use = "dropping the guard immediately shuts the trace exporter down"]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl std::fmt::Debug for TelemetryGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryGuard")
            .field("otlp", &self.provider.is_some())
            .finish()
    }
}

impl TelemetryGuard {
    /// Whether spans are exported over OTLP.
    pub fn exporting(&self) -> bool {
        self.provider.is_some()
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            shutdown_provider(&provider);
        }
    }
}

fn shutdown_provider(provider: &SdkTracerProvider) {
    let shutdown = || provider.shutdown_with_timeout(SHUTDOWN_TIMEOUT);
    // The batch exporter thread needs the tokio runtime to make progress
    // (tonic's channel worker lives there), so do not hold a worker hostage.
    let multi_thread = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    let result = if multi_thread {
        tokio::task::block_in_place(shutdown)
    } else {
        shutdown()
    };
    if let Err(err) = result {
        tracing::warn!(error = %err, "OpenTelemetry exporter shutdown failed");
    }
}

/// Installs the global tracing subscriber: env filter from `RUST_LOG`
/// (default `info`; invalid directives are ignored), text or JSON lines to
/// stderr, one line per event with structured fields; when `otlp_endpoint` is
/// set, also an OpenTelemetry OTLP (gRPC/tonic) batch span exporter with
/// `service.name`, registered as the global tracer provider together with the
/// W3C trace-context propagator. Must be called inside a tokio runtime when
/// OTLP is on. Returns [`TelemetryError::AlreadyInitialized`] instead of
/// panicking when a global subscriber is already set.
pub fn init(cfg: &TelemetryConfig) -> Result<TelemetryGuard, TelemetryError> {
    if tracing::dispatcher::has_been_set() {
        return Err(TelemetryError::AlreadyInitialized(None));
    }
    let filter = EnvFilter::builder()
        .with_default_directive(LevelFilter::INFO.into())
        .from_env_lossy();
    let (text, json) = match cfg.log_format {
        LogFormat::Text => (
            Some(
                fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(std::io::stderr().is_terminal()),
            ),
            None,
        ),
        LogFormat::Json => (
            None,
            Some(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_writer(std::io::stderr),
            ),
        ),
    };
    let provider = match cfg.otlp_endpoint.as_deref() {
        Some(endpoint) => Some(build_provider(endpoint, &cfg.service_name)?),
        None => None,
    };
    let otel = provider.as_ref().map(|p| {
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer(env!("CARGO_PKG_NAME")))
            .with_filter(filter_fn(|meta| !is_exporter_internal(meta.target())))
    });

    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(text)
        .with(json)
        .with(otel)
        .try_init();
    if let Err(err) = installed {
        if let Some(p) = &provider {
            shutdown_provider(p);
        }
        return Err(TelemetryError::AlreadyInitialized(Some(err)));
    }
    if let Some(p) = &provider {
        opentelemetry::global::set_tracer_provider(p.clone());
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    }
    Ok(TelemetryGuard { provider })
}

fn is_exporter_internal(target: &str) -> bool {
    EXPORTER_INTERNAL_TARGETS.iter().any(|t| {
        target
            .strip_prefix(t)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::") || rest.starts_with('_'))
    })
}

/// Builds a tracer provider with an OTLP/gRPC batch exporter. The tonic
/// channel connects lazily, so no collector needs to be reachable yet.
fn build_provider(endpoint: &str, service_name: &str) -> Result<SdkTracerProvider, TelemetryError> {
    // tonic's lazy channel spawns its worker on the current runtime.
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(TelemetryError::NoRuntime);
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()
        .map_err(|source| TelemetryError::Exporter {
            endpoint: endpoint.to_owned(),
            source,
        })?;
    let mut resource = Resource::builder();
    if !service_name.is_empty() {
        resource = resource.with_service_name(service_name.to_owned());
    }
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource.build())
        .build())
}

#[cfg(test)]
#[path = "tests/logs.rs"]
mod tests;
